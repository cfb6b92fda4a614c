//! The drain loop: sleep until there is work (a hook's write to the outbox reported by the
//! file-change watch, a flight coming back, a signal, a backoff or checkpoint coming due,
//! or the slow safety check), keep up to the concurrency limit of batches out while the
//! sink's circuit allows, and keep house (spill import, heartbeat, WAL checkpoints). What
//! happens to one batch lives in `deliver` and `inflight`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::dlog;
use crate::shared::assemble::Assembler;
use crate::shared::config::Config;
use crate::shared::health::Circuit;
use crate::shared::paths::Paths;
use crate::shared::store::{OpenOptions, Outbox, StoreError, Waiters};
use crate::shared::{error_chain, now_ms, spill};

use super::backoff::Backoff;
use super::concurrency::Concurrency;
use super::endpoint;
use super::health::Publisher;
use super::inflight::{Epoch, Flights, Report};
use super::ledger::Ledger;
use super::prepare::Preparer;
use super::queue::{self, Checkpoint};
use super::secret::Secrets;
use super::signals::Control;
use super::sink::Sink;
use super::timer::Timer;
use super::trim::TrimState;
use super::wake::{self, Wake};

const SPILL_EVERY: Duration = Duration::from_secs(1);
/// With the spill folder watched, it is listed after a reported write, and otherwise only
/// this often: listing it is an open of a watched folder, a wake-up of the idle daemon.
const SPILL_UNREPORTED_EVERY: Duration = Duration::from_secs(30);
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// An idle daemon's own heartbeats are folded back this often: six of them, a few pages of
/// WAL, are not worth the three fsyncs of a checkpoint each.
const HEARTBEAT_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
const IDLE_CHECKPOINT_GAP: Duration = Duration::from_secs(1);
/// After an unexpected database error, wait this long before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// Spill files imported per housekeeping pass, so a flood cannot stall delivery.
const SPILL_FILES_PER_PASS: usize = 256;
/// After a reported write whose commit was not yet visible, look again this long after the
/// report, then four times longer each time, `UNSEEN_WRITE_LOOKS` times in all.
const UNSEEN_WRITE_FIRST: Duration = Duration::from_millis(2);
const UNSEEN_WRITE_LOOKS: u32 = 5;
/// Transcripts are read for token usage at most this often, while events keep coming.
const USAGE_EVERY: Duration = Duration::from_secs(1);
/// While draining, the WAL is checkpointed once it is longer than this (SQLite's own
/// automatic checkpoint is at 1000 pages, about as long).
const WAL_LONG: u64 = 4 << 20;
/// A checkpoint that could not run (a reader held the WAL) is tried again no sooner.
const CHECKPOINT_RETRY: Duration = Duration::from_millis(100);

/// Whether the sink may be sent to, and from when.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    pub circuit: Circuit,
    pub retry_at_ms: Option<i64>,
}

impl Gate {
    fn ready(&self, now: i64) -> bool {
        match self.circuit {
            Circuit::Closed => true,
            Circuit::Open | Circuit::PausedAuth => self.retry_at_ms.is_none_or(|t| now >= t),
            Circuit::NoEndpoint => false,
        }
    }
}

pub struct Daemon {
    pub(super) paths: Paths,
    pub(super) cli_endpoint: Option<String>,
    pub(super) env_endpoint: Option<String>,
    pub(super) config: Config,
    pub(super) outbox: Outbox,
    /// Shared with the flights out: a reload replaces it, and they finish with the old one.
    pub(super) sink: Option<Rc<Sink>>,
    /// Shared with the thread each batch is prepared on.
    pub(super) preparer: Arc<Preparer>,
    /// Span assembly, its state kept between passes.
    pub(super) assembler: Assembler,
    pub(super) backoff: Backoff,
    pub(super) gate: Gate,
    pub(super) publisher: Publisher,
    pub(super) control: Rc<Control>,
    /// More rows may be due: claim again as soon as the gate allows.
    pub(super) work: bool,
    data_version: i64,
    spill_checked: Instant,
    /// A write was reported since the spill folder was last listed (true at start).
    spill_hint: bool,
    checkpointed: Instant,
    /// Rows were written or deleted since the last checkpoint.
    pub(super) wrote: bool,
    /// Only health records were committed since the last checkpoint.
    heartbeats_written: bool,
    /// Credentials to scrub from whatever a collector answers.
    pub(super) secrets: Secrets,
    pub(super) trim: TrimState,
    /// Batch outcomes not yet written (the outbox was held by another process).
    pub(super) ledger: Ledger,
    /// The batches out now, and how many may be.
    pub(super) flights: Flights,
    pub(super) concurrency: Concurrency,
    /// Outages seen and sinks built so far: a flight sent before the latest carries older
    /// counts.
    pub(super) epoch: Epoch,
    /// Reports writes to the outbox, so an idle loop sleeps instead of polling.
    wake: Wake,
    /// Hooks waiting for the outbox's write lock, let in before each claim and outcome.
    pub(super) waiters: Waiters,
    /// A write reported (when, and looks since) whose commit has not been seen yet.
    unseen_write: Option<(Instant, u32)>,
    /// Events arrived since token usage was last read from transcripts, and when that was.
    usage_due: bool,
    usage_read: Instant,
}

/// What ended an idle wait.
enum Woke {
    Landed(Report),
    Signal,
    Write,
    Timer,
}

impl Daemon {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        paths: Paths,
        cli_endpoint: Option<String>,
        config: Config,
        outbox: Outbox,
        preparer: Preparer,
        publisher: Publisher,
        control: Rc<Control>,
    ) -> Result<Daemon, StoreError> {
        let data_version = queue::data_version(&outbox)?;
        let wake = Wake::watch(&paths);
        let waiters = Waiters::open(&paths);
        let concurrency = Concurrency::new(config.max_in_flight);
        // A WAL started over (after a checkpoint) is cut back to this: its file's length
        // then says how much the drain has written since.
        outbox
            .conn()
            .query_row(
                &format!("PRAGMA journal_size_limit = {WAL_LONG}"),
                [],
                |_| Ok(()),
            )
            .map_err(|e| outbox.sql(e))?;
        let mut daemon = Daemon {
            paths,
            cli_endpoint,
            env_endpoint: std::env::var(endpoint::ENDPOINT_VAR).ok(),
            backoff: Backoff::new(config.retry_base, config.retry_cap),
            config,
            outbox,
            sink: None,
            preparer: Arc::new(preparer),
            assembler: Assembler::default(),
            gate: Gate {
                circuit: Circuit::NoEndpoint,
                retry_at_ms: None,
            },
            publisher,
            control,
            work: true,
            data_version,
            spill_checked: Instant::now(),
            spill_hint: true,
            checkpointed: Instant::now(),
            wrote: false,
            heartbeats_written: false,
            secrets: Secrets::default(),
            trim: TrimState::default(),
            ledger: Ledger::default(),
            flights: Flights::default(),
            concurrency,
            epoch: Epoch::default(),
            wake,
            waiters,
            unseen_write: None,
            usage_due: true,
            usage_read: Instant::now() - USAGE_EVERY,
        };
        daemon.configure();
        Ok(daemon)
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Write the health record now, whatever changed.
    pub fn publish_now(&mut self) -> Result<(), StoreError> {
        self.publisher.mark_changed();
        self.publisher.publish(&self.outbox).map(drop)
    }

    /// Build the sink from the current configuration; resumes a paused or backed-off queue.
    fn configure(&mut self) {
        let resolved = endpoint::resolve(
            self.cli_endpoint.as_deref(),
            self.env_endpoint.as_deref(),
            &self.config,
        );
        self.sink = None;
        self.epoch.sink += 1;
        let token = endpoint::token(&self.config).ok().flatten();
        let mut secrets = Secrets::new(token.as_deref(), resolved.as_ref().map(|e| e.text()));
        secrets.add(
            resolved
                .as_ref()
                .map_or_else(Vec::new, |e| e.header_values()),
        );
        self.secrets = secrets;
        let Some(resolved) = resolved else {
            self.set_gate(Circuit::NoEndpoint, None);
            self.publisher.set_endpoint(None);
            // Not an error: without an endpoint difflore is a local recorder.
            dlog!(
                "no endpoint configured: recording locally (history); set --endpoint, DIFFLORE_ENDPOINT or endpoint in config.toml to deliver"
            );
            self.publisher.error(None);
            return;
        };
        let shown = resolved.shown();
        self.publisher.set_endpoint(Some(shown.clone()));
        match endpoint::build(&resolved, &self.config) {
            Ok(sink) => {
                self.sink = Some(Rc::new(sink));
                self.set_gate(Circuit::Closed, None);
                self.publisher.error(None);
                self.wake_waiting();
                dlog!("delivering to {shown}");
            }
            Err(e) => {
                let why = format!("endpoint unusable, events wait: {}", error_chain(&e));
                dlog!("{why}");
                self.set_gate(Circuit::NoEndpoint, None);
                self.publisher.error(Some(why));
            }
        }
    }

    /// SIGHUP: reread config.toml and the token, reopen the log, make new files private,
    /// resume a paused queue.
    fn reload(&mut self) {
        super::log::reopen();
        // A config.toml (re)written since start is made private too.
        super::tighten_files(&self.paths);
        let loaded = Config::load(&self.paths).map_err(|e| error_chain(&e));
        let rebuilt = loaded.and_then(|config| {
            Preparer::new(self.preparer.install_id().to_owned(), &config)
                .map(|preparer| (config, preparer))
                .map_err(|e| error_chain(&e))
        });
        match rebuilt {
            Ok((config, preparer)) => {
                self.backoff
                    .reconfigure(config.retry_base, config.retry_cap);
                self.concurrency.set_max(config.max_in_flight);
                self.config = config;
                self.preparer = Arc::new(preparer);
                dlog!("configuration reloaded");
            }
            Err(why) => dlog!("keeping the previous configuration: {why}"),
        }
        self.configure();
    }

    pub(super) fn set_gate(&mut self, circuit: Circuit, retry_at_ms: Option<i64>) {
        self.gate = Gate {
            circuit,
            retry_at_ms,
        };
        self.publisher.set_circuit(circuit, retry_at_ms);
    }

    /// Serve until a stop is requested, then give the batches out until the shutdown
    /// deadline to come back.
    pub async fn run(&mut self) {
        let idle_check = wake::idle_check();
        let timer = Timer::new();
        while !self.control.stopping() {
            if self.control.take_reload() {
                self.reload();
            }
            if self.control.take_flush() {
                self.flush_now();
            }
            let version = self.data_version;
            if let Err(e) = self.housekeeping() {
                self.store_trouble(&e);
            }
            if self.data_version != version {
                self.unseen_write = None;
            }
            if !self.ledger.is_settled() && self.gate.ready(now_ms()) {
                match self.ledger.settle(&self.outbox) {
                    Ok(()) => dlog!("recorded the outcomes the outbox could not take earlier"),
                    Err(e) => self.store_trouble(&e),
                }
            }
            if self.work
                && self.gate.ready(now_ms())
                && self.ledger.is_settled()
                && self.flights.len() < self.room()
            {
                if let Err(e) = self.before_claim() {
                    self.store_trouble(&e);
                    continue;
                }
                if let Err(e) = self.drain_batch() {
                    self.store_trouble(&e);
                }
                if !self.flights.is_empty() {
                    self.wake.pause();
                    self.keep_wal_bounded();
                }
                // Let the signal forwarder and the connections run between claims (a file
                // sink never awaits, and a long backlog must not hold off SIGTERM), then
                // the flights: they are this task's own futures, polled nowhere else while
                // the loop claims. Without this turn a batch would wait for the last claim
                // of the round before its request went out.
                tokio::task::yield_now().await;
                while let Some(Some(report)) = self.flights.next().now_or_never() {
                    self.land(report);
                }
                continue;
            }
            if self.flights.is_empty() && self.wake.paused() {
                // Drained: writes are reported again from here, and one more look finds any
                // made while they were not.
                self.wake.resume();
                continue;
            }
            let sleep = timer.sleep_until(self.next_look(idle_check));
            let woke = tokio::select! {
                Some(report) = self.flights.next(), if !self.flights.is_empty() => {
                    Woke::Landed(report)
                }
                _ = self.control.woken() => Woke::Signal,
                _ = self.wake.changed() => Woke::Write,
                _ = sleep => Woke::Timer,
            };
            if !matches!(woke, Woke::Timer) {
                timer.cancel();
            }
            match woke {
                Woke::Landed(report) => {
                    self.land(report);
                    self.keep_wal_bounded();
                }
                // A write is reported when its bytes reach the WAL, a moment before its
                // commit is visible: while a writer is still at it, look again shortly.
                // Free, it was our own write or the next look sees the commit.
                Woke::Write => {
                    self.spill_hint = true;
                    if queue::writer_active(&self.outbox).unwrap_or(true) {
                        self.unseen_write = Some((Instant::now(), 0));
                    }
                }
                Woke::Timer => match self.unseen_write {
                    Some((at, looks)) if looks + 1 < UNSEEN_WRITE_LOOKS => {
                        self.unseen_write = Some((at, looks + 1));
                    }
                    Some(_) => self.unseen_write = None,
                    // Rows whose own backoff ran out, or written where no change was reported.
                    None => self.work = true,
                },
                Woke::Signal => {}
            }
        }
        if let Some(asked) = self.control.stop_requested_at() {
            self.flights.stop(asked);
        }
        while let Some(report) = self.flights.next().await {
            self.land(report);
        }
    }

    /// When the idle loop must look again even if nothing wakes it: the safety check, the
    /// gate's retry time, a checkpoint due once writes stop, outcomes still to record.
    fn next_look(&self, idle_check: Duration) -> Instant {
        let now = Instant::now();
        let mut at = now + idle_check;
        if let Some(retry_at) = self.gate.retry_at_ms {
            let wait = u64::try_from(retry_at - now_ms()).unwrap_or(0);
            at = at.min(now + Duration::from_millis(wait));
        }
        // The checkpoints housekeeping makes: the whole WAL once writes stop, and now and
        // then one for the heartbeats alone.
        let checkpoint_due = if self.wrote {
            Some(self.checkpointed + IDLE_CHECKPOINT_GAP)
        } else if self.heartbeats_written {
            Some(self.checkpointed + HEARTBEAT_CHECKPOINT_EVERY)
        } else {
            None
        };
        if let Some(due) = checkpoint_due {
            at = at.min(due.max(now + CHECKPOINT_RETRY));
        }
        if !self.ledger.is_settled() {
            at = at.min(now + STORE_RETRY);
        }
        if let Some((reported, looks)) = self.unseen_write {
            at = at.min(reported + UNSEEN_WRITE_FIRST * 4u32.pow(looks));
        }
        at
    }

    /// Runs before each claim: whatever must be in the outbox before rows are claimed is
    /// called from here, once per claim. Until it succeeds nothing is claimed. With a sink,
    /// span assembly runs in each claim's own transaction (`spans::claim`); without one,
    /// here, for the local history's kinds, calls and turns.
    pub(super) fn before_claim(&mut self) -> Result<(), StoreError> {
        if self.sink.is_some() {
            return Ok(());
        }
        self.assemble()
    }

    /// Whether the loop is about to claim rows for a sink (claims assemble what they take).
    fn claiming(&self) -> bool {
        self.sink.is_some() && self.work && self.gate.ready(now_ms()) && self.ledger.is_settled()
    }

    /// Span assembly of every row not yet assembled, outside any claim.
    pub(super) fn assemble(&mut self) -> Result<(), StoreError> {
        let settings = super::spans::settings(&self.config);
        let read =
            super::spans::assemble_all(&mut self.assembler, &self.outbox, now_ms(), settings)?;
        if read > 0 {
            self.wrote = true;
        }
        Ok(())
    }

    /// SIGUSR1: look for work now and skip any backoff wait (but not a missing endpoint).
    fn flush_now(&mut self) {
        if matches!(self.gate.circuit, Circuit::Open | Circuit::PausedAuth) {
            let circuit = self.gate.circuit;
            self.set_gate(circuit, Some(now_ms()));
        }
        self.wake_waiting();
    }

    /// Rows waiting out a backoff become due now (flush, reload, collector back).
    pub(super) fn wake_waiting(&mut self) {
        self.work = true;
        if let Err(e) = queue::wake_waiting(&self.outbox, now_ms()) {
            dlog!("could not wake waiting events: {}", error_chain(&e));
        }
    }

    fn housekeeping(&mut self) -> Result<(), StoreError> {
        let version = queue::data_version(&self.outbox)?;
        if version != self.data_version {
            // A hook (or difflorectl) committed: rows to send, and WAL to fold back.
            self.data_version = version;
            self.work = true;
            self.wrote = true;
            self.usage_due = true;
        }
        // While claims are being made, they assemble the rows and read the usage of the
        // turns they end: a pass now would first assemble the whole backlog on its own, a
        // second write of every row, before the first claim. It waits for the drain.
        if self.usage_due && self.usage_read.elapsed() >= USAGE_EVERY && !self.claiming() {
            self.usage_read = Instant::now();
            self.usage_due = false;
            // Assembled first: a response is given the turn assembly numbered.
            self.assemble()?;
            match super::usage::pass(&self.outbox, now_ms()) {
                Ok(n) if n > 0 => self.wrote = true,
                Ok(_) => {}
                Err(e) => dlog!("reading token usage failed: {}", error_chain(&e)),
            }
        }
        let spill_every = if self.wake.sees_spills() && !self.spill_hint {
            SPILL_UNREPORTED_EVERY
        } else {
            SPILL_EVERY
        };
        if self.spill_checked.elapsed() >= spill_every {
            self.spill_checked = Instant::now();
            self.spill_hint = false;
            self.import_spills();
        }
        if self.sink.is_none() && self.work {
            // No claims without a sink: assemble anyway, for the local history's kinds,
            // calls and turns.
            self.before_claim()?;
        }
        if self.limit_check_due() {
            self.enforce_limit();
        }
        if self.wrote {
            let since = self.checkpointed.elapsed();
            if !self.work && since >= IDLE_CHECKPOINT_GAP {
                // Idle: fold the whole WAL back and shrink the file.
                self.checkpoint(Checkpoint::Truncate)?;
            } else if since >= CHECKPOINT_EVERY {
                self.checkpoint(Checkpoint::Passive)?;
            }
        }
        // The heartbeat is a commit too: without a checkpoint for it, an idle daemon's WAL
        // would grow by heartbeats alone until a hook paid for the checkpoint. A PASSIVE one
        // now and then is enough: the next commit then starts the WAL over.
        if self.publisher.publish(&self.outbox)? {
            self.heartbeats_written = true;
        }
        if !self.wrote
            && self.heartbeats_written
            && self.checkpointed.elapsed() >= HEARTBEAT_CHECKPOINT_EVERY
        {
            self.checkpoint(Checkpoint::Passive)?;
        }
        Ok(())
    }

    /// A drain commits an assembly pass, a claim and an acknowledgement per batch, and the
    /// PASSIVE checkpoints SQLite runs after them cannot start the WAL over while hooks read.
    /// Checkpointed here, between the loop's own writes, once it passes `WAL_LONG`: the WAL
    /// stays within a few MiB (its file cut back to that when it starts over) instead of
    /// growing for the whole drain, and the TRUNCATE checkpoint once idle, which holds the
    /// write lock while it copies, has little to copy.
    fn keep_wal_bounded(&mut self) {
        let mut wal = self.outbox.path().as_os_str().to_owned();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LONG)
            && let Err(e) = self.checkpoint(Checkpoint::Passive)
        {
            dlog!("checkpoint during the drain failed: {}", error_chain(&e));
        }
    }

    pub(super) fn import_spills(&mut self) {
        if spill::waiting(&self.paths) == 0 {
            return;
        }
        match spill::import(
            &self.outbox,
            &self.paths,
            SPILL_FILES_PER_PASS,
            Duration::ZERO,
        ) {
            Ok(report) if report.rows > 0 => {
                dlog!(
                    "imported {} spilled events from {} files",
                    report.rows,
                    report.files
                );
                self.work = true;
                self.wrote = true;
                self.trim.due = true;
            }
            Ok(_) => {}
            Err(e) => dlog!("spill import failed: {}", error_chain(&e)),
        }
    }

    fn checkpoint(&mut self, mode: Checkpoint) -> Result<(), StoreError> {
        // TRUNCATE holds the writer lock while it waits for readers: never wait, so a hook
        // is never held up by it. A busy attempt is simply tried again on a later pass.
        let conn = self.outbox.conn();
        let quick = matches!(mode, Checkpoint::Truncate);
        if quick {
            conn.busy_timeout(Duration::ZERO)
                .map_err(|e| self.outbox.sql(e))?;
        }
        let done = queue::checkpoint(&self.outbox, mode);
        if quick {
            conn.busy_timeout(OpenOptions::long_lived().busy_timeout)
                .map_err(|e| self.outbox.sql(e))?;
        }
        done?;
        self.checkpointed = Instant::now();
        self.wrote = false;
        self.heartbeats_written = false;
        Ok(())
    }

    /// A database error mid-loop: log it, show it, and pause briefly instead of dying (the
    /// queue is still on disk). Claimed rows keep their outcome in the ledger, written
    /// again once the pause is over.
    pub(super) fn store_trouble(&mut self, e: &StoreError) {
        let why = error_chain(e);
        dlog!("outbox error: {why}");
        self.publisher.error(Some(format!("outbox error: {why}")));
        // Closed always passes the gate: open it for the pause. A credential pause or a
        // missing endpoint already keeps us waiting.
        if matches!(self.gate.circuit, Circuit::Closed | Circuit::Open) {
            let retry_at = now_ms() + STORE_RETRY.as_millis() as i64;
            let later = self.gate.retry_at_ms.map_or(retry_at, |t| t.max(retry_at));
            self.set_gate(Circuit::Open, Some(later));
        }
    }
}
