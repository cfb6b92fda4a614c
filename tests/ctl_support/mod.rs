//! What difflorectl's integration tests share on top of `common` (whose `DaemonGuard` runs
//! the real difflored): running difflorectl, a bystander process, hashing the data home,
//! seeding rows, and normalising pids, paths and durations before snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::Duration;

use crate::common::Sandbox;
use crate::common::daemon::{DaemonGuard, health};

/// How long any test waits for a process to change state before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// insta settings: snapshots in the top-level `snapshots/`, no module prefix.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// One difflorectl run.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout, stderr and the exit code, as one snapshot text.
    pub fn shown(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn ctl(sb: &Sandbox, args: &[&str]) -> Ran {
    Ran::from(
        sb.cmd("difflorectl")
            .args(args)
            .output()
            .expect("run difflorectl"),
    )
}

/// Replace what differs between runs: the sandbox path, pids, durations, timestamps.
pub fn normalize(sb: &Sandbox, text: &str) -> String {
    let text = text.replace(&sb.home().display().to_string(), "[home]");
    let rules = [
        (r"pid \d+", "pid [pid]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
        (r"\b\d+(\.\d)?s\b|\b\d+[mhd] \d+[smh]\b", "[duration]"),
        (r"version \d+\.\d+\.\d+", "version [version]"),
    ];
    rules.iter().fold(text, |t, (re, with)| {
        regex::Regex::new(re)
            .expect("valid regex")
            .replace_all(&t, *with)
            .into_owned()
    })
}

/// A real `difflored --foreground`, returned once it is ready: its health record names it,
/// which it writes only after installing its signal handlers.
pub fn daemon(sb: &Sandbox) -> DaemonGuard {
    let guard = DaemonGuard::foreground(sb, &[]);
    assert!(
        crate::common::wait_until(PATIENCE, || health(sb).is_some_and(|h| h.pid == guard.pid)),
        "difflored did not publish its health; log:\n{}",
        guard.log_text()
    );
    guard
}

/// A `sleep` process standing in for an unrelated program; killed in Drop.
pub struct Bystander(pub Child);

impl Bystander {
    pub fn spawn() -> Bystander {
        Bystander(
            std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .expect("spawn sleep"),
        )
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Send a raw signal to a process the test itself owns.
pub fn raw_kill(pid: i32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{signal} {pid} failed");
}

/// Every file under `dir` with its bytes' hash, and its mode and size.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, u32, u64)> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.map(|e| e.expect("dir entry")) {
            let path = e.path();
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let bytes = if meta.is_file() {
                std::fs::read(&path).expect("read file")
            } else {
                Vec::new()
            };
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            out.insert(path, (h.finish(), meta.mode(), meta.size()));
        }
    }
    out
}

/// Store `n` events through the real hook; returns nothing, the rows are 1..=n.
pub fn seed(sb: &Sandbox, n: usize) {
    for i in 0..n {
        let event = format!(
            r#"{{"hook_event_name":"PreToolUse","session_id":"s{i}","tool_name":"Bash","cwd":"/tmp"}}"#
        );
        let out = sb.hook(&["--client", "claude-code"], event.as_bytes());
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
    }
}

/// Mark rows dead as the daemon would after giving up on them.
pub fn mark_dead(sb: &Sandbox, ids: &[i64]) {
    let conn = sb.sqlite();
    for id in ids {
        let n = conn
            .execute(
                "UPDATE events SET state = 'dead', attempts = 7, next_attempt_ms = 99,
                 first_failure_ms = 1, last_error = 'HTTP 500 from collector' WHERE id = ?1",
                [id],
            )
            .expect("mark dead");
        assert_eq!(n, 1, "row {id} missing");
    }
}

/// Row ids in `state`, ascending.
pub fn ids_in(sb: &Sandbox, state: &str) -> Vec<i64> {
    let conn = sb.sqlite();
    let mut stmt = conn
        .prepare("SELECT id FROM events WHERE state = ?1 ORDER BY id")
        .expect("prepare");
    stmt.query_map([state], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

/// The pid file's record, as the daemon left it.
pub fn pid_record(sb: &Sandbox) -> difflore::shared::pidfile::PidRecord {
    let text = std::fs::read_to_string(sb.home().join("difflored.pid")).expect("read pid file");
    serde_json::from_str(text.trim()).expect("pid record")
}

/// Write `record` back naming `pid` instead: a reused pid, as the kernel might hand out,
/// with the dead daemon's start time.
pub fn point_record_at(sb: &Sandbox, record: &difflore::shared::pidfile::PidRecord, pid: i32) {
    let record = difflore::shared::pidfile::PidRecord {
        pid,
        ..record.clone()
    };
    let path = sb.home().join("difflored.pid");
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).expect("write pid file");
}

/// A fixed "now" for renderer snapshots, and one second in its unit (ms).
pub const NOW: i64 = 1_764_000_000_000;
pub const SEC: i64 = 1000;

/// Each case's words, stream and exit code, one after another (renderer snapshots).
pub fn shown(cases: Vec<(&str, difflore::ctl::Outcome)>) -> String {
    let mut text = String::new();
    for (name, outcome) in cases {
        let m = difflore::ctl::render::render(&outcome);
        text.push_str(&format!("=== {name} (exit {})\n", outcome.exit_code()));
        for (stream, body) in [("stdout", &m.stdout), ("stderr", &m.stderr)] {
            if !body.is_empty() {
                text.push_str(&format!("--- {stream}\n{body}"));
            }
        }
    }
    text
}
