//! The HTTP(S) transport: keep-alive client, TLS (private CA, client certificate),
//! timeouts, request headers (bearer token, OTLP headers), gzip, and turning a response into
//! delivered-or-`Failure`. difflore's JSON sink and both OTLP signals post through it, so
//! they share its classification. Never puts a header value or a credentialed URL into an error or the log.

use std::io::Write;
use std::path::PathBuf;
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

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("could not read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path} is not a PEM certificate (or key) difflored can use")]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("a client certificate needs its key, and a key its certificate: set both {0}")]
    HalfIdentity(&'static str),
}

/// TLS beyond the built-in roots: a private CA, and a client certificate for mTLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM: one or more CA certificates trusted besides the built-in roots.
    pub certificate: Option<PathBuf>,
    /// PEM: the client certificate (chain) and its private key.
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// What one client needs to know.
pub struct ClientOptions<'a> {
    pub connect: Duration,
    pub request: Duration,
    /// The requests carry configured headers that must not follow a redirect to another host.
    pub keep_origin: bool,
    pub tls: &'a Tls,
}

/// One client per configuration: its pool keeps the connection alive between batches.
pub fn client(options: ClientOptions<'_>) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("difflored/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(options.connect)
        .timeout(options.request)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(crate::daemon::plaintext::redirect_policy(
            options.keep_origin,
        ));
    let read = |what, path: &PathBuf| {
        std::fs::read(path).map_err(|source| ClientError::Read {
            what,
            path: path.clone(),
            source,
        })
    };
    fn pem(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(reqwest::Error) -> ClientError {
        let path = path.to_owned();
        move |source| ClientError::Pem { what, path, source }
    }
    let tls = options.tls;
    if let Some(path) = &tls.certificate {
        let what = "CA certificate";
        let certs =
            reqwest::Certificate::from_pem_bundle(&read(what, path)?).map_err(pem(what, path))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    match (&tls.client_certificate, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let mut both = read("client certificate", cert)?;
            both.push(b'\n');
            both.extend(read("client key", key)?);
            let identity =
                reqwest::Identity::from_pem(&both).map_err(pem("client certificate", cert))?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(ClientError::HalfIdentity(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY (or otlp_client_certificate and otlp_client_key)",
            ));
        }
    }
    builder.build().map_err(ClientError::Build)
}

/// What one POST needs besides its body: where, as what, compressed or not, how long.
pub struct Post<'a> {
    pub url: &'a reqwest::Url,
    pub content_type: &'static str,
    pub gzip: bool,
    /// Overrides the client's whole-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub timeout: Option<Duration>,
    /// This request's own headers (a signal's OTLP headers), over the transport's.
    pub headers: Option<&'a HeaderMap>,
}

/// The connection pool and the headers every request carries: shared by every encoding
/// and, for OTLP, by both signals.
pub struct Transport {
    pub client: reqwest::Client,
    /// Sent with every request (`Authorization`, OTLP headers), values marked sensitive.
    pub headers: HeaderMap,
}

impl Transport {
    /// The bearer token this transport sends, so an echo of it can be cut out of error bodies.
    fn bearer(&self) -> Option<&str> {
        self.headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    }

    /// POST `raw` (compressed here when asked); the 2xx answer's body, or why not.
    pub async fn post(&self, post: Post<'_>, raw: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let body = if post.gzip { gzip(raw)? } else { raw };
        // Inserted last: configured headers may not change what the body is.
        let mut headers = self.headers.clone();
        for (name, value) in post.headers.into_iter().flatten() {
            headers.insert(name, value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(post.content_type));
        if post.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let mut req = self.client.post(post.url.clone()).headers(headers);
        if let Some(timeout) = post.timeout {
            req = req.timeout(timeout);
        }
        let resp = req.body(body).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            // Reading the body also returns the connection to the pool.
            return Ok(resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default());
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
}

/// difflore's own JSON over HTTP(S).
pub struct HttpSink {
    pub transport: Transport,
    pub url: reqwest::Url,
    pub encoder: Box<dyn Encoder>,
    pub gzip: bool,
}

impl HttpSink {
    pub async fn send(&self, events: &[OutEvent]) -> Result<(), Failure> {
        let raw = self
            .encoder
            .encode(events)
            .map_err(|e| encode_failure(error_chain(&e)))?;
        let post = Post {
            url: &self.url,
            content_type: self.encoder.content_type(),
            gzip: self.gzip,
            timeout: None,
            headers: None,
        };
        let answer = self.transport.post(post, raw).await?;
        if let Some(note) = self.encoder.review(events.len(), &answer) {
            dlog!("{note}");
        }
        Ok(())
    }
}

/// A batch that cannot be put into a request at all.
pub fn encode_failure(detail: String) -> Failure {
    Failure {
        verdict: Verdict::Refused,
        status: None,
        retry_after: None,
        detail,
    }
}

fn gzip(raw: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    gz.write_all(&raw)
        .and_then(|()| gz.finish())
        .map_err(|e| encode_failure(format!("could not compress the batch: {e}")))
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
