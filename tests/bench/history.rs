//! `make bench`: the local history at scale. 100,000 events in 500 sessions (the agents'
//! recorded payload shapes, renumbered), assembled as the daemon does, then `difflorectl
//! sessions`, `sessions --json` and `show last` timed as whole commands (target: under
//! 50 ms each), and the hook's insert into that outbox with and without the history index
//! (`events_session`), runs interleaved (target: p50 within 5 %). Asserts nothing timed.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Sandbox;
use difflore::shared::event::classify;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox};

const EVENTS: usize = 100_000;
const SESSIONS: usize = 500;
const RUNS: usize = 30;
const HOOK_RUNS: usize = 300;

/// One turn of a Claude Code session: a prompt, tool calls with their ends, a stop.
const TURN: &[&str] = &[
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PreToolUse",
    "PostToolUseFailure",
    "PreToolUse",
    "PostToolUse",
    "Stop",
];

fn seed(home: &Path) {
    std::fs::create_dir_all(home).expect("data home");
    let outbox = Outbox::open(&Paths::at(home), OpenOptions::long_lived()).expect("outbox");
    let fixture = |name: &str| -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/claude-code")
            .join(format!("{name}.json"));
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON")
    };
    let shapes: Vec<serde_json::Value> = TURN.iter().map(|e| fixture(e)).collect();
    let start = difflore::shared::now_ms() - 7 * 86_400_000;
    outbox.conn().execute_batch("BEGIN").expect("begin");
    for i in 0..EVENTS {
        let (session, n) = (i % SESSIONS, i / SESSIONS);
        let mut v = shapes[n % TURN.len()].clone();
        v["session_id"] = format!("bench-{session:04}").into();
        v["tool_use_id"] = format!("toolu_{session}_{}", n / 2).into();
        let text = v.to_string();
        let fields = classify(text.as_bytes(), Some("claude-code")).expect("event");
        let at = start + (i as i64) * 6_000;
        outbox.insert(at, &fields, &text).expect("insert");
    }
    outbox.conn().execute_batch("COMMIT").expect("commit");
    let started = Instant::now();
    difflore::daemon::spans::assemble_all(
        &mut difflore::shared::assemble::Assembler::default(),
        &outbox,
        difflore::shared::now_ms(),
        difflore::shared::assemble::Settings {
            close_after: Duration::from_secs(3600),
            content: false,
        },
    )
    .expect("assemble");
    println!(
        "seeded {EVENTS} events in {SESSIONS} sessions; assembled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut cmd: impl FnMut() -> Command, runs: usize) -> (Duration, Duration) {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut c = cmd();
        let t = Instant::now();
        let out = c.output().expect("run");
        all.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    all.sort();
    let p90 = all[all.len() * 9 / 10];
    (median(all), p90)
}

fn main() {
    let sb = Sandbox::new();
    seed(&sb.home());
    // For looking at query plans by hand: a copy of the seeded outbox.
    if let Some(keep) = std::env::var_os("DIFFLORE_BENCH_KEEP") {
        std::fs::copy(sb.home().join("outbox.db"), keep).expect("keep a copy");
    }
    for args in [
        &["sessions"][..],
        &["sessions", "--json"],
        &["show", "last"],
    ] {
        let (p50, p90) = time(
            || {
                let mut c = sb.cmd("difflorectl");
                c.args(args);
                c
            },
            RUNS,
        );
        println!(
            "difflorectl {}: p50 {:.1} ms, p90 {:.1} ms on {EVENTS} events (target < 50 ms)",
            args.join(" "),
            p50.as_secs_f64() * 1e3,
            p90.as_secs_f64() * 1e3
        );
    }

    // The hook into the same history, with and without the index the views use.
    let bare = Sandbox::new();
    std::fs::create_dir_all(bare.home()).expect("data home");
    for f in ["outbox.db", "config.toml"] {
        let _ = std::fs::copy(sb.home().join(f), bare.home().join(f));
    }
    bare.sqlite()
        .execute_batch("DROP INDEX events_session; VACUUM;")
        .expect("drop the history index");
    let payload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code/PostToolUse.json"),
    )
    .expect("payload");
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..HOOK_RUNS {
        for (sandbox, series) in [(&sb, &mut with), (&bare, &mut without)] {
            let t = Instant::now();
            let out = sandbox.hook(&["--client", "claude-code"], &payload);
            series.push(t.elapsed());
            assert!(out.status.success());
        }
    }
    let (w, wo) = (median(with), median(without));
    println!(
        "hook p50 into {EVENTS} events: {:.2} ms with the history index, {:.2} ms without: {:+.1} % (target within 5 %)",
        w.as_secs_f64() * 1e3,
        wo.as_secs_f64() * 1e3,
        (w.as_secs_f64() / wo.as_secs_f64() - 1.0) * 100.0
    );
}
