//! Claude Code: `~/.claude/settings.json` and `<project>/.claude/settings.json`, grouped
//! hooks, `timeout` in seconds. Describes the format only.

use serde_json::Value;

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Seconds (Claude Code's unit; its default is 600).
pub const TIMEOUT_SECS: u64 = 5;

/// The hook events Claude Code documents, less `WorktreeCreate` and `WorktreeRemove`: a
/// command hook on those replaces Claude Code's own `git worktree` handling and must print
/// the worktree path, so a capture hook there would break `--worktree`.
pub const EVENTS: &[&str] = &[
    "Setup",
    "SessionStart",
    "UserPromptSubmit",
    "UserPromptExpansion",
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
    "PostToolBatch",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "TaskCreated",
    "TaskCompleted",
    "Stop",
    "StopFailure",
    "TeammateIdle",
    "PreCompact",
    "PostCompact",
    "InstructionsLoaded",
    "ConfigChange",
    "CwdChanged",
    "FileChanged",
    "Elicitation",
    "ElicitationResult",
    "SessionEnd",
];

/// Events whose matcher is a tool name: `*` says "every tool" to a reader of the file.
/// Elsewhere the matcher is left out, which matches everything (and, for `FileChanged`,
/// registers no extra files to watch).
const TOOL_EVENTS: &[&str] = &[
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".claude/settings.json",
    project_file: ".claude/settings.json",
    bare: false,
    layout: Layout::Grouped,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

fn entry(event: &str, command: &str) -> Value {
    let matcher = TOOL_EVENTS.contains(&event).then_some("*");
    agent::group(matcher, agent::command_handler(command, TIMEOUT_SECS))
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::ClaudeCode, ctx.changed)
}
