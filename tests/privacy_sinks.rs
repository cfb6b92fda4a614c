//! Nothing a secret was planted in leaves the machine in clear, whatever the sink: every
//! corpus secret (tests/fixtures/redact/secrets.txt) goes into every envelope field the hook
//! records (session id, cwd, tool, event name) and into the payload, the real daemon sends
//! the batch through each sink, and every string of what arrived (keys and values of the
//! decoded JSON body, the NDJSON file, the OTLP request in each encoding) is searched for
//! every secret. A field added later cannot bypass this: the walk does not know the fields.

mod common;
mod otlp_support;

use std::path::Path;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, wait_until};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

/// Every «marked» secret of a corpus file, and each line's text without the marks.
fn corpus(file: &str) -> (Vec<String>, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/redact")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let (mut secrets, mut lines) = (Vec::new(), Vec::new());
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (_, marked) = line.split_once('\t').expect("rule<TAB>text");
        let marked = marked.replace("\\n", "\n").replace("\\\\", "\\");
        let mut rest = marked.as_str();
        while let Some(open) = rest.find('«') {
            let close = rest[open..].find('»').expect("unclosed «") + open;
            secrets.push(rest[open + '«'.len_utf8()..close].to_owned());
            rest = &rest[close + '»'.len_utf8()..];
        }
        lines.push(marked.replace(['«', '»'], ""));
    }
    (secrets, lines)
}

/// One event per corpus line, the line in every field the hook lifts into the envelope;
/// then one per JSON member case (members.txt), as the tool's input.
fn plant(sb: &Sandbox, lines: &[String], members: &[String]) {
    for member in members {
        let input: Value = serde_json::from_str(member).unwrap();
        let payload = json!({
            "hook_event_name": "PreToolUse",
            "session_id": "s-members",
            "tool_name": "mcp__db__query",
            "tool_input": input,
        });
        let out = sb.hook(&["--client", "claude-code"], payload.to_string().as_bytes());
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    for line in lines {
        let payload = json!({
            "hook_event_name": line,
            "session_id": line,
            "cwd": format!("/home/u/{line}"),
            "tool_name": line,
            "tool_input": {"command": line, line.as_str(): "as a key"},
        });
        let out = sb.hook(&["--client", "claude-code"], payload.to_string().as_bytes());
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
}

/// One Claude Code session per corpus line, the line in every field a span is built from
/// (session, tool name, call id, model, subagent id and type, tool arguments and results
/// for `otlp_content`), so that the traces signal
/// has spans to send: a turn, a failing tool call, a Task call and its subagent. Returns
/// how many events it queued.
fn plant_sessions(sb: &Sandbox, lines: &[String]) -> usize {
    let mut n = 0;
    for line in lines {
        let events = [
            json!({"hook_event_name": "UserPromptSubmit", "prompt": line, "model": line}),
            json!({"hook_event_name": "PreToolUse", "tool_name": line, "tool_use_id": line,
                   "tool_input": {"command": line}, "model": line}),
            json!({"hook_event_name": "PreToolUse", "tool_name": "Task", "tool_use_id": "t"}),
            json!({"hook_event_name": "SubagentStart", "agent_id": line, "agent_type": line}),
            json!({"hook_event_name": "SubagentStop", "agent_id": line}),
            json!({"hook_event_name": "PostToolUse", "tool_name": "Task", "tool_use_id": "t",
                   "tool_response": {"content": line, line.as_str(): "as a key"}}),
            json!({"hook_event_name": "PostToolUseFailure", "tool_name": line,
                   "tool_use_id": line, "error": line}),
            json!({"hook_event_name": "Stop"}),
        ];
        for mut payload in events {
            payload["session_id"] = json!(line);
            let out = sb.hook(&["--client", "claude-code"], payload.to_string().as_bytes());
            assert!(out.status.success(), "{}", common::stderr(&out));
            n += 1;
        }
    }
    n
}

/// Every string in `v`, object keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => {
            for (k, item) in map {
                out.push(k.clone());
                strings(item, out);
            }
        }
        _ => {}
    }
}

fn assert_clean(sink: &str, sent: &[Value], secrets: &[String]) {
    let mut all = Vec::new();
    sent.iter().for_each(|v| strings(v, &mut all));
    assert!(all.len() > 100, "{sink}: too little arrived to judge");
    for s in &all {
        for secret in secrets {
            assert!(
                !s.contains(secret.as_str()),
                "{sink} sent {secret} in {s:?}"
            );
        }
    }
}

/// Run the daemon against `endpoint` until `done`, with extra environment.
fn drain(sb: &Sandbox, endpoint: &str, env: &[(&str, &str)], done: impl FnMut() -> bool) {
    let d = DaemonGuard::foreground_with(sb, &["--endpoint", endpoint], |cmd| {
        for (k, v) in env {
            cmd.env(k, v);
        }
    });
    assert!(wait_until(LIMIT, done), "{}", d.log_text());
}

/// Every request body the collector accepted, decoded by what its content type says.
fn bodies(c: &Collector) -> Vec<Value> {
    c.requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| otlp_support::any_body(&r.path, &r.body))
        .collect()
}

#[test]
fn no_sink_sends_a_planted_secret_in_any_field() {
    let (mut secrets, lines) = corpus("secrets.txt");
    let (member_secrets, members) = corpus("members.txt");
    assert!(
        secrets.len() > 50 && member_secrets.len() > 10,
        "the corpus is where the secrets come from"
    );
    secrets.extend(member_secrets);
    let n = lines.len() + members.len();

    // difflore's JSON over HTTP.
    let sb = Sandbox::new();
    write_config(&sb, "");
    plant(&sb, &lines, &members);
    let c = Collector::start();
    drain(&sb, &c.url(), &[], || c.events().len() >= n);
    assert_clean("the JSON sink", &bodies(&c), &secrets);

    // The NDJSON file.
    let sb = Sandbox::new();
    write_config(&sb, "");
    plant(&sb, &lines, &members);
    let file = sb.dir.path().join("out.ndjson");
    let url = format!("file://{}", file.display());
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    drain(&sb, &url, &[], || read().lines().count() >= n);
    let sent: Vec<Value> = read()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_clean("the file sink", &sent, &secrets);

    // OTLP in each encoding, logs and traces, tool call content (arguments and results)
    // included.
    for protocol in ["http/json", "http/protobuf"] {
        let sb = Sandbox::new();
        write_config(&sb, "otlp_content = true");
        plant(&sb, &lines, &members);
        let sessions = plant_sessions(&sb, &lines);
        let c = Collector::start();
        let url = format!("otlp+http://127.0.0.1:{}", c.port);
        let env = [("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)];
        drain(&sb, &url, &env, || c.events().len() >= n + sessions);
        let traces: Vec<Value> = c
            .requests()
            .iter()
            .filter(|r| r.status == 200 && r.path == "/v1/traces")
            .map(|r| otlp_support::any_body(&r.path, &r.body))
            .collect();
        let spans: usize = traces
            .iter()
            .flat_map(|t| t["resourceSpans"].as_array().cloned().unwrap_or_default())
            .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
            .map(|s| s["spans"].as_array().map_or(0, Vec::len))
            .sum();
        // A turn, two tool calls and a subagent per session.
        assert_eq!(spans, 4 * lines.len(), "{protocol}: every span arrived");
        for key in ["gen_ai.tool.call.arguments", "gen_ai.tool.call.result"] {
            let sent = traces.iter().any(|t| t.to_string().contains(key));
            assert!(sent, "{protocol}: {key} was sent, to be searched");
        }
        assert_clean(&format!("{protocol} traces"), &traces, &secrets);
        assert_clean(protocol, &bodies(&c), &secrets);
    }
}
