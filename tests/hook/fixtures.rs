//! One fixture per documented event of each agent (tests/fixtures/<client>/<event>.json):
//! each is stored as exactly one pending row, fields as tests/fixtures/expected.json says,
//! with and without `--client`, the payload byte for byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;

use crate::common::{self, Sandbox};
use crate::support::{assert_answered, assert_silent, only_row};

/// What the hook must extract from one fixture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    client: String,
    event: String,
    session_id: Option<String>,
    cwd: Option<String>,
    tool: Option<String>,
    /// `"argv"`: the agent passes the event as the last argument (Codex `notify`).
    via: Option<String>,
}

fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn expectations() -> BTreeMap<String, Expected> {
    let text = std::fs::read(fixtures_dir().join("expected.json")).expect("read expected.json");
    serde_json::from_slice(&text).expect("parse expected.json")
}

/// Run the hook on one fixture the way its agent would, then compare the one stored row.
fn check(name: &str, want: &Expected, with_client: bool) -> Result<(), String> {
    let sb = Sandbox::new();
    let raw = common::fixture(name);
    let mut args: Vec<String> = Vec::new();
    if with_client {
        args.extend(["--client".to_owned(), want.client.clone()]);
    }
    let out = if want.via.as_deref() == Some("argv") {
        let json = String::from_utf8(raw.clone()).expect("argv fixture is UTF-8");
        sb.cmd("difflore-hook")
            .args(&args)
            .arg(json)
            .output()
            .expect("run hook")
    } else {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.hook(&args, &raw)
    };
    // Cline reads an answer from every hook; the installer always names the client.
    let answer = if with_client && want.client == "cline" {
        "{\"cancel\":false}\n"
    } else {
        ""
    };
    assert_answered(&out, answer);
    let row = only_row(&sb);
    let got = (
        row.client.as_str(),
        row.event.as_str(),
        row.session_id.as_deref(),
        row.cwd.as_deref(),
        row.tool.as_deref(),
    );
    let expected = (
        want.client.as_str(),
        want.event.as_str(),
        want.session_id.as_deref(),
        want.cwd.as_deref(),
        want.tool.as_deref(),
    );
    if got != expected {
        return Err(format!(
            "{name} (--client: {with_client}): got {got:?}, want {expected:?}"
        ));
    }
    if row.state != "pending" || row.attempts != 0 || row.last_error.is_some() {
        return Err(format!("{name}: not a fresh pending row: {row:?}"));
    }
    if row.payload != raw || row.size != raw.len() as i64 {
        return Err(format!("{name}: payload not stored byte for byte"));
    }
    Ok(())
}

fn check_all(with_client: bool) {
    let failures: Vec<String> = expectations()
        .iter()
        .filter_map(|(name, want)| check(name, want, with_client).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_has_an_expectation_and_every_expectation_a_fixture() {
    let mut on_disk = Vec::new();
    for client in std::fs::read_dir(fixtures_dir()).expect("list fixtures") {
        let client = client.expect("fixture dir entry").path();
        // Agent payloads only: other folders (the redaction corpora) are not hook input.
        let is_agent = client
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| difflore::shared::event::Client::parse(n).is_some());
        if !client.is_dir() || !is_agent {
            continue;
        }
        for file in std::fs::read_dir(&client).expect("list client fixtures") {
            let file = file.expect("fixture entry").path();
            let rel = file.strip_prefix(fixtures_dir()).expect("under fixtures");
            on_disk.push(rel.to_string_lossy().into_owned());
        }
    }
    on_disk.sort();
    let listed: Vec<String> = expectations().into_keys().collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn fixtures_cover_every_documented_event_of_each_agent() {
    let listed = expectations();
    let events = |client: &str| -> Vec<&str> {
        listed
            .values()
            .filter(|e| e.client == client)
            .map(|e| e.event.as_str())
            .collect()
    };
    let documented: [(&str, &[&str]); 5] = [
        (
            "claude-code",
            &[
                "PreToolUse",
                "PostToolUse",
                "PostToolUseFailure",
                "UserPromptSubmit",
                "SessionStart",
                "SessionEnd",
                "Stop",
                "SubagentStart",
                "SubagentStop",
                "Notification",
                "PreCompact",
                "PermissionRequest",
                "Setup",
                "UserPromptExpansion",
                "PermissionDenied",
                "PostToolBatch",
                "TaskCreated",
                "TaskCompleted",
                "StopFailure",
                "TeammateIdle",
                "PostCompact",
                "InstructionsLoaded",
                "ConfigChange",
                "CwdChanged",
                "FileChanged",
                "Elicitation",
                "ElicitationResult",
            ],
        ),
        (
            "codex",
            &[
                "SessionStart",
                "SessionEnd",
                "UserPromptSubmit",
                "PreToolUse",
                "PostToolUse",
                "PermissionRequest",
                "PreCompact",
                "PostCompact",
                "SubagentStart",
                "SubagentStop",
                "Stop",
                "Interrupt",
                "agent-turn-complete",
            ],
        ),
        (
            "gemini",
            &[
                "SessionStart",
                "SessionEnd",
                "BeforeAgent",
                "AfterAgent",
                "BeforeModel",
                "AfterModel",
                "BeforeToolSelection",
                "BeforeTool",
                "AfterTool",
                "Notification",
                "PreCompress",
            ],
        ),
        (
            "cursor",
            &[
                "sessionStart",
                "sessionEnd",
                "preToolUse",
                "postToolUse",
                "postToolUseFailure",
                "beforeShellExecution",
                "afterShellExecution",
                "beforeMCPExecution",
                "afterMCPExecution",
                "beforeReadFile",
                "afterFileEdit",
                "beforeSubmitPrompt",
                "preCompact",
                "stop",
                "afterAgentResponse",
                "afterAgentThought",
                "subagentStart",
                "subagentStop",
            ],
        ),
        (
            "windsurf",
            &[
                "pre_read_code",
                "post_read_code",
                "pre_write_code",
                "post_write_code",
                "pre_run_command",
                "post_run_command",
                "pre_mcp_tool_use",
                "post_mcp_tool_use",
                "pre_user_prompt",
                "post_cascade_response",
                "post_cascade_response_with_transcript",
                "post_setup_worktree",
            ],
        ),
    ];
    for (client, want) in documented {
        let mut want = want.to_vec();
        want.sort_unstable();
        let mut got = events(client);
        got.sort_unstable();
        assert_eq!(got, want, "fixtures for {client}");
    }
}

#[test]
fn each_fixture_is_stored_once_with_its_agent_detected() {
    check_all(false);
}

#[test]
fn each_fixture_is_stored_once_with_client_given() {
    check_all(true);
}

#[test]
fn client_flag_overrides_detection_and_unknown_names_are_kept() {
    let sb = Sandbox::new();
    let raw = common::fixture("claude-code/Stop.json");
    assert_silent(&sb.hook(&["--client", "some-new-agent"], &raw));
    let row = only_row(&sb);
    assert_eq!(
        (row.client.as_str(), row.event.as_str()),
        ("some-new-agent", "Stop")
    );
}

#[test]
fn unknown_shape_is_stored_as_event_unknown() {
    let sb = Sandbox::new();
    let raw = br#"{"kind":"something-new","id":7}"#;
    assert_silent(&sb.hook(&[], raw));
    let row = only_row(&sb);
    assert_eq!(
        (row.client.as_str(), row.event.as_str()),
        ("unknown", "unknown")
    );
    assert_eq!(row.state, "pending");
    assert_eq!(row.payload, raw);
}

#[test]
fn argv_event_is_taken_without_waiting_for_stdin() {
    let sb = Sandbox::new();
    let json = String::from_utf8(common::fixture("codex/notify-agent-turn-complete.json")).unwrap();
    // Codex leaves stdin alone: a pipe nobody writes to or closes must not hold the hook.
    let mut child = sb
        .cmd("difflore-hook")
        .arg(&json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hook");
    let stdin = child.stdin.take();
    let exited = common::wait_until(Duration::from_secs(30), || {
        child.try_wait().expect("poll hook").is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    drop(stdin);
    let out = child.wait_with_output().expect("collect hook output");
    assert!(
        exited,
        "the hook waited on stdin although the event came on argv"
    );
    assert_silent(&out);
    let row = only_row(&sb);
    assert_eq!(row.event, "agent-turn-complete");
    assert_eq!(row.payload, json.as_bytes());
}
