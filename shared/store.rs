//! The outbox: one SQLite database of captured events, its schema and migrations, and the
//! few statements every binary needs (insert, counts, meta). Claiming and acknowledging
//! batches belong to the daemon; listing and retrying belong to difflorectl.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::event::{Fields, State};
use super::paths::Paths;

/// The schema version this build writes. A database with a larger `user_version` came from
/// a newer difflore and is refused, never rewritten.
pub const SCHEMA_VERSION: i64 = 2;

/// Bytes of a rejected input kept for inspection.
pub const REJECTED_EXCERPT: usize = 4096;

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
    #[error("outbox at {path}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// How hard a commit tries to survive power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL + synchronous=NORMAL: survives any crash of difflore; the last commits may be lost
    /// if the machine loses power.
    Normal,
    /// synchronous=FULL: every commit is synced.
    Full,
}

impl Durability {
    /// `DIFFLORE_SYNC=full` selects FULL; anything else is NORMAL.
    pub fn from_env() -> Durability {
        match std::env::var("DIFFLORE_SYNC") {
            Ok(v) if v.eq_ignore_ascii_case("full") => Durability::Full,
            _ => Durability::Normal,
        }
    }
}

/// How a process opens the outbox.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// How long a statement waits for a lock before giving up with SQLITE_BUSY.
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// The hook sets this: its close must not checkpoint the WAL (the daemon does that).
    pub skip_checkpoint_on_close: bool,
}

impl OpenOptions {
    pub fn hook(busy_timeout: Duration) -> OpenOptions {
        OpenOptions {
            busy_timeout,
            durability: Durability::from_env(),
            skip_checkpoint_on_close: true,
        }
    }

    pub fn long_lived() -> OpenOptions {
        OpenOptions {
            busy_timeout: Duration::from_secs(5),
            durability: Durability::from_env(),
            skip_checkpoint_on_close: false,
        }
    }
}

/// An open outbox database.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

impl Outbox {
    /// Open (creating if needed) and migrate the outbox under `paths`.
    pub fn open(paths: &Paths, opts: OpenOptions) -> Result<Outbox, StoreError> {
        let path = paths.db();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let outbox = Outbox { conn, path };
        outbox.configure(opts)?;
        outbox.migrate()?;
        Ok(outbox)
    }

    /// Open an existing outbox read-only, for `status` (which must change nothing).
    /// `Ok(None)` when there is no database yet.
    ///
    /// A plain read-only SQLite connection still creates the `-wal` and `-shm` files when
    /// they are missing and writes read marks into `-shm`. So: with both present, `-shm` is
    /// opened read-only (`readonly_shm`). With neither a WAL nor a rollback journal, nobody
    /// is writing and every committed page is in the main file, which is read `immutable`
    /// (a writer that appears meanwhile writes to a new WAL, which this snapshot ignores).
    /// Only while a writer creates the database (a `-journal` exists) is it opened plainly,
    /// waiting for that writer like any reader.
    pub fn open_read_only(paths: &Paths) -> Result<Option<Outbox>, StoreError> {
        let path = paths.db();
        if !path.exists() {
            return Ok(None);
        }
        let beside = |suffix: &str| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            std::path::Path::new(&p).exists()
        };
        let mode = match (beside("-wal"), beside("-shm"), beside("-journal")) {
            (true, true, _) => "mode=ro&readonly_shm=1",
            (false, _, false) => "immutable=1",
            _ => "mode=ro",
        };
        let uri = format!("file:{}?{mode}", uri_path(&path));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&uri, flags).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let outbox = Outbox { conn, path };
        outbox
            .conn
            .busy_timeout(Duration::from_secs(2))
            .map_err(|e| outbox.sql(e))?;
        let found = outbox.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(outbox.newer(found));
        }
        Ok((found > 0).then_some(outbox))
    }

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

    fn newer(&self, found: i64) -> StoreError {
        StoreError::NewerSchema {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        }
    }

    fn configure(&self, opts: OpenOptions) -> Result<(), StoreError> {
        let c = &self.conn;
        c.busy_timeout(opts.busy_timeout).map_err(|e| self.sql(e))?;
        let sync = match opts.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        c.pragma_update(None, "synchronous", sync)
            .map_err(|e| self.sql(e))?;
        if opts.skip_checkpoint_on_close {
            c.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// Bring the schema to `SCHEMA_VERSION`. Costs one `PRAGMA user_version` read when the
    /// schema is current, which is every hook run but the first.
    fn migrate(&self) -> Result<(), StoreError> {
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
        // Later versions add `if found < N { … }` steps here.
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.sql(e))
    }

    /// Store one accepted event as `pending`. Returns its row id.
    pub fn insert(
        &self,
        received_ms: i64,
        fields: &Fields,
        payload: &str,
    ) -> Result<i64, StoreError> {
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(|e| self.sql(e))?;
        stmt.execute(params![
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
        ])
        .map_err(|e| self.sql(e))?;
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
        let excerpt = &raw[..raw.len().min(REJECTED_EXCERPT)];
        let mut stmt = self.conn.prepare_cached(INSERT).map_err(|e| self.sql(e))?;
        stmt.execute(params![
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
        ])
        .map_err(|e| self.sql(e))?;
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
    pub fn checkpoint_long_wal(&self, limit: u64) -> Result<bool, StoreError> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        match std::fs::metadata(&wal) {
            Ok(meta) if meta.len() > limit => {}
            _ => return Ok(false),
        }
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

    /// Rows per state, plus the age of the oldest pending row.
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
    /// Received time of the oldest pending row.
    #[serde(skip)]
    pub oldest_pending_ms: Option<i64>,
}

/// A path as an SQLite URI path: `%`, `?` and `#` (and anything not printable) escaped.
fn uri_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'%' | b'?' | b'#' => out.push_str(&format!("%{b:02X}")),
            0x21..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

const INSERT: &str = "INSERT INTO events
    (received_ms, client, event, session_id, cwd, tool, payload, size, state, last_error)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

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

/// The daemon's claim walks pending rows in id order and stops after a batch (it names this
/// index): through `events_due` SQLite sorted every due pending row on every claim.
/// `events_due` stays: waking backed-off rows, trimming, reclaiming and difflorectl's
/// per-state counts and deletes look rows up through it.
const SCHEMA_V2: &str = "
CREATE INDEX IF NOT EXISTS events_pending ON events (id) WHERE state = 'pending';
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::event::classify;

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

    #[test]
    fn read_only_open_finds_odd_paths_and_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("a dir?#%é");
        let paths = Paths::at(&home);
        paths.ensure_home().unwrap();
        let f = classify(br#"{"hook_event_name":"Stop"}"#, None).unwrap();
        let db = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
        db.insert(1, &f, "{}").unwrap();
        drop(db);
        let before: Vec<_> = std::fs::read_dir(&home)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let ro = Outbox::open_read_only(&paths).unwrap().unwrap();
        assert_eq!(ro.counts().unwrap().pending, 1);
        drop(ro);
        let after: Vec<_> = std::fs::read_dir(&home)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(after, before);
    }

    #[test]
    fn a_version_1_outbox_gains_the_pending_index_in_place() {
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
        assert_eq!(db.user_version().unwrap(), 2);
        let indexes: Vec<String> = db
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["events_due", "events_pending"]);
        assert_eq!(db.counts().unwrap().pending, 1);
        assert_eq!(db.install_id().unwrap(), install_id);
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
