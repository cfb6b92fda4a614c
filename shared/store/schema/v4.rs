//! Outbox schema version 4, local history: delivered rows are kept (the `delivered` state),
//! an index for the views, and the tables of token usage read from agent transcripts.
//! The step itself is `if found < 4` in `schema`; this file holds what it runs.

use crate::shared::store::{Outbox, StoreError};

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
    pub(super) fn keep_delivered_rows(&self) -> Result<(), StoreError> {
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
        let bumped = self.conn.pragma_update(None, "schema_version", version + 1);
        let off = self.conn.pragma_update(None, "writable_schema", false);
        updated.map_err(sql)?;
        bumped.map_err(sql)?;
        off.map_err(sql)
    }
}

/// Local history (`keep_history`) and token usage.
/// - `events_session`: a session's events in time order with their kind and call id, so
///   `sessions` counts prompts, tool calls and failures from the index alone, without
///   reading a payload. The hook's insert adds an entry with the kind and call id still
///   empty (the assembler fills them later); its cost is measured on the hook's path in
///   `make bench`.
/// - `transcripts`: how far the daemon has read each agent transcript, and which file it
///   was (device and inode, a fingerprint of its first line), so a rotated, truncated or
///   replaced file is read again from its start without counting anything twice.
/// - `usage`: one row per model response, unique per transcript and `key` (the message id
///   and request id, or a running total), attributed to a session at a time.
pub(super) const SCHEMA_V4: &str = "
CREATE INDEX IF NOT EXISTS events_session ON events (session_id, received_ms, kind, call_id);

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
    turn        INTEGER,           -- the session's turn (events.turn) the response belongs to
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

    use super::super::{SCHEMA_V1, SCHEMA_V2, SCHEMA_VERSION, raw_outbox};
    use crate::shared::paths::Paths;
    use crate::shared::store::{OpenOptions, Outbox};

    fn open(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap()
    }

    #[test]
    fn a_version_2_outbox_learns_the_delivered_state_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw_outbox(&dir, &[SCHEMA_V1, SCHEMA_V2], 2);
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
            .query_row(
                "SELECT count(*) FROM events WHERE state = 'delivered'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}
