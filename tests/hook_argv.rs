//! The Codex `notify` shape through a command line that does not parse: the event given on
//! argv is still captured, with the client that was named.

mod common;

#[test]
fn a_mistyped_flag_keeps_the_argv_event_and_its_client() {
    let sb = common::Sandbox::new();
    let event = r#"{"type":"agent-turn-complete","thread-id":"t-1","cwd":"/w"}"#;
    let out = sb
        .cmd("difflore-hook")
        .args(["--clientt", "x", "--client", "codex", event])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let err = common::stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        sb.count("state = 'pending' AND client = 'codex' AND event = 'agent-turn-complete' AND session_id = 't-1'"),
        1,
        "{err}"
    );
}

/// Arguments built from raw bytes, as an agent might pass them.
fn os(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_owned()
}

/// Exit 0, nothing on stdout, exactly one stderr line (returned).
fn one_line(out: &std::process::Output) -> String {
    let err = common::stderr(out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("difflore-hook: "), "{err}");
    err
}

#[test]
fn a_notify_argument_that_is_not_utf8_is_stored_with_the_bad_byte_replaced() {
    let sb = common::Sandbox::new();
    let event = b"{\"type\":\"agent-turn-complete\",\"thread-id\":\"t-2\",\"last-assistant-message\":\"caf\xe9\"}";
    let out = sb
        .cmd("difflore-hook")
        .args([os(b"--client"), os(b"codex"), os(event)])
        .output()
        .unwrap();
    let err = one_line(&out);
    assert!(err.contains("UTF-8") && err.contains("U+FFFD"), "{err}");
    let payload: Vec<u8> = sb
        .sqlite()
        .query_row(
            "SELECT CAST(payload AS BLOB) FROM events WHERE state = 'pending' AND client = 'codex' AND session_id = 't-2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        payload,
        "{\"type\":\"agent-turn-complete\",\"thread-id\":\"t-2\",\"last-assistant-message\":\"caf\u{FFFD}\"}".as_bytes()
    );
    // Not stored exactly as given: --strict says so with exit 1 (never 2).
    let strict = sb
        .cmd("difflore-hook")
        .args([os(b"--strict"), os(event)])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", common::stderr(&strict));
    assert_eq!(sb.count("state = 'pending'"), 2);
}

#[test]
fn a_notify_argument_that_is_neither_utf8_nor_json_becomes_a_rejected_row() {
    let sb = common::Sandbox::new();
    let out = sb
        .cmd("difflore-hook")
        .args([os(b"--client"), os(b"codex"), os(b"{\xff\xfe")])
        .output()
        .unwrap();
    let err = one_line(&out);
    assert!(err.contains("rejected"), "{err}");
    let (client, payload): (String, Vec<u8>) = sb
        .sqlite()
        .query_row(
            "SELECT client, CAST(payload AS BLOB) FROM events WHERE state = 'rejected'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(client, "codex");
    assert_eq!(
        payload,
        "{\u{FFFD}\u{FFFD}".as_bytes(),
        "the bytes, lossily"
    );
}

#[test]
fn a_client_name_that_is_not_utf8_keeps_the_event() {
    let sb = common::Sandbox::new();
    let mut cmd = sb.cmd("difflore-hook");
    cmd.args([os(b"--client"), os(b"clau\xffde")]);
    let out = common::run_with_stdin(
        &mut cmd,
        br#"{"hook_event_name":"Stop","session_id":"s-3"}"#,
    );
    let err = one_line(&out);
    assert!(err.contains("--client"), "{err}");
    assert_eq!(
        sb.count("state = 'pending' AND client = 'clau\u{FFFD}de' AND session_id = 's-3'"),
        1,
        "{err}"
    );
}

#[test]
fn an_unknown_flag_that_is_not_utf8_keeps_the_event() {
    let sb = common::Sandbox::new();
    let mut cmd = sb.cmd("difflore-hook");
    cmd.args([os(b"--f\xf0\x28lag"), os(b"--client=gemini")]);
    let out = common::run_with_stdin(
        &mut cmd,
        br#"{"hook_event_name":"Stop","session_id":"s-4"}"#,
    );
    one_line(&out);
    assert_eq!(
        sb.count("state = 'pending' AND client = 'gemini' AND session_id = 's-4'"),
        1
    );
    // The same with the event on argv, Codex `notify` style.
    let event = r#"{"type":"agent-turn-complete","thread-id":"t-5"}"#;
    let out = sb
        .cmd("difflore-hook")
        .args([os(b"-\xc3"), os(event.as_bytes())])
        .output()
        .unwrap();
    one_line(&out);
    assert_eq!(sb.count("state = 'pending' AND session_id = 't-5'"), 1);
}
