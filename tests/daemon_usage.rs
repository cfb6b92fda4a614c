//! Token usage read from the agents' own transcripts by a real difflored: Claude Code's
//! per-message usage (one response logged per content block counts once, with its largest
//! counts) and Codex's running totals (a repeated total counts once, cached input apart),
//! appended lines picked up on the next event, a replaced file read again without counting
//! twice, and the totals shown by `difflorectl sessions --json`.

mod common;
mod otlp_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, wait_until};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

fn claude_line(id: &str, output: i64) -> String {
    claude_line_at(id, output, "2026-12-01T10:00:05.000Z")
}

/// Now, as a transcript writes it: between the turn's prompt and its end.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn claude_line_at(id: &str, output: i64, at: &str) -> String {
    json!({
        "type": "assistant",
        "sessionId": "c1",
        "requestId": format!("req_{id}"),
        "timestamp": at,
        "message": {
            "id": format!("msg_{id}"),
            "model": "claude-sonnet-4-5",
            "role": "assistant",
            "content": [{"type": "text", "text": "done"}],
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": 300,
                "cache_read_input_tokens": 4000,
                "output_tokens": output
            }
        }
    })
    .to_string()
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn hook(sb: &Sandbox, client: &str, event: &str, session: &str, transcript: &Path) {
    let payload = json!({
        "hook_event_name": event,
        "session_id": session,
        "cwd": "/w",
        "transcript_path": transcript,
    });
    let out = sb.hook(&["--client", client], payload.to_string().as_bytes());
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// A counter the daemon keeps in `meta` (`usage_skipped`, `usage_through`), if set.
fn meta(sb: &Sandbox, key: &str) -> Option<i64> {
    sb.sqlite()
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .ok()
}

/// (rows, input, output, cache_read, cache_write) recorded for `session`.
fn usage(sb: &Sandbox, session: &str) -> (i64, i64, i64, i64, i64) {
    sb.sqlite()
        .query_row(
            "SELECT count(*), total(input), total(output), total(cache_read), total(cache_write)
             FROM usage WHERE session_id = ?1",
            [session],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, f64>(1)? as i64,
                    r.get::<_, f64>(2)? as i64,
                    r.get::<_, f64>(3)? as i64,
                    r.get::<_, f64>(4)? as i64,
                ))
            },
        )
        .unwrap()
}

#[test]
fn claude_code_usage_counts_each_response_once_and_follows_the_transcript() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let transcript = sb.dir.path().join("c1.jsonl");
    append(
        &transcript,
        &[
            json!({"type": "user", "message": {"role": "user", "content": "hi"}}).to_string(),
            claude_line("a", 10),
            // Torn mid-write by a crash: skipped and counted, the rest still read.
            r#"{"type":"assistant","message":{"id":"msg_z","usage":{"input_tok"#.to_owned(),
            claude_line("a", 25),
            claude_line("b", 7),
        ],
    );
    hook(&sb, "claude-code", "UserPromptSubmit", "c1", &transcript);
    hook(&sb, "claude-code", "Stop", "c1", &transcript);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || usage(&sb, "c1") == (2, 24, 32, 8000, 600)),
        "{:?}\n{}",
        usage(&sb, "c1"),
        d.log_text()
    );
    let skipped = meta(&sb, "usage_skipped").unwrap();
    assert_eq!(skipped, 1);
    // The next response, then the next event: read from where the last look stopped.
    append(&transcript, &[claude_line("c", 100)]);
    hook(&sb, "claude-code", "Stop", "c1", &transcript);
    assert!(
        wait_until(LIMIT, || usage(&sb, "c1") == (3, 36, 132, 12000, 900)),
        "{:?}\n{}",
        usage(&sb, "c1"),
        d.log_text()
    );
    // Replaced by a new file (another inode) holding the same lines and one more: read
    // again from its start, nothing counted twice.
    let text = std::fs::read_to_string(&transcript).unwrap();
    std::fs::remove_file(&transcript).unwrap();
    std::fs::write(&transcript, text).unwrap();
    append(&transcript, &[claude_line("d", 1)]);
    hook(&sb, "claude-code", "Stop", "c1", &transcript);
    assert!(
        wait_until(LIMIT, || usage(&sb, "c1") == (4, 48, 133, 16000, 1200)),
        "{:?}\n{}",
        usage(&sb, "c1"),
        d.log_text()
    );
    let out = sb
        .cmd("difflorectl")
        .args(["sessions", "--json"])
        .output()
        .unwrap();
    let sessions: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c1 = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == "c1")
        .expect("the session is listed");
    assert_eq!(
        c1["tokens"],
        json!({"input": 48, "output": 133, "cache_read": 16000, "cache_write": 1200}),
        "{c1}"
    );
}

#[test]
fn codex_usage_comes_from_its_running_totals_once_each() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let rollout = sb.dir.path().join("rollout-x1.jsonl");
    // Running totals, as Codex reports them after each response.
    let count = |input: i64, cached: i64, output: i64| {
        json!({
            "timestamp": "2026-12-01T10:00:05.000Z",
            "type": "event_msg",
            "payload": {"type": "token_count", "info": {
                "total_token_usage": {"input_tokens": input, "cached_input_tokens": cached,
                                      "output_tokens": output, "total_tokens": input + output},
                "last_token_usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                "model_context_window": 272000
            }}
        })
        .to_string()
    };
    append(
        &rollout,
        &[
            json!({"timestamp": "2026-12-01T10:00:00.000Z", "type": "turn_context",
                   "payload": {"cwd": "/w", "model": "gpt-5-codex"}})
            .to_string(),
            json!({"timestamp": "2026-12-01T10:00:01.000Z", "type": "event_msg",
                   "payload": {"type": "token_count", "info": null}})
            .to_string(),
            count(1000, 600, 100),
            count(1000, 600, 100),
            count(2150, 1600, 150),
        ],
    );
    hook(&sb, "codex", "UserPromptSubmit", "x1", &rollout);
    hook(&sb, "codex", "Stop", "x1", &rollout);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || usage(&sb, "x1") == (2, 550, 150, 1600, 0)),
        "{:?}\n{}",
        usage(&sb, "x1"),
        d.log_text()
    );
    let model: String = sb
        .sqlite()
        .query_row(
            "SELECT DISTINCT model FROM usage WHERE session_id = 'x1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(model, "gpt-5-codex");
}

#[test]
fn a_transcript_path_that_is_not_an_absolute_regular_file_is_not_read() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let dir = sb.dir.path().join("a-folder.jsonl");
    std::fs::create_dir(&dir).unwrap();
    hook(&sb, "claude-code", "Stop", "f1", &dir);
    hook(
        &sb,
        "claude-code",
        "Stop",
        "f2",
        Path::new("relative.jsonl"),
    );
    // A FIFO nobody writes to: opening it must not hold the daemon.
    let fifo = sb.dir.path().join("fifo.jsonl");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    hook(&sb, "claude-code", "Stop", "f3", &fifo);
    // Named, but gone (or never written).
    hook(
        &sb,
        "claude-code",
        "Stop",
        "f4",
        &sb.dir.path().join("gone.jsonl"),
    );
    let d = DaemonGuard::foreground(&sb, &[]);
    // The daemon has looked (its cursor moved past every event) and recorded nothing.
    assert!(
        wait_until(LIMIT, || meta(&sb, "usage_through").is_some_and(|v| v >= 4)),
        "{}",
        d.log_text()
    );
    assert_eq!(
        usage(&sb, "f1").0 + usage(&sb, "f2").0 + usage(&sb, "f3").0 + usage(&sb, "f4").0,
        0
    );
    // Each unreadable one (the folder, the FIFO, the missing file) is a counted, logged
    // skip; a relative path is not a transcript at all.
    let skipped = meta(&sb, "usage_skipped").unwrap();
    assert_eq!(skipped, 3, "{}", d.log_text());
    let log = d.log_text();
    assert!(log.contains("not a regular file"), "{log}");
    assert!(log.contains("gone.jsonl"), "{log}");
}

#[test]
fn gemini_usage_counts_each_message_once_however_often_it_is_appended() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let session = sb.dir.path().join("session-2026-12-01T10-00-g1.jsonl");
    let gemini = |id: &str, tokens: Value| {
        json!({"id": id, "timestamp": "2026-12-01T10:00:03.000Z", "type": "gemini",
               "content": "", "model": "gemini-2.5-pro", "tokens": tokens})
        .to_string()
    };
    let t = |input: i64, cached: i64, output: i64, thoughts: i64| {
        json!({"input": input, "output": output, "cached": cached, "thoughts": thoughts,
               "tool": 0, "total": input + output + thoughts})
    };
    append(
        &session,
        &[
            json!({"sessionId": "g1", "projectHash": "ab", "startTime": "2026-12-01T10:00:00.000Z",
                   "lastUpdated": "2026-12-01T10:00:00.000Z", "kind": "main"})
            .to_string(),
            json!({"id": "u1", "timestamp": "2026-12-01T10:00:01.000Z", "type": "user",
                   "content": [{"text": "list the files"}]})
            .to_string(),
            // Written before its tokens are known, then again with them, then again when its
            // tool call's result is recorded.
            gemini("m1", Value::Null),
            gemini("m1", t(1200, 1000, 30, 5)),
            json!({"$set": {"lastUpdated": "2026-12-01T10:00:04.000Z"}}).to_string(),
            gemini("m1", t(1200, 1000, 30, 5)),
            gemini("m2", t(1500, 1200, 80, 0)),
        ],
    );
    hook(&sb, "gemini", "BeforeAgent", "g1", &session);
    hook(&sb, "gemini", "AfterAgent", "g1", &session);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || usage(&sb, "g1") == (2, 500, 115, 2200, 0)),
        "{:?}\n{}",
        usage(&sb, "g1"),
        d.log_text()
    );
    // A legacy single-document session file (`.json`) is not read: nothing counted.
    let legacy = sb.dir.path().join("session-old.json");
    std::fs::write(
        &legacy,
        serde_json::to_string_pretty(&json!({"sessionId": "g2", "messages": [
            {"id": "m9", "type": "gemini", "tokens": {"input": 9, "output": 9, "cached": 0}}
        ]}))
        .unwrap(),
    )
    .unwrap();
    hook(&sb, "gemini", "AfterAgent", "g2", &legacy);
    assert!(
        wait_until(LIMIT, || meta(&sb, "usage_through").is_some_and(|v| v >= 3)),
        "{}",
        d.log_text()
    );
    assert_eq!(usage(&sb, "g2").0, 0);
    let skipped = meta(&sb, "usage_skipped").unwrap();
    assert_eq!(skipped, 0, "the legacy file's lines were not even tried");
}

/// Turn 1 of a Claude Code session as hooks and transcript record it: a prompt, two
/// responses (the first logged twice, once per content block), the end of the turn.
fn one_claude_turn(sb: &Sandbox) {
    let transcript = sb.dir.path().join("t1.jsonl");
    append(&transcript, &[json!({"type": "user"}).to_string()]);
    hook(sb, "claude-code", "UserPromptSubmit", "t1", &transcript);
    std::thread::sleep(Duration::from_millis(5));
    let at = now_rfc3339();
    append(
        &transcript,
        &[
            claude_line_at("a", 10, &at),
            claude_line_at("a", 25, &at),
            claude_line_at("b", 7, &at),
        ],
    );
    std::thread::sleep(Duration::from_millis(5));
    hook(sb, "claude-code", "Stop", "t1", &transcript);
}

#[test]
fn a_turns_tokens_go_out_on_its_span_and_on_its_last_json_event() {
    // OTLP traces: the turn span carries the conventions' usage attributes.
    let sb = Sandbox::new();
    write_config(&sb, "");
    one_claude_turn(&sb);
    let c = Collector::start();
    let url = format!("otlp+http://127.0.0.1:{}", c.port);
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &url]);
    let turn_span = || {
        c.requests()
            .iter()
            .filter(|r| r.path == "/v1/traces" && r.status == 200)
            .flat_map(|r| {
                let req = otlp_support::decode_traces(&r.body);
                otlp_support::spans(&req)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .find(|s| s.name == "invoke_agent claude-code")
    };
    assert!(
        wait_until(LIMIT, || turn_span().is_some()),
        "{}",
        d.log_text()
    );
    let attrs = otlp_support::attrs(&turn_span().unwrap().attributes);
    // Input includes the cache: 2 × (12 + 4000 + 300).
    assert_eq!(attrs["gen_ai.usage.input_tokens"], json!(8624), "{attrs:?}");
    assert_eq!(attrs["gen_ai.usage.output_tokens"], json!(32));
    assert_eq!(attrs["gen_ai.usage.cache_read.input_tokens"], json!(8000));
    assert_eq!(
        attrs["gen_ai.usage.cache_creation.input_tokens"],
        json!(600)
    );
    assert_eq!(attrs["gen_ai.response.model"], json!("claude-sonnet-4-5"));
    drop(d);

    // JSON: the turn's last event carries a `usage` object; the others none.
    let sb = Sandbox::new();
    write_config(&sb, "");
    one_claude_turn(&sb);
    let c = Collector::start();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || c.events().len() == 2),
        "{}",
        d.log_text()
    );
    let events = c.events();
    let stop = events.iter().find(|e| e["kind"] == "turn.stop").unwrap();
    assert_eq!(
        stop["usage"],
        json!({"input": 24, "output": 32, "cache_read": 8000, "cache_write": 600,
               "models": ["claude-sonnet-4-5"]}),
        "{stop}"
    );
    let prompt = events
        .iter()
        .find(|e| e["kind"] == "prompt.submit")
        .unwrap();
    assert!(prompt.get("usage").is_none(), "{prompt}");
}

#[test]
fn responses_read_before_their_turn_was_assembled_still_get_their_turn() {
    // Both hooks ran before any daemon: the first look at the transcript may come before
    // the first assembly. With no endpoint, nothing is claimed, so only housekeeping runs.
    let sb = Sandbox::new();
    write_config(&sb, "");
    one_claude_turn(&sb);
    let d = DaemonGuard::foreground(&sb, &[]);
    let turns = || {
        sb.sqlite()
            .prepare("SELECT turn FROM usage WHERE session_id = 't1' ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get::<_, Option<i64>>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    assert!(
        wait_until(LIMIT, || turns() == [Some(1), Some(1)]),
        "{:?}\n{}",
        turns(),
        d.log_text()
    );
}

#[test]
fn qwen_code_usage_comes_from_its_assistant_records() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let chat = sb.dir.path().join("q1.jsonl");
    let assistant = |uuid: &str, prompt: i64, cached: i64, out: i64| {
        json!({"uuid": uuid, "parentUuid": null, "sessionId": "q1", "type": "assistant",
               "timestamp": "2026-12-01T10:00:02.000Z", "cwd": "/w", "version": "0.24.4",
               "model": "qwen3-coder-plus",
               "message": {"role": "model", "parts": [{"text": "ok"}]},
               "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": out,
                                 "cachedContentTokenCount": cached,
                                 "totalTokenCount": prompt + out}})
        .to_string()
    };
    append(
        &chat,
        &[
            json!({"uuid": "u1", "sessionId": "q1", "type": "user", "timestamp": "2026-12-01T10:00:01.000Z",
                   "message": {"role": "user", "parts": [{"text": "hi"}]}})
            .to_string(),
            assistant("a1", 1000, 800, 20),
            json!({"uuid": "s1", "sessionId": "q1", "type": "system", "subtype": "ui_telemetry",
                   "systemPayload": {"uiEvent": {"event.name": "qwen-code.api_response",
                                                 "input_token_count": 1000}}})
            .to_string(),
            assistant("a2", 1300, 1000, 45),
        ],
    );
    hook(&sb, "qwen-code", "UserPromptSubmit", "q1", &chat);
    hook(&sb, "qwen-code", "Stop", "q1", &chat);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || usage(&sb, "q1") == (2, 500, 65, 1800, 0)),
        "{:?}\n{}",
        usage(&sb, "q1"),
        d.log_text()
    );
}

#[test]
fn a_transcript_truncated_in_place_is_read_again_without_counting_twice() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let transcript = sb.dir.path().join("t9.jsonl");
    append(&transcript, &[claude_line("a", 10), claude_line("b", 20)]);
    hook(&sb, "claude-code", "Stop", "t9", &transcript);
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(LIMIT, || usage(&sb, "t9") == (2, 24, 30, 8000, 600)),
        "{:?}\n{}",
        usage(&sb, "t9"),
        d.log_text()
    );
    // The same file (same inode) cut back to its first line, then a new response after it:
    // shorter than the offset read, so read from the start; the first line is not new.
    let first = claude_line("a", 10);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&transcript)
        .unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&transcript, &[first, claude_line("c", 5)]);
    hook(&sb, "claude-code", "Stop", "t9", &transcript);
    assert!(
        wait_until(LIMIT, || usage(&sb, "t9") == (3, 36, 35, 12000, 900)),
        "{:?}\n{}",
        usage(&sb, "t9"),
        d.log_text()
    );
    // And nothing more arrives later: the count holds.
    hook(&sb, "claude-code", "Stop", "t9", &transcript);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(usage(&sb, "t9"), (3, 36, 35, 12000, 900));
}

#[test]
fn absurd_counts_in_a_transcript_are_capped_and_the_views_still_add_them_up() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let transcript = sb.dir.path().join("huge.jsonl");
    let huge = |id: &str| {
        let mut v: Value = serde_json::from_str(&claude_line(id, 1)).unwrap();
        v["message"]["usage"]["output_tokens"] = json!(i64::MAX);
        v["message"]["usage"]["input_tokens"] = json!(-7);
        v.to_string()
    };
    append(&transcript, &[huge("a"), huge("b")]);
    hook(&sb, "claude-code", "Stop", "huge", &transcript);
    let d = DaemonGuard::foreground(&sb, &[]);
    let cap = 1i64 << 40;
    assert!(
        wait_until(LIMIT, || usage(&sb, "huge") == (2, 0, 2 * cap, 8000, 600)),
        "{:?}\n{}",
        usage(&sb, "huge"),
        d.log_text()
    );
    let out = sb
        .cmd("difflorectl")
        .args(["sessions", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let sessions: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sessions[0]["tokens"]["output"],
        json!(2 * cap),
        "{sessions}"
    );
}
