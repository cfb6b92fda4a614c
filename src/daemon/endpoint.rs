//! Which sink the daemon uses: the endpoint (`--endpoint`, then `DIFFLORE_ENDPOINT`, then
//! config.toml), its scheme, the bearer token (`DIFFLORE_TOKEN`, then `token_file`) and the
//! credential-free form shown in health and logs. Builds sinks; never sends anything.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use reqwest::Url;

use super::plaintext::is_loopback;
use super::sink::Sink;
use super::sink::file::FileSink;
use super::sink::http::{self, ClientError, HttpSink};
use super::sink::json::JsonEncoder;
use crate::shared::config::Config;

pub const ENDPOINT_VAR: &str = "DIFFLORE_ENDPOINT";
pub const TOKEN_VAR: &str = "DIFFLORE_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint {shown} is not a URL")]
    NotUrl {
        shown: String,
        #[source]
        source: url::ParseError,
    },
    #[error("endpoint {0} has a scheme difflored does not support (http, https, file)")]
    Scheme(String),
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
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The endpoint text in priority order; `None` when nothing names one.
pub fn resolve(cli: Option<&str>, env: Option<&str>, config: &Config) -> Option<String> {
    [cli, env, config.endpoint.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The endpoint without user info, query or fragment: safe for health and logs.
pub fn shown(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "(unparsable endpoint)".to_owned(),
    }
}

/// Build the sink for an endpoint under this configuration.
pub fn build(text: &str, config: &Config) -> Result<Sink, EndpointError> {
    let url = Url::parse(text).map_err(|source| EndpointError::NotUrl {
        shown: shown(text),
        source,
    })?;
    match url.scheme() {
        "file" => {
            let path = url
                .to_file_path()
                .ok()
                .filter(|p| p.is_absolute())
                .ok_or_else(|| EndpointError::FilePath(shown(text)))?;
            Ok(Sink::File(FileSink { path }))
        }
        "http" | "https" => {
            if url.scheme() == "http" && !config.allow_insecure_http && !is_loopback(&url) {
                return Err(EndpointError::Insecure(shown(text)));
            }
            Ok(Sink::Http(HttpSink {
                client: http::client(config.connect_timeout, config.request_timeout)?,
                url,
                token: token(config)?,
                encoder: Box::new(JsonEncoder),
                gzip: config.gzip,
            }))
        }
        _ => Err(EndpointError::Scheme(shown(text))),
    }
}

/// `DIFFLORE_TOKEN`, else the first line of `token_file` (which must be private).
pub fn token(config: &Config) -> Result<Option<String>, EndpointError> {
    if let Some(t) = std::env::var(TOKEN_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(t.trim().to_owned()));
    }
    let Some(path) = &config.token_file else {
        return Ok(None);
    };
    let read_err = |source| EndpointError::TokenRead {
        path: path.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(EndpointError::TokenMode { path: path.clone() });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    Ok(text
        .lines()
        .next()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_beats_env_beats_config() {
        let config = Config {
            endpoint: Some("file:///c".into()),
            ..Config::default()
        };
        assert_eq!(
            resolve(Some("file:///a"), Some("file:///b"), &config).as_deref(),
            Some("file:///a")
        );
        assert_eq!(
            resolve(None, Some("file:///b"), &config).as_deref(),
            Some("file:///b")
        );
        assert_eq!(
            resolve(None, Some(" "), &config).as_deref(),
            Some("file:///c")
        );
        assert_eq!(resolve(None, None, &Config::default()), None);
    }

    #[test]
    fn shown_endpoints_carry_no_credentials() {
        assert_eq!(
            shown("https://user:secret@collector.example/ingest?token=abc#x"),
            "https://collector.example/ingest"
        );
    }

    #[test]
    fn plain_http_is_only_for_loopback_unless_allowed() {
        let c = Config::default();
        assert!(build("http://127.0.0.1:9/x", &c).is_ok());
        assert!(build("http://localhost:9/x", &c).is_ok());
        assert!(matches!(
            build("http://collector.example/x", &c),
            Err(EndpointError::Insecure(_))
        ));
        let allowed = Config {
            allow_insecure_http: true,
            ..Config::default()
        };
        assert!(build("http://collector.example/x", &allowed).is_ok());
        assert!(matches!(
            build("ftp://x/y", &c),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            build("file://remote-host/out.ndjson", &c),
            Err(EndpointError::FilePath(_))
        ));
    }
}
