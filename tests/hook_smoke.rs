//! A first end-to-end check of difflore-hook; the full suite lives in tests/hook.rs.
mod common;

#[test]
fn hook_stores_an_event_silently_and_exits_zero() {
    let sb = common::Sandbox::new();
    let out = sb.hook(
        &["--client", "claude-code"],
        br#"{"hook_event_name":"Stop","session_id":"s1"}"#,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.is_empty(), "{}", common::stderr(&out));
    assert_eq!(
        sb.count("state = 'pending' AND event = 'Stop' AND session_id = 's1'"),
        1
    );
}
