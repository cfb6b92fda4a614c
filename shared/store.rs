//! The outbox: one SQLite database of captured events, and the few statements every binary
//! needs (insert, counts, meta). Opening lives in `open`, the schema and its migrations in
//! `schema`. Claiming and acknowledging batches belong to the daemon; listing and retrying
//! belong to difflorectl.

mod open;
mod schema;
mod waiting;

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};

use super::event::{Fields, State};

pub use open::{Durability, OpenOptions};
pub use schema::SCHEMA_VERSION;
pub use waiting::Waiters;

/// Bytes of a rejected input kept for inspection.
pub const REJECTED_EXCERPT: usize = 4096;

/// The part of a rejected input that is kept: its first `REJECTED_EXCERPT` bytes.
pub fn rejected_excerpt(raw: &[u8]) -> &[u8] {
    &raw[..raw.len().min(REJECTED_EXCERPT)]
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open outbox at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "outbox at {path} has schema version {found}, newer than this difflore supports ({supported}); upgrade difflore"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("outbox at {path} has an unexpected schema: {what}")]
    UnknownSchema { path: PathBuf, what: String },
    #[error("outbox at {path}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// An open outbox database.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

impl Outbox {
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Wrap a rusqlite error with this outbox's path.
    pub fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Store one accepted event as `pending`. Returns its row id.
    pub fn insert(
        &self,
        received_ms: i64,
        fields: &Fields,
        payload: &str,
    ) -> Result<i64, StoreError> {
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(|e| self.sql(e))?;
        let stored = stmt.execute(params![
            received_ms,
            fields.client,
            fields.event,
            fields.session_id,
            fields.cwd,
            fields.tool,
            payload,
            payload.len() as i64,
            State::Pending.as_str(),
            Option::<String>::None,
        ]);
        waiting::HOOK.done();
        stored.map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Record an input that is not an event: its reason, its size and an excerpt, as a
    /// `rejected` row that is counted and can be inspected but is never uploaded.
    pub fn insert_rejected(
        &self,
        received_ms: i64,
        client: Option<&str>,
        reason: &str,
        raw: &[u8],
        size: usize,
    ) -> Result<i64, StoreError> {
        let excerpt = rejected_excerpt(raw);
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(|e| self.sql(e))?;
        let stored = stmt.execute(params![
            received_ms,
            client.unwrap_or("unknown"),
            "rejected",
            Option::<String>::None,
            Option::<String>::None,
            Option::<String>::None,
            excerpt,
            size as i64,
            State::Rejected.as_str(),
            reason,
        ]);
        waiting::HOOK.done();
        stored.map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Checkpoint the WAL when its file is longer than `limit` bytes, without waiting for
    /// anyone and without blocking anyone: a PASSIVE checkpoint takes no writer lock, so
    /// concurrent hooks keep inserting while it copies. Returns whether it copied all frames.
    ///
    /// Checkpoints are the daemon's job, but a process that opens the outbox while no other
    /// connection has it open rebuilds the WAL index from the whole WAL. Without a daemon the
    /// WAL would then grow without bound and every hook re-read all of it. Once a checkpoint
    /// is complete, the next insert on the same connection starts the WAL over from its
    /// beginning (a new connection would have forgotten the checkpoint), so the file stays
    /// about `limit` long. Call it before inserting.
    /// (TRUNCATE would shrink the file too, but it holds the writer lock through the copy and
    /// a sync of the database, which under I/O load can outlast a concurrent hook's deadline.)
    /// `needed` is asked only of a long WAL: whether the checkpoint is this caller's to make
    /// (the hook's answer: not while a daemon runs, which bounds the WAL itself).
    pub fn checkpoint_long_wal(
        &self,
        limit: u64,
        needed: impl FnOnce() -> bool,
    ) -> Result<bool, StoreError> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        match std::fs::metadata(&wal) {
            Ok(meta) if meta.len() > limit && needed() => {}
            _ => return Ok(false),
        }
        // When the insert that follows starts the WAL over, it also cuts the file back to
        // this size, so the length test above stays true only while the WAL is really long.
        self.conn
            .query_row("PRAGMA journal_size_limit = 65536", [], |_| Ok(()))
            .map_err(|e| self.sql(e))?;
        let (busy, log, copied): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.sql(e))?;
        Ok(busy == 0 && log == copied)
    }

    /// The random id generated once per database: event ids are `<install_id>-<rowid>`.
    pub fn install_id(&self) -> Result<String, StoreError> {
        self.meta("install_id").map(|v| v.unwrap_or_default())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// Bytes the database's pages hold (page count × page size, minus free pages): what
    /// `max_outbox_bytes` limits. Free pages are reused by later inserts, so they do not
    /// count even though the file keeps them.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT (p.page_count - f.freelist_count) * s.page_size
                 FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sql(e))
    }

    /// Rows per state (history included), plus the age of the oldest pending row.
    pub fn counts(&self) -> Result<QueueCounts, StoreError> {
        let mut c = QueueCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*), min(received_ms) FROM events GROUP BY state")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (state, n, oldest) = row.map_err(|e| self.sql(e))?;
            match state.as_str() {
                "pending" => {
                    c.pending = n;
                    c.oldest_pending_ms = oldest;
                }
                "in_flight" => c.in_flight = n,
                "dead" => c.dead = n,
                "rejected" => c.rejected = n,
                "delivered" => c.delivered = n,
                _ => {}
            }
        }
        Ok(c)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounts {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub rejected: i64,
    /// Delivered events kept as local history.
    pub delivered: i64,
    /// Received time of the oldest pending row.
    #[serde(skip)]
    pub oldest_pending_ms: Option<i64>,
}

const INSERT: &str = "INSERT INTO events
    (received_ms, client, event, session_id, cwd, tool, payload, size, state, last_error)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::event::classify;
    use crate::shared::paths::Paths;

    fn open(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap()
    }

    #[test]
    fn row_ids_are_never_reused_after_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir);
        let f = classify(br#"{"hook_event_name":"Stop"}"#, None).unwrap();
        let a = db.insert(1, &f, "{}").unwrap();
        db.conn().execute("DELETE FROM events", []).unwrap();
        let b = db.insert(2, &f, "{}").unwrap();
        assert!(b > a, "row id {b} reused after {a} was deleted");
    }

    #[test]
    fn install_id_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(&dir).install_id().unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(open(&dir).install_id().unwrap(), first);
    }
}
