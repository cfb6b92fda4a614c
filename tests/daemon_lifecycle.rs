//! difflored's life: one instance by lock, detaching from the terminal, signals, the pid
//! record and the health heartbeat, clean exit. Delivery itself is tested elsewhere.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::{self, DaemonGuard, START_LIMIT};
use common::{Sandbox, wait_until};
use difflore::shared::health::Circuit;
use difflore::shared::pidfile::Liveness;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);

fn file_endpoint(sb: &Sandbox) -> String {
    format!("file://{}", sb.dir.path().join("out.ndjson").display())
}

#[test]
fn foreground_daemon_records_itself_beats_and_stops_cleanly_on_sigterm() {
    let sb = Sandbox::new();
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &file_endpoint(&sb)]);
    let rec = daemon::record(&sb).unwrap();
    assert!(rec.is_live_process());
    assert_eq!(rec.version, env!("CARGO_PKG_VERSION"));
    // The heartbeat moves on while the daemon idles.
    let first = daemon::health(&sb).expect("health record").heartbeat_ms;
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.heartbeat_ms > first && h.pid == d.pid)),
        "heartbeat did not advance"
    );
    d.signal(Signal::Term);
    let status = d.wait_exit(LIMIT).expect("difflored exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", d.log_text());
    assert_eq!(daemon::liveness(&sb), Liveness::NotRunning);
    let pid_file = std::fs::read(sb.home().join("difflored.pid")).unwrap();
    assert!(pid_file.is_empty(), "a clean exit empties the pid file");
}

#[test]
fn sigint_stops_it_too() {
    let sb = Sandbox::new();
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &file_endpoint(&sb)]);
    d.signal(Signal::Term);
    assert!(d.wait_exit(LIMIT).unwrap().success());
    // Restart and stop with SIGINT (Ctrl-C in a foreground terminal).
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &file_endpoint(&sb)]);
    let kill = Command::new("kill")
        .args(["-INT", &d.pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert!(d.wait_exit(LIMIT).unwrap().success());
    assert_eq!(daemon::liveness(&sb), Liveness::NotRunning);
}

#[test]
fn twenty_concurrent_starts_leave_exactly_one_daemon_and_print_nothing() {
    let sb = Sandbox::new();
    let endpoint = file_endpoint(&sb);
    let children: Vec<_> = (0..20)
        .map(|_| {
            sb.cmd("difflored")
                .args(["--endpoint", &endpoint])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn difflored")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", out);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{:?}", out);
    }
    let d = DaemonGuard::adopt(&sb);
    let running = daemon::daemons_for(&sb);
    assert_eq!(running, vec![d.pid], "exactly the recorded daemon runs");
    // A later start also sees it and leaves quietly.
    let out = sb.cmd("difflored").output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(daemon::daemons_for(&sb), vec![d.pid]);
}

#[test]
fn detached_daemon_leads_its_own_session_and_logs_to_its_file() {
    let sb = Sandbox::new();
    // Launched with an extra descriptor open (7), as a careless parent might leave one.
    let leak = sb.dir.path().join("leaked-descriptor");
    let out = daemon::sandboxed(&sb, "bash")
        .arg("-c")
        .arg(format!(
            "exec 7>>{}; exec {} --endpoint {}",
            leak.display(),
            env!("CARGO_BIN_EXE_difflored"),
            file_endpoint(&sb)
        ))
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    // The launcher returned only after the serving child wrote its record.
    let d = DaemonGuard::adopt(&sb);
    assert_ne!(d.pid as u32, std::process::id());
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", d.pid)).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // state ppid pgrp session tty_nr: its own session, no controlling terminal.
    assert_eq!(fields[3], d.pid.to_string(), "session id");
    assert_eq!(fields[4], "0", "no controlling terminal");
    let fd0 = std::fs::read_link(format!("/proc/{}/fd/0", d.pid)).unwrap();
    assert_eq!(fd0.to_str(), Some("/dev/null"));
    let fd2 = std::fs::read_link(format!("/proc/{}/fd/2", d.pid)).unwrap();
    assert_eq!(fd2, sb.home().join("difflored.log"));
    let log = std::fs::read_to_string(sb.home().join("difflored.log")).unwrap();
    assert!(log.contains("started"), "{log}");
    // Nothing inherited stays open: the launcher's stdout/stderr pipes (which would keep
    // an ssh session or a `$(…)` waiting) are gone; only its own files remain.
    for fd in std::fs::read_dir(format!("/proc/{}/fd", d.pid)).unwrap() {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap();
        let text = target.to_string_lossy();
        assert!(
            target == std::path::Path::new("/dev/null")
                || target.starts_with(sb.home())
                || text.starts_with("socket:")
                || text.starts_with("anon_inode:"),
            "unexpected descriptor {text}"
        );
    }
}

#[test]
fn closing_the_terminal_leaves_a_profile_started_daemon_running() {
    let sb = Sandbox::new();
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to give the daemon a real terminal");
    }
    let bin = env!("CARGO_BIN_EXE_difflored");
    // A shell on a fresh pty runs `difflored &` like a profile would, then the terminal
    // closes: its session gets SIGHUP.
    let status = daemon::sandboxed(&sb, "script")
        .args([
            "-qec",
            &format!("{bin} --endpoint {} & wait", file_endpoint(&sb)),
            "/dev/null",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut d = DaemonGuard::adopt(&sb);
    let after = daemon::health(&sb).unwrap().heartbeat_ms;
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.heartbeat_ms > after)),
        "daemon stopped beating after the terminal closed"
    );
    assert!(d.alive());
    assert_eq!(daemon::record(&sb).unwrap().pid, d.pid);
}

#[test]
fn sighup_reloads_and_never_stops_it() {
    let sb = Sandbox::new();
    let mut d = DaemonGuard::foreground(&sb, &[]);
    assert!(wait_until(LIMIT, || daemon::health(&sb)
        .is_some_and(|h| h.circuit == Circuit::NoEndpoint)));
    std::fs::write(
        sb.home().join("config.toml"),
        format!("endpoint = \"{}\"\n", file_endpoint(&sb)),
    )
    .unwrap();
    d.signal(Signal::Hup);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.circuit == Circuit::Closed
                && h.endpoint.as_deref() == Some(file_endpoint(&sb).as_str()))),
        "{}",
        d.log_text()
    );
    assert!(d.log_text().contains("configuration reloaded"));
    // A broken config on reload is reported and the running one kept.
    std::fs::write(sb.home().join("config.toml"), "endpont = \"typo\"\n").unwrap();
    d.signal(Signal::Hup);
    assert!(wait_until(LIMIT, || d
        .log_text()
        .contains("keeping the previous configuration")));
    assert!(d.alive());
    assert_eq!(daemon::health(&sb).unwrap().circuit, Circuit::Closed);
}

#[test]
fn without_an_endpoint_events_are_recorded_locally_and_that_is_no_error() {
    let sb = Sandbox::new();
    sb.hook(&[], br#"{"hook_event_name":"Stop","session_id":"s"}"#);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(wait_until(START_LIMIT, || daemon::health(&sb).is_some_and(
        |h| h.circuit == Circuit::NoEndpoint && h.endpoint.is_none() && h.last_error.is_none()
    )));
    assert!(d.log_text().contains("recording locally"));
    assert_eq!(sb.count("state = 'pending'"), 1);
}
