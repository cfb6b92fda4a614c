//! `difflored` as a library function: take the lock, detach (or not), open the outbox, and
//! drain it until asked to stop. The order matters: lock first, fork before any thread,
//! SQLite connection or runtime exists, pid record written by the process that serves.

pub mod backoff;
mod concurrency;
mod deliver;
pub mod detach;
mod drain;
pub mod endpoint;
pub mod health;
mod inflight;
mod ledger;
pub mod log;
pub mod plaintext;
pub mod prepare;
pub mod private;
pub mod queue;
pub mod redact;
pub mod secret;
pub mod signals;
pub mod sink;
pub mod spans;
mod timer;
pub mod trim;
mod usage;
mod wake;

use std::rc::Rc;

use crate::dlog;
use crate::shared::config::{Config, ConfigError};
use crate::shared::paths::{Paths, PathsError};
use crate::shared::pidfile::{PidFileError, PidLock, PidRecord};
use crate::shared::store::{OpenOptions, Outbox, StoreError};
use crate::shared::{error_chain, sys};

use detach::{DetachError, Detached, StartupNotifier};
use drain::Daemon;
use health::Publisher;
use prepare::{PrepareError, Preparer};

pub use deliver::SHUTDOWN_GRACE;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stay attached to the terminal and log to stderr.
    pub foreground: bool,
    /// `--endpoint`: beats `DIFFLORE_ENDPOINT` and config.toml.
    pub endpoint: Option<String>,
}

/// How `run` ended without an error: all of these exit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Another daemon holds the lock: nothing to do.
    AlreadyRunning,
    /// This was the launching process; the detached daemon is serving.
    Detached,
    /// Served until asked to stop, then stopped cleanly.
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    #[error(transparent)]
    Detach(#[from] DetachError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("could not install signal handlers")]
    Signals(#[source] std::io::Error),
}

pub fn run(opts: &Options) -> Result<Outcome, DaemonError> {
    sys::private_umask();
    let paths = Paths::from_env()?;
    paths.ensure_private_home()?;
    let Some(lock) = PidLock::acquire(&paths)? else {
        return Ok(Outcome::AlreadyRunning);
    };
    let notifier = if opts.foreground {
        None
    } else {
        match detach::detach(&paths, &lock)? {
            // The child holds the lock now; this process's copy closes on return.
            Detached::Parent(wait) => return Ok(wait.wait().map(|()| Outcome::Detached)?),
            Detached::Child(notifier) => Some(notifier),
        }
    };
    serve(paths, lock, opts, notifier)
}

/// The serving process, from pid record to clean exit.
fn serve(
    paths: Paths,
    mut lock: PidLock,
    opts: &Options,
    notifier: Option<StartupNotifier>,
) -> Result<Outcome, DaemonError> {
    let started = start(&paths, &mut lock, opts);
    let (mut daemon, runtime, signals) = match started {
        Ok(parts) => parts,
        Err(e) => {
            dlog!("could not start: {}", error_chain(&e));
            if let Some(n) = notifier {
                n.failed(&error_chain(&e));
            }
            // Leave the file empty: this is a failed start, not a crash.
            let _ = lock.release();
            return Err(e);
        }
    };
    if let Some(n) = notifier {
        n.ready();
    }
    let control = daemon.control.clone();
    runtime.block_on(async {
        let handle = signals.handle();
        let forward = signals::forward(signals, &control);
        tokio::select! {
            () = daemon.run() => {}
            () = forward => {}
        }
        handle.close();
    });
    stop(&mut daemon);
    lock.release()?;
    dlog!("stopped");
    Ok(Outcome::Stopped)
}

type Started = (Daemon, tokio::runtime::Runtime, signal_hook_tokio::Signals);

fn start(paths: &Paths, lock: &mut PidLock, opts: &Options) -> Result<Started, DaemonError> {
    // Handlers first: a stop sent as soon as the pid record appears is then graceful (it
    // waits in the stream) instead of the default action killing us mid-start.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let signals = runtime
        .block_on(async { signals::listen() })
        .map_err(DaemonError::Signals)?;
    let record = PidRecord::for_this_process();
    lock.write(&record)?;
    tighten_files(paths);
    let config = Config::load(paths)?;
    let outbox = Outbox::open(
        paths,
        OpenOptions::long_lived().with_progress(|line| dlog!("{line}")),
    )?;
    let reclaimed = queue::reclaim_all(&outbox)?;
    let preparer = Preparer::new(outbox.install_id()?, &config)?;
    let mut publisher = Publisher::new(record.pid, record.started_ms);
    // Redaction counts are kept across restarts: they live in the previous health record.
    if let Some(previous) = crate::shared::health::Health::read(&outbox)? {
        *publisher.redactions_mut() = previous.redactions;
    }
    let control = Rc::new(signals::Control::default());
    dlog!(
        "difflored {} started (pid {}); {reclaimed} interrupted claims returned to the queue",
        env!("CARGO_PKG_VERSION"),
        record.pid
    );
    let mut daemon = Daemon::new(
        paths.clone(),
        opts.endpoint.clone(),
        config,
        outbox,
        preparer,
        publisher,
        control,
    )?;
    daemon.import_spills();
    daemon.publish_now()?;
    Ok((daemon, runtime, signals))
}

/// Files in the data home made private again, before the outbox is opened (its -wal and
/// -shm take the database file's mode).
fn tighten_files(paths: &Paths) {
    let report = private::tighten(paths);
    for (path, mode) in &report.changed {
        dlog!(
            "{} was mode {mode:04o}, open to group or others; made it private",
            path.display()
        );
    }
    for (path, e) in &report.failed {
        dlog!("could not make {} private: {e}", path.display());
    }
}

/// Clean stop: nothing stays claimed, and the health record says when we left.
fn stop(daemon: &mut Daemon) {
    daemon.ledger.settle_for_stop(&daemon.outbox);
    match queue::reclaim_all(daemon.outbox()) {
        Ok(0) => {}
        Ok(n) => dlog!("returned {n} claimed events to the queue"),
        Err(e) => dlog!("could not release claimed events: {}", error_chain(&e)),
    }
    if let Err(e) = daemon.publish_now() {
        dlog!("could not write the health record: {}", error_chain(&e));
    }
}
