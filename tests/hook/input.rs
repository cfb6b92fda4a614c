//! Bad input, `--strict`, the kill switch, a bad `DIFFLORE_HOME`, termination requests and
//! fields from the environment: whatever arrives, the hook exits 0 (1 only with `--strict`,
//! never 2), prints nothing on stdout and says one line.

use crate::common::{self, Sandbox, run_with_stdin};
use crate::support::{assert_silent, event, one_stderr_line, one_stderr_line_with, only_row};

/// Bytes of a rejected input kept for inspection.
const EXCERPT: usize = 4096;

struct Bad {
    name: &'static str,
    input: Vec<u8>,
    cap: Option<usize>,
    /// A word the stored reason (and the stderr line) must contain.
    reason: &'static str,
}

fn bad_inputs() -> Vec<Bad> {
    let mut big_garbage = b"not json at all ".repeat(700);
    big_garbage.truncate(10_000);
    let mut over_cap = br#"{"hook_event_name":"PostToolUse","tool_response":""#.to_vec();
    over_cap.resize(20_000, b'x');
    over_cap.extend_from_slice(br#""}"#);
    vec![
        Bad {
            name: "empty",
            input: Vec::new(),
            cap: None,
            reason: "empty",
        },
        Bad {
            name: "whitespace",
            input: b"  \n\t\n".to_vec(),
            cap: None,
            reason: "empty",
        },
        Bad {
            name: "not json",
            input: b"hello world".to_vec(),
            cap: None,
            reason: "not JSON",
        },
        Bad {
            name: "truncated json",
            input: br#"{"hook_event_name":"Stop""#.to_vec(),
            cap: None,
            reason: "not JSON",
        },
        Bad {
            name: "big non-json",
            input: big_garbage,
            cap: None,
            reason: "not JSON",
        },
        Bad {
            name: "invalid utf-8",
            input: b"{\"prompt\":\"caf\xe9\"}".to_vec(),
            cap: None,
            reason: "UTF-8",
        },
        Bad {
            name: "over the cap",
            input: over_cap,
            cap: Some(10_000),
            reason: "cap",
        },
        Bad {
            name: "array",
            input: b"[1,2,3]".to_vec(),
            cap: None,
            reason: "not an object",
        },
        Bad {
            name: "string",
            input: br#""PostToolUse""#.to_vec(),
            cap: None,
            reason: "not an object",
        },
        Bad {
            name: "number",
            input: b"42".to_vec(),
            cap: None,
            reason: "not an object",
        },
        Bad {
            name: "null",
            input: b"null".to_vec(),
            cap: None,
            reason: "not an object",
        },
    ]
}

fn run_bad(sb: &Sandbox, bad: &Bad, args: &[&str]) -> std::process::Output {
    let mut cmd = sb.cmd("difflore-hook");
    cmd.args(args);
    if let Some(cap) = bad.cap {
        cmd.env("DIFFLORE_MAX_EVENT_BYTES", cap.to_string());
    }
    common::run_with_stdin(&mut cmd, &bad.input)
}

#[test]
fn each_bad_input_becomes_one_rejected_row_and_one_stderr_line() {
    for bad in bad_inputs() {
        let sb = Sandbox::new();
        let line = one_stderr_line(&run_bad(&sb, &bad, &[]));
        assert!(line.contains(bad.reason), "{}: stderr {line:?}", bad.name);
        let row = only_row(&sb);
        assert_eq!(row.state, "rejected", "{}", bad.name);
        assert_eq!(row.event, "rejected", "{}", bad.name);
        let reason = row.last_error.as_deref().unwrap_or_default();
        assert!(
            reason.contains(bad.reason),
            "{}: reason {reason:?}",
            bad.name
        );
        assert_eq!(row.size, bad.input.len() as i64, "{}: size", bad.name);
        // At most the first 4 KiB, and all of it when the input was within the cap.
        let kept = bad
            .input
            .len()
            .min(EXCERPT)
            .min(bad.cap.map_or(usize::MAX, |c| c + 1));
        assert_eq!(row.payload, bad.input[..kept], "{}: excerpt", bad.name);
    }
}

#[test]
fn a_rejected_row_keeps_the_client_given() {
    let sb = Sandbox::new();
    one_stderr_line(&sb.hook(&["--client", "cursor"], b"{oops"));
    let row = only_row(&sb);
    assert_eq!(
        (row.client.as_str(), row.state.as_str()),
        ("cursor", "rejected")
    );
}

#[test]
fn an_event_exactly_at_the_cap_is_stored() {
    let sb = Sandbox::new();
    let raw = event("at-cap");
    let mut cmd = sb.cmd("difflore-hook");
    cmd.env("DIFFLORE_MAX_EVENT_BYTES", raw.len().to_string());
    assert_silent(&common::run_with_stdin(&mut cmd, &raw));
    assert_eq!(only_row(&sb).state, "pending");
}

#[test]
fn strict_exits_one_on_bad_input_and_zero_on_success() {
    for bad in bad_inputs() {
        let sb = Sandbox::new();
        one_stderr_line_with(&run_bad(&sb, &bad, &["--strict"]), 1);
        assert_eq!(only_row(&sb).state, "rejected", "{}", bad.name);
    }
    let sb = Sandbox::new();
    assert_silent(&sb.hook(&["--strict"], &event("ok")));
}

#[test]
fn strict_exits_one_when_the_data_home_is_unusable() {
    let sb = Sandbox::new();
    let mut cmd = sb.cmd("difflore-hook");
    cmd.arg("--strict").env("DIFFLORE_HOME", "relative/home");
    one_stderr_line_with(&common::run_with_stdin(&mut cmd, &event("s")), 1);
}

#[test]
fn a_mistyped_flag_still_captures_the_event() {
    let sb = Sandbox::new();
    let line = one_stderr_line(&sb.hook(&["--no-such-flag"], &event("typo")));
    assert!(line.contains("--no-such-flag"), "{line}");
    assert_eq!(only_row(&sb).session_id.as_deref(), Some("typo"));
}

#[test]
fn kill_switch_exits_at_once_without_creating_the_data_home() {
    for value in [
        "off", "OFF", "Off", "false", "FALSE", "False", "0", "no", "NO", "No",
    ] {
        let sb = Sandbox::new();
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env("DIFFLORE_CAPTURE", value);
        assert_silent(&common::run_with_stdin(&mut cmd, &event("off")));
        assert!(
            !sb.home().exists(),
            "DIFFLORE_CAPTURE={value} touched the disk"
        );
    }
}

#[test]
fn kill_switch_ignores_other_values() {
    for value in ["on", "1", "yes", "true", ""] {
        let sb = Sandbox::new();
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env("DIFFLORE_CAPTURE", value);
        assert_silent(&common::run_with_stdin(&mut cmd, &event("on")));
        assert_eq!(only_row(&sb).state, "pending", "DIFFLORE_CAPTURE={value:?}");
    }
}

#[test]
fn empty_or_relative_data_home_is_a_clear_error_naming_the_variable() {
    for value in ["", "relative/home", "./here"] {
        let sb = Sandbox::new();
        let cwd = sb.dir.path().join("cwd");
        std::fs::create_dir(&cwd).unwrap();
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env("DIFFLORE_HOME", value).current_dir(&cwd);
        let line = one_stderr_line(&common::run_with_stdin(&mut cmd, &event("h")));
        assert!(line.contains("DIFFLORE_HOME"), "{value:?}: {line}");
        assert_eq!(
            std::fs::read_dir(&cwd).unwrap().count(),
            0,
            "{value:?} wrote under cwd"
        );
        assert!(!sb.home().exists());
    }
}

#[test]
fn an_agent_that_stopped_reading_stderr_does_not_change_the_exit_code() {
    use std::io::Write;
    use std::process::Stdio;
    for strict in [false, true] {
        let sb = Sandbox::new();
        let mut cmd = sb.cmd("difflore-hook");
        if strict {
            cmd.arg("--strict");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hook");
        // Close the only read end of stderr before the hook has anything to say.
        drop(child.stderr.take());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"not json").unwrap();
        drop(stdin);
        let out = child.wait_with_output().expect("wait for hook");
        assert_eq!(
            out.status.code(),
            Some(if strict { 1 } else { 0 }),
            "{:?}",
            out.status
        );
        assert!(out.stdout.is_empty());
        assert_eq!(only_row(&sb).state, "rejected");
    }
}

#[test]
fn a_huge_event_cap_or_timeout_is_clamped_and_the_event_stored() {
    let sb = Sandbox::new();
    for (var, value) in [
        ("DIFFLORE_MAX_EVENT_BYTES", "18446744073709551615"),
        ("DIFFLORE_MAX_EVENT_BYTES", "99999999999999999999999999"),
        ("DIFFLORE_HOOK_TIMEOUT_MS", "18446744073709551615"),
        ("DIFFLORE_HOOK_TIMEOUT_MS", "4294967296"),
    ] {
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env(var, value);
        let session = format!("{var}={value}");
        assert_silent(&common::run_with_stdin(&mut cmd, &event(&session)));
        assert_eq!(
            sb.count(&format!("state = 'pending' AND session_id = '{session}'")),
            1,
            "{var}={value}"
        );
    }
}

#[test]
fn a_nonsense_event_cap_is_ignored_and_the_default_kept() {
    let sb = Sandbox::new();
    let mut over_default = br#"{"hook_event_name":"PostToolUse","tool_response":""#.to_vec();
    over_default.resize((1 << 20) + 10, b'x');
    over_default.extend_from_slice(br#""}"#);
    for value in ["-1", "0", "1e9", "lots", ""] {
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env("DIFFLORE_MAX_EVENT_BYTES", value);
        let line = one_stderr_line(&common::run_with_stdin(&mut cmd, &over_default));
        assert!(line.contains("1048576-byte cap"), "{value:?}: {line}");
        let mut cmd = sb.cmd("difflore-hook");
        cmd.env("DIFFLORE_MAX_EVENT_BYTES", value);
        assert_silent(&common::run_with_stdin(&mut cmd, &event("small")));
    }
    assert_eq!(sb.count("state = 'rejected'"), 5);
    assert_eq!(sb.count("state = 'pending'"), 5);
}

/// Kimi Code sends its hooks SIGTERM as soon as the tool call is over: a hook still reading
/// its event (or storing it) finishes, stores it and exits 0 as always.
#[test]
fn a_termination_request_mid_event_still_stores_the_event() {
    use std::io::Write;
    let sb = Sandbox::new();
    let payload =
        br#"{"hook_event_name":"PostToolUse","session_id":"k1","tool_name":"Shell","cwd":"/w"}"#;
    for sig in ["TERM", "INT", "HUP"] {
        let mut child = sb
            .cmd("difflore-hook")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&payload[..20]).unwrap();
        // Long enough for the hook to be reading stdin (not a timed assertion: sooner or
        // later, the outcome must be the same).
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        stdin.write_all(&payload[20..]).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "SIG{sig}: {out:?}");
    }
    assert_eq!(sb.count("session_id = 'k1' AND state = 'pending'"), 3);
}

/// Kiro CLI sends no session id in its payload; it exports one to its hooks.
#[test]
fn a_kiro_event_takes_its_session_from_the_environment() {
    let sb = Sandbox::new();
    let payload = br#"{"hook_event_name":"preToolUse","cwd":"/w","tool_name":"execute_bash"}"#;
    let out = run_with_stdin(
        sb.cmd("difflore-hook")
            .args(["--client", "kiro"])
            .env("KIRO_SESSION_ID", "kiro-sess-1"),
        payload,
    );
    assert!(out.status.success(), "{out:?}");
    // Another agent's event never borrows Kiro's variable.
    let out = run_with_stdin(
        sb.cmd("difflore-hook")
            .args(["--client", "claude-code"])
            .env("KIRO_SESSION_ID", "kiro-sess-1"),
        br#"{"hook_event_name":"Stop","cwd":"/w"}"#,
    );
    assert!(out.status.success(), "{out:?}");
    let sessions: Vec<(String, Option<String>)> = sb
        .sqlite()
        .prepare("SELECT client, session_id FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        sessions,
        [
            ("kiro".to_owned(), Some("kiro-sess-1".to_owned())),
            ("claude-code".to_owned(), None)
        ]
    );
}
