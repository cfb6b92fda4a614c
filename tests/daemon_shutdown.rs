//! difflored stopping mid-drain: SIGTERM finishes (or returns) the batch in flight and
//! exits 0 with nothing left claimed; a second signal exits at once; after SIGKILL the
//! next start reclaims and delivers everything.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::pidfile::Liveness;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn sigterm_mid_drain_finishes_the_batch_in_flight_and_exits_cleanly() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 10");
    let c = Collector::start();
    c.set_default(Reply::ok().delay(Duration::from_millis(400)));
    let ids = enqueue(&sb, 100, "term");
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() >= 2));
    d.signal(Signal::Term);
    let status = d.wait_exit(LIMIT).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", d.log_text());
    assert_eq!(
        sb.count("state = 'in_flight'"),
        0,
        "no claim survives a clean stop"
    );
    assert_eq!(daemon::liveness(&sb), Liveness::NotRunning);
    // The batch in flight was finished, not abandoned: what the collector accepted is gone
    // from the outbox, and the rest is pending.
    let accepted = c.ids();
    assert!(!accepted.is_empty());
    assert_eq!(
        sb.count("state = 'pending'") as usize,
        ids.len() - accepted.len()
    );
    assert_eq!(c.duplicates(), 0);
}

#[test]
fn sigterm_returns_a_batch_the_collector_sits_on_and_a_restart_delivers_it() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 10\nrequest_timeout = \"60s\"");
    let c = Collector::start();
    c.script([Reply::ok().delay(Duration::from_secs(20))]);
    let ids = enqueue(&sb, 10, "stuck");
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 1));
    d.signal(Signal::Term);
    let status = d.wait_exit(LIMIT).expect("exits within the shutdown grace");
    assert!(status.success(), "{status:?}\n{}", d.log_text());
    assert_eq!(sb.count("state = 'pending' AND attempts = 0"), 10);
    assert!(
        d.log_text().contains("returned 10 unsent events"),
        "{}",
        d.log_text()
    );
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || want.is_subset(&c.ids()) && sb.count("1") == 0),
        "{}",
        d.log_text()
    );
}

#[test]
fn a_second_stop_signal_exits_at_once() {
    let sb = Sandbox::new();
    write_config(&sb, "request_timeout = \"60s\"");
    let c = Collector::start();
    c.script([Reply::ok().delay(Duration::from_secs(20))]);
    enqueue(&sb, 5, "impatient");
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.started() == 1));
    d.signal(Signal::Term);
    assert!(wait_until(LIMIT, || d
        .log_text()
        .contains("stop requested")));
    d.signal(Signal::Term);
    let status = d.wait_exit(LIMIT).expect("exits on the second signal");
    assert_eq!(status.code(), Some(1), "{}", d.log_text());
    assert!(d.log_text().contains("second stop signal"));
    // Nothing is lost: the claim is still on disk for the next start.
    assert_eq!(sb.count("1"), 5);
}

#[test]
fn kill_9_mid_drain_loses_nothing_after_a_restart() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 20");
    let c = Collector::start();
    c.set_default(Reply::ok().delay(Duration::from_millis(150)));
    let ids = enqueue(&sb, 200, "kill9");
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || c.ids().len() >= 40));
    d.kill9();
    assert!(matches!(daemon::liveness(&sb), Liveness::Stale(_)));
    let remaining = sb.count("1");
    assert!(remaining > 0, "killed before the end of the drain");
    let restarted = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want && sb.count("1") == 0),
        "{}",
        restarted.log_text()
    );
    // At-least-once: only the batch cut off by the kill may arrive twice.
    assert!(c.duplicates() <= 20, "{} duplicates", c.duplicates());
    eprintln!("duplicates after kill -9: {}", c.duplicates());
}
