//! The daemon's log: timestamped lines on stderr, which is the terminal under `--foreground`
//! and `$DIFFLORE_HOME/difflored.log` when detached. Owns the size cap (one rotation to
//! `difflored.log.1`) and reopening on SIGHUP. Never given a token or a credentialed URL.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::shared::sys;

/// Past this size the log is moved to `difflored.log.1` (replacing the previous one), so
/// the log never takes more than twice this on disk.
pub const LOG_CAP: u64 = 1 << 20;

enum Target {
    Stderr,
    File { path: PathBuf, written: u64 },
}

static TARGET: Mutex<Target> = Mutex::new(Target::Stderr);

/// Open `path` for appending (0600 through the daemon's umask) and make it stdout and
/// stderr, so panics and stray prints land in the log too.
pub fn open_onto_stdio(path: &Path) -> io::Result<u64> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    sys::redirect(file.as_raw_fd(), 1)?;
    sys::redirect(file.as_raw_fd(), 2)?;
    Ok(file.metadata()?.len())
}

/// Log into the file already on stdout/stderr (see `open_onto_stdio`).
pub fn to_file(path: &Path, size: u64) {
    set(Target::File {
        path: path.to_owned(),
        written: size,
    });
}

/// SIGHUP: start a fresh file if someone moved ours away (logrotate and friends).
pub fn reopen() {
    let mut target = lock();
    if let Target::File { path, written } = &mut *target {
        match open_onto_stdio(path) {
            Ok(size) => *written = size,
            Err(e) => {
                eprint_line(&format!("could not reopen log {}: {e}", path.display()));
            }
        }
    }
}

/// Write one line. Logging never fails the caller.
pub fn line(msg: &str) {
    let mut target = lock();
    let len = eprint_line(msg);
    if let Target::File { path, written } = &mut *target {
        *written += len;
        if *written > LOG_CAP {
            rotate(path, written);
        }
    }
}

fn rotate(path: &Path, written: &mut u64) {
    let mut old = path.as_os_str().to_owned();
    old.push(".1");
    if let Err(e) = std::fs::rename(path, &old) {
        eprint_line(&format!("could not rotate log {}: {e}", path.display()));
        return;
    }
    match open_onto_stdio(path) {
        Ok(size) => *written = size,
        Err(e) => {
            eprint_line(&format!("could not open log {}: {e}", path.display()));
        }
    }
}

fn eprint_line(msg: &str) -> u64 {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now());
    let text = format!("{stamp} difflored[{}]: {msg}\n", std::process::id());
    let _ = io::stderr().lock().write_all(text.as_bytes());
    text.len() as u64
}

fn set(new: Target) {
    *lock() = new;
}

fn lock() -> std::sync::MutexGuard<'static, Target> {
    TARGET
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `dlog!("…", args)`: one line in the daemon's log.
#[macro_export]
macro_rules! dlog {
    ($($arg:tt)*) => {
        $crate::daemon::log::line(&format!($($arg)*))
    };
}
