//! Which sink the daemon uses: the endpoint (`--endpoint`, then `DIFFLORE_ENDPOINT`, then
//! config.toml, then the OpenTelemetry exporter variables), its scheme, the request headers
//! (bearer token from `DIFFLORE_TOKEN` or `token_file`, OTLP headers) and the credential-free
//! form shown in health and logs. Builds sinks; never sends anything.

mod otel;
mod otlp;
mod token;

use std::io;
use std::path::PathBuf;

use reqwest::Url;

use super::plaintext::is_loopback;
use super::sink::Sink;
use super::sink::file::FileSink;
use super::sink::http::{self, ClientError, ClientOptions, Encoder, HttpSink, Tls, Transport};
use super::sink::json::JsonEncoder;
use crate::shared::config::{Config, shown_endpoint};

pub use otel::OtelEnv;
pub use token::token;

pub const ENDPOINT_VAR: &str = "DIFFLORE_ENDPOINT";
pub const TOKEN_VAR: &str = "DIFFLORE_TOKEN";
const OTLP_PREFIX: &str = "otlp+";

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint {shown} is not a URL")]
    NotUrl {
        shown: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "endpoint {0} has a scheme difflored does not support (http, https, otlp+http, otlp+https, file)"
    )]
    Scheme(String),
    #[error("{var} {shown} must be an http or https URL")]
    OtelScheme { var: &'static str, shown: String },
    #[error("file endpoint {0} must be an absolute path (file:///abs/path.ndjson)")]
    FilePath(String),
    #[error(
        "endpoint {0} is plain http to a host that is not loopback; use https or set allow_insecure_http = true"
    )]
    Insecure(String),
    #[error("could not read token file {path}")]
    TokenRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("token file {path} is readable by group or others; chmod 600 it")]
    TokenMode { path: PathBuf },
    #[error("the bearer token holds characters an HTTP header cannot carry")]
    TokenValue,
    #[error("{var} entry {entry} is not a valid name=value header (values are not shown)")]
    Header { var: String, entry: usize },
    #[error(
        "{setting} = {value} is not an OTLP protocol difflored speaks: use http/protobuf (the default) or http/json"
    )]
    Protocol { setting: String, value: String },
    #[error(
        "{setting} = {value} is not a compression difflored knows: use gzip (the default) or none"
    )]
    Compression { setting: String, value: String },
    #[error("{setting} = {value} is not a timeout in milliseconds")]
    Timeout { setting: String, value: String },
    #[error("{what} {shown} must be an http or https URL")]
    SignalUrl { what: String, shown: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Whose convention the endpoint text follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--endpoint`, `DIFFLORE_ENDPOINT` or config.toml: the scheme picks the sink.
    Difflore,
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`: the full logs URL, used as is.
    OtelLogs,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: a base URL below which `v1/logs` is appended.
    OtelBase,
}

/// A resolved endpoint. Deliberately not `Debug`: it may hold OTLP header values.
pub struct Endpoint {
    text: String,
    origin: Origin,
    /// The OpenTelemetry variables as they were when this was resolved.
    otel: OtelEnv,
}

/// The endpoint in priority order (this process's OpenTelemetry variables last); `None`
/// when nothing names one.
pub fn resolve(cli: Option<&str>, env: Option<&str>, config: &Config) -> Option<Endpoint> {
    resolve_with(cli, env, config, &OtelEnv::from_env())
}

pub fn resolve_with(
    cli: Option<&str>,
    env: Option<&str>,
    config: &Config,
    otel: &OtelEnv,
) -> Option<Endpoint> {
    let own = [cli, env, config.endpoint.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty());
    let (text, origin) = match own {
        Some(text) => (text.to_owned(), Origin::Difflore),
        None => otel.endpoint()?,
    };
    Some(Endpoint {
        text,
        origin,
        otel: otel.clone(),
    })
}

impl Endpoint {
    /// An endpoint named by difflore's own settings, with no OTLP headers.
    pub fn own(text: &str) -> Endpoint {
        Endpoint {
            text: text.trim().to_owned(),
            origin: Origin::Difflore,
            otel: OtelEnv::default(),
        }
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The endpoint as configured, credentials and all: for building and scrubbing only.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The OTLP header values (often credentials), for the scrubber; empty if unparsable.
    pub fn header_values(&self) -> Vec<String> {
        let vars = [
            otel::HEADERS_VAR,
            otel::LOGS_HEADERS_VAR,
            otel::TRACES_HEADERS_VAR,
        ];
        vars.into_iter()
            .filter_map(|var| Some((var, self.otel.var(var)?)))
            .filter_map(|(var, raw)| otel::parse_headers(var, raw).ok())
            .flatten()
            .filter_map(|(_, v)| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// Safe for health and logs: no credentials, no header values; an endpoint from the
    /// OpenTelemetry variables shows the logs URL it posts to and the variable's name.
    pub fn shown(&self) -> String {
        match otel::var_of(self.origin) {
            None => shown_endpoint(&self.text),
            Some(var) => {
                let url = Url::parse(&self.text)
                    .ok()
                    .map(|u| self.otel_logs_url(u).to_string())
                    .unwrap_or_else(|| self.text.clone());
                format!("{} (OTLP, from {var})", shown_endpoint(&url))
            }
        }
    }

    fn otel_logs_url(&self, url: Url) -> Url {
        match self.origin {
            Origin::OtelBase => logs_url(url),
            _ => url,
        }
    }
}

/// Build the sink for an endpoint under this configuration.
pub fn build(endpoint: &Endpoint, config: &Config) -> Result<Sink, EndpointError> {
    let text = endpoint.text.as_str();
    let not_url = |source| EndpointError::NotUrl {
        shown: endpoint.shown(),
        source,
    };
    let url = Url::parse(text).map_err(not_url)?;
    let web = matches!(url.scheme(), "http" | "https");
    match (endpoint.origin, url.scheme()) {
        (Origin::Difflore, "file") => {
            let path = url
                .to_file_path()
                .ok()
                .filter(|p| p.is_absolute())
                .ok_or_else(|| EndpointError::FilePath(shown_endpoint(text)))?;
            Ok(Sink::File(FileSink { path }))
        }
        (Origin::Difflore, _) if web => {
            let transport = transport(config, false, &Tls::default())?;
            insecure_check(endpoint, &url, config)?;
            Ok(Sink::Http(HttpSink {
                transport,
                url,
                encoder: Box::new(JsonEncoder) as Box<dyn Encoder>,
                gzip: config.gzip,
            }))
        }
        (Origin::Difflore, "otlp+http" | "otlp+https") => {
            // `otlp+http` is not a special scheme to the URL parser (opaque host, no
            // default port): parse the http(s) URL behind the prefix instead.
            let base = Url::parse(&text[OTLP_PREFIX.len()..]).map_err(not_url)?;
            otlp::sink(endpoint, Some(base), None, config)
        }
        (Origin::Difflore, _) => Err(EndpointError::Scheme(shown_endpoint(text))),
        (Origin::OtelLogs, _) if web => otlp::sink(endpoint, None, Some(url), config),
        (Origin::OtelBase, _) if web => otlp::sink(endpoint, Some(url), None, config),
        (origin, _) => Err(EndpointError::OtelScheme {
            var: otel::var_of(origin).unwrap_or(ENDPOINT_VAR),
            shown: shown_endpoint(text),
        }),
    }
}

/// `<base>/<signal path>`, whether or not the base path ends in a slash (as OpenTelemetry
/// exporters do with `OTEL_EXPORTER_OTLP_ENDPOINT`).
fn signal_url(mut base: Url, signal_path: &str) -> Url {
    let path = format!("{}/{}", base.path().trim_end_matches('/'), signal_path);
    base.set_path(&path);
    base
}

fn logs_url(base: Url) -> Url {
    signal_url(base, super::sink::otlp::LOGS_PATH)
}

/// Plain http must be asked for, unless it stays on this machine.
fn insecure_check(endpoint: &Endpoint, url: &Url, config: &Config) -> Result<(), EndpointError> {
    if url.scheme() == "http" && !config.allow_insecure_http && !is_loopback(url) {
        return Err(EndpointError::Insecure(endpoint.shown()));
    }
    Ok(())
}

/// The client and the bearer token every request of this sink carries.
fn transport(config: &Config, keep_origin: bool, tls: &Tls) -> Result<Transport, EndpointError> {
    Ok(Transport {
        client: http::client(ClientOptions {
            connect: config.connect_timeout,
            request: config.request_timeout,
            keep_origin,
            tls,
        })?,
        headers: token::headers(config)?,
    })
}

#[cfg(test)]
mod tests;
