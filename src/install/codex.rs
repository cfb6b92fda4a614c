//! OpenAI Codex CLI: `~/.codex/hooks.json` (or `$CODEX_HOME/hooks.json`) and
//! `<project>/.codex/hooks.json`, grouped hooks, `timeout` in seconds. Reads `config.toml`
//! only to warn when hooks are switched off there; never writes it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::agent::{self, AgentSpec, Layout, NoteContext};
use super::{Note, Scope};
use crate::shared::event::Client;

/// Seconds (Codex's unit).
pub const TIMEOUT_SECS: u64 = 5;
/// Codex caps `SessionEnd` and `Interrupt` hooks at 3 s and warns at every start about a
/// larger value.
pub const SHORT_TIMEOUT_SECS: u64 = 3;
const SHORT_EVENTS: &[&str] = &["SessionEnd", "Interrupt"];

/// Codex ignores event names it does not know, so older versions load this list too.
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PreCompact",
    "PostCompact",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "Interrupt",
    "SessionEnd",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".codex/hooks.json",
    project_file: ".codex/hooks.json",
    layout: Layout::Grouped,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

/// No matcher: Codex runs a group without one for every tool and every source.
fn entry(event: &str, command: &str) -> Value {
    let timeout = if SHORT_EVENTS.contains(&event) {
        SHORT_TIMEOUT_SECS
    } else {
        TIMEOUT_SECS
    };
    agent::group(None, agent::command_handler(command, timeout))
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    // Trust is tied to the hook definition, so even an unchanged file is worth the reminder
    // when the user runs install again because nothing arrives.
    let mut notes = vec![Note::CodexTrustHooks];
    let mut configs = vec![ctx.user_dir(".codex").join("config.toml")];
    if ctx.scope == Scope::Project {
        configs.push(ctx.project.join(".codex/config.toml"));
        notes.push(Note::ProjectTrust {
            client: Client::Codex,
        });
    }
    for config in configs {
        if hooks_turned_off(&config) {
            notes.push(Note::CodexHooksTurnedOff { config });
        }
    }
    notes.extend(agent::restart_note(Client::Codex, ctx.changed));
    notes
}

/// `[features] hooks = false`, or the deprecated `codex_hooks = false`. An unreadable file
/// is Codex's to complain about, not ours.
fn hooks_turned_off(config: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(config) else {
        return false;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    let Some(features) = table.get("features").and_then(toml::Value::as_table) else {
        return false;
    };
    ["hooks", "codex_hooks"]
        .iter()
        .any(|key| features.get(*key).and_then(toml::Value::as_bool) == Some(false))
}

/// The user-scope file, honouring a moved Codex home.
pub(super) fn user_file(home: &Path, codex_home: Option<&Path>) -> PathBuf {
    match codex_home {
        Some(dir) => dir.join("hooks.json"),
        None => home.join(SPEC.user_file),
    }
}
