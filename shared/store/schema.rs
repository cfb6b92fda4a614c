//! The outbox schema, version by version, and the migration that brings any older outbox up
//! to `SCHEMA_VERSION` in place. Never rewrites an outbox from a newer difflore.

use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

use super::{Outbox, StoreError};

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The schema version this build writes. A database with a larger `user_version` came from
/// a newer difflore and is refused, never rewritten.
pub const SCHEMA_VERSION: i64 = 4;

impl Outbox {
    /// The refusal of an outbox whose schema `found` is newer than this build.
    pub(super) fn newer(&self, found: i64) -> StoreError {
        StoreError::NewerSchema {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        }
    }

    pub(super) fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// Bring the schema to `SCHEMA_VERSION`. Costs one `PRAGMA user_version` read when the
    /// schema is current, which is every hook run but the first.
    ///
    /// When several processes create the outbox at once, switching the new file to WAL (or
    /// upgrading a read to a write) can fail with SQLITE_BUSY at once, without the busy
    /// handler: SQLite refuses to wait there to avoid a deadlock. So a busy attempt is
    /// rolled back and tried again, within `patience`.
    pub(super) fn migrate(&self, patience: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + patience;
        loop {
            match self.migrate_once() {
                Err(StoreError::Sql { source, .. })
                    if is_busy(&source) && Instant::now() < deadline =>
                {
                    if !self.conn.is_autocommit() {
                        let _ = self.conn.execute_batch("ROLLBACK");
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                done => return done,
            }
        }
    }

    fn migrate_once(&self) -> Result<(), StoreError> {
        let found = self.user_version()?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found > SCHEMA_VERSION {
            return Err(self.newer(found));
        }
        // WAL is a property of the file: set once, before the first write transaction.
        self.conn
            .query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(|e| self.sql(e))?;
        // IMMEDIATE takes the write lock first, so concurrent first hooks wait here and then
        // see the schema another one created.
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sql(e))?;
        let result = self.migrate_locked();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.conn.execute_batch(end).map_err(|e| self.sql(e));
        result.and(ended)
    }

    fn migrate_locked(&self) -> Result<(), StoreError> {
        let found = self.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(self.newer(found));
        }
        if found < 1 {
            self.conn
                .execute_batch(SCHEMA_V1)
                .map_err(|e| self.sql(e))?;
        }
        if found < 2 {
            self.conn
                .execute_batch(SCHEMA_V2)
                .map_err(|e| self.sql(e))?;
        }
        if found < 4 {
            self.keep_delivered_rows()?;
            self.conn
                .execute_batch(SCHEMA_V4)
                .map_err(|e| self.sql(e))?;
        }
        // Later versions add `if found < N { … }` steps here.
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.sql(e))
    }
}

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- AUTOINCREMENT: row ids are never reused, so <install_id>-<id> stays unique forever.
CREATE TABLE IF NOT EXISTS events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms      INTEGER NOT NULL,
    client           TEXT NOT NULL,
    event            TEXT NOT NULL,
    session_id       TEXT,
    cwd              TEXT,
    tool             TEXT,
    payload          BLOB NOT NULL,   -- exactly as received (rejected rows: the first 4 KiB)
    size             INTEGER NOT NULL, -- bytes received
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_flight', 'dead', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL DEFAULT 0,
    claimed_ms       INTEGER,
    first_failure_ms INTEGER,
    last_error       TEXT
);

-- 'Oldest due pending rows' is an index range scan.
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_attempt_ms, id);

-- Spill files already imported: makes each import exactly-once.
CREATE TABLE IF NOT EXISTS spill_imported (
    name        TEXT PRIMARY KEY,
    imported_ms INTEGER NOT NULL,
    rows        INTEGER NOT NULL
) WITHOUT ROWID;

INSERT OR IGNORE INTO meta(key, value) VALUES ('install_id', lower(hex(randomblob(16))));
INSERT OR IGNORE INTO meta(key, value) VALUES ('delivered_total', '0');
";

/// One index in place of `events_due (state, next_attempt_ms, id)`, whose order made the
/// daemon's claim (`state = 'pending' … ORDER BY id LIMIT n`) sort every due pending row on
/// every batch. In (state, id) order the claim walks pending rows oldest first and stops
/// after the batch, reading `next_attempt_ms` from the index; waking backed-off rows,
/// trimming, reclaiming and difflorectl's per-state counts and deletes use its state prefix.
/// Replacing rather than adding keeps the hook's insert at two b-trees.
const SCHEMA_V2: &str = "
DROP INDEX IF EXISTS events_due;
CREATE INDEX IF NOT EXISTS events_state ON events (state, id, next_attempt_ms);
";

/// The states version 1 allowed, exactly as its `CREATE TABLE` spells them, and the same list
/// with `delivered` (local history) added.
const V1_STATES: &str = "CHECK (state IN ('pending', 'in_flight', 'dead', 'rejected'))";
const V4_STATES: &str =
    "CHECK (state IN ('pending', 'in_flight', 'dead', 'rejected', 'delivered'))";

impl Outbox {
    /// Allow the `delivered` state in place. Loosening a CHECK constraint changes no stored
    /// row, so SQLite's documented shortcut applies (ALTER TABLE, "making other kinds of
    /// table schema changes"): rewrite the table's text in `sqlite_schema` and bump
    /// `schema_version`, inside the migration's write transaction, instead of copying every
    /// row into a new table while hooks wait for the lock.
    fn keep_delivered_rows(&self) -> Result<(), StoreError> {
        let sql = |e| self.sql(e);
        let text: String = self
            .conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'events'",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if text.contains(V4_STATES) {
            return Ok(());
        }
        if !text.contains(V1_STATES) {
            return Err(StoreError::UnknownSchema {
                path: self.path.clone(),
                what: "the events table's state constraint".into(),
            });
        }
        let version: i64 = self
            .conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .map_err(sql)?;
        self.conn
            .pragma_update(None, "writable_schema", true)
            .map_err(sql)?;
        let updated = self.conn.execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = 'events'",
            [text.replace(V1_STATES, V4_STATES)],
        );
        let bumped = self
            .conn
            .pragma_update(None, "schema_version", version + 1);
        let off = self.conn.pragma_update(None, "writable_schema", false);
        updated.map_err(sql)?;
        bumped.map_err(sql)?;
        off.map_err(sql)
    }
}

/// Local history (`keep_history`) and token usage.
/// - `events_session`: a session's events in time order, for `sessions` and `show`
///   (measured on the hook's path in `make bench`).
/// - `transcripts`: how far the daemon has read each agent transcript, and which file it
///   was (device and inode, a fingerprint of its first line), so a rotated, truncated or
///   replaced file is read again from its start without counting anything twice.
/// - `usage`: one row per model response, unique per transcript and `key` (the message id
///   and request id, or a running total), attributed to a session at a time.
const SCHEMA_V4: &str = "
CREATE INDEX IF NOT EXISTS events_session ON events (session_id, received_ms);

CREATE TABLE IF NOT EXISTS transcripts (
    path        TEXT PRIMARY KEY,
    client      TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    dev         INTEGER,
    ino         INTEGER,
    head        TEXT,              -- fingerprint of the first line
    offset      INTEGER NOT NULL DEFAULT 0,
    carry       TEXT,              -- what the format needs next time (Codex: last totals)
    skipped     INTEGER NOT NULL DEFAULT 0,
    read_ms     INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS usage (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,     -- the transcript path
    key         TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    client      TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    model       TEXT,
    input       INTEGER NOT NULL DEFAULT 0,
    output      INTEGER NOT NULL DEFAULT 0,
    cache_read  INTEGER NOT NULL DEFAULT 0,
    cache_write INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS usage_session ON usage (session_id, at_ms);

INSERT OR IGNORE INTO meta(key, value) VALUES ('usage_skipped', '0');
";

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::shared::paths::Paths;
    use crate::shared::store::OpenOptions;

    fn open(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap()
    }

    #[test]
    fn a_version_1_outbox_gets_the_state_index_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let raw = Connection::open(dir.path().join("outbox.db")).unwrap();
        raw.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        raw.execute_batch(SCHEMA_V1).unwrap();
        raw.pragma_update(None, "user_version", 1).unwrap();
        raw.execute(
            "INSERT INTO events (received_ms, client, event, payload, size) \
             VALUES (7, 'claude', 'Stop', '{}', 2)",
            [],
        )
        .unwrap();
        let install_id: String = raw
            .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
                r.get(0)
            })
            .unwrap();
        drop(raw);

        let db = open(&dir);
        assert_eq!(db.user_version().unwrap(), SCHEMA_VERSION);
        let indexes: Vec<String> = db
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["events_session", "events_state"]);
        assert_eq!(db.counts().unwrap().pending, 1);
        assert_eq!(db.install_id().unwrap(), install_id);
    }

    #[test]
    fn a_version_2_outbox_learns_the_delivered_state_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let raw = Connection::open(dir.path().join("outbox.db")).unwrap();
        raw.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        raw.execute_batch(SCHEMA_V1).unwrap();
        raw.execute_batch(SCHEMA_V2).unwrap();
        raw.pragma_update(None, "user_version", 2).unwrap();
        raw.execute(
            "INSERT INTO events (received_ms, client, event, payload, size) \
             VALUES (7, 'claude', 'Stop', '{}', 2)",
            [],
        )
        .unwrap();
        assert!(
            raw.execute("UPDATE events SET state = 'delivered'", [])
                .is_err(),
            "version 2 refuses the state"
        );
        drop(raw);

        let db = open(&dir);
        assert_eq!(db.user_version().unwrap(), SCHEMA_VERSION);
        db.conn()
            .execute("UPDATE events SET state = 'delivered'", [])
            .unwrap();
        assert!(
            db.conn()
                .execute("UPDATE events SET state = 'gone'", [])
                .is_err(),
            "the constraint still holds"
        );
        let ok: String = db
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        drop(db);
        // A second connection (a hook's) sees the new constraint too.
        let again = open(&dir);
        let n: i64 = again
            .conn()
            .query_row("SELECT count(*) FROM events WHERE state = 'delivered'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn newer_schema_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir));
        let raw = Connection::open(dir.path().join("outbox.db")).unwrap();
        raw.pragma_update(None, "user_version", 99).unwrap();
        drop(raw);
        let err = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived())
            .err()
            .expect("a newer schema must be refused");
        assert!(err.to_string().contains("schema version 99"), "{err}");
        let raw = Connection::open(dir.path().join("outbox.db")).unwrap();
        let v: i64 = raw
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 99);
    }
}
