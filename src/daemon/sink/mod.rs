//! Where batches go: the sinks (HTTP transport with a pluggable body encoder, append-only
//! file) encoding the one `OutEvent` record, and the one failure classification every HTTP
//! encoding shares. Knows nothing about the outbox, the raw row or the retry schedule.

pub mod file;
pub mod http;
pub mod json;
pub mod otlp;

use std::time::Duration;

pub use crate::daemon::prepare::OutEvent;

/// What a failed send means for the batch and the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transport error, timeout, 408, 429, 5xx but 501, or an endpoint that is not there
    /// (404/405): the whole sink backs off and the batch is retried.
    Retry,
    /// 401/403: the credential is refused; pause the queue without spending attempts.
    Auth,
    /// 413: split the batch.
    TooLarge,
    /// Any other 4xx (and 501): some events are refused; bisect to find them.
    Refused,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub verdict: Verdict,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    /// One line, without credentials: the status and a body excerpt, or the transport error.
    pub detail: String,
}

/// Classify a non-2xx status the way the OTLP specification and Vector do.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        401 | 403 => Verdict::Auth,
        413 => Verdict::TooLarge,
        // A missing endpoint says nothing about the events: treat it as an outage rather
        // than bisecting every batch into `dead`.
        404 | 405 | 408 | 429 => Verdict::Retry,
        501 => Verdict::Refused,
        500..=599 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// A configured destination.
pub enum Sink {
    Http(http::HttpSink),
    Otlp(Box<otlp::OtlpSink>),
    File(file::FileSink),
}

impl Sink {
    pub async fn send(&self, events: &[OutEvent]) -> Result<(), Failure> {
        match self {
            Sink::Http(s) => s.send(events).await,
            Sink::Otlp(s) => s.send(events).await,
            Sink::File(s) => s.send(events),
        }
    }

    /// Whether batches should carry their spans: only an OTLP sink with traces sends them.
    pub fn sends_spans(&self) -> bool {
        matches!(self, Sink::Otlp(s) if s.traces.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_otlp_and_vector() {
        for s in [408, 429, 500, 502, 503, 504, 404] {
            assert_eq!(classify_status(s), Verdict::Retry, "{s}");
        }
        assert_eq!(classify_status(401), Verdict::Auth);
        assert_eq!(classify_status(403), Verdict::Auth);
        assert_eq!(classify_status(413), Verdict::TooLarge);
        for s in [400, 409, 422, 501] {
            assert_eq!(classify_status(s), Verdict::Refused, "{s}");
        }
    }
}
