//! Stopping, killing, starting and restarting difflored, each ending in an outcome value
//! for the renderer. Signals only through `process::signal` (identity-checked); a stale pid
//! file is cleaned, never acted on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::shared::paths::Paths;
use crate::shared::pidfile;
use crate::shared::sys::Signal;

use super::CtlError;
use super::process::{self, Daemon, Sent};

/// How long a SIGKILLed process may take to let go of its lock. The kernel releases it as
/// the process dies, so only a process stuck in the kernel (D state) can outlast this.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How long `start` waits for the new daemon to take its lock.
const START_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    NotRunning,
    /// The pid file named a dead daemon (or a reused pid); it was emptied, nothing signalled.
    StaleCleaned {
        pid: i32,
        other_process: bool,
    },
    /// Exited on SIGTERM within the grace period.
    Stopped {
        pid: i32,
        after: Duration,
    },
    /// Still running after the grace period, then killed.
    Killed {
        pid: i32,
        grace: Duration,
    },
    /// Still holding its lock after SIGKILL.
    Survived {
        pid: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillOutcome {
    NotRunning,
    StaleCleaned { pid: i32, other_process: bool },
    Killed { pid: i32 },
    Survived { pid: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    AlreadyRunning { pid: i32 },
    Started { pid: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartOutcome {
    pub stop: StopOutcome,
    /// `None` when the old daemon survived SIGKILL, so no new one was started.
    pub start: Option<StartOutcome>,
}

/// SIGTERM, wait up to `grace` for the lock to be released, then SIGKILL.
pub fn stop(paths: &Paths, grace: Duration) -> Result<StopOutcome, CtlError> {
    let record = match process::find(paths)? {
        Daemon::NotRunning => return Ok(StopOutcome::NotRunning),
        Daemon::Stale {
            record,
            other_process,
        } => {
            pidfile::clear_stale(paths)?;
            return Ok(StopOutcome::StaleCleaned {
                pid: record.pid,
                other_process,
            });
        }
        Daemon::Running(record) => record,
    };
    let pid = record.pid;
    let started = Instant::now();
    // Gone already: a concurrent stop won the race; the lock tells us when it is over.
    process::signal(&record, Signal::Term)?;
    if process::wait_released(paths, grace)? {
        let after = started.elapsed();
        // A daemon signalled before its handlers were installed dies without emptying its
        // file; a stopped daemon must read "not running", not "crashed".
        if matches!(pidfile::probe(paths)?, pidfile::Liveness::Stale(r) if r.pid == pid) {
            pidfile::clear_stale(paths)?;
        }
        return Ok(StopOutcome::Stopped { pid, after });
    }
    match kill_and_clean(paths, &record)? {
        true => Ok(StopOutcome::Killed { pid, grace }),
        false => Ok(StopOutcome::Survived { pid }),
    }
}

/// SIGKILL now.
pub fn kill(paths: &Paths) -> Result<KillOutcome, CtlError> {
    match process::find(paths)? {
        Daemon::NotRunning => Ok(KillOutcome::NotRunning),
        Daemon::Stale {
            record,
            other_process,
        } => {
            pidfile::clear_stale(paths)?;
            Ok(KillOutcome::StaleCleaned {
                pid: record.pid,
                other_process,
            })
        }
        Daemon::Running(record) => match kill_and_clean(paths, &record)? {
            true => Ok(KillOutcome::Killed { pid: record.pid }),
            false => Ok(KillOutcome::Survived { pid: record.pid }),
        },
    }
}

/// SIGKILL, wait for the lock, then empty the record it left behind so `status` says
/// "not running" rather than "crashed". False if the lock outlived the kill.
fn kill_and_clean(paths: &Paths, record: &pidfile::PidRecord) -> Result<bool, CtlError> {
    let sent = process::signal(record, Signal::Kill)?;
    let limit = if sent == Sent::Delivered {
        KILL_WAIT
    } else {
        // Not our process any more: whoever holds the lock is not ours to wait for long.
        Duration::from_secs(1)
    };
    if !process::wait_released(paths, limit)? {
        return Ok(false);
    }
    pidfile::clear_stale(paths)?;
    Ok(true)
}

/// Spawn `difflored` and wait for it to detach: its first process exits only once the
/// daemon is ready (lock, record, signal handlers, health), and with failure if it is not.
pub fn start(paths: &Paths) -> Result<StartOutcome, CtlError> {
    // A stale record needs nothing from us: the new daemon takes the free lock and
    // overwrites it.
    if let Daemon::Running(record) = process::find(paths)? {
        return Ok(StartOutcome::AlreadyRunning { pid: record.pid });
    }
    let exe = daemon_binary()?;
    let spawn_error = |source| CtlError::Spawn {
        path: exe.clone(),
        source,
    };
    // stderr stays ours: a daemon that cannot start says why before it detaches.
    let mut child = Command::new(&exe)
        .env(crate::shared::paths::HOME_VAR, &paths.home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(spawn_error)?;
    let deadline = Instant::now() + START_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            break status;
        }
        if Instant::now() >= deadline {
            return Err(CtlError::StartTimeout {
                waited: START_WAIT,
                log: paths.log_file(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if !status.success() {
        return Err(CtlError::DaemonExited {
            path: exe,
            status,
            log: paths.log_file(),
        });
    }
    match process::find(paths)? {
        Daemon::Running(record) => Ok(StartOutcome::Started { pid: record.pid }),
        _ => Err(CtlError::NotStarted {
            path: exe,
            log: paths.log_file(),
        }),
    }
}

pub fn restart(paths: &Paths, grace: Duration) -> Result<RestartOutcome, CtlError> {
    let stop = stop(paths, grace)?;
    let start = match stop {
        StopOutcome::Survived { .. } => None,
        _ => Some(start(paths)?),
    };
    Ok(RestartOutcome { stop, start })
}

/// `difflored` next to this executable (an install puts the three side by side), else the
/// first one on PATH.
pub(crate) fn daemon_binary() -> Result<PathBuf, CtlError> {
    let here = std::env::current_exe().ok();
    let beside = here
        .as_deref()
        .and_then(Path::parent)
        .map(|dir| dir.join("difflored"));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("difflored"));
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| is_executable(p))
        .ok_or(CtlError::NoDaemonBinary { beside: here })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
