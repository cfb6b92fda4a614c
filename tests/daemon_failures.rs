//! difflored when the collector keeps saying no: a refused credential pauses the queue
//! without spending attempts (SIGHUP resumes), SIGUSR1 cuts a backoff short, events
//! failing for longer than `dead_after` go dead, and so do rows that cannot be made into
//! records at all, with their reason.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::health::Circuit;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);

fn write_token(path: &std::path::Path, token: &str) {
    std::fs::write(path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_401_pauses_the_queue_until_the_token_is_fixed_and_sighup() {
    let sb = Sandbox::new();
    let token = sb.dir.path().join("token");
    write_token(&token, "wrong-secret-value");
    write_config(&sb, &format!("token_file = \"{}\"", token.display()));
    let c = Collector::start();
    c.require_token("right-secret-value");
    let ids = enqueue(&sb, 30, "auth");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.circuit == Circuit::PausedAuth
                && h.last_error.as_deref().is_some_and(|e| e.contains("401")))),
        "{}",
        d.log_text()
    );
    // Paused: nothing dead, no attempt spent, and no further requests while we watch two
    // heartbeats go by.
    let asked = c.started();
    let beat = daemon::health(&sb).unwrap().heartbeat_ms;
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(|h| h.heartbeat_ms > beat + 2000)));
    assert_eq!(c.started(), asked, "a paused queue sends nothing");
    assert_eq!(sb.count("state = 'dead'"), 0);
    assert_eq!(sb.count("state = 'pending' AND attempts = 0"), 30);
    write_token(&token, "right-secret-value");
    d.signal(Signal::Hup);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(c.duplicates(), 0);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(|h| h.circuit == Circuit::Closed)));
    let health = serde_json::to_string(&daemon::health(&sb).unwrap()).unwrap();
    assert!(!d.log_text().contains("secret-value") && !health.contains("secret-value"));
}

#[test]
fn a_token_file_others_can_read_is_refused_and_events_wait() {
    let sb = Sandbox::new();
    let token = sb.dir.path().join("token");
    std::fs::write(&token, "t\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_config(&sb, &format!("token_file = \"{}\"", token.display()));
    let c = Collector::start();
    enqueue(&sb, 3, "mode");
    let _d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("chmod 600")))));
    assert_eq!(c.started(), 0);
    assert_eq!(sb.count("state = 'pending'"), 3);
}

#[test]
fn sigusr1_retries_at_once_instead_of_waiting_out_the_backoff() {
    let sb = Sandbox::new();
    write_config(&sb, "retry_base = \"1h\"\nretry_cap = \"1h\"");
    let c = Collector::start();
    c.script([Reply::status(503)]);
    let ids = enqueue(&sb, 10, "flush");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(|h| h.circuit == Circuit::Open)));
    assert_eq!(c.ids().len(), 0);
    d.signal(Signal::Usr1);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
}

#[test]
fn events_failing_longer_than_dead_after_go_dead_with_the_reason() {
    let sb = Sandbox::new();
    write_config(&sb, "dead_after = \"300ms\"");
    let c = Collector::start();
    c.set_default(Reply::status(503));
    enqueue(&sb, 5, "giveup");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || sb.count("state = 'dead'") == 5),
        "{}",
        d.log_text()
    );
    let (attempts, error): (i64, String) = sb
        .sqlite()
        .query_row(
            "SELECT min(attempts), max(last_error) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(attempts >= 2, "given up by time after several attempts");
    assert!(error.contains("503"), "{error}");
}

#[test]
fn a_missing_collector_endpoint_404_backs_off_instead_of_killing_events() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    c.script([Reply::status(404), Reply::status(404)]);
    let ids = enqueue(&sb, 8, "notfound");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(c.requests().len(), 3);
}

#[test]
fn a_collector_refusing_every_batch_backs_off_and_delivers_everything_once_it_accepts() {
    let sb = Sandbox::new();
    write_config(&sb, "retry_base = \"200ms\"\nretry_cap = \"1s\"");
    let c = Collector::start();
    // A proxy that wants another content type: every request refused, whatever it holds.
    c.set_default(Reply::status(415));
    let ids = enqueue(&sb, 200, "refused");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h.circuit
            == Circuit::Open
            && h.last_error.as_deref().is_some_and(
                |e| e.starts_with("refused: 415 Unsupported Media Type")
            ))),
        "{}",
        d.log_text()
    );
    // Several backoff rounds later the events are still waiting, unburied, and each round
    // cost a few requests, not a bisection down to single events.
    assert!(wait_until(LIMIT, || c.started() >= 9), "{}", d.log_text());
    assert_eq!(sb.count("state = 'dead'"), 0);
    assert_eq!(sb.count("state IN ('pending', 'in_flight')"), 200);
    let asked = c.started();
    assert!(asked < 40, "{asked} requests for three refusal rounds");
    c.set_default(Reply::ok());
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state IN ('pending', 'in_flight')") == 0),
        "{}",
        d.log_text()
    );
    assert_eq!(sb.count("state = 'dead'"), 0);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(
            |h| h.circuit == Circuit::Closed && h.last_error.is_none()
        )));
}

#[test]
fn an_outbox_locked_by_another_process_mid_batch_converges_once_released() {
    let sb = Sandbox::new();
    write_config(&sb, "batch_max_events = 10\nrequest_timeout = \"60s\"");
    let c = Collector::start();
    c.set_default(Reply::ok().held());
    let ids = enqueue(&sb, 25, "locked");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    // All three batches (10, 10, 5) are out at once.
    assert!(wait_until(LIMIT, || c.started() == 3), "{}", d.log_text());
    // An sqlite3 shell (or a backup tool) takes the write lock while the batches are out,
    // and keeps it past the daemon's busy timeout: the acks cannot be written.
    let shell = sb.sqlite();
    shell.execute_batch("BEGIN IMMEDIATE").unwrap();
    c.release();
    assert!(
        wait_until(LIMIT, || d.log_text().contains("outbox error")),
        "{}",
        d.log_text()
    );
    assert_eq!(sb_count_locked(&shell, "state = 'in_flight'"), 25);
    shell.execute_batch("COMMIT").unwrap();
    drop(shell);
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state IN ('pending', 'in_flight')") == 0),
        "in flight {}, pending {}\n{}",
        sb.count("state = 'in_flight'"),
        sb.count("state = 'pending'"),
        d.log_text()
    );
    // The acks were written late, not the batches sent again.
    assert_eq!(c.duplicates(), 0);
}

/// A count through the connection that holds the lock (a reader on another connection
/// would wait for nothing, but this one is already in its transaction).
fn sb_count_locked(conn: &rusqlite::Connection, filter: &str) -> i64 {
    conn.query_row(
        &format!("SELECT count(*) FROM events WHERE {filter}"),
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Rows that cannot be made into records at all (a payload that is not UTF-8, or not
/// JSON: a damaged or hand-edited outbox) go dead with the reason, off the loop's thread
/// where batches are prepared, while the rest of their batch is delivered once.
#[test]
fn rows_that_cannot_be_prepared_go_dead_with_the_reason_and_their_batch_is_delivered() {
    let sb = Sandbox::new();
    let c = Collector::start();
    let ids = enqueue(&sb, 10, "prep");
    let row = |id: &String| id.rsplit('-').next().unwrap().parse::<i64>().unwrap();
    let (not_utf8, not_json) = (row(&ids[3]), row(&ids[7]));
    let conn = sb.sqlite();
    conn.execute(
        "UPDATE events SET payload = X'7B22FF22FE7D' WHERE id = ?1",
        [not_utf8],
    )
    .unwrap();
    conn.execute(
        "UPDATE events SET payload = '{\"cut' WHERE id = ?1",
        [not_json],
    )
    .unwrap();
    drop(conn);
    let want: BTreeSet<String> = ids
        .iter()
        .filter(|id| ![not_utf8, not_json].contains(&row(id)))
        .cloned()
        .collect();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state = 'dead'") == 2
            && sb.count("state NOT IN ('dead', 'delivered')") == 0),
        "{}",
        d.log_text()
    );
    let why = |id: i64| -> String {
        sb.sqlite()
            .query_row("SELECT last_error FROM events WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert!(
        why(not_utf8).contains("not valid UTF-8"),
        "{}",
        why(not_utf8)
    );
    assert!(
        why(not_json).contains("not valid JSON"),
        "{}",
        why(not_json)
    );
    assert_eq!(c.duplicates(), 0);
    let log = d.log_text();
    assert!(
        log.contains(&format!("event {not_utf8} cannot be sent and is now dead")),
        "{log}"
    );
}
