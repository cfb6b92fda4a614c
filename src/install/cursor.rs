//! Cursor: `~/.cursor/hooks.json` and `<project>/.cursor/hooks.json`,
//! `{"version": 1, "hooks": {event: [{"command": …}]}}`. No timeout: the hook bounds its
//! own wait, and Cursor's default is generous.

use serde_json::{Map, Value};

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// The agent hooks Cursor documents. Tab (inline completion) hooks are left out: they fire
/// on keystrokes, outside any agent session.
pub const EVENTS: &[&str] = &[
    "sessionStart",
    "beforeSubmitPrompt",
    "preToolUse",
    "postToolUse",
    "postToolUseFailure",
    "beforeShellExecution",
    "afterShellExecution",
    "beforeMCPExecution",
    "afterMCPExecution",
    "beforeReadFile",
    "afterFileEdit",
    "subagentStart",
    "subagentStop",
    "afterAgentResponse",
    "afterAgentThought",
    "preCompact",
    "stop",
    "sessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".cursor/hooks.json",
    project_file: ".cursor/hooks.json",
    bare: false,
    layout: Layout::Flat,
    events: EVENTS,
    entry,
    fill_root,
    notes,
};

fn entry(_event: &str, command: &str) -> Value {
    let mut handler = Map::new();
    handler.insert("command".into(), command.into());
    Value::Object(handler)
}

/// Cursor reads only files that declare `"version": 1`; put it first, where Cursor's own
/// examples have it, and leave any other version alone.
fn fill_root(root: &mut Map<String, Value>) {
    if root.contains_key("version") {
        return;
    }
    let rest = std::mem::take(root);
    root.insert("version".into(), 1.into());
    root.extend(rest);
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::Cursor, ctx.changed)
}
