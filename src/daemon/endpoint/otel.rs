//! The OpenTelemetry variables difflored honours: `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (the
//! full logs URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL) when difflore names no
//! endpoint, and every other `OTEL_EXPORTER_OTLP_[<SIGNAL>_]<SETTING>` (headers, protocol,
//! compression, timeout, certificates) plus `OTEL_SERVICE_NAME` and
//! `OTEL_RESOURCE_ATTRIBUTES`. Reads and parses; never shows a header value, since these
//! often carry credentials.

use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderName, HeaderValue};

use super::{EndpointError, Origin};

pub const LOGS_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const LOGS_HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
pub const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub const TRACES_HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// The variables' values; an empty one counts as unset, as the specification says.
#[derive(Default, Clone)]
pub struct OtelEnv {
    pub logs_endpoint: Option<String>,
    pub endpoint: Option<String>,
    pub logs_headers: Option<String>,
    pub headers: Option<String>,
    /// Every other `OTEL_*` variable, by name.
    pub vars: std::collections::BTreeMap<String, String>,
}

impl OtelEnv {
    pub fn from_env() -> OtelEnv {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        OtelEnv {
            logs_endpoint: get(LOGS_ENDPOINT_VAR),
            endpoint: get(ENDPOINT_VAR),
            logs_headers: get(LOGS_HEADERS_VAR),
            headers: get(HEADERS_VAR),
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("OTEL_"))
                .map(|(k, v)| (k, v.trim().to_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_<setting>`, else `OTEL_EXPORTER_OTLP_<setting>`, with the
    /// name of the variable that said it (the signal's own wins, as the specification says).
    pub fn setting(&self, signal: Option<&str>, setting: &str) -> Option<(String, String)> {
        let specific = signal.map(|s| format!("OTEL_EXPORTER_OTLP_{}_{setting}", s.to_uppercase()));
        let general = format!("OTEL_EXPORTER_OTLP_{setting}");
        specific
            .into_iter()
            .chain([general])
            .find_map(|name| self.var(&name).map(|v| (name, v.to_owned())))
    }

    /// Any variable by name (the ones with fields of their own too).
    pub fn var(&self, name: &str) -> Option<&str> {
        let field = match name {
            LOGS_ENDPOINT_VAR => &self.logs_endpoint,
            ENDPOINT_VAR => &self.endpoint,
            LOGS_HEADERS_VAR => &self.logs_headers,
            HEADERS_VAR => &self.headers,
            _ => return self.vars.get(name).map(String::as_str),
        };
        field.as_deref()
    }

    /// The endpoint these name, the logs-specific variable first.
    pub fn endpoint(&self) -> Option<(String, Origin)> {
        let logs = self.logs_endpoint.clone().map(|t| (t, Origin::OtelLogs));
        logs.or_else(|| self.endpoint.clone().map(|t| (t, Origin::OtelBase)))
    }

    /// The headers for OTLP requests: the logs-specific variable replaces the general one
    /// (as the OpenTelemetry SDKs do), with the name of the variable they came from.
    pub fn headers(&self) -> Option<(&'static str, String)> {
        let logs = self.logs_headers.clone().map(|h| (LOGS_HEADERS_VAR, h));
        logs.or_else(|| self.headers.clone().map(|h| (HEADERS_VAR, h)))
    }
}

/// The variable an endpoint of this origin came from.
pub fn var_of(origin: Origin) -> Option<&'static str> {
    match origin {
        Origin::Difflore => None,
        Origin::OtelLogs => Some(LOGS_ENDPOINT_VAR),
        Origin::OtelBase => Some(ENDPOINT_VAR),
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES`' format: `key=value,…`, values percent-encoded. An entry
/// without `=` is skipped, as the SDKs do.
pub fn parse_attributes(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| {
            let decode = |t: &str| {
                percent_decode_str(t.trim())
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// `name=value,name2=value2` with percent-encoded names and values (the W3C Baggage
/// format without properties). Empty entries are skipped; a malformed one is an error
/// naming only its position, never its content.
pub fn parse_headers(
    var: &str,
    raw: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, EndpointError> {
    let mut out = Vec::new();
    for (index, entry) in raw.split(',').enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let bad = || EndpointError::Header {
            var: var.to_owned(),
            entry: index + 1,
        };
        let (name, value) = entry.split_once('=').ok_or_else(bad)?;
        let name: Vec<u8> = percent_decode_str(name.trim()).collect();
        let value: Vec<u8> = percent_decode_str(value.trim()).collect();
        let name = HeaderName::from_bytes(&name).map_err(|_| bad())?;
        let mut value = HeaderValue::from_bytes(&value).map_err(|_| bad())?;
        value.set_sensitive(true);
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_decoded_and_marked_sensitive() {
        let parsed = parse_headers(
            HEADERS_VAR,
            " api-key = s3cr%3Det%2C1 ,X-Tenant=team%20a,,Authorization=Basic%20YTpi",
        )
        .unwrap();
        let pairs: Vec<(String, &[u8])> = parsed
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("api-key".to_owned(), &b"s3cr=et,1"[..]),
                ("x-tenant".to_owned(), &b"team a"[..]),
                ("authorization".to_owned(), &b"Basic YTpi"[..]),
            ]
        );
        assert!(parsed.iter().all(|(_, v)| v.is_sensitive()));
        // `+` is a literal plus, not a space: values are percent-encoded, not form-encoded.
        let plus = parse_headers(HEADERS_VAR, "k=a+b").unwrap();
        assert_eq!(plus[0].1.as_bytes(), b"a+b");
    }

    #[test]
    fn malformed_headers_name_their_position_but_not_their_value() {
        for raw in [
            "ok=1,no-equals-s3cret",
            "ok=1,=s3cret",
            "ok=1,bad name=s3cret",
            "ok=1,k=s3cret%0A",
        ] {
            let err = parse_headers(LOGS_HEADERS_VAR, raw).err().unwrap();
            let text = err.to_string();
            assert_eq!(
                text,
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS entry 2 is not a valid name=value header (values are not shown)",
                "{raw}"
            );
        }
    }

    #[test]
    fn the_logs_specific_variables_win() {
        let env = OtelEnv {
            logs_endpoint: Some("http://a/logs".into()),
            endpoint: Some("http://b".into()),
            logs_headers: Some("x=1".into()),
            headers: Some("y=2".into()),
            ..OtelEnv::default()
        };
        assert_eq!(
            env.endpoint(),
            Some(("http://a/logs".to_owned(), Origin::OtelLogs))
        );
        assert_eq!(env.headers(), Some((LOGS_HEADERS_VAR, "x=1".to_owned())));
        let general = OtelEnv {
            headers: Some("y=2".into()),
            ..OtelEnv::default()
        };
        assert_eq!(general.endpoint(), None);
        assert_eq!(general.headers(), Some((HEADERS_VAR, "y=2".to_owned())));
    }
}
