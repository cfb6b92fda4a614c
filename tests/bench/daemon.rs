//! `make bench` for difflored: the drain figures (`drain`: backlogs to loopback, 20 ms and
//! 100 ms collectors against one batch at a time, a day offline while hooks fire), then
//! hook-to-collector latency with an idle daemon (p50/p99, the daemon woken by the write),
//! idle CPU and wake-ups over 30 s, and the daemon's RSS after a drain. Prints figures
//! against the targets; asserts nothing timed.

#[path = "../common/mod.rs"]
mod common;
mod drain;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, wait_until};

const QUEUED: usize = 20_000;
const LATENCY_SAMPLES: usize = 100;
const IDLE_WINDOW: Duration = Duration::from_secs(30);

fn main() {
    drain::drain_line("a loopback collector", Duration::ZERO, 50_000.0);
    drain::drain_line(
        "a collector answering after 20 ms",
        Duration::from_millis(20),
        40_000.0,
    );
    drain::slow_collector_line();
    drain::day_offline_line();

    // A daemon that has drained a backlog (for its peak RSS) goes idle.
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    drain::queue(&sb, QUEUED, "rss");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(Duration::from_secs(120), || c.accepted_count() == QUEUED),
        "drain did not finish: {} of {QUEUED}\n{}",
        c.accepted_count(),
        d.log_text()
    );

    // Let it go idle, then time hook -> collector one event at a time.
    wait_until(Duration::from_secs(5), || {
        sb.count("state != 'delivered'") == 0
    });
    let install: String = sb
        .sqlite()
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .expect("install id");
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        // Let the daemon settle back to idle between samples: each one has to wake it.
        std::thread::sleep(Duration::from_millis(20 + 7 * (i as u64 % 11)));
        let ev = format!(r#"{{"hook_event_name":"Stop","session_id":"lat-{i}"}}"#);
        let sent = Instant::now();
        let out = sb.hook(&[], ev.as_bytes());
        assert!(out.status.success());
        let row: i64 = sb
            .sqlite()
            .query_row("SELECT max(id) FROM events", [], |r| r.get(0))
            .unwrap_or(0);
        let id = format!("{install}-{row}");
        let mut at = None;
        wait_until(Duration::from_secs(10), || {
            at = c.arrival(&id);
            at.is_some()
        });
        // The row may already be gone (delivered) when read: fall back to the last arrival.
        let at = at.unwrap_or_else(Instant::now);
        latencies.push(at.saturating_duration_since(sent));
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "latency hook -> collector: p50 {:.1} ms (target <= 10), p99 {:.1} ms (target <= 30)",
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );

    wait_until(Duration::from_secs(5), || {
        sb.count("state != 'delivered'") == 0
    });
    let before = cpu_ticks(d.pid);
    let woken_before = wake_ups(d.pid);
    std::thread::sleep(IDLE_WINDOW);
    let ticks = cpu_ticks(d.pid) - before;
    let woken = woken_between(&woken_before, &wake_ups(d.pid));
    let percent = ticks as f64 / clock_ticks() / IDLE_WINDOW.as_secs_f64() * 100.0;
    println!("idle CPU over {IDLE_WINDOW:?}: {percent:.3} % (target <= 0.1 %)");
    println!(
        "idle wake-ups: {:.2} per second, all threads (target <= 2)",
        woken as f64 / IDLE_WINDOW.as_secs_f64()
    );
    let (rss, peak) = rss_kib(d.pid);
    println!(
        "RSS: {:.1} MiB now, {:.1} MiB peak (target < 20 MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// Voluntary context switches of each thread of a process, by thread id: each is a
/// wake-up after a sleep.
fn wake_ups(pid: i32) -> BTreeMap<String, u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return BTreeMap::new();
    };
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            let n = status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())?;
            Some((t.file_name().to_string_lossy().into_owned(), n))
        })
        .collect()
}

/// The wake-ups between two readings: a thread that started in between counts from zero,
/// and one that ended (the blocking pool lets a thread idle for 10 s go) counts one, its
/// last.
fn woken_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    let grown: u64 = after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum();
    let ended = before.keys().filter(|t| !after.contains_key(*t)).count();
    grown + ended as u64
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    rest[11].parse::<u64>().unwrap_or(0) + rest[12].parse::<u64>().unwrap_or(0)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
