//! Augment Auggie: `~/.augment/settings.json` and `<project>/.augment/settings.json`,
//! Claude-Code-shaped hooks under `hooks`, `timeout` in milliseconds. Touches no other key.

use serde_json::Value;

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Milliseconds (Auggie's unit).
pub const TIMEOUT_MS: u64 = 5000;

/// Auggie's events, less `Stop`: its payload carries `_exchange`, the whole request and
/// response of the turn, which a capture hook must not copy (for the reason Gemini's model
/// events are left out and transcripts are never read).
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "PromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "SessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".augment/settings.json",
    project_file: ".augment/settings.json",
    layout: Layout::Grouped,
    bare: false,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

fn entry(event: &str, command: &str) -> Value {
    let matcher = matches!(event, "PreToolUse" | "PostToolUse").then_some("*");
    agent::group(matcher, agent::command_handler(command, TIMEOUT_MS))
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    let mut notes = vec![Note::AuggieHooksFeature];
    notes.extend(agent::restart_note(Client::Auggie, ctx.changed));
    notes
}
