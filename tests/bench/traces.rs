//! `make bench` for traces: what span assembly costs the drain. Identical outboxes of
//! Claude Code sessions (a prompt, tool calls, a stop per turn) are drained in-process
//! through claim, prepare, encode (OTLP protobuf) and acknowledge, once with the logs
//! signal only and once with assembly and span attachment (both in each claim's
//! transaction, as difflored runs them) and the traces request too.
//! Target: traces at most 10 % of drain time, judged on everything traces add (assembly,
//! span attachment, the traces request); assembly's own share (what the claims and the
//! acknowledgements gain: the fold, the marks, the carried spans written and deleted,
//! attachment included) is printed beside it. Each
//! drain is timed by the wall clock and by the thread's CPU time (on a busy machine the
//! CPU time is the steadier figure; the target is judged on it where the OS gives it). Prints figures; asserts nothing timed.

use std::time::{Duration, Instant};

mod cpu;

use difflore::daemon::prepare::{Counts, Preparer};
use difflore::daemon::queue;
use difflore::daemon::sink::otlp::{self, Protocol, logs, traces};
use difflore::daemon::spans;
use difflore::shared::assemble::Assembler;
use difflore::shared::config::Config;
use difflore::shared::event::Fields;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox};

const SESSIONS: usize = 100;
const TURNS: usize = 5;
const CALLS: usize = 10;
const BATCH: usize = 500;
const ROUNDS: usize = 5;
const TARGET_SHARE: f64 = 0.10;
/// The live phase: sessions at work at once, and their turns.
const LIVE_SESSIONS: usize = 50;
const LIVE_TURNS: usize = 2;

/// One captured event: its name, session, tool and payload.
type Captured = (&'static str, String, Option<&'static str>, String);

/// `sessions` Claude Code sessions of `turns` turns, each session's events in order.
fn sessions(sessions: usize, turns: usize) -> Vec<Vec<Captured>> {
    (0..sessions)
        .map(|s| {
            let session = format!("3f2a9c1e-7b4d-4e8a-9c21-{s:012}");
            let mut out = Vec::new();
            for t in 0..turns {
                out.push((
                    "UserPromptSubmit",
                    session.clone(),
                    None,
                    format!(
                        r#"{{"session_id":"{session}","hook_event_name":"UserPromptSubmit","prompt":"turn {t}: add a flag and document it"}}"#
                    ),
                ));
                for c in 0..CALLS {
                    let id = format!("toolu_{s}_{t}_{c}");
                    let input = r#"{"command":"cargo test --quiet 2>&1 | tail -n 5","description":"Run the tests"}"#;
                    out.push((
                        "PreToolUse",
                        session.clone(),
                        Some("Bash"),
                        format!(
                            r#"{{"session_id":"{session}","hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"{id}","tool_input":{input}}}"#
                        ),
                    ));
                    out.push((
                        "PostToolUse",
                        session.clone(),
                        Some("Bash"),
                        format!(
                            r#"{{"session_id":"{session}","hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"{id}","tool_input":{input},"tool_response":{{"stdout":"test result: ok. 12 passed","stderr":""}}}}"#
                        ),
                    ));
                }
                out.push((
                    "Stop",
                    session.clone(),
                    None,
                    format!(
                        r#"{{"session_id":"{session}","hook_event_name":"Stop","stop_hook_active":false}}"#
                    ),
                ));
            }
            out
        })
        .collect()
}

fn insert(db: &Outbox, at: i64, (event, session, tool, payload): &Captured) {
    let fields = Fields {
        client: "claude-code".into(),
        event: (*event).into(),
        session_id: Some(session.clone()),
        cwd: Some("/home/dev/src/app".into()),
        tool: tool.map(str::to_owned),
    };
    db.insert(at, &fields, payload).unwrap();
}

/// Seed the sessions one after the other; returns how many events and the last capture time.
fn seed(db: &Outbox) -> (usize, i64) {
    let mut at = 1_700_000_000_000;
    let mut n = 0;
    for e in sessions(SESSIONS, TURNS).iter().flatten() {
        at += 7;
        n += 1;
        insert(db, at, e);
    }
    (n, at)
}

/// Wall and CPU time (the thread's own, where the OS tells it) of one stretch of work.
#[derive(Debug, Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Took {
    const MAX: Took = Took {
        wall: Duration::MAX,
        cpu: Some(Duration::MAX),
    };
    const ZERO: Took = Took {
        wall: Duration::ZERO,
        cpu: Some(Duration::ZERO),
    };

    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (wall, cpu) = (Instant::now(), cpu::thread_cpu());
        let out = f();
        self.wall += wall.elapsed();
        self.cpu = match (self.cpu, cpu, cpu::thread_cpu()) {
            (Some(sum), Some(from), Some(to)) => Some(sum + to.saturating_sub(from)),
            _ => None,
        };
        out
    }

    fn plus(self, other: Took) -> Took {
        Took {
            wall: self.wall + other.wall,
            cpu: self.cpu.zip(other.cpu).map(|(a, b)| a + b),
        }
    }

    fn min(self, other: Took) -> Took {
        Took {
            wall: self.wall.min(other.wall),
            cpu: match (self.cpu, other.cpu) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
        }
    }
}

/// The drain's state, kept from one drain to the next as difflored keeps it.
struct Drainer {
    config: Config,
    preparer: Preparer,
    resource: opentelemetry_proto::tonic::resource::v1::Resource,
    counts: Counts,
    assembler: Assembler,
    traces_on: bool,
}

impl Drainer {
    fn new(db: &Outbox, traces_on: bool) -> Drainer {
        let config = Config {
            batch_max_events: BATCH,
            ..Config::default()
        };
        Drainer {
            preparer: Preparer::new(db.install_id().unwrap(), &config).unwrap(),
            config,
            resource: otlp::resource(Some("bench".into()), None, &[]),
            counts: Counts::new(),
            assembler: Assembler::default(),
            traces_on,
        }
    }

    /// Drain the whole outbox in-process; with traces, assembly (in the claim's
    /// transaction, as difflored runs it) and spans included. Returns the drain's time, the
    /// parts of it spent claiming (with assembly and attachment, when on) and
    /// acknowledging, and the spans encoded.
    fn drain(&mut self, db: &Outbox, now: i64) -> (Took, Took, Took, usize) {
        let (mut total, mut claiming, mut acking) = (Took::ZERO, Took::ZERO, Took::ZERO);
        let mut spans_sent = 0;
        total.time(|| {
            loop {
                let batch = claiming.time(|| {
                    if self.traces_on {
                        spans::claim(
                            &mut self.assembler,
                            db,
                            now,
                            &self.config,
                            queue::Take::batch(&self.config),
                            true,
                        )
                        .unwrap()
                    } else {
                        queue::claim(db, now, BATCH, self.config.batch_max_bytes).unwrap()
                    }
                });
                if batch.is_empty() {
                    break;
                }
                let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
                let events: Vec<_> = batch
                    .into_iter()
                    .map(|row| self.preparer.prepare(row, &mut self.counts).unwrap())
                    .collect();
                if self.traces_on
                    && let Some(req) = traces::request(&events, &self.resource)
                {
                    spans_sent += req.resource_spans[0].scope_spans[0].spans.len();
                    std::hint::black_box(otlp::encode(&req, Protocol::Protobuf).unwrap());
                }
                let req = logs::request(&events, &self.resource, 0).unwrap();
                std::hint::black_box(otlp::encode(&req, Protocol::Protobuf).unwrap());
                acking.time(|| queue::ack(db, &ids, false).unwrap());
            }
        });
        (total, claiming, acking, spans_sent)
    }
}

fn drain(db: &Outbox, now: i64, traces_on: bool) -> (Took, Took, Took, usize) {
    Drainer::new(db, traces_on).drain(db, now)
}

/// A live daemon: `LIVE_SESSIONS` sessions at work at once, their events arriving one at a
/// time, each drained as it comes (claims of one row). Returns the drain time in all.
fn live(traces_on: bool) -> (Took, usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
    let mut drainer = Drainer::new(&db, traces_on);
    let all = sessions(LIVE_SESSIONS, LIVE_TURNS);
    let longest = all.iter().map(Vec::len).max().unwrap_or(0);
    let mut total = Took::ZERO;
    let (mut at, mut n) = (1_700_000_000_000, 0);
    for i in 0..longest {
        for e in all.iter().filter_map(|s| s.get(i)) {
            at += 7;
            n += 1;
            insert(&db, at, e);
            let (took, ..) = drainer.drain(&db, at + 1);
            total.wall += took.wall;
            total.cpu = total.cpu.zip(took.cpu).map(|(a, b)| a + b);
        }
    }
    (total, n)
}

fn fresh() -> (tempfile::TempDir, Outbox, usize, i64) {
    let dir = tempfile::tempdir().unwrap();
    let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
    let (n, last) = seed(&db);
    (dir, db, n, last + 1)
}

fn main() {
    let (mut logs_only, mut logs_claims, mut logs_acks) = (Took::MAX, Took::MAX, Took::MAX);
    let (mut with, mut with_claims, mut with_acks) = (Took::MAX, Took::MAX, Took::MAX);
    let (mut events, mut spans) = (0, 0);
    for _ in 0..ROUNDS {
        let (_dir, db, n, now) = fresh();
        let (total, claiming, acking, _) = drain(&db, now, false);
        (logs_only, logs_claims) = (logs_only.min(total), logs_claims.min(claiming));
        logs_acks = logs_acks.min(acking);
        let (_dir, db, _, now) = fresh();
        let (total, claiming, acking, sent) = drain(&db, now, true);
        (with, with_claims) = (with.min(total), with_claims.min(claiming));
        with_acks = with_acks.min(acking);
        (events, spans) = (n, sent);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("traces: {events} events, {spans} spans, best of {ROUNDS} (wall; CPU)");
    let line = |what: &str, total: Took, claims: Took, acks: Took| {
        let cpu = |t: Took| t.cpu.map_or("-".to_owned(), |d| format!("{:.1} ms", ms(d)));
        println!(
            "  {what:<24} {:>8.0} events/s: {:.1} ms; {} (claims {:.1} ms; {}, acks {:.1} ms; {})",
            rate(events, total.wall),
            ms(total.wall),
            cpu(total),
            ms(claims.wall),
            cpu(claims),
            ms(acks.wall),
            cpu(acks)
        );
    };
    line("drain, logs only:", logs_only, logs_claims, logs_acks);
    line("drain, logs and traces:", with, with_claims, with_acks);
    // Assembly's part of the drain: the claims and the acknowledgements, where it writes.
    let (logs_writes, with_writes) = (logs_claims.plus(logs_acks), with_claims.plus(with_acks));
    // What assembly adds to them, and what traces add to the drain.
    let extra = |a: Duration, b: Duration| b.saturating_sub(a);
    let share = |a: Duration, b: Duration| 1.0 - a.as_secs_f64() / b.as_secs_f64();
    let assembly = extra(logs_writes.wall, with_writes.wall);
    println!(
        "  assembly (the claims' and acks' extra, wall): {:.0} events/s, {:.0} spans/s",
        rate(events, assembly),
        rate(spans, assembly)
    );
    let by_cpu = match (logs_only.cpu, with.cpu, logs_writes.cpu, with_writes.cpu) {
        (Some(l), Some(w), Some(lc), Some(wc)) => {
            let assembly = extra(lc, wc);
            println!(
                "  assembly (the claims' and acks' extra, CPU):  {:.0} events/s, {:.0} spans/s",
                rate(events, assembly),
                rate(spans, assembly)
            );
            Some(share(l, w))
        }
        _ => None,
    };
    let wall = share(logs_only.wall, with.wall);
    let judged = by_cpu.unwrap_or(wall);
    // Live: the best of three of each, one row per claim.
    let (mut live_logs, mut live_with, mut live_n) = (Took::MAX, Took::MAX, 0);
    for _ in 0..3 {
        let (t, n) = live(false);
        live_logs = live_logs.min(t);
        let (t, _) = live(true);
        live_with = live_with.min(t);
        live_n = n;
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / live_n as f64;
    let live_line = |what: &str, t: Took| {
        println!(
            "  live, {what:<17} {:.1} µs/event wall{}",
            per(t.wall),
            t.cpu
                .map_or(String::new(), |c| format!(", {:.1} µs/event CPU", per(c)))
        );
    };
    println!("  live: {live_n} events one at a time, {LIVE_SESSIONS} sessions at work at once");
    live_line("logs only:", live_logs);
    live_line("logs and traces:", live_with);
    // Assembly alone (what the claims and acks gain with traces on), against the drain
    // with traces.
    let assembly_share =
        |lc: Duration, wc: Duration, w: Duration| extra(lc, wc).as_secs_f64() / w.as_secs_f64();
    let by_cpu_assembly = match (logs_writes.cpu, with_writes.cpu, with.cpu) {
        (Some(lc), Some(wc), Some(w)) => Some(assembly_share(lc, wc, w)),
        _ => None,
    };
    println!(
        "  assembly share of drain time {:.1} % by wall clock{} (the claims' and acks' extra; target <= {:.0} %)",
        assembly_share(logs_writes.wall, with_writes.wall, with.wall) * 100.0,
        by_cpu_assembly.map_or(String::new(), |c| format!(
            ", {:.1} % by CPU time",
            c * 100.0
        )),
        TARGET_SHARE * 100.0
    );
    println!(
        "  traces share of drain time {:.1} % by wall clock{} (target <= {:.0} %): {}",
        wall * 100.0,
        by_cpu.map_or(String::new(), |c| format!(
            ", {:.1} % by CPU time",
            c * 100.0
        )),
        TARGET_SHARE * 100.0,
        if judged <= TARGET_SHARE {
            "met"
        } else {
            "missed"
        }
    );
}
