//! The daemon's log: timestamped lines on stderr under `--foreground`, else in
//! `$DIFFLORE_HOME/difflored.log` (also made stdout/stderr, so panics land there too).
//! Owns the size cap (one rotation to `difflored.log.1`) and reopening on SIGHUP.
//! Never given a token or a credentialed URL.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::shared::sys;

/// Past this size the log moves to `difflored.log.1` (replacing the previous one), so the
/// log never takes much more than twice this on disk.
pub const LOG_CAP: u64 = 1 << 20;

enum Target {
    Stderr,
    File(LogFile),
}

static TARGET: Mutex<Target> = Mutex::new(Target::Stderr);

/// An append-only log file with a size cap.
pub struct LogFile {
    path: PathBuf,
    file: File,
    written: u64,
    cap: u64,
    /// Also make it the process's stdout and stderr (the detached daemon).
    onto_stdio: bool,
}

impl LogFile {
    pub fn open(path: &Path, cap: u64, onto_stdio: bool) -> io::Result<LogFile> {
        // 0600 whatever the umask: the log names sessions, paths and collector answers.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        if onto_stdio {
            sys::redirect(file.as_raw_fd(), 1)?;
            sys::redirect(file.as_raw_fd(), 2)?;
        }
        Ok(LogFile {
            path: path.to_owned(),
            written: file.metadata()?.len(),
            file,
            cap,
            onto_stdio,
        })
    }

    pub fn write_line(&mut self, text: &str) {
        if self.file.write_all(text.as_bytes()).is_ok() {
            self.written += text.len() as u64;
        }
        if self.written > self.cap
            && let Err(e) = self.rotate()
        {
            let _ = writeln!(
                self.file,
                "could not rotate log {}: {e}",
                self.path.display()
            );
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.reopen()
    }

    /// Start a fresh file at the same path (after rotation, or when moved away).
    fn reopen(&mut self) -> io::Result<()> {
        *self = LogFile::open(&self.path, self.cap, self.onto_stdio)?;
        Ok(())
    }
}

/// Log into `path` from now on, with it as stdout/stderr too.
pub fn to_file(path: &Path) -> io::Result<()> {
    let file = LogFile::open(path, LOG_CAP, true)?;
    *lock() = Target::File(file);
    Ok(())
}

/// SIGHUP: start a fresh file if someone moved ours away (logrotate and friends).
pub fn reopen() {
    if let Target::File(file) = &mut *lock()
        && let Err(e) = file.reopen()
    {
        let text = stamped(&format!("could not reopen log: {e}"));
        file.write_line(&text);
    }
}

/// Write one line. Logging never fails the caller.
pub fn line(msg: &str) {
    let text = stamped(msg);
    match &mut *lock() {
        Target::Stderr => {
            let _ = io::stderr().lock().write_all(text.as_bytes());
        }
        Target::File(file) => file.write_line(&text),
    }
}

fn stamped(msg: &str) -> String {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now());
    format!("{stamp} difflored[{}]: {msg}\n", std::process::id())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_once_past_its_cap_and_keeps_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("difflored.log");
        let mut log = LogFile::open(&path, 100, false).unwrap();
        for i in 0..10 {
            log.write_line(&format!("line {i:02} padded to about thirty\n"));
        }
        let current = std::fs::read_to_string(&path).unwrap();
        let previous = std::fs::read_to_string(dir.path().join("difflored.log.1")).unwrap();
        assert!(current.len() as u64 <= 100, "{current}");
        assert!(previous.len() as u64 > 100);
        assert!(current.contains("line 09"));
        assert!(previous.contains("line 04") || current.contains("line 04"));
        // Older rotations are dropped: at most two files, both private.
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 2);
        for name in ["difflored.log", "difflored.log.1"] {
            use std::os::unix::fs::MetadataExt;
            let mode = std::fs::metadata(dir.path().join(name)).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
}
