//! difflored sleeps until there is work: a hook's event reaches the collector because the
//! file-change watch reported the write (the safety check set to an hour cannot be what
//! found it), the safety check alone still finds events where no watch is set, and spilled
//! events are imported without a poll. How fast is `make bench`'s business, not these.

mod common;

use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, wait_until};

const LIMIT: Duration = Duration::from_secs(30);

fn event(tag: &str) -> Vec<u8> {
    format!(r#"{{"hook_event_name":"Stop","session_id":"{tag}"}}"#).into_bytes()
}

fn idle_daemon(sb: &Sandbox, c: &Collector, env: &[(&str, &str)]) -> DaemonGuard {
    write_config(sb, "");
    let d = DaemonGuard::foreground_with(sb, &["--endpoint", &c.url()], |cmd| {
        for (k, v) in env {
            cmd.env(k, v);
        }
    });
    // Idle: the start-up pass found nothing, so only a wake-up can send what comes next.
    assert!(
        wait_until(LIMIT, || d.log_text().contains("delivering to")),
        "{}",
        d.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    d
}

#[test]
fn a_hooks_write_wakes_the_idle_daemon_without_any_poll() {
    let sb = Sandbox::new();
    let c = Collector::start();
    let d = idle_daemon(&sb, &c, &[("DIFFLORE_IDLE_CHECK", "1h")]);
    assert!(
        d.log_text()
            .contains("waking on writes to the outbox and the spill folder"),
        "{}",
        d.log_text()
    );
    for i in 0..3 {
        let out = sb.hook(&["--client", "claude-code"], &event(&format!("w{i}")));
        assert!(out.status.success());
        assert!(
            wait_until(LIMIT, || c.accepted_count() == i + 1),
            "event {i} was not woken for (hook said {:?}; spill folder {:?})\n{}",
            common::stderr(&out),
            std::fs::read_dir(sb.home().join("spill")).map(|d| d.count()),
            d.log_text()
        );
    }
}

#[test]
fn without_a_watch_the_safety_check_still_finds_new_events() {
    let sb = Sandbox::new();
    let c = Collector::start();
    let d = idle_daemon(
        &sb,
        &c,
        &[("DIFFLORE_WATCH", "off"), ("DIFFLORE_IDLE_CHECK", "1s")],
    );
    assert!(
        d.log_text().contains("DIFFLORE_WATCH=off"),
        "{}",
        d.log_text()
    );
    let out = sb.hook(&["--client", "claude-code"], &event("safety"));
    assert!(out.status.success());
    assert!(
        wait_until(LIMIT, || c.accepted_count() == 1),
        "{}",
        d.log_text()
    );
}

#[test]
fn an_idle_check_below_one_second_is_raised_to_one_second() {
    let sb = Sandbox::new();
    let c = Collector::start();
    let d = idle_daemon(&sb, &c, &[("DIFFLORE_IDLE_CHECK", "1ms")]);
    assert!(
        d.log_text().contains("safety check every 1s"),
        "{}",
        d.log_text()
    );
}
