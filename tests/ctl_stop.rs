//! stop, kill, start, restart and flush against real daemons: graceful stops, escalation to
//! SIGKILL, idempotency, concurrent stops, and a reused pid that must never be signalled.

mod common;
mod ctl_support;

use std::process::Stdio;

use common::daemon::DaemonGuard;
use common::{Sandbox, wait_until};
use ctl_support::{Bystander, PATIENCE, Ran, ctl, normalize, point_record_at, raw_kill, settings};

#[test]
fn stop_is_graceful_and_idempotent() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    // A grace no loaded machine outlasts: this stop must be the graceful kind.
    let first = ctl(&sb, &["stop", "--grace", "30s"]);
    assert_eq!(first.code, 0, "{}", first.shown());
    assert!(
        first
            .stdout
            .starts_with(&format!("stopped difflored (pid {})", daemon.pid))
    );
    assert!(daemon.wait_exit(PATIENCE).is_some());
    assert_eq!(ctl(&sb, &["status"]).code, 3);
    let again = ctl(&sb, &["stop"]);
    assert_eq!(again.code, 0, "{}", again.shown());
    let text = format!("{}{}", first.shown(), again.shown());
    settings().bind(|| insta::assert_snapshot!("ctl_stop", normalize(&sb, &text)));
}

#[test]
fn stop_escalates_to_sigkill_after_grace() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    raw_kill(daemon.pid, "STOP");
    let ran = ctl(&sb, &["stop", "--grace", "300ms"]);
    assert_eq!(ran.code, 0, "{}", ran.shown());
    assert!(
        daemon.wait_exit(PATIENCE).is_some(),
        "the stopped daemon outlived stop"
    );
    // Killed, and its record cleaned: "not running", not "crashed".
    assert_eq!(ctl(&sb, &["status"]).code, 3);
    settings().bind(|| {
        insta::assert_snapshot!("ctl_stop_escalates", normalize(&sb, &ran.shown()));
    });
}

#[test]
fn a_reused_pid_survives_stop_kill_and_flush() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    daemon.kill9();
    let record = ctl_support::pid_record(&sb);
    let mut sleeper = Bystander::spawn();
    let mut text = String::new();
    for args in [&["flush"][..], &["stop"], &["kill"]] {
        point_record_at(&sb, &record, sleeper.pid());
        let ran = ctl(&sb, args);
        // SIGUSR1, SIGTERM or SIGKILL would each end a `sleep`.
        assert!(
            sleeper.alive(),
            "difflorectl {args:?} signalled an unrelated process"
        );
        text.push_str(&format!("=== {}\n{}", args[0], ran.shown()));
    }
    assert_eq!(ctl(&sb, &["status"]).code, 3, "stop left the stale record");
    let text = normalize(&sb, &text);
    settings().bind(|| insta::assert_snapshot!("ctl_stop_pid_reused", text));
}

#[test]
fn two_concurrent_stops_both_succeed() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    let spawn = || {
        sb.cmd("difflorectl")
            .arg("stop")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn difflorectl stop")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait for stop");
        assert!(
            out.status.success(),
            "a concurrent stop failed: {}",
            common::stderr(&out)
        );
    }
    assert!(daemon.wait_exit(PATIENCE).is_some());
    assert_eq!(ctl(&sb, &["status"]).code, 3);
}

#[test]
fn kill_is_immediate_and_idempotent() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    let first = ctl(&sb, &["kill"]);
    assert_eq!(first.code, 0, "{}", first.shown());
    assert!(daemon.wait_exit(PATIENCE).is_some());
    assert_eq!(ctl(&sb, &["status"]).code, 3);
    let again = ctl(&sb, &["kill"]);
    assert_eq!(again.code, 0);
    let text = format!("{}{}", first.shown(), again.shown());
    settings().bind(|| insta::assert_snapshot!("ctl_kill", normalize(&sb, &text)));
}

#[test]
fn start_restart_and_flush_a_detached_daemon() {
    let sb = Sandbox::new();
    let mut runs: Vec<(&str, Ran)> = Vec::new();
    let started = ctl(&sb, &["start"]);
    assert_eq!(started.code, 0, "{}", started.shown());
    let mut first = DaemonGuard::adopt(&sb);
    assert!(started.stdout.contains(&format!("(pid {})", first.pid)));
    assert_eq!(ctl(&sb, &["status"]).code, 0);
    runs.push(("start", started));
    runs.push(("start again", ctl(&sb, &["start"])));
    runs.push(("flush", ctl(&sb, &["flush"])));
    assert!(first.alive(), "flush ended the daemon");

    let restarted = ctl(&sb, &["restart", "--grace", "30s"]);
    assert_eq!(restarted.code, 0, "{}", restarted.shown());
    let mut second = DaemonGuard::adopt(&sb);
    assert_ne!(second.pid, first.pid);
    assert!(wait_until(PATIENCE, || !first.alive()));
    runs.push(("restart", restarted));

    runs.push(("stop", ctl(&sb, &["stop", "--grace", "30s"])));
    assert!(wait_until(PATIENCE, || !second.alive()));
    runs.push(("flush when stopped", ctl(&sb, &["flush"])));
    let text: String = runs
        .iter()
        .map(|(name, ran)| format!("=== {name}\n{}", ran.shown()))
        .collect();
    let text = normalize(&sb, &text);
    settings().bind(|| insta::assert_snapshot!("ctl_start_restart_flush", text));
}
