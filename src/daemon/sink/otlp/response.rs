//! Reading an OTLP/HTTP success answer, in the encoding of the request: a partial success
//! (`rejected_log_records` / `rejected_spans` and an `error_message`). The collector never
//! says which records it dropped, so the batch still counts as delivered and nothing is
//! resent: this only counts and words what to log and show. Never turns an answer into a
//! failure.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;

use super::{Protocol, Signal};
use crate::daemon::sink::http::excerpt;

/// What a partial success said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Partial {
    pub rejected: i64,
    pub message: String,
}

/// The partial success in a 2xx answer to `signal`, if it holds one worth reporting.
pub fn partial(signal: Signal, protocol: Protocol, body: &[u8]) -> Option<Partial> {
    if body.is_empty() {
        return None;
    }
    let found = match protocol {
        Protocol::Protobuf => from_protobuf(signal, body),
        Protocol::Json => from_json(signal, body),
    }?;
    (found.rejected > 0 || !found.message.is_empty()).then_some(found)
}

fn from_protobuf(signal: Signal, body: &[u8]) -> Option<Partial> {
    match signal {
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()?
            .partial_success
            .map(|p| Partial {
                rejected: p.rejected_log_records,
                message: p.error_message,
            }),
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .ok()?
            .partial_success
            .map(|p| Partial {
                rejected: p.rejected_spans,
                message: p.error_message,
            }),
    }
}

fn from_json(signal: Signal, body: &[u8]) -> Option<Partial> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let partial = answer.get("partialSuccess")?;
    let key = match signal {
        Signal::Logs => "rejectedLogRecords",
        Signal::Traces => "rejectedSpans",
    };
    // int64 is a string in protobuf JSON; accept a bare number from lenient servers too.
    let rejected = match partial.get(key) {
        Some(Value::String(text)) => text.parse::<i64>().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some(Partial { rejected, message })
}

/// The log line for a partial success to a batch of `sent` records.
pub fn note(signal: Signal, sent: usize, p: &Partial) -> String {
    let message = excerpt(p.message.as_bytes(), None);
    let what = signal.records();
    if p.rejected > 0 {
        format!(
            "collector accepted a batch of {sent} but rejected {} {what} (it does not say which; they are not resent){message}",
            p.rejected
        )
    } else {
        format!("collector accepted a batch of {sent} {what} with a warning{message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn a_json_partial_success_is_worded_with_its_count_and_message() {
        let body =
            br#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too old\nby far"}}"#;
        let p = partial(Signal::Logs, Protocol::Json, body).unwrap();
        assert_eq!(
            note(Signal::Logs, 10, &p),
            "collector accepted a batch of 10 but rejected 3 log records (it does not say which; they are not resent): too old by far"
        );
        let numeric = br#"{"partialSuccess":{"rejectedSpans":2}}"#;
        assert_eq!(
            partial(Signal::Traces, Protocol::Json, numeric)
                .unwrap()
                .rejected,
            2
        );
    }

    #[test]
    fn a_protobuf_partial_success_is_read_too() {
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 4,
                error_message: "span too long".into(),
            }),
        }
        .encode_to_vec();
        let p = partial(Signal::Traces, Protocol::Protobuf, &body).unwrap();
        assert_eq!(p.rejected, 4);
        assert!(note(Signal::Traces, 9, &p).contains("rejected 4 spans"));
    }

    #[test]
    fn full_successes_say_nothing_unless_they_warn() {
        assert_eq!(partial(Signal::Logs, Protocol::Json, b""), None);
        assert_eq!(partial(Signal::Logs, Protocol::Json, b"{}"), None);
        assert_eq!(partial(Signal::Logs, Protocol::Protobuf, b""), None);
        assert_eq!(
            partial(Signal::Logs, Protocol::Json, br#"{"partialSuccess":{}}"#),
            None
        );
        let warn = partial(
            Signal::Logs,
            Protocol::Json,
            br#"{"partialSuccess":{"errorMessage":"slow down"}}"#,
        )
        .unwrap();
        assert_eq!(
            note(Signal::Logs, 1, &warn),
            "collector accepted a batch of 1 log records with a warning: slow down"
        );
    }
}
