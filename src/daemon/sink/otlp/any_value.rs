//! A JSON value as an OTLP `AnyValue` (the official prost type): objects become a kvlist,
//! arrays an array, integers that fit i64 an int, other numbers a double, null an empty
//! AnyValue. Object keys keep their order and duplicates.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde_json::Value;

pub fn from_json(value: &Value) -> AnyValue {
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(Any::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Any::IntValue(i),
            // Integers past i64 have no intValue: a double is the closest OTLP has.
            None => Any::DoubleValue(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Some(Any::StringValue(s.clone())),
        Value::Array(items) => Some(Any::ArrayValue(ArrayValue {
            values: items.iter().map(from_json).collect(),
        })),
        Value::Object(map) => Some(Any::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(key, item)| KeyValue {
                    key: key.clone(),
                    value: Some(from_json(item)),
                    ..KeyValue::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
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
    use serde_json::json;

    #[test]
    fn scalars_map_to_their_oneof_field() {
        assert_eq!(from_json(&json!(null)).value, None);
        assert_eq!(from_json(&json!(true)).value, Some(Any::BoolValue(true)));
        assert_eq!(from_json(&json!(-42)).value, Some(Any::IntValue(-42)));
        assert_eq!(from_json(&json!(1.5)).value, Some(Any::DoubleValue(1.5)));
        assert_eq!(
            from_json(&json!(u64::MAX)).value,
            Some(Any::DoubleValue(u64::MAX as f64))
        );
    }

    #[test]
    fn containers_keep_order_and_nest() {
        let v: Value = serde_json::from_str(r#"{"b": [1, "two"], "a": {}}"#).unwrap();
        let Some(Any::KvlistValue(kv)) = from_json(&v).value else {
            panic!("not a kvlist")
        };
        let keys: Vec<&str> = kv.values.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
    }
}
