//! Charm Crush: hooks under `hooks` in `crush.json`, the user's in
//! `$CRUSH_GLOBAL_CONFIG/crush.json` or `$XDG_CONFIG_HOME/crush/crush.json`
//! (`~/.config/crush/crush.json`), a project's in `<project>/crush.json`; flat
//! `event → [{command, timeout}]`, `timeout` in seconds. Crush refuses its whole config over
//! an event name it does not know, so difflore hooks only `PreToolUse`, the one event every
//! Crush with hooks has. Crush also reads JSONC; a file with comments is left untouched.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::agent::{self, AgentSpec, Layout, NoteContext};
use super::{Locations, Note};
use crate::shared::event::Client;

/// Seconds (Crush's unit; its default is 30).
pub const TIMEOUT_SECS: u64 = 5;

/// The events difflore hooks: the one Crush's hook reference documents.
pub const EVENTS: &[&str] = &["PreToolUse"];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".config/crush/crush.json",
    project_file: "crush.json",
    layout: Layout::Flat,
    bare: false,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

/// Where Crush reads the user's configuration.
pub(super) fn user_file(locations: &Locations) -> PathBuf {
    if let Some(dir) = &locations.crush_global {
        return dir.join("crush.json");
    }
    match &locations.xdg_config_home {
        Some(config) => config.join("crush/crush.json"),
        None => locations.home.join(SPEC.user_file),
    }
}

/// No matcher: a hook without one runs for every tool. No display `name` either: nothing
/// needs it, and only the documented minimum goes into a file Crush validates.
fn entry(_event: &str, command: &str) -> Value {
    let mut handler = Map::new();
    handler.insert("command".into(), command.into());
    handler.insert("timeout".into(), TIMEOUT_SECS.into());
    Value::Object(handler)
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::Crush, ctx.changed)
}
