//! `config.toml` in the data home: the daemon's and difflorectl's settings. Never read by
//! the hook. A missing file means defaults; an unknown key or a bad value is an error that
//! names the file and the key.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

/// An extra redaction rule from the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRule {
    pub name: String,
    pub regex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `http(s)://…`, `otlp+http(s)://…` or `file:///abs/path.ndjson`.
    pub endpoint: Option<String>,
    /// A file holding the bearer token (must not be readable by group or others).
    pub token_file: Option<PathBuf>,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    /// Events failing for this long go to `dead`.
    #[serde(deserialize_with = "human_duration")]
    pub dead_after: Duration,
    /// Plain http to a host other than loopback must be asked for.
    pub allow_insecure_http: bool,
    /// Redact secrets before upload. Turning it off must be explicit.
    pub redact: bool,
    pub redact_patterns: Vec<ExtraRule>,
    /// Matches of these regexes are never redacted.
    pub redact_allow: Vec<String>,
    /// Outbox size limit in bytes.
    pub max_outbox_bytes: u64,
    /// How long delivered events stay on the machine as local history (within
    /// `max_outbox_bytes`). Zero deletes each event once the collector has it.
    #[serde(deserialize_with = "human_duration")]
    pub keep_history: Duration,
    /// First retry delay after a failed delivery; doubles per failure up to `retry_cap`.
    #[serde(deserialize_with = "human_duration")]
    pub retry_base: Duration,
    #[serde(deserialize_with = "human_duration")]
    pub retry_cap: Duration,
    /// How often a queue paused by a refused credential (401/403) probes again.
    #[serde(deserialize_with = "human_duration")]
    pub auth_retry: Duration,
    #[serde(deserialize_with = "human_duration")]
    pub connect_timeout: Duration,
    /// Whole-request timeout for one batch.
    #[serde(deserialize_with = "human_duration")]
    pub request_timeout: Duration,
    /// gzip request bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: None,
            token_file: None,
            batch_max_events: 500,
            batch_max_bytes: 1 << 20,
            dead_after: Duration::from_secs(7 * 24 * 3600),
            allow_insecure_http: false,
            redact: true,
            redact_patterns: Vec::new(),
            redact_allow: Vec::new(),
            max_outbox_bytes: 1 << 30,
            keep_history: Duration::from_secs(30 * 24 * 3600),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(300),
            auth_retry: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            gzip: true,
        }
    }
}

impl Config {
    /// Load `config.toml` from the data home; defaults when the file does not exist.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let path = paths.config_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

/// An endpoint without user info, query or fragment: how health, the daemon's log and
/// `status` show it (status output gets pasted into tickets). An endpoint that is not a URL
/// is not shown at all, since any part of it might be a credential.
pub fn shown_endpoint(text: &str) -> String {
    match url::Url::parse(text) {
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

fn human_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration like \"7d\" or \"36h\": {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_bad_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        assert_eq!(Config::load(&paths).unwrap(), Config::default());
        std::fs::write(paths.config_file(), "endpont = \"http://x\"\n").unwrap();
        let err = Config::load(&paths).unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("endpont"), "{chain}");
        std::fs::write(
            paths.config_file(),
            "dead_after = \"2d\"\nendpoint = \"file:///tmp/x\"\n",
        )
        .unwrap();
        let c = Config::load(&paths).unwrap();
        assert_eq!(c.dead_after, Duration::from_secs(2 * 86400));
    }

    #[test]
    fn credentials_never_reach_the_status_line() {
        assert_eq!(
            shown_endpoint("https://u:s3cret@c.example:8443/v1/e?token=x#f"),
            "https://c.example:8443/v1/e"
        );
        assert_eq!(
            shown_endpoint("file:///tmp/out.ndjson"),
            "file:///tmp/out.ndjson"
        );
    }
}
