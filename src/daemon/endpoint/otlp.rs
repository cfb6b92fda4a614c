//! The OTLP sink's settings, resolved: each signal's URL, protocol, compression, timeout
//! and headers, the TLS files and the resource. For every setting a signal's own name wins
//! over the general one (as the OTLP exporter specification says), and config.toml's
//! `otlp_*` keys win over the `OTEL_*` variables, as difflore's own endpoint does: the
//! daemon may inherit a shell whose OpenTelemetry variables were meant for another program.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;

use super::otel::{self, TRACES_ENDPOINT_VAR};
use super::{Endpoint, EndpointError, Origin, insecure_check, signal_url, transport};
use crate::daemon::sink::Sink;
use crate::daemon::sink::http::Tls;
use crate::daemon::sink::otlp::{self, OtlpSink, Protocol, Signal, Target};
use crate::shared::config::Config;

/// The OTLP sink for an endpoint: `base` is a URL below which each signal's path goes,
/// `logs` a logs URL given whole.
pub fn sink(
    endpoint: &Endpoint,
    base: Option<Url>,
    logs: Option<Url>,
    config: &Config,
) -> Result<Sink, EndpointError> {
    let env = &endpoint.otel;
    let own = endpoint.origin == Origin::Difflore;
    let logs_url = match (&config.otlp_logs_endpoint, logs, &base) {
        (Some(text), _, _) => Some(parse(text, "otlp_logs_endpoint")?),
        (None, Some(url), _) => Some(url),
        (None, None, Some(base)) => Some(signal_url(base.clone(), otlp::LOGS_PATH)),
        (None, None, None) => None,
    };
    let traces_env = env.var(TRACES_ENDPOINT_VAR).filter(|_| !own);
    let traces_url = match (&config.otlp_traces_endpoint, traces_env, &base) {
        (Some(text), _, _) => Some(parse(text, "otlp_traces_endpoint")?),
        (None, Some(text), _) => Some(parse(text, TRACES_ENDPOINT_VAR)?),
        (None, None, Some(base)) => Some(signal_url(base.clone(), otlp::TRACES_PATH)),
        (None, None, None) => None,
    };
    let wanted = |s: Signal| config.otlp_signals.iter().any(|w| w == s.as_str());
    let mut targets = Vec::new();
    for (signal, url) in [(Signal::Logs, logs_url), (Signal::Traces, traces_url)] {
        match url {
            Some(url) if wanted(signal) => {
                insecure_check(endpoint, &url, config)?;
                targets.push(Some(target(signal, url, endpoint, config)?));
            }
            _ => targets.push(None),
        }
    }
    let traces = targets.pop().flatten();
    let logs = targets.pop().flatten();
    let keep_origin = [&logs, &traces]
        .into_iter()
        .flatten()
        .any(|t| !t.headers.is_empty());
    let tls = Tls {
        certificate: path(&config.otlp_certificate, endpoint, "CERTIFICATE"),
        client_certificate: path(
            &config.otlp_client_certificate,
            endpoint,
            "CLIENT_CERTIFICATE",
        ),
        client_key: path(&config.otlp_client_key, endpoint, "CLIENT_KEY"),
    };
    let service = config
        .otlp_service_name
        .clone()
        .or_else(|| env.var("OTEL_SERVICE_NAME").map(str::to_owned));
    let attributes = config
        .otlp_resource_attributes
        .as_deref()
        .or_else(|| env.var("OTEL_RESOURCE_ATTRIBUTES"))
        .map(otel::parse_attributes)
        .unwrap_or_default();
    Ok(Sink::Otlp(Box::new(OtlpSink {
        transport: transport(config, keep_origin, &tls)?,
        logs,
        traces,
        resource: otlp::resource(
            crate::shared::sys::hostname(),
            service.as_deref(),
            &attributes,
        ),
        rejections: RefCell::default(),
    })))
}

fn parse(text: &str, what: &str) -> Result<Url, EndpointError> {
    Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| EndpointError::SignalUrl {
            what: what.to_owned(),
            shown: crate::shared::config::shown_endpoint(text),
        })
}

/// A setting for `signal`: config.toml's signal key, its general key, then the variables.
fn setting(
    own: [(&str, &Option<String>); 2],
    endpoint: &Endpoint,
    signal: Signal,
    name: &str,
) -> Option<(String, String)> {
    own.into_iter()
        .find_map(|(key, v)| v.clone().map(|v| (key.to_owned(), v)))
        .or_else(|| endpoint.otel.setting(Some(signal.as_str()), name))
}

fn target(
    signal: Signal,
    url: Url,
    endpoint: &Endpoint,
    config: &Config,
) -> Result<Target, EndpointError> {
    let (protocol_key, compression_key) = match signal {
        Signal::Logs => (
            ("otlp_logs_protocol", &config.otlp_logs_protocol),
            ("otlp_logs_compression", &config.otlp_logs_compression),
        ),
        Signal::Traces => (
            ("otlp_traces_protocol", &config.otlp_traces_protocol),
            ("otlp_traces_compression", &config.otlp_traces_compression),
        ),
    };
    let protocol = match setting(
        [protocol_key, ("otlp_protocol", &config.otlp_protocol)],
        endpoint,
        signal,
        "PROTOCOL",
    ) {
        None => Protocol::Protobuf,
        Some((setting, value)) => {
            Protocol::parse(&value).ok_or(EndpointError::Protocol { setting, value })?
        }
    };
    let gzip = match setting(
        [
            compression_key,
            ("otlp_compression", &config.otlp_compression),
        ],
        endpoint,
        signal,
        "COMPRESSION",
    ) {
        None => config.gzip,
        Some((_, v)) if v == "gzip" => true,
        Some((_, v)) if v == "none" => false,
        Some((setting, value)) => return Err(EndpointError::Compression { setting, value }),
    };
    let timeout = match (
        config.otlp_timeout,
        endpoint.otel.setting(Some(signal.as_str()), "TIMEOUT"),
    ) {
        (Some(t), _) => Some(t),
        (None, None) => None,
        (None, Some((setting, value))) => match value.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => return Err(EndpointError::Timeout { setting, value }),
        },
    };
    let headers = match endpoint.otel.setting(Some(signal.as_str()), "HEADERS") {
        None => HeaderMap::new(),
        Some((var, raw)) => otel::parse_headers(&var, &raw)?.into_iter().collect(),
    };
    Ok(Target {
        url,
        protocol,
        gzip,
        timeout,
        headers,
    })
}

/// A TLS file: config.toml's key (already absolute), else `OTEL_EXPORTER_OTLP_<name>`.
fn path(own: &Option<PathBuf>, endpoint: &Endpoint, name: &str) -> Option<PathBuf> {
    own.clone().or_else(|| {
        endpoint
            .otel
            .var(&format!("OTEL_EXPORTER_OTLP_{name}"))
            .map(PathBuf::from)
    })
}
