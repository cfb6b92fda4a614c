//! Leaving the terminal: fork and `setsid` while still single-threaded (no runtime yet),
//! stdin from /dev/null, stdout/stderr into the log, inherited descriptors closed. The
//! parent waits on a pipe until the child reports that it is serving (or why it is not).
//! Must run before any thread, SQLite connection or async runtime exists.

use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::shared::paths::Paths;
use crate::shared::pidfile::PidLock;
use crate::shared::sys::{self, Fork};

use super::log;

#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    #[error("could not create the start-up pipe")]
    Pipe(#[source] io::Error),
    #[error("could not fork")]
    Fork(#[source] io::Error),
    #[error("could not start a new session")]
    Setsid(#[source] io::Error),
    #[error("could not point stdin at /dev/null")]
    DevNull(#[source] io::Error),
    #[error("could not open log {path}")]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("daemon (pid {pid}) did not start: {message}")]
    ChildFailed { pid: i32, message: String },
    #[error("daemon (pid {pid}) exited during start-up; see {log}")]
    ChildDied { pid: i32, log: PathBuf },
}

/// Which side of the fork we are on.
pub enum Detached {
    /// The original process: wait for the child's word, then exit.
    Parent(StartupWait),
    /// The daemon: report through the notifier once serving.
    Child(StartupNotifier),
}

pub struct StartupWait {
    pid: i32,
    reader: PipeReader,
    log: PathBuf,
}

impl StartupWait {
    /// Block until the child says it is serving (Ok) or failed (its message).
    pub fn wait(mut self) -> Result<(), DetachError> {
        let mut text = String::new();
        // EOF without a word: the child died before reporting.
        let _ = self.reader.read_to_string(&mut text);
        match text.strip_prefix(READY) {
            Some(_) => Ok(()),
            None if text.is_empty() => Err(DetachError::ChildDied {
                pid: self.pid,
                log: self.log,
            }),
            None => Err(DetachError::ChildFailed {
                pid: self.pid,
                message: text.trim_end().to_owned(),
            }),
        }
    }
}

const READY: &str = "ready\n";

/// The child's end of the start-up pipe. Dropping it unsent reads as "died" to the parent.
pub struct StartupNotifier {
    writer: PipeWriter,
}

impl StartupNotifier {
    pub fn ready(mut self) {
        let _ = self.writer.write_all(READY.as_bytes());
    }

    pub fn failed(mut self, message: &str) {
        let _ = self.writer.write_all(message.as_bytes());
    }
}

/// Fork away from the terminal. The lock taken by the parent stays held by the child: an
/// flock belongs to the open file description, which the child shares and keeps open.
pub fn detach(paths: &Paths, lock: &PidLock) -> Result<Detached, DetachError> {
    let (reader, writer) = io::pipe().map_err(DetachError::Pipe)?;
    match sys::fork().map_err(DetachError::Fork)? {
        Fork::Parent { child } => {
            drop(writer);
            Ok(Detached::Parent(StartupWait {
                pid: child,
                reader,
                log: paths.log_file(),
            }))
        }
        Fork::Child => {
            drop(reader);
            let notifier = StartupNotifier { writer };
            match become_daemon(paths, lock, &notifier) {
                Ok(()) => Ok(Detached::Child(notifier)),
                Err(e) => {
                    notifier.failed(&crate::shared::error_chain(&e));
                    Err(e)
                }
            }
        }
    }
}

fn become_daemon(
    paths: &Paths,
    lock: &PidLock,
    notifier: &StartupNotifier,
) -> Result<(), DetachError> {
    sys::setsid().map_err(DetachError::Setsid)?;
    let null = File::open("/dev/null").map_err(DetachError::DevNull)?;
    sys::redirect(null.as_raw_fd(), 0).map_err(DetachError::DevNull)?;
    drop(null);
    // Close before opening the log: the log keeps its own descriptor, which must not be
    // among the "inherited" ones.
    sys::close_inherited_fds(&[lock.raw_fd(), notifier.writer.as_raw_fd()]);
    let path = paths.log_file();
    log::to_file(&path).map_err(|source| DetachError::Log { path, source })
}
