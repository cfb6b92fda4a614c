//! Opening the outbox: read-write (configured, then migrated) for the hook and the daemon,
//! or strictly read-only for `status`. Must not create or change anything when read-only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::schema::SCHEMA_VERSION;
use super::{Outbox, StoreError};
use crate::shared::paths::Paths;

/// How hard a commit tries to survive power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL + synchronous=NORMAL: survives any crash of difflore; the last commits may be lost
    /// if the machine loses power.
    Normal,
    /// synchronous=FULL: every commit is synced.
    Full,
}

impl Durability {
    /// `DIFFLORE_SYNC=full` selects FULL; anything else is NORMAL.
    pub fn from_env() -> Durability {
        match std::env::var("DIFFLORE_SYNC") {
            Ok(v) if v.eq_ignore_ascii_case("full") => Durability::Full,
            _ => Durability::Normal,
        }
    }
}

/// How a process opens the outbox.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// How long a statement waits for a lock before giving up with SQLITE_BUSY.
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// The hook sets this: its close must not checkpoint the WAL (the daemon does that).
    pub skip_checkpoint_on_close: bool,
    /// The hook sets this: wait for a lock in steps of tens of microseconds, not SQLite's
    /// 1, 2, 5, 10… ms, so a hook behind a daemon's short write is not held milliseconds
    /// after the lock is free.
    pub fine_busy_wait: bool,
    /// Bring an older outbox to `SCHEMA_VERSION`. The hook clears it: it creates a missing
    /// outbox (empty, so fast) but inserts into an existing one as it stands, older or
    /// newer, since a migration may read every row and outlast the agent's patience.
    pub migrate: bool,
    /// Told each step of a migration, so a long one on a large outbox shows progress.
    pub progress: Option<fn(&str)>,
}

impl OpenOptions {
    pub fn hook(busy_timeout: Duration) -> OpenOptions {
        OpenOptions {
            busy_timeout,
            durability: Durability::from_env(),
            skip_checkpoint_on_close: true,
            fine_busy_wait: true,
            migrate: false,
            progress: None,
        }
    }

    pub fn long_lived() -> OpenOptions {
        OpenOptions {
            busy_timeout: Duration::from_secs(5),
            durability: Durability::from_env(),
            skip_checkpoint_on_close: false,
            fine_busy_wait: false,
            migrate: true,
            progress: None,
        }
    }

    /// The same, telling `progress` each step of a migration (the daemon's log, ctl's stderr).
    pub fn with_progress(self, progress: fn(&str)) -> OpenOptions {
        OpenOptions {
            progress: Some(progress),
            ..self
        }
    }
}

impl Outbox {
    /// Open (creating if needed) and migrate the outbox under `paths`.
    pub fn open(paths: &Paths, opts: OpenOptions) -> Result<Outbox, StoreError> {
        let path = paths.db();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(&path, flags).map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        if opts.fine_busy_wait {
            let patience = u64::try_from(opts.busy_timeout.as_micros()).unwrap_or(u64::MAX);
            FINE_PATIENCE_US.store(patience, Ordering::Relaxed);
            super::waiting::HOOK.set_path(paths);
            conn.busy_handler(Some(fine_busy_wait))
                .map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
        }
        let outbox = Outbox { conn, path };
        outbox.configure(opts)?;
        outbox.migrate(opts)?;
        Ok(outbox)
    }

    /// Open an existing outbox read-only, for `status` (which must change nothing).
    /// `Ok(None)` when there is no database yet.
    ///
    /// A plain read-only SQLite connection still creates the `-wal` and `-shm` files when
    /// they are missing and writes read marks into `-shm`. So: with both present, `-shm` is
    /// opened read-only (`readonly_shm`). With neither a WAL nor a rollback journal, nobody
    /// is writing and every committed page is in the main file, which is read `immutable`
    /// (a writer that appears meanwhile writes to a new WAL, which this snapshot ignores).
    /// Only while a writer creates the database (a `-journal` exists) is it opened plainly,
    /// waiting for that writer like any reader.
    pub fn open_read_only(paths: &Paths) -> Result<Option<Outbox>, StoreError> {
        let path = paths.db();
        if !path.exists() {
            return Ok(None);
        }
        let beside = |suffix: &str| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            std::path::Path::new(&p).exists()
        };
        let mode = match (beside("-wal"), beside("-shm"), beside("-journal")) {
            (true, true, _) => "mode=ro&readonly_shm=1",
            (false, _, false) => "immutable=1",
            _ => "mode=ro",
        };
        let uri = format!("file:{}?{mode}", uri_path(&path));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&uri, flags).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let outbox = Outbox { conn, path };
        outbox
            .conn
            .busy_timeout(Duration::from_secs(2))
            .map_err(|e| outbox.sql(e))?;
        let found = outbox.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(outbox.newer(found));
        }
        Ok((found > 0).then_some(outbox))
    }

    fn configure(&self, opts: OpenOptions) -> Result<(), StoreError> {
        let c = &self.conn;
        // The hook's handler was set at open (it needs the connection to itself).
        if !opts.fine_busy_wait {
            c.busy_timeout(opts.busy_timeout).map_err(|e| self.sql(e))?;
        }
        let sync = match opts.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        c.pragma_update(None, "synchronous", sync)
            .map_err(|e| self.sql(e))?;
        if opts.skip_checkpoint_on_close {
            c.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map_err(|e| self.sql(e))?;
        }
        // A plan that never depends on bound values. Without it a statement with `LIMIT ?`
        // is compiled again on every run: rusqlite clears a cached statement's bindings
        // when it goes back to the cache, and SQLite expires any statement whose plan
        // looked at a binding when they are cleared. That was a fifth of the drain's time
        // (the claim and assembly's read both have `LIMIT ?`).
        c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| self.sql(e))?;
        Ok(())
    }
}

/// The patience of `fine_busy_wait`, in µs: one per process, as the hook opens one outbox.
static FINE_PATIENCE_US: AtomicU64 = AtomicU64::new(0);

/// SQLite's busy handler for the hook: asked for the `n`th time for one lock, sleep 25 µs
/// doubled each time up to 200 µs, and give up (SQLITE_BUSY) once the sleeps add up to the
/// patience. The cap is short because a draining daemon commits back to back, each write
/// lock held a few ms with a gap well under a millisecond between: a hook sleeping a whole
/// millisecond at a time would keep missing the gaps. Each refusal also marks the hook
/// waiting (`waiting`), and a daemon that sees the mark lets it have the lock.
fn fine_busy_wait(n: i32) -> bool {
    // 25, 50, 100, then 200 µs each time.
    let step = |i: u32| 25u64 << i.min(3);
    let n = u32::try_from(n).unwrap_or(0);
    let waited = 25 * ((1u64 << n.min(4)) - 1) + u64::from(n.saturating_sub(4)) * 200;
    if waited >= FINE_PATIENCE_US.load(Ordering::Relaxed) {
        return false;
    }
    // Refused: let a draining daemon know, so that it lets go between two commits.
    super::waiting::HOOK.waiting();
    std::thread::sleep(Duration::from_micros(step(n)));
    true
}

/// A path as an SQLite URI path: `%`, `?` and `#` (and anything not printable) escaped.
fn uri_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'%' | b'?' | b'#' => out.push_str(&format!("%{b:02X}")),
            0x21..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fine_busy_wait_steps_up_and_gives_up_at_its_patience() {
        FINE_PATIENCE_US.store(1000, Ordering::Relaxed);
        // Sleeps of 25, 50, 100, then 200 µs (975 in all after eight) fit; the ninth ask
        // would pass 1 ms.
        for n in 0..8 {
            assert!(fine_busy_wait(n), "ask {n}");
        }
        assert!(!fine_busy_wait(8));
        assert!(!fine_busy_wait(i32::MAX));
    }
    use crate::shared::event::classify;

    #[test]
    fn read_only_open_finds_odd_paths_and_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("a dir?#%é");
        let paths = Paths::at(&home);
        paths.ensure_home().unwrap();
        let f = classify(br#"{"hook_event_name":"Stop"}"#, None).unwrap();
        let db = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
        db.insert(1, &f, "{}").unwrap();
        drop(db);
        let before: Vec<_> = std::fs::read_dir(&home)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let ro = Outbox::open_read_only(&paths).unwrap().unwrap();
        assert_eq!(ro.counts().unwrap().pending, 1);
        drop(ro);
        let after: Vec<_> = std::fs::read_dir(&home)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(after, before);
    }
}
