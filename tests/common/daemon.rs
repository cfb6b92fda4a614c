//! Running the real `difflored` in a sandbox: `DaemonGuard` starts it (foreground or
//! detached), signals it, waits for it, and kills it in Drop so no test leaves one behind.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use difflore::shared::health::Health;
use difflore::shared::paths::Paths;
use difflore::shared::pidfile::{self, Liveness, PidRecord};
use difflore::shared::store::Outbox;
use difflore::shared::sys::{self, Signal};

use super::{Sandbox, wait_until};

/// Generous: a loaded CI machine may take seconds to start (or reap) a process.
pub const START_LIMIT: Duration = Duration::from_secs(30);

pub struct DaemonGuard {
    child: Option<Child>,
    pub pid: i32,
    /// Where a foreground daemon's stderr (its log) goes.
    pub log: PathBuf,
    home: PathBuf,
}

impl DaemonGuard {
    /// `difflored --foreground ARGS`, waited for until its pid record names it.
    pub fn foreground(sb: &Sandbox, args: &[&str]) -> DaemonGuard {
        Self::foreground_with(sb, args, |_| {})
    }

    /// Like `foreground`, with a chance to adjust the command (environment) first.
    pub fn foreground_with(
        sb: &Sandbox,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> DaemonGuard {
        let log = unique_log(sb);
        let mut cmd = sb.cmd("difflored");
        cmd.arg("--foreground")
            .args(args)
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create daemon log"));
        adjust(&mut cmd);
        let child = cmd.spawn().expect("spawn difflored");
        let pid = child.id() as i32;
        let guard = DaemonGuard {
            child: Some(child),
            pid,
            log,
            home: sb.home(),
        };
        // Serving: its pid record and its first health record are both written.
        assert!(
            wait_until(START_LIMIT, || record(sb).is_some_and(|r| r.pid == pid)
                && health(sb).is_some_and(|h| h.pid == pid)),
            "difflored did not start; log:\n{}",
            guard.log_text()
        );
        guard
    }

    /// Adopt the detached daemon named in the pid file (started by a test some other way).
    pub fn adopt(sb: &Sandbox) -> DaemonGuard {
        let rec = record(sb).expect("a running daemon's pid record");
        DaemonGuard {
            child: None,
            pid: rec.pid,
            log: sb.home().join("difflored.log"),
            home: sb.home(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: Signal) {
        sys::send_signal(self.pid, sig).expect("signal difflored");
    }

    /// Is the process still there (and not a zombie)?
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => pidfile::process_start_time(self.pid).is_some() && !is_zombie(self.pid),
        }
    }

    /// Wait for a foreground daemon to exit; `None` if it is still running at `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self
            .child
            .as_mut()
            .expect("only a foreground daemon can be waited for");
        let mut status = None;
        wait_until(limit, || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        });
        status
    }

    pub fn kill9(&mut self) {
        let _ = sys::send_signal(self.pid, Signal::Kill);
        match &mut self.child {
            Some(child) => {
                let _ = child.wait();
            }
            None => {
                wait_until(START_LIMIT, || !self.alive_detached());
            }
        }
    }

    fn alive_detached(&self) -> bool {
        pidfile::process_start_time(self.pid).is_some() && !is_zombie(self.pid)
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        match &mut self.child {
            Some(child) => {
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
            None => {
                // Only kill the process the pid file still vouches for.
                let paths = Paths::at(&self.home);
                if let Ok(Liveness::Running(Some(rec))) = pidfile::probe(&paths)
                    && rec.pid == self.pid
                    && rec.is_live_process()
                {
                    let _ = sys::send_signal(self.pid, Signal::Kill);
                }
            }
        }
    }
}

/// Any program with the sandbox's environment (as `Sandbox::cmd` gives the project's own).
pub fn sandboxed(sb: &Sandbox, program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("DIFFLORE_") || key.starts_with("OTEL_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("DIFFLORE_HOME", sb.home())
        .env("HOME", sb.dir.path().join("home"))
        .stdin(Stdio::null());
    cmd
}

fn unique_log(sb: &Sandbox) -> PathBuf {
    (0..)
        .map(|n| sb.dir.path().join(format!("difflored-{n}.stderr")))
        .find(|p| !p.exists())
        .expect("a free log name")
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(false)
}

/// The pid record, if the daemon holds the lock and wrote one.
pub fn record(sb: &Sandbox) -> Option<PidRecord> {
    match pidfile::probe(&Paths::at(sb.home())) {
        Ok(Liveness::Running(rec)) => rec,
        _ => None,
    }
}

pub fn liveness(sb: &Sandbox) -> Liveness {
    pidfile::probe(&Paths::at(sb.home())).expect("probe pid file")
}

/// The daemon's health record, read as difflorectl status would.
pub fn health(sb: &Sandbox) -> Option<Health> {
    let outbox = Outbox::open_read_only(&Paths::at(sb.home())).ok()??;
    Health::read(&outbox).ok()?
}

/// Pids of every `difflored` process serving this sandbox (by binary and DIFFLORE_HOME).
pub fn daemons_for(sb: &Sandbox) -> Vec<i32> {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_difflored")).expect("daemon binary");
    let marker = format!("DIFFLORE_HOME={}", sb.home().display());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe)
                && !is_zombie(*pid)
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
        })
        .collect()
}

/// Config for tests: fast retries and short timeouts; `extra` lines add or override keys.
pub fn write_config(sb: &Sandbox, extra: &str) {
    std::fs::create_dir_all(sb.home()).expect("create data home");
    let defaults = [
        ("retry_base", "\"20ms\""),
        ("retry_cap", "\"200ms\""),
        ("auth_retry", "\"1h\""),
        ("connect_timeout", "\"1s\""),
        ("request_timeout", "\"5s\""),
    ];
    let mut text = String::new();
    for (key, value) in defaults {
        if !extra.lines().any(|l| l.trim_start().starts_with(key)) {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text.push_str(extra);
    text.push('\n');
    std::fs::write(sb.home().join("config.toml"), text).expect("write config.toml");
}

/// Queue `n` events straight into the outbox (the hook's own insert), each payload holding
/// `tag` and its index. Returns the ids the collector should see.
pub fn enqueue(sb: &Sandbox, n: usize, tag: &str) -> Vec<String> {
    use difflore::shared::event::classify;
    use difflore::shared::store::OpenOptions;
    std::fs::create_dir_all(sb.home()).expect("create data home");
    let outbox = Outbox::open(
        &Paths::at(sb.home()),
        OpenOptions::hook(Duration::from_secs(5)),
    )
    .expect("open outbox");
    let install = outbox.install_id().expect("install id");
    (0..n)
        .map(|i| {
            let payload = format!(
                r#"{{"hook_event_name":"PostToolUse","session_id":"s-{tag}","cwd":"/w","tool_name":"Bash","tool_input":{{"command":"echo {tag}-{i}"}}}}"#
            );
            let fields = classify(payload.as_bytes(), None).expect("a valid event");
            let row = outbox
                .insert(difflore::shared::now_ms(), &fields, &payload)
                .expect("insert event");
            format!("{install}-{row}")
        })
        .collect()
}
