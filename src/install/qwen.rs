//! Qwen Code (a Gemini CLI fork): `~/.qwen/settings.json` and `<project>/.qwen/settings.json`,
//! Claude-Code-shaped hooks under `hooks`, `timeout` in milliseconds. Touches no other key.

use serde_json::Value;

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Milliseconds (Qwen Code's unit).
pub const TIMEOUT_MS: u64 = 5000;

/// Every event Qwen Code documents.
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "Stop",
    "StopFailure",
    "SessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".qwen/settings.json",
    project_file: ".qwen/settings.json",
    layout: Layout::Grouped,
    bare: false,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

fn entry(_event: &str, command: &str) -> Value {
    agent::group(None, agent::command_handler(command, TIMEOUT_MS))
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::QwenCode, ctx.changed)
}
