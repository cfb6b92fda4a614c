//! `make bench` for traces: what span assembly costs the drain. Identical outboxes of
//! Claude Code sessions (a prompt, tool calls, a stop per turn) are drained in-process
//! through claim, prepare, encode (OTLP protobuf) and acknowledge, once with the logs
//! signal only and once with assembly, span attachment and the traces request too.
//! Target: traces at most 10 % of drain time. Prints figures; asserts nothing timed.

use std::time::{Duration, Instant};

use difflore::daemon::prepare::{Counts, Preparer};
use difflore::daemon::queue;
use difflore::daemon::sink::otlp::{self, Protocol, logs, traces};
use difflore::daemon::spans;
use difflore::shared::config::Config;
use difflore::shared::event::Fields;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox};

const SESSIONS: usize = 100;
const TURNS: usize = 5;
const CALLS: usize = 10;
const BATCH: usize = 500;
const ROUNDS: usize = 3;
const TARGET_SHARE: f64 = 0.10;

/// Seed the sessions; returns how many events and the last capture time.
fn seed(db: &Outbox) -> (usize, i64) {
    let mut at = 1_700_000_000_000;
    let mut n = 0;
    let mut put = |event: &str, session: &str, tool: Option<&str>, payload: String| {
        let fields = Fields {
            client: "claude-code".into(),
            event: event.into(),
            session_id: Some(session.into()),
            cwd: Some("/home/dev/src/app".into()),
            tool: tool.map(str::to_owned),
        };
        at += 7;
        n += 1;
        db.insert(at, &fields, &payload).unwrap();
    };
    for s in 0..SESSIONS {
        let session = format!("3f2a9c1e-7b4d-4e8a-9c21-{s:012}");
        for t in 0..TURNS {
            put(
                "UserPromptSubmit",
                &session,
                None,
                format!(
                    r#"{{"session_id":"{session}","hook_event_name":"UserPromptSubmit","prompt":"turn {t}: add a flag and document it"}}"#
                ),
            );
            for c in 0..CALLS {
                let id = format!("toolu_{s}_{t}_{c}");
                let input = r#"{"command":"cargo test --quiet 2>&1 | tail -n 5","description":"Run the tests"}"#;
                put(
                    "PreToolUse",
                    &session,
                    Some("Bash"),
                    format!(
                        r#"{{"session_id":"{session}","hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"{id}","tool_input":{input}}}"#
                    ),
                );
                put(
                    "PostToolUse",
                    &session,
                    Some("Bash"),
                    format!(
                        r#"{{"session_id":"{session}","hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"{id}","tool_input":{input},"tool_response":{{"stdout":"test result: ok. 12 passed","stderr":""}}}}"#
                    ),
                );
            }
            put(
                "Stop",
                &session,
                None,
                format!(
                    r#"{{"session_id":"{session}","hook_event_name":"Stop","stop_hook_active":false}}"#
                ),
            );
        }
    }
    (n, at)
}

/// Drain the whole outbox in-process; with `traces`, assembly and spans included. Returns
/// the drain time, the assembly part of it, and the spans encoded.
fn drain(db: &Outbox, now: i64, traces_on: bool) -> (Duration, Duration, usize) {
    let preparer = Preparer::new(db.install_id().unwrap(), &Config::default()).unwrap();
    let resource = otlp::resource(Some("bench".into()), None, &[]);
    let mut counts = Counts::new();
    let (mut assembly, mut spans_sent) = (Duration::ZERO, 0);
    let start = Instant::now();
    loop {
        if traces_on {
            let t = Instant::now();
            spans::assemble_all(db, now, Duration::from_secs(3600)).unwrap();
            assembly += t.elapsed();
        }
        let mut batch = queue::claim(db, now, BATCH, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        if traces_on {
            spans::attach(db, &mut batch).unwrap();
        }
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        let events: Vec<_> = batch
            .into_iter()
            .map(|row| preparer.prepare(row, &mut counts).unwrap())
            .collect();
        if traces_on && let Some(req) = traces::request(&events, &resource) {
            spans_sent += req.resource_spans[0].scope_spans[0].spans.len();
            std::hint::black_box(otlp::encode(&req, Protocol::Protobuf).unwrap());
        }
        let req = logs::request(&events, &resource, 0).unwrap();
        std::hint::black_box(otlp::encode(&req, Protocol::Protobuf).unwrap());
        queue::ack(db, &ids, false).unwrap();
    }
    (start.elapsed(), assembly, spans_sent)
}

fn fresh() -> (tempfile::TempDir, Outbox, usize, i64) {
    let dir = tempfile::tempdir().unwrap();
    let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
    let (n, last) = seed(&db);
    (dir, db, n, last + 1)
}

fn main() {
    let (mut logs_only, mut with, mut assembly) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut events, mut spans) = (0, 0);
    for _ in 0..ROUNDS {
        let (_dir, db, n, now) = fresh();
        logs_only = logs_only.min(drain(&db, now, false).0);
        let (_dir, db, _, now) = fresh();
        let (total, inside, sent) = drain(&db, now, true);
        with = with.min(total);
        assembly = assembly.min(inside);
        (events, spans) = (n, sent);
    }
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let share = 1.0 - logs_only.as_secs_f64() / with.as_secs_f64();
    println!("traces: {events} events, {spans} spans, best of {ROUNDS}");
    println!(
        "  drain, logs only:        {:>9.0} events/s",
        rate(events, logs_only)
    );
    println!(
        "  drain, logs and traces:  {:>9.0} events/s",
        rate(events, with)
    );
    println!(
        "  assembly alone:          {:>9.0} events/s, {:.0} spans/s",
        rate(events, assembly),
        rate(spans, assembly)
    );
    println!(
        "  traces share of drain time {:.1} % (target <= {:.0} %): {}",
        share * 100.0,
        TARGET_SHARE * 100.0,
        if share <= TARGET_SHARE {
            "met"
        } else {
            "missed"
        }
    );
}
