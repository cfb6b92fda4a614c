//! The outbox's size limit (`max_outbox_bytes`), filled by real hooks: the daemon removes
//! dead and rejected rows first, oldest first, then the oldest pending ones; every removal
//! is counted in `meta`, logged and shown by `difflorectl status`; hooks never wait for it.

mod common;
mod ctl_support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, stderr, wait_until};
use ctl_support::ctl;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);

/// A PostToolUse event about 8 KiB long, named by `tag` and `i`.
fn event(tag: &str, i: usize) -> Vec<u8> {
    let word = format!("{tag}-{i} ");
    let output = word.repeat((8 << 10) / word.len());
    format!(
        r#"{{"hook_event_name":"PostToolUse","session_id":"s-{tag}","cwd":"/w","tool_name":"Bash","tool_input":{{"command":"cat big"}},"tool_response":{{"stdout":"{output}"}}}}"#
    )
    .into_bytes()
}

/// Store `input` through the real hook, which must neither fail nor complain.
fn hook(sb: &Sandbox, input: &[u8]) {
    let out = sb.hook(&[], input);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Something that is not an event: kept as a `rejected` row with a 4 KiB excerpt.
fn not_an_event(i: usize) -> Vec<u8> {
    format!("not json {i} {}", "x".repeat(4000)).into_bytes()
}

/// What the limit measures: pages in use.
fn used(sb: &Sandbox) -> u64 {
    sb.sqlite()
        .query_row(
            "SELECT (p.page_count - f.freelist_count) * s.page_size
             FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
}

fn ids(sb: &Sandbox, state: &str) -> Vec<i64> {
    let conn = sb.sqlite();
    let mut stmt = conn
        .prepare("SELECT id FROM events WHERE state = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([state], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn meta(sb: &Sandbox, key: &str) -> i64 {
    sb.sqlite()
        .query_row(
            "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1), 0)",
            [key],
            |r| r.get(0),
        )
        .unwrap()
}

fn status_json(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&ctl(sb, &["status", "--json"]).stdout).unwrap()
}

/// An endpoint difflored refuses to use (plain http to another host): events wait as
/// pending, undelivered, so trimming them is a drop (without any endpoint they would be a
/// local recorder's history instead).
const UNUSABLE: &str = "endpoint = \"http://collector.invalid/ingest\"\n";

/// The limit whose low-water mark (90 %) is `target` bytes.
fn limit_for(target: u64) -> u64 {
    target / 90 * 100
}

#[test]
fn dead_and_rejected_rows_go_first_then_the_oldest_pending_counted_and_shown() {
    let sb = Sandbox::new();
    // Rows 1..=30 die against a collector that always fails.
    write_config(&sb, "dead_after = \"1ms\"");
    for i in 0..30 {
        hook(&sb, &event("old", i));
    }
    let c = Collector::start();
    c.set_default(Reply::status(503));
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || sb.count("state = 'dead'") == 30),
        "{}",
        d.log_text()
    );
    d.signal(Signal::Term);
    assert!(d.wait_exit(LIMIT).is_some_and(|s| s.success()));
    // The oldest ten are retried: pending rows older than every dead one.
    let first_ten: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    let mut args = vec!["retry"];
    args.extend(first_ten.iter().map(String::as_str));
    assert_eq!(ctl(&sb, &args).code, 0);
    let u1 = used(&sb);
    for i in 0..10 {
        hook(&sb, &not_an_event(i)); // rows 31..=40
    }
    let u2 = used(&sb);
    for i in 0..20 {
        hook(&sb, &event("new", i)); // rows 41..=60
    }
    let u3 = used(&sb);
    assert_eq!(ids(&sb, "rejected"), (31..=40).collect::<Vec<_>>());

    // Room for everything but the dead and rejected rows and about five pending ones.
    let row = (u3 - u2) / 20;
    let target = u3 - 20 * row - (u2 - u1) - 5 * row;
    let limit = limit_for(target);
    write_config(&sb, &format!("{UNUSABLE}max_outbox_bytes = {limit}"));
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || meta(&sb, "dropped_pending") > 0),
        "{}",
        d.log_text()
    );
    assert_eq!(meta(&sb, "dropped_dead"), 20);
    assert_eq!(meta(&sb, "dropped_rejected"), 10);
    assert_eq!(sb.count("state IN ('dead', 'rejected')"), 0);
    let k = meta(&sb, "dropped_pending");
    assert!((1..=10).contains(&k), "dropped {k} pending rows");
    // Exactly the oldest pending rows went, whatever their neighbours.
    let kept: Vec<i64> = (k + 1..=10).chain(41..=60).collect();
    assert_eq!(ids(&sb, "pending"), kept);
    assert!(used(&sb) <= limit, "{} > {limit}", used(&sb));

    // Never silent: the log, status and status --json all say it.
    let log = d.log_text();
    assert!(
        log.contains("removed 20 dead events and 10 rejected inputs"),
        "{log}"
    );
    assert!(
        log.contains(&format!("DROPPED {k} pending events")),
        "{log}"
    );
    let text = ctl(&sb, &["status"]).stdout;
    let line = format!("dropped:      {k} pending events never delivered, 20 dead, 10 rejected");
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("(max_outbox_bytes)"), "{text}");
    let json = status_json(&sb);
    let dropped = &json["dropped"];
    assert_eq!(
        (
            &dropped["total"],
            &dropped["pending"],
            &dropped["dead"],
            &dropped["rejected"]
        ),
        (&(30 + k).into(), &k.into(), &20.into(), &10.into()),
        "{json}"
    );
    assert_eq!(json["max_outbox_bytes"], limit);
    assert!(json["outbox_bytes"].as_u64().unwrap() <= limit);
}

#[test]
fn when_dead_and_rejected_rows_are_enough_no_pending_event_is_dropped() {
    let sb = Sandbox::new();
    write_config(&sb, UNUSABLE);
    let u0 = {
        hook(&sb, &event("first", 0));
        used(&sb)
    };
    for i in 0..10 {
        hook(&sb, &not_an_event(i)); // rows 2..=11
    }
    let u1 = used(&sb);
    for i in 1..20 {
        hook(&sb, &event("pending", i)); // rows 12..=30
    }
    let u2 = used(&sb);
    // About half the rejected rows must go.
    let target = u2 - (u1 - u0) / 2;
    // Below what is used, whatever the schema's fixed pages: the trim must start.
    let limit = limit_for(target).min(u2 - 4096);
    write_config(&sb, &format!("{UNUSABLE}max_outbox_bytes = {limit}"));
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || meta(&sb, "dropped_rejected") > 0),
        "{}",
        d.log_text()
    );
    let gone = meta(&sb, "dropped_rejected");
    assert!(gone < 10, "only as many as needed: {gone}");
    assert_eq!(meta(&sb, "dropped_pending"), 0);
    assert_eq!(sb.count("state = 'pending'"), 20);
    // The oldest rejected rows went first.
    assert_eq!(ids(&sb, "rejected"), (2 + gone..=11).collect::<Vec<_>>());
    let text = ctl(&sb, &["status"]).stdout;
    assert!(
        text.contains(&format!("dropped:      {gone} rejected,")),
        "{text}"
    );
    assert!(!text.contains("never delivered"), "{text}");
}

#[test]
fn a_running_daemon_trims_as_hooks_fill_the_outbox_and_hooks_never_wait() {
    let sb = Sandbox::new();
    write_config(&sb, &format!("{UNUSABLE}max_outbox_bytes = 204800"));
    let d = DaemonGuard::foreground(&sb, &[]);
    let before: BTreeSet<i64> = ids(&sb, "pending").into_iter().collect();
    assert!(before.is_empty());
    for i in 0..60 {
        // Silent and successful although the outbox is over its limit meanwhile.
        let out = sb.hook(&[], &event("flood", i));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}",
            stderr(&out)
        );
    }
    // Trimmed to the low-water mark, where it stays once the hooks stop.
    assert!(
        wait_until(LIMIT, || meta(&sb, "dropped_pending") > 0
            && used(&sb) <= 204800 / 100 * 90),
        "{}",
        d.log_text()
    );
    // What is left is the newest events, none missing in between.
    let kept = ids(&sb, "pending");
    let dropped = meta(&sb, "dropped_pending");
    assert_eq!(kept, (dropped + 1..=60).collect::<Vec<_>>());
    assert!(d.log_text().contains("DROPPED"));
    let text = ctl(&sb, &["status"]).stdout;
    assert!(text.contains("pending events never delivered"), "{text}");
}
