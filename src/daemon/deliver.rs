//! One batch from claim to outcome: prepare, send (abandoned at the shutdown deadline),
//! then acknowledge, retry later with the whole sink backing off, pause on a refused
//! credential, or split/bisect to isolate the events the collector refuses.

use std::time::Duration;

use crate::dlog;
use crate::shared::health::Circuit;
use crate::shared::now_ms;
use crate::shared::store::StoreError;

use super::drain::Daemon;
use super::ledger::Record;
use super::queue;
use super::signals::Control;
use super::sink::{Failure, OutEvent, Sink, Verdict};

/// How long a stop waits for the batch in flight: under difflorectl's default 5 s grace.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Daemon {
    /// Claim and deliver one batch. Returns whether more rows may be waiting.
    pub(super) async fn drain_batch(&mut self) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut batch = queue::claim(
            &self.outbox,
            now,
            self.config.batch_max_events,
            self.config.batch_max_bytes,
        )?;
        if batch.is_empty() {
            self.work = false;
            return Ok(false);
        }
        self.wrote = true;
        if self.sink.as_ref().is_some_and(Sink::sends_spans) {
            // Claimed rows must not stay claimed: on an error back they go, and the loop
            // pauses.
            match super::spans::attach(&self.outbox, &mut batch) {
                Ok(late) if !late.is_empty() => {
                    // Inserted after the last assembly: sent later, with their spans.
                    batch.retain(|c| !late.contains(&c.id));
                    self.record(Record::Release(late));
                }
                Ok(_) => {}
                Err(e) => {
                    let ids = batch.iter().map(|c| c.id).collect();
                    self.record(Record::Release(ids));
                    return Err(e);
                }
            }
            if batch.is_empty() {
                return Ok(true);
            }
        }
        // Best effort: a transcript that cannot be read leaves the turn's tokens unknown.
        if let Err(e) = super::usage::turns::attach(&self.outbox, &mut batch, now) {
            dlog!(
                "reading the token usage of ending turns failed: {}",
                crate::shared::error_chain(&e)
            );
        }
        let mut events = Vec::with_capacity(batch.len());
        for row in batch {
            let id = row.id;
            match self.preparer.prepare(row, self.publisher.redactions_mut()) {
                Ok(ev) => events.push(ev),
                Err(why) => {
                    dlog!("event {id} cannot be sent and is now dead: {why}");
                    self.record(Record::Bury {
                        ids: vec![id],
                        now,
                        why: why.to_string(),
                    });
                }
            }
        }
        if !events.is_empty() {
            self.deliver(events).await;
        }
        Ok(true)
    }

    /// Send `events`, bisecting refusals; every row ends acknowledged, dead, or back in
    /// `pending`, never left claimed.
    ///
    /// A refusal is about the events only when the collector accepts their neighbours: a
    /// refused batch is halved to find out, and when every part sent is refused while
    /// nothing is accepted, the collector (or a proxy) refuses everything. Then the whole
    /// batch waits out a backoff, like an outage, instead of being bisected into `dead`.
    async fn deliver(&mut self, events: Vec<OutEvent>) {
        let mut todo = vec![events];
        // Refused before any neighbour was accepted: no verdict yet.
        let mut suspects: Vec<Vec<OutEvent>> = Vec::new();
        let mut accepted = false;
        let mut refusal: Option<Failure> = None;
        loop {
            let Some(mut slice) = todo.pop() else {
                match refusal.take() {
                    Some(f) if !suspects.is_empty() => {
                        let ids: Vec<i64> = suspects.iter().flat_map(|s| rows(s)).collect();
                        return self.refused_by_collector(&f, &ids);
                    }
                    _ => return,
                }
            };
            if self.control.stopping() {
                todo.append(&mut suspects);
                return self.put_back(&slice, &todo);
            }
            let Some(sink) = self.sink.as_mut() else {
                todo.append(&mut suspects);
                return self.put_back(&slice, &todo);
            };
            self.publisher.attempt();
            let Some(result) = send_until_deadline(sink, &self.control, &slice).await else {
                todo.append(&mut suspects);
                dlog!(
                    "stopping: returned {} unsent events to the queue",
                    rows(&slice).len() + todo.iter().map(Vec::len).sum::<usize>()
                );
                return self.put_back(&slice, &todo);
            };
            // Before any of it is logged or stored: a collector may echo our credentials.
            let result = result.map_err(|f| self.secrets.scrub_failure(f));
            match result {
                Ok(()) => {
                    self.record(Record::Ack {
                        ids: rows(&slice),
                        keep_history: !self.config.keep_history.is_zero(),
                    });
                    self.delivered();
                    // The collector takes events from this batch: what it refused holds
                    // events it refuses, so bisect those now (oldest first).
                    accepted = true;
                    while let Some(s) = suspects.pop() {
                        todo.push(s);
                    }
                }
                Err(f) if f.verdict == Verdict::Retry => {
                    let mut ids = rows(&slice);
                    ids.extend(todo.iter().chain(&suspects).flat_map(|s| rows(s)));
                    return self.outage(&f, &ids);
                }
                Err(f) if f.verdict == Verdict::Auth => {
                    self.pause_for_credentials(&f);
                    todo.append(&mut suspects);
                    return self.put_back(&slice, &todo);
                }
                Err(f) if f.verdict == Verdict::Refused && !accepted => {
                    if slice.len() > 1 && todo.is_empty() && suspects.is_empty() {
                        // The whole batch: halve it to see whether the neighbours pass.
                        let tail = slice.split_off(slice.len() / 2);
                        todo.push(tail);
                        todo.push(slice);
                    } else {
                        suspects.push(slice);
                    }
                    refusal = Some(f);
                }
                Err(f) if slice.len() == 1 => {
                    let why = format!("collector refused the event: {}", f.detail);
                    dlog!("event {} is now dead: {why}", slice[0].id);
                    self.record(Record::Bury {
                        ids: rows(&slice),
                        now: now_ms(),
                        why,
                    });
                }
                Err(_) => {
                    // 413, or refused while its neighbours are accepted: halve and try each
                    // half; the first half goes first.
                    let tail = slice.split_off(slice.len() / 2);
                    todo.push(tail);
                    todo.push(slice);
                }
            }
        }
    }

    /// Every part of a batch was refused and nothing accepted: the refusal is about the
    /// collector (a wrong content type, a proxy in the way), so the events wait it out.
    fn refused_by_collector(&mut self, f: &Failure, ids: &[i64]) {
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
        self.outage(&as_outage, ids)
    }

    fn delivered(&mut self) {
        self.publisher.success();
        if let Some(Sink::Otlp(otlp)) = &self.sink {
            let r = &otlp.rejections;
            let counted = (r.log_records > 0 || r.spans > 0 || r.last.is_some()).then(|| {
                Box::new(crate::shared::health::CollectorRejected {
                    log_records: r.log_records,
                    spans: r.spans,
                    last: r.last.clone(),
                })
            });
            self.publisher.collector_rejected(counted);
        }
        if self.gate.circuit != Circuit::Closed || self.backoff.failures() > 0 {
            dlog!("collector accepts events again");
            self.backoff.reset();
            self.set_gate(Circuit::Closed, None);
            self.publisher.error(None);
            self.wake_waiting();
        }
    }

    /// The collector is failing: count the attempt on these rows and back off the sink.
    fn outage(&mut self, f: &Failure, ids: &[i64]) {
        let now = now_ms();
        let delay = self.backoff.next_delay(f.retry_after);
        let retry_at = now + delay.as_millis() as i64;
        let give_up_before = now.saturating_sub(self.config.dead_after.as_millis() as i64);
        dlog!(
            "{}; retrying in {} (failure {})",
            f.detail,
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
            self.backoff.failures()
        );
        self.set_gate(Circuit::Open, Some(retry_at));
        self.publisher.error(Some(f.detail.clone()));
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

    fn put_back(&mut self, slice: &[OutEvent], todo: &[Vec<OutEvent>]) {
        let mut ids = rows(slice);
        ids.extend(todo.iter().flat_map(|s| rows(s)));
        self.record(Record::Release(ids));
    }

    /// Write a batch's outcome; if the outbox is held by another process, keep it owed
    /// (written before anything new is claimed) and pause briefly.
    pub(super) fn record(&mut self, record: Record) {
        if let Err(e) = self.ledger.write(&self.outbox, record) {
            self.store_trouble(&e);
        }
    }
}

fn rows(events: &[OutEvent]) -> Vec<i64> {
    events.iter().map(|e| e.row).collect()
}

/// Send, but once a stop is requested give the send only until the shutdown deadline.
/// `None`: abandoned at the deadline.
async fn send_until_deadline(
    sink: &mut Sink,
    control: &Control,
    events: &[OutEvent],
) -> Option<Result<(), Failure>> {
    let send = sink.send(events);
    tokio::pin!(send);
    loop {
        if let Some(asked) = control.stop_requested_at() {
            let deadline = tokio::time::Instant::from_std(asked + SHUTDOWN_GRACE);
            return tokio::time::timeout_at(deadline, &mut send).await.ok();
        }
        tokio::select! {
            result = &mut send => return Some(result),
            // Reload and flush requests wait for the loop; only a stop matters here.
            _ = control.woken() => {}
        }
    }
}
