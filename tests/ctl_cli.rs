//! difflorectl's command line as the real binary shows it: `--help` of every command and
//! each kind of argument error (exit 2, one line on stderr), as insta snapshots.

mod common;
mod ctl_support;

use common::Sandbox;
use ctl_support::{ctl, settings};

#[test]
fn help_of_every_command() {
    let sb = Sandbox::new();
    let mut text = String::new();
    for cmd in [
        "", "status", "stop", "kill", "start", "restart", "events", "retry", "purge", "flush",
        "hooks", "service",
    ] {
        let args: Vec<&str> = cmd.split_whitespace().chain(["--help"]).collect();
        let ran = ctl(&sb, &args);
        assert_eq!(ran.code, 0, "{}", ran.shown());
        text.push_str(&format!(
            "=== difflorectl {}\n{}",
            args.join(" "),
            ran.stdout
        ));
    }
    settings().bind(|| insta::assert_snapshot!("ctl_help", text));
}

#[test]
fn argument_errors_exit_2_with_one_line_each() {
    let sb = Sandbox::new();
    let mut text = String::new();
    for args in [
        &["frobnicate"][..],
        &[],
        &["stop", "--grace", "5"],
        &["stop", "--grace", "0s"],
        &["restart", "--grace", "2h"],
        &["stop", "--grace", "soon"],
        &["status", "--jsn"],
        &["events", "--state", "lost"],
        &["events", "--limit", "0"],
        &["retry"],
        &["retry", "abc-"],
        &["purge"],
        &["purge", "--dead", "--rejected"],
    ] {
        let ran = ctl(&sb, args);
        assert_eq!(ran.code, 2, "{}", ran.shown());
        assert!(ran.stdout.is_empty(), "{}", ran.shown());
        text.push_str(&format!(
            "=== difflorectl {}\n{}",
            args.join(" "),
            ran.stderr
        ));
    }
    assert!(
        !sb.home().exists(),
        "an argument error created the data home"
    );
    settings().bind(|| insta::assert_snapshot!("ctl_argument_errors", text));
}
