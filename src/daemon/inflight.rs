//! The batches out at once: each claimed batch becomes one flight, a future on the drain
//! loop's thread that waits for the batch to be prepared (on a thread of its own, so the
//! loop claims the next meanwhile), sends it (bisecting refusals, halving on 413) and
//! reports what became of every row. A flight never touches the outbox, the backoff or the
//! log's failure details: the loop writes its outcomes (`Daemon::land`) as flights come
//! back, in whatever order the collector answers. A stop gives every flight until the
//! shutdown deadline; what is not sent by then is reported unsent, never acknowledged.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dlog;

use super::concurrency::Ticket;
use super::prepare::{Counts, Prepared};
use super::signals::Control;
use super::sink::{Failure, OutEvent, Sink, Verdict};

/// What became of some rows of a flight.
#[derive(Debug)]
pub enum Outcome {
    /// The collector answered 2xx: acknowledge.
    Accepted(Vec<i64>),
    /// Refused while its neighbours were accepted: dead, with the refusal.
    Refused { row: i64, failure: Failure },
    /// The collector failed (or refused every part): retry after a backoff.
    Outage { failure: Failure, ids: Vec<i64> },
    /// Refused every part while accepting none: the refusal is about the collector.
    RefusedEverything { failure: Failure, ids: Vec<i64> },
    /// 401/403: back to pending, queue paused.
    Credentials { failure: Failure, ids: Vec<i64> },
    /// Not sent (a stop, or the deadline): back to pending, no attempt spent.
    Unsent(Vec<i64>),
}

/// What the daemon had seen when a flight left: how many outages, and which sink (a
/// reload builds a new one). A flight's failure after a newer outage is part of that outage,
/// and nothing a flight of an older sink hears steers the current sink's circuit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Epoch {
    pub outages: u64,
    pub sink: u64,
}

/// A flight's report: its outcomes in the order they happened, and what the concurrency
/// limit learns from its first answer.
#[derive(Debug)]
pub struct Report {
    pub ticket: Ticket,
    pub epoch: Epoch,
    /// `None` when nothing was sent (every row unsendable, or a stop came first).
    pub first_rtt: Option<Duration>,
    pub pushed_back: bool,
    /// Requests sent beyond the first (bisection, splits).
    pub more_requests: u32,
    pub outcomes: Vec<Outcome>,
    /// Rows that could not be made into records at all (dead, with why), and the
    /// redactions preparing the batch made.
    pub unsendable: Vec<(i64, String)>,
    pub redactions: Counts,
}

type Flight = Pin<Box<dyn Future<Output = Report>>>;

/// The flights out now, and the shutdown deadline they all watch.
pub struct Flights {
    out: FuturesUnordered<Flight>,
    deadline: watch::Sender<Option<Instant>>,
}

impl Default for Flights {
    fn default() -> Flights {
        Flights {
            out: FuturesUnordered::new(),
            deadline: watch::channel(None).0,
        }
    }
}

impl Flights {
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Send `rows` with `sink` once `preparing` (on its own thread) has made them into
    /// records; the report comes back from `next`.
    pub fn launch(
        &mut self,
        sink: Rc<Sink>,
        control: Rc<Control>,
        rows: Vec<i64>,
        preparing: JoinHandle<Prepared>,
        ticket: Ticket,
        epoch: Epoch,
    ) {
        let deadline = self.deadline.subscribe();
        self.out.push(Box::pin(async move {
            let mut report = Report {
                ticket,
                epoch,
                first_rtt: None,
                pushed_back: false,
                more_requests: 0,
                outcomes: Vec::new(),
                unsendable: Vec::new(),
                redactions: Counts::new(),
            };
            let prepared = match preparing.await {
                Ok(prepared) => prepared,
                Err(e) => {
                    dlog!("preparing a batch failed ({e}): its events go back to the queue");
                    report.outcomes.push(Outcome::Unsent(rows));
                    return report;
                }
            };
            report.unsendable = prepared.unsendable;
            report.redactions = prepared.redactions;
            if !prepared.events.is_empty() {
                fly(&sink, &control, deadline, prepared.events, &mut report).await;
            }
            report
        }));
    }

    /// The next flight to come back (pending forever while none is out).
    pub async fn next(&mut self) -> Option<Report> {
        self.out.next().await
    }

    /// A stop was asked for at `at`: every flight gets until the shutdown grace runs out.
    pub fn stop(&self, at: Instant) {
        let deadline = at + super::deliver::SHUTDOWN_GRACE;
        self.deadline.send_replace(Some(deadline));
    }
}

fn rows(events: &[OutEvent]) -> Vec<i64> {
    events.iter().map(|e| e.row).collect()
}

fn all_rows(slice: &[OutEvent], rest: &[Vec<OutEvent>]) -> Vec<i64> {
    let mut ids = rows(slice);
    ids.extend(rest.iter().flat_map(|s| rows(s)));
    ids
}

/// Send `events`, bisecting refusals; every row ends in one outcome.
///
/// A refusal is about the events only when the collector accepts their neighbours: a
/// refused batch is halved to find out, and when every part sent is refused while
/// nothing is accepted, the collector (or a proxy) refuses everything. Then the whole
/// batch waits out a backoff, like an outage, instead of being bisected into `dead`.
async fn fly(
    sink: &Sink,
    control: &Control,
    mut deadline: watch::Receiver<Option<Instant>>,
    events: Vec<OutEvent>,
    report: &mut Report,
) {
    let out = &mut report.outcomes;
    let mut todo = vec![events];
    // Refused before any neighbour was accepted: no verdict yet.
    let mut suspects: Vec<Vec<OutEvent>> = Vec::new();
    let mut accepted = false;
    let mut refusal: Option<Failure> = None;
    let mut sent = 0u32;
    loop {
        let Some(mut slice) = todo.pop() else {
            if let Some(failure) = refusal.take()
                && !suspects.is_empty()
            {
                let ids = suspects.iter().flat_map(|s| rows(s)).collect();
                out.push(Outcome::RefusedEverything { failure, ids });
            }
            break;
        };
        if control.stopping() {
            todo.append(&mut suspects);
            out.push(Outcome::Unsent(all_rows(&slice, &todo)));
            break;
        }
        let started = Instant::now();
        let result = send_until_deadline(sink, &mut deadline, &slice).await;
        if sent == 0 {
            report.first_rtt = Some(started.elapsed());
            report.pushed_back = matches!(&result, Some(Err(f)) if f.verdict == Verdict::Retry);
        }
        sent += 1;
        let Some(result) = result else {
            todo.append(&mut suspects);
            let ids = all_rows(&slice, &todo);
            dlog!(
                "stopping: returned {} unsent events to the queue",
                ids.len()
            );
            out.push(Outcome::Unsent(ids));
            break;
        };
        match result {
            Ok(()) => {
                out.push(Outcome::Accepted(rows(&slice)));
                // The collector takes events from this batch: what it refused holds
                // events it refuses, so bisect those now (oldest first).
                accepted = true;
                while let Some(s) = suspects.pop() {
                    todo.push(s);
                }
            }
            Err(failure) if failure.verdict == Verdict::Retry => {
                todo.append(&mut suspects);
                let ids = all_rows(&slice, &todo);
                out.push(Outcome::Outage { failure, ids });
                break;
            }
            Err(failure) if failure.verdict == Verdict::Auth => {
                todo.append(&mut suspects);
                let ids = all_rows(&slice, &todo);
                out.push(Outcome::Credentials { failure, ids });
                break;
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
            Err(failure) if slice.len() == 1 => {
                out.push(Outcome::Refused {
                    row: slice[0].row,
                    failure,
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
    report.more_requests = sent.saturating_sub(1);
}

/// Send, but once a stop is requested give the send only until the shutdown deadline.
/// `None`: abandoned at the deadline.
async fn send_until_deadline(
    sink: &Sink,
    deadline: &mut watch::Receiver<Option<Instant>>,
    events: &[OutEvent],
) -> Option<Result<(), Failure>> {
    let send = sink.send(events);
    tokio::pin!(send);
    loop {
        let due = *deadline.borrow_and_update();
        if let Some(due) = due {
            let due = tokio::time::Instant::from_std(due);
            return tokio::time::timeout_at(due, &mut send).await.ok();
        }
        tokio::select! {
            result = &mut send => return Some(result),
            changed = deadline.changed() => {
                if changed.is_err() {
                    // Nobody can set a deadline any more: the send alone decides.
                    return Some(send.await);
                }
            }
        }
    }
}
