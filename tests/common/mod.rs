//! The one sandbox helper for integration tests: a temporary data home (and HOME), commands
//! for the real binaries pointed at it, and deadline-bounded waiting. Never the real home.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create temp dir");
        std::fs::create_dir(dir.path().join("home")).expect("create fake HOME");
        Sandbox { dir }
    }

    /// `$DIFFLORE_HOME` for this sandbox (created on first use by the binaries).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("difflore")
    }

    pub fn db(&self) -> PathBuf {
        self.home().join("outbox.db")
    }

    /// A command for one of the project's binaries, with a clean, sandboxed environment.
    pub fn cmd(&self, bin: &str) -> Command {
        if bin == "difflore-hook" {
            return self.command(&hook_bin());
        }
        let path = match bin {
            "difflored" => env!("CARGO_BIN_EXE_difflored"),
            "difflorectl" => env!("CARGO_BIN_EXE_difflorectl"),
            other => panic!("unknown binary {other}"),
        };
        self.command(Path::new(path))
    }

    /// Like `cmd`, for a program at any path (a copy of a binary, for example).
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("DIFFLORE_") || key.starts_with("OTEL_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("DIFFLORE_HOME", self.home())
            .env("HOME", self.dir.path().join("home"))
            .stdin(Stdio::null());
        cmd
    }

    /// Run `difflore-hook ARGS` with `input` on stdin.
    pub fn hook(&self, args: &[&str], input: &[u8]) -> Output {
        run_with_stdin(self.cmd("difflore-hook").args(args), input)
    }

    /// Open the outbox directly (read-write) for assertions.
    pub fn sqlite(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db()).expect("open outbox");
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// `SELECT count(*) FROM events WHERE <filter>`.
    pub fn count(&self, filter: &str) -> i64 {
        self.sqlite()
            .query_row(
                &format!("SELECT count(*) FROM events WHERE {filter}"),
                [],
                |r| r.get(0),
            )
            .expect("count events")
    }
}

/// The hook under test: this build's, or the one `DIFFLORE_TEST_HOOK_BIN` names (`make test`
/// sets it to the hook as `make install` builds it, static and with its own SQLite).
pub fn hook_bin() -> PathBuf {
    std::env::var_os("DIFFLORE_TEST_HOOK_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_difflore-hook").into(), PathBuf::from)
}

/// Spawn `cmd`, write `input` to its stdin, wait for it.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A binary a test has just copied can be "busy" for a moment: another test's fork,
    // between fork and exec, still holds the copy's write descriptor (ETXTBSY).
    let mut tries = 0;
    let mut child = loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            spawned => break spawned.expect("spawn binary"),
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    // The child may legitimately stop reading (over the cap): ignore a broken pipe.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait for binary")
}

/// Poll `cond` every few milliseconds until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fixture file under tests/fixtures.
pub fn fixture(rel: impl AsRef<Path>) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
pub mod collector;
pub mod daemon;
