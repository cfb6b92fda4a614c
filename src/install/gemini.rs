//! Gemini CLI: `~/.gemini/settings.json` and `<project>/.gemini/settings.json`, grouped
//! hooks under `hooks`, `timeout` in milliseconds. Touches no other setting.

use serde_json::Value;

use super::agent::{self, AgentSpec, Layout, NoteContext};
use super::{Note, Scope};
use crate::shared::event::Client;

/// Milliseconds (Gemini CLI's unit; its default is 60000).
pub const TIMEOUT_MS: u64 = 5000;

/// Every lifecycle and tool event. Not the model events: BeforeModel and AfterModel carry
/// the whole model request, and AfterModel fires once per streamed chunk.
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "BeforeAgent",
    "BeforeToolSelection",
    "BeforeTool",
    "AfterTool",
    "AfterAgent",
    "Notification",
    "PreCompress",
    "SessionEnd",
];

/// Shown by Gemini's `/hooks` panel and matched by `hooksConfig.disabled`.
pub const HOOK_NAME: &str = "difflore";

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".gemini/settings.json",
    project_file: ".gemini/settings.json",
    bare: false,
    layout: Layout::Grouped,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

/// No matcher: a group without one runs for every tool and every lifecycle source.
fn entry(_event: &str, command: &str) -> Value {
    let mut handler = agent::command_handler(command, TIMEOUT_MS);
    if let Value::Object(map) = &mut handler {
        map.insert("name".into(), HOOK_NAME.into());
    }
    agent::group(None, handler)
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    let mut notes = Vec::new();
    let enabled = ctx
        .settings
        .get("hooksConfig")
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool);
    if enabled == Some(false) {
        notes.push(Note::GeminiHooksTurnedOff {
            settings: ctx.settings_path.to_path_buf(),
        });
    }
    if ctx.scope == Scope::Project {
        notes.push(Note::ProjectTrust {
            client: Client::Gemini,
        });
    }
    notes.extend(agent::restart_note(Client::Gemini, ctx.changed));
    notes
}
