//! The status and lifecycle messages (status, stop, kill, start, restart) as insta
//! snapshots: the renderer over fixed outcome values, so times and pids are stable without
//! redaction. Queue messages are in ctl_messages_queue.rs, help and errors in ctl_cli.rs.

mod common;
mod ctl_support;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use difflore::ctl::status::{DaemonStatus, QueueInfo, QueueView, Status, StatusReport};
use difflore::ctl::stop::{KillOutcome, RestartOutcome, StartOutcome, StopOutcome};
use difflore::ctl::{CtlError, Outcome};
use difflore::shared::health::{Circuit, Dropped, Health};
use difflore::shared::paths::PathsError;
use difflore::shared::pidfile::{PidFileError, PidRecord};
use difflore::shared::store::{QueueCounts, StoreError};

use ctl_support::{NOW, SEC, settings, shown};

fn record() -> PidRecord {
    PidRecord {
        pid: 4242,
        start_time: Some(777),
        version: "0.1.0".into(),
        started_ms: NOW - 3723 * SEC,
    }
}

fn report(daemon: DaemonStatus, queue: QueueView) -> Outcome {
    status(Status::Known(Box::new(StatusReport {
        now_ms: NOW,
        data_home: PathBuf::from("/home/u/.difflore"),
        daemon,
        queue,
        spill_waiting: 2,
        endpoint: Some("https://collector.example/v1/events".into()),
        max_outbox_bytes: Some(1 << 30),
        keep_history: Some(std::time::Duration::from_secs(30 * 86400)),
        hooks: None,
    })))
}

/// No endpoint in config, environment or health: difflore records locally.
fn local_recorder() -> Outcome {
    let QueueView::Read(mut q) = queue(Circuit::NoEndpoint) else {
        unreachable!()
    };
    if let Some(h) = q.health.as_mut() {
        h.endpoint = None;
        h.last_error = None;
        h.last_success_ms = None;
    }
    q.counts.pending = 0;
    status(Status::Known(Box::new(StatusReport {
        now_ms: NOW,
        data_home: PathBuf::from("/home/u/.difflore"),
        daemon: DaemonStatus::Running(Some(record())),
        queue: QueueView::Read(q),
        spill_waiting: 0,
        endpoint: None,
        max_outbox_bytes: Some(1 << 30),
        keep_history: Some(std::time::Duration::from_secs(30 * 86400)),
        hooks: None,
    })))
}

fn status(status: Status) -> Outcome {
    Outcome::Status {
        status,
        json: false,
    }
}

fn queue(circuit: Circuit) -> QueueView {
    QueueView::Read(QueueInfo {
        counts: QueueCounts {
            pending: 12,
            in_flight: 3,
            dead: 1,
            rejected: 4,
            delivered: 840,
            oldest_pending_ms: Some(NOW - 125 * SEC),
        },
        delivered_total: 1234,
        health: Some(Health {
            pid: 4242,
            version: "0.1.0".into(),
            started_ms: NOW - 3723 * SEC,
            heartbeat_ms: NOW - 2 * SEC,
            endpoint: Some("https://collector.example/v1/events".into()),
            circuit,
            last_attempt_ms: Some(NOW - 20 * SEC),
            last_success_ms: Some(NOW - 95 * SEC),
            last_error: Some("HTTP 503 from collector.example".into()),
            next_retry_ms: Some(NOW + 30 * SEC),
            ..Health::default()
        }),
        used_bytes: 3 * 1024 * 1024 + 512 * 1024,
        dropped: Dropped::default(),
    })
}

/// A queue the size limit has trimmed, with secrets redacted on the way out.
fn trimmed(circuit: Circuit) -> QueueView {
    let QueueView::Read(mut info) = queue(circuit) else {
        unreachable!()
    };
    info.used_bytes = (1 << 30) - 5000;
    info.dropped = Dropped {
        pending: 6,
        dead: 20,
        rejected: 10,
    };
    let redactions = &mut info.health.as_mut().unwrap().redactions;
    redactions.insert("github-token".into(), 1);
    redactions.insert("aws-access-key-id".into(), 3);
    QueueView::Read(info)
}

fn unknown() -> Status {
    Status::Unknown {
        data_home: Some(PathBuf::from("/home/u/.difflore")),
        error: CtlError::PidFile(PidFileError::Open {
            path: PathBuf::from("/home/u/.difflore/difflored.pid"),
            source: io::Error::from_raw_os_error(libc::ENOTDIR),
        }),
    }
}

fn foreign() -> Status {
    Status::Unknown {
        data_home: Some(PathBuf::from("/home/u/.difflore")),
        error: CtlError::Paths(PathsError::ForeignOwner {
            path: PathBuf::from("/home/u/.difflore"),
            owner: 1001,
            me: 1000,
        }),
    }
}

#[test]
fn status_messages() {
    let stale = |other_process| DaemonStatus::Stale {
        record: record(),
        other_process,
    };
    let unreadable = QueueView::Unreadable(StoreError::Open {
        path: PathBuf::from("/home/u/.difflore/outbox.db"),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(26),
            Some("file is not a database".into()),
        ),
    });
    let cases = vec![
        (
            "running, delivering",
            report(
                DaemonStatus::Running(Some(record())),
                queue(Circuit::Closed),
            ),
        ),
        (
            "running, collector failing",
            report(DaemonStatus::Running(Some(record())), queue(Circuit::Open)),
        ),
        (
            "running, credentials refused",
            report(DaemonStatus::Running(None), queue(Circuit::PausedAuth)),
        ),
        (
            "running, no endpoint",
            report(
                DaemonStatus::Running(Some(record())),
                queue(Circuit::NoEndpoint),
            ),
        ),
        (
            "running, local recorder (no endpoint anywhere)",
            local_recorder(),
        ),
        ("crashed", report(stale(false), queue(Circuit::Open))),
        ("pid reused", report(stale(true), QueueView::Missing)),
        (
            "not running, no outbox",
            report(DaemonStatus::NotRunning, QueueView::Missing),
        ),
        (
            "outbox unreadable",
            report(DaemonStatus::NotRunning, unreadable),
        ),
        (
            "running, trimmed to its size limit, secrets redacted",
            report(
                DaemonStatus::Running(Some(record())),
                trimmed(Circuit::Closed),
            ),
        ),
        ("unknown", status(unknown())),
        ("someone else's data home", status(foreign())),
    ];
    settings().bind(|| insta::assert_snapshot!("ctl_msg_status", shown(cases)));
}

#[test]
fn status_json_messages() {
    let json = |status| Outcome::Status { status, json: true };
    let running = Status::Known(Box::new(StatusReport {
        now_ms: NOW,
        data_home: PathBuf::from("/home/u/.difflore"),
        daemon: DaemonStatus::Running(Some(record())),
        queue: trimmed(Circuit::Open),
        spill_waiting: 0,
        endpoint: Some("https://collector.example/v1/events".into()),
        max_outbox_bytes: Some(1 << 30),
        keep_history: Some(std::time::Duration::from_secs(30 * 86400)),
        hooks: None,
    }));
    let cases = vec![("running", json(running)), ("unknown", json(unknown()))];
    settings().bind(|| insta::assert_snapshot!("ctl_msg_status_json", shown(cases)));
}

#[test]
fn stop_kill_start_restart_messages() {
    let grace = Duration::from_millis(300);
    let cases = vec![
        ("stop: not running", Outcome::Stop(StopOutcome::NotRunning)),
        (
            "stop: stale pid file",
            Outcome::Stop(StopOutcome::StaleCleaned {
                pid: 4242,
                other_process: false,
            }),
        ),
        (
            "stop: stale pid file naming another process",
            Outcome::Stop(StopOutcome::StaleCleaned {
                pid: 4242,
                other_process: true,
            }),
        ),
        (
            "stop: stopped",
            Outcome::Stop(StopOutcome::Stopped {
                pid: 4242,
                after: Duration::from_millis(312),
            }),
        ),
        (
            "stop: killed after the grace",
            Outcome::Stop(StopOutcome::Killed { pid: 4242, grace }),
        ),
        (
            "stop: survived SIGKILL",
            Outcome::Stop(StopOutcome::Survived { pid: 4242 }),
        ),
        ("kill: not running", Outcome::Kill(KillOutcome::NotRunning)),
        (
            "kill: stale pid file",
            Outcome::Kill(KillOutcome::StaleCleaned {
                pid: 4242,
                other_process: false,
            }),
        ),
        (
            "kill: killed",
            Outcome::Kill(KillOutcome::Killed { pid: 4242 }),
        ),
        (
            "kill: survived",
            Outcome::Kill(KillOutcome::Survived { pid: 4242 }),
        ),
        (
            "start: already running",
            Outcome::Start(StartOutcome::AlreadyRunning { pid: 4242 }),
        ),
        (
            "start: started",
            Outcome::Start(StartOutcome::Started { pid: 5151 }),
        ),
        (
            "restart",
            Outcome::Restart(RestartOutcome {
                stop: StopOutcome::Stopped {
                    pid: 4242,
                    after: Duration::from_millis(1500),
                },
                start: Some(StartOutcome::Started { pid: 5151 }),
            }),
        ),
        (
            "restart: old one survived",
            Outcome::Restart(RestartOutcome {
                stop: StopOutcome::Survived { pid: 4242 },
                start: None,
            }),
        ),
    ];
    settings().bind(|| insta::assert_snapshot!("ctl_msg_lifecycle", shown(cases)));
}
