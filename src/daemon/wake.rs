//! Wake on the write: a file-change watch on the data home (inotify on Linux, kqueue on
//! macOS, through the `notify` crate), so the drain loop sleeps until a hook commits to the
//! outbox instead of polling for it. The hook pays nothing: the kernel reports its write to
//! the outbox's WAL. Where no watch can be set (or `DIFFLORE_WATCH=off`), the loop's slow
//! safety check is what finds new rows. While the loop is busy draining it pauses the
//! watch: every flight back looks at the outbox anyway, and each of the daemon's own
//! commits would otherwise be reported, write by write. Never reads or writes the outbox
//! itself.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

use crate::dlog;
use crate::shared::paths::Paths;

/// The safety check's period when `DIFFLORE_IDLE_CHECK` does not set one: the loop looks
/// at the outbox this often even when no change was reported (network file systems
/// deliver no notifications).
pub const IDLE_CHECK: Duration = Duration::from_secs(2);
/// The shortest safety check `DIFFLORE_IDLE_CHECK` may ask for.
const IDLE_CHECK_MIN: Duration = Duration::from_secs(1);

pub struct Wake {
    /// Kept alive for as long as the watch should last; `None` when there is none.
    watcher: Option<RecommendedWatcher>,
    /// What is watched (the data home, and the spill folder when it could be).
    watched: Vec<PathBuf>,
    paused: bool,
    changed: Arc<Notify>,
}

impl Wake {
    /// Watch the data home for writes to the outbox. Failing that, log why and rely on the
    /// safety check alone.
    pub fn watch(paths: &Paths) -> Wake {
        let changed = Arc::new(Notify::new());
        if std::env::var_os("DIFFLORE_WATCH").is_some_and(|v| v == "off") {
            dlog!(
                "file-change watch off (DIFFLORE_WATCH=off): looking for new events every {}",
                humantime::format_duration(idle_check())
            );
            return Wake {
                watcher: None,
                watched: Vec::new(),
                paused: false,
                changed,
            };
        }
        let notify = Arc::clone(&changed);
        let handler = move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            let wrote = matches!(
                event.kind,
                EventKind::Modify(_) | EventKind::Create(_) | EventKind::Any
            );
            if wrote && event.paths.iter().any(|p| is_outbox(p) || is_spill(p)) {
                // Stores a permit when the loop is busy: a write is never missed.
                notify.notify_one();
            }
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&paths.home, RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match watched {
            Ok(mut w) => {
                // Spill files (a hook that found the outbox locked) land in their own
                // folder: made now, private, so that it can be watched from the start.
                let spill = paths.spill_dir();
                let _ = DirBuilder::new().mode(0o700).create(&spill);
                let spill_watched =
                    spill.is_dir() && w.watch(&spill, RecursiveMode::NonRecursive).is_ok();
                dlog!(
                    "waking on writes to the outbox{}; safety check every {}",
                    if spill_watched {
                        " and the spill folder"
                    } else {
                        ""
                    },
                    humantime::format_duration(idle_check())
                );
                let mut watched = vec![paths.home.clone()];
                if spill_watched {
                    watched.push(spill);
                }
                Wake {
                    watcher: Some(w),
                    watched,
                    paused: false,
                    changed,
                }
            }
            Err(e) => {
                dlog!(
                    "cannot watch {} for writes ({e}): looking for new events every {}",
                    &paths.home.display(),
                    humantime::format_duration(idle_check())
                );
                Wake {
                    watcher: None,
                    watched: Vec::new(),
                    paused: false,
                    changed,
                }
            }
        }
    }

    /// Stop reporting writes while the loop looks at the outbox on its own (a drain).
    pub fn pause(&mut self) {
        let Some(w) = self.watcher.as_mut().filter(|_| !self.paused) else {
            return;
        };
        for path in &self.watched {
            let _ = w.unwatch(path);
        }
        self.paused = true;
    }

    /// Report writes again. The caller looks at the outbox once more afterwards: a write
    /// made while paused is not reported.
    pub fn resume(&mut self) {
        let Some(w) = self.watcher.as_mut().filter(|_| self.paused) else {
            return;
        };
        self.paused = false;
        for path in &self.watched {
            if let Err(e) = w.watch(path, RecursiveMode::NonRecursive) {
                dlog!(
                    "cannot watch {} for writes again ({e}): the safety check finds new events",
                    path.display()
                );
            }
        }
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Whether a new spill file is reported now (the spill folder is watched, not paused):
    /// then the folder need not be listed on a timer, which itself wakes the watch.
    pub fn sees_spills(&self) -> bool {
        self.watcher.is_some() && !self.paused && self.watched.iter().any(|p| p.ends_with("spill"))
    }

    /// Resolves once the outbox was written to since the last call (at once if it was
    /// while nobody waited).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A file in the spill folder (`spill/…`): a hook that found the outbox locked.
fn is_spill(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "spill")
}

/// The outbox's files: the database, its WAL and its shared-memory index.
fn is_outbox(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("outbox.db"))
}

/// The safety check's period: `DIFFLORE_IDLE_CHECK` (a humantime duration, at least 1 s)
/// or [`IDLE_CHECK`].
pub fn idle_check() -> Duration {
    std::env::var("DIFFLORE_IDLE_CHECK")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .map_or(IDLE_CHECK, |d| d.max(IDLE_CHECK_MIN))
}
