//! One batch from claim to outcome: prepare, send (abandoned at the shutdown deadline),
//! then acknowledge, retry later with the whole sink backing off, pause on a refused
//! credential, or split/bisect to isolate the events the collector refuses.

use std::time::Duration;

use crate::dlog;
use crate::shared::health::Circuit;
use crate::shared::now_ms;
use crate::shared::store::StoreError;

use super::drain::Daemon;
use super::queue;
use super::signals::Control;
use super::sink::{Failure, OutEvent, Sink, Verdict};

/// How long a stop waits for the batch in flight: under difflorectl's default 5 s grace.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Daemon {
    /// Claim and deliver one batch. Returns whether more rows may be waiting.
    pub(super) async fn drain_batch(&mut self) -> Result<bool, StoreError> {
        let now = now_ms();
        let batch = queue::claim(
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
        let mut events = Vec::with_capacity(batch.len());
        for row in batch {
            let id = row.id;
            match self.preparer.prepare(row, self.publisher.redactions_mut()) {
                Ok(ev) => events.push(ev),
                Err(why) => {
                    dlog!("event {id} cannot be sent and is now dead: {why}");
                    queue::bury(&self.outbox, &[id], now, &why)?;
                }
            }
        }
        if !events.is_empty() {
            self.deliver(events).await?;
        }
        Ok(true)
    }

    /// Send `events`, bisecting refusals; every row ends acknowledged, dead, or back in
    /// `pending`, never left claimed.
    async fn deliver(&mut self, events: Vec<OutEvent>) -> Result<(), StoreError> {
        let mut todo = vec![events];
        while let Some(mut slice) = todo.pop() {
            if self.control.stopping() {
                return self.put_back(&slice, &todo);
            }
            let Some(sink) = self.sink.as_mut() else {
                return self.put_back(&slice, &todo);
            };
            self.publisher.attempt();
            let Some(result) = send_until_deadline(sink, &self.control, &slice).await else {
                dlog!(
                    "stopping: returned {} unsent events to the queue",
                    rows(&slice).len()
                );
                return self.put_back(&slice, &todo);
            };
            // Before any of it is logged or stored: a collector may echo our credentials.
            let result = result.map_err(|f| self.secrets.scrub_failure(f));
            match result {
                Ok(()) => {
                    queue::ack(&self.outbox, &rows(&slice), !self.config.keep_history.is_zero())?;
                    self.delivered();
                }
                Err(f) if f.verdict == Verdict::Retry => {
                    let mut ids = rows(&slice);
                    ids.extend(todo.iter().flat_map(|s| rows(s)));
                    return self.outage(&f, &ids);
                }
                Err(f) if f.verdict == Verdict::Auth => {
                    self.pause_for_credentials(&f);
                    return self.put_back(&slice, &todo);
                }
                Err(f) if slice.len() == 1 => {
                    let why = format!("collector refused the event: {}", f.detail);
                    dlog!("event {} is now dead: {why}", slice[0].id);
                    queue::bury(&self.outbox, &rows(&slice), now_ms(), &why)?;
                }
                Err(_) => {
                    // 413 or a refusal: halve and try each half; the first half goes first.
                    let tail = slice.split_off(slice.len() / 2);
                    todo.push(tail);
                    todo.push(slice);
                }
            }
        }
        Ok(())
    }

    fn delivered(&mut self) {
        self.publisher.success();
        if self.gate.circuit != Circuit::Closed || self.backoff.failures() > 0 {
            dlog!("collector accepts events again");
            self.backoff.reset();
            self.set_gate(Circuit::Closed, None);
            self.publisher.error(None);
            self.wake_waiting();
        }
    }

    /// The collector is failing: count the attempt on these rows and back off the sink.
    fn outage(&mut self, f: &Failure, ids: &[i64]) -> Result<(), StoreError> {
        let now = now_ms();
        let delay = self.backoff.next_delay(f.retry_after);
        let retry_at = now + delay.as_millis() as i64;
        let give_up_before = now.saturating_sub(self.config.dead_after.as_millis() as i64);
        let dead = queue::retry_later(&self.outbox, ids, now, retry_at, give_up_before, &f.detail)?;
        dlog!(
            "{}; retrying in {} (failure {})",
            f.detail,
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
            self.backoff.failures()
        );
        if dead > 0 {
            dlog!("{dead} events failed for longer than dead_after and are now dead");
        }
        self.set_gate(Circuit::Open, Some(retry_at));
        self.publisher.error(Some(f.detail.clone()));
        self.work = true;
        Ok(())
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

    fn put_back(&mut self, slice: &[OutEvent], todo: &[Vec<OutEvent>]) -> Result<(), StoreError> {
        let mut ids = rows(slice);
        ids.extend(todo.iter().flat_map(|s| rows(s)));
        queue::release(&self.outbox, &ids)
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
