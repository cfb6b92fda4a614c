//! Keeping the outbox bounded: local history for `keep_history`, everything within
//! `max_outbox_bytes`. The hook never checks (it must not block); the daemon expires history
//! older than `keep_history` and, when over the size limit, removes the oldest history
//! first, then `dead` and `rejected` rows oldest first and then, only if that is not
//! enough, the oldest `pending` rows (counted as drops). With no endpoint configured at all,
//! pending events are the history of a local recorder: they expire and are trimmed as
//! history. Every removal is counted in `meta` in the same transaction and logged. Never
//! touches `in_flight` rows.
//!
//! Space comes back through plain deletes: freed pages go on SQLite's freelist and the
//! next inserts reuse them, so the file stops growing at about the limit. No VACUUM: it
//! rewrites the whole file under the write lock every hook needs, and needs as much free
//! disk again, at the moment the disk is filling up. (Incremental vacuum would need
//! `auto_vacuum` set before the tables existed, so a full VACUUM of every existing outbox
//! first.) The file keeps its high-water size; `used` bytes are what is limited.

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::dlog;
use crate::shared::error_chain;
use crate::shared::event::State;
use crate::shared::health::Dropped;
use crate::shared::store::{Outbox, StoreError};

use super::drain::Daemon;
use super::endpoint;

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
    /// History past `keep_history`, removed whatever the size.
    pub expired: i64,
    /// History removed (oldest first) to stay under the size limit.
    pub history: i64,
    pub removed: Dropped,
    /// Still above the low-water mark (the chunk budget ran out, or nothing removable left).
    pub still_over: bool,
}

impl Daemon {
    /// Is a size check due (periodically, or asked for after an import)?
    pub(super) fn limit_check_due(&self) -> bool {
        self.trim.due || self.trim.checked.elapsed() >= CHECK_EVERY
    }

    /// Expire old history and keep the outbox under `max_outbox_bytes`, saying in the log
    /// what was removed.
    pub(super) fn enforce_limit(&mut self) {
        self.trim.checked = Instant::now();
        self.trim.due = false;
        let limit = self.config.max_outbox_bytes;
        let retention = Retention {
            keep: self.config.keep_history,
            local_only: endpoint::resolve(
                self.cli_endpoint.as_deref(),
                self.env_endpoint.as_deref(),
                &self.config,
            )
            .is_none(),
            now_ms: crate::shared::now_ms(),
        };
        let t = match enforce(&self.outbox, limit, retention) {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.trim.stuck = false;
                return;
            }
            Err(e) => return dlog!("could not trim the outbox: {}", error_chain(&e)),
        };
        if t.expired > 0 {
            self.wrote = true;
            dlog!(
                "removed {} events of history older than keep_history = {}",
                t.expired,
                humantime::format_duration(retention.keep)
            );
        }
        if t.used_before <= limit {
            return;
        }
        let r = t.removed;
        if r.total() == 0 && t.history == 0 {
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
        let mut what = if t.history > 0 {
            format!("removed {} events of history (oldest first), ", t.history)
        } else {
            "removed ".to_owned()
        };
        what.push_str(&format!(
            "{} dead events and {} rejected inputs, oldest first",
            r.dead, r.rejected
        ));
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

/// How long history is kept, and whether pending events are history too (no endpoint).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub keep: Duration,
    pub local_only: bool,
    pub now_ms: i64,
}

impl Retention {
    /// The states that are history: delivered rows, and pending ones of a local recorder.
    fn history(&self) -> [State; 2] {
        if self.local_only {
            [State::Delivered, State::Pending]
        } else {
            [State::Delivered; 2]
        }
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

/// Expire history past `keep_history`, then measure, and trim if over `limit`. `None`
/// when nothing was expired and the outbox is under the limit: nothing was done.
pub fn enforce(
    outbox: &Outbox,
    limit: u64,
    retention: Retention,
) -> Result<Option<Trimmed>, StoreError> {
    let expired = expire(outbox, retention)?;
    let used_before = outbox.used_bytes()?;
    let mut t = Trimmed {
        used_before,
        used_after: used_before,
        expired,
        ..Trimmed::default()
    };
    if used_before <= limit {
        return Ok((expired > 0).then_some(t));
    }
    let target = limit / 100 * LOW_WATER_PERCENT;
    let mut chunks = 0;
    // History first; then dead and rejected together, oldest first; pending only once
    // they are all gone.
    let classes = [
        (retention.history(), true),
        ([State::Dead, State::Rejected], false),
        ([State::Pending; 2], false),
    ];
    for (class, history) in classes {
        while t.used_after > target && chunks < MAX_CHUNKS {
            let excess = (t.used_after - target) as i64;
            let now = remove_oldest(outbox, class, Budget::Bytes(excess), history)?;
            if now.total() == 0 {
                break;
            }
            if history {
                t.history += now.total();
            } else {
                t.removed.dead += now.dead;
                t.removed.rejected += now.rejected;
                t.removed.pending += now.pending;
            }
            chunks += 1;
            t.used_after = outbox.used_bytes()?;
        }
    }
    t.still_over = t.used_after > target;
    Ok(Some(t))
}

/// Remove history received before `keep_history` ago, oldest first, a chunk per
/// transaction. Costs one row read when nothing is that old.
fn expire(outbox: &Outbox, retention: Retention) -> Result<i64, StoreError> {
    let cutoff = retention.now_ms - retention.keep.as_millis().min(i64::MAX as u128) as i64;
    expire_usage(outbox, retention)?;
    // A local recorder with keep_history = 0 would throw its only copy away.
    let class = if retention.keep.is_zero() {
        [State::Delivered; 2]
    } else {
        retention.history()
    };
    let oldest: Option<i64> = outbox
        .conn()
        .prepare_cached(
            "SELECT received_ms FROM events WHERE state IN (?1, ?2) ORDER BY id LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![class[0].as_str(), class[1].as_str()], |r| r.get(0))
                .optional()
        })
        .map_err(|e| outbox.sql(e))?;
    if oldest.is_none_or(|ms| ms >= cutoff) {
        return Ok(0);
    }
    let mut expired = 0;
    for _ in 0..MAX_CHUNKS {
        let now = remove_oldest(outbox, class, Budget::Before(cutoff), true)?;
        expired += now.total();
        if now.total() < CHUNK_ROWS {
            break;
        }
    }
    Ok(expired)
}

/// Token usage is history too: responses older than `keep_history` go, and the read
/// positions of transcripts not looked at since. With `keep_history = 0` they are kept a
/// day, long enough for the turn that used them to go out with its tokens. Costs one row
/// read when the oldest response is young enough.
fn expire_usage(outbox: &Outbox, retention: Retention) -> Result<(), StoreError> {
    const USAGE_AT_LEAST: Duration = Duration::from_secs(24 * 3600);
    let keep = retention.keep.max(USAGE_AT_LEAST);
    let cutoff = retention.now_ms - keep.as_millis().min(i64::MAX as u128) as i64;
    let sql = |e| outbox.sql(e);
    let conn = outbox.conn();
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT at_ms FROM usage ORDER BY id LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(sql)?;
    if oldest.is_none_or(|ms| ms >= cutoff) {
        return Ok(());
    }
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql)?;
    tx.execute("DELETE FROM usage WHERE at_ms < ?1", [cutoff])
        .map_err(sql)?;
    tx.execute("DELETE FROM transcripts WHERE read_ms < ?1", [cutoff])
        .map_err(sql)?;
    tx.commit().map_err(sql)
}

/// Which of the oldest rows one transaction removes.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// Rows whose estimated bytes add up to this (at least one row).
    Bytes(i64),
    /// Rows received before this instant, stopping at the first younger one.
    Before(i64),
}

/// In one transaction: the oldest rows in `class` within `budget` (at most a chunk),
/// deleted and counted (as drops, unless they are `history`). Returns what went.
fn remove_oldest(
    outbox: &Outbox,
    class: [State; 2],
    budget: Budget,
    history: bool,
) -> Result<Dropped, StoreError> {
    let sql = |e| outbox.sql(e);
    let tx =
        Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate).map_err(sql)?;
    let mut now = Dropped::default();
    {
        // octet_length reads the stored length without loading the payload.
        let mut oldest = tx
            .prepare_cached(
                "SELECT id, state, octet_length(payload) + coalesce(octet_length(last_error), 0),
                        received_ms
                 FROM events WHERE state IN (?1, ?2) ORDER BY id LIMIT ?3",
            )
            .map_err(sql)?;
        let mut rows = oldest
            .query(params![class[0].as_str(), class[1].as_str(), CHUNK_ROWS])
            .map_err(sql)?;
        // Chosen first, deleted after: no row changes under the running SELECT.
        let mut chosen = Vec::new();
        let mut freed = 0;
        while let Some(row) = rows.next().map_err(sql)? {
            let enough = match budget {
                Budget::Bytes(excess) => freed >= excess,
                Budget::Before(cutoff) => row.get::<_, i64>(3).map_err(sql)? >= cutoff,
            };
            if enough {
                break;
            }
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
        if !history {
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

    /// Thirty days of history, an endpoint configured, at time 1000.
    fn kept() -> Retention {
        Retention {
            keep: Duration::from_secs(30 * 86400),
            local_only: false,
            now_ms: 1000,
        }
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
        assert_eq!(enforce(&outbox, 1 << 30, kept()).unwrap(), None);
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
        let t = enforce(&outbox, used - 4096, kept()).unwrap().unwrap();
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
        // About eight rows under: everything dead and rejected goes, then pending from the
        // oldest.
        let far = (used - 8 * 8704) / LOW_WATER_PERCENT * 100;
        let t = enforce(&outbox, far, kept()).unwrap().unwrap();
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
        assert!(outbox.used_bytes().unwrap() <= far);
    }

    #[test]
    fn history_goes_before_dead_rejected_and_pending_and_is_not_a_drop() {
        let dir = tempfile::tempdir().unwrap();
        let states = [
            "pending",
            "dead",
            "delivered",
            "delivered",
            "delivered",
            "rejected",
        ];
        let outbox = outbox_with(&dir, &states);
        let used = outbox.used_bytes().unwrap();
        let t = enforce(&outbox, used - 4096, kept()).unwrap().unwrap();
        assert!(t.history >= 1, "{t:?}");
        assert_eq!(t.removed, Dropped::default(), "{t:?}");
        assert_eq!(
            ids(&outbox, "delivered").last(),
            Some(&5),
            "newest history stays"
        );
        assert!(
            !ids(&outbox, "delivered").contains(&3),
            "oldest history went first"
        );
        assert_eq!(ids(&outbox, "dead"), [2]);
        assert_eq!(ids(&outbox, "pending"), [1]);
        assert_eq!(Dropped::read(&outbox).unwrap(), Dropped::default());
    }

    #[test]
    fn history_older_than_keep_history_expires_whatever_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &["delivered", "delivered", "pending", "dead"]);
        outbox
            .conn()
            .execute("UPDATE events SET received_ms = 5000 WHERE id = 2", [])
            .unwrap();
        let at = |now_ms, local_only| Retention {
            keep: Duration::from_secs(1),
            local_only,
            now_ms,
        };
        // Row 1 (received at 1) is over a second old at 2000; row 2 is not.
        let t = enforce(&outbox, 1 << 30, at(2_000, false))
            .unwrap()
            .unwrap();
        assert_eq!(t.expired, 1);
        assert_eq!(ids(&outbox, "delivered"), [2]);
        assert_eq!(enforce(&outbox, 1 << 30, at(2_000, false)).unwrap(), None);
        // Pending events wait for an endpoint; a local recorder's are history.
        enforce(&outbox, 1 << 30, at(10_000, false)).unwrap();
        assert_eq!(ids(&outbox, "pending"), [3]);
        let t = enforce(&outbox, 1 << 30, at(10_000, true))
            .unwrap()
            .unwrap();
        assert_eq!(t.expired, 1);
        assert_eq!(ids(&outbox, "pending"), Vec::<i64>::new());
        assert_eq!(ids(&outbox, "dead"), [4], "dead rows are not history");
        assert_eq!(Dropped::read(&outbox).unwrap(), Dropped::default());
    }

    #[test]
    fn keep_history_zero_removes_history_but_never_a_local_recorders_events() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &["delivered", "pending"]);
        let zero = Retention {
            keep: Duration::ZERO,
            local_only: true,
            now_ms: 1000,
        };
        let t = enforce(&outbox, 1 << 30, zero).unwrap().unwrap();
        assert_eq!(t.expired, 1);
        assert_eq!(ids(&outbox, "pending"), [2]);
    }

    #[test]
    fn token_usage_expires_with_history_and_is_kept_a_day_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &["delivered"]);
        let day = 24 * 3600 * 1000;
        let now = 100 * day;
        for (key, at) in [("old", now - 3 * day), ("day", now - day / 2), ("new", now)] {
            outbox
                .conn()
                .execute(
                    "INSERT INTO usage (source, key, session_id, client, at_ms, input)
                     VALUES ('/t.jsonl', ?1, 's', 'claude-code', ?2, 1)",
                    params![key, at],
                )
                .unwrap();
        }
        outbox
            .conn()
            .execute(
                "INSERT INTO transcripts (path, client, session_id, offset, read_ms)
                 VALUES ('/gone.jsonl', 'codex', 's', 10, ?1), ('/t.jsonl', 'codex', 's', 9, ?2)",
                params![now - 3 * day, now],
            )
            .unwrap();
        let keys = |o: &Outbox| {
            o.conn()
                .prepare("SELECT key FROM usage ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        let at = |keep| Retention {
            keep,
            local_only: false,
            now_ms: now,
        };
        // Two days kept: the three-day-old response goes, with the transcript unread since.
        enforce(&outbox, 1 << 30, at(Duration::from_secs(2 * 86400))).unwrap();
        assert_eq!(keys(&outbox), ["day", "new"]);
        let paths: Vec<String> = outbox
            .conn()
            .prepare("SELECT path FROM transcripts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(paths, ["/t.jsonl"]);
        // keep_history = 0: a day still, so the half-day-old one stays.
        enforce(&outbox, 1 << 30, at(Duration::ZERO)).unwrap();
        assert_eq!(keys(&outbox), ["day", "new"]);
        // An hour kept: the floor is a day.
        enforce(&outbox, 1 << 30, at(Duration::from_secs(3600))).unwrap();
        assert_eq!(keys(&outbox), ["day", "new"]);
    }
}
