//! OpenAI Codex CLI: `~/.codex/hooks.json` (or `$CODEX_HOME/hooks.json`) and
//! `<project>/.codex/hooks.json`, grouped hooks, `timeout` in seconds. Reads `config.toml`
//! to warn when hooks are switched off there, and writes it only to record trust for
//! difflore's own entries when asked (`--trust`), through `codex_trust`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use serde_json::Map;

use super::agent::{self, AgentSpec, Layout, NoteContext};
use super::codex_trust::{self, TrustOutcome};
use super::{InstallError, Note, Request, Scope};
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
    bare: false,
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
    let mut notes = Vec::new();
    // Trust is tied to the hook definition, so even an unchanged file is worth the reminder
    // when the user runs install again because nothing arrives.
    let user_config = ctx.user_dir(".codex").join("config.toml");
    let wanted = codex_trust::entries(&trust_source(ctx.request, ctx.settings_path), ctx.settings);
    if !ctx.request.trust && codex_trust::trusted_count(&user_config, &wanted) < wanted.len() {
        notes.push(Note::CodexTrustHooks);
    }
    let mut configs = vec![user_config];
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
pub(super) fn hooks_turned_off(config: &Path) -> bool {
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

/// The user's `config.toml`, where Codex keeps every hook's trust record.
pub(super) fn user_config(request: &Request) -> PathBuf {
    let loc = &request.locations;
    match &loc.codex_home {
        Some(dir) => dir.join("config.toml"),
        None => loc.home.join(".codex/config.toml"),
    }
}

/// The hooks file as Codex names it in trust keys: it resolves a `CODEX_HOME` to its real
/// path, while `~/.codex` and project files keep the path they are found at.
pub(super) fn trust_source(request: &Request, settings_path: &Path) -> PathBuf {
    match (&request.locations.codex_home, request.scope) {
        (Some(dir), Scope::User) => std::fs::canonicalize(dir)
            .map(|dir| dir.join("hooks.json"))
            .unwrap_or_else(|_| settings_path.to_path_buf()),
        _ => settings_path.to_path_buf(),
    }
}

/// Trust exactly difflore's handlers in `settings` (the hooks file after the edit; none
/// after an uninstall) and forget difflore's stale records.
pub(super) fn record_trust(
    request: &Request,
    settings_path: &Path,
    settings: &Map<String, serde_json::Value>,
) -> Result<TrustOutcome, InstallError> {
    let source = trust_source(request, settings_path);
    let wanted = codex_trust::entries(&source, settings);
    let command = request.command();
    let ours: Vec<String> = EVENTS
        .iter()
        .filter_map(|event| {
            let group = entry(event, &command);
            let handler = group.get("hooks")?.get(0)?.as_object()?.clone();
            Some(codex_trust::handler_hash(event, None, &handler))
        })
        .collect();
    codex_trust::record(&user_config(request), &source, &wanted, &ours)
}
