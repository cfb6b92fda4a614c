//! Running a command many times and reading its latency and peak RSS from wait4(2): the
//! bench's only unsafe code (two libc calls), kept here. Nothing is asserted here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run left behind.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub elapsed: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: i64,
    pub ok: bool,
}

/// Latencies and peak RSS of a series of runs.
#[derive(Debug, Default, Clone)]
pub struct Series {
    pub times: Vec<Duration>,
    pub max_rss_kib: i64,
    pub failures: usize,
}

impl Series {
    pub fn push(&mut self, run: Run) {
        self.times.push(run.elapsed);
        self.max_rss_kib = self.max_rss_kib.max(run.max_rss_kib);
        self.failures += usize::from(!run.ok);
    }

    /// Two series as one (the floor measured in both phases).
    pub fn merged(a: &Series, b: &Series) -> Series {
        Series {
            times: a.times.iter().chain(&b.times).copied().collect(),
            max_rss_kib: a.max_rss_kib.max(b.max_rss_kib),
            failures: a.failures + b.failures,
        }
    }

    /// Nearest-rank percentile in milliseconds.
    pub fn pct_ms(&self, p: f64) -> f64 {
        let mut v = self.times.clone();
        v.sort_unstable();
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1].as_secs_f64() * 1e3
    }
}

/// Where a child's stdout and stderr go: files checked for silence afterwards.
pub struct Sinks {
    pub stdout: File,
    pub stderr: File,
}

impl Sinks {
    pub fn new(dir: &Path, name: &str) -> Sinks {
        let open = |s: &str| File::create(dir.join(format!("{name}.{s}"))).expect("create sink");
        Sinks {
            stdout: open("stdout"),
            stderr: open("stderr"),
        }
    }

    fn stdio(&self) -> (Stdio, Stdio) {
        let out = self.stdout.try_clone().expect("clone stdout sink");
        let err = self.stderr.try_clone().expect("clone stderr sink");
        (out.into(), err.into())
    }
}

/// Spawn `cmd`, feed `input` on stdin, return its pid once stdin is closed.
// The child is reaped with wait4 (which also reports its peak RSS), not through `Child`.
#[allow(clippy::zombie_processes)]
pub fn start(cmd: &mut Command, input: &[u8], sinks: &Sinks) -> i32 {
    let (out, err) = sinks.stdio();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn benchmarked command");
    if let Some(mut stdin) = child.stdin.take() {
        // /bin/true exits without reading: a broken pipe is part of the floor, not an error.
        let _ = stdin.write_all(input);
    }
    child.id() as i32
}

/// Run `cmd` once, from spawn to exit.
pub fn run_once(cmd: &mut Command, input: &[u8], sinks: &Sinks) -> Run {
    let t0 = Instant::now();
    let pid = start(cmd, input, sinks);
    let (reaped, ok, rss) = wait(pid);
    debug_assert_eq!(reaped, pid);
    Run {
        elapsed: t0.elapsed(),
        max_rss_kib: rss,
        ok,
    }
}

/// Start `n` copies at once and time each from its own spawn to its own exit.
pub fn burst(n: usize, mut make: impl FnMut() -> Command, input: &[u8], sinks: &Sinks) -> Vec<Run> {
    let mut started = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        started.push((start(&mut make(), input, sinks), t0));
    }
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n {
        // Reap whichever child ends first, so an early finisher is not timed late.
        let (pid, ok, rss) = wait(-1);
        let (_, t0) = started
            .iter()
            .find(|(p, _)| *p == pid)
            .expect("reaped a child this burst started");
        runs.push(Run {
            elapsed: t0.elapsed(),
            max_rss_kib: rss,
            ok,
        });
    }
    runs
}

/// This process's own peak RSS in KiB (VmHWM), if /proc has it. A child spawned from here
/// starts with this process's memory, and ru_maxrss keeps that peak across exec, so no
/// child's figure reads below it. (getrusage(RUSAGE_SELF) would not do: it still carries
/// the peak of cargo, which spawned this bench.)
pub fn own_peak_rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// wait4(2) on `pid` (-1: any child): (pid, exited 0, peak RSS in KiB).
fn wait(pid: i32) -> (i32, bool, i64) {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, so all-zero bytes are a valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers refer to live, writable locals of the right types for the
        // whole call; wait4 writes nothing else.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got > 0 {
            let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return (got, ok, usage.ru_maxrss);
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.kind(), std::io::ErrorKind::Interrupted, "wait4: {err}");
    }
}
