//! The HTTP(S) transport: keep-alive client, timeouts, request headers (bearer token, OTLP
//! headers), gzip, and turning a response into delivered-or-`Failure`. The body format is an
//! `Encoder` (difflore JSON, OTLP logs), so every encoding shares this transport and its
//! classification. Never puts a header value or a credentialed URL into an error or the log.

use std::io::Write;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER,
};

use super::{Failure, OutEvent, Verdict, classify_status};
use crate::daemon::backoff::parse_retry_after;
use crate::dlog;
use crate::shared::error_chain;

/// Bytes of a refusal's body kept in `last_error`.
pub const BODY_EXCERPT: usize = 200;

/// Any encoder's failure (JSON, protobuf…), cause kept.
#[derive(Debug, thiserror::Error)]
#[error("could not encode the batch")]
pub struct EncodeError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A request body format.
pub trait Encoder: Send {
    fn content_type(&self) -> &'static str;
    fn encode(&self, events: &[OutEvent]) -> Result<Vec<u8>, EncodeError>;
    /// What a 2xx answer to `sent` events says that is worth logging (an OTLP partial
    /// success, say). The batch is delivered whatever this returns.
    fn review(&self, _sent: usize, _body: &[u8]) -> Option<String> {
        None
    }
}

pub struct HttpSink {
    pub client: reqwest::Client,
    pub url: reqwest::Url,
    /// Sent with every request (`Authorization`, OTLP headers), values marked sensitive.
    pub headers: HeaderMap,
    pub encoder: Box<dyn Encoder>,
    pub gzip: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

/// One client per configuration: its pool keeps the connection alive between batches.
/// `keep_origin`: the requests carry configured headers that must not follow a redirect
/// to another host.
pub fn client(
    connect: Duration,
    request: Duration,
    keep_origin: bool,
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .user_agent(concat!("difflored/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect)
        .timeout(request)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(crate::daemon::plaintext::redirect_policy(keep_origin))
        .build()
        .map_err(ClientError)
}

impl HttpSink {
    /// The bearer token this sink sends, so an echo of it can be cut out of error bodies.
    fn bearer(&self) -> Option<&str> {
        self.headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    }

    pub async fn send(&mut self, events: &[OutEvent]) -> Result<(), Failure> {
        let body = self.body(events)?;
        // Inserted last: configured headers may not change what the body is.
        let mut headers = self.headers.clone();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.encoder.content_type()),
        );
        if self.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let req = self.client.post(self.url.clone()).headers(headers);
        let resp = req.body(body).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            // Reading the body also returns the connection to the pool.
            let answer = resp.bytes().await.unwrap_or_default();
            if let Some(note) = self.encoder.review(events.len(), &answer) {
                dlog!("{note}");
            }
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let text = resp.bytes().await.unwrap_or_default();
        Err(Failure {
            verdict: classify_status(status),
            status: Some(status),
            retry_after,
            detail: format!(
                "collector answered {status}{}",
                excerpt(&text, self.bearer())
            ),
        })
    }

    fn body(&self, events: &[OutEvent]) -> Result<Vec<u8>, Failure> {
        let encode_failure = |detail: String| Failure {
            verdict: Verdict::Refused,
            status: None,
            retry_after: None,
            detail,
        };
        let raw = self
            .encoder
            .encode(events)
            .map_err(|e| encode_failure(error_chain(&e)))?;
        if !self.gzip {
            return Ok(raw);
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
        gz.write_all(&raw)
            .and_then(|()| gz.finish())
            .map_err(|e| encode_failure(format!("could not compress the batch: {e}")))
    }
}

fn transport(err: reqwest::Error) -> Failure {
    let what = if err.is_timeout() {
        "collector timed out"
    } else {
        "could not reach collector"
    };
    // without_url: the URL may carry credentials.
    Failure {
        verdict: Verdict::Retry,
        status: None,
        retry_after: None,
        detail: format!("{what}: {}", error_chain(&err.without_url())),
    }
}

/// `: <first bytes of the body on one line>`, or nothing for an empty body. A collector may
/// echo our request: the token is scrubbed before the cut, so none of it survives.
pub(crate) fn excerpt(body: &[u8], token: Option<&str>) -> String {
    let window = &body[..body.len().min(BODY_EXCERPT + token.map_or(0, str::len))];
    let text = String::from_utf8_lossy(window);
    let line: String = crate::daemon::secret::scrub_one(&text, token)
        .chars()
        .take(BODY_EXCERPT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_excerpts_are_short_single_lines() {
        assert_eq!(excerpt(b"", None), "");
        assert_eq!(excerpt(b"bad\nfield\r\n", None), ": bad field");
        assert_eq!(excerpt(&[b'x'; 1000], None).len(), 2 + BODY_EXCERPT);
    }

    #[test]
    fn an_echoed_token_is_scrubbed_even_where_the_excerpt_is_cut() {
        let token = "s3cret-token-value";
        // At the start, in the middle, and straddling the cut (where cutting first would
        // leave a prefix of it behind).
        for at in [0, 100, BODY_EXCERPT - 5, BODY_EXCERPT - 1] {
            let mut body = vec![b'.'; at];
            body.extend_from_slice(format!("{token} and more").as_bytes());
            let shown = excerpt(&body, Some(token));
            assert!(!shown.contains("s3"), "at {at}: {shown}");
        }
        assert!(excerpt(b"Bearer s3cret-token-value", Some(token)).contains("[REDACTED:"));
    }
}
