//! Publishing the daemon's health record (`meta.health`) for `difflorectl status`: on every
//! state change, and as a heartbeat. Holds the in-memory copy; never reads the token.

use std::time::{Duration, Instant};

use crate::shared::health::{Circuit, Health};
use crate::shared::now_ms;
use crate::shared::store::{Outbox, StoreError};

/// How often the heartbeat is refreshed while nothing else changes. Each one is a commit
/// and a wake-up of an otherwise idle daemon (its own write is reported back by the
/// file-change watch), so it is rare; liveness is the pid lock, not this.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Routine progress (attempt and success times) is written at most this often, so a fast
/// drain does not add a commit per batch.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub struct Publisher {
    pub health: Health,
    /// A state change status must show at once.
    dirty: bool,
    /// Only times moved on.
    progressed: bool,
    written: Option<Instant>,
}

impl Publisher {
    pub fn new(pid: i32, started_ms: i64) -> Publisher {
        Publisher {
            health: Health {
                pid,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started_ms,
                heartbeat_ms: started_ms,
                ..Health::default()
            },
            dirty: true,
            progressed: false,
            written: None,
        }
    }

    pub fn set_endpoint(&mut self, shown: Option<String>) {
        if self.health.endpoint != shown {
            self.health.endpoint = shown;
            self.dirty = true;
        }
    }

    pub fn set_circuit(&mut self, circuit: Circuit, next_retry_ms: Option<i64>) {
        if self.health.circuit != circuit || self.health.next_retry_ms != next_retry_ms {
            self.health.circuit = circuit;
            self.health.next_retry_ms = next_retry_ms;
            self.dirty = true;
        }
    }

    pub fn attempt(&mut self) {
        self.health.last_attempt_ms = Some(now_ms());
        self.progressed = true;
    }

    pub fn success(&mut self) {
        self.health.last_success_ms = Some(now_ms());
        self.progressed = true;
    }

    /// `None` clears the error (the collector or configuration is fine again).
    pub fn error(&mut self, error: Option<String>) {
        if self.health.last_error != error {
            self.health.last_error = error;
            self.dirty = true;
        }
    }

    /// The OTLP sink's partial-success counts, when there are any.
    pub fn collector_rejected(
        &mut self,
        now: Option<Box<crate::shared::health::CollectorRejected>>,
    ) {
        if self.health.collector_rejected != now {
            self.health.collector_rejected = now;
            self.dirty = true;
        }
    }

    pub fn redactions_mut(&mut self) -> &mut std::collections::BTreeMap<String, u64> {
        self.progressed = true;
        &mut self.health.redactions
    }

    pub fn mark_changed(&mut self) {
        self.dirty = true;
    }

    /// Write if something changed or the heartbeat is due. Returns whether it wrote (a
    /// commit that lengthens the WAL like any other).
    pub fn publish(&mut self, outbox: &Outbox) -> Result<bool, StoreError> {
        let since = self.written.map(|at| at.elapsed());
        let due = since.is_none_or(|s| s >= HEARTBEAT);
        let progress_due = self.progressed && since.is_none_or(|s| s >= PROGRESS_EVERY);
        if !(self.dirty || due || progress_due) {
            return Ok(false);
        }
        self.health.heartbeat_ms = now_ms();
        self.health.write(outbox)?;
        self.dirty = false;
        self.progressed = false;
        self.written = Some(Instant::now());
        Ok(true)
    }
}
