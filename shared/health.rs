//! The daemon's health record and counters, kept in the outbox's `meta` table so
//! `difflorectl status` reads them with the queue counts in one place. The daemon writes
//! them; nobody else does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::store::{Outbox, StoreError};

const KEY: &str = "health";

/// The sink's state as status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Circuit {
    /// Delivering normally.
    #[default]
    Closed,
    /// The collector is failing: one probe batch at a time, after `next_retry_ms`.
    Open,
    /// The collector refused our credentials (401/403): nothing is spent until fixed.
    PausedAuth,
    /// No endpoint is configured: events wait.
    NoEndpoint,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    pub pid: i32,
    pub version: String,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    /// The endpoint with any credentials removed.
    pub endpoint: Option<String>,
    pub circuit: Circuit,
    pub last_attempt_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub next_retry_ms: Option<i64>,
    /// Secrets replaced before upload, per rule.
    pub redactions: BTreeMap<String, u64>,
    /// What OTLP collectors dropped from accepted requests (partial success), since start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_rejected: Option<Box<CollectorRejected>>,
}

/// An OTLP collector's partial successes: records it accepted the request for but dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectorRejected {
    pub log_records: u64,
    pub spans: u64,
    /// The last one, worded (the collector's own message included).
    pub last: Option<String>,
}

impl Health {
    pub fn read(outbox: &Outbox) -> Result<Option<Health>, StoreError> {
        Ok(outbox
            .meta(KEY)?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    pub fn write(&self, outbox: &Outbox) -> Result<(), StoreError> {
        let text = serde_json::to_string(self).unwrap_or_default();
        outbox.set_meta(KEY, &text)
    }
}

/// Events acknowledged by the collector since the database was created.
pub fn delivered_total(outbox: &Outbox) -> Result<i64, StoreError> {
    Ok(outbox
        .meta("delivered_total")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Rows removed to keep the outbox under `max_outbox_bytes` since the database was created,
/// by the state they were in. Pending ones were never delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    pub pending: i64,
    pub dead: i64,
    pub rejected: i64,
}

impl Dropped {
    const PENDING: &str = "dropped_pending";
    const DEAD: &str = "dropped_dead";
    const REJECTED: &str = "dropped_rejected";

    /// Each count with the `meta` key that keeps it (in-flight rows are never dropped).
    pub fn keyed(&self) -> [(&'static str, i64); 3] {
        [
            (Dropped::DEAD, self.dead),
            (Dropped::REJECTED, self.rejected),
            (Dropped::PENDING, self.pending),
        ]
    }

    pub fn read(outbox: &Outbox) -> Result<Dropped, StoreError> {
        let get = |key| -> Result<i64, StoreError> {
            Ok(outbox.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        Ok(Dropped {
            pending: get(Dropped::PENDING)?,
            dead: get(Dropped::DEAD)?,
            rejected: get(Dropped::REJECTED)?,
        })
    }

    pub fn total(&self) -> i64 {
        self.pending + self.dead + self.rejected
    }
}
