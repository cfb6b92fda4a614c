//! GitHub Copilot CLI and VS Code's agent hooks share one file difflore owns:
//! `~/.copilot/hooks/difflore.json` and `<project>/.github/hooks/difflore.json`,
//! `{"version": 1, "hooks": {event: [handler]}}`. Each reads its own keys of the handler
//! (Copilot CLI `bash`/`powershell` and `timeoutSec`, VS Code `command` and `timeout`, both
//! in seconds). Both load every file there, so one file (not one each) keeps an event from
//! being captured twice, and its command names no client: the payload tells them apart.

use serde_json::{Map, Value};

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Seconds (both agents' unit).
pub const TIMEOUT_SECS: u64 = 5;

/// PascalCase names: Copilot CLI then sends Claude-style payloads that name their event
/// (its camelCase registrations do not), and they are VS Code's own names.
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
    "Stop",
    "ErrorOccurred",
    "SessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".copilot/hooks/difflore.json",
    project_file: ".github/hooks/difflore.json",
    layout: Layout::Flat,
    bare: false,
    events: EVENTS,
    entry,
    fill_root,
    notes,
};

fn entry(_event: &str, command: &str) -> Value {
    let mut handler = Map::new();
    handler.insert("type".into(), "command".into());
    handler.insert("bash".into(), command.into());
    handler.insert("powershell".into(), command.into());
    handler.insert("timeoutSec".into(), TIMEOUT_SECS.into());
    handler.insert("command".into(), command.into());
    handler.insert("timeout".into(), TIMEOUT_SECS.into());
    Value::Object(handler)
}

/// Copilot CLI reads only files that declare `"version": 1`.
fn fill_root(root: &mut Map<String, Value>) {
    if root.contains_key("version") {
        return;
    }
    let rest = std::mem::take(root);
    root.insert("version".into(), 1.into());
    root.extend(rest);
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    let mut notes = agent::restart_note(Client::Copilot, ctx.changed);
    if ctx.changed {
        notes.push(Note::RestartSessions {
            client: Client::VsCode,
        });
    }
    notes
}
