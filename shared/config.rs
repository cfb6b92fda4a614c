//! `config.toml` in the data home: the daemon's and difflorectl's settings. Never read by
//! the hook. A missing file means defaults; an unknown key or a bad value is an error that
//! names the file and the key.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::paths::Paths;
pub use super::shown_url::shown_endpoint;

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
    #[error("invalid config {path}: {key} = {value} is not allowed: {allowed}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        value: String,
        allowed: &'static str,
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
    /// Most batches out to the collector at once; the daemon adapts below it.
    pub max_in_flight: usize,
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
    /// OTLP: which signals an OTLP endpoint receives (`logs`, `traces`).
    pub otlp_signals: Vec<String>,
    /// Traces: a session silent this long has its open spans closed, marked incomplete.
    #[serde(deserialize_with = "human_duration")]
    pub span_close_after: Duration,
    /// OTLP settings, the same as the `OTEL_EXPORTER_OTLP_*` variables they win over; a
    /// signal's own key wins over the general one.
    pub otlp_protocol: Option<String>,
    pub otlp_logs_protocol: Option<String>,
    pub otlp_traces_protocol: Option<String>,
    pub otlp_compression: Option<String>,
    pub otlp_logs_compression: Option<String>,
    pub otlp_traces_compression: Option<String>,
    #[serde(deserialize_with = "opt_human_duration")]
    pub otlp_timeout: Option<Duration>,
    /// Full signal URLs, used as given.
    pub otlp_logs_endpoint: Option<String>,
    pub otlp_traces_endpoint: Option<String>,
    /// PEM files; a relative path is under the data home.
    pub otlp_certificate: Option<PathBuf>,
    pub otlp_client_certificate: Option<PathBuf>,
    pub otlp_client_key: Option<PathBuf>,
    pub otlp_service_name: Option<String>,
    /// `key=value,key2=value2`, as `OTEL_RESOURCE_ATTRIBUTES`.
    pub otlp_resource_attributes: Option<String>,
    /// Traces: send tool call arguments and results (`gen_ai.tool.call.arguments`,
    /// `.result`), redacted, each cut to `otlp_content_max_bytes`. Opt-in content in the
    /// GenAI conventions.
    pub otlp_content: bool,
    pub otlp_content_max_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: None,
            token_file: None,
            batch_max_events: 500,
            batch_max_bytes: 1 << 20,
            max_in_flight: 4,
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
            otlp_signals: vec!["logs".into(), "traces".into()],
            span_close_after: crate::shared::assemble::DEFAULT_CLOSE_AFTER,
            otlp_protocol: None,
            otlp_logs_protocol: None,
            otlp_traces_protocol: None,
            otlp_compression: None,
            otlp_logs_compression: None,
            otlp_traces_compression: None,
            otlp_timeout: None,
            otlp_logs_endpoint: None,
            otlp_traces_endpoint: None,
            otlp_certificate: None,
            otlp_client_certificate: None,
            otlp_client_key: None,
            otlp_service_name: None,
            otlp_resource_attributes: None,
            otlp_content: false,
            otlp_content_max_bytes: DEFAULT_CONTENT_MAX_BYTES,
        }
    }
}

impl Config {
    /// Load `config.toml` from the data home; defaults when the file does not exist.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let path = paths.config_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config: Config =
                    toml::from_str(&text).map_err(|source| ConfigError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                config.checked(paths, path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

/// What an OTLP protocol setting may say: difflored speaks OTLP/HTTP only.
pub const PROTOCOLS: &str =
    "\"http/protobuf\" (the default) or \"http/json\"; difflored does not speak grpc";

/// The smallest outbox limit: a fresh outbox alone takes a few pages.
const MIN_OUTBOX_BYTES: u64 = 4096;
/// More batches out at once than this is a flood, not a drain: each holds a connection.
const MAX_IN_FLIGHT: usize = 64;

/// `otlp_content_max_bytes`: each tool call's arguments and result, cut to 8 KiB.
pub const DEFAULT_CONTENT_MAX_BYTES: usize = 8 * 1024;

/// Below this a cut tool result would be mostly the mark of the cut.
const MIN_CONTENT_BYTES: usize = 64;
/// A retry sooner than this is a hot loop against a collector that is down.
const MIN_RETRY: Duration = Duration::from_millis(10);

impl Config {
    /// Values the types accept but the daemon cannot work with, refused with the key, the
    /// value and what is allowed; a relative `token_file` is made absolute under the data
    /// home, so it means the same wherever the daemon was started.
    fn checked(mut self, paths: &Paths, path: PathBuf) -> Result<Config, ConfigError> {
        let invalid = |key, value: String, allowed| ConfigError::Invalid {
            path: path.clone(),
            key,
            value,
            allowed,
        };
        let shown = |d: Duration| format!("{:?}", humantime::format_duration(d).to_string());
        let durations = [
            (
                "dead_after",
                self.dead_after,
                Duration::from_millis(1),
                "a duration of at least 1ms",
            ),
            (
                "retry_base",
                self.retry_base,
                MIN_RETRY,
                "a duration of at least 10ms",
            ),
            (
                "retry_cap",
                self.retry_cap,
                MIN_RETRY,
                "a duration of at least 10ms",
            ),
            (
                "auth_retry",
                self.auth_retry,
                MIN_RETRY,
                "a duration of at least 10ms",
            ),
            (
                "connect_timeout",
                self.connect_timeout,
                Duration::from_millis(1),
                "a duration of at least 1ms",
            ),
            (
                "request_timeout",
                self.request_timeout,
                Duration::from_millis(1),
                "a duration of at least 1ms",
            ),
        ];
        for (key, value, least, allowed) in durations {
            if value < least {
                return Err(invalid(key, shown(value), allowed));
            }
        }
        if self.retry_cap < self.retry_base {
            return Err(invalid(
                "retry_cap",
                shown(self.retry_cap),
                "a duration no shorter than retry_base",
            ));
        }
        if self.batch_max_events == 0 {
            return Err(invalid(
                "batch_max_events",
                "0".into(),
                "a count of at least 1",
            ));
        }
        if self.batch_max_bytes == 0 {
            return Err(invalid(
                "batch_max_bytes",
                "0".into(),
                "a size of at least 1 byte",
            ));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(invalid(
                "max_in_flight",
                self.max_in_flight.to_string(),
                "a count from 1 to 64",
            ));
        }
        if self.max_outbox_bytes < MIN_OUTBOX_BYTES {
            return Err(invalid(
                "max_outbox_bytes",
                self.max_outbox_bytes.to_string(),
                "a size of at least 4096 bytes",
            ));
        }
        for signal in &self.otlp_signals {
            if !matches!(signal.as_str(), "logs" | "traces") {
                return Err(invalid(
                    "otlp_signals",
                    format!("{signal:?}"),
                    "\"logs\" and \"traces\"",
                ));
            }
        }
        let protocols = [
            ("otlp_protocol", &self.otlp_protocol),
            ("otlp_logs_protocol", &self.otlp_logs_protocol),
            ("otlp_traces_protocol", &self.otlp_traces_protocol),
        ];
        for (key, value) in protocols {
            if let Some(v) = value
                && !matches!(v.as_str(), "http/protobuf" | "http/json")
            {
                return Err(invalid(key, format!("{v:?}"), PROTOCOLS));
            }
        }
        let compressions = [
            ("otlp_compression", &self.otlp_compression),
            ("otlp_logs_compression", &self.otlp_logs_compression),
            ("otlp_traces_compression", &self.otlp_traces_compression),
        ];
        for (key, value) in compressions {
            if let Some(v) = value
                && !matches!(v.as_str(), "gzip" | "none")
            {
                return Err(invalid(key, format!("{v:?}"), "\"gzip\" or \"none\""));
            }
        }
        if self.span_close_after < Duration::from_secs(1) {
            return Err(invalid(
                "span_close_after",
                format!(
                    "{:?}",
                    humantime::format_duration(self.span_close_after).to_string()
                ),
                "a duration of at least 1s",
            ));
        }
        if self.otlp_content_max_bytes < MIN_CONTENT_BYTES {
            return Err(invalid(
                "otlp_content_max_bytes",
                self.otlp_content_max_bytes.to_string(),
                "at least 64",
            ));
        }
        if self.otlp_timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid(
                "otlp_timeout",
                "\"0s\"".into(),
                "a duration of at least 1ms",
            ));
        }
        for file in [
            &mut self.otlp_certificate,
            &mut self.otlp_client_certificate,
            &mut self.otlp_client_key,
        ]
        .into_iter()
        .flatten()
        {
            if file.is_relative() {
                *file = paths.home.join(&*file);
            }
        }
        if let Some(file) = &self.token_file {
            if file.as_os_str().is_empty() {
                return Err(invalid("token_file", "\"\"".into(), "a path to a file"));
            }
            if file.is_relative() {
                self.token_file = Some(paths.home.join(file));
            }
        }
        Ok(self)
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

fn opt_human_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    human_duration(d).map(Some)
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

    fn refusal(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        std::fs::write(paths.config_file(), text).unwrap();
        let err = Config::load(&paths).unwrap_err().to_string();
        let shown = paths.config_file().display().to_string();
        err.replace(&shown, "config.toml")
    }

    #[test]
    fn values_the_daemon_cannot_work_with_are_refused_by_key_value_and_what_is_allowed() {
        assert_eq!(
            refusal("dead_after = \"0s\""),
            "invalid config config.toml: dead_after = \"0s\" is not allowed: a duration of at least 1ms"
        );
        assert_eq!(
            refusal("retry_base = \"0s\""),
            "invalid config config.toml: retry_base = \"0s\" is not allowed: a duration of at least 10ms"
        );
        assert_eq!(
            refusal("max_outbox_bytes = 0"),
            "invalid config config.toml: max_outbox_bytes = 0 is not allowed: a size of at least 4096 bytes"
        );
        assert_eq!(
            refusal("batch_max_events = 0"),
            "invalid config config.toml: batch_max_events = 0 is not allowed: a count of at least 1"
        );
        assert!(refusal("batch_max_bytes = 0").contains("batch_max_bytes = 0"));
        assert_eq!(
            refusal("max_in_flight = 0"),
            "invalid config config.toml: max_in_flight = 0 is not allowed: a count from 1 to 64"
        );
        assert!(refusal("max_in_flight = 65").contains("max_in_flight = 65"));
        assert!(refusal("request_timeout = \"0s\"").contains("request_timeout"));
        assert!(refusal("connect_timeout = \"0s\"").contains("connect_timeout"));
        assert!(refusal("auth_retry = \"0s\"").contains("auth_retry"));
        assert_eq!(
            refusal("otlp_protocol = \"grpc\""),
            "invalid config config.toml: otlp_protocol = \"grpc\" is not allowed: \"http/protobuf\" (the default) or \"http/json\"; difflored does not speak grpc"
        );
        assert!(refusal("otlp_signals = [\"metrics\"]").contains("otlp_signals = \"metrics\""));
        assert!(refusal("otlp_traces_compression = \"zstd\"").contains("\"gzip\" or \"none\""));
        assert_eq!(
            refusal("span_close_after = \"500ms\""),
            "invalid config config.toml: span_close_after = \"500ms\" is not allowed: a duration of at least 1s"
        );
        assert!(
            refusal("retry_base = \"2s\"\nretry_cap = \"1s\"").contains(
                "retry_cap = \"1s\" is not allowed: a duration no shorter than retry_base"
            )
        );
    }

    #[test]
    fn a_relative_token_file_lives_in_the_data_home() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        std::fs::write(paths.config_file(), "token_file = \"token\"").unwrap();
        let c = Config::load(&paths).unwrap();
        assert_eq!(c.token_file, Some(dir.path().join("token")));
        std::fs::write(paths.config_file(), "token_file = \"/etc/t\"").unwrap();
        assert_eq!(
            Config::load(&paths).unwrap().token_file,
            Some(PathBuf::from("/etc/t"))
        );
    }
}
