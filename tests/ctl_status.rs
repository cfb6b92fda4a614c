//! `difflorectl status` against real daemons in temporary data homes: each state with its
//! LSB exit code, the JSON keys, and the promise that status changes nothing on disk.

mod common;
mod ctl_support;

use common::{Sandbox, wait_until};
use ctl_support::{PATIENCE, ctl, normalize, raw_kill, seed, settings, tree};

fn json(sb: &Sandbox) -> (i32, serde_json::Value) {
    let ran = ctl(sb, &["status", "--json"]);
    let value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", ran.shown()));
    (ran.code, value)
}

/// Replace a value that varies between runs, but keep a null visible as null.
fn varies(label: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |value, _| match value {
        insta::internals::Content::None | insta::internals::Content::Unit => value,
        _ => label.into(),
    })
}

/// The JSON snapshot: what varies between runs redacted.
fn snapshot_json(name: &str, value: &serde_json::Value) {
    settings().bind(|| {
        insta::assert_json_snapshot!(name, value, {
            ".pid" => varies("[pid]"),
            ".version" => varies("[version]"),
            ".uptime_s" => varies("[uptime]"),
            ".data_home" => varies("[home]"),
            ".heartbeat_at" => varies("[time]"),
            ".last_success_at" => varies("[time]"),
            ".next_retry_at" => varies("[time]"),
            ".queue.oldest_pending_age_s" => varies("[age]"),
        })
    });
}

#[test]
fn status_of_a_home_never_used_is_not_running_exit_3() {
    let sb = Sandbox::new();
    let ran = ctl(&sb, &["status"]);
    assert_eq!(ran.code, 3, "{}", ran.shown());
    let (code, value) = json(&sb);
    assert_eq!(code, 3);
    assert_eq!(value["state"], "not_running");
    assert!(!sb.home().exists(), "status created the data home");
    settings().bind(|| insta::assert_snapshot!("ctl_status_fresh", normalize(&sb, &ran.shown())));
    snapshot_json("ctl_status_fresh_json", &value);
}

#[test]
fn status_of_an_unreadable_data_home_is_unknown_exit_4() {
    let sb = Sandbox::new();
    // A regular file where the data home should be: unreadable as a directory even for root.
    std::fs::write(sb.home(), b"not a directory").unwrap();
    let ran = ctl(&sb, &["status"]);
    assert_eq!(ran.code, 4, "{}", ran.shown());
    assert!(ran.stdout.is_empty());
    let (code, value) = json(&sb);
    assert_eq!(code, 4);
    assert_eq!(value["state"], "unknown");
    settings().bind(|| {
        insta::assert_snapshot!("ctl_status_unknown", normalize(&sb, &ran.shown()));
    });
    // A relative DIFFLORE_HOME is just as unknown.
    let out = sb
        .cmd("difflorectl")
        .arg("status")
        .env("DIFFLORE_HOME", "relative/home")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn status_of_a_running_daemon_is_exit_0_with_every_key() {
    let sb = Sandbox::new();
    seed(&sb, 3);
    let daemon = ctl_support::daemon(&sb);
    let (code, value) = json(&sb);
    assert_eq!(code, 0);
    assert_eq!(value["state"], "running");
    assert_eq!(value["pid"], daemon.pid);
    for key in [
        "delivered_total",
        "endpoint",
        "last_success_at",
        "last_error",
    ] {
        assert!(value.get(key).is_some(), "status --json lacks {key}");
    }
    for key in [
        "pending",
        "in_flight",
        "dead",
        "rejected",
        "oldest_pending_age_s",
    ] {
        assert!(
            value["queue"].get(key).is_some(),
            "status --json lacks queue.{key}"
        );
    }
    // No endpoint is configured, so the three events wait.
    assert_eq!(value["queue"]["pending"], 3);
    snapshot_json("ctl_status_running_json", &value);
    let ran = ctl(&sb, &["status"]);
    assert_eq!(ran.code, 0);
    settings().bind(|| {
        insta::assert_snapshot!("ctl_status_running", normalize(&sb, &ran.shown()));
    });
}

#[test]
fn status_after_kill_9_is_stale_exit_1_and_after_a_clean_stop_exit_3() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    daemon.kill9();
    let (code, value) = json(&sb);
    assert_eq!((code, &value["state"]), (1, &"stale".into()), "{value}");
    assert_eq!(value["pid"], daemon.pid);
    let ran = ctl(&sb, &["status"]);
    assert_eq!(ran.code, 1);
    settings().bind(|| insta::assert_snapshot!("ctl_status_stale", normalize(&sb, &ran.shown())));

    let mut daemon = ctl_support::daemon(&sb);
    raw_kill(daemon.pid, "TERM");
    assert!(daemon.wait_exit(PATIENCE).is_some());
    assert_eq!(ctl(&sb, &["status"]).code, 3);
}

#[test]
fn a_pid_file_naming_an_unrelated_process_is_stale() {
    let sb = Sandbox::new();
    let mut daemon = ctl_support::daemon(&sb);
    daemon.kill9();
    let record = ctl_support::pid_record(&sb);
    let mut sleeper = ctl_support::Bystander::spawn();
    ctl_support::point_record_at(&sb, &record, sleeper.pid());
    let (code, value) = json(&sb);
    assert_eq!(code, 1);
    assert_eq!(value["state"], "stale");
    assert_eq!(value["other_process"], true);
    assert!(sleeper.alive());
}

#[test]
fn status_changes_nothing_on_disk() {
    let sb = Sandbox::new();
    seed(&sb, 2);
    let check = |what: &str| {
        let before = tree(&sb.home());
        for args in [&["status"][..], &["status", "--json"]] {
            ctl(&sb, args);
        }
        assert_eq!(
            tree(&sb.home()),
            before,
            "status changed the data home ({what})"
        );
    };
    check("hook wrote, no daemon yet");
    let mut daemon = ctl_support::daemon(&sb);
    // Let the daemon settle (its first heartbeat) so only status could change something.
    assert!(wait_until(PATIENCE, || json(&sb).1["heartbeat_at"].is_string()));
    raw_kill(daemon.pid, "STOP");
    check("daemon running (stopped mid-flight)");
    daemon.kill9();
    check("daemon killed");
    let mut daemon = ctl_support::daemon(&sb);
    raw_kill(daemon.pid, "TERM");
    assert!(daemon.wait_exit(PATIENCE).is_some());
    check("daemon stopped cleanly");
    // The last connection to close checkpoints and removes the WAL: nothing for status to
    // create there either.
    drop(sb.sqlite());
    assert!(!sb.home().join("outbox.db-wal").exists());
    check("no WAL left");
}
