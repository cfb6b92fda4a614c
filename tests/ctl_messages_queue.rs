//! The queue tools' messages (`events`, `retry`, `purge`, `flush`) as insta snapshots:
//! the renderer over fixed outcome values, so ages and pids are stable without redaction.

mod common;
mod ctl_support;

use difflore::ctl::Outcome;
use difflore::ctl::cli::EventRef;
use difflore::ctl::queue::{EventList, EventRow, FlushOutcome, PurgeOutcome, RetryOutcome, Skip};
use difflore::ctl::render::{is_yes, purge_prompt};
use difflore::shared::event::State;

use ctl_support::{NOW, SEC, settings, shown};

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
