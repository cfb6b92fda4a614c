//! A JSON text as an OTLP `AnyValue` (the official prost type): objects become a kvlist,
//! arrays an array, integers that fit i64 an int, other numbers a double, null an empty
//! AnyValue. Object keys keep their order and duplicates: the text is read straight into
//! the message, never through a `serde_json::Value` (whose map keeps one value per key).

use std::fmt;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The AnyValue of one JSON text.
pub fn from_json(text: &str) -> Result<AnyValue, serde_json::Error> {
    serde_json::from_str::<Json>(text).map(|json| json.0)
}

struct Json(AnyValue);

fn any(value: Any) -> Json {
    Json(AnyValue { value: Some(value) })
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json(AnyValue { value: None }))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(any(Any::BoolValue(b)))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
        Ok(any(Any::IntValue(i)))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
        Ok(any(match i64::try_from(u) {
            Ok(i) => Any::IntValue(i),
            // Integers past i64 have no intValue: a double is the closest OTLP has.
            Err(_) => Any::DoubleValue(u as f64),
        }))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Json, E> {
        Ok(any(Any::DoubleValue(x)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(any(Any::StringValue(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(any(Any::StringValue(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut values = Vec::new();
        while let Some(Json(item)) = seq.next_element()? {
            values.push(item);
        }
        Ok(any(Any::ArrayValue(ArrayValue { values })))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut values = Vec::new();
        while let Some((key, Json(item))) = map.next_entry::<String, Json>()? {
            values.push(KeyValue {
                key,
                value: Some(item),
                ..KeyValue::default()
            });
        }
        Ok(any(Any::KvlistValue(KeyValueList { values })))
    }
}

/// A string attribute.
pub fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<Any> {
        from_json(text).unwrap().value
    }

    #[test]
    fn scalars_map_to_their_oneof_field() {
        assert_eq!(parsed("null"), None);
        assert_eq!(parsed("true"), Some(Any::BoolValue(true)));
        assert_eq!(parsed("-42"), Some(Any::IntValue(-42)));
        assert_eq!(parsed("1.5"), Some(Any::DoubleValue(1.5)));
        assert_eq!(parsed("\"s\\u00e9\""), Some(Any::StringValue("sé".into())));
        assert_eq!(
            parsed(&u64::MAX.to_string()),
            Some(Any::DoubleValue(u64::MAX as f64))
        );
    }

    #[test]
    fn containers_keep_order_and_nest() {
        let Some(Any::KvlistValue(kv)) = parsed(r#"{"b": [1, "two"], "a": {}}"#) else {
            panic!("not a kvlist")
        };
        let keys: Vec<&str> = kv.values.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        let Some(AnyValue {
            value: Some(Any::ArrayValue(items)),
        }) = &kv.values[0].value
        else {
            panic!("not an array")
        };
        assert_eq!(items.values.len(), 2);
    }

    #[test]
    fn duplicate_keys_all_arrive_in_order() {
        let Some(Any::KvlistValue(kv)) = parsed(r#"{"a": 1, "b": 2, "a": 3}"#) else {
            panic!("not a kvlist")
        };
        let pairs: Vec<(&str, Option<Any>)> = kv
            .values
            .iter()
            .map(|k| (k.key.as_str(), k.value.clone().and_then(|v| v.value)))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", Some(Any::IntValue(1))),
                ("b", Some(Any::IntValue(2))),
                ("a", Some(Any::IntValue(3))),
            ]
        );
    }

    #[test]
    fn what_is_not_json_is_an_error() {
        assert!(from_json(r#"{"a": "#).is_err());
    }
}
