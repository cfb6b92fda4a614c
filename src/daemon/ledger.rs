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

#[cfg(test)]
mod tests {
    //! Against a real outbox whose write lock another connection holds past the busy
    //! timeout, as a long `difflorectl` transaction would.

    use std::time::Duration;

    use super::*;
    use crate::shared::event::Fields;
    use crate::shared::paths::Paths;
    use crate::shared::store::OpenOptions;

    const NOW: i64 = 1_700_000_000_000;

    fn states(db: &Outbox) -> Vec<(i64, String)> {
        let mut stmt = db
            .conn()
            .prepare("SELECT id, state FROM events ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn outcomes_that_cannot_be_written_stay_owed_in_order_until_they_can() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let opts = OpenOptions {
            busy_timeout: Duration::from_millis(20),
            ..OpenOptions::long_lived()
        };
        let db = Outbox::open(&paths, opts).unwrap();
        let fields = Fields {
            client: "claude-code".into(),
            event: "Stop".into(),
            session_id: Some("s".into()),
            cwd: None,
            tool: None,
        };
        for i in 0..3 {
            db.insert(NOW + i, &fields, "{}").unwrap();
        }
        let ids: Vec<i64> = queue::claim(&db, NOW + 10, 10, usize::MAX)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [1, 2, 3]);

        // Another process holds the write lock.
        let other = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
        other.conn().execute_batch("BEGIN IMMEDIATE").unwrap();

        let mut ledger = Ledger::default();
        let ack = Record::Ack {
            ids: vec![1, 2],
            keep_history: false,
        };
        assert!(ledger.write(&db, ack).is_err(), "the write lock is held");
        assert!(!ledger.is_settled());
        // What comes after a failed write is owed behind it, untried.
        ledger.owe(Record::Release(vec![3]));
        assert!(ledger.settle(&db).is_err(), "still held");
        assert!(!ledger.is_settled());
        let in_flight: Vec<(i64, String)> =
            ids.iter().map(|&i| (i, "in_flight".to_owned())).collect();
        assert_eq!(
            states(&db),
            in_flight,
            "nothing written while the lock is held"
        );
        // A stop while it is still held logs and keeps the outcomes owed.
        ledger.settle_for_stop(&db);
        assert!(!ledger.is_settled());

        other.conn().execute_batch("COMMIT").unwrap();
        ledger.settle(&db).unwrap();
        assert!(ledger.is_settled());
        assert_eq!(states(&db), [(3, "pending".to_owned())]);
        // Settled means settled: nothing is written twice.
        ledger.settle(&db).unwrap();
        assert_eq!(states(&db), [(3, "pending".to_owned())]);
    }
}
