//! Factory Droid: `~/.factory/hooks.json` and `<project>/.factory/hooks.json`, which hold
//! the bare event map (`{"PreToolUse": [...]}`): a `{"hooks": …}` wrapper there runs
//! nothing, silently. Grouped handlers, `timeout` in seconds. Describes the format only.

use serde_json::Value;

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Seconds (Droid's unit).
pub const TIMEOUT_SECS: u64 = 5;

/// The nine Claude-style events Droid documents.
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "SubagentStop",
    "PreCompact",
    "Stop",
    "SessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".factory/hooks.json",
    project_file: ".factory/hooks.json",
    layout: Layout::Grouped,
    bare: true,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

/// `*` on tool events, as Droid's examples have it; no matcher elsewhere.
fn entry(event: &str, command: &str) -> Value {
    let matcher = matches!(event, "PreToolUse" | "PostToolUse").then_some("*");
    agent::group(matcher, agent::command_handler(command, TIMEOUT_SECS))
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::Droid, ctx.changed)
}
