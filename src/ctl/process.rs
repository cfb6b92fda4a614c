//! The daemon process as difflorectl sees it: liveness from the pid file's lock, identity
//! from (pid, start time). Every signal goes through `signal`, which checks identity first,
//! so a pid reused by an unrelated process is never signalled.

use std::time::{Duration, Instant};

use crate::shared::paths::Paths;
use crate::shared::pidfile::{self, Liveness, PidRecord};
use crate::shared::sys::{self, Signal};

use super::CtlError;

/// How often waits look at the lock again.
const POLL: Duration = Duration::from_millis(10);

/// How long a holder of the lock may take to write its record (a starting daemon
/// writes it right after locking) before we give up on naming it.
const SETTLE: Duration = Duration::from_secs(1);

/// The daemon, identity-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Daemon {
    /// The lock is held, by the process the record names.
    Running(PidRecord),
    /// The lock is free but the file still names a process (crash, SIGKILL). When
    /// `other_process` is set, that pid now belongs to an unrelated live process.
    Stale {
        record: PidRecord,
        other_process: bool,
    },
    NotRunning,
}

/// What the lock says, waiting briefly while a lock holder has not written its record yet
/// (or the file still shows a record from before it started).
pub fn find(paths: &Paths) -> Result<Daemon, CtlError> {
    let deadline = Instant::now() + SETTLE;
    loop {
        match pidfile::probe(paths)? {
            Liveness::Running(Some(record)) if record.is_live_process() => {
                return Ok(Daemon::Running(record));
            }
            Liveness::Running(_) if Instant::now() < deadline => std::thread::sleep(POLL),
            Liveness::Running(_) => {
                return Err(CtlError::Unidentified {
                    path: paths.pid_file(),
                });
            }
            Liveness::Stale(record) => {
                let other_process = sys::process_exists(record.pid) && !record.is_live_process();
                return Ok(Daemon::Stale {
                    record,
                    other_process,
                });
            }
            Liveness::NotRunning => return Ok(Daemon::NotRunning),
        }
    }
}

/// Did the signal reach the daemon?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// The process the record names is gone (or the pid now names another process).
    Gone,
}

/// Send `sig` to the daemon the record names, if it is still that process.
pub fn signal(record: &PidRecord, sig: Signal) -> Result<Sent, CtlError> {
    if !record.is_live_process() {
        return Ok(Sent::Gone);
    }
    match sys::send_signal(record.pid, sig) {
        Ok(()) => Ok(Sent::Delivered),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Sent::Gone),
        Err(source) => Err(CtlError::Signal {
            pid: record.pid,
            signal: signal_name(sig),
            source,
        }),
    }
}

/// Wait until nobody holds the lock, up to `limit`. True if it was released in time.
pub fn wait_released(paths: &Paths, limit: Duration) -> Result<bool, CtlError> {
    let deadline = Instant::now() + limit;
    loop {
        if !matches!(pidfile::probe(paths)?, Liveness::Running(_)) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

pub fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::Term => "SIGTERM",
        Signal::Kill => "SIGKILL",
        Signal::Hup => "SIGHUP",
        Signal::Usr1 => "SIGUSR1",
    }
}
