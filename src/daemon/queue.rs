//! The daemon's statements on the outbox: claim a batch with one `UPDATE … RETURNING`,
//! acknowledge (delete + delivered counter in one transaction), release, retry later, bury.
//! Only the lock holder runs these; nothing here talks to a collector.

use rusqlite::{Transaction, TransactionBehavior, params};

use crate::shared::store::{Outbox, StoreError};

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
    pub payload: Vec<u8>,
    pub size: i64,
}

/// At start: no other drainer can exist (we hold the lock), so every claim is orphaned.
pub fn reclaim_all(outbox: &Outbox) -> Result<usize, StoreError> {
    outbox
        .conn()
        .execute(
            "UPDATE events SET state = 'pending', claimed_ms = NULL WHERE state = 'in_flight'",
            [],
        )
        .map_err(|e| outbox.sql(e))
}

/// Claim the oldest due pending rows: at most `max_events`, and no more than `max_bytes`
/// (estimated) unless the first row alone is larger. One statement: no read-then-write.
pub fn claim(
    outbox: &Outbox,
    now_ms: i64,
    max_events: usize,
    max_bytes: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let mut stmt = outbox
        .conn()
        .prepare_cached(
            "UPDATE events SET state = 'in_flight', claimed_ms = ?1
             WHERE id IN (
                SELECT id FROM (
                    SELECT id, size, sum(size + ?4) OVER (ORDER BY id) AS running
                    FROM (SELECT id, size FROM events
                          WHERE state = 'pending' AND next_attempt_ms <= ?1
                          ORDER BY id LIMIT ?2))
                WHERE running - size - ?4 < ?3)
             RETURNING id, received_ms, client, event, session_id, cwd, tool, payload, size",
        )
        .map_err(|e| outbox.sql(e))?;
    let rows = stmt
        .query_map(
            params![
                now_ms,
                max_events.max(1) as i64,
                max_bytes as i64,
                ENVELOPE_BYTES
            ],
            |r| {
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
                })
            },
        )
        .map_err(|e| outbox.sql(e))?;
    let mut batch = rows
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| outbox.sql(e))?;
    // RETURNING order is unspecified.
    batch.sort_by_key(|c| c.id);
    Ok(batch)
}

/// Delivered: delete the rows and count them, in one transaction.
pub fn ack(outbox: &Outbox, ids: &[i64]) -> Result<usize, StoreError> {
    in_tx(outbox, |tx| {
        let mut deleted = 0;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM events WHERE id = ?1 AND state = 'in_flight'")
                .map_err(|e| outbox.sql(e))?;
            for id in ids {
                deleted += del.execute([id]).map_err(|e| outbox.sql(e))?;
            }
        }
        tx.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ?1 WHERE key = 'delivered_total'",
            [deleted as i64],
        )
        .map_err(|e| outbox.sql(e))?;
        Ok(deleted)
    })
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

/// Every in-flight row back to pending (at a clean stop).
pub fn release_all(outbox: &Outbox) -> Result<usize, StoreError> {
    reclaim_all(outbox)
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
