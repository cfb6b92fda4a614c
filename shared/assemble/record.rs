//! The closed spans a row carries out, as the `carried` table holds them: one protobuf
//! message (prost) per row, about a third the size of the JSON earlier versions wrote,
//! because what these cost the drain is the pages they fill (written at the claim, again
//! when the row goes). Unset fields cost nothing and a field added later reads as unset from older
//! records, so a record outlives an upgrade. JSON text from earlier versions still reads.

use prost::Message;
use rusqlite::types::ValueRef;

use super::{Span, SpanKind};

#[derive(Clone, PartialEq, Message)]
struct Carried {
    #[prost(message, repeated, tag = "1")]
    spans: Vec<Record>,
}

/// One `Span`; tags are forever: never renumber, only add.
#[derive(Clone, PartialEq, Message)]
struct Record {
    #[prost(string, tag = "1")]
    session: String,
    #[prost(int64, tag = "2")]
    turn: i64,
    #[prost(int32, tag = "3")]
    kind: i32,
    #[prost(string, optional, tag = "4")]
    call: Option<String>,
    #[prost(int32, optional, tag = "5")]
    parent_kind: Option<i32>,
    #[prost(string, optional, tag = "6")]
    parent_call: Option<String>,
    #[prost(string, tag = "7")]
    client: String,
    #[prost(string, optional, tag = "8")]
    name: Option<String>,
    #[prost(string, optional, tag = "9")]
    model: Option<String>,
    #[prost(int64, tag = "10")]
    start_event: i64,
    #[prost(int64, tag = "11")]
    start_ms: i64,
    #[prost(int64, optional, tag = "12")]
    end_event: Option<i64>,
    #[prost(int64, optional, tag = "13")]
    end_ms: Option<i64>,
    #[prost(bool, tag = "14")]
    failed: bool,
    #[prost(bool, tag = "15")]
    incomplete: bool,
    #[prost(string, optional, tag = "16")]
    arguments: Option<String>,
}

/// A span kind as a record holds it.
fn code(k: SpanKind) -> i32 {
    match k {
        SpanKind::Turn => 0,
        SpanKind::Tool => 1,
        SpanKind::Subagent => 2,
    }
}

/// A code this version does not know (a damaged record) reads as a tool call, as the
/// `spans` table's text does.
fn kind(code: i32) -> SpanKind {
    match code {
        0 => SpanKind::Turn,
        2 => SpanKind::Subagent,
        _ => SpanKind::Tool,
    }
}

impl From<&Span> for Record {
    fn from(s: &Span) -> Record {
        Record {
            session: s.session.clone(),
            turn: s.turn,
            kind: code(s.kind),
            call: s.call.clone(),
            parent_kind: s.parent.as_ref().map(|(k, _)| code(*k)),
            parent_call: s.parent.as_ref().map(|(_, c)| c.clone()),
            client: s.client.clone(),
            name: s.name.clone(),
            model: s.model.clone(),
            start_event: s.start_event,
            start_ms: s.start_ms,
            end_event: s.end_event,
            end_ms: s.end_ms,
            failed: s.failed,
            incomplete: s.incomplete,
            arguments: s.arguments.clone(),
        }
    }
}

impl From<Record> for Span {
    fn from(r: Record) -> Span {
        Span {
            session: r.session,
            turn: r.turn,
            kind: kind(r.kind),
            call: r.call,
            parent: r.parent_kind.map(kind).zip(r.parent_call),
            client: r.client,
            name: r.name,
            model: r.model,
            start_event: r.start_event,
            start_ms: r.start_ms,
            end_event: r.end_event,
            end_ms: r.end_ms,
            failed: r.failed,
            incomplete: r.incomplete,
            arguments: r.arguments,
        }
    }
}

/// The closed spans a row carries, as its `carried` record.
pub(super) fn encode(spans: &[&Span]) -> Vec<u8> {
    Carried {
        spans: spans.iter().map(|s| Record::from(*s)).collect(),
    }
    .encode_to_vec()
}

/// A `carried` record read back: a protobuf blob, or the JSON text of an earlier version.
/// Only assembly writes it, so a value it cannot read (a damaged database) carries nothing
/// rather than stopping every claim that reaches the row.
pub(super) fn decode(value: ValueRef<'_>) -> Vec<Span> {
    match value {
        ValueRef::Blob(bytes) => Carried::decode(bytes)
            .map(|c| c.spans.into_iter().map(Span::from).collect())
            .unwrap_or_default(),
        ValueRef::Text(text) => serde_json::from_slice(text).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = SpanKind> {
        prop_oneof![
            Just(SpanKind::Turn),
            Just(SpanKind::Tool),
            Just(SpanKind::Subagent)
        ]
    }

    fn span() -> impl Strategy<Value = Span> {
        let text = || proptest::option::of("\\PC{0,12}");
        (
            ("\\PC{0,40}", any::<i64>(), kind(), text()),
            (
                proptest::option::of((kind(), "\\PC{0,8}")),
                "\\PC{0,12}",
                text(),
                text(),
            ),
            (
                any::<i64>(),
                any::<i64>(),
                any::<Option<i64>>(),
                any::<Option<i64>>(),
            ),
            (any::<bool>(), any::<bool>(), text()),
        )
            .prop_map(
                |(
                    (session, turn, kind, call),
                    (parent, client, name, model),
                    (start_event, start_ms, end_event, end_ms),
                    (failed, incomplete, arguments),
                )| Span {
                    session,
                    turn,
                    kind,
                    call,
                    parent,
                    client,
                    name,
                    model,
                    start_event,
                    start_ms,
                    end_event,
                    end_ms,
                    failed,
                    incomplete,
                    arguments,
                },
            )
    }

    proptest! {
        /// Every span, whatever its values (empty strings, zero, the extremes of i64 among
        /// them), reads back exactly as written.
        #[test]
        fn a_record_reads_back_as_written(spans in proptest::collection::vec(span(), 0..4)) {
            let refs: Vec<&Span> = spans.iter().collect();
            prop_assert_eq!(decode(ValueRef::Blob(&encode(&refs))), spans);
        }

        /// Bytes that are not a record carry nothing, and never panic.
        #[test]
        fn garbage_carries_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(ValueRef::Blob(&bytes));
            let _ = decode(ValueRef::Text(&bytes));
        }
    }

    #[test]
    fn every_kind_keeps_its_code_and_an_unknown_code_reads_as_a_tool_call() {
        for k in [SpanKind::Turn, SpanKind::Tool, SpanKind::Subagent] {
            assert_eq!(super::kind(code(k)), k);
        }
        assert_eq!(super::kind(7), SpanKind::Tool);
        assert_eq!(super::kind(-1), SpanKind::Tool);
    }

    #[test]
    fn an_earlier_versions_json_still_reads() {
        let json = r#"[{"session":"s","turn":1,"kind":"tool","call":"t1","parent":["subagent","a1"],"client":"claude-code","name":"Bash","model":null,"start_event":1,"start_ms":1,"end_event":2,"end_ms":2,"failed":true,"incomplete":false,"arguments":null}]"#;
        let spans = decode(ValueRef::Text(json.as_bytes()));
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].parent, Some((SpanKind::Subagent, "a1".to_owned())));
        assert!(spans[0].failed);
        assert_eq!(decode(ValueRef::Null), []);
    }

    #[test]
    fn a_record_is_about_a_third_of_the_json() {
        let s = Span {
            session: "3f2a9c1e-7b4d-4e8a-9c21-000000000042".into(),
            turn: 3,
            kind: SpanKind::Tool,
            call: Some("toolu_01ABCDEF".into()),
            parent: None,
            client: "claude-code".into(),
            name: Some("Bash".into()),
            model: None,
            start_event: 120_345,
            start_ms: 1_700_000_000_014,
            end_event: Some(120_346),
            end_ms: Some(1_700_000_000_021),
            failed: false,
            incomplete: false,
            arguments: None,
        };
        let json = serde_json::to_string(&[&s]).unwrap().len();
        let record = encode(&[&s]).len();
        // 101 bytes against 302 when written.
        assert!(record * 5 <= json * 2, "record {record} bytes, JSON {json}");
    }
}
