//! Every message difflorectl prints, as insta snapshots: the renderer over fixed outcome
//! values (so times and pids are stable without redaction), then the real binary's `--help`
//! of each command and its argument errors.

mod common;
mod ctl_support;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use difflore::ctl::cli::EventRef;
use difflore::ctl::queue::{EventList, EventRow, FlushOutcome, PurgeOutcome, RetryOutcome, Skip};
use difflore::ctl::render::{is_yes, purge_prompt, render};
use difflore::ctl::status::{DaemonStatus, QueueInfo, QueueView, Status, StatusReport};
use difflore::ctl::stop::{KillOutcome, RestartOutcome, StartOutcome, StopOutcome};
use difflore::ctl::{CtlError, Outcome};
use difflore::shared::event::State;
use difflore::shared::health::{Circuit, Health};
use difflore::shared::pidfile::{PidFileError, PidRecord};
use difflore::shared::store::{QueueCounts, StoreError};

use common::Sandbox;
use ctl_support::{ctl, settings};

const NOW: i64 = 1_764_000_000_000;
const SEC: i64 = 1000;

/// Each case's words, stream and exit code, one after another.
fn shown(cases: Vec<(&str, Outcome)>) -> String {
    let mut text = String::new();
    for (name, outcome) in cases {
        let m = render(&outcome);
        text.push_str(&format!("=== {name} (exit {})\n", outcome.exit_code()));
        for (stream, body) in [("stdout", &m.stdout), ("stderr", &m.stderr)] {
            if !body.is_empty() {
                text.push_str(&format!("--- {stream}\n{body}"));
            }
        }
    }
    text
}

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
    })
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
        ("unknown", status(unknown())),
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
        queue: queue(Circuit::Open),
        spill_waiting: 0,
        endpoint: Some("https://collector.example/v1/events".into()),
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

fn rows() -> Vec<EventRow> {
    let row = |id, state, attempts, last_error: Option<&str>| EventRow {
        id,
        received_ms: NOW - (4000 - id) * SEC,
        client: "claude-code".into(),
        event: "PreToolUse".into(),
        tool: Some("Bash".into()),
        state,
        attempts,
        last_error: last_error.map(String::from),
    };
    vec![
        row(
            7,
            State::Dead,
            9,
            Some(
                "HTTP 500 from collector.example: internal server error; the upstream said something very long",
            ),
        ),
        row(8, State::Pending, 0, None),
        EventRow {
            client: "codex".into(),
            event: "agent-turn-complete".into(),
            tool: None,
            ..row(12, State::InFlight, 1, Some("timed out"))
        },
    ]
}

#[test]
fn queue_messages() {
    let list = |filter, rows: Vec<EventRow>, total| EventList {
        now_ms: NOW,
        install_id: "0123abcd".into(),
        filter,
        rows,
        total,
    };
    let events = |list, json| Outcome::Events { list, json };
    let retry = |all_dead, retried: Vec<i64>, skipped| {
        Outcome::Retry(RetryOutcome {
            all_dead,
            retried,
            skipped,
        })
    };
    let purge = Outcome::Purge;
    let cases = vec![
        ("events", events(list(None, rows(), 3), false)),
        (
            "events: more than the limit",
            events(list(None, rows(), 120), false),
        ),
        ("events: none", events(list(None, vec![], 0), false)),
        (
            "events: no dead ones",
            events(list(Some(State::Dead), vec![], 0), false),
        ),
        ("events --json", events(list(None, rows(), 3), true)),
        ("retry --dead: none", retry(true, vec![], vec![])),
        ("retry --dead", retry(true, vec![3, 7, 9], vec![])),
        ("retry one", retry(false, vec![7], vec![])),
        (
            "retry: some skipped",
            retry(
                false,
                vec![7, 9],
                vec![
                    (EventRef::Row(99), Skip::NotFound),
                    (EventRef::Row(8), Skip::NotDead(State::Pending)),
                    (EventRef::Row(12), Skip::NotDead(State::InFlight)),
                    (
                        EventRef::Full {
                            install_id: "ffff".into(),
                            row: 3,
                        },
                        Skip::OtherOutbox,
                    ),
                ],
            ),
        ),
        (
            "purge: nothing",
            purge(PurgeOutcome::Nothing { state: State::Dead }),
        ),
        (
            "purge --rejected: nothing",
            purge(PurgeOutcome::Nothing {
                state: State::Rejected,
            }),
        ),
        (
            "purge: done",
            purge(PurgeOutcome::Purged {
                state: State::Dead,
                count: 3,
            }),
        ),
        (
            "purge --rejected: one",
            purge(PurgeOutcome::Purged {
                state: State::Rejected,
                count: 1,
            }),
        ),
        (
            "purge: declined",
            purge(PurgeOutcome::Declined {
                state: State::Dead,
                count: 3,
            }),
        ),
        (
            "purge: not a terminal",
            purge(PurgeOutcome::NeedsYes {
                state: State::Rejected,
                count: 2,
            }),
        ),
        ("flush", Outcome::Flush(FlushOutcome::Woken { pid: 4242 })),
        (
            "flush: not running",
            Outcome::Flush(FlushOutcome::NotRunning),
        ),
        (
            "flush: crashed",
            Outcome::Flush(FlushOutcome::Stale {
                pid: 4242,
                other_process: false,
            }),
        ),
    ];
    let mut text = shown(cases);
    text.push_str(&format!(
        "=== purge prompt\n{}\n",
        purge_prompt(State::Dead, 3)
    ));
    settings().bind(|| insta::assert_snapshot!("ctl_msg_queue", text));
}

#[test]
fn only_an_explicit_yes_confirms_a_purge() {
    for yes in ["y\n", "YES\n", " yes "] {
        assert!(is_yes(yes), "{yes:?}");
    }
    for no in ["", "\n", "n\n", "yess\n", "sure\n"] {
        assert!(!is_yes(no), "{no:?}");
    }
}

#[test]
fn help_of_every_command() {
    let sb = Sandbox::new();
    let mut text = String::new();
    for cmd in [
        "", "status", "stop", "kill", "start", "restart", "events", "retry", "purge", "flush",
    ] {
        let args: Vec<&str> = cmd.split_whitespace().chain(["--help"]).collect();
        let ran = ctl(&sb, &args);
        assert_eq!(ran.code, 0, "{}", ran.shown());
        text.push_str(&format!(
            "=== difflorectl {}\n{}",
            args.join(" "),
            ran.stdout
        ));
    }
    settings().bind(|| insta::assert_snapshot!("ctl_help", text));
}

#[test]
fn argument_errors_exit_2_with_one_line_each() {
    let sb = Sandbox::new();
    let mut text = String::new();
    for args in [
        &["frobnicate"][..],
        &[],
        &["stop", "--grace", "5"],
        &["stop", "--grace", "0s"],
        &["restart", "--grace", "2h"],
        &["stop", "--grace", "soon"],
        &["status", "--jsn"],
        &["events", "--state", "lost"],
        &["events", "--limit", "0"],
        &["retry"],
        &["retry", "abc-"],
        &["purge"],
        &["purge", "--dead", "--rejected"],
    ] {
        let ran = ctl(&sb, args);
        assert_eq!(ran.code, 2, "{}", ran.shown());
        assert!(ran.stdout.is_empty(), "{}", ran.shown());
        text.push_str(&format!(
            "=== difflorectl {}\n{}",
            args.join(" "),
            ran.stderr
        ));
    }
    assert!(
        !sb.home().exists(),
        "an argument error created the data home"
    );
    settings().bind(|| insta::assert_snapshot!("ctl_argument_errors", text));
}
