//! The OTLP/HTTP logs encoding, JSON flavour: one ExportLogsServiceRequest per batch, one
//! log record per event with difflore's fields as attributes and the payload as a structured
//! body. An encoder over the shared HTTP transport: it never decides delivery or retries.

mod any_value;
mod response;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use super::OutEvent;
use super::http::{EncodeError, Encoder};
use crate::shared::sys;
use any_value::{AnyValue, KeyValue};

/// Appended to an OTLP base URL, as every OpenTelemetry exporter does.
pub const LOGS_PATH: &str = "v1/logs";
/// The instrumentation scope and `service.name`.
const NAME: &str = "difflore";

pub struct OtlpEncoder {
    host: Option<String>,
}

impl OtlpEncoder {
    /// Resource attributes for this machine (`host.name` when the OS gives one).
    pub fn for_this_host() -> OtlpEncoder {
        OtlpEncoder::with_host(sys::hostname())
    }

    pub fn with_host(host: Option<String>) -> OtlpEncoder {
        OtlpEncoder { host }
    }

    /// The request for `events`, observed at `observed_ns`.
    pub fn encode_at(&self, events: &[OutEvent], observed_ns: u64) -> Result<Vec<u8>, EncodeError> {
        let bodies = events
            .iter()
            .map(|ev| serde_json::from_str::<Value>(ev.payload.get()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EncodeError(Box::new(e)))?;
        let observed = observed_ns.to_string();
        let mut resource = vec![KeyValue::string("service.name", NAME)];
        if let Some(host) = &self.host {
            resource.push(KeyValue::string("host.name", host));
        }
        let request = ExportRequest {
            resource_logs: [ResourceLogs {
                resource: Resource {
                    attributes: resource,
                },
                scope_logs: [ScopeLogs {
                    scope: Scope {
                        name: NAME,
                        version: env!("CARGO_PKG_VERSION"),
                    },
                    log_records: events
                        .iter()
                        .zip(&bodies)
                        .map(|(ev, body)| record(ev, body, &observed))
                        .collect(),
                }],
            }],
        };
        serde_json::to_vec(&request).map_err(|e| EncodeError(Box::new(e)))
    }
}

impl Encoder for OtlpEncoder {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn encode(&self, events: &[OutEvent]) -> Result<Vec<u8>, EncodeError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.encode_at(events, now)
    }

    fn review(&self, sent: usize, body: &[u8]) -> Option<String> {
        response::note(sent, body)
    }
}

fn record<'a>(ev: &'a OutEvent, body: &'a Value, observed: &'a str) -> LogRecord<'a> {
    let mut attributes = vec![
        KeyValue::string("difflore.event.id", &ev.id),
        KeyValue::string("difflore.client", &ev.client),
        KeyValue::string("event.name", &ev.event),
    ];
    let optional = [
        ("session.id", &ev.session_id),
        ("difflore.tool", &ev.tool),
        ("difflore.cwd", &ev.cwd),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push(KeyValue::string(key, value));
        }
    }
    LogRecord {
        time_unix_nano: (ev.received_ms.max(0) as u64)
            .saturating_mul(1_000_000)
            .to_string(),
        observed_time_unix_nano: observed,
        event_name: &ev.event,
        attributes,
        body: AnyValue::Json(body),
    }
}

// The OTLP/JSON shape (camelCase field names, 64-bit integers as strings) of the few
// messages difflore fills in; unset fields are left out, which OTLP reads as defaults.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportRequest<'a> {
    resource_logs: [ResourceLogs<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs<'a> {
    resource: Resource<'a>,
    scope_logs: [ScopeLogs<'a>; 1],
}

#[derive(Serialize)]
struct Resource<'a> {
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs<'a> {
    scope: Scope,
    log_records: Vec<LogRecord<'a>>,
}

#[derive(Serialize)]
struct Scope {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord<'a> {
    time_unix_nano: String,
    observed_time_unix_nano: &'a str,
    event_name: &'a str,
    attributes: Vec<KeyValue<'a>>,
    body: AnyValue<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;

    #[test]
    fn a_batch_is_one_resource_one_scope_and_a_record_per_event() {
        let ev = OutEvent {
            row: 7,
            id: "abc-7".into(),
            received_ms: 1_700_000_000_123,
            client: "codex".into(),
            event: "Stop".into(),
            session_id: Some("s".into()),
            cwd: None,
            tool: None,
            received_at: "2023-11-14T22:13:20.123Z".into(),
            payload: RawValue::from_string(r#"{"ok": true}"#.into()).unwrap(),
        };
        let encoder = OtlpEncoder::with_host(Some("box".into()));
        let body: Value = serde_json::from_slice(&encoder.encode_at(&[ev], 5).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"resourceLogs": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "difflore"}},
                    {"key": "host.name", "value": {"stringValue": "box"}}
                ]},
                "scopeLogs": [{
                    "scope": {"name": "difflore", "version": env!("CARGO_PKG_VERSION")},
                    "logRecords": [{
                        "timeUnixNano": "1700000000123000000",
                        "observedTimeUnixNano": "5",
                        "eventName": "Stop",
                        "attributes": [
                            {"key": "difflore.event.id", "value": {"stringValue": "abc-7"}},
                            {"key": "difflore.client", "value": {"stringValue": "codex"}},
                            {"key": "event.name", "value": {"stringValue": "Stop"}},
                            {"key": "session.id", "value": {"stringValue": "s"}}
                        ],
                        "body": {"kvlistValue": {"values": [
                            {"key": "ok", "value": {"boolValue": true}}
                        ]}}
                    }]
                }]
            }]})
        );
    }
}
