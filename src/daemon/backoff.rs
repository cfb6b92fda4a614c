//! Exponential backoff with jitter for the whole sink, honouring a collector's
//! `Retry-After`. Pure arithmetic: no clock reads, no sleeping.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

/// A collector may ask for a long pause, but not for longer than this.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// Keep the failure count across a reload, with new limits.
    pub fn reconfigure(&mut self, base: Duration, cap: Duration) {
        self.base = base;
        self.cap = cap.max(base);
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Delay before the next probe after one more failure. `Retry-After` wins when given.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if let Some(asked) = retry_after {
            return asked.min(RETRY_AFTER_MAX);
        }
        let exp = self.failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1 << exp).min(self.cap);
        // "Equal jitter": never less than half the delay, so a flapping collector still gets
        // breathing room, and never in lock-step with other machines.
        let half = full / 2;
        half + half.mul_f64(random_unit())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A number in [0, 1) from std's per-process random hash keys.
fn random_unit() -> f64 {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let bits = RandomState::new().hash_one(seed);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_jitter_bounds_and_stop_at_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let mut prev_full = Duration::ZERO;
        for n in 0..12u32 {
            let d = b.next_delay(None);
            let full = Duration::from_secs(1 << n).min(Duration::from_secs(300));
            assert!(
                d >= full / 2 && d <= full,
                "failure {n}: {d:?} not in [{full:?}/2, {full:?}]"
            );
            assert!(full >= prev_full);
            prev_full = full;
        }
        b.reset();
        assert!(b.next_delay(None) <= Duration::from_secs(1));
    }

    #[test]
    fn retry_after_wins_and_is_bounded() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(86_400))),
            RETRY_AFTER_MAX
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
