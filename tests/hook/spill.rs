//! When the outbox cannot take a row (locked, read-only, newer schema) the event goes to a
//! spill file with one stderr line, and comes back into the outbox exactly once.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use difflore::shared::sys::effective_uid;

use crate::common::{self, Sandbox};
use crate::support::{
    assert_silent, event, mode, one_stderr_line, rows, set_mode, spill_entries, spill_files,
};

/// The conventional `nobody`: any unprivileged uid proves the point.
const UNPRIVILEGED: u32 = 65534;

fn db_files(sb: &Sandbox) -> Vec<PathBuf> {
    ["outbox.db", "outbox.db-wal", "outbox.db-shm"]
        .iter()
        .map(|n| sb.home().join(n))
        .filter(|p| p.exists())
        .collect()
}

fn hook_with_timeout(sb: &Sandbox, input: &[u8]) -> std::process::Output {
    let mut cmd = sb.cmd("difflore-hook");
    cmd.env("DIFFLORE_HOOK_TIMEOUT_MS", "100");
    common::run_with_stdin(&mut cmd, input)
}

#[test]
fn locked_outbox_spills_then_the_next_hook_imports_it_exactly_once() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("first")));
    let raw = common::fixture("claude-code/PostToolUse.json");

    let holder = sb.sqlite();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let line = one_stderr_line(&hook_with_timeout(&sb, &raw));
    let spilled = spill_files(&sb);
    assert_eq!(spilled.len(), 1, "{spilled:?}");
    assert!(line.contains("locked"), "{line}");
    assert!(
        line.contains(&*spilled[0].to_string_lossy()),
        "{line} does not name the file"
    );
    assert_eq!(mode(&spilled[0]), 0o600);
    assert_eq!(mode(&sb.home().join("spill")), 0o700);
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);

    assert_silent(&sb.hook(&[], &event("second")));
    let all = rows(&sb);
    let sessions: Vec<_> = all.iter().map(|r| r.session_id.as_deref()).collect();
    assert_eq!(
        sessions,
        [
            Some("first"),
            Some("second"),
            Some("3f2a9c1e-7b4d-4e8a-9c21-5d6e7f8a9b0c")
        ],
        "the importing hook stores its own event, then the spilled one"
    );
    let back = &all[2];
    assert_eq!(
        (back.client.as_str(), back.event.as_str()),
        ("claude-code", "PostToolUse")
    );
    assert_eq!(
        (back.tool.as_deref(), back.state.as_str()),
        (Some("Bash"), "pending")
    );
    assert_eq!(back.payload, raw, "spilled payload changed on its way back");
    assert_eq!(spill_entries(&sb), 0, "imported spill file left behind");

    assert_silent(&sb.hook(&[], &event("third")));
    assert_eq!(rows(&sb).len(), 4, "a second import added rows");
    assert_eq!(rows(&sb).iter().filter(|r| r.payload == raw).count(), 1);
}

#[test]
fn bad_input_while_locked_is_spilled_and_imported_as_rejected() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("first")));
    let holder = sb.sqlite();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let line = one_stderr_line(&hook_with_timeout(&sb, b"not json"));
    assert!(line.contains("not JSON"), "{line}");
    assert_eq!(spill_files(&sb).len(), 1);
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);

    assert_silent(&sb.hook(&[], &event("second")));
    let rejected: Vec<_> = rows(&sb)
        .into_iter()
        .filter(|r| r.state == "rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(
        (rejected[0].payload.as_slice(), rejected[0].size),
        (&b"not json"[..], 8)
    );
    assert_eq!(spill_entries(&sb), 0);
}

#[test]
fn read_only_outbox_spills_then_is_imported_once_writable_again() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("before")));
    let files = db_files(&sb);
    let as_root = effective_uid() == 0;
    let mut cmd = sb.cmd("difflore-hook");
    cmd.env("DIFFLORE_HOOK_TIMEOUT_MS", "100");
    if as_root {
        // Root ignores file modes, so the hook runs as an unprivileged uid that owns the data
        // home (the hook refuses anybody else's) and its spill directory, but may only read
        // the outbox files, which stay root's.
        set_mode(sb.dir.path(), 0o711);
        std::os::unix::fs::chown(sb.home(), Some(UNPRIVILEGED), Some(UNPRIVILEGED)).unwrap();
        for f in &files {
            set_mode(f, 0o644);
        }
        let spill = sb.home().join("spill");
        std::fs::create_dir(&spill).unwrap();
        std::os::unix::fs::chown(&spill, Some(UNPRIVILEGED), Some(UNPRIVILEGED)).unwrap();
        // The build tree may sit in a folder that uid cannot enter: run a copy placed
        // beside the data home instead.
        let exe = sb.dir.path().join("difflore-hook");
        std::fs::copy(common::hook_bin(), &exe).unwrap();
        set_mode(&exe, 0o755);
        cmd = sb.command(&exe);
        cmd.env("DIFFLORE_HOOK_TIMEOUT_MS", "100");
        cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    } else {
        for f in &files {
            set_mode(f, 0o444);
        }
    }
    let db_before = std::fs::read(sb.db()).unwrap();
    let raw = common::fixture("gemini/AfterTool.json");
    let line = one_stderr_line(&common::run_with_stdin(&mut cmd, &raw));
    assert!(
        line.contains("readonly") || line.contains("read-only"),
        "{line}"
    );
    assert_eq!(spill_files(&sb).len(), 1, "{line}");
    assert_eq!(
        std::fs::read(sb.db()).unwrap(),
        db_before,
        "read-only outbox was written"
    );

    for f in &files {
        set_mode(f, 0o600);
    }
    if as_root {
        std::os::unix::fs::chown(sb.home(), Some(0), Some(0)).unwrap();
        std::os::unix::fs::chown(sb.home().join("spill"), Some(0), Some(0)).unwrap();
    }
    assert_silent(&sb.hook(&[], &event("after")));
    let all = rows(&sb);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all.iter().filter(|r| r.payload == raw).count(), 1);
    assert_eq!(spill_files(&sb).len(), 0);
    assert_silent(&sb.hook(&[], &event("later")));
    assert_eq!(rows(&sb).len(), 4, "a second import added rows");
}

#[test]
fn a_newer_outbox_is_inserted_into_as_it_stands() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("old")));
    let conn = sb.sqlite();
    // What a newer difflore may do: more columns (nullable or with defaults), a new table.
    conn.execute_batch(
        "ALTER TABLE events ADD COLUMN future TEXT;
         CREATE TABLE future_things (x INTEGER);
         PRAGMA user_version = 99;",
    )
    .unwrap();
    drop(conn);
    assert_silent(&sb.hook(&[], &event("new")));
    assert_eq!(sb.count("state = 'pending'"), 2);
    assert_eq!(spill_entries(&sb), 0);
    let version: i64 = sb
        .sqlite()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "the hook rewrote a newer outbox's version");
}

#[test]
fn an_outbox_the_insert_does_not_fit_is_left_byte_identical_and_the_event_spilled() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.home()).unwrap();
    let conn = sb.sqlite();
    conn.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, something_else TEXT);
         PRAGMA user_version = 99;",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(sb.db()).unwrap();
    for n in 1..=2 {
        let line = one_stderr_line(&sb.hook(&[], &event("new")));
        assert!(line.contains("outbox unavailable"), "{line}");
        assert_eq!(spill_files(&sb).len(), n, "event not spilled");
        assert_eq!(
            std::fs::read(sb.db()).unwrap(),
            before,
            "outbox was modified"
        );
    }
}

/// Bytes where the outbox should be, in a new data home: returns them.
fn corrupt_outbox(sb: &Sandbox) -> Vec<u8> {
    std::fs::create_dir(sb.home()).unwrap();
    let garbage = b"this is not an SQLite database, just bytes where one should be\n".repeat(100);
    std::fs::write(sb.db(), &garbage).unwrap();
    garbage
}

#[test]
fn corrupt_outbox_is_left_untouched_and_the_event_spilled() {
    let sb = Sandbox::new();
    let garbage = corrupt_outbox(&sb);
    let raw = common::fixture("cursor/afterFileEdit.json");
    let line = one_stderr_line(&sb.hook(&[], &raw));
    assert!(line.contains("not a database"), "{line}");
    assert_eq!(
        std::fs::read(sb.db()).unwrap(),
        garbage,
        "corrupt outbox was modified"
    );
    let spilled = spill_files(&sb);
    assert_eq!(spilled.len(), 1);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spilled[0]).unwrap()).unwrap();
    assert_eq!(record["event"], "afterFileEdit");
    assert_eq!(
        record["payload"].as_str().map(str::as_bytes),
        Some(raw.as_slice())
    );
}

/// An agent may start its hook with stdin, stdout and stderr closed. Its stderr line
/// (descriptor 2) must not land in a spill file or the outbox, and a closed stdin reads as
/// empty. Two guards ensure it: the hook's own start (`sys::start_like_std` puts /dev/null
/// on 0, 1 and 2) and SQLite's, which never keeps a file on a descriptor below 3.
#[test]
fn a_hook_started_with_its_standard_descriptors_closed_keeps_its_files_clean() {
    let sb = Sandbox::new();
    let garbage = corrupt_outbox(&sb);
    let raw = String::from_utf8(event("closed-fds")).unwrap();
    let mut cmd = Command::new("/bin/sh");
    let hook = common::hook_bin();
    cmd.args(["-c", r#"exec "$0" "$1" <&- >&- 2>&-"#])
        .arg(&hook)
        .arg(&raw)
        .env("DIFFLORE_HOME", sb.home())
        .env("HOME", sb.dir.path().join("home"));
    let status = cmd.status().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read(sb.db()).unwrap(), garbage, "outbox changed");
    let spilled = spill_files(&sb);
    assert_eq!(spilled.len(), 1, "{spilled:?}");
    let text = std::fs::read_to_string(&spilled[0]).unwrap();
    assert!(
        !text.contains("difflore-hook:"),
        "stderr went into {text:?}"
    );
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["payload"], raw.as_str());

    // No event given at all: stdin is an empty /dev/null, as for any hook run by hand,
    // never a read error on a closed descriptor.
    std::fs::remove_file(sb.db()).unwrap();
    let status = Command::new("/bin/sh")
        .args(["-c", r#"exec "$0" <&- >&- 2>&-"#])
        .arg(&hook)
        .env("DIFFLORE_HOME", sb.home())
        .env("HOME", sb.dir.path().join("home"))
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let stored = rows(&sb);
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0].state, "rejected");
    let reason = stored[0].last_error.as_deref().unwrap_or_default();
    assert!(reason.contains("empty"), "{reason}");
}

/// Set a file's modification time `secs` seconds back.
fn age(path: &std::path::Path, secs: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

#[test]
fn temp_files_left_by_hooks_killed_mid_write_are_imported_or_counted_never_left() {
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&[], &event("first")));
    let dir = sb.home().join("spill");
    std::fs::create_dir(&dir).unwrap();
    let record = format!(
        "{}\n",
        serde_json::json!({
            "received_ms": 7, "client": "claude-code", "event": "SessionEnd",
            "session_id": "whole", "cwd": null, "tool": null, "size": 2, "payload": "{}"
        })
    );
    let whole = dir.join(".7-100-1.tmp");
    let cut = dir.join(".7-101-2.tmp");
    let empty = dir.join(".7-102-3.tmp");
    let young = dir.join(".7-103-4.tmp");
    std::fs::write(&whole, &record).unwrap();
    std::fs::write(&cut, &record.as_bytes()[..40]).unwrap();
    std::fs::write(&empty, b"").unwrap();
    std::fs::write(&young, &record.as_bytes()[..40]).unwrap();
    for p in [&whole, &cut, &empty] {
        age(p, 3600);
    }

    assert_silent(&sb.hook(&[], &event("second")));
    assert_eq!(
        sb.count("state = 'pending' AND session_id = 'whole' AND event = 'SessionEnd'"),
        1,
        "a whole temp file is imported as its event"
    );
    assert_eq!(
        sb.count(
            "state = 'rejected' AND last_error LIKE '%cut short by a hook stopped mid-write%'"
        ),
        1
    );
    assert_eq!(
        sb.count(
            "state = 'rejected' AND last_error LIKE '%left empty by a hook stopped mid-write%'"
        ),
        1
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, [young], "only the one still being written may stay");

    // Nothing is imported twice.
    assert_silent(&sb.hook(&[], &event("third")));
    assert_eq!(sb.count("session_id = 'whole'"), 1);
    assert_eq!(sb.count("state = 'rejected'"), 2);
}
