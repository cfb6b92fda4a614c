//! difflored delivering to a real collector on 127.0.0.1: every event id arrives (set
//! equality, duplicates counted) through flaky 503s, 429 + Retry-After, slow answers,
//! connection refused, 413 splits and a poison event; the wire shape; the file sink.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::health::Circuit;

const LIMIT: Duration = Duration::from_secs(30);

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

/// Wait until the collector holds exactly `want`, then check nothing is left behind.
fn assert_all_delivered(sb: &Sandbox, c: &Collector, want: &BTreeSet<String>, d: &DaemonGuard) {
    let arrived = wait_until(LIMIT, || {
        c.ids() == *want && sb.count("state != 'delivered'") == 0
    });
    let missing: Vec<_> = want.difference(&c.ids()).take(5).cloned().collect();
    assert!(
        arrived,
        "missing {missing:?}, extra {:?}, rows left {}\n{}",
        c.ids().difference(want).take(5).collect::<Vec<_>>(),
        sb.count("state != 'delivered'"),
        d.log_text()
    );
    let delivered: i64 = sb
        .sqlite()
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'delivered_total'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(delivered >= want.len() as i64);
    eprintln!("duplicates delivered: {}", c.duplicates());
}

#[test]
fn every_event_arrives_once_through_flaky_503s() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 25");
    let c = Collector::start();
    c.script((0..12).map(|i| {
        if i % 3 == 2 {
            Reply::ok()
        } else {
            Reply::status(503)
        }
    }));
    let ids = enqueue(&sb, 200, "flaky");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert_all_delivered(&sb, &c, &set(&ids), &d);
    assert_eq!(c.duplicates(), 0, "a 503 is never a partial acceptance");
    assert!(c.requests().iter().filter(|r| r.status == 503).count() >= 8);
    assert!(wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h
        .circuit
        == Circuit::Closed
        && h.last_error.is_none()
        && h.last_success_ms.is_some())));
}

#[test]
fn a_429_is_honoured_with_its_retry_after() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 50");
    let c = Collector::start();
    c.script([Reply::status(429).retry_after("2")]);
    let ids = enqueue(&sb, 120, "ratelimited");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    // While backing off, the health record shows the collector's own wait (2 s), not the
    // configured 20-200 ms backoff.
    assert!(wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h
        .circuit
        == Circuit::Open
        && h.next_retry_ms.unwrap_or(0)
            - h.last_attempt_ms.unwrap_or(0)
            >= 1900)));
    assert_all_delivered(&sb, &c, &set(&ids), &d);
    assert_eq!(c.duplicates(), 0);
    assert_eq!(c.requests()[0].status, 429);
}

#[test]
fn slow_and_timed_out_answers_still_deliver_everything() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 20\nrequest_timeout = \"10s\"");
    let c = Collector::start();
    // A slow but timely answer (far inside the request timeout, however loaded the machine),
    // then one the daemon gives up on: held until the end of the test, so only the daemon's
    // own timeout ends it (the collector still keeps that batch: its retry is a duplicate the
    // id lets the collector drop).
    c.script([
        Reply::ok().delay(Duration::from_millis(300)),
        Reply::ok().held(),
    ]);
    let ids = enqueue(&sb, 100, "slow");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert_all_delivered(&sb, &c, &set(&ids), &d);
    assert!(c.duplicates() <= 20, "only the timed-out batch may repeat");
    assert!(d.log_text().contains("timed out"), "{}", d.log_text());
}

#[test]
fn connection_refused_backs_off_then_recovers() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let mut c = Collector::reserve();
    let ids = enqueue(&sb, 60, "refused");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h.circuit
            == Circuit::Open
            && h.last_error
                .as_deref()
                .is_some_and(|e| e.contains("could not reach")))),
        "{}",
        d.log_text()
    );
    let failed: i64 = sb
        .sqlite()
        .query_row("SELECT max(attempts) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(failed >= 1, "failed attempts are counted");
    assert_eq!(sb.count("state = 'dead'"), 0);
    c.listen();
    assert_all_delivered(&sb, &c, &set(&ids), &d);
    assert_eq!(c.duplicates(), 0);
}

#[test]
fn one_poison_event_goes_dead_and_the_rest_are_delivered() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 64");
    let c = Collector::start();
    c.poison("poison-37\"");
    let ids = enqueue(&sb, 100, "poison");
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
    // Bisection, not one request per event: log2(64) levels, two requests each at most.
    assert!(c.requests().len() < 30, "{} requests", c.requests().len());
}

#[test]
fn a_413_splits_the_batch() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 40");
    let c = Collector::start();
    c.script([Reply::status(413)]);
    let ids = enqueue(&sb, 40, "big");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert_all_delivered(&sb, &c, &set(&ids), &d);
    let sizes: Vec<usize> = c.requests().iter().map(|r| r.events.len()).collect();
    assert_eq!(sizes, [40, 20, 20]);
    assert_eq!(sb.count("state = 'dead'"), 0);
}

#[test]
fn the_wire_format_carries_ids_fields_and_the_original_payload() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let payload = br#"{"session_id":"abc","transcript_path":"/t.jsonl","cwd":"/proj","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la"},"n":1.50}"#;
    let out = sb.hook(&["--client", "claude-code"], payload);
    assert!(out.status.success());
    let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &c.url()], |cmd| {
        cmd.env("DIFFLORE_TOKEN", "s3cret-token");
    });
    assert!(
        wait_until(LIMIT, || c.events().len() == 1),
        "{}",
        d.log_text()
    );
    let ev = &c.events()[0];
    let install: String = sb
        .sqlite()
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(ev["id"], format!("{install}-1"));
    assert_eq!(ev["client"], "claude-code");
    assert_eq!(ev["event"], "PreToolUse");
    assert_eq!(ev["kind"], "tool.pre");
    assert_eq!(ev["session_id"], "abc");
    assert_eq!(ev["cwd"], "/proj");
    assert_eq!(ev["tool"], "Bash");
    assert!(humantime::parse_rfc3339(ev["received_at"].as_str().unwrap()).is_ok());
    let original: serde_json::Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(ev["payload"], original);
    let req = &c.requests()[0];
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["content-encoding"], "gzip");
    assert_eq!(req.headers["authorization"], "Bearer s3cret-token");
    assert!(req.headers["user-agent"].starts_with("difflored/"));
    // The token is never written down.
    assert!(wait_until(LIMIT, || sb.count("state != 'delivered'") == 0));
    let health = serde_json::to_string(&daemon::health(&sb).unwrap()).unwrap();
    assert!(!health.contains("s3cret") && !d.log_text().contains("s3cret"));
}

#[test]
fn new_hook_events_reach_the_file_sink_while_the_daemon_runs() {
    let sb = Sandbox::new();
    let out_path = sb.dir.path().join("events.ndjson");
    let d = DaemonGuard::foreground(
        &sb,
        &["--endpoint", &format!("file://{}", out_path.display())],
    );
    for i in 0..3 {
        // Pretty-printed, as some agents send it: the sink must still write one line.
        let ev =
            format!("{{\n  \"hook_event_name\": \"Stop\",\n  \"session_id\": \"live-{i}\"\n}}");
        assert!(sb.hook(&[], ev.as_bytes()).status.success());
    }
    let lines = || {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(wait_until(LIMIT, || lines().len() == 3), "{}", d.log_text());
    let sessions: Vec<_> = lines()
        .iter()
        .map(|l| l["payload"]["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sessions, ["live-0", "live-1", "live-2"]);
    for line in lines() {
        assert_eq!(
            (&line["event"], &line["kind"]),
            (&"Stop".into(), &"turn.stop".into())
        );
    }
    assert!(wait_until(LIMIT, || sb.count("state != 'delivered'") == 0));
}

#[test]
fn spilled_events_are_imported_and_delivered() {
    use difflore::shared::event::classify;
    use difflore::shared::paths::Paths;
    use difflore::shared::spill::{self, SpillRecord};
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let paths = Paths::at(sb.home());
    std::fs::create_dir_all(sb.home()).unwrap();
    let payload = r#"{"hook_event_name":"Stop","session_id":"spilled"}"#;
    let fields = classify(payload.as_bytes(), None).unwrap();
    spill::write(&paths, &SpillRecord::accepted(1, &fields, payload)).unwrap();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || c.events().len() == 1),
        "{}",
        d.log_text()
    );
    assert_eq!(c.events()[0]["session_id"], "spilled");
    assert_eq!(spill::waiting(&paths), 0);
}

/// The agent's own name stays `event`; `kind` next to it is the same for every agent's
/// word for the same thing, in the JSON envelope and in the NDJSON file.
#[test]
fn the_envelope_carries_the_normalized_kind_next_to_the_agents_own_name() {
    // (client, the recorded payload of, its event name, the kind it must go out as)
    let events = [
        ("claude-code", "claude-code", "PreToolUse", "tool.pre"),
        ("gemini", "gemini", "BeforeTool", "tool.pre"),
        ("windsurf", "windsurf", "pre_run_command", "tool.pre"),
        ("cursor", "cursor", "beforeMCPExecution", "tool.pre"),
        (
            "claude-code",
            "claude-code",
            "PostToolUseFailure",
            "tool.failure",
        ),
        ("codex", "codex", "UserPromptSubmit", "prompt.submit"),
        ("someone-new", "claude-code", "PreToolUse", "other"),
    ];
    let expected: BTreeSet<(String, String, String)> = events
        .iter()
        .map(|(c, _, e, k)| (c.to_string(), e.to_string(), k.to_string()))
        .collect();
    let triples = |evs: Vec<serde_json::Value>| -> BTreeSet<(String, String, String)> {
        evs.iter()
            .map(|ev| {
                let s = |k: &str| ev[k].as_str().unwrap_or_default().to_owned();
                (s("client"), s("event"), s("kind"))
            })
            .collect()
    };
    let queue = |sb: &Sandbox| {
        for (client, recorded, event, _) in events {
            let payload = common::fixture(format!("{recorded}/{event}.json"));
            let out = sb.hook(&["--client", client], &payload);
            assert!(out.status.success(), "{}", common::stderr(&out));
        }
    };

    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    queue(&sb);
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || c.events().len() == events.len()),
        "{}",
        d.log_text()
    );
    assert_eq!(triples(c.events()), expected, "JSON envelope");

    let sb = Sandbox::new();
    write_config(&sb, "");
    let out_path = sb.dir.path().join("kinds.ndjson");
    queue(&sb);
    let d = DaemonGuard::foreground(
        &sb,
        &["--endpoint", &format!("file://{}", out_path.display())],
    );
    let lines = || {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(LIMIT, || lines().len() == events.len()),
        "{}",
        d.log_text()
    );
    assert_eq!(triples(lines()), expected, "NDJSON file");
}
