//! The bench's fixtures: which hook binary to measure (built in release), a temporary data
//! home per case, the "daemon" connection, and the sqlite3 command line doing the same
//! insert. Checks that every measured run stored its row and said nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Untimed runs before each series: page cache, dynamic loader, SQLite file cache.
pub const WARMUP: usize = 50;
const MIN_RUNS: usize = 500;

/// `DIFFLORE_BENCH_RUNS` (at least 500; 1000 by default).
pub fn runs() -> usize {
    std::env::var("DIFFLORE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000)
        .max(MIN_RUNS)
}

pub struct HookBinary {
    pub path: PathBuf,
    pub how: String,
}

impl HookBinary {
    /// `DIFFLORE_HOOK_BIN` if set (`make bench` sets it to the build `make install` installs);
    /// else `cargo build --release`; else, if that fails, the copy cargo built for the bench.
    pub fn locate() -> HookBinary {
        if let Some(path) = std::env::var_os("DIFFLORE_HOOK_BIN") {
            return HookBinary {
                path: path.into(),
                how: "from DIFFLORE_HOOK_BIN".into(),
            };
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--bin",
                "difflore-hook",
            ])
            .current_dir(manifest)
            .status();
        let target = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
            Some(t) if t.is_absolute() => t,
            Some(t) => manifest.join(t),
            None => manifest.join("target"),
        };
        let release = target.join("release").join("difflore-hook");
        match built {
            Ok(status) if status.success() && release.exists() => HookBinary {
                path: release,
                how: "cargo build --release".into(),
            },
            other => {
                eprintln!(
                    "bench: `{cargo} build --release` failed ({other:?}); measuring the bench-profile build"
                );
                HookBinary {
                    path: env!("CARGO_BIN_EXE_difflore-hook").into(),
                    how: "bench profile, built by cargo bench".into(),
                }
            }
        }
    }

    pub fn cmd(&self, home: &Path) -> Command {
        let mut cmd = Command::new(&self.path);
        clean_env(&mut cmd, home);
        cmd.arg("--client").arg("claude-code");
        cmd
    }
}

/// Remove the caller's difflore settings, point at `home`.
fn clean_env(cmd: &mut Command, home: &Path) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DIFFLORE_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("DIFFLORE_HOME", home);
}

/// The bench's temporary directory: data homes, output sinks, a HOME for sqlite3.
pub struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    pub fn new() -> Bench {
        let dir = tempfile::Builder::new()
            .prefix("difflore-bench-")
            .tempdir()
            .expect("create bench dir");
        Bench { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One untimed hook run creates the schema, as the first event on a machine would.
    pub fn create_outbox(&self, hook: &HookBinary, home: &Path) {
        let out = crate::measure::run_once(
            &mut hook.cmd(home),
            super::PAYLOAD,
            &crate::measure::Sinks::new(self.dir(), "create"),
        );
        assert!(out.ok, "the first hook run failed");
        self.expect_silent("create");
    }

    /// What a running difflored holds: a connection that stays open (and has read once),
    /// and the pid file's lock, by which a hook knows that checkpoints are the daemon's to
    /// make. This holder makes none, so SQLite's own checkpoint at 1000 WAL pages still
    /// falls to a hook about once in 250 runs, where a daemon would have made it earlier.
    pub fn hold_open(&self, home: &Path) -> (rusqlite::Connection, std::fs::File) {
        let conn = rusqlite::Connection::open(home.join("outbox.db")).expect("open outbox");
        let _: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .expect("read outbox");
        let pid = std::fs::File::create(home.join("difflored.pid")).expect("pid file");
        pid.try_lock().expect("lock the pid file");
        (conn, pid)
    }

    /// The sqlite3 command line inserting the same payload with the same pragmas.
    pub fn sqlite3(&self, home: &Path) -> Command {
        let payload = String::from_utf8_lossy(super::PAYLOAD).replace('\'', "''");
        let sql = format!(
            "PRAGMA synchronous=NORMAL; \
             INSERT INTO events (received_ms, client, event, session_id, cwd, tool, payload, size, state) \
             VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'claude-code', 'PostToolUse', 's', '/w', 'Bash', '{payload}', {}, 'pending');",
            super::PAYLOAD.len()
        );
        let mut cmd = Command::new("sqlite3");
        clean_env(&mut cmd, home);
        // No ~/.sqliterc; the statement comes as an argument so stdin matches the hook's.
        cmd.env("HOME", self.dir.path())
            .args(["-cmd", ".timeout 500"])
            .arg(home.join("outbox.db"))
            .arg(sql);
        cmd
    }

    /// Every run of a series said nothing on stdout or stderr.
    pub fn expect_silent(&self, name: &str) {
        for stream in ["stdout", "stderr"] {
            let path = self.dir.path().join(format!("{name}.{stream}"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(text.is_empty(), "{name} wrote to {stream}: {text}");
        }
    }

    /// The outbox holds exactly `want` pending rows, and nothing spilled.
    pub fn expect_rows(&self, home: &Path, want: usize) {
        let conn = rusqlite::Connection::open(home.join("outbox.db")).expect("open outbox");
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM events WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .expect("count rows");
        assert_eq!(n, want as i64, "rows in {}", home.display());
        let spilled = std::fs::read_dir(home.join("spill")).map_or(0, |d| d.count());
        assert_eq!(spilled, 0, "the bench spilled events");
    }
}

/// `sqlite3 -version`, or None when it is not installed.
pub fn sqlite3_version() -> Option<String> {
    let out = Command::new("sqlite3")
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| v.split_whitespace().next().unwrap_or("?").to_owned())
}
