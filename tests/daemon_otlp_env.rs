//! difflored following the OpenTelemetry exporter conventions when difflore names no
//! endpoint: OTEL_EXPORTER_OTLP_ENDPOINT (a base URL) or _LOGS_ENDPOINT (used as is), and
//! the _HEADERS variables, whose values reach the collector but never the log or status.

mod common;
mod otlp_support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::health::Circuit;
use otlp_support::{decode, records};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn the_base_endpoint_variable_and_its_headers_are_honoured_and_kept_secret() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let ids = enqueue(&sb, 12, "otel");
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}/otel/", c.port),
        )
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s3cr%3Det-key, X-Scope-OrgID = team%20blue",
        );
    });
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    for req in c.requests() {
        assert_eq!(req.path, "/otel/v1/logs");
        assert_eq!(req.headers["x-api-key"], "s3cr=et-key");
        assert_eq!(req.headers["x-scope-orgid"], "team blue");
        assert!(!records(&decode(&req.body)).is_empty());
    }
    let health = daemon::health(&sb).unwrap();
    assert_eq!(
        health.endpoint.as_deref(),
        Some(
            format!(
                "http://127.0.0.1:{}/otel/v1/logs (OTLP, from OTEL_EXPORTER_OTLP_ENDPOINT)",
                c.port
            )
            .as_str()
        )
    );
    let status = sb.cmd("difflorectl").arg("status").output().unwrap();
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status_text.contains("/otel/v1/logs (OTLP, from OTEL_EXPORTER_OTLP_ENDPOINT)"),
        "{status_text}"
    );
    let shown = [
        serde_json::to_string(&health).unwrap(),
        d.log_text(),
        status_text.into_owned(),
    ];
    for text in shown {
        assert!(!text.contains("s3cr"), "a header value leaked:\n{text}");
    }
}

#[test]
fn the_logs_endpoint_variable_is_used_as_is_with_the_logs_headers() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    // Bound by us and never listening: a daemon that used the losing variable would find
    // its connection refused (never some other program on a fixed port).
    let unused = Collector::reserve();
    let ids = enqueue(&sb, 3, "logs-var");
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.env(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("http://127.0.0.1:{}/custom/ingest", c.port),
        )
        // Both lose to the logs-specific variables.
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}/unused", unused.port),
        )
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-general=1")
        .env("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs=2");
    });
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    let req = &c.requests()[0];
    assert_eq!(req.path, "/custom/ingest");
    assert_eq!(req.headers.get("x-logs").map(String::as_str), Some("2"));
    assert!(!req.headers.contains_key("x-general"));
    assert_eq!(records(&decode(&req.body)).len(), 3);
}

#[test]
fn difflores_own_endpoint_wins_over_the_opentelemetry_variables() {
    let sb = Sandbox::new();
    let c = Collector::start();
    write_config(&sb, &format!("endpoint = \"{}\"", c.url()));
    let unused = Collector::reserve();
    let ids = enqueue(&sb, 2, "own");
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", unused.port),
        )
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-otlp-only=1");
    });
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(wait_until(LIMIT, || c.ids() == want), "{}", d.log_text());
    let req = &c.requests()[0];
    assert_eq!(req.path, "/ingest", "difflore's JSON sink, not OTLP");
    assert!(
        !req.headers.contains_key("x-otlp-only"),
        "OTLP headers are for OTLP sinks"
    );
}

#[test]
fn malformed_headers_keep_events_waiting_and_status_says_why_without_the_value() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    enqueue(&sb, 2, "bad-header");
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", c.port),
        )
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-ok=1,x-bad=s3cret%0Avalue");
    });
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h.circuit
            == Circuit::NoEndpoint
            && h.last_error.as_deref().is_some_and(|e| e.contains(
                "OTEL_EXPORTER_OTLP_HEADERS entry 2 is not a valid name=value header"
            )))),
        "{}",
        d.log_text()
    );
    assert_eq!(c.started(), 0, "nothing is sent");
    assert_eq!(sb.count("state = 'pending'"), 2);
    let health = serde_json::to_string(&daemon::health(&sb).unwrap()).unwrap();
    assert!(!health.contains("s3cret") && !d.log_text().contains("s3cret"));
}

#[test]
fn plain_http_to_a_remote_otlp_collector_is_refused() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    enqueue(&sb, 1, "insecure");
    // Never contacted: the rule refuses it before any connection.
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel.invalid:4318");
    });
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h
            .last_error
            .as_deref()
            .is_some_and(
                |e| e.contains("plain http to a host that is not loopback")
            ))),
        "{}",
        d.log_text()
    );
    assert_eq!(sb.count("state = 'pending'"), 1);
}
