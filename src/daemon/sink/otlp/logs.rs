//! The logs signal: one `ExportLogsServiceRequest` per batch, one log record per event with
//! the outgoing record's fields as attributes, its payload as a structured body, and the
//! trace and span it belongs to when traces are sent. Builds the official message from the
//! `OutEvent` alone; never sends.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::any_value::{from_json, string};
use super::{OutEvent, scope};

/// The request for `events`, observed at `observed_ns`. A payload that is not JSON (it
/// always is: the record holds JSON) is an error.
pub fn request(
    events: &[OutEvent],
    resource: &Resource,
    observed_ns: u64,
) -> Result<ExportLogsServiceRequest, serde_json::Error> {
    let log_records = events
        .iter()
        .map(|ev| record(ev, observed_ns))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    })
}

fn record(ev: &OutEvent, observed_ns: u64) -> Result<LogRecord, serde_json::Error> {
    let body = from_json(ev.payload.get())?;
    let mut attributes = vec![
        string("difflore.event.id", &ev.id),
        string("difflore.client", &ev.client),
        string("event.name", &ev.event),
        string("difflore.event.kind", ev.kind.as_str()),
    ];
    let optional = [
        ("session.id", &ev.session_id),
        ("difflore.tool", &ev.tool),
        ("difflore.cwd", &ev.cwd),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push(string(key, value));
        }
    }
    // The span the event belongs to, so a backend links the raw events to the trace.
    let (trace_id, span_id) = ev
        .span
        .map_or((Vec::new(), Vec::new()), |(t, s)| (t.to_vec(), s.to_vec()));
    Ok(LogRecord {
        time_unix_nano: (ev.received_ms.max(0) as u64).saturating_mul(1_000_000),
        observed_time_unix_nano: observed_ns,
        event_name: ev.event.clone(),
        attributes,
        body: Some(body),
        trace_id,
        span_id,
        ..LogRecord::default()
    })
}
