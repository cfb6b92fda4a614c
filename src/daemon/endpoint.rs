//! Which sink the daemon uses: the endpoint (`--endpoint`, then `DIFFLORE_ENDPOINT`, then
//! config.toml, then the OpenTelemetry exporter variables), its scheme, the request headers
//! (bearer token from `DIFFLORE_TOKEN` or `token_file`, OTLP headers) and the credential-free
//! form shown in health and logs. Builds sinks; never sends anything.

mod otel;
mod token;

use std::io;
use std::path::PathBuf;

use reqwest::Url;

use super::plaintext::is_loopback;
use super::sink::Sink;
use super::sink::file::FileSink;
use super::sink::http::{self, ClientError, Encoder, HttpSink};
use super::sink::json::JsonEncoder;
use super::sink::otlp::{self, OtlpEncoder};
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
    Header { var: &'static str, entry: usize },
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
    /// `OTEL_EXPORTER_OTLP_(LOGS_)HEADERS` (variable, raw value): OTLP sinks only.
    otlp_headers: Option<(&'static str, String)>,
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
        otlp_headers: otel.headers(),
    })
}

impl Endpoint {
    /// An endpoint named by difflore's own settings, with no OTLP headers.
    pub fn own(text: &str) -> Endpoint {
        Endpoint {
            text: text.trim().to_owned(),
            origin: Origin::Difflore,
            otlp_headers: None,
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
        let Some((var, raw)) = &self.otlp_headers else {
            return Vec::new();
        };
        otel::parse_headers(var, raw)
            .map(|headers| {
                headers
                    .into_iter()
                    .filter_map(|(_, v)| v.to_str().ok().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
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
            http_sink(endpoint, url, config, Box::new(JsonEncoder), false)
        }
        (Origin::Difflore, "otlp+http" | "otlp+https") => {
            // `otlp+http` is not a special scheme to the URL parser (opaque host, no
            // default port): parse the http(s) URL behind the prefix instead.
            let base = Url::parse(&text[OTLP_PREFIX.len()..]).map_err(not_url)?;
            otlp_sink(endpoint, logs_url(base), config)
        }
        (Origin::Difflore, _) => Err(EndpointError::Scheme(shown_endpoint(text))),
        (Origin::OtelLogs | Origin::OtelBase, _) if web => {
            let url = endpoint.otel_logs_url(url);
            otlp_sink(endpoint, url, config)
        }
        (origin, _) => Err(EndpointError::OtelScheme {
            var: otel::var_of(origin).unwrap_or(ENDPOINT_VAR),
            shown: shown_endpoint(text),
        }),
    }
}

/// `<base>/v1/logs`, whether or not the base path ends in a slash (as OpenTelemetry
/// exporters do with `OTEL_EXPORTER_OTLP_ENDPOINT`).
fn logs_url(mut base: Url) -> Url {
    let path = format!("{}/{}", base.path().trim_end_matches('/'), otlp::LOGS_PATH);
    base.set_path(&path);
    base
}

fn otlp_sink(endpoint: &Endpoint, url: Url, config: &Config) -> Result<Sink, EndpointError> {
    let mut sink = http_sink(
        endpoint,
        url,
        config,
        Box::new(OtlpEncoder::for_this_host()),
        endpoint.otlp_headers.is_some(),
    )?;
    if let (Sink::Http(http), Some((var, raw))) = (&mut sink, &endpoint.otlp_headers) {
        // Replaces a bearer token from difflore's settings: the OTLP headers are the more
        // specific instruction.
        for (name, value) in otel::parse_headers(var, raw)? {
            http.headers.insert(name, value);
        }
    }
    Ok(sink)
}

fn http_sink(
    endpoint: &Endpoint,
    url: Url,
    config: &Config,
    encoder: Box<dyn Encoder>,
    keep_origin: bool,
) -> Result<Sink, EndpointError> {
    if url.scheme() == "http" && !config.allow_insecure_http && !is_loopback(&url) {
        return Err(EndpointError::Insecure(endpoint.shown()));
    }
    Ok(Sink::Http(HttpSink {
        client: http::client(config.connect_timeout, config.request_timeout, keep_origin)?,
        url,
        headers: token::headers(config)?,
        encoder,
        gzip: config.gzip,
    }))
}

#[cfg(test)]
mod tests;
