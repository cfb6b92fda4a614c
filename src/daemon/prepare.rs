//! The one door every payload goes through before any encoder sees it: turns a claimed row
//! into an `OutEvent`. The redactor plugs in here, in `prepare_payload`, and nowhere else.
//! Must not reorder, drop or re-identify events.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::value::RawValue;

use super::queue::Claimed;
use super::redact::{RedactError, Redactor};
use super::sink::OutEvent;
use crate::shared::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Redact(#[from] RedactError),
}

/// Per-configuration state for preparing payloads: the redactor's rules, compiled once.
pub struct Preparer {
    install_id: String,
    redactor: Redactor,
}

impl Preparer {
    pub fn new(install_id: String, config: &Config) -> Result<Preparer, PrepareError> {
        Ok(Preparer {
            install_id,
            redactor: Redactor::new(config)?,
        })
    }

    pub fn install_id(&self) -> &str {
        &self.install_id
    }

    /// A claimed row as the collector will see it, or why it cannot be sent at all.
    pub fn prepare(
        &self,
        row: Claimed,
        redactions: &mut BTreeMap<String, u64>,
    ) -> Result<OutEvent, String> {
        let raw =
            String::from_utf8(row.payload).map_err(|_| "payload is not valid UTF-8".to_owned())?;
        let payload = self
            .prepare_payload(raw, redactions)
            .map_err(|e| format!("payload is not valid JSON: {e}"))?;
        let at = UNIX_EPOCH + Duration::from_millis(row.received_ms.max(0) as u64);
        Ok(OutEvent {
            row: row.id,
            id: format!("{}-{}", self.install_id, row.id),
            received_ms: row.received_ms,
            client: row.client,
            event: row.event,
            session_id: row.session_id,
            cwd: row.cwd,
            tool: row.tool,
            received_at: humantime::format_rfc3339_millis(at).to_string(),
            payload,
        })
    }

    /// THE redaction call site: every string of the payload, keys and values, passes the
    /// redactor. With `redact = false` the captured bytes go out as they are.
    fn prepare_payload(
        &self,
        raw: String,
        redactions: &mut BTreeMap<String, u64>,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        if !self.redactor.is_enabled() {
            return RawValue::from_string(raw);
        }
        let mut value: serde_json::Value = serde_json::from_str(&raw)?;
        self.redactor.redact_value(&mut value, redactions);
        serde_json::value::to_raw_value(&value)
    }
}
