//! How an endpoint URL is shown wherever difflore prints or logs it (status, status --json,
//! the health record, the daemon's log, error messages): scheme, host and port, and a path
//! whose secret-looking segments are masked. Webhook URLs carry their credential in the
//! path (`…/services/T0/B0/<token>`), so no URL is ever shown as written. Shows; never parses
//! an endpoint for use.

/// What a masked path segment becomes.
pub const MASK: &str = "***";

/// The endpoint without user info, query or fragment, and with every path segment that
/// could be a credential masked. A file endpoint shows its local path as it is. An endpoint
/// that is not a URL is not shown at all, since any part of it might be a credential.
pub fn shown_endpoint(text: &str) -> String {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return "(unparsable endpoint)".to_owned();
    };
    if url.scheme() == "file" {
        return format!("file://{}", url.path());
    }
    let mut out = format!("{}://", url.scheme());
    match url.host() {
        Some(url::Host::Ipv6(ip)) => out.push_str(&format!("[{ip}]")),
        Some(host) => out.push_str(&host.to_string()),
        None => out.push_str("(no host)"),
    }
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let path = url.path();
    if path.is_empty() || path == "/" {
        out.push_str(path);
        return out;
    }
    for segment in path.trim_start_matches('/').split('/') {
        out.push('/');
        out.push_str(if looks_plain(segment) { segment } else { MASK });
    }
    out
}

/// A path segment that is plainly a word of an API's vocabulary (`v1`, `logs`, `ingest`,
/// `otlp-collector`) rather than an id or a key: short, or lowercase letters and
/// separators only. Anything else (mixed case, letters with digits, escapes) is masked.
fn looks_plain(segment: &str) -> bool {
    let simple = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let word = |c: char| c.is_ascii_lowercase() || matches!(c, '-' | '_' | '.');
    segment.is_empty()
        || (segment.len() <= 4 && segment.chars().all(simple))
        || (segment.len() <= 40 && segment.chars().all(word))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(shown_endpoint("not a url"), "(unparsable endpoint)");
    }

    #[test]
    fn secret_looking_path_segments_are_masked_wherever_they_sit() {
        assert_eq!(
            shown_endpoint(
                "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/x7KpQ2mN9vR4sT6wY8zA1bC3"
            ),
            "https://hooks.slack.com/services/***/***/***"
        );
        assert_eq!(
            shown_endpoint("https://h.example/T0/B0/tok3n-value/ingest"),
            "https://h.example/T0/B0/***/ingest"
        );
        assert_eq!(
            shown_endpoint("https://h.example/api/AbCdEfGhIjKlMnOp/events"),
            "https://h.example/api/***/events"
        );
        assert_eq!(
            shown_endpoint("otlp+https://otel.example:4318/v1/logs"),
            "otlp+https://otel.example:4318/v1/logs"
        );
        assert_eq!(shown_endpoint("http://[::1]:9/"), "http://[::1]:9/");
        assert_eq!(shown_endpoint("https://h.example"), "https://h.example/");
        assert_eq!(
            shown_endpoint("https://h.example/a%20b/x"),
            "https://h.example/***/x"
        );
    }
}
