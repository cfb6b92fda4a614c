//! difflored with several batches out at once (`max_in_flight = 4`): a collector that
//! answers out of order still gets every event, each acknowledged once; a stop with four
//! batches in flight loses nothing (what the collector answered within the grace is
//! acknowledged, the rest goes back to the queue and is delivered after a restart); and the
//! failure rules hold under concurrency: a 503 to every batch out backs off once, a poison
//! event is still isolated, a refused credential still pauses without spending attempts, and
//! a reload while batches are out finishes them.
//! Held answers (numbered gates) put the daemon in each state, never timing.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::health::Circuit;
use difflore::shared::pidfile::Liveness;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);
const FOUR: &str = "max_in_flight = 4\nbatch_max_events = 10\nrequest_timeout = \"60s\"";

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

fn delivered_total(sb: &Sandbox) -> i64 {
    sb.sqlite()
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'delivered_total'",
            [],
            |r| r.get(0),
        )
        .expect("delivered_total")
}

#[test]
fn answers_out_of_order_acknowledge_every_event_exactly_once() {
    let sb = Sandbox::new();
    write_config(&sb, FOUR);
    let c = Collector::start();
    // The first four batches are held together, then answered last-sent first; after them
    // every answer takes its own time, so later batches overtake earlier ones.
    c.script([
        Reply::ok().held().delay(Duration::from_millis(300)),
        Reply::ok().held().delay(Duration::from_millis(200)),
        Reply::ok().held().delay(Duration::from_millis(100)),
        Reply::ok().held(),
    ]);
    c.set_default_delays(&[
        Duration::from_millis(60),
        Duration::ZERO,
        Duration::from_millis(30),
        Duration::from_millis(5),
    ]);
    let ids = enqueue(&sb, 400, "order");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    // Four batches out at once, none answered: the daemon is waiting on all of them.
    assert!(wait_until(LIMIT, || c.started() == 4), "{}", d.log_text());
    assert_eq!(sb.count("state = 'in_flight'"), 40);
    assert_eq!(c.peak_concurrency(), 4);
    c.release();
    let want = set(&ids);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "missing {}, rows left {}\n{}",
        want.difference(&c.ids()).count(),
        sb.count("state != 'delivered'"),
        d.log_text()
    );
    // Each event sent once, acknowledged once (the counter moves only for a row that is
    // still claimed), and no more than four batches were ever out.
    assert_eq!(c.duplicates(), 0);
    assert_eq!(c.request_count(), 40);
    assert_eq!(delivered_total(&sb), 400);
    assert!(c.peak_concurrency() <= 4, "{}", c.peak_concurrency());
}

#[test]
fn a_stop_with_four_batches_in_flight_loses_nothing() {
    let sb = Sandbox::new();
    write_config(&sb, FOUR);
    let c = Collector::start();
    // Two batches are answered during the stop's grace (gate 1), two never (gate 2).
    c.script([
        Reply::ok().held_on(1),
        Reply::ok().held_on(2),
        Reply::ok().held_on(1),
        Reply::ok().held_on(2),
    ]);
    let ids = enqueue(&sb, 100, "stop");
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 4), "{}", d.log_text());
    assert_eq!(sb.count("state = 'in_flight'"), 40);
    let stop = sb
        .cmd("difflorectl")
        .args(["stop", "--grace", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn difflorectl stop");
    assert!(
        wait_until(LIMIT, || d.log_text().contains("stop requested")),
        "{}",
        d.log_text()
    );
    c.release_gate(1);
    let status = d.wait_exit(LIMIT).expect("exits within its shutdown grace");
    let log = d.log_text();
    assert!(status.success(), "{status:?}\n{log}");
    let out = stop.wait_with_output().expect("wait for difflorectl stop");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(daemon::liveness(&sb), Liveness::NotRunning);

    // Answered within the grace: acknowledged. Never answered: back in the queue, no
    // attempt spent. Nothing else was sent once the stop was asked for.
    assert_eq!(c.started(), 4, "{log}");
    assert_eq!(sb.count("state = 'in_flight'"), 0);
    assert_eq!(sb.count("state = 'delivered'"), 20, "{log}");
    assert_eq!(sb.count("state = 'pending' AND attempts = 0"), 80, "{log}");
    assert_eq!(log.matches("returned 10 unsent events").count(), 2, "{log}");
    // Nothing acknowledged that the collector had not accepted.
    let delivered: Vec<i64> = sb
        .sqlite()
        .prepare("SELECT id FROM events WHERE state = 'delivered'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let accepted = c.ids();
    let install = ids[0].rsplit_once('-').unwrap().0.to_owned();
    for row in &delivered {
        assert!(accepted.contains(&format!("{install}-{row}")), "row {row}");
    }

    // The collector received the two unanswered batches (and the restart sends them again:
    // at least once), so exactly those 20 events arrive twice.
    c.release();
    let restarted = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let want = set(&ids);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        restarted.log_text()
    );
    assert_eq!(c.duplicates(), 20);
    assert_eq!(delivered_total(&sb), 100);
}

#[test]
fn a_503_to_every_batch_in_flight_backs_off_once_and_then_delivers_everything() {
    let sb = Sandbox::new();
    write_config(&sb, FOUR);
    let c = Collector::start();
    c.script((0..4).map(|_| Reply::status(503).held()));
    let ids = enqueue(&sb, 200, "outage");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 4), "{}", d.log_text());
    c.release();
    let want = set(&ids);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    // Four failures of batches that were out together are one outage: one backoff step,
    // and each of their 40 rows spent one attempt.
    assert_eq!(log.matches("retrying in").count(), 1, "{log}");
    assert!(
        log.contains("(failure 1)") && !log.contains("(failure 2)"),
        "{log}"
    );
    assert!(log.contains("collector accepts events again"), "{log}");
    assert_eq!(sb.count("attempts = 1"), 40);
    assert_eq!(sb.count("attempts > 1"), 0);
    assert_eq!(c.duplicates(), 0);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(|h| h.circuit == Circuit::Closed)));
}

#[test]
fn a_poison_event_is_isolated_while_other_batches_are_in_flight() {
    let sb = Sandbox::new();
    write_config(
        &sb,
        "max_in_flight = 4\nbatch_max_events = 32\nrequest_timeout = \"60s\"",
    );
    let c = Collector::start();
    c.poison("poison-37\"");
    // The other batches overtake one another while the poisoned one is bisected.
    c.set_default_delays(&[
        Duration::from_millis(20),
        Duration::ZERO,
        Duration::from_millis(10),
    ]);
    let ids = enqueue(&sb, 300, "poison");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let mut want = set(&ids);
    let poisoned = ids[37].clone();
    want.remove(&poisoned);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state = 'dead'") == 1
            && sb.count("state NOT IN ('dead', 'delivered')") == 0),
        "{}",
        d.log_text()
    );
    let row: i64 = poisoned.rsplit('-').next().unwrap().parse().unwrap();
    let error: String = sb
        .sqlite()
        .query_row("SELECT last_error FROM events WHERE id = ?1", [row], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        error.contains("400") && error.contains("poison payload"),
        "{error}"
    );
    assert_eq!(c.duplicates(), 0);
    assert_eq!(delivered_total(&sb), 299);
}

#[test]
fn a_refused_credential_with_four_batches_out_pauses_without_spending_attempts() {
    let sb = Sandbox::new();
    write_config(&sb, FOUR);
    let c = Collector::start();
    // All four go out before the first 401 comes back.
    c.script((0..4).map(|_| Reply::status(401).held()));
    enqueue(&sb, 100, "auth");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 4), "{}", d.log_text());
    c.release();
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.circuit == Circuit::PausedAuth)
            && sb.count("state = 'in_flight'") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(c.started(), 4, "a paused queue sends nothing more");
    assert_eq!(sb.count("state = 'pending' AND attempts = 0"), 100);
    assert_eq!(sb.count("state = 'dead'"), 0);
}

#[test]
fn a_reload_with_four_batches_out_finishes_them_and_delivers_everything_once() {
    let sb = Sandbox::new();
    write_config(&sb, FOUR);
    let c = Collector::start();
    c.script((0..4).map(|_| Reply::ok().held()));
    let ids = enqueue(&sb, 100, "reload");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 4), "{}", d.log_text());
    // A new sink while the old one has four batches out: they finish on the old one.
    d.signal(Signal::Hup);
    assert!(
        wait_until(LIMIT, || d.log_text().contains("configuration reloaded")),
        "{}",
        d.log_text()
    );
    c.release();
    let want = set(&ids);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(c.duplicates(), 0);
    assert_eq!(delivered_total(&sb), 100);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(
            |h| h.circuit == Circuit::Closed && h.last_error.is_none()
        )));
}
