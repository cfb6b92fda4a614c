//! Reading what the OTLP sink sent with an independent decoder: the official OTLP messages
//! and their OTLP/JSON serde mapping from opentelemetry-proto, never difflore's own code.
#![allow(dead_code)]

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Number, Value};

/// An OTLP logs request in either encoding: OTLP/JSON, else protobuf.
pub fn decode(body: &[u8]) -> ExportLogsServiceRequest {
    if let Ok(req) = serde_json::from_slice(body) {
        return req;
    }
    prost::Message::decode(body).unwrap_or_else(|e| {
        panic!(
            "neither an OTLP/JSON nor a protobuf logs request: {e}\n{}",
            String::from_utf8_lossy(body)
        )
    })
}

/// An OTLP traces request in either encoding: OTLP/JSON, else protobuf.
pub fn decode_traces(body: &[u8]) -> ExportTraceServiceRequest {
    if let Ok(req) = serde_json::from_slice(body) {
        return req;
    }
    prost::Message::decode(body).unwrap_or_else(|e| {
        panic!(
            "neither an OTLP/JSON nor a protobuf traces request: {e}\n{}",
            String::from_utf8_lossy(body)
        )
    })
}

/// Every span, in order.
pub fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

/// Attributes as key → JSON value (strings, integers, booleans).
pub fn attrs(attrs: &[KeyValue]) -> BTreeMap<String, Value> {
    attrs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(Value::Null, to_json),
            )
        })
        .collect()
}

/// Every log record, in order.
pub fn records(req: &ExportLogsServiceRequest) -> Vec<&LogRecord> {
    req.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect()
}

/// Attributes as key → string value; any other kind of value fails the test.
pub fn string_attrs(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for kv in attrs {
        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Any::StringValue(s)) => s.clone(),
            other => panic!("attribute {} is not a string: {other:?}", kv.key),
        };
        assert!(
            out.insert(kv.key.clone(), value).is_none(),
            "attribute {} appears twice",
            kv.key
        );
    }
    out
}

/// An AnyValue read back as the JSON it stands for. Integers and doubles stay distinct
/// (serde_json numbers compare by kind), so equality with the original payload also checks
/// that every number kept its type.
pub fn to_json(value: &AnyValue) -> Value {
    match &value.value {
        None => Value::Null,
        Some(Any::StringValue(s)) => Value::String(s.clone()),
        Some(Any::BoolValue(b)) => Value::Bool(*b),
        Some(Any::IntValue(i)) => Value::from(*i),
        Some(Any::DoubleValue(d)) => Value::Number(Number::from_f64(*d).expect("a finite double")),
        Some(Any::ArrayValue(a)) => Value::Array(a.values.iter().map(to_json).collect()),
        Some(Any::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|e| (e.key.clone(), e.value.as_ref().map_or(Value::Null, to_json)))
                .collect(),
        ),
        Some(other) => panic!("difflore never sends {other:?}"),
    }
}

/// The kvlist entry `key` of a body.
pub fn field<'a>(body: &'a AnyValue, key: &str) -> &'a AnyValue {
    match &body.value {
        Some(Any::KvlistValue(kv)) => kv
            .values
            .iter()
            .find(|e| e.key == key)
            .and_then(|e| e.value.as_ref())
            .unwrap_or_else(|| panic!("no {key} in the body")),
        other => panic!("body is not a kvlist: {other:?}"),
    }
}

/// Any request body as JSON: difflore's JSON and OTLP/JSON as they are, an OTLP protobuf
/// request (traces when `path` says so, else logs) decoded with the official messages and
/// shown in its OTLP/JSON mapping.
pub fn any_body(path: &str, body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| {
        if path.ends_with("/v1/traces") {
            serde_json::to_value(decode_traces(body)).expect("an OTLP request as JSON")
        } else {
            serde_json::to_value(decode(body)).expect("an OTLP request as JSON")
        }
    })
}
