//! Windsurf (Cascade hooks): `~/.codeium/windsurf/hooks.json` and
//! `<project>/.windsurf/hooks.json`, `{"hooks": {event: [{"command": …}]}}`. Windsurf has
//! no per-hook timeout setting.

use serde_json::{Map, Value};

use super::Note;
use super::agent::{self, AgentSpec, Layout, NoteContext};
use crate::shared::event::Client;

pub const EVENTS: &[&str] = &[
    "pre_user_prompt",
    "pre_read_code",
    "post_read_code",
    "pre_write_code",
    "post_write_code",
    "pre_run_command",
    "post_run_command",
    "pre_mcp_tool_use",
    "post_mcp_tool_use",
    "post_cascade_response",
    "post_cascade_response_with_transcript",
    "post_setup_worktree",
];

pub(super) const SPEC: AgentSpec = AgentSpec {
    user_file: ".codeium/windsurf/hooks.json",
    project_file: ".windsurf/hooks.json",
    bare: false,
    layout: Layout::Flat,
    events: EVENTS,
    entry,
    fill_root: agent::no_root_keys,
    notes,
};

fn entry(_event: &str, command: &str) -> Value {
    let mut handler = Map::new();
    handler.insert("command".into(), command.into());
    Value::Object(handler)
}

fn notes(ctx: &NoteContext) -> Vec<Note> {
    agent::restart_note(Client::Windsurf, ctx.changed)
}
