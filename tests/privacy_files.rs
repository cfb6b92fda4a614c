//! The data home stays private after every binary runs: the home and its directories 0700,
//! every file 0600 (outbox and its -wal/-shm, spill files, pid file, log, config.toml once
//! the daemon has seen it); loose modes left behind are tightened; and a home owned by
//! another user is refused by the hook, the daemon and difflorectl, which then touch nothing.

mod common;
mod ctl_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, run_with_stdin, stderr, wait_until};
use ctl_support::{PATIENCE, ctl};

/// A captured PostToolUse event, as Claude Code sends it.
const EVENT: &[u8] = br#"{"hook_event_name":"PostToolUse","session_id":"s1","cwd":"/w","tool_name":"Bash","tool_input":{"command":"ls"}}"#;
/// The uid the tests hand a data home to (nobody).
const OTHER_UID: u32 = 65534;

fn mode(meta: &std::fs::Metadata) -> u32 {
    meta.mode() & 0o7777
}

/// Every path under the data home with a mode that is not private, and every file's name
/// (relative to the home).
fn survey(home: &Path) -> (Vec<String>, Vec<String>) {
    let mut loose = Vec::new();
    let mut files = Vec::new();
    let mut todo = vec![home.to_owned()];
    while let Some(dir) = todo.pop() {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        if mode(&meta) != 0o700 {
            loose.push(format!("{} (directory, {:o})", dir.display(), mode(&meta)));
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
                continue;
            }
            if mode(&meta) != 0o600 {
                loose.push(format!("{} ({:o})", path.display(), mode(&meta)));
            }
            let rel = path.strip_prefix(home).unwrap().to_string_lossy();
            files.push(rel.into_owned());
        }
    }
    files.sort();
    (loose, files)
}

/// Assert the home is private after `step`, and that `expected` files are there.
fn assert_private(sb: &Sandbox, step: &str, expected: &[&str]) {
    let (loose, files) = survey(&sb.home());
    assert!(loose.is_empty(), "after {step}, not private: {loose:#?}");
    for name in expected {
        assert!(
            files.iter().any(|f| f == name || f.starts_with(name)),
            "after {step}, expected {name} in {files:?}"
        );
    }
}

fn hook(sb: &Sandbox, input: &[u8]) -> Output {
    let out = sb.hook(&[], input);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn every_file_is_private_after_each_binary_runs() {
    let sb = Sandbox::new();
    hook(&sb, EVENT);
    assert_private(&sb, "the first hook", &["outbox.db"]);
    let rejected = hook(&sb, b"not an event");
    assert!(stderr(&rejected).contains("rejected"));
    assert_private(&sb, "a rejected input", &["outbox.db"]);

    // A spill file: the outbox is locked for longer than the hook waits.
    {
        let conn = sb.sqlite();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut cmd = sb.cmd("difflore-hook");
        let out = run_with_stdin(cmd.env("DIFFLORE_HOOK_TIMEOUT_MS", "50"), EVENT);
        assert!(stderr(&out).contains("kept in"), "{}", stderr(&out));
        conn.execute_batch("ROLLBACK").unwrap();
    }
    assert_private(&sb, "a spilled event", &["spill/"]);

    // config.toml is the user's, written with their umask; the daemon makes it private.
    write_config(&sb, "");
    let config = sb.home().join("config.toml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _reaper = Reaper(&sb);
    let started = ctl(&sb, &["start"]);
    assert_eq!(started.code, 0, "{}", started.shown());
    assert!(wait_until(PATIENCE, || survey(&sb.home())
        .1
        .iter()
        .all(|f| !f.starts_with("spill/"))));
    let running = [
        "config.toml",
        "difflored.log",
        "difflored.pid",
        "outbox.db-shm",
        "outbox.db-wal",
    ];
    assert_private(&sb, "difflorectl start (a detached daemon)", &running);
    let log = std::fs::read_to_string(sb.home().join("difflored.log")).unwrap();
    assert!(log.contains("config.toml was mode 0644"), "{log}");

    hook(&sb, EVENT);
    assert_private(&sb, "a hook while the daemon runs", &running);
    // A config.toml rewritten while it runs is made private at the reload.
    std::fs::write(&config, "").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pid = common::daemon::record(&sb).unwrap().pid;
    difflore::shared::sys::send_signal(pid, difflore::shared::sys::Signal::Hup).unwrap();
    assert!(wait_until(PATIENCE, || {
        mode(&std::fs::metadata(&config).unwrap()) == 0o600
    }));
    assert_private(&sb, "a reload", &running);
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["events"],
        &["events", "--json"],
        &["flush"],
        &["retry", "--dead"],
        &["purge", "--rejected", "--yes"],
        &["stop"],
        &["start"],
        &["restart"],
        &["kill"],
        &["stop"],
    ] {
        let ran = ctl(&sb, args);
        assert!(ran.code == 0 || ran.code == 3, "{args:?}: {}", ran.shown());
        assert_private(&sb, &format!("difflorectl {}", args.join(" ")), &[]);
    }

    // A foreground daemon (a service manager's) as well.
    let d = DaemonGuard::foreground(&sb, &[]);
    assert_private(&sb, "difflored --foreground", &running);
    drop(d);
    assert_private(&sb, "a killed foreground daemon", &[]);
}

#[test]
fn loose_modes_left_behind_are_tightened() {
    let sb = Sandbox::new();
    hook(&sb, EVENT);
    let home = sb.home();
    std::fs::create_dir(home.join("spill")).unwrap();
    // A rotated log from an older difflore (a spill file would be imported by the hook).
    let rotated = home.join("difflored.log.1");
    std::fs::write(&rotated, "old lines\n").unwrap();
    for (path, m) in [
        (home.clone(), 0o755),
        (home.join("outbox.db"), 0o644),
        (home.join("spill"), 0o775),
        (rotated.clone(), 0o664),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    }
    // The hook fixes the home itself (the one stat it makes) and nothing else.
    hook(&sb, EVENT);
    assert_eq!(mode(&std::fs::metadata(&home).unwrap()), 0o700);
    let db_mode = mode(&std::fs::metadata(home.join("outbox.db")).unwrap());
    assert_eq!(db_mode, 0o644, "the hook does not walk the home");
    // The daemon walks it at start.
    let d = DaemonGuard::foreground(&sb, &[]);
    assert_private(&sb, "difflored start", &["outbox.db"]);
    let log = d.log_text();
    for path in [home.join("outbox.db"), home.join("spill"), rotated] {
        assert!(
            log.contains(&format!("{} was mode", path.display())),
            "{log}"
        );
    }
}

/// A data home that belongs to someone else: as root, a directory given to `nobody`; as
/// anyone else, `/` (root's).
fn foreign_home(sb: &Sandbox) -> PathBuf {
    if difflore::shared::sys::effective_uid() != 0 {
        return PathBuf::from("/");
    }
    let home = sb.home();
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    home
}

fn listing(home: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

#[test]
fn a_data_home_owned_by_another_user_is_refused_by_every_binary() {
    let sb = Sandbox::new();
    let home = foreign_home(&sb);
    let owner = std::fs::metadata(&home).unwrap().uid();
    let before = listing(&home);
    let owned_by = format!("is owned by uid {owner}, not by this user");
    let run = |program: &str, args: &[&str], input: &[u8]| -> Output {
        let mut cmd = sb.cmd(program);
        cmd.args(args).env("DIFFLORE_HOME", &home);
        bounded(cmd, input)
    };

    // The hook: exit 0 (never fail the agent), one line saying why, nothing written.
    let out = run("difflore-hook", &[], EVENT);
    assert!(out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("event not stored") && said.contains(&owned_by),
        "{said}"
    );

    // The daemon, attached or not: refuses before taking the lock.
    for args in [&["--foreground"][..], &[]] {
        let out = run("difflored", args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let said = stderr(&out);
        assert!(
            said.contains(&owned_by) && said.contains("DIFFLORE_HOME"),
            "{said}"
        );
    }

    // difflorectl: status is "unknown" (exit 4), every other command an error.
    let out = run("difflorectl", &["status"], b"");
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains(&owned_by), "{}", stderr(&out));
    let out = run("difflorectl", &["status", "--json"], b"");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["state"], "unknown");
    assert!(value["error"].as_str().unwrap().contains(&owned_by));
    for args in [
        &["start"][..],
        &["stop"],
        &["kill"],
        &["restart"],
        &["events"],
        &["retry", "--dead"],
        &["purge", "--dead", "--yes"],
        &["flush"],
    ] {
        let out = run("difflorectl", args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(&owned_by),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    assert_eq!(
        listing(&home),
        before,
        "something was written in {}",
        home.display()
    );
    let meta = std::fs::metadata(&home).unwrap();
    assert_eq!(meta.uid(), owner, "the owner was changed");
}

/// Run to completion, but kill it if it has not exited within the patience limit (a daemon
/// that failed to refuse would serve forever).
fn bounded(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input);
    if !wait_until(PATIENCE, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap()
}

/// Kills whatever daemon the sandbox's pid file names when the test ends, pass or fail:
/// difflorectl starts daemons no guard of ours holds.
struct Reaper<'a>(&'a Sandbox);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        if let Some(rec) = common::daemon::record(self.0)
            && rec.is_live_process()
        {
            let _ =
                difflore::shared::sys::send_signal(rec.pid, difflore::shared::sys::Signal::Kill);
        }
    }
}
