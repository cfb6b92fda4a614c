//! The OTLP encoder's output read back by an independent decoder (opentelemetry-proto's
//! serde types): request shape, resource and scope, every attribute, both times, and the
//! body's structure and number types. No processes, no network.

mod otlp_support;

use difflore::daemon::sink::OutEvent;
use difflore::daemon::sink::otlp::{self, Protocol, logs};
use difflore::shared::vocabulary::kind_of;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use otlp_support::{decode, field, records, string_attrs, to_json};
use serde_json::value::RawValue;
use serde_json::{Value, json};

fn event(row: i64, event: &str, payload: &str, extra: Option<(&str, &str, &str)>) -> OutEvent {
    OutEvent {
        row,
        id: format!("inst-{row}"),
        received_ms: 1_700_000_000_000 + row,
        client: "claude-code".into(),
        event: event.into(),
        kind: kind_of("claude-code", event),
        session_id: extra.map(|e| e.0.to_owned()),
        cwd: extra.map(|e| e.1.to_owned()),
        tool: extra.map(|e| e.2.to_owned()),
        received_at: String::new(),
        payload: RawValue::from_string(payload.to_owned()).unwrap(),
        usage: None,
        spans: Vec::new(),
        span: None,
    }
}

/// The request for `events`, encoded both ways and read back by the independent decoder:
/// both encodings must say the same.
fn sent(host: Option<&str>, events: &[OutEvent], observed: u64) -> ExportLogsServiceRequest {
    let resource = otlp::resource(host.map(str::to_owned), None, &[]);
    let request = logs::request(events, &resource, observed).unwrap();
    let json = decode(&otlp::encode(&request, Protocol::Json).unwrap());
    let protobuf = decode(&otlp::encode(&request, Protocol::Protobuf).unwrap());
    assert_eq!(json, protobuf, "the two encodings disagree");
    protobuf
}

fn attrs(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_field_survives_an_independent_decoder() {
    let full = r#"{"session_id":"s1","cwd":"/proj","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"#;
    let bare = r#"{"hook_event_name":"Stop"}"#;
    let events = [
        event(1, "PreToolUse", full, Some(("s1", "/proj", "Bash"))),
        event(2, "Stop", bare, None),
    ];
    let req = sent(Some("dev-box"), &events, 1_700_000_001_000_000_000);

    assert_eq!(req.resource_logs.len(), 1);
    let resource = req.resource_logs[0].resource.as_ref().expect("a resource");
    assert_eq!(
        string_attrs(&resource.attributes),
        attrs(&[("service.name", "difflore"), ("host.name", "dev-box")])
    );
    assert_eq!(req.resource_logs[0].scope_logs.len(), 1);
    let scope = req.resource_logs[0].scope_logs[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "difflore");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));

    let recs = records(&req);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].time_unix_nano, 1_700_000_000_001_000_000);
    assert_eq!(recs[1].time_unix_nano, 1_700_000_000_002_000_000);
    for r in &recs {
        assert_eq!(r.observed_time_unix_nano, 1_700_000_001_000_000_000);
    }
    assert_eq!(recs[0].event_name, "PreToolUse");
    assert_eq!(
        string_attrs(&recs[0].attributes),
        attrs(&[
            ("difflore.event.id", "inst-1"),
            ("difflore.client", "claude-code"),
            ("event.name", "PreToolUse"),
            ("difflore.event.kind", "tool.pre"),
            ("session.id", "s1"),
            ("difflore.tool", "Bash"),
            ("difflore.cwd", "/proj"),
        ])
    );
    // Absent fields are left out, not sent empty.
    assert_eq!(
        string_attrs(&recs[1].attributes),
        attrs(&[
            ("difflore.event.id", "inst-2"),
            ("difflore.client", "claude-code"),
            ("event.name", "Stop"),
            ("difflore.event.kind", "turn.stop"),
        ])
    );
    for (r, payload) in recs.iter().zip([full, bare]) {
        let original: Value = serde_json::from_str(payload).unwrap();
        assert_eq!(to_json(r.body.as_ref().unwrap()), original);
    }
}

#[test]
fn json_values_keep_their_types_in_the_body() {
    let payload = r#"{"int":3,"neg":-7,"float":1.5,"whole_float":2.0,"big":18446744073709551615,"yes":true,"none":null,"text":"héllo \"q\" \n","list":[1,"a",[],{}],"empty":{},"nested":{"deep":{"deeper":[null,false]}}}"#;
    let req = sent(None, &[event(1, "PostToolUse", payload, None)], 1);
    let resource = req.resource_logs[0].resource.as_ref().unwrap();
    assert_eq!(
        string_attrs(&resource.attributes),
        attrs(&[("service.name", "difflore")]),
        "no host.name when the host has none"
    );
    let body = records(&req)[0].body.as_ref().unwrap();
    assert_eq!(field(body, "int").value, Some(Any::IntValue(3)));
    assert_eq!(field(body, "neg").value, Some(Any::IntValue(-7)));
    assert_eq!(field(body, "float").value, Some(Any::DoubleValue(1.5)));
    assert_eq!(
        field(body, "whole_float").value,
        Some(Any::DoubleValue(2.0))
    );
    // Past i64 OTLP has no integer: the nearest double.
    assert_eq!(
        field(body, "big").value,
        Some(Any::DoubleValue(18446744073709551615_u64 as f64))
    );
    assert_eq!(field(body, "yes").value, Some(Any::BoolValue(true)));
    assert_eq!(field(body, "none").value, None, "null is an empty AnyValue");
    assert!(matches!(
        field(body, "list").value,
        Some(Any::ArrayValue(_))
    ));
    assert!(matches!(
        field(body, "empty").value,
        Some(Any::KvlistValue(_))
    ));
    let mut want: Value = serde_json::from_str(payload).unwrap();
    want["big"] = json!(18446744073709551615_u64 as f64);
    assert_eq!(
        to_json(body),
        want,
        "keys, order-free values and number kinds"
    );
    if let Some(Any::KvlistValue(kv)) = &body.value {
        let keys: Vec<&str> = kv.values.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "int",
                "neg",
                "float",
                "whole_float",
                "big",
                "yes",
                "none",
                "text",
                "list",
                "empty",
                "nested"
            ],
            "the payload's key order is kept"
        );
    }
}

#[test]
fn sixty_four_bit_integers_are_json_strings_as_the_protobuf_mapping_says() {
    let resource = otlp::resource(None, None, &[]);
    let request = logs::request(&[event(9, "Stop", r#"{"n":42}"#, None)], &resource, 123).unwrap();
    let raw = otlp::encode(&request, Protocol::Json).unwrap();
    let wire: Value = serde_json::from_slice(&raw).unwrap();
    let rec = &wire["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(rec["timeUnixNano"], json!("1700000000009000000"));
    assert_eq!(rec["observedTimeUnixNano"], json!("123"));
    assert_eq!(
        rec["body"]["kvlistValue"]["values"][0]["value"],
        json!({"intValue": "42"})
    );
}
