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
