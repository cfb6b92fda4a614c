//! Kiro CLI: hooks live in an agent's configuration file, and only the agent whose file
//! holds them runs them (Kiro's built-in default agent has no file to add hooks to). difflore
//! merges its hooks into an agent of its own, `~/.kiro/agents/difflore.json` (user) or
//! `<project>/.kiro/agents/difflore.json`, flat `event → [{command, timeout_ms}]` under
//! `hooks`, `timeout_ms` in milliseconds. A new file gets Kiro's default tools; every key
//! the user set stays as it is.

use serde_json::{Map, Value};

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

/// Milliseconds (Kiro's unit; its default is 30000).
pub const TIMEOUT_MS: u64 = 5000;

/// The agent difflore's file defines: `kiro-cli chat --agent difflore`.
pub const AGENT_NAME: &str = "difflore";

/// Every hook trigger Kiro CLI documents.
pub const EVENTS: &[&str] = &[
    "agentSpawn",
    "userPromptSubmit",
    "preToolUse",
    "postToolUse",
    "stop",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".kiro/agents/difflore.json",
    project_file: ".kiro/agents/difflore.json",
    layout: Layout::Flat,
    bare: false,
    events: EVENTS,
    entry,
    fill_root,
    notes,
};

/// No matcher: a hook without one applies to every tool.
fn entry(_event: &str, command: &str) -> Value {
    let mut handler = Map::new();
    handler.insert("command".into(), command.into());
    handler.insert("timeout_ms".into(), TIMEOUT_MS.into());
    Value::Object(handler)
}

/// A new agent file is an agent: a name, and the default agent's tools so choosing it
/// takes nothing away. A file that already names its agent is the user's, and stays as it is.
fn fill_root(root: &mut Map<String, Value>) {
    if root.contains_key("name") {
        return;
    }
    let defaults = [
        ("name", Value::from(AGENT_NAME)),
        (
            "description",
            Value::from("Kiro's default tools, with difflore capturing the session"),
        ),
        ("tools", Value::Array(vec!["*".into()])),
    ];
    for (key, value) in defaults {
        root.entry(key).or_insert(value);
    }
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    let mut notes = vec![Note::KiroChooseAgent];
    notes.extend(agent::restart_note(Client::Kiro, ctx.changed));
    notes
}
