//! The daemon's pid file, `difflored.pid`: an exclusive lock held for the daemon's whole
//! life (liveness), with its pid, process start time and version written inside (identity).
//! The file is never unlinked while it may be held; a clean exit empties it instead.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("could not open pid file {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not lock pid file {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not write pid file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What the daemon writes inside its pid file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub pid: i32,
    /// Start time of the process (see `process_start_time`): with the pid, it names one
    /// process even after the pid is reused. Compared only on the machine that wrote it.
    pub start_time: Option<u64>,
    pub version: String,
    pub started_ms: i64,
}

impl PidRecord {
    pub fn for_this_process() -> PidRecord {
        let pid = std::process::id() as i32;
        PidRecord {
            pid,
            start_time: process_start_time(pid),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_ms: super::now_ms(),
        }
    }

    /// Is the live process with this pid the one that wrote the record?
    pub fn is_live_process(&self) -> bool {
        match (self.start_time, process_start_time(self.pid)) {
            (Some(recorded), Some(live)) => recorded == live,
            (Some(_), None) => false,
            // No start time where this was written: the best left is existence.
            (None, _) => super::sys::process_exists(self.pid),
        }
    }
}

/// Start time of a process, if it exists: an opaque number, the same for as long as the
/// process lives and different for the next process given its pid. On Linux (and wherever
/// else `/proc/<pid>/stat` exists), clock ticks since boot (field 22); on macOS,
/// microseconds since the epoch from the kernel's process table. `None` elsewhere.
#[cfg(not(target_os = "macos"))]
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// See the other `process_start_time`. Written against the libc crate's macOS items
/// (`proc_pidinfo`, `PROC_PIDTBSDINFO`, `proc_bsdinfo`).
#[cfg(target_os = "macos")]
pub fn process_start_time(pid: i32) -> Option<u64> {
    super::sys::process_start_micros(pid)
}

/// The held lock. Dropping it releases the lock (and the kernel does so if we die).
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

/// How long a starting daemon retries a lock held exclusively: covers difflorectl emptying
/// a stale file (microseconds), and is far below the 50 ms a losing start may take.
const LOCK_RETRY: Duration = Duration::from_millis(20);
/// How long it keeps retrying while only shared locks are in the way: those are probes
/// (`difflorectl status`, `stop` waiting), never a daemon, and a start must not give up
/// because of them, however slowly a loaded machine runs them.
const PROBE_PATIENCE: Duration = Duration::from_secs(2);

impl PidLock {
    /// Take the lock, or `Ok(None)` if another process holds it.
    pub fn acquire(paths: &Paths) -> Result<Option<PidLock>, PidFileError> {
        let path = paths.pid_file();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| PidFileError::Open {
                path: path.clone(),
                source,
            })?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(PidLock { file, path })),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => {
                    return Err(PidFileError::Lock { path, source });
                }
            }
            // Who is in the way? If a shared lock of our own is granted, nobody holds the
            // lock exclusively: only probes do.
            let only_probes = match file.try_lock_shared() {
                Ok(()) => {
                    let _ = file.unlock();
                    true
                }
                Err(TryLockError::WouldBlock) => false,
                Err(TryLockError::Error(source)) => {
                    return Err(PidFileError::Lock { path, source });
                }
            };
            let patience = if only_probes {
                PROBE_PATIENCE
            } else {
                LOCK_RETRY
            };
            if start.elapsed() >= patience {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Replace the file's content with `record` (under the lock).
    pub fn write(&mut self, record: &PidRecord) -> Result<(), PidFileError> {
        let mut text =
            serde_json::to_string(record).map_err(|e| self.write_error(io::Error::other(e)))?;
        text.push('\n');
        self.file.set_len(0).map_err(|e| self.write_error(e))?;
        self.file.rewind().map_err(|e| self.write_error(e))?;
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| self.write_error(e))?;
        self.file.sync_data().map_err(|e| self.write_error(e))
    }

    /// Clean exit: empty the file (so status says "not running", not "crashed"), then unlock.
    pub fn release(self) -> Result<(), PidFileError> {
        self.file.set_len(0).map_err(|e| self.write_error(e))
    }

    /// The locked descriptor: a detaching daemon keeps it open across fork, because the
    /// flock belongs to the open file description the child inherits.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.file)
    }

    fn write_error(&self, source: io::Error) -> PidFileError {
        PidFileError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

/// What the pid file says about the daemon, read without changing anything on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Someone holds the lock. The record is `None` only in the instant between a start
    /// taking the lock and writing its record.
    Running(Option<PidRecord>),
    /// Nobody holds the lock, yet the file still names a process: the daemon crashed or was
    /// killed (or the pid was reused by an unrelated process).
    Stale(PidRecord),
    /// No pid file, or one emptied by a clean exit.
    NotRunning,
}

/// Whether a daemon holds the lock now, and nothing else (the hook's question, when the
/// WAL is long): a shared lock tried and dropped at once, which a starting daemon's retry
/// absorbs. A file that cannot be opened or locked says no daemon.
pub fn daemon_running(paths: &Paths) -> bool {
    File::open(paths.pid_file()).is_ok_and(|f| {
        let held = matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock));
        if !held {
            let _ = f.unlock();
        }
        held
    })
}

/// Test the lock without keeping it: a shared lock taken and dropped at once, which a
/// starting daemon's retry absorbs.
pub fn probe(paths: &Paths) -> Result<Liveness, PidFileError> {
    let path = paths.pid_file();
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Liveness::NotRunning),
        Err(source) => return Err(PidFileError::Open { path, source }),
    };
    let held = match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(source)) => return Err(PidFileError::Lock { path, source }),
    };
    // Read under our shared lock (when we got it): a daemon cannot take the lock and write
    // its record in between, which would make a starting daemon look crashed.
    let mut text = String::new();
    let read = file.read_to_string(&mut text);
    if !held {
        let _ = file.unlock();
    }
    read.map_err(|source| PidFileError::Open { path, source })?;
    let record = serde_json::from_str::<PidRecord>(text.trim()).ok();
    Ok(match (held, record) {
        (true, record) => Liveness::Running(record),
        (false, Some(record)) => Liveness::Stale(record),
        (false, None) => Liveness::NotRunning,
    })
}

/// Empty a stale pid file, but only if nobody took the lock in the meantime.
pub fn clear_stale(paths: &Paths) -> Result<bool, PidFileError> {
    match PidLock::acquire(paths)? {
        Some(lock) => lock.release().map(|()| true),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_probe_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        assert_eq!(probe(&paths).unwrap(), Liveness::NotRunning);
        let mut lock = PidLock::acquire(&paths).unwrap().unwrap();
        let rec = PidRecord::for_this_process();
        lock.write(&rec).unwrap();
        assert!(PidLock::acquire(&paths).unwrap().is_none());
        assert_eq!(probe(&paths).unwrap(), Liveness::Running(Some(rec.clone())));
        assert!(rec.is_live_process());
        lock.release().unwrap();
        assert_eq!(probe(&paths).unwrap(), Liveness::NotRunning);
    }

    #[test]
    fn a_slow_probe_holding_a_shared_lock_does_not_make_a_start_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        fs::write(paths.pid_file(), "").unwrap();
        let probe = File::open(paths.pid_file()).unwrap();
        probe.try_lock_shared().unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(probe);
        });
        let lock = PidLock::acquire(&paths).unwrap();
        releaser.join().unwrap();
        assert!(lock.is_some(), "a start gave up because of a probe");
        // A daemon (an exclusive holder) still turns a second start away.
        assert!(PidLock::acquire(&paths).unwrap().is_none());
    }

    #[test]
    fn the_start_time_tells_a_reused_pid_from_the_process_that_wrote_the_record() {
        let me = std::process::id() as i32;
        let mine = process_start_time(me).expect("this process has a start time");
        assert_eq!(process_start_time(me), Some(mine), "stable while it lives");
        let mut rec = PidRecord::for_this_process();
        assert_eq!(rec.start_time, Some(mine));
        assert!(rec.is_live_process());
        rec.start_time = Some(mine + 1);
        assert!(!rec.is_live_process(), "same pid, another start: not ours");

        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let theirs = process_start_time(pid).expect("a live child has a start time");
        assert!(theirs >= mine, "started after us: {theirs} < {mine}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_start_time(pid), None, "a reaped process has none");
    }

    #[test]
    fn a_record_left_without_a_lock_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let rec = PidRecord {
            pid: 999_999,
            start_time: Some(1),
            version: "0".into(),
            started_ms: 0,
        };
        fs::write(paths.pid_file(), serde_json::to_string(&rec).unwrap()).unwrap();
        assert_eq!(probe(&paths).unwrap(), Liveness::Stale(rec.clone()));
        assert!(!rec.is_live_process());
    }
}
