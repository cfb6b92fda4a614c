//! Redaction in the real pipeline: hook → outbox → difflored → collector. Secrets in keys
//! and values leave the machine as `[REDACTED:<rule>]`, the outbox keeps what the agent
//! sent, counts show in `difflorectl status` and survive a restart, and `redact = false`
//! is honoured when written out.

mod common;

use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, health, write_config};
use common::{Sandbox, wait_until};

const LIMIT: Duration = Duration::from_secs(15);
const GITHUB: &str = "ghp_cTfoJpR4eCy6GBc9oGa8nZt0QXKmvz6j9UcN";
const ANTHROPIC: &str = "sk-ant-api03-aKT4hbk5dvzZgTeQzmiD9WC4r_hQSQ5Ku72SHzlB-Lo50YolUu7R38_agfs5YpwB3oTVXdupXY3B_FbxBQsqaEYlCf9ojAA";

fn leaky_event(session: &str) -> String {
    serde_json::json!({
        "session_id": session,
        "cwd": "/w",
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": { "command": format!("export GITHUB_TOKEN={GITHUB} && gh pr list") },
        "tool_response": { ANTHROPIC: "a key pasted where a name should be" },
        "note": "<private>my home address</private>kept"
    })
    .to_string()
}

fn status_json(sb: &Sandbox) -> serde_json::Value {
    let out = sb
        .cmd("difflorectl")
        .args(["status", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn secrets_leave_redacted_and_the_counts_are_kept_across_restarts() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let mut d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(sb.hook(&[], leaky_event("one").as_bytes()).status.success());
    assert!(
        wait_until(LIMIT, || c.events().len() == 1),
        "{}",
        d.log_text()
    );

    let sent = c.events()[0]["payload"].to_string();
    assert!(
        !sent.contains(GITHUB) && !sent.contains(ANTHROPIC),
        "{sent}"
    );
    assert!(!sent.contains("home address"), "{sent}");
    assert!(sent.contains("[REDACTED:github-token]"), "{sent}");
    assert!(sent.contains("[REDACTED:anthropic-api-key]"), "{sent}");
    assert_eq!(c.events()[0]["payload"]["note"], "kept");
    // Both rules counted once; what the status shows is what the daemon counted.
    assert!(wait_until(LIMIT, || {
        let r = &status_json(&sb)["redactions"];
        r["github-token"] == 1 && r["anthropic-api-key"] == 1
    }));

    d.signal(difflore::shared::sys::Signal::Term);
    assert!(d.wait_exit(LIMIT).is_some());
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(sb.hook(&[], leaky_event("two").as_bytes()).status.success());
    assert!(
        wait_until(LIMIT, || c.events().len() == 2),
        "{}",
        d.log_text()
    );
    assert!(
        wait_until(LIMIT, || health(&sb)
            .is_some_and(|h| h.redactions.get("github-token") == Some(&2))),
        "{:?}",
        health(&sb)
    );
}

#[test]
fn redact_false_written_out_sends_the_payload_as_captured() {
    let sb = Sandbox::new();
    write_config(&sb, "redact = false");
    let c = Collector::start();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        sb.hook(&[], leaky_event("plain").as_bytes())
            .status
            .success()
    );
    assert!(
        wait_until(LIMIT, || c.events().len() == 1),
        "{}",
        d.log_text()
    );
    assert!(c.events()[0]["payload"].to_string().contains(GITHUB));
    assert!(health(&sb).unwrap().redactions.is_empty());
}

#[test]
fn a_bad_extra_rule_in_config_is_refused_with_its_name() {
    let sb = Sandbox::new();
    write_config(
        &sb,
        "redact_patterns = [{ name = \"team-key\", regex = \"([unclosed\" }]",
    );
    let out = sb.cmd("difflored").arg("--foreground").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("team-key") && err.contains("redact_patterns"),
        "{err}"
    );
}
