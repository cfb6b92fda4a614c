//! Tool call content on execute_tool spans (`otlp_content`), decoded from what difflored
//! really sent to /v1/traces with the official messages: absent by default; with it on,
//! `gen_ai.tool.call.arguments` and `.result` arrive redacted (a secret from the redaction
//! corpus planted in both), and a result longer than `otlp_content_max_bytes` arrives cut
//! there, on a character boundary, with the cut marked.

mod common;
mod otlp_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, fixture, wait_until};
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_support::{attrs, decode_traces, spans};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);
/// From tests/fixtures/redact/secrets.txt (github-token): a made-up token.
const TOKEN: &str = "ghp_cTfoJpR4eCy6GBc9oGa8nZt0QXKmvz6j9UcN";
const ARGUMENTS: &str = "gen_ai.tool.call.arguments";
const RESULT: &str = "gen_ai.tool.call.result";

fn claude(event: &str, changes: Value) -> Value {
    let mut v: Value =
        serde_json::from_slice(&fixture(format!("claude-code/{event}.json"))).unwrap();
    for (k, change) in changes.as_object().unwrap() {
        v[k] = change.clone();
    }
    v
}

/// One turn: a Bash call whose command and output hold the token, an Edit call whose
/// result is `result`, failing. Returns the tool spans' string attributes by tool name.
fn run_turn(config: &str, result: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let sb = Sandbox::new();
    write_config(&sb, config);
    let c = Collector::start();
    let bash = json!({
        "tool_input": {"command": format!("GITHUB_TOKEN={TOKEN} gh pr list")},
    });
    let bash_post = json!({
        "tool_input": {"command": format!("GITHUB_TOKEN={TOKEN} gh pr list")},
        "tool_response": {"stdout": format!("token {TOKEN} ok\n"), "stderr": ""},
    });
    for p in [
        claude("UserPromptSubmit", json!({})),
        claude("PreToolUse", bash),
        claude("PostToolUse", bash_post),
        claude(
            "PreToolUse",
            json!({"tool_name": "Edit", "tool_use_id": "toolu_edit", "tool_input": {"file_path": "a.rs"}}),
        ),
        claude(
            "PostToolUseFailure",
            json!({"tool_use_id": "toolu_edit", "error": result}),
        ),
        claude("Stop", json!({})),
    ] {
        let out = sb.hook(&["--client", "claude-code"], p.to_string().as_bytes());
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let url = format!("otlp+http://127.0.0.1:{}", c.port);
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &url]);
    assert!(
        wait_until(LIMIT, || sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    let sent: Vec<Span> = c
        .requests()
        .iter()
        .filter(|r| r.status == 200 && r.path == "/v1/traces")
        .flat_map(|r| {
            spans(&decode_traces(&r.body))
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(sent.len(), 3, "a turn and two tool calls: {sent:#?}");
    sent.iter()
        .filter(|s| s.name.starts_with("execute_tool "))
        .map(|s| {
            let a: BTreeMap<String, String> = attrs(&s.attributes)
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect();
            (a["gen_ai.tool.name"].clone(), a)
        })
        .collect()
}

#[test]
fn tool_call_content_is_not_sent_by_default() {
    let tools = run_turn("", "String to replace not found in file.");
    assert_eq!(tools.len(), 2);
    for (name, a) in &tools {
        assert!(!a.contains_key(ARGUMENTS), "{name}: {a:?}");
        assert!(!a.contains_key(RESULT), "{name}: {a:?}");
    }
}

#[test]
fn with_otlp_content_arguments_and_results_arrive_redacted() {
    let tools = run_turn(
        "otlp_content = true",
        "String to replace not found in file.",
    );
    let bash = &tools["Bash"];
    let arguments: Value = serde_json::from_str(&bash[ARGUMENTS]).unwrap();
    assert_eq!(
        arguments["command"], "GITHUB_TOKEN=[REDACTED:github-token] gh pr list",
        "{bash:?}"
    );
    let result: Value = serde_json::from_str(&bash[RESULT]).unwrap();
    assert_eq!(result["stdout"], "token [REDACTED:github-token] ok\n");
    for a in tools.values() {
        assert!(a.values().all(|v| !v.contains(TOKEN)), "{a:?}");
    }
    // A failed call's result is its error, sent as the text it is, not as a JSON string.
    let edit = &tools["Edit"];
    assert_eq!(edit[RESULT], "String to replace not found in file.");
    assert_eq!(edit[ARGUMENTS], r#"{"file_path":"a.rs"}"#);
}

#[test]
fn content_longer_than_otlp_content_max_bytes_is_cut_on_a_character_boundary_and_marked() {
    // 'é' is two bytes: a cut at an odd byte falls inside one.
    let long = format!("{}{}", "é".repeat(400), "the end");
    let tools = run_turn("otlp_content = true\notlp_content_max_bytes = 101", &long);
    let result = &tools["Edit"][RESULT];
    assert!(result.len() <= 101, "{} bytes: {result}", result.len());
    let mark = format!("…[cut by difflore: {} bytes in all]", long.len());
    let kept = result.strip_suffix(&mark).expect("the cut is marked");
    assert!(
        !kept.is_empty() && kept.chars().all(|c| c == 'é'),
        "{kept:?}"
    );
    assert!(long.starts_with(kept));
    // What fits is sent whole.
    assert_eq!(tools["Edit"][ARGUMENTS], r#"{"file_path":"a.rs"}"#);
}
