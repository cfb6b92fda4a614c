//! difflored exporting agent sessions as OTLP traces to a real collector on 127.0.0.1: real
//! hook payloads (the fixtures' shapes) go through the real hook and daemon, and what arrives
//! at /v1/traces is decoded with the official messages and checked as a tree: one trace per
//! turn, tool calls under their turn, a subagent under its Task call, error status, links
//! between turns, GenAI attributes, and the same ids across a daemon restart between a
//! tool call's pre and post and across a retried request.

mod common;
mod otlp_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, fixture, wait_until};
use difflore::shared::assemble::{SpanKind, ids};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otlp_support::{attrs, decode, decode_traces, records, spans, to_json};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);
const SESSION: &str = "3f2a9c1e-7b4d-4e8a-9c21-5d6e7f8a9b0c";
const BASH: &str = "toolu_01Aa2Bb3Cc4Dd5Ee6Ff7Gg8Hh";
const EDIT: &str = "toolu_01Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss";
const TASK: &str = "toolu_task";
const AGENT: &str = "a1b2c3d4e5f60718";

/// A fixture (`agent/event`), with `changes` applied on top.
fn changed(name: &str, changes: Value) -> Value {
    let mut v: Value = serde_json::from_slice(&fixture(format!("{name}.json"))).unwrap();
    for (k, change) in changes.as_object().unwrap() {
        v[k] = change.clone();
    }
    v
}

/// A Claude Code fixture, with `changes` applied on top.
fn claude(event: &str, changes: Value) -> Value {
    changed(&format!("claude-code/{event}"), changes)
}

fn hook(sb: &Sandbox, payload: &Value) {
    hook_as(sb, "claude-code", payload);
}

fn hook_as(sb: &Sandbox, client: &str, payload: &Value) {
    let out = sb.hook(&["--client", client], payload.to_string().as_bytes());
    assert!(out.status.success(), "{}", common::stderr(&out));
}

fn install_id(sb: &Sandbox) -> String {
    sb.sqlite()
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .unwrap()
}

/// The capture time of the row with `event` and (if given) `call`, in ns.
fn at_ns(sb: &Sandbox, event: &str, call: &str) -> u64 {
    let ms: i64 = sb
        .sqlite()
        .query_row(
            "SELECT received_ms FROM events WHERE event = ?1 AND (?2 = '' OR payload ->> '$.tool_use_id' = ?2) ORDER BY id LIMIT 1",
            [event, call],
            |r| r.get(0),
        )
        .unwrap();
    ms as u64 * 1_000_000
}

fn run_until_delivered(sb: &Sandbox, c: &Collector) {
    let url = format!("otlp+http://127.0.0.1:{}", c.port);
    let d = DaemonGuard::foreground(sb, &["--endpoint", &url]);
    assert!(
        wait_until(LIMIT, || sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
}

/// Every span accepted (2xx), and every span of refused requests, in arrival order.
fn arrived(c: &Collector) -> (Vec<Span>, Vec<Span>) {
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for r in c.requests().iter().filter(|r| r.path == "/v1/traces") {
        let req = decode_traces(&r.body);
        let target = if (200..300).contains(&r.status) {
            &mut ok
        } else {
            &mut refused
        };
        target.extend(spans(&req).into_iter().cloned());
    }
    (ok, refused)
}

#[test]
fn a_claude_code_session_arrives_as_one_trace_per_turn_across_a_restart() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let bash_pre = claude("PreToolUse", json!({}));
    let edit_pre = claude(
        "PreToolUse",
        json!({"tool_name": "Edit", "tool_use_id": EDIT, "tool_input": {"file_path": "src/main.rs"}}),
    );
    // Turn 1, up to the Edit call's pre: delivered by the first daemon.
    for p in [
        claude("SessionStart", json!({})),
        claude("UserPromptSubmit", json!({})),
        bash_pre,
        claude("PostToolUse", json!({})),
        edit_pre,
    ] {
        hook(&sb, &p);
    }
    run_until_delivered(&sb, &c);
    // Only the Bash call has closed; its span went out with the row that closed it.
    let first: Vec<String> = arrived(&c).0.iter().map(|s| s.name.clone()).collect();
    assert_eq!(first, ["execute_tool Bash"]);
    // The rest of turn 1 and turn 2, for a second daemon; its first traces request fails.
    let task =
        json!({"tool_name": "Task", "tool_use_id": TASK, "tool_input": {"prompt": "find callers"}});
    for p in [
        claude("PostToolUseFailure", json!({})),
        claude("Stop", json!({})),
        claude(
            "UserPromptSubmit",
            json!({"prompt": "Now find every caller."}),
        ),
        claude("PreToolUse", task.clone()),
        claude("SubagentStart", json!({})),
        claude("SubagentStop", json!({})),
        claude("PostToolUse", task),
        claude("Stop", json!({})),
    ] {
        hook(&sb, &p);
    }
    c.script([Reply::status(503)]);
    run_until_delivered(&sb, &c);
    let (ok, refused) = arrived(&c);
    check_tree(&sb, &ok);
    check_log_records(&sb, &c);
    // The retry re-sent the refused spans with the same ids, not new ones.
    let key = |s: &Span| (s.trace_id.clone(), s.span_id.clone(), s.name.clone());
    let sent: BTreeSet<_> = ok.iter().map(key).collect();
    assert!(!refused.is_empty(), "the first traces request was refused");
    assert!(refused.iter().all(|s| sent.contains(&key(s))));
    assert_eq!(sent.len(), ok.len(), "each span accepted once");
}

/// Each event's log record names the span it belongs to: its tool call, its subagent, else
/// its turn; an event outside any turn names none.
fn check_log_records(sb: &Sandbox, c: &Collector) {
    let install = install_id(sb);
    let span =
        |turn, kind, call: Option<&str>| ids::span_id(&install, SESSION, turn, kind, call).to_vec();
    let mut seen = BTreeMap::new();
    for r in c
        .requests()
        .iter()
        .filter(|r| r.status == 200 && r.path == "/v1/logs")
    {
        for rec in records(&decode(&r.body)) {
            let body = to_json(rec.body.as_ref().unwrap());
            let call = body["tool_use_id"].as_str().unwrap_or_default().to_owned();
            seen.insert(
                (rec.event_name.clone(), call),
                (rec.trace_id.clone(), rec.span_id.clone()),
            );
        }
    }
    let trace = |turn| ids::trace_id(&install, SESSION, turn).to_vec();
    let want = [
        (("SessionStart", ""), (Vec::new(), Vec::new())),
        (
            ("PreToolUse", BASH),
            (trace(1), span(1, SpanKind::Tool, Some(BASH))),
        ),
        (
            ("PostToolUse", BASH),
            (trace(1), span(1, SpanKind::Tool, Some(BASH))),
        ),
        (
            ("PostToolUseFailure", EDIT),
            (trace(1), span(1, SpanKind::Tool, Some(EDIT))),
        ),
        (
            ("PostToolUse", TASK),
            (trace(2), span(2, SpanKind::Tool, Some(TASK))),
        ),
        (
            ("SubagentStart", ""),
            (trace(2), span(2, SpanKind::Subagent, Some(AGENT))),
        ),
    ];
    for ((event, call), ids) in want {
        assert_eq!(
            seen[&(event.to_owned(), call.to_owned())],
            ids,
            "{event} {call}"
        );
    }
}

fn check_tree(sb: &Sandbox, all: &[Span]) {
    let install = install_id(sb);
    let name = |s: &Span| s.name.clone();
    let names: BTreeSet<String> = all.iter().map(name).collect();
    let want: BTreeSet<String> = [
        "invoke_agent claude-code",
        "execute_tool Bash",
        "execute_tool Edit",
        "execute_tool Task",
        "invoke_agent general-purpose",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(names, want);
    assert_eq!(
        all.len(),
        6,
        "two turns, three tool calls, one subagent: {all:#?}"
    );

    // One trace per turn, each with one root: the turn span.
    let mut traces: BTreeMap<Vec<u8>, Vec<&Span>> = BTreeMap::new();
    for s in all {
        traces.entry(s.trace_id.clone()).or_default().push(s);
    }
    assert_eq!(traces.len(), 2);
    let trace = |turn| ids::trace_id(&install, SESSION, turn).to_vec();
    let span =
        |turn, kind, call: Option<&str>| ids::span_id(&install, SESSION, turn, kind, call).to_vec();
    let find = |n: &str| all.iter().find(|s| s.name == n).unwrap();
    for (turn, members) in [(1, 3), (2, 3)] {
        let spans = &traces[&trace(turn)];
        assert_eq!(spans.len(), members, "turn {turn}");
        let roots: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id.is_empty())
            .collect();
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].span_id, span(turn, SpanKind::Turn, None));
        assert_eq!(roots[0].name, "invoke_agent claude-code");
        let a = attrs(&roots[0].attributes);
        assert_eq!(a["gen_ai.provider.name"], "anthropic");
        assert_eq!(a["gen_ai.conversation.id"], SESSION);
        assert_eq!(a["session.id"], SESSION);
        assert!(!a.contains_key("difflore.span.incomplete"));
    }
    // Tool calls are children of their turn; the ids are the ones the install, session,
    // turn and call give, whichever daemon sent them.
    let bash = find("execute_tool Bash");
    assert_eq!(bash.span_id, span(1, SpanKind::Tool, Some(BASH)));
    assert_eq!(bash.parent_span_id, span(1, SpanKind::Turn, None));
    assert_eq!(bash.start_time_unix_nano, at_ns(sb, "PreToolUse", BASH));
    assert_eq!(bash.end_time_unix_nano, at_ns(sb, "PostToolUse", BASH));
    assert!(bash.status.is_none());
    let a = attrs(&bash.attributes);
    assert_eq!(a["gen_ai.tool.call.id"], BASH);
    assert_eq!(a["gen_ai.tool.name"], "Bash");
    assert_eq!(a["gen_ai.operation.name"], "execute_tool");

    // The Edit call started under the first daemon and failed under the second: one span.
    let edit = find("execute_tool Edit");
    assert_eq!(edit.span_id, span(1, SpanKind::Tool, Some(EDIT)));
    assert_eq!(edit.parent_span_id, span(1, SpanKind::Turn, None));
    assert_eq!(edit.start_time_unix_nano, at_ns(sb, "PreToolUse", EDIT));
    assert_eq!(
        edit.end_time_unix_nano,
        at_ns(sb, "PostToolUseFailure", EDIT)
    );
    assert_eq!(edit.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(attrs(&edit.attributes)["error.type"], "_OTHER");

    // Turn 2: the subagent runs under the Task call, and the turn links to turn 1.
    let task = find("execute_tool Task");
    assert_eq!(task.parent_span_id, span(2, SpanKind::Turn, None));
    let agent = find("invoke_agent general-purpose");
    assert_eq!(agent.parent_span_id, task.span_id);
    assert_eq!(attrs(&agent.attributes)["gen_ai.agent.id"], AGENT);
    let turn2 = traces[&trace(2)]
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .unwrap();
    assert_eq!(turn2.links.len(), 1);
    assert_eq!(turn2.links[0].trace_id, trace(1));
    assert_eq!(turn2.links[0].span_id, span(1, SpanKind::Turn, None));
    for s in all {
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano, "{s:?}");
    }
}

#[test]
fn with_traces_left_out_of_otlp_signals_only_logs_are_sent() {
    let sb = Sandbox::new();
    write_config(&sb, "otlp_signals = [\"logs\"]");
    let c = Collector::start();
    for p in [
        claude("UserPromptSubmit", json!({})),
        claude("PreToolUse", json!({})),
        claude("PostToolUse", json!({})),
        claude("Stop", json!({})),
    ] {
        hook(&sb, &p);
    }
    run_until_delivered(&sb, &c);
    assert_eq!(c.accepted_count(), 4);
    assert!(c.requests().iter().all(|r| r.path == "/v1/logs"));
}

#[test]
fn a_codex_turn_names_its_provider_and_model() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let codex = |event: &str, changes: Value| changed(&format!("codex/{event}"), changes);
    let call =
        json!({"tool_name": "Bash", "tool_use_id": "call_1", "tool_input": {"command": "ls"}});
    for p in [
        codex("UserPromptSubmit", json!({})),
        codex("PreToolUse", call.clone()),
        codex("PostToolUse", call),
        codex("Stop", json!({})),
    ] {
        hook_as(&sb, "codex", &p);
    }
    run_until_delivered(&sb, &c);
    let (ok, _) = arrived(&c);
    assert_eq!(ok.len(), 2, "{ok:#?}");
    for s in &ok {
        let a = attrs(&s.attributes);
        assert_eq!(a["gen_ai.provider.name"], "openai");
        assert_eq!(a["gen_ai.request.model"], "gpt-5.5");
    }
    let turn = ok.iter().find(|s| s.name == "invoke_agent codex").unwrap();
    let tool = ok.iter().find(|s| s.name == "execute_tool Bash").unwrap();
    assert_eq!(tool.parent_span_id, turn.span_id);
    assert_eq!(tool.trace_id, turn.trace_id);
}

/// Qwen Code sends UserPromptSubmit a second time, with an empty prompt, when it hands the
/// tool's result back to the model: still one turn, complete, with its tool call under it.
#[test]
fn a_qwen_code_turn_with_its_empty_mid_turn_prompt_is_one_turn() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let c = Collector::start();
    let qwen = |event: &str, changes: Value| changed(&format!("qwen-code/{event}"), changes);
    for p in [
        qwen("SessionStart", json!({})),
        qwen("UserPromptSubmit", json!({})),
        qwen("PreToolUse", json!({})),
        qwen("PostToolUse", json!({})),
        qwen("UserPromptSubmit", json!({"prompt": ""})),
        qwen("Stop", json!({})),
    ] {
        hook_as(&sb, "qwen-code", &p);
    }
    run_until_delivered(&sb, &c);
    let (ok, _) = arrived(&c);
    assert_eq!(ok.len(), 2, "{ok:#?}");
    let turn = ok
        .iter()
        .find(|s| s.name.starts_with("invoke_agent"))
        .unwrap();
    let tool = ok
        .iter()
        .find(|s| s.name == "execute_tool run_shell_command")
        .unwrap();
    assert_eq!(tool.parent_span_id, turn.span_id);
    assert_eq!(tool.trace_id, turn.trace_id);
    for s in &ok {
        assert!(
            !attrs(&s.attributes).contains_key("difflore.span.incomplete"),
            "{s:#?}"
        );
    }
    // The turn ends at Stop, not at the empty prompt.
    assert_eq!(turn.end_time_unix_nano, at_ns(&sb, "Stop", ""));
}

#[test]
fn a_session_silent_past_span_close_after_arrives_closed_and_marked_incomplete() {
    use difflore::shared::event::classify;
    use difflore::shared::paths::Paths;
    use difflore::shared::store::{OpenOptions, Outbox};

    let sb = Sandbox::new();
    write_config(&sb, "span_close_after = \"1h\"");
    let c = Collector::start();
    std::fs::create_dir_all(sb.home()).unwrap();
    let db = Outbox::open(
        &Paths::at(sb.home()),
        OpenOptions::hook(Duration::from_secs(5)),
    )
    .unwrap();
    let now = difflore::shared::now_ms();
    let two_hours_ago = now - 2 * 3600 * 1000;
    // A prompt and a tool call two hours ago, never finished; then an event elsewhere now.
    let quiet = [
        (two_hours_ago, claude("UserPromptSubmit", json!({}))),
        (two_hours_ago + 5, claude("PreToolUse", json!({}))),
        (
            now,
            claude("Notification", json!({"session_id": "another-session"})),
        ),
    ];
    for (at, payload) in quiet {
        let text = payload.to_string();
        let fields = classify(text.as_bytes(), Some("claude-code")).unwrap();
        db.insert(at, &fields, &text).unwrap();
    }
    drop(db);
    run_until_delivered(&sb, &c);
    let (ok, _) = arrived(&c);
    assert_eq!(ok.len(), 2, "{ok:#?}");
    for s in &ok {
        assert_eq!(
            attrs(&s.attributes)["difflore.span.incomplete"],
            true,
            "{}",
            s.name
        );
        // Closed where the session fell silent, not when difflored noticed.
        assert_eq!(s.end_time_unix_nano, (two_hours_ago as u64 + 5) * 1_000_000);
        assert!(s.status.is_none());
    }
    let tool = ok.iter().find(|s| s.name == "execute_tool Bash").unwrap();
    let turn = ok
        .iter()
        .find(|s| s.name == "invoke_agent claude-code")
        .unwrap();
    assert_eq!(tool.parent_span_id, turn.span_id);
}
