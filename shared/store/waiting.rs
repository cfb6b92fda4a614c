//! The hand-off of the outbox's write lock from a draining daemon to a waiting hook. SQLite
//! only lets a writer poll for the lock, and a daemon that commits back to back leaves gaps
//! too short for a polling hook to land in. So a hook that is refused the lock says so: it
//! takes a shared lock on `hooks-waiting` beside the outbox (an `flock`, not `fcntl`, so no
//! other descriptor's close can drop it) and lets go once its event is stored. Before each
//! write transaction the daemon looks; while a hook waits, it waits for that hook's commit
//! instead of taking the lock again.
//!
//! The hook pays for this only when it already waits: the file is not opened, nor looked
//! at, on a run that gets the lock at once.

use std::fs::{File, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::shared::paths::Paths;

/// The hook's side. One per process (`HOOK`), as the hook opens one outbox.
pub(super) struct Mark {
    /// Whether `held` holds the lock: read on every insert, so it is not the mutex.
    marked: AtomicBool,
    inner: Mutex<MarkFile>,
}

struct MarkFile {
    /// Set at open; the file is opened only when the lock is first refused.
    path: Option<PathBuf>,
    /// Open with its shared lock held while the hook waits or writes.
    held: Option<File>,
}

pub(super) static HOOK: Mark = Mark::new();

impl Mark {
    const fn new() -> Mark {
        Mark {
            marked: AtomicBool::new(false),
            inner: Mutex::new(MarkFile {
                path: None,
                held: None,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, MarkFile> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where this process will mark itself waiting, should it have to.
    pub(super) fn set_path(&self, paths: &Paths) {
        self.inner().path = Some(paths.hooks_waiting());
    }

    /// Called by the hook's busy handler each time the lock is refused: mark this process
    /// waiting, once. A failure (a read-only home, the daemon looking at that instant)
    /// only costs the courtesy, and the next refusal tries again.
    pub(super) fn waiting(&self) {
        if self.marked.load(Ordering::Relaxed) {
            return;
        }
        let mut inner = self.inner();
        let Some(path) = inner.path.clone() else {
            return;
        };
        let opened = open(&path);
        if let Ok(file) = opened
            && file.try_lock_shared().is_ok()
        {
            inner.held = Some(file);
            self.marked.store(true, Ordering::Relaxed);
        }
    }

    /// The event is stored (or could not be): stop marking. Closing the file lets go of
    /// its lock. One atomic operation when the hook never waited.
    pub(super) fn done(&self) {
        if self.marked.swap(false, Ordering::Relaxed) {
            self.inner().held = None;
        }
    }
}

/// The longest the daemon waits for hooks before one write transaction. A hook marked
/// waiting takes the lock within its busy handler's next step (at most 200 µs) and holds it
/// for one insert; a wait this long means it is stopped or starved of CPU.
const STEP_ASIDE_MAX: Duration = Duration::from_millis(3);
/// After a wait ran out, the daemon stops looking for this long, so a hook stopped while
/// marked (a debugger, SIGSTOP) costs one wait, not one per transaction.
const DEAF_AFTER_TIMEOUT: Duration = Duration::from_millis(250);
/// How often the daemon looks again while a hook waits.
const LOOK_EVERY: Duration = Duration::from_micros(50);
/// A hook seen waiting this recently means more are coming (an agent at work): the daemon
/// writes in shorter transactions meanwhile (`recent`).
const RECENT: Duration = Duration::from_secs(1);

/// Open (creating, empty) the mark file; never through a symbolic link.
fn open(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// The daemon's side.
#[derive(Debug)]
pub struct Waiters {
    file: Option<File>,
    deaf_until: Option<Instant>,
    /// When `step_aside` last saw a hook waiting.
    seen: Option<Instant>,
}

impl Waiters {
    /// Open (creating) the mark file. Without it (an error here) the daemon never waits.
    pub fn open(paths: &Paths) -> Waiters {
        let file = open(&paths.hooks_waiting()).ok();
        Waiters {
            file,
            deaf_until: None,
            seen: None,
        }
    }

    /// Whether a hook is marked waiting now: an exclusive lock is tried and let go at once.
    pub fn any(&self) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => false,
        }
    }

    /// Whether `step_aside` saw a hook waiting within `RECENT`.
    pub fn recent(&self) -> bool {
        self.seen.is_some_and(|t| t.elapsed() < RECENT)
    }

    /// Before a write transaction: while a hook is marked waiting, let it have the lock,
    /// up to `STEP_ASIDE_MAX`. Returns whether any hook was waiting.
    pub fn step_aside(&mut self) -> bool {
        if self.deaf_until.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        if !self.any() {
            return false;
        }
        let started = Instant::now();
        self.seen = Some(started);
        while self.any() {
            if started.elapsed() >= STEP_ASIDE_MAX {
                self.deaf_until = Some(Instant::now() + DEAF_AFTER_TIMEOUT);
                break;
            }
            std::thread::sleep(LOOK_EVERY);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_hook_is_seen_until_it_is_done_and_a_stuck_one_is_waited_for_once() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let mut daemon = Waiters::open(&paths);
        assert!(!daemon.any());
        assert!(!daemon.step_aside());
        assert!(!daemon.recent(), "no hook has waited yet");

        // Its own, not `HOOK`: other tests insert meanwhile, and an insert says `done`.
        let hook = Mark::new();
        hook.waiting(); // no path yet: nothing
        assert!(!hook.marked.load(Ordering::Relaxed));
        hook.set_path(&paths);
        hook.waiting();
        hook.waiting(); // once is enough; the second changes nothing
        assert!(hook.marked.load(Ordering::Relaxed));
        assert!(daemon.any(), "a hook marked waiting is seen");
        // Stuck: the daemon waits its longest once, then stops looking for a while.
        let t = Instant::now();
        assert!(daemon.step_aside());
        assert!(t.elapsed() >= STEP_ASIDE_MAX);
        assert!(!daemon.step_aside(), "deaf after a wait that ran out");
        assert!(daemon.recent(), "a hook was seen waiting just now");

        hook.done();
        assert!(!hook.marked.load(Ordering::Relaxed));
        assert!(!daemon.any(), "a hook that is done is not seen");
        hook.done(); // idempotent
    }
}
