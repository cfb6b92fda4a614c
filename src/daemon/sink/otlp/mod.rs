//! The OTLP/HTTP sink: logs to `/v1/logs` and traces to `/v1/traces` over one transport, each
//! signal in its own protocol (protobuf, the default, or JSON) and compression. One
//! `send` is one batch: the traces request goes first when the batch carries spans, and the
//! batch is delivered only when every request it needs was accepted. Encodes the official
//! messages (opentelemetry-proto); never decides retries.

mod any_value;
pub mod logs;
mod response;
pub mod traces;

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde::Serialize;

use super::http::{Post, Transport, encode_failure};
use super::{Failure, OutEvent};
use crate::dlog;
pub use response::Partial;

/// Appended to an OTLP base URL, as every OpenTelemetry exporter does.
pub const LOGS_PATH: &str = "v1/logs";
pub const TRACES_PATH: &str = "v1/traces";
/// The instrumentation scope, and `service.name` unless the user names another.
pub const NAME: &str = "difflore";

/// An OTLP/HTTP body encoding. gRPC is not one difflored speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Protobuf,
    Json,
}

impl Protocol {
    /// `http/protobuf` or `http/json`, as `OTEL_EXPORTER_OTLP_PROTOCOL` spells them.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.trim() {
            "http/protobuf" => Some(Protocol::Protobuf),
            "http/json" => Some(Protocol::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Protobuf => "application/x-protobuf",
            Protocol::Json => "application/json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Traces,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
        }
    }

    /// What a partial success counts.
    fn records(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Traces => "spans",
        }
    }
}

/// Where and how one signal is sent.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: reqwest::Url,
    pub protocol: Protocol,
    pub gzip: bool,
    pub timeout: Option<Duration>,
    /// `OTEL_EXPORTER_OTLP_(<SIGNAL>_)HEADERS`, values marked sensitive.
    pub headers: reqwest::header::HeaderMap,
}

/// Collector-side rejections reported by partial successes since the daemon started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    pub log_records: u64,
    pub spans: u64,
    /// The last partial success, worded.
    pub last: Option<String>,
}

pub struct OtlpSink {
    pub transport: Transport,
    /// `None` when `otlp_signals` leaves the signal out (or nothing names its URL).
    pub logs: Option<Target>,
    pub traces: Option<Target>,
    pub resource: Resource,
    /// Counted as answers come back, from whichever batch in flight they answer.
    pub rejections: RefCell<Rejections>,
}

impl OtlpSink {
    pub async fn send(&self, events: &[OutEvent]) -> Result<(), Failure> {
        if let Some(target) = &self.traces
            && let Some(request) = traces::request(events, &self.resource)
        {
            let sent = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            let answer = post(&self.transport, target, &request).await?;
            self.review(Signal::Traces, target.protocol, sent, &answer);
        }
        if let Some(target) = &self.logs {
            let request = logs::request(events, &self.resource, now_ns())
                .map_err(|e| encode_failure(format!("could not encode the batch: {e}")))?;
            let answer = post(&self.transport, target, &request).await?;
            self.review(Signal::Logs, target.protocol, events.len(), &answer);
        }
        Ok(())
    }

    /// Count and log what a 2xx answer says was dropped.
    fn review(&self, signal: Signal, protocol: Protocol, sent: usize, answer: &[u8]) {
        let Some(p) = response::partial(signal, protocol, answer) else {
            return;
        };
        let rejected = u64::try_from(p.rejected).unwrap_or(0);
        let mut counts = self.rejections.borrow_mut();
        match signal {
            Signal::Logs => counts.log_records += rejected,
            Signal::Traces => counts.spans += rejected,
        }
        let note = response::note(signal, sent, &p);
        dlog!("{note}");
        counts.last = Some(note);
    }
}

async fn post<M: Message + Serialize>(
    transport: &Transport,
    target: &Target,
    request: &M,
) -> Result<Vec<u8>, Failure> {
    let body = encode(request, target.protocol)?;
    let post = Post {
        url: &target.url,
        content_type: target.protocol.content_type(),
        gzip: target.gzip,
        timeout: target.timeout,
        headers: Some(&target.headers),
    };
    transport.post(post, body).await
}

/// A request in the target's encoding: protobuf bytes, or the OTLP/JSON mapping.
pub fn encode<M: Message + Serialize>(request: &M, protocol: Protocol) -> Result<Vec<u8>, Failure> {
    match protocol {
        Protocol::Protobuf => Ok(request.encode_to_vec()),
        Protocol::Json => serde_json::to_vec(request)
            .map_err(|e| encode_failure(format!("could not encode the batch: {e}"))),
    }
}

/// The resource every request names: `service.name` (`OTEL_SERVICE_NAME`, else the one in
/// `OTEL_RESOURCE_ATTRIBUTES`, else difflore), `host.name`, then the user's attributes.
pub fn resource(
    host: Option<String>,
    service_name: Option<&str>,
    attributes: &[(String, String)],
) -> Resource {
    let from_attributes = attributes
        .iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v.as_str());
    let name = service_name.or(from_attributes).unwrap_or(NAME);
    let mut out = vec![any_value::string("service.name", name)];
    if let Some(host) = &host
        && !attributes.iter().any(|(k, _)| k == "host.name")
    {
        out.push(any_value::string("host.name", host));
    }
    for (key, value) in attributes {
        if key != "service.name" {
            out.push(any_value::string(key, value));
        }
    }
    Resource {
        attributes: out,
        ..Resource::default()
    }
}

pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..InstrumentationScope::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A string attribute, for the span encoding.
pub fn attribute(key: &str, value: &str) -> KeyValue {
    any_value::string(key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_name_comes_from_the_variable_then_the_attributes_then_difflore() {
        let name = |r: &Resource| match r.attributes[0].value.as_ref().and_then(|v| v.value.clone())
        {
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => s,
            other => panic!("{other:?}"),
        };
        let attrs = vec![
            ("service.name".to_owned(), "from-attrs".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ];
        assert_eq!(name(&resource(None, Some("svc"), &attrs)), "svc");
        assert_eq!(name(&resource(None, None, &attrs)), "from-attrs");
        assert_eq!(name(&resource(None, None, &[])), "difflore");
        let r = resource(None, None, &attrs);
        assert_eq!(
            r.attributes
                .iter()
                .filter(|a| a.key == "service.name")
                .count(),
            1
        );
        assert!(r.attributes.iter().any(|a| a.key == "team"));
    }

    #[test]
    fn protocols_are_named_as_the_specification_spells_them() {
        assert_eq!(Protocol::parse("http/protobuf"), Some(Protocol::Protobuf));
        assert_eq!(Protocol::parse(" http/json "), Some(Protocol::Json));
        assert_eq!(Protocol::parse("grpc"), None);
        assert_eq!(Protocol::Protobuf.content_type(), "application/x-protobuf");
    }
}
