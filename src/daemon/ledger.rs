//! What the daemon still owes the outbox: outcomes of batches (acknowledged, retry later,
//! dead, returned) that could not be written because another process held the database
//! longer than the busy timeout. They are kept in order and written again until written,
//! and nothing new is claimed meanwhile, so no row stays `in_flight` with nobody on it.
//! The statements themselves live in `queue`.

use crate::dlog;
use crate::shared::error_chain;
use crate::shared::store::{Outbox, StoreError};

use super::queue;

/// One outcome to write.
#[derive(Debug, Clone)]
pub enum Record {
    /// The collector accepted these rows: kept as history, or deleted when none is kept.
    Ack { ids: Vec<i64>, keep_history: bool },
    /// Back to pending without spending an attempt.
    Release(Vec<i64>),
    /// A failed attempt: due again at `retry_at`, dead if failing since before `give_up_before`.
    RetryLater {
        ids: Vec<i64>,
        now: i64,
        retry_at: i64,
        give_up_before: i64,
        error: String,
    },
    /// Refused for good.
    Bury {
        ids: Vec<i64>,
        now: i64,
        why: String,
    },
}

impl Record {
    fn apply(&self, outbox: &Outbox) -> Result<(), StoreError> {
        match self {
            Record::Ack { ids, keep_history } => queue::ack(outbox, ids, *keep_history).map(drop),
            Record::Release(ids) => queue::release(outbox, ids),
            Record::RetryLater {
                ids,
                now,
                retry_at,
                give_up_before,
                error,
            } => {
                let dead =
                    queue::retry_later(outbox, ids, *now, *retry_at, *give_up_before, error)?;
                if dead > 0 {
                    dlog!("{dead} events failed for longer than dead_after and are now dead");
                }
                Ok(())
            }
            Record::Bury { ids, now, why } => queue::bury(outbox, ids, *now, why),
        }
    }
}

/// Outcomes not yet written, oldest first.
#[derive(Debug, Default)]
pub struct Ledger {
    owed: Vec<Record>,
}

impl Ledger {
    pub fn is_settled(&self) -> bool {
        self.owed.is_empty()
    }

    /// Write `record` now, after anything still owed (order matters: an ack owed for a row
    /// must not be overtaken by a later release of it). A failure keeps it owed.
    pub fn write(&mut self, outbox: &Outbox, record: Record) -> Result<(), StoreError> {
        self.owed.push(record);
        self.settle(outbox)
    }

    /// Keep `record` owed without trying to write it (the write before it just failed).
    pub fn owe(&mut self, record: Record) {
        self.owed.push(record);
    }

    /// Write what is owed, in order, stopping at the first failure (kept for next time).
    pub fn settle(&mut self, outbox: &Outbox) -> Result<(), StoreError> {
        while let Some(first) = self.owed.first() {
            first.apply(outbox)?;
            self.owed.remove(0);
        }
        Ok(())
    }

    /// At a stop: one last try, logged if it fails (the next start reclaims what is left).
    pub fn settle_for_stop(&mut self, outbox: &Outbox) {
        if let Err(e) = self.settle(outbox) {
            dlog!(
                "could not record {} outcomes before stopping: {}; the next start returns their events to the queue",
                self.owed.len(),
                error_chain(&e)
            );
        }
    }
}
