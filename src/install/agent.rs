//! What one agent's hook configuration looks like: the description each agent file fills
//! in (file locations, event names, the entry difflore adds, notes for the user).
//! It describes formats only; reading, merging and writing live elsewhere.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Note, Request, Scope};
use crate::shared::event::Client;

/// How an agent nests its hooks under each event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// `event → [{matcher?, hooks: [{type, command, timeout}]}]` (Claude Code, Codex, Gemini).
    Grouped,
    /// `event → [{command, …}]` (Cursor, Windsurf).
    Flat,
}

pub(super) struct AgentSpec {
    /// The settings file under the home directory.
    pub user_file: &'static str,
    /// The settings file under the project directory.
    pub project_file: &'static str,
    pub layout: Layout,
    /// The event map is the whole file (Droid's `hooks.json`), not its `hooks` key.
    pub bare: bool,
    /// Every lifecycle and tool event the agent documents that a capture hook may observe.
    pub events: &'static [&'static str],
    /// difflore's entry for one event: a group for `Grouped`, a handler for `Flat`.
    pub entry: fn(event: &str, command: &str) -> Value,
    /// Top-level keys the agent requires besides `hooks` (Cursor's `"version": 1`).
    pub fill_root: fn(&mut Map<String, Value>),
    /// What the user should know after an install.
    pub notes: fn(&NoteContext) -> Vec<Note>,
}

/// What the note makers may look at: where things are, and what the install did.
pub(super) struct NoteContext<'a> {
    pub request: &'a Request,
    pub scope: Scope,
    pub home: &'a Path,
    pub project: &'a Path,
    /// The agent's user-level directory when the caller moved it (Codex's `CODEX_HOME`).
    pub agent_home: Option<&'a Path>,
    /// The settings file after the install.
    pub settings: &'a Map<String, Value>,
    pub settings_path: &'a Path,
    pub changed: bool,
}

impl NoteContext<'_> {
    /// A file next to the settings file of the other scope, e.g. `config.toml`.
    pub fn user_dir(&self, default: &str) -> PathBuf {
        match self.agent_home {
            Some(dir) => dir.to_path_buf(),
            None => self.home.join(default),
        }
    }
}

/// A handler object `{"type": "command", "command": …, "timeout": …}` for grouped layouts.
pub(super) fn command_handler(command: &str, timeout: u64) -> Value {
    let mut handler = Map::new();
    handler.insert("type".into(), "command".into());
    handler.insert("command".into(), command.into());
    handler.insert("timeout".into(), timeout.into());
    Value::Object(handler)
}

/// A group `{"matcher"?: …, "hooks": [handler]}`.
pub(super) fn group(matcher: Option<&str>, handler: Value) -> Value {
    let mut group = Map::new();
    if let Some(matcher) = matcher {
        group.insert("matcher".into(), matcher.into());
    }
    group.insert("hooks".into(), Value::Array(vec![handler]));
    Value::Object(group)
}

pub(super) fn no_root_keys(_: &mut Map<String, Value>) {}

/// Notes every agent shares: sessions already running keep the hooks they started with.
pub(super) fn restart_note(client: Client, changed: bool) -> Vec<Note> {
    if changed {
        vec![Note::RestartSessions { client }]
    } else {
        Vec::new()
    }
}
