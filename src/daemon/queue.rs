//! The daemon's statements on the outbox: claim a batch with one `UPDATE … RETURNING`,
//! acknowledge (kept as history or deleted, + delivered counter in one transaction), release, retry later, bury.
//! Only the lock holder runs these; nothing here talks to a collector.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{Transaction, TransactionBehavior, params};

use crate::shared::assemble::{Mark, Member, Span};
use crate::shared::store::{OpenOptions, Outbox, StoreError};

use super::usage::turns::Tokens;

/// Per-event bytes the envelope adds around a payload, for the batch byte cap.
const ENVELOPE_BYTES: i64 = 256;

/// One claimed row, as read back from the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub received_ms: i64,
    pub client: String,
    pub event: String,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub tool: Option<String>,
    /// The normalized kind as assembly stored it; `None` until the row is assembled.
    pub kind: Option<String>,
    pub payload: Vec<u8>,
    pub size: i64,
    /// The closed spans this row carries out, and the span it belongs to
    /// (`spans::claim`, with spans).
    pub spans: Vec<Span>,
    pub member: Option<Member>,
    /// The tokens of the turn this row ends (`usage::turns::attach`), and of each turn
    /// span in `spans`, by session and turn.
    pub turn_usage: Option<Tokens>,
    pub span_usage: BTreeMap<(String, i64), Tokens>,
}

/// Every in-flight row back to pending: at start (we hold the lock, so no other drainer
/// exists and every claim is orphaned) and at a clean stop.
pub fn reclaim_all(outbox: &Outbox) -> Result<usize, StoreError> {
    outbox
        .conn()
        .execute(
            "UPDATE events SET state = 'pending', claimed_ms = NULL WHERE state = 'in_flight'",
            [],
        )
        .map_err(|e| outbox.sql(e))
}

/// The rows a claim takes: `?1` now, `?2` most events, `?3` most bytes, `?4` envelope
/// bytes per event, `?5` whether a first row larger than `?3` is taken alone. The inner select walks the `events_state (state, id, next_attempt_ms)`
/// index in id order and stops after `?2` due rows, so a claim costs the batch, not the
/// backlog.
macro_rules! due_ids {
    () => {
        "SELECT id FROM (
            SELECT id, size, sum(size + ?4) OVER (ORDER BY id) AS running
            FROM (SELECT id, size FROM events
                  WHERE state = 'pending' AND next_attempt_ms <= ?1
                  ORDER BY id LIMIT ?2))
        WHERE running <= ?3 OR (?5 AND running = size + ?4)"
    };
}

impl Claimed {
    /// The bytes a claim counts for this row against `batch_max_bytes`.
    pub fn budget(&self) -> usize {
        usize::try_from(self.size).unwrap_or(0) + ENVELOPE_BYTES as usize
    }
}

/// What a claim reads of each row (`row`).
macro_rules! claimed_columns {
    () => {
        "id, received_ms, client, event, session_id, cwd, tool, payload, size, kind"
    };
}

/// The claim, one statement.
pub const CLAIM: &str = concat!(
    "UPDATE events SET state = 'in_flight', claimed_ms = ?1 WHERE id IN (",
    due_ids!(),
    ") RETURNING ",
    claimed_columns!()
);

/// The rows `CLAIM` would take, left as they are (`due`; in any order, as `select` sorts).
const DUE: &str = concat!(
    "SELECT ",
    claimed_columns!(),
    " FROM events WHERE id IN (",
    due_ids!(),
    ")"
);

/// A row as the claim reads it.
fn row(r: &rusqlite::Row) -> rusqlite::Result<Claimed> {
    Ok(Claimed {
        id: r.get(0)?,
        received_ms: r.get(1)?,
        client: r.get(2)?,
        event: r.get(3)?,
        session_id: r.get(4)?,
        cwd: r.get(5)?,
        tool: r.get(6)?,
        // Stored as text by the hook; read bytes so a blob cannot fail the claim.
        payload: r.get_ref(7)?.as_bytes()?.to_vec(),
        size: r.get(8)?,
        kind: r.get(9)?,
        spans: Vec::new(),
        member: None,
        turn_usage: None,
        span_usage: BTreeMap::new(),
    })
}

fn select(outbox: &Outbox, sql: &str, now_ms: i64, take: Take) -> Result<Vec<Claimed>, StoreError> {
    let mut stmt = outbox
        .conn()
        .prepare_cached(sql)
        .map_err(|e| outbox.sql(e))?;
    let rows = stmt
        .query_map(
            params![
                now_ms,
                i64::try_from(take.events.max(1)).unwrap_or(i64::MAX),
                // A cap past i64 (no config gives one) is no cap, not a negative one.
                i64::try_from(take.bytes).unwrap_or(i64::MAX),
                ENVELOPE_BYTES,
                take.oversize_first
            ],
            row,
        )
        .map_err(|e| outbox.sql(e))?;
    let mut batch = rows
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| outbox.sql(e))?;
    // RETURNING order is unspecified.
    batch.sort_by_key(|c| c.id);
    Ok(batch)
}

/// Claim the oldest due pending rows: at most `max_events`, and no more than `max_bytes`
/// (estimated) unless the first row alone is larger. One statement: no read-then-write.
pub fn claim(
    outbox: &Outbox,
    now_ms: i64,
    max_events: usize,
    max_bytes: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let take = Take {
        events: max_events,
        bytes: max_bytes,
        oversize_first: true,
    };
    select(outbox, CLAIM, now_ms, take)
}

/// The rows `claim` would take, read and left pending: inside a write transaction, for
/// `claim_rows` to claim.
pub fn due(outbox: &Outbox, now_ms: i64, take: Take) -> Result<Vec<Claimed>, StoreError> {
    select(outbox, DUE, now_ms, take)
}

/// How much one claim may take: at most `events` rows, and no more than `bytes`
/// (estimated, as `budget` counts) unless `oversize_first` lets a larger first row go
/// alone. A batch's first claim lets it, or that row would never leave; a claim that adds
/// to a batch already started does not, or the batch would outgrow `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub events: usize,
    pub bytes: usize,
    pub oversize_first: bool,
}

impl Take {
    /// A whole batch as `config` caps it, in one claim.
    pub fn batch(config: &crate::shared::config::Config) -> Take {
        Take {
            events: config.batch_max_events,
            bytes: config.batch_max_bytes,
            oversize_first: true,
        }
    }
}

/// Claim `rows` (read by `due` in the same transaction), writing into each its mark from
/// `marks` where it has one (`spans::claim`: the row is written once for both).
pub fn claim_rows(
    outbox: &Outbox,
    now_ms: i64,
    rows: &mut [Claimed],
    marks: &[Mark],
) -> Result<(), StoreError> {
    let sql = |e| outbox.sql(e);
    let conn = outbox.conn();
    let mut plain = conn
        .prepare_cached(
            "UPDATE events SET state = 'in_flight', claimed_ms = ?2
             WHERE id = ?1 AND state = 'pending'",
        )
        .map_err(sql)?;
    let mut marked = conn
        .prepare_cached(
            "UPDATE events SET state = 'in_flight', claimed_ms = ?2, kind = ?3, call_id = ?4,
                 turn = ?5
             WHERE id = ?1 AND state = 'pending'",
        )
        .map_err(sql)?;
    let mut only = conn
        .prepare_cached("UPDATE events SET kind = ?2, call_id = ?3, turn = ?4 WHERE id = ?1")
        .map_err(sql)?;
    // Both in id order. A mark of a row not claimed (none, as `spans::claim` calls this)
    // is written all the same.
    let mut marks = marks.iter().peekable();
    for row in rows.iter_mut() {
        while let Some(m) = marks.next_if(|m| m.id < row.id) {
            only.execute(params![m.id, m.kind.as_str(), m.call, m.turn])
                .map_err(sql)?;
        }
        let changed = match marks.next_if(|m| m.id == row.id) {
            Some(m) => {
                row.kind = Some(m.kind.as_str().to_owned());
                marked.execute(params![row.id, now_ms, m.kind.as_str(), m.call, m.turn])
            }
            None => plain.execute(params![row.id, now_ms]),
        }
        .map_err(sql)?;
        debug_assert_eq!(changed, 1, "row {} was not pending", row.id);
    }
    for m in marks {
        only.execute(params![m.id, m.kind.as_str(), m.call, m.turn])
            .map_err(sql)?;
    }
    Ok(())
}

/// Delivered: keep the rows as local history (`keep_history`, trimmed later) or, with no
/// history kept, delete them; and count them, in one transaction. One statement per run of
/// consecutive ids (a batch is usually one run): a statement per row was most of the ack.
pub fn ack(outbox: &Outbox, ids: &[i64], keep_history: bool) -> Result<usize, StoreError> {
    let done = if keep_history {
        "UPDATE events SET state = 'delivered', claimed_ms = NULL
         WHERE id BETWEEN ?1 AND ?2 AND state = 'in_flight'"
    } else {
        "DELETE FROM events WHERE id BETWEEN ?1 AND ?2 AND state = 'in_flight'"
    };
    in_tx(outbox, |tx| {
        let mut deleted = 0;
        {
            let mut del = tx.prepare_cached(done).map_err(|e| outbox.sql(e))?;
            for (first, last) in runs(ids) {
                deleted += del.execute([first, last]).map_err(|e| outbox.sql(e))?;
            }
        }
        tx.prepare_cached(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ?1 WHERE key = 'delivered_total'",
        )
        .and_then(|mut s| s.execute([deleted as i64]))
        .map_err(|e| outbox.sql(e))?;
        Ok(deleted)
    })
}

/// `ids` as runs of consecutive ids, `(first, last)` inclusive, in id order: every id in a
/// run is one of `ids`, so a statement over the run's range touches those rows and no other.
fn runs(ids: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for id in sorted {
        match out.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(id) => *last = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Back to pending without spending an attempt (shutdown, paused credentials).
pub fn release(outbox: &Outbox, ids: &[i64]) -> Result<(), StoreError> {
    each(
        outbox,
        ids,
        "UPDATE events SET state = 'pending', claimed_ms = NULL
         WHERE id = ?1 AND state = 'in_flight'",
        &[],
    )
}

/// A failed attempt: count it, remember the first failure, and either wait until
/// `next_attempt_ms` or, when failing since before `give_up_before_ms`, go `dead`.
/// Returns how many rows went dead.
pub fn retry_later(
    outbox: &Outbox,
    ids: &[i64],
    now_ms: i64,
    next_attempt_ms: i64,
    give_up_before_ms: i64,
    error: &str,
) -> Result<usize, StoreError> {
    in_tx(outbox, |tx| {
        let mut stmt = tx
            .prepare_cached(
                "UPDATE events SET
                    state = CASE WHEN coalesce(first_failure_ms, ?2) <= ?4
                                 THEN 'dead' ELSE 'pending' END,
                    claimed_ms = NULL, attempts = attempts + 1,
                    first_failure_ms = coalesce(first_failure_ms, ?2),
                    next_attempt_ms = ?3, last_error = ?5
                 WHERE id = ?1 AND state = 'in_flight'
                 RETURNING state",
            )
            .map_err(|e| outbox.sql(e))?;
        let mut dead = 0;
        for id in ids {
            let mut rows = stmt
                .query(params![
                    id,
                    now_ms,
                    next_attempt_ms,
                    give_up_before_ms,
                    error
                ])
                .map_err(|e| outbox.sql(e))?;
            if let Some(row) = rows.next().map_err(|e| outbox.sql(e))? {
                let state: String = row.get(0).map_err(|e| outbox.sql(e))?;
                dead += usize::from(state == "dead");
            }
        }
        Ok(dead)
    })
}

/// The collector refuses these events for good: `dead`, with the reason.
pub fn bury(outbox: &Outbox, ids: &[i64], now_ms: i64, error: &str) -> Result<(), StoreError> {
    each(
        outbox,
        ids,
        "UPDATE events SET state = 'dead', claimed_ms = NULL, attempts = attempts + 1,
            first_failure_ms = coalesce(first_failure_ms, ?2), last_error = ?3
         WHERE id = ?1 AND state = 'in_flight'",
        &[&now_ms, &error],
    )
}

/// The collector is back: rows waiting out the outage's backoff are due at once.
pub fn wake_waiting(outbox: &Outbox, now_ms: i64) -> Result<usize, StoreError> {
    outbox
        .conn()
        .execute(
            "UPDATE events SET next_attempt_ms = 0
             WHERE state = 'pending' AND next_attempt_ms > ?1",
            [now_ms],
        )
        .map_err(|e| outbox.sql(e))
}

/// Changes whenever another connection commits: a cheap "did a hook write?" poll.
pub fn data_version(outbox: &Outbox) -> Result<i64, StoreError> {
    outbox
        .conn()
        .query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(|e| outbox.sql(e))
}

/// Whether another connection is in a write transaction right now (a hook mid-insert):
/// the write lock is tried without waiting and let go at once. When this says no, every
/// commit begun before it is visible to the next read.
pub fn writer_active(outbox: &Outbox) -> Result<bool, StoreError> {
    let conn = outbox.conn();
    conn.busy_timeout(Duration::ZERO)
        .map_err(|e| outbox.sql(e))?;
    let taken = conn.execute_batch("BEGIN IMMEDIATE");
    let answer = match taken {
        Ok(()) => conn.execute_batch("ROLLBACK").map(|()| false),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    };
    conn.busy_timeout(OpenOptions::long_lived().busy_timeout)
        .map_err(|e| outbox.sql(e))?;
    answer.map_err(|e| outbox.sql(e))
}

#[derive(Debug, Clone, Copy)]
pub enum Checkpoint {
    /// Copy what it can without waiting for readers or writers.
    Passive,
    /// Copy everything and shrink the WAL file to zero (when idle).
    Truncate,
}

pub fn checkpoint(outbox: &Outbox, mode: Checkpoint) -> Result<(), StoreError> {
    let sql = match mode {
        Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    outbox
        .conn()
        .query_row(sql, [], |_| Ok(()))
        .map_err(|e| outbox.sql(e))
}

fn in_tx<T>(
    outbox: &Outbox,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate)
        .map_err(|e| outbox.sql(e))?;
    let value = f(&tx)?;
    tx.commit().map_err(|e| outbox.sql(e))?;
    Ok(value)
}

/// Run one single-row statement (`?1` = id, then `rest`) for each id, in one transaction.
fn each(
    outbox: &Outbox,
    ids: &[i64],
    sql: &str,
    rest: &[&dyn rusqlite::ToSql],
) -> Result<(), StoreError> {
    in_tx(outbox, |tx| {
        let mut stmt = tx.prepare_cached(sql).map_err(|e| outbox.sql(e))?;
        for id in ids {
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![id];
            all.extend_from_slice(rest);
            stmt.execute(all.as_slice()).map_err(|e| outbox.sql(e))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::event::classify;
    use crate::shared::paths::Paths;
    use crate::shared::store::OpenOptions;

    #[test]
    fn the_claim_is_compiled_once_not_on_every_batch() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[10]);
        for now in 0..20 {
            let ids: Vec<i64> = claim(&outbox, 1000 + now, 500, 1 << 20)
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect();
            reclaim_all(&outbox).unwrap();
            assert_eq!(ids.len(), 1);
            let take = Take {
                events: 500,
                bytes: 1 << 20,
                oversize_first: true,
            };
            assert_eq!(due(&outbox, 1000 + now, take).unwrap().len(), 1);
        }
        for sql in [CLAIM, DUE] {
            let stmt = outbox.conn().prepare_cached(sql).unwrap();
            // At most once: a statement may be compiled again after its first binding.
            assert!(stmt.get_status(rusqlite::StatementStatus::RePrepare) <= 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn runs_cover_exactly_the_ids_and_are_maximal(
            ids in proptest::collection::vec(
                proptest::prop_oneof![0i64..40, (i64::MAX - 3)..=i64::MAX, i64::MIN..(i64::MIN + 3)],
                0..60,
            )
        ) {
            let runs = runs(&ids);
            let covered: Vec<i64> = runs.iter().flat_map(|&(a, b)| a..=b).collect();
            let mut want = ids.clone();
            want.sort_unstable();
            want.dedup();
            proptest::prop_assert_eq!(covered, want);
            for pair in runs.windows(2) {
                // Ordered and not touching: otherwise the two would be one run.
                proptest::prop_assert!(pair[0].1.checked_add(1).is_some_and(|n| n < pair[1].0));
            }
        }
    }

    #[test]
    fn an_ack_with_gaps_touches_no_row_in_them() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[10; 8]);
        assert_eq!(claim(&outbox, 5, 500, 1 << 20).unwrap().len(), 8);
        // Rows 3 and 6 are in flight in another batch: acking 1-2, 4-5 and 7-8 leaves them.
        assert_eq!(ack(&outbox, &[8, 1, 2, 4, 5, 7, 2], false).unwrap(), 6);
        assert_eq!(count(&outbox, "state = 'in_flight' AND id IN (3, 6)"), 2);
        assert_eq!(count(&outbox, "1"), 2);
        assert_eq!(ack(&outbox, &[3, 6], true).unwrap(), 2);
        assert_eq!(count(&outbox, "state = 'delivered'"), 2);
        assert_eq!(crate::shared::health::delivered_total(&outbox).unwrap(), 8);
    }

    fn outbox_with(dir: &tempfile::TempDir, payload_sizes: &[usize]) -> Outbox {
        let outbox = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
        let f = classify(br#"{"hook_event_name":"Stop"}"#, None).unwrap();
        for size in payload_sizes {
            let payload = format!(r#"{{"pad":"{}"}}"#, "x".repeat(*size));
            outbox.insert(1, &f, &payload).unwrap();
        }
        outbox
    }

    fn count(outbox: &Outbox, filter: &str) -> i64 {
        outbox
            .conn()
            .query_row(
                &format!("SELECT count(*) FROM events WHERE {filter}"),
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn claims_take_the_oldest_rows_within_count_and_byte_caps() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[100; 10]);
        let ids: Vec<i64> = claim(&outbox, 5, 3, 1 << 20)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(count(&outbox, "state = 'in_flight' AND claimed_ms = 5"), 3);
        // ~370 bytes per event with the envelope: a 1000-byte cap holds two.
        let ids: Vec<i64> = claim(&outbox, 5, 100, 1000)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [4, 5]);
        // A single row larger than the cap still goes alone.
        let big = outbox_with(&tempfile::tempdir().unwrap(), &[5000, 10]);
        assert_eq!(claim(&big, 5, 100, 1000).unwrap().len(), 1);
        // A claim adding to a batch already started takes no row over what is left of the
        // cap, not even as its first: a batch never outgrows its cap by a piece.
        let dir = tempfile::tempdir().unwrap();
        let later = outbox_with(&dir, &[5000, 10]);
        let piece = |bytes| Take {
            events: 100,
            bytes,
            oversize_first: false,
        };
        assert!(due(&later, 5, piece(1000)).unwrap().is_empty());
        assert_eq!(due(&later, 5, piece(6000)).unwrap().len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let small_first = outbox_with(&dir, &[10, 5000]);
        let ids: Vec<i64> = due(&small_first, 5, piece(1000))
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [1]);
    }

    #[test]
    fn rows_waiting_out_a_backoff_are_not_claimed_until_due() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[10; 2]);
        let batch = claim(&outbox, 1_000, 10, 1 << 20).unwrap();
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        let dead = retry_later(&outbox, &ids, 1_000, 5_000, 0, "collector answered 503").unwrap();
        assert_eq!(dead, 0);
        assert!(claim(&outbox, 4_999, 10, 1 << 20).unwrap().is_empty());
        assert_eq!(claim(&outbox, 5_000, 10, 1 << 20).unwrap().len(), 2);
        assert_eq!(
            count(&outbox, "attempts = 1 AND first_failure_ms = 1000"),
            2
        );
    }

    #[test]
    fn giving_up_is_by_time_since_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[10]);
        claim(&outbox, 1_000, 10, 1 << 20).unwrap();
        assert_eq!(retry_later(&outbox, &[1], 1_000, 0, 500, "e").unwrap(), 0);
        claim(&outbox, 2_000, 10, 1 << 20).unwrap();
        // Failing since 1000; giving up on anything failing since before 1500.
        assert_eq!(
            retry_later(&outbox, &[1], 2_000, 0, 1_500, "still 503").unwrap(),
            1
        );
        assert_eq!(
            count(&outbox, "state = 'dead' AND last_error = 'still 503'"),
            1
        );
    }

    #[test]
    fn claim_plan_walks_the_state_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[]);
        for sql in [CLAIM, DUE] {
            let mut stmt = outbox
                .conn()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(params![0, 1, 1, 1, true], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains("USING INDEX events_state"), "{plan}");
            assert!(!plan.contains("USE TEMP B-TREE FOR ORDER BY"), "{plan}");
        }
    }

    #[test]
    fn acks_keep_or_delete_and_count_together_and_release_spends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox_with(&dir, &[10; 4]);
        claim(&outbox, 1, 10, 1 << 20).unwrap();
        assert_eq!(ack(&outbox, &[1], false).unwrap(), 1);
        assert_eq!(count(&outbox, "id = 1"), 0, "no history: deleted");
        assert_eq!(ack(&outbox, &[2], true).unwrap(), 1);
        assert_eq!(count(&outbox, "id = 2 AND state = 'delivered'"), 1, "kept");
        // Acknowledging a row twice counts it once.
        assert_eq!(ack(&outbox, &[2], true).unwrap(), 0);
        assert_eq!(ack(&outbox, &[2], false).unwrap(), 0);
        assert_eq!(
            count(&outbox, "id = 2"),
            1,
            "history is not acknowledged again"
        );
        assert_eq!(crate::shared::health::delivered_total(&outbox).unwrap(), 2);
        release(&outbox, &[3]).unwrap();
        assert_eq!(count(&outbox, "state = 'pending' AND attempts = 0"), 1);
        assert_eq!(reclaim_all(&outbox).unwrap(), 1);
        assert_eq!(count(&outbox, "state = 'in_flight'"), 0);
        bury(&outbox, &[3], 9, "refused").unwrap();
        assert_eq!(
            count(&outbox, "state = 'dead'"),
            0,
            "only claimed rows are buried"
        );
    }
}
