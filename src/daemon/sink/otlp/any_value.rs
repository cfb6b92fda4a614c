//! A JSON value as an OTLP `AnyValue` in the OTLP/JSON mapping: objects become kvlistValue,
//! arrays arrayValue, integers intValue (a decimal string, as protobuf JSON writes 64-bit
//! integers), other numbers doubleValue, null an empty AnyValue. Serializes straight from
//! the parsed payload without building a copy of it.

use std::fmt::Display;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// An `AnyValue` borrowed from what it shows.
pub enum AnyValue<'a> {
    Str(&'a str),
    Json(&'a Value),
}

/// An attribute or a kvlist entry.
#[derive(Serialize)]
pub struct KeyValue<'a> {
    pub key: &'a str,
    pub value: AnyValue<'a>,
}

impl<'a> KeyValue<'a> {
    pub fn string(key: &'a str, value: &'a str) -> KeyValue<'a> {
        KeyValue {
            key,
            value: AnyValue::Str(value),
        }
    }
}

impl Serialize for AnyValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyValue::Str(text) => one(s, "stringValue", text),
            AnyValue::Json(value) => json(s, value),
        }
    }
}

fn json<S: Serializer>(s: S, value: &Value) -> Result<S::Ok, S::Error> {
    match value {
        Value::Null => s.serialize_map(Some(0))?.end(),
        Value::Bool(b) => one(s, "boolValue", b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => one(s, "intValue", &AsString(i)),
            // Integers past i64 have no intValue: a double is the closest OTLP has.
            None => one(s, "doubleValue", &n.as_f64().unwrap_or_default()),
        },
        Value::String(text) => one(s, "stringValue", text),
        Value::Array(items) => one(
            s,
            "arrayValue",
            &Values {
                values: ArrayItems(items),
            },
        ),
        Value::Object(map) => one(
            s,
            "kvlistValue",
            &Values {
                values: KvItems(map),
            },
        ),
    }
}

/// `{"<key>": value}`: the JSON shape of a protobuf oneof.
fn one<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    key: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

/// `ArrayValue` and `KeyValueList` both hold a single `values` list.
#[derive(Serialize)]
struct Values<T> {
    values: T,
}

struct ArrayItems<'a>(&'a [Value]);

impl Serialize for ArrayItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(AnyValue::Json))
    }
}

struct KvItems<'a>(&'a Map<String, Value>);

impl Serialize for KvItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(key, value)| KeyValue {
            key,
            value: AnyValue::Json(value),
        }))
    }
}

/// A number written as a JSON string without an intermediate allocation.
struct AsString<T>(T);

impl<T: Display> Serialize for AsString<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(v: &Value) -> Value {
        serde_json::to_value(AnyValue::Json(v)).unwrap()
    }

    #[test]
    fn scalars_map_to_their_oneof_field() {
        assert_eq!(encode(&json!(null)), json!({}));
        assert_eq!(encode(&json!(true)), json!({"boolValue": true}));
        assert_eq!(encode(&json!(-42)), json!({"intValue": "-42"}));
        assert_eq!(encode(&json!(1.5)), json!({"doubleValue": 1.5}));
        assert_eq!(
            encode(&json!(u64::MAX)),
            json!({"doubleValue": u64::MAX as f64})
        );
        assert_eq!(encode(&json!("x")), json!({"stringValue": "x"}));
    }

    #[test]
    fn containers_keep_order_and_nest() {
        let v: Value = serde_json::from_str(r#"{"b": [1, "two"], "a": {}}"#).unwrap();
        assert_eq!(
            encode(&v),
            json!({"kvlistValue": {"values": [
                {"key": "b", "value": {"arrayValue": {"values": [
                    {"intValue": "1"}, {"stringValue": "two"}
                ]}}},
                {"key": "a", "value": {"kvlistValue": {"values": []}}}
            ]}})
        );
    }
}
