//! difflored exporting OTLP/HTTP logs to a real collector on 127.0.0.1: events from the real
//! hook arrive as log records an independent decoder (opentelemetry-proto) reads back whole;
//! flaky 503s, a refused record and a partial success are handled like the HTTP sink's.

mod common;
mod otlp_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use otlp_support::{decode, records, string_attrs, to_json};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

fn otlp_url(c: &Collector) -> String {
    format!("otlp+http://127.0.0.1:{}", c.port)
}

/// A queued row as the hook stored it.
struct Row {
    received_ms: i64,
    attrs: BTreeMap<String, String>,
    payload: Value,
}

/// Every queued row by the event id the collector should see, read before the daemon runs.
fn queued(sb: &Sandbox) -> BTreeMap<String, Row> {
    let conn = sb.sqlite();
    let install: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, received_ms, client, event, session_id, cwd, tool, payload FROM events",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let id = format!("{install}-{}", r.get::<_, i64>(0)?);
            let mut attrs = BTreeMap::new();
            attrs.insert("difflore.event.id".to_owned(), id.clone());
            attrs.insert("difflore.client".to_owned(), r.get(2)?);
            attrs.insert("event.name".to_owned(), r.get(3)?);
            let optional = [(4, "session.id"), (5, "difflore.cwd"), (6, "difflore.tool")];
            for (col, key) in optional {
                if let Some(v) = r.get::<_, Option<String>>(col)? {
                    attrs.insert(key.to_owned(), v);
                }
            }
            let payload: String = r.get(7)?;
            let row = Row {
                received_ms: r.get(1)?,
                attrs,
                payload: serde_json::from_str(&payload).unwrap(),
            };
            Ok((id, row))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_all_delivered(sb: &Sandbox, c: &Collector, want: &BTreeSet<String>, d: &DaemonGuard) {
    assert!(
        wait_until(LIMIT, || c.ids() == *want
            && sb.count("state != 'delivered'") == 0),
        "got {} of {} ids, rows left {}\n{}",
        c.ids().intersection(want).count(),
        want.len(),
        sb.count("state != 'delivered'"),
        d.log_text()
    );
}

#[test]
fn hook_events_arrive_as_log_records_an_independent_decoder_reads_back() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let payloads = [
        (
            "claude-code",
            r#"{"session_id":"abc","transcript_path":"/t.jsonl","cwd":"/proj","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la","timeout":120000},"n":1.50,"flags":[true,null]}"#,
        ),
        ("codex", r#"{"hook_event_name":"Stop","session_id":"s-2"}"#),
        ("gemini", r#"{"hook_event_name":"SessionStart"}"#),
    ];
    for (client, payload) in payloads {
        let out = sb.hook(&["--client", client], payload.as_bytes());
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let mut rows = queued(&sb);
    assert_eq!(rows.len(), 3);
    // Not assembled yet when queued: the kind the daemon must add, in id order.
    for (row, kind) in rows
        .values_mut()
        .zip(["tool.pre", "turn.stop", "session.start"])
    {
        row.attrs
            .insert("difflore.event.kind".to_owned(), kind.to_owned());
    }
    let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &otlp_url(&c)], |cmd| {
        cmd.env("DIFFLORE_TOKEN", "s3cret-token");
    });
    let want: BTreeSet<String> = rows.keys().cloned().collect();
    assert_all_delivered(&sb, &c, &want, &d);

    let mut seen = 0;
    for req in c.requests() {
        assert_eq!(req.path, "/v1/logs");
        assert_eq!(req.headers["content-type"], "application/x-protobuf");
        assert_eq!(req.headers["content-encoding"], "gzip");
        assert_eq!(req.headers["authorization"], "Bearer s3cret-token");
        assert!(req.headers["user-agent"].starts_with("difflored/"));
        let export = decode(&req.body);
        let resource = export.resource_logs[0].resource.as_ref().unwrap();
        let resource = string_attrs(&resource.attributes);
        assert_eq!(resource["service.name"], "difflore");
        let scope = export.resource_logs[0].scope_logs[0]
            .scope
            .as_ref()
            .unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("difflore", env!("CARGO_PKG_VERSION"))
        );
        for rec in records(&export) {
            let attrs = string_attrs(&rec.attributes);
            let row = &rows[&attrs["difflore.event.id"]];
            assert_eq!(attrs, row.attrs);
            assert_eq!(rec.event_name, row.attrs["event.name"]);
            assert_eq!(rec.time_unix_nano, row.received_ms as u64 * 1_000_000);
            assert!(rec.observed_time_unix_nano >= rec.time_unix_nano);
            assert_eq!(to_json(rec.body.as_ref().unwrap()), row.payload);
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "each record decoded once");
    let health = serde_json::to_string(&daemon::health(&sb).unwrap()).unwrap();
    assert!(
        health.contains(&format!("otlp+http://127.0.0.1:{}", c.port)),
        "{health}"
    );
    assert!(!health.contains("s3cret") && !d.log_text().contains("s3cret"));
}

#[test]
fn every_hook_event_arrives_once_through_flaky_503s() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 8");
    let c = Collector::start();
    c.script((0..9).map(|i| {
        if i % 3 == 2 {
            Reply::ok()
        } else {
            Reply::status(503)
        }
    }));
    for i in 0..40 {
        let ev = format!(r#"{{"hook_event_name":"PostToolUse","session_id":"flaky-{i}"}}"#);
        assert!(sb.hook(&[], ev.as_bytes()).status.success());
    }
    let want: BTreeSet<String> = queued(&sb).into_keys().collect();
    assert_eq!(want.len(), 40);
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &otlp_url(&c)]);
    assert_all_delivered(&sb, &c, &want, &d);
    assert_eq!(c.duplicates(), 0, "a 503 is never a partial acceptance");
    let requests = c.requests();
    assert!(requests.iter().filter(|r| r.status == 503).count() >= 6);
    assert!(requests.iter().all(|r| r.path == "/v1/logs"));
    assert_eq!(sb.count("state = 'dead'"), 0);
}

#[test]
fn one_refused_record_goes_dead_and_the_rest_arrive() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 32");
    let c = Collector::start();
    // The marker sits inside the record's body (a stringValue), as a collector would see it.
    c.poison("poison-21\"");
    let ids = enqueue(&sb, 50, "poison");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &otlp_url(&c)]);
    let mut want: BTreeSet<String> = ids.iter().cloned().collect();
    want.remove(&ids[21]);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state = 'dead'") == 1
            && sb.count("state NOT IN ('dead', 'delivered')") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(c.duplicates(), 0);
    assert!(
        c.requests().len() < 20,
        "bisection, not one request per event"
    );
}

#[test]
fn a_partial_success_is_logged_and_the_batch_counts_as_delivered() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    c.script([Reply {
        body:
            r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"timestamps too old"}}"#
                .into(),
        ..Reply::ok()
    }]);
    let ids = enqueue(&sb, 5, "partial");
    // A JSON answer is read as the answer to a JSON request.
    let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &otlp_url(&c)], |cmd| {
        cmd.env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    });
    assert_all_delivered(&sb, &c, &ids.into_iter().collect(), &d);
    assert!(
        wait_until(LIMIT, || d.log_text().contains(
            "collector accepted a batch of 5 but rejected 2 log records"
        ) && d.log_text().contains("timestamps too old")),
        "{}",
        d.log_text()
    );
    assert_eq!(c.requests().len(), 1, "a partial success is not retried");
    assert_eq!(sb.count("state = 'dead'"), 0);
    // Counted, and shown by status (both ways) with the collector's own words.
    assert!(
        wait_until(LIMIT, || common::daemon::health(&sb)
            .and_then(|h| h.collector_rejected)
            .is_some_and(|r| r.log_records == 2)),
        "{}",
        d.log_text()
    );
    let out = sb.cmd("difflorectl").arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("collector dropped:")
            && text.contains("2 log records")
            && text.contains("timestamps too old"),
        "{text}"
    );
    let out = sb
        .cmd("difflorectl")
        .args(["status", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["collector_rejected"]["log_records"], 2, "{json}");
}

/// Each agent's own name stays `event.name`; the normalized kind sits next to it as
/// `difflore.event.kind`, the same in protobuf and in OTLP/JSON.
#[test]
fn every_agents_event_carries_its_normalized_kind_in_both_encodings() {
    let events = [
        ("claude-code", "PreToolUse", "tool.pre"),
        ("gemini", "BeforeTool", "tool.pre"),
        ("cursor", "beforeShellExecution", "tool.pre"),
        ("gemini", "AfterTool", "tool.post"),
        ("codex", "Stop", "turn.stop"),
        ("claude-code", "MessageDisplay", "other"),
    ];
    for protocol in ["http/protobuf", "http/json"] {
        let sb = Sandbox::new();
        write_config(&sb, "");
        let c = Collector::start();
        for (client, event, _) in events {
            let payload = format!(r#"{{"hook_event_name":"{event}","session_id":"k-{client}"}}"#);
            let out = sb.hook(&["--client", client], payload.as_bytes());
            assert!(out.status.success(), "{}", common::stderr(&out));
        }
        let want: BTreeSet<String> = queued(&sb).into_keys().collect();
        let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &otlp_url(&c)], |cmd| {
            cmd.env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
        });
        assert_all_delivered(&sb, &c, &want, &d);
        let mut got = BTreeSet::new();
        for req in c.requests().iter().filter(|r| r.path == "/v1/logs") {
            for rec in records(&decode(&req.body)) {
                let attrs = string_attrs(&rec.attributes);
                got.insert((
                    attrs["difflore.client"].clone(),
                    attrs["event.name"].clone(),
                    attrs["difflore.event.kind"].clone(),
                ));
            }
        }
        let expected: BTreeSet<_> = events
            .iter()
            .map(|(c, e, k)| (c.to_string(), e.to_string(), k.to_string()))
            .collect();
        assert_eq!(got, expected, "{protocol}");
    }
}
