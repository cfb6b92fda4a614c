//! Batches from claim to outcome: claim the next batch and launch it as a flight
//! (`inflight`, which has it prepared off the loop's thread), then, as each flight comes
//! back in whatever order, write what became of its rows: acknowledged, retried later with
//! the whole sink backing off, paused on a refused credential, dead when refused alone (or
//! when it cannot be made into a record at all), or back in the queue at a stop. Never
//! acknowledges a row before the collector's 2xx for it.

use std::sync::Arc;
use std::time::Duration;

use crate::dlog;
use crate::shared::health::Circuit;
use crate::shared::now_ms;
use crate::shared::store::StoreError;

use super::drain::Daemon;
use super::inflight::{Outcome, Report};
use super::ledger::Record;
use super::queue::{self, Claimed, Take};
use super::sink::{Failure, Sink};

/// How long a stop waits for the batches in flight: under difflorectl's default 5 s grace.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Rows claimed or acknowledged in one transaction while hooks wait for the outbox: about
/// a millisecond of holding its lock, where a whole batch's claim holds it for several.
const CLAIM_PIECE: usize = 100;

impl Daemon {
    /// Claim one batch and send it off. Returns whether more rows may be waiting.
    ///
    /// While hooks have been waiting for the outbox lately, the batch is claimed in pieces
    /// of `CLAIM_PIECE` rows, each its own transaction with the hooks let in between: a
    /// hook then waits for at most one piece, not a whole batch's claim.
    pub(super) fn drain_batch(&mut self) -> Result<bool, StoreError> {
        let now = now_ms();
        let with_spans = self.sink.as_ref().is_some_and(|s| s.sends_spans());
        let (max_events, max_bytes) = (self.config.batch_max_events, self.config.batch_max_bytes);
        let piece = if self.waiters.recent() {
            CLAIM_PIECE.min(max_events)
        } else {
            max_events
        };
        let mut batch: Vec<Claimed> = Vec::new();
        let mut bytes = 0;
        loop {
            self.waiters.step_aside();
            let take = Take {
                events: piece.min(max_events - batch.len()),
                bytes: max_bytes.saturating_sub(bytes),
                oversize_first: batch.is_empty(),
            };
            let part = match super::spans::claim(
                &mut self.assembler,
                &self.outbox,
                now,
                &self.config,
                take,
                with_spans,
            ) {
                Ok(part) => part,
                // A later piece's failure was undone with its transaction: what the earlier
                // pieces claimed goes out, and the next claim meets the trouble afresh.
                Err(_) if !batch.is_empty() => break,
                Err(e) => return Err(e),
            };
            let full = part.len() == take.events;
            bytes += part.iter().map(queue::Claimed::budget).sum::<usize>();
            batch.extend(part);
            if !full || batch.len() >= max_events || bytes >= max_bytes {
                break;
            }
        }
        if batch.is_empty() {
            self.work = false;
            return Ok(false);
        }
        self.wrote = true;
        // Best effort: a transcript that cannot be read leaves the turn's tokens unknown.
        if let Err(e) = super::usage::turns::attach(&self.outbox, &mut batch, now) {
            dlog!(
                "reading the token usage of ending turns failed: {}",
                crate::shared::error_chain(&e)
            );
        }
        self.launch(batch);
        Ok(true)
    }

    /// Send a claimed batch off as a flight. Its rows are prepared (redacted, made into
    /// the records that leave) off the loop's thread, so that the next claim overlaps them.
    fn launch(&mut self, batch: Vec<Claimed>) {
        let rows: Vec<i64> = batch.iter().map(|r| r.id).collect();
        let Some(sink) = self.sink.clone() else {
            return self.record(Record::Release(rows));
        };
        self.publisher.attempt();
        let ticket = self.concurrency.launch(self.flights.len() + 1);
        let control = self.control.clone();
        let preparer = Arc::clone(&self.preparer);
        let preparing = tokio::task::spawn_blocking(move || preparer.prepare_batch(batch));
        self.flights
            .launch(sink, control, rows, preparing, ticket, self.epoch);
    }

    /// How many batches may be out now: the adapted limit while the collector accepts,
    /// one probe at a time while it fails, one for a file (its lines stay in order).
    pub(super) fn room(&self) -> usize {
        match (&self.sink, self.gate.circuit) {
            (Some(sink), Circuit::Closed) if !matches!(**sink, Sink::File(_)) => {
                self.concurrency.limit()
            }
            _ => 1,
        }
    }

    /// A flight came back: write what became of each of its rows, in the order it happened.
    pub(super) fn land(&mut self, report: Report) {
        for _ in 0..report.more_requests {
            self.publisher.attempt();
        }
        if !report.redactions.is_empty() {
            let counts = self.publisher.redactions_mut();
            for (rule, n) in report.redactions {
                *counts.entry(rule).or_default() += n;
            }
        }
        for (id, why) in report.unsendable {
            dlog!("event {id} cannot be sent and is now dead: {why}");
            self.record(Record::Bury {
                ids: vec![id],
                now: now_ms(),
                why,
            });
        }
        if let Some(rtt) = report.first_rtt {
            self.concurrency
                .land(report.ticket, rtt, report.pushed_back);
        }
        // Sent before the latest outage was seen (or to a sink a reload has replaced): its
        // failure belongs to that outage, and its success says nothing about the collector
        // now.
        let current = report.epoch == self.epoch;
        let same_sink = report.epoch.sink == self.epoch.sink;
        for outcome in report.outcomes {
            match outcome {
                Outcome::Accepted(ids) => {
                    self.record(Record::Ack {
                        ids,
                        keep_history: !self.config.keep_history.is_zero(),
                    });
                    self.delivered(current);
                }
                Outcome::Refused { row, failure } => {
                    // Before any of it is logged or stored: a collector may echo our
                    // credentials.
                    let f = self.secrets.scrub_failure(failure);
                    let why = format!("collector refused the event: {}", f.detail);
                    dlog!("event {row} is now dead: {why}");
                    self.record(Record::Bury {
                        ids: vec![row],
                        now: now_ms(),
                        why,
                    });
                }
                Outcome::Outage { failure, ids } => {
                    let f = self.secrets.scrub_failure(failure);
                    self.outage(&f, &ids, current);
                }
                Outcome::RefusedEverything { failure, ids } => {
                    let f = self.secrets.scrub_failure(failure);
                    self.refused_by_collector(&f, &ids, current);
                }
                Outcome::Credentials { failure, ids } => {
                    let f = self.secrets.scrub_failure(failure);
                    // Refused to a sink since replaced (a reload with a new token): the
                    // new one has not been refused yet.
                    if same_sink {
                        self.pause_for_credentials(&f);
                    }
                    self.work = true;
                    self.record(Record::Release(ids));
                }
                Outcome::Unsent(ids) => {
                    self.work = true;
                    self.record(Record::Release(ids));
                }
            }
        }
    }

    /// Every part of a batch was refused and nothing accepted: the refusal is about the
    /// collector (a wrong content type, a proxy in the way), so the events wait it out.
    fn refused_by_collector(&mut self, f: &Failure, ids: &[i64], current: bool) {
        let shown = match f.status {
            Some(code) => {
                let reason = reqwest::StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("refused");
                format!("refused: {code} {reason}")
            }
            None => "refused".to_owned(),
        };
        let why = format!(
            "{shown} for every part of the batch ({}): the collector refuses everything, events wait",
            f.detail
        );
        let as_outage = Failure {
            detail: why,
            ..f.clone()
        };
        self.outage(&as_outage, ids, current)
    }

    /// Accepted. Only a flight sent since the latest outage closes the circuit: an older
    /// one may have been answered just before the collector failed.
    fn delivered(&mut self, current: bool) {
        self.publisher.success();
        if let Some(Sink::Otlp(otlp)) = self.sink.as_deref() {
            let r = otlp.rejections.borrow();
            let counted = (r.log_records > 0 || r.spans > 0 || r.last.is_some()).then(|| {
                Box::new(crate::shared::health::CollectorRejected {
                    log_records: r.log_records,
                    spans: r.spans,
                    last: r.last.clone(),
                })
            });
            drop(r);
            self.publisher.collector_rejected(counted);
        }
        if current && (self.gate.circuit != Circuit::Closed || self.backoff.failures() > 0) {
            dlog!("collector accepts events again");
            self.backoff.reset();
            self.set_gate(Circuit::Closed, None);
            self.publisher.error(None);
            self.wake_waiting();
        }
    }

    /// The collector is failing: count the attempt on these rows and back off the sink.
    /// A flight sent before the latest outage was seen fails with it: its rows wait for
    /// the same retry, and the backoff does not grow once per batch that was out.
    fn outage(&mut self, f: &Failure, ids: &[i64], current: bool) {
        let now = now_ms();
        let give_up_before = now.saturating_sub(self.config.dead_after.as_millis() as i64);
        let retry_at = if current {
            let delay = self.backoff.next_delay(f.retry_after);
            dlog!(
                "{}; retrying in {} (failure {})",
                f.detail,
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
                self.backoff.failures()
            );
            self.epoch.outages += 1;
            let retry_at = now + delay.as_millis() as i64;
            self.set_gate(Circuit::Open, Some(retry_at));
            self.publisher.error(Some(f.detail.clone()));
            retry_at
        } else {
            let asked = f.retry_after.map_or(now, |d| now + d.as_millis() as i64);
            self.gate.retry_at_ms.unwrap_or(now).max(asked)
        };
        self.work = true;
        self.record(Record::RetryLater {
            ids: ids.to_vec(),
            now,
            retry_at,
            give_up_before,
            error: f.detail.clone(),
        });
    }

    fn pause_for_credentials(&mut self, f: &Failure) {
        let retry_at = now_ms() + self.config.auth_retry.as_millis() as i64;
        let why = format!(
            "{}: credentials refused; queue paused until the token is fixed and difflored reloads (SIGHUP)",
            f.detail
        );
        dlog!("{why}");
        self.set_gate(Circuit::PausedAuth, Some(retry_at));
        self.publisher.error(Some(why));
        self.work = true;
    }

    /// Write a batch's outcome; if the outbox is held by another process, keep it owed
    /// (written before anything new is claimed) and pause briefly. While hooks have been
    /// waiting lately, an acknowledgement is written in pieces of `CLAIM_PIECE` rows, the
    /// hooks let in before each, as a claim is.
    pub(super) fn record(&mut self, record: Record) {
        let pieces = match record {
            Record::Ack { ids, keep_history }
                if ids.len() > CLAIM_PIECE && self.waiters.recent() =>
            {
                ids.chunks(CLAIM_PIECE)
                    .map(|ids| Record::Ack {
                        ids: ids.to_vec(),
                        keep_history,
                    })
                    .collect()
            }
            record => vec![record],
        };
        let mut pieces = pieces.into_iter();
        for piece in pieces.by_ref() {
            self.waiters.step_aside();
            if let Err(e) = self.ledger.write(&self.outbox, piece) {
                self.store_trouble(&e);
                break;
            }
        }
        // After a failure the rest is owed, in order, behind the piece that failed.
        pieces.for_each(|piece| self.ledger.owe(piece));
    }
}
