//! `make bench`: difflore-hook's latency and peak RSS against the process-spawn floor
//! (/bin/true) and the sqlite3 command line, printed once with the targets of the issue.
//! A measurement, not a test: it asserts only that every measured run really succeeded.

#[path = "measure.rs"]
mod measure;
#[path = "pieces.rs"]
mod pieces;
#[path = "setup.rs"]
mod setup;

use std::path::Path;
use std::process::Command;

use measure::{Series, Sinks, burst, run_once};
use setup::{Bench, HookBinary};

const PAYLOAD: &[u8] = include_bytes!("../fixtures/claude-code/PostToolUse.json");
const BURST: usize = 16;

/// One command measured in turn with the others of its phase.
struct Case<'a> {
    name: String,
    make: Box<dyn Fn() -> Command + 'a>,
    sinks: Sinks,
    series: Series,
}

impl<'a> Case<'a> {
    fn new(bench: &Bench, name: String, make: impl Fn() -> Command + 'a) -> Case<'a> {
        Case {
            sinks: Sinks::new(bench.dir(), &name),
            name,
            make: Box::new(make),
            series: Series::default(),
        }
    }
}

fn main() {
    let runs = setup::runs();
    let bursts = (runs / BURST).max(32);
    let hook = HookBinary::locate();
    let bench = Bench::new();
    let sqlite = setup::sqlite3_version();
    println!(
        "difflore-hook bench: {runs} runs per case, {bursts} bursts of {BURST}, {}-byte payload, {} CPUs",
        PAYLOAD.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("binary: {} ({})", hook.path.display(), hook.how);

    // (a) the daemon's normal case: another connection keeps each outbox open, and the pid
    // file is locked as by a running daemon. Every case has its own outbox, and the cases
    // take turns so machine load hits all of them alike.
    let homes = ["hook-held", "sqlite3-held", "hook-alone", "sqlite3-alone"].map(|h| bench.home(h));
    for home in &homes {
        bench.create_outbox(&hook, home);
    }
    let holders = [bench.hold_open(&homes[0]), bench.hold_open(&homes[1])];
    let mut held = phase(&bench, runs, &hook, &homes[0], &homes[1], sqlite.is_some());
    let mut bursty = Series::default();
    let mut whole = Series::default();
    let sinks = Sinks::new(bench.dir(), "burst");
    for _ in 0..bursts {
        let t0 = std::time::Instant::now();
        for run in burst(BURST, || hook.cmd(&homes[0]), PAYLOAD, &sinks) {
            bursty.push(run);
        }
        whole.times.push(t0.elapsed());
    }
    assert_eq!(
        bursty.failures, 0,
        "{} hooks of a burst failed",
        bursty.failures
    );
    bench.expect_silent("burst");
    drop(holders);

    // (b) no other connection: each run opens its outbox alone.
    let mut alone = phase(&bench, runs, &hook, &homes[2], &homes[3], sqlite.is_some());

    let per_case = 1 + runs + setup::WARMUP;
    bench.expect_rows(&homes[0], per_case + bursts * BURST);
    bench.expect_rows(&homes[2], per_case);
    if sqlite.is_some() {
        bench.expect_rows(&homes[1], per_case);
        bench.expect_rows(&homes[3], per_case);
    }

    let floor = Series::merged(&held[0].series, &alone[0].series);
    println!();
    println!(
        "{:<44} {:>8} {:>8} {:>10}",
        "case", "p50 ms", "p99 ms", "peak RSS"
    );
    line("/bin/true (process-spawn floor)", &floor);
    line("difflore-hook, outbox held open (a)", &held[1].series);
    line("difflore-hook, outbox not held open (b)", &alone[1].series);
    let off = Series::merged(
        &held.last().expect("cases").series,
        &alone.last().expect("cases").series,
    );
    line("difflore-hook with DIFFLORE_CAPTURE=off", &off);
    match &sqlite {
        Some(version) => {
            line("sqlite3 CLI insert, outbox held open", &held[2].series);
            line("sqlite3 CLI insert, outbox not held open", &alone[2].series);
            println!(
                "  (sqlite3 {version}: same payload and row, synchronous=NORMAL like the hook)"
            );
        }
        None => println!(
            "sqlite3 CLI: not found on PATH, so not measured; install it with \
             `apt-get install sqlite3` (Debian/Ubuntu), `dnf install sqlite` (Fedora) or \
             `brew install sqlite` (macOS)"
        ),
    }
    line(
        &format!("difflore-hook, {BURST}-way burst, per hook"),
        &bursty,
    );
    println!(
        "{:<44} {:>8.2} {:>8.2}",
        format!("difflore-hook, {BURST}-way burst, whole burst"),
        whole.pct_ms(50.0),
        whole.pct_ms(99.0)
    );
    if let Some(own) = measure::own_peak_rss_kib() {
        println!(
            "  (peak RSS is ru_maxrss from wait4, an upper bound: no child reads below the \
             {:.1} MiB the bench itself peaked at)",
            own as f64 / 1024.0
        );
    }

    // The hook's work piece by piece, in process, on the held-open outbox of (a).
    let holder = bench.hold_open(&homes[0]);
    let pieces = pieces::measure(&homes[0], PAYLOAD, runs);
    drop(holder);
    let (floor50, off50, hook50) = (
        floor.pct_ms(50.0) * 1e3,
        off.pct_ms(50.0) * 1e3,
        held[1].series.pct_ms(50.0) * 1e3,
    );
    println!();
    println!("where the hook's time goes (p50, µs; (a) held open)");
    println!(
        "  {:<52} {:>8.0}",
        "process start: capture off minus /bin/true",
        off50 - floor50
    );
    let mut in_process = 0.0;
    for p in &pieces {
        let us = p.p50_us();
        in_process += us;
        println!("  {:<52} {:>8.1}", p.name, us);
    }
    println!(
        "  {:<52} {:>8.0}",
        "sum of the pieces, in process", in_process
    );
    println!(
        "  {:<52} {:>8.0}",
        "whole hook minus capture off, as processes",
        hook50 - off50
    );

    println!();
    println!("targets (2-core machine)");
    let hooks = [("(a)", &mut held), ("(b)", &mut alone)];
    for (tag, cases) in &hooks {
        let (floor50, hook50) = (cases[0].series.pct_ms(50.0), cases[1].series.pct_ms(50.0));
        let ratio = hook50 / floor50;
        verdict(
            &format!("p50 {tag}: {hook50:.3} ms = {ratio:.3}x /bin/true's {floor50:.3} ms"),
            "<= 1.3x",
            ratio <= 1.3,
        );
    }
    for (tag, cases) in &hooks {
        let (floor99, p99) = (cases[0].series.pct_ms(99.0), cases[1].series.pct_ms(99.0));
        let ratio = p99 / floor99;
        verdict(
            &format!("p99 {tag}: {p99:.2} ms = {ratio:.2}x /bin/true's {floor99:.2} ms"),
            "<= 2x",
            ratio <= 2.0,
        );
    }
    let burst99 = bursty.pct_ms(99.0);
    verdict(
        &format!("{BURST}-way burst p99, per hook: {burst99:.2} ms"),
        "< 40 ms",
        burst99 < 40.0,
    );
    let rss_kib = [&held[1].series, &alone[1].series, &bursty]
        .iter()
        .map(|s| s.max_rss_kib)
        .max()
        .unwrap_or_default();
    let rss = rss_kib as f64 / 1024.0;
    verdict(
        &format!("peak RSS of the hook: {rss:.1} MiB"),
        "<= 5 MiB",
        rss <= 5.0,
    );
}

/// /bin/true, the hook and (if present) sqlite3, run in turn `runs` times after a warm-up.
fn phase<'a>(
    bench: &'a Bench,
    runs: usize,
    hook: &'a HookBinary,
    hook_home: &'a Path,
    sqlite_home: &'a Path,
    with_sqlite: bool,
) -> Vec<Case<'a>> {
    let tag = if hook_home.ends_with("hook-held") {
        "held"
    } else {
        "alone"
    };
    let name = |what: &str| format!("{what}-{tag}");
    let mut cases = vec![
        Case::new(bench, name("true"), || Command::new("/bin/true")),
        Case::new(bench, name("hook"), move || hook.cmd(hook_home)),
    ];
    if with_sqlite {
        cases.push(Case::new(bench, name("sqlite3"), move || {
            bench.sqlite3(sqlite_home)
        }));
    }
    // The process alone: exec, loader, arguments, the capture switch; no outbox touched.
    cases.push(Case::new(bench, name("hook-off"), move || {
        let mut c = hook.cmd(hook_home);
        c.env("DIFFLORE_CAPTURE", "off");
        c
    }));
    for i in 0..runs + setup::WARMUP {
        for case in &mut cases {
            let run = run_once(&mut (case.make)(), PAYLOAD, &case.sinks);
            if i >= setup::WARMUP {
                case.series.push(run);
            }
        }
    }
    for case in &cases {
        assert_eq!(
            case.series.failures, 0,
            "{}: {} runs failed",
            case.name, case.series.failures
        );
        bench.expect_silent(&case.name);
    }
    cases
}

fn line(name: &str, s: &Series) {
    println!(
        "{:<44} {:>8.2} {:>8.2} {:>6.1} MiB",
        name,
        s.pct_ms(50.0),
        s.pct_ms(99.0),
        s.max_rss_kib as f64 / 1024.0
    );
}

fn verdict(what: &str, target: &str, met: bool) {
    let mark = if met { "met" } else { "MISSED" };
    println!("  {what:<56} target {target:<7} {mark}");
}
