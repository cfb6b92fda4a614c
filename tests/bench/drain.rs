//! The drain figures of `make bench` for difflored: a backlog drained to a loopback
//! collector, to one answering each request after 20 ms and after 100 ms, each also with
//! `max_in_flight = 1` (one batch at a time, as before batches flew together) as the same
//! run's baseline; and a 100,000-event backlog drained while hooks keep firing, their p50
//! against the idle daemon's measured just before. Prints; asserts nothing timed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::collector::{Collector, Reply};
use crate::common::daemon::{DaemonGuard, write_config};
use crate::common::{Sandbox, wait_until};
use difflore::shared::event::classify;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox};
use difflore::shared::sys::Signal;

const BACKLOG: usize = 20_000;
const DAY_OFFLINE: usize = 100_000;
/// Hooks during the big drain (and the idle series before it) fire this often: far more
/// than an agent does, so the figure has samples.
const HOOK_EVERY: Duration = Duration::from_millis(5);
const IDLE_HOOKS: usize = 200;
const LIMIT: Duration = Duration::from_secs(300);

/// One drain: events, seconds from the daemon's start to the last event's arrival.
pub struct Drained {
    pub events: usize,
    pub secs: f64,
    pub requests: usize,
    pub duplicates: u32,
    pub peak: usize,
    /// The daemon's CPU time (user + system) over the drain.
    pub cpu: f64,
}

impl Drained {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.secs
    }
}

fn config(max_in_flight: usize) -> String {
    format!("max_in_flight = {max_in_flight}\nrequest_timeout = \"30s\"")
}

/// `n` events queued, then a fresh daemon drains them to a collector answering after `delay`.
pub fn drain(n: usize, max_in_flight: usize, delay: Duration) -> Drained {
    let sb = Sandbox::new();
    write_config(&sb, &config(max_in_flight));
    let c = Collector::start();
    c.light();
    c.set_default(Reply::ok().delay(delay));
    let ids = queue(&sb, n, "drain");
    let started = Instant::now();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || c.accepted_count() == n),
        "drain did not finish: {} of {n}\n{}",
        c.accepted_count(),
        d.log_text()
    );
    let end = last_arrival(&c, &ids);
    let cpu = crate::cpu_ticks(d.pid) as f64 / crate::clock_ticks();
    Drained {
        events: n,
        secs: end.duration_since(started).as_secs_f64(),
        requests: c.request_count(),
        duplicates: c.duplicates(),
        peak: c.peak_concurrency(),
        cpu,
    }
}

/// Print one drain against its target rate and its one-batch-at-a-time baseline.
pub fn drain_line(what: &str, delay: Duration, target: f64) {
    let now = drain(BACKLOG, 4, delay);
    let one = drain(BACKLOG, 1, delay);
    let verdict = if now.rate() >= target {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "drain to {what}: {} events in {:.3} s = {:.0} events/s (target >= {target:.0}: {verdict}); \
         baseline max_in_flight = 1: {:.0} events/s ({:.2}x); daemon CPU {:.2} s ({:.1} us/event); \
         {} requests, at most {} at once, {} duplicates",
        now.events,
        now.secs,
        now.rate(),
        one.rate(),
        now.rate() / one.rate(),
        now.cpu,
        now.cpu * 1e6 / now.events as f64,
        now.requests,
        now.peak,
        now.duplicates
    );
}

/// The 20,000-event backlog against a 100 ms collector, by time.
pub fn slow_collector_line() {
    let delay = Duration::from_millis(100);
    let now = drain(BACKLOG, 4, delay);
    let one = drain(BACKLOG, 1, delay);
    let verdict = if now.secs < 2.0 { "met" } else { "MISSED" };
    println!(
        "drain to a 100 ms collector: {} events in {:.2} s (target < 2 s: {verdict}); \
         baseline max_in_flight = 1: {:.2} s; {} requests, at most {} at once",
        now.events, now.secs, one.secs, now.requests, now.peak
    );
}

/// A day offline: 100,000 events drained while hooks keep firing. The hooks' p50 during the
/// drain against their p50 with the same daemon idle, measured first in the same outbox.
pub fn day_offline_line() {
    let sb = Sandbox::new();
    write_config(&sb, &config(4));
    let c = Collector::start();
    c.light();
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let mut idle = Vec::with_capacity(IDLE_HOOKS);
    for i in 0..IDLE_HOOKS {
        idle.push(hook(&sb, i));
    }
    wait_until(LIMIT, || c.accepted_count() == IDLE_HOOKS);
    d.signal(Signal::Term);
    d.wait_exit(LIMIT).expect("the idle daemon stops");
    drop(d);

    let ids = queue(&sb, DAY_OFFLINE, "offline");
    let want: BTreeSet<&String> = ids.iter().collect();
    let started = Instant::now();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let mut busy = Vec::new();
    let deadline = Instant::now() + LIMIT;
    loop {
        busy.push(hook(&sb, IDLE_HOOKS + busy.len()));
        if c.accepted_count() >= IDLE_HOOKS + DAY_OFFLINE
            && want.iter().all(|id| c.arrival(id).is_some())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the day-offline drain did not finish: {} accepted\n{}",
            c.accepted_count(),
            d.log_text()
        );
    }
    let end = last_arrival(&c, &ids);
    let cpu = crate::cpu_ticks(d.pid) as f64 / crate::clock_ticks();
    let secs = end.duration_since(started).as_secs_f64();
    let rate = DAY_OFFLINE as f64 / secs;
    let (idle_p50, busy_p50) = (p50_ms(&mut idle), p50_ms(&mut busy));
    let ratio = busy_p50 / idle_p50;
    let rate_verdict = if rate >= 50_000.0 { "met" } else { "MISSED" };
    let hook_verdict = if ratio <= 1.5 { "met" } else { "MISSED" };
    println!(
        "drain of a day offline: {DAY_OFFLINE} events in {secs:.2} s = {rate:.0} events/s (target >= 50000: {rate_verdict}); \
         daemon CPU {cpu:.2} s ({:.1} us/event, hooks' events included); {} duplicates",
        cpu * 1e6 / DAY_OFFLINE as f64,
        c.duplicates()
    );
    println!(
        "hook p50 during that drain: {busy_p50:.2} ms over {} hooks, idle daemon {idle_p50:.2} ms over {IDLE_HOOKS} = {ratio:.2}x (target <= 1.5x: {hook_verdict})",
        busy.len()
    );
}

/// One hook run, paced: its wall time from spawn to exit.
fn hook(sb: &Sandbox, i: usize) -> Duration {
    std::thread::sleep(HOOK_EVERY);
    let ev = format!(
        r#"{{"hook_event_name":"PostToolUse","session_id":"hook-{i}","cwd":"/w","tool_name":"Bash","tool_input":{{"command":"ls"}}}}"#
    );
    let sent = Instant::now();
    let out = sb.hook(&[], ev.as_bytes());
    let took = sent.elapsed();
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    took
}

fn p50_ms(times: &mut [Duration]) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn last_arrival(c: &Collector, ids: &[String]) -> Instant {
    ids.iter()
        .filter_map(|id| c.arrival(id))
        .max()
        .expect("events arrived")
}

/// Queue `n` events in one transaction (the hook's insert, without n process starts);
/// the ids the collector will see.
pub fn queue(sb: &Sandbox, n: usize, tag: &str) -> Vec<String> {
    std::fs::create_dir_all(sb.home()).expect("data home");
    let outbox = Outbox::open(&Paths::at(sb.home()), OpenOptions::long_lived()).expect("outbox");
    let install = outbox.install_id().expect("install id");
    outbox.conn().execute_batch("BEGIN").expect("begin");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let payload = format!(
            r#"{{"session_id":"{tag}","cwd":"/w","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{{"command":"cargo test --test n{i}"}},"tool_response":{{"stdout":"test result: ok. 12 passed; 0 failed","stderr":"","interrupted":false}}}}"#
        );
        let fields = classify(payload.as_bytes(), None).expect("event");
        let row = outbox
            .insert(difflore::shared::now_ms(), &fields, &payload)
            .expect("insert");
        ids.push(format!("{install}-{row}"));
    }
    outbox.conn().execute_batch("COMMIT").expect("commit");
    ids
}
