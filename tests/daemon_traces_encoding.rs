//! The traces encoder's output read back by an independent decoder (opentelemetry-proto's
//! messages, both encodings): span names, kinds, parents, links, status and the GenAI
//! attributes of a turn with a tool call, a failing one and a subagent. No processes.

mod otlp_support;

use std::collections::BTreeMap;

use difflore::daemon::sink::OutEvent;
use difflore::daemon::sink::otlp::{self, Protocol, traces};
use difflore::daemon::spans::OutSpan;
use difflore::shared::assemble::{Span as Raw, SpanKind, ids};
use difflore::shared::vocabulary::Kind;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otlp_support::{attrs, decode_traces, spans};
use serde_json::value::RawValue;
use serde_json::{Value, json};

fn raw(kind: SpanKind, turn: i64, call: Option<&str>, name: Option<&str>) -> Raw {
    Raw {
        session: "sess".into(),
        turn,
        kind,
        call: call.map(str::to_owned),
        parent: None,
        client: "claude-code".into(),
        name: name.map(str::to_owned),
        model: Some("claude-x".into()),
        start_event: 1,
        start_ms: 1_700_000_000_000,
        end_event: Some(2),
        end_ms: Some(1_700_000_000_500),
        failed: false,
        incomplete: false,
        arguments: None,
    }
}

fn event(row: i64, spans: Vec<Raw>) -> OutEvent {
    OutEvent {
        row,
        id: format!("inst-{row}"),
        received_ms: 0,
        client: "claude-code".into(),
        event: "Stop".into(),
        kind: Kind::TurnStop,
        session_id: None,
        cwd: None,
        tool: None,
        received_at: String::new(),
        payload: RawValue::from_string("{}".into()).unwrap(),
        usage: None,
        spans: spans
            .into_iter()
            .map(|s| OutSpan::build(s, &ids::InstallIds::new("inst"), None, |_, v| v))
            .collect(),
        span: None,
    }
}

fn sent(events: &[OutEvent]) -> ExportTraceServiceRequest {
    let resource = otlp::resource(None, None, &[]);
    let request = traces::request(events, &resource).expect("spans to send");
    let json = decode_traces(&otlp::encode(&request, Protocol::Json).unwrap());
    let protobuf = decode_traces(&otlp::encode(&request, Protocol::Protobuf).unwrap());
    assert_eq!(json, protobuf, "the two encodings disagree");
    protobuf
}

fn by_name<'a>(
    spans: &[&'a opentelemetry_proto::tonic::trace::v1::Span],
    name: &str,
) -> &'a opentelemetry_proto::tonic::trace::v1::Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn a_turn_its_tool_calls_and_a_subagent_decode_as_one_genai_tree() {
    let mut fail = raw(SpanKind::Tool, 2, Some("toolu_2"), Some("Edit"));
    fail.failed = true;
    let mut agent = raw(SpanKind::Subagent, 2, Some("ag-1"), Some("explore"));
    agent.parent = Some((SpanKind::Tool, "difflore:9".into()));
    let mut turn = raw(SpanKind::Turn, 2, None, None);
    turn.incomplete = true;
    let events = [
        event(
            1,
            vec![raw(SpanKind::Tool, 2, Some("toolu_1"), Some("Bash"))],
        ),
        event(
            2,
            vec![
                fail,
                raw(SpanKind::Tool, 2, Some("difflore:9"), Some("Task")),
            ],
        ),
        event(3, vec![agent, turn]),
    ];
    let req = sent(&events);
    let all = spans(&req);
    assert_eq!(all.len(), 5);
    let trace = ids::trace_id("inst", "sess", 2).to_vec();
    assert!(
        all.iter().all(|s| s.trace_id == trace),
        "one trace per turn"
    );
    assert!(all.iter().all(|s| s.kind == ProtoKind::Internal as i32));

    let turn = by_name(&all, "invoke_agent claude-code");
    assert!(turn.parent_span_id.is_empty());
    assert_eq!(
        (turn.start_time_unix_nano, turn.end_time_unix_nano),
        (1_700_000_000_000_000_000, 1_700_000_000_500_000_000)
    );
    let link = &turn.links[0];
    assert_eq!(link.trace_id, ids::trace_id("inst", "sess", 1).to_vec());
    assert_eq!(
        link.span_id,
        ids::span_id("inst", "sess", 1, SpanKind::Turn, None).to_vec()
    );
    let want: BTreeMap<String, Value> = [
        ("gen_ai.operation.name", json!("invoke_agent")),
        ("gen_ai.provider.name", json!("anthropic")),
        ("gen_ai.agent.name", json!("claude-code")),
        ("gen_ai.conversation.id", json!("sess")),
        ("session.id", json!("sess")),
        ("gen_ai.request.model", json!("claude-x")),
        ("difflore.client", json!("claude-code")),
        ("difflore.turn", json!(2)),
        ("difflore.span.incomplete", json!(true)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(attrs(&turn.attributes), want);

    let bash = by_name(&all, "execute_tool Bash");
    assert_eq!(bash.parent_span_id, turn.span_id);
    let a = attrs(&bash.attributes);
    assert_eq!(a["gen_ai.operation.name"], "execute_tool");
    assert_eq!(a["gen_ai.tool.name"], "Bash");
    assert_eq!(a["gen_ai.tool.call.id"], "toolu_1");
    assert_eq!(a["gen_ai.tool.type"], "function");
    assert!(!a.contains_key("error.type") && !a.contains_key("difflore.span.incomplete"));
    assert!(bash.status.is_none() && bash.links.is_empty());

    let edit = by_name(&all, "execute_tool Edit");
    let status = edit.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(attrs(&edit.attributes)["error.type"], "_OTHER");

    let task = by_name(&all, "execute_tool Task");
    assert!(
        !attrs(&task.attributes).contains_key("gen_ai.tool.call.id"),
        "an id difflore made up is not the agent's call id"
    );
    let sub = by_name(&all, "invoke_agent explore");
    assert_eq!(sub.parent_span_id, task.span_id);
    let a = attrs(&sub.attributes);
    assert_eq!(a["gen_ai.agent.id"], "ag-1");
    assert_eq!(a["gen_ai.agent.name"], "explore");
}

#[test]
fn a_batch_without_spans_sends_no_traces_request() {
    let resource = otlp::resource(None, None, &[]);
    assert!(traces::request(&[event(1, Vec::new())], &resource).is_none());
}

#[test]
fn mcp_tools_are_extensions_and_the_first_turn_links_nowhere() {
    assert_eq!(
        traces::tool_type(Some("mcp__github__list_issues")),
        "extension"
    );
    assert_eq!(traces::tool_type(Some("Read")), "function");
    let req = sent(&[event(1, vec![raw(SpanKind::Turn, 1, None, None)])]);
    assert!(spans(&req)[0].links.is_empty());
}
