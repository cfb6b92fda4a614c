//! The outbox schema, version by version, and the migration that brings any older outbox up
//! to `SCHEMA_VERSION` in place. Never rewrites an outbox from a newer difflore.

use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

use super::{OpenOptions, Outbox, StoreError};

mod v4;
mod v5;
mod v6;

use v4::SCHEMA_V4;
use v5::SCHEMA_V5;
use v6::SCHEMA_V6;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The schema version this build writes. A database with a larger `user_version` came from
/// a newer difflore and is refused, never rewritten.
pub const SCHEMA_VERSION: i64 = 6;

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
    /// Without `opts.migrate` (the hook) only a missing schema is created: an existing
    /// outbox of any other version is used as it stands, whatever the version numbers say.
    /// The hook's INSERT names only version 1's columns, and every later version adds
    /// columns that are nullable or have defaults, so it works on any of them; if it does
    /// not (a damaged or foreign database), the insert fails and the event spills. The
    /// daemon and difflorectl migrate.
    ///
    /// When several processes create the outbox at once, switching the new file to WAL (or
    /// upgrading a read to a write) can fail with SQLITE_BUSY at once, without the busy
    /// handler: SQLite refuses to wait there to avoid a deadlock. So a busy attempt is
    /// rolled back and tried again, within `patience`.
    pub(super) fn migrate(&self, opts: OpenOptions) -> Result<(), StoreError> {
        let deadline = Instant::now() + opts.busy_timeout;
        loop {
            match self.migrate_once(opts) {
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

    fn migrate_once(&self, opts: OpenOptions) -> Result<(), StoreError> {
        let found = self.user_version()?;
        if found == SCHEMA_VERSION || (found > 0 && !opts.migrate) {
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
        let result = self.migrate_locked(opts);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.conn.execute_batch(end).map_err(|e| self.sql(e));
        result.and(ended)
    }

    fn migrate_locked(&self, opts: OpenOptions) -> Result<(), StoreError> {
        let found = self.user_version()?;
        if found > 0 && !opts.migrate {
            // Another first hook created it meanwhile.
            return Ok(());
        }
        if found > SCHEMA_VERSION {
            return Err(self.newer(found));
        }
        let started = Instant::now();
        let tell = |line: String| {
            if let Some(progress) = opts.progress {
                progress(&line);
            }
        };
        if found > 0 {
            let rows: i64 = self
                .conn
                .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            tell(format!(
                "migrating outbox at {} from schema {found} to {SCHEMA_VERSION} ({rows} rows); hooks spill until it is done",
                self.path.display()
            ));
        }
        let step = |n: i64| {
            if found > 0 && found < n {
                tell(format!(
                    "outbox schema step {n} of {SCHEMA_VERSION} ({:.1} s so far)",
                    started.elapsed().as_secs_f64()
                ));
            }
        };
        if found < 1 {
            self.conn
                .execute_batch(SCHEMA_V1)
                .map_err(|e| self.sql(e))?;
        }
        if found < 2 {
            step(2);
            self.conn
                .execute_batch(SCHEMA_V2)
                .map_err(|e| self.sql(e))?;
        }
        if found < 3 {
            step(3);
            self.conn
                .execute_batch(SCHEMA_V3)
                .map_err(|e| self.sql(e))?;
        }
        if found < 4 {
            step(4);
            self.keep_delivered_rows()?;
            self.conn
                .execute_batch(SCHEMA_V4)
                .map_err(|e| self.sql(e))?;
        }
        if found < 5 {
            step(5);
            self.conn
                .execute_batch(SCHEMA_V5)
                .map_err(|e| self.sql(e))?;
        }
        if found < 6 {
            step(6);
            self.conn
                .execute_batch(SCHEMA_V6)
                .map_err(|e| self.sql(e))?;
        }
        // Later versions add `if found < N { step(N); … }` steps here.
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.sql(e))?;
        if found > 0 {
            tell(format!(
                "outbox migrated to schema {SCHEMA_VERSION} in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }
}

/// A raw outbox at schema `version`, built by running `steps` as older builds did.
#[cfg(test)]
fn raw_outbox(dir: &tempfile::TempDir, steps: &[&str], version: i64) -> rusqlite::Connection {
    let raw = rusqlite::Connection::open(dir.path().join("outbox.db")).unwrap();
    raw.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    for step in steps {
        raw.execute_batch(step).unwrap();
    }
    raw.pragma_update(None, "user_version", version).unwrap();
    raw
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

/// The capture model (`shared::assemble`): each event's normalized kind, the call id that
/// pairs a tool call's pre and post, and the ordinal of its turn, written by the daemon (or
/// difflorectl) in id order after the hook's insert, which never names these columns. The
/// span state lives in tables, so a restart or an outage between a pre and its post changes
/// nothing: `span_sessions` (turn counter and open turn per session) and `spans` (open spans,
/// and closed ones until the outbox row that carries them out is gone).
const SCHEMA_V3: &str = "
ALTER TABLE events ADD COLUMN kind TEXT;
ALTER TABLE events ADD COLUMN call_id TEXT;
ALTER TABLE events ADD COLUMN turn INTEGER;

CREATE TABLE IF NOT EXISTS span_sessions (
    session_id TEXT PRIMARY KEY,
    client     TEXT NOT NULL,
    turns      INTEGER NOT NULL DEFAULT 0, -- ordinal of the latest turn (1-based)
    open_turn  INTEGER,                    -- ordinal of the turn open now
    last_ms    INTEGER NOT NULL,           -- capture time of the latest event
    ended_ms   INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS spans (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    turn        INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('turn', 'tool', 'subagent')),
    call_id     TEXT,          -- tool: the call id; subagent: the agent id; turn: NULL
    parent_kind TEXT,          -- NULL under the turn span
    parent_call TEXT,
    client      TEXT NOT NULL,
    name        TEXT,          -- tool name, subagent type
    model       TEXT,
    start_event INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_event   INTEGER,       -- the outbox row whose outgoing record carries the span
    end_ms      INTEGER,
    failed      INTEGER NOT NULL DEFAULT 0,
    incomplete  INTEGER NOT NULL DEFAULT 0,
    arguments   TEXT           -- the pre's tool input, kept only when content is sent
);
CREATE INDEX IF NOT EXISTS spans_open ON spans (session_id, end_event);
CREATE INDEX IF NOT EXISTS spans_closed_by ON spans (end_event);

INSERT OR IGNORE INTO meta(key, value) VALUES ('assembled_through', '0');
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
        let raw = raw_outbox(&dir, &[SCHEMA_V1], 1);
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
    fn a_version_2_outbox_gains_the_capture_model_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw_outbox(&dir, &[SCHEMA_V1, SCHEMA_V2], 2);
        raw.execute(
            "INSERT INTO events (received_ms, client, event, payload, size) \
             VALUES (7, 'codex', 'Stop', '{}', 2)",
            [],
        )
        .unwrap();
        drop(raw);

        let db = open(&dir);
        assert_eq!(db.user_version().unwrap(), SCHEMA_VERSION);
        let (kind, call, turn): (Option<String>, Option<String>, Option<i64>) = db
            .conn()
            .query_row("SELECT kind, call_id, turn FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((kind, call, turn), (None, None, None));
        assert_eq!(db.meta("assembled_through").unwrap().as_deref(), Some("0"));
        let spans: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM spans", [], |r| r.get(0))
            .unwrap();
        assert_eq!(spans, 0);
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
