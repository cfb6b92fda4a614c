//! Keeping the outbox under `max_outbox_bytes`. The hook never checks (it must not block);
//! the daemon measures and, when over the limit, removes `dead` and `rejected` rows oldest
//! first and then, only if that is not enough, the oldest `pending` rows. Every removal is
//! counted in `meta` in the same transaction and logged. Never touches `in_flight` rows.
//!
//! Space comes back through plain deletes: freed pages go on SQLite's freelist and the
//! next inserts reuse them, so the file stops growing at about the limit. No VACUUM: it
//! rewrites the whole file under the write lock every hook needs, and needs as much free
//! disk again, at the moment the disk is filling up. (Incremental vacuum would need
//! `auto_vacuum` set before the tables existed, so a full VACUUM of every existing outbox
//! first.) The file keeps its high-water size; `used` bytes are what is limited.

use std::time::{Duration, Instant};

use rusqlite::{Transaction, TransactionBehavior, params};

use crate::dlog;
use crate::shared::error_chain;
use crate::shared::event::State;
use crate::shared::health::Dropped;
use crate::shared::store::{Outbox, StoreError};

use super::drain::Daemon;

/// How often the daemon measures the outbox (three pragma reads), besides after imports.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Trim down to this share of the limit, so crossing it once does not mean a trim per insert.
const LOW_WATER_PERCENT: u64 = 90;
/// Rows deleted per transaction: hooks wait for the write lock meanwhile.
const CHUNK_ROWS: i64 = 500;
/// Delete transactions per call; the daemon calls again on its next turn if still over.
const MAX_CHUNKS: usize = 64;
/// What a row costs beyond its payload and error text: header, other columns, index entry.
const ROW_OVERHEAD: i64 = 64;

/// What one trim did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub used_before: u64,
    pub used_after: u64,
    pub removed: Dropped,
    /// Still above the low-water mark (the chunk budget ran out, or nothing removable left).
    pub still_over: bool,
}

impl Daemon {
    /// Is a size check due (periodically, or asked for after an import)?
    pub(super) fn limit_check_due(&self) -> bool {
        self.trim.due || self.trim.checked.elapsed() >= CHECK_EVERY
    }

    /// Keep the outbox under `max_outbox_bytes`, saying in the log what was removed.
    pub(super) fn enforce_limit(&mut self) {
        self.trim.checked = Instant::now();
        self.trim.due = false;
        let limit = self.config.max_outbox_bytes;
        let t = match enforce(&self.outbox, limit) {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.trim.stuck = false;
                return;
            }
            Err(e) => return dlog!("could not trim the outbox: {}", error_chain(&e)),
        };
        let r = t.removed;
        if r.total() == 0 {
            // Only claimed rows and the schema left: say so once, not every second.
            if !self.trim.stuck {
                dlog!(
                    "outbox uses {} bytes, over max_outbox_bytes = {limit}, and holds nothing it may remove",
                    t.used_after
                );
            }
            self.trim.stuck = true;
            return;
        }
        self.wrote = true;
        // The chunk budget ran out: carry on at the next turn of the loop.
        self.trim.due = t.still_over;
        let mut what = format!(
            "removed {} dead events and {} rejected inputs, oldest first",
            r.dead, r.rejected
        );
        if r.pending > 0 {
            what.push_str(&format!(
                "; DROPPED {} pending events, oldest first, never delivered",
                r.pending
            ));
        }
        dlog!(
            "outbox used {} bytes, over max_outbox_bytes = {limit}: {what}; now {} bytes",
            t.used_before,
            t.used_after
        );
    }
}

/// When the last size check ran, and whether another is due at once.
#[derive(Debug)]
pub struct TrimState {
    checked: Instant,
    /// Check on the next turn: at start, after an import, or a trim cut short.
    pub(super) due: bool,
    /// Over the limit with nothing removable, already logged.
    stuck: bool,
}

impl Default for TrimState {
    fn default() -> TrimState {
        TrimState {
            checked: Instant::now(),
            due: true,
            stuck: false,
        }
    }
}

/// Measure, and trim if over `limit`. `None` when under the limit: nothing was done.
pub fn enforce(outbox: &Outbox, limit: u64) -> Result<Option<Trimmed>, StoreError> {
    let used_before = outbox.used_bytes()?;
    if used_before <= limit {
        return Ok(None);
    }
    let target = limit / 100 * LOW_WATER_PERCENT;
    let mut t = Trimmed {
        used_before,
        used_after: used_before,
        ..Trimmed::default()
    };
    let mut chunks = 0;
    // Dead and rejected together, oldest first; pending only once they are all gone.
    for class in [[State::Dead, State::Rejected], [State::Pending; 2]] {
        while t.used_after > target && chunks < MAX_CHUNKS {
            let excess = (t.used_after - target) as i64;
            let now = remove_oldest(outbox, class, excess)?;
            if now.total() == 0 {
                break;
            }
            t.removed.dead += now.dead;
            t.removed.rejected += now.rejected;
            t.removed.pending += now.pending;
            chunks += 1;
            t.used_after = outbox.used_bytes()?;
        }
    }
    t.still_over = t.used_after > target;
    Ok(Some(t))
}

/// In one transaction: the oldest rows in `class` whose estimated bytes add up to `excess`
/// (at least one row, at most a chunk), deleted and counted. Returns what went.
fn remove_oldest(outbox: &Outbox, class: [State; 2], excess: i64) -> Result<Dropped, StoreError> {
    let sql = |e| outbox.sql(e);
    let tx =
        Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate).map_err(sql)?;
    let mut now = Dropped::default();
    {
        // octet_length reads the stored length without loading the payload.
        let mut oldest = tx
            .prepare_cached(
                "SELECT id, state, octet_length(payload) + coalesce(octet_length(last_error), 0)
                 FROM events WHERE state IN (?1, ?2) ORDER BY id LIMIT ?3",
            )
            .map_err(sql)?;
        let mut rows = oldest
            .query(params![class[0].as_str(), class[1].as_str(), CHUNK_ROWS])
            .map_err(sql)?;
        // Chosen first, deleted after: no row changes under the running SELECT.
        let mut chosen = Vec::new();
        let mut freed = 0;
        while freed < excess
            && let Some(row) = rows.next().map_err(sql)?
        {
            let state = row.get_ref(1).map_err(sql)?.as_str().unwrap_or_default();
            let counter = match state {
                "dead" => &mut now.dead,
                "rejected" => &mut now.rejected,
                _ => &mut now.pending,
            };
            *counter += 1;
            chosen.push(row.get::<_, i64>(0).map_err(sql)?);
            freed += row.get::<_, i64>(2).map_err(sql)? + ROW_OVERHEAD;
        }
        drop(rows);
        let mut del = tx
            .prepare_cached("DELETE FROM events WHERE id = ?1")
            .map_err(sql)?;
        for id in chosen {
            del.execute([id]).map_err(sql)?;
        }
        let mut bump = tx
            .prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE
                 SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
            )
            .map_err(sql)?;
        for (key, n) in now.keyed() {
            if n > 0 {
                bump.execute(params![key, n]).map_err(sql)?;
            }
        }
    }
    tx.commit().map_err(sql)?;
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::event::classify;
    use crate::shared::paths::Paths;
    use crate::shared::store::OpenOptions;

    /// Rows of ~8 KiB in the given states, in this order (ids 1, 2, …).
    fn outbox_with(dir: &tempfile::TempDir, states: &[&str]) -> Outbox {
        let outbox = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
        let f = classify(br#"{"hook_event_name":"Stop"}"#, None).unwrap();
        for state in states {
            let payload = format!(r#"{{"pad":"{}"}}"#, "x".repeat(8 << 10));
            let id = outbox.insert(1, &f, &payload).unwrap();
            outbox
                .conn()
                .execute(
                    "UPDATE events SET state = ?1 WHERE id = ?2",
                    params![state, id],
                )
                .unwrap();
        }
        outbox
    }

    fn ids(outbox: &Outbox, state: &str) -> Vec<i64> {
        let mut stmt = outbox
            .conn()
            .prepare("SELECT id FROM events WHERE state = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([state], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn under_the_limit_nothing_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &["dead", "pending"]);
        assert_eq!(enforce(&outbox, 1 << 30).unwrap(), None);
        assert_eq!(ids(&outbox, "dead"), [1]);
    }

    #[test]
    fn dead_and_rejected_go_first_oldest_first_then_the_oldest_pending() {
        let dir = tempfile::tempdir().unwrap();
        // Pending rows older than the dead ones: state decides first, age second.
        let states = [
            "pending",
            "pending",
            "dead",
            "rejected",
            "dead",
            "dead",
            "dead",
            "dead",
            "in_flight",
            "pending",
            "pending",
        ];
        let outbox = outbox_with(&dir, &states);
        let used = outbox.used_bytes().unwrap();
        // A little under the current size: a few of the oldest dead or rejected rows do.
        let t = enforce(&outbox, used - 4096).unwrap().unwrap();
        assert_eq!(t.removed.pending, 0, "{t:?}");
        assert!(t.removed.dead >= 1 && t.used_after <= used - 4096, "{t:?}");
        assert!(
            !ids(&outbox, "dead").contains(&3),
            "the oldest dead row went first"
        );
        assert_eq!(
            ids(&outbox, "dead").last(),
            Some(&8),
            "the newest dead row stays"
        );
        assert_eq!(ids(&outbox, "pending"), [1, 2, 10, 11]);
        // Far under: everything dead and rejected goes, then pending from the oldest.
        let t = enforce(&outbox, used / 2).unwrap().unwrap();
        assert_eq!(ids(&outbox, "dead"), Vec::<i64>::new());
        assert_eq!(ids(&outbox, "rejected"), Vec::<i64>::new());
        assert!(t.removed.pending >= 1, "{t:?}");
        let pending = ids(&outbox, "pending");
        assert_eq!(pending.last(), Some(&11), "the newest pending row stays");
        assert!(
            !pending.contains(&1),
            "the oldest pending row went first: {pending:?}"
        );
        assert_eq!(
            ids(&outbox, "in_flight"),
            [9],
            "claimed rows are never trimmed"
        );
        let dropped = Dropped::read(&outbox).unwrap();
        assert_eq!(dropped.dead, 5);
        assert_eq!(dropped.rejected, 1);
        assert_eq!(dropped.pending, 4 - pending.len() as i64);
        assert!(outbox.used_bytes().unwrap() <= used / 2);
    }
}
