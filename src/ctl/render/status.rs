//! Words and JSON for `difflorectl status`.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Message, human, since};
use crate::ctl::status::{DaemonStatus, QueueInfo, QueueView, Status, StatusReport};
use crate::shared::error_chain as chain;
use crate::shared::health::{Circuit, Dropped, Health};

pub(super) fn status(status: &Status, json: bool) -> Message {
    match (status, json) {
        (Status::Known(report), false) => Message::out(text(report)),
        (Status::Known(report), true) => Message::out(pretty(&to_json(report))),
        (Status::Unknown { error, .. }, false) => {
            Message::err(format!("difflorectl: status unknown: {}", chain(error)))
        }
        (Status::Unknown { data_home, error }, true) => Message::out(pretty(&json!({
            "state": "unknown",
            "error": chain(error),
            "data_home": data_home,
        }))),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn text(r: &StatusReport) -> String {
    let mut lines = vec![headline(r)];
    let mut row = |label: &str, value: String| lines.push(format!("{label:<14}{value}"));
    match &r.queue {
        QueueView::Missing => row("queue:", "empty (no outbox yet)".into()),
        QueueView::Unreadable(e) => row("queue:", format!("unreadable: {}", chain(e))),
        QueueView::Read(q) => {
            let oldest = q
                .counts
                .oldest_pending_ms
                .map(|ms| format!(" (oldest {})", human(since(ms, r.now_ms))))
                .unwrap_or_default();
            row(
                "queue:",
                format!(
                    "{} pending{oldest}, {} in flight, {} dead, {} rejected",
                    q.counts.pending, q.counts.in_flight, q.counts.dead, q.counts.rejected
                ),
            );
            let keep = r
                .keep_history
                .map(|d| format!("keep_history = {}", humantime::format_duration(d)))
                .unwrap_or_else(|| "keep_history unknown".into());
            let history = if local_recorder(r) {
                format!(
                    "{} events kept (no endpoint: every event is history; {keep})",
                    q.counts.delivered + q.counts.pending
                )
            } else {
                format!("{} delivered events kept ({keep})", q.counts.delivered)
            };
            row("history:", history);
        }
    }
    if let QueueView::Read(q) = &r.queue {
        let limit = r
            .max_outbox_bytes
            .map(|max| format!(" of {} (max_outbox_bytes)", bytes(max)))
            .unwrap_or_default();
        row("outbox size:", format!("{}{limit}", bytes(q.used_bytes)));
        if q.dropped.total() > 0 {
            row("dropped:", dropped(&q.dropped));
        }
    }
    row("spill files:", format!("{} waiting", r.spill_waiting));
    if let QueueView::Read(q) = &r.queue {
        row("delivered:", format!("{} events", q.delivered_total));
    }
    if let Some(h) = health(r) {
        row("redacted:", redactions(h));
    }
    let endpoint = r
        .endpoint
        .as_deref()
        .unwrap_or("none configured: difflore records locally (see `difflorectl sessions`)");
    row("endpoint:", endpoint.to_owned());
    if let Some(h) = health(r) {
        let delivery = match r.daemon {
            DaemonStatus::Running(_) if local_recorder(r) => {
                "local recorder: events are kept on this machine, none are sent".into()
            }
            DaemonStatus::Running(_) => circuit(h, r.now_ms),
            _ => "stopped: events wait until difflored runs".into(),
        };
        row("delivery:", delivery);
        row("last success:", ago(h.last_success_ms, r.now_ms));
        if let Some(c) = &h.collector_rejected {
            row("collector dropped:", collector_dropped(c));
        }
        row(
            "last error:",
            h.last_error.clone().unwrap_or_else(|| "none".into()),
        );
        row("heartbeat:", ago(Some(h.heartbeat_ms), r.now_ms));
    }
    if let Some(agents) = &r.hooks {
        row("hooks:", super::hooks::summary(agents));
    }
    row("data home:", r.data_home.display().to_string());
    lines.join("\n")
}

/// An OTLP collector's partial successes: `3 log records, 1 span (last: …)`.
fn collector_dropped(c: &crate::shared::health::CollectorRejected) -> String {
    let plural = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "{}, {} accepted then dropped by the collector",
        plural(c.log_records, "log record"),
        plural(c.spans, "span")
    );
    if let Some(last) = &c.last {
        text.push_str(&format!(" (last: {last})"));
    }
    text
}

/// What the size limit removed: never silent, and pending events first (they are losses).
fn dropped(d: &Dropped) -> String {
    let mut parts = Vec::new();
    if d.pending > 0 {
        parts.push(format!("{} pending events never delivered", d.pending));
    }
    if d.dead > 0 {
        parts.push(format!("{} dead", d.dead));
    }
    if d.rejected > 0 {
        parts.push(format!("{} rejected", d.rejected));
    }
    format!(
        "{}, to keep the outbox under max_outbox_bytes",
        parts.join(", ")
    )
}

/// Secrets replaced before upload, per rule: `3 aws-access-key, 1 github-token`.
fn redactions(h: &Health) -> String {
    if h.redactions.values().all(|n| *n == 0) {
        return "none".into();
    }
    h.redactions
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(rule, n)| format!("{n} {rule}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `512 B`, `48 KiB`, `1.5 MiB`, `1 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // Rounded down: just under the limit must not read as the limit.
    let shown = format!("{:.1}", (value * 10.0).floor() / 10.0);
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} {}", UNITS[unit])
}

fn headline(r: &StatusReport) -> String {
    match &r.daemon {
        DaemonStatus::Running(Some(rec)) => format!(
            "difflored is running (pid {}, version {}, up {})",
            rec.pid,
            rec.version,
            human(since(rec.started_ms, r.now_ms))
        ),
        DaemonStatus::Running(None) => "difflored is running (starting up)".into(),
        DaemonStatus::Stale {
            record,
            other_process,
        } => {
            let pid = record.pid;
            let named = if *other_process {
                format!("its pid file names pid {pid}, now an unrelated process")
            } else {
                format!("its pid file still names pid {pid}")
            };
            format!(
                "difflored is not running: it crashed or was killed ({named}); \
                 `difflorectl start` starts it again"
            )
        }
        DaemonStatus::NotRunning => "difflored is not running".into(),
    }
}

/// No endpoint anywhere: not a fault, difflore is then a local recorder.
fn local_recorder(r: &StatusReport) -> bool {
    r.endpoint.is_none() && health(r).is_none_or(|h| h.endpoint.is_none())
}

fn health(r: &StatusReport) -> Option<&Health> {
    match &r.queue {
        QueueView::Read(QueueInfo { health, .. }) => health.as_ref(),
        _ => None,
    }
}

fn circuit(h: &Health, now_ms: i64) -> String {
    match h.circuit {
        Circuit::Closed => "delivering".into(),
        Circuit::Open => match h.next_retry_ms {
            Some(at) if at > now_ms => {
                format!("failing; next retry in {}", human(since(now_ms, at)))
            }
            _ => "failing; retrying now".into(),
        },
        Circuit::PausedAuth => "paused: the collector refused our credentials".into(),
        Circuit::NoEndpoint => "waiting: no endpoint configured".into(),
    }
}

fn ago(ms: Option<i64>, now_ms: i64) -> String {
    match ms {
        Some(ms) if ms > 0 => format!("{} ago", human(since(ms, now_ms))),
        _ => "never".into(),
    }
}

fn to_json(r: &StatusReport) -> Value {
    let (state, record, other_process) = match &r.daemon {
        DaemonStatus::Running(rec) => ("running", rec.as_ref(), false),
        DaemonStatus::Stale {
            record,
            other_process,
        } => ("stale", Some(record), *other_process),
        DaemonStatus::NotRunning => ("not_running", None, false),
    };
    let running = matches!(r.daemon, DaemonStatus::Running(_));
    let (queue, delivered_total, queue_error, used, dropped) = match &r.queue {
        QueueView::Read(q) => (
            json!({
                "pending": q.counts.pending,
                "in_flight": q.counts.in_flight,
                "dead": q.counts.dead,
                "rejected": q.counts.rejected,
                "delivered": q.counts.delivered,
                "oldest_pending_age_s": q.counts.oldest_pending_ms
                    .map(|ms| since(ms, r.now_ms).as_secs()),
            }),
            Some(q.delivered_total),
            None,
            Some(q.used_bytes),
            q.dropped,
        ),
        QueueView::Missing => (
            json!({"pending": 0, "in_flight": 0, "dead": 0, "rejected": 0, "delivered": 0,
                   "oldest_pending_age_s": null}),
            Some(0),
            None,
            Some(0),
            Dropped::default(),
        ),
        QueueView::Unreadable(e) => (Value::Null, None, Some(chain(e)), None, Dropped::default()),
    };
    let h = health(r);
    json!({
        "state": state,
        "pid": record.map(|rec| rec.pid),
        "other_process": other_process,
        "version": record.map(|rec| rec.version.clone()),
        "uptime_s": record.filter(|_| running).map(|rec| since(rec.started_ms, r.now_ms).as_secs()),
        "queue": queue,
        "queue_error": queue_error,
        "outbox_bytes": used,
        "max_outbox_bytes": r.max_outbox_bytes,
        "dropped": {
            "total": dropped.total(),
            "pending": dropped.pending,
            "dead": dropped.dead,
            "rejected": dropped.rejected,
        },
        "spill_waiting": r.spill_waiting,
        "delivered_total": delivered_total,
        "redactions": h.map(|h| &h.redactions),
        "collector_rejected": h.and_then(|h| h.collector_rejected.as_ref()),
        "endpoint": r.endpoint,
        "local_recorder": local_recorder(r),
        "keep_history_s": r.keep_history.map(|d| d.as_secs()),
        "circuit": h.map(|h| h.circuit),
        "last_success_at": h.and_then(|h| h.last_success_ms).map(rfc3339),
        "last_error": h.and_then(|h| h.last_error.clone()),
        "next_retry_at": h.and_then(|h| h.next_retry_ms).map(rfc3339),
        "heartbeat_at": h.map(|h| h.heartbeat_ms).filter(|ms| *ms > 0).map(rfc3339),
        "hooks": r.hooks.as_deref().map(super::hooks::summary_json),
        "data_home": r.data_home,
    })
}

fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}
