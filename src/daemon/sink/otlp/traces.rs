//! The traces signal: the spans a batch's events close, as one `ExportTraceServiceRequest`
//! in the OpenTelemetry GenAI conventions (`SEMCONV`): a turn is `invoke_agent {agent}`, a
//! tool call `execute_tool {tool}` under it, a subagent `invoke_agent {type}` under the call
//! that started it. Built from the outgoing records alone (`OutEvent::spans`, redacted in
//! `prepare`); never sends.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Link, SpanKind as ProtoKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::any_value::string;
use super::{OutEvent, scope};
use crate::daemon::spans::{self, OutSpan};
use crate::shared::assemble::SpanKind;

/// The semantic conventions these spans follow: the GenAI conventions of
/// `semantic-conventions-genai` (development status, unreleased; built on the OpenTelemetry
/// semantic conventions of this version).
pub const SEMCONV: &str = "1.41.1";

/// The request for the spans `events` carry, or `None` when they carry none.
pub fn request(events: &[OutEvent], resource: &Resource) -> Option<ExportTraceServiceRequest> {
    let spans: Vec<Span> = events.iter().flat_map(|e| &e.spans).map(span).collect();
    if spans.is_empty() {
        return None;
    }
    Some(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    })
}

/// `gen_ai.provider.name`: the provider where the agent fixes it, else the agent itself
/// (a custom value, as the conventions allow).
pub fn provider(client: &str) -> &str {
    match client {
        "claude-code" => "anthropic",
        "codex" => "openai",
        "gemini" => "gcp.gemini",
        other => other,
    }
}

/// `gen_ai.tool.type`: MCP tools run outside the agent (`extension`); the rest are the
/// agent's own functions.
pub fn tool_type(name: Option<&str>) -> &'static str {
    match name {
        Some(n) if n.starts_with("mcp__") || n.starts_with("mcp_") => "extension",
        _ => "function",
    }
}

fn nanos(ms: i64) -> u64 {
    (ms.max(0) as u64).saturating_mul(1_000_000)
}

fn value(key: &str, v: Any) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn span(s: &OutSpan) -> Span {
    let operation = match s.kind {
        SpanKind::Tool => "execute_tool",
        SpanKind::Turn | SpanKind::Subagent => "invoke_agent",
    };
    let subject = match s.kind {
        SpanKind::Turn => Some(s.client.as_str()),
        SpanKind::Tool | SpanKind::Subagent => s.name.as_deref(),
    };
    let name = match subject {
        Some(subject) => format!("{operation} {subject}"),
        None => operation.to_owned(),
    };
    let mut attributes = vec![
        string("gen_ai.operation.name", operation),
        string("gen_ai.provider.name", provider(&s.client)),
        string("gen_ai.conversation.id", &s.session_id),
        string("session.id", &s.session_id),
        string("difflore.client", &s.client),
        value("difflore.turn", Any::IntValue(s.turn)),
    ];
    match s.kind {
        SpanKind::Turn => attributes.push(string("gen_ai.agent.name", &s.client)),
        SpanKind::Subagent => {
            if let Some(kind) = &s.name {
                attributes.push(string("gen_ai.agent.name", kind));
            }
            if let Some(id) = &s.call_id {
                attributes.push(string("gen_ai.agent.id", id));
            }
        }
        SpanKind::Tool => {
            if let Some(tool) = &s.name {
                attributes.push(string("gen_ai.tool.name", tool));
            }
            if let Some(id) = &s.call_id {
                attributes.push(string("gen_ai.tool.call.id", id));
            }
            attributes.push(string("gen_ai.tool.type", tool_type(s.name.as_deref())));
            if let Some(arguments) = &s.arguments {
                attributes.push(string(spans::ARGUMENTS, arguments));
            }
            if let Some(result) = &s.result {
                attributes.push(string(spans::RESULT, result));
            }
        }
    }
    if let Some(model) = &s.model {
        attributes.push(string("gen_ai.request.model", model));
    }
    if let Some(t) = &s.usage {
        // The conventions' input count includes the cache's reads and writes.
        let input = t
            .input
            .saturating_add(t.cache_read)
            .saturating_add(t.cache_write);
        for (key, n) in [
            ("gen_ai.usage.input_tokens", input),
            ("gen_ai.usage.output_tokens", t.output),
            ("gen_ai.usage.cache_read.input_tokens", t.cache_read),
            ("gen_ai.usage.cache_creation.input_tokens", t.cache_write),
        ] {
            attributes.push(value(key, Any::IntValue(n)));
        }
        if t.models.len() == 1 {
            attributes.push(string("gen_ai.response.model", &t.models[0]));
        }
    }
    if s.failed {
        attributes.push(string("error.type", "_OTHER"));
    }
    if s.incomplete {
        attributes.push(value("difflore.span.incomplete", Any::BoolValue(true)));
    }
    let status = s.failed.then(|| Status {
        message: "the tool call failed".to_owned(),
        code: StatusCode::Error as i32,
    });
    let links = s
        .previous_turn
        .iter()
        .map(|(trace_id, span_id)| Link {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            attributes: vec![string("difflore.link", "previous_turn")],
            ..Link::default()
        })
        .collect();
    Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        parent_span_id: s.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        name,
        kind: ProtoKind::Internal as i32,
        start_time_unix_nano: nanos(s.start_ms),
        end_time_unix_nano: nanos(s.end_ms),
        attributes,
        links,
        status,
        ..Span::default()
    }
}
