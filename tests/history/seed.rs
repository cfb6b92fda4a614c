//! A recorded Claude Code session written into a sandbox's outbox the way the hook writes
//! it, at fixed times, with the kind, call id and turn the assembler gives each event and
//! the usage the daemon reads from the transcript.

use difflore::shared::event::classify;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox};
use difflore::shared::vocabulary::kind_of;

use crate::common::{Sandbox, fixture};

/// The instant the seeded session starts: 2025-12-01T09:00:00Z.
pub const T0: i64 = 1_764_579_600_000;
/// "Now" for the renderers: two hours after the start.
pub const NOW: i64 = T0 + 2 * 3_600_000;
pub const SESSION: &str = "3f2a9c1e-7b4d-4e8a-9c21-5d6e7f8a9b0c";

/// (milliseconds after T0, fixture, turn, call id)
const CLAUDE: [(i64, &str, Option<i64>, Option<&str>); 9] = [
    (0, "SessionStart", None, None),
    (1_200, "UserPromptSubmit", Some(1), None),
    (
        4_000,
        "PreToolUse",
        Some(1),
        Some("toolu_01Aa2Bb3Cc4Dd5Ee6Ff7Gg8Hh"),
    ),
    (
        9_300,
        "PostToolUse",
        Some(1),
        Some("toolu_01Aa2Bb3Cc4Dd5Ee6Ff7Gg8Hh"),
    ),
    (
        12_000,
        "PreToolUse-edit",
        Some(1),
        Some("toolu_01Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss"),
    ),
    (
        12_450,
        "PostToolUseFailure",
        Some(1),
        Some("toolu_01Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss"),
    ),
    (20_000, "Stop", Some(1), None),
    (65_000, "UserPromptSubmit", Some(2), None),
    (93_000, "Stop", Some(2), None),
];

fn open(sb: &Sandbox) -> Outbox {
    std::fs::create_dir_all(sb.home()).expect("data home");
    Outbox::open(&Paths::at(sb.home()), OpenOptions::long_lived()).expect("outbox")
}

/// A payload for one step: the recorded fixture, or an Edit's pre made from its failure.
fn payload(name: &str) -> String {
    if name == "PreToolUse-edit" {
        let mut v: serde_json::Value =
            serde_json::from_slice(&fixture("claude-code/PostToolUseFailure.json")).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("error");
        o.remove("is_interrupt");
        o.insert("hook_event_name".into(), "PreToolUse".into());
        return v.to_string();
    }
    String::from_utf8(fixture(format!("claude-code/{name}.json"))).unwrap()
}

/// The Claude Code session above (turn 2 without tool calls, still open: no SessionEnd),
/// delivered, with usage for turn 1 (two responses) and turn 2 (one).
pub fn claude_session(sb: &Sandbox) {
    let outbox = open(sb);
    for (at, name, turn, call) in CLAUDE {
        let text = payload(name);
        let fields = classify(text.as_bytes(), Some("claude-code")).expect("an event");
        let id = outbox.insert(T0 + at, &fields, &text).expect("insert");
        let kind = kind_of("claude-code", &fields.event);
        outbox
            .conn()
            .execute(
                "UPDATE events SET kind = ?1, turn = ?2, call_id = ?3, state = 'delivered'
                 WHERE id = ?4",
                rusqlite::params![kind.as_str(), turn, call, id],
            )
            .expect("assemble");
    }
    let usage = [
        (1, 3_000, "msg_01", 12, 310, 18_400, 2_050),
        (1, 11_000, "msg_02", 4, 120, 20_450, 300),
        (2, 90_000, "msg_03", 8, 95, 20_750, 160),
    ];
    for (turn, at, key, input, output, read, write) in usage {
        outbox
            .conn()
            .execute(
                "INSERT INTO usage (source, key, session_id, client, turn, at_ms, model,
                                    input, output, cache_read, cache_write)
                 VALUES ('/t.jsonl', ?1, ?2, 'claude-code', ?3, ?4, 'claude-sonnet-4-5',
                         ?5, ?6, ?7, ?8)",
                rusqlite::params![key, SESSION, turn, T0 + at, input, output, read, write],
            )
            .expect("usage");
    }
}

/// A short Codex session an hour later, ended, without usage.
pub fn codex_session(sb: &Sandbox) {
    let outbox = open(sb);
    let steps = [
        (3_600_000, "SessionStart", None),
        (3_601_000, "UserPromptSubmit", Some(1)),
        (3_630_000, "Stop", Some(1)),
        (3_631_000, "SessionEnd", None),
    ];
    for (at, name, turn) in steps {
        let text = String::from_utf8(fixture(format!("codex/{name}.json"))).unwrap();
        let fields = classify(text.as_bytes(), Some("codex")).expect("an event");
        let id = outbox.insert(T0 + at, &fields, &text).expect("insert");
        let kind = kind_of("codex", &fields.event);
        outbox
            .conn()
            .execute(
                "UPDATE events SET kind = ?1, turn = ?2 WHERE id = ?3",
                rusqlite::params![kind.as_str(), turn, id],
            )
            .expect("assemble");
    }
}
