//! Schema migrations never run inside a hook: a hook that finds an older outbox inserts
//! into it as it stands, and the daemon or difflorectl migrates it (saying so on stderr).

use crate::common::Sandbox;
use crate::support::{assert_silent, event, spill_entries};

/// Version 1 of the outbox, as the first release created it.
const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms      INTEGER NOT NULL,
    client           TEXT NOT NULL,
    event            TEXT NOT NULL,
    session_id       TEXT,
    cwd              TEXT,
    tool             TEXT,
    payload          BLOB NOT NULL,
    size             INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_flight', 'dead', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL DEFAULT 0,
    claimed_ms       INTEGER,
    first_failure_ms INTEGER,
    last_error       TEXT
);
CREATE INDEX events_due ON events (state, next_attempt_ms, id);
CREATE TABLE spill_imported (
    name TEXT PRIMARY KEY, imported_ms INTEGER NOT NULL, rows INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('install_id', 'aaaabbbbccccddddeeeeffff00001111');
INSERT INTO meta(key, value) VALUES ('delivered_total', '0');
PRAGMA user_version = 1;
";

fn version(sb: &Sandbox) -> i64 {
    sb.sqlite()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_hook_inserts_into_an_older_outbox_without_migrating_it_and_ctl_migrates() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.home()).unwrap();
    let conn = sb.sqlite();
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    drop(conn);

    for n in ["one", "two"] {
        assert_silent(&sb.hook(&[], &event(n)));
    }
    assert_eq!(version(&sb), 1, "a hook migrated the outbox");
    assert_eq!(sb.count("state = 'pending'"), 2);
    assert_eq!(spill_entries(&sb), 0);

    // difflorectl (like the daemon) migrates, and says so.
    let out = sb
        .cmd("difflorectl")
        .args(["purge", "--dead", "--yes"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("migrating outbox") && err.contains("2 rows"),
        "{err}"
    );
    assert!(err.contains("migrated to schema"), "{err}");
    assert!(version(&sb) > 1);
    assert_eq!(sb.count("state = 'pending'"), 2);
    assert_silent(&sb.hook(&[], &event("three")));
    assert_eq!(sb.count("state = 'pending'"), 3);
}

#[test]
fn a_hook_that_finds_no_outbox_creates_the_current_schema() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("first")));
    assert_eq!(version(&sb), difflore::shared::store::SCHEMA_VERSION);
}
