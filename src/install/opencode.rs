//! OpenCode: no command hooks, so a plugin of difflore's own, `difflore.js` in
//! `$XDG_CONFIG_HOME/opencode/plugins/` (`~/.config/…` when unset; user) or
//! `<project>/.opencode/plugins/`, which OpenCode
//! loads at startup. It hands each event below to `difflore-hook --client opencode` on
//! stdin as `{plugin_hook, directory, event | input, output}`, never waits for it and never
//! throws. `chat.params` and `chat.headers` are never handed on: they can carry credentials.

use std::path::PathBuf;

use super::owned::{MARKER, Wanted};
use super::{Locations, Scope};

/// The plugin hooks difflore's plugin implements.
const HOOKS: &[&str] = &["chat.message", "tool.execute.before", "tool.execute.after"];

/// Everything the plugin hands on: its hooks, then the bus events it passes through (the
/// rest, such as `message.part.delta` once per streamed chunk, would cost a process each).
pub const EVENTS: &[&str] = &[
    "chat.message",
    "tool.execute.before",
    "tool.execute.after",
    "session.created",
    "session.updated",
    "session.status",
    "session.idle",
    "session.diff",
    "session.compacted",
    "session.error",
    "session.deleted",
    "message.updated",
    "permission.asked",
];

/// rw-r--r--: OpenCode reads it; it is not run.
const MODE: u32 = 0o644;

pub(super) fn file(scope: Scope, locations: &Locations) -> PathBuf {
    match scope {
        Scope::User => match &locations.xdg_config_home {
            Some(config) => config.join("opencode/plugins/difflore.js"),
            None => locations.home.join(".config/opencode/plugins/difflore.js"),
        },
        Scope::Project => locations.project.join(".opencode/plugins/difflore.js"),
    }
}

pub(super) fn plugin(scope: Scope, locations: &Locations, program: &str) -> Wanted {
    Wanted {
        event: "plugin",
        path: file(scope, locations),
        text: text(program),
        mode: MODE,
    }
}

/// The program line's prefix, so status can read the program back.
const PROGRAM_LINE: &str = "const PROGRAM = ";

fn text(program: &str) -> String {
    let program = json(program);
    let bus: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| !HOOKS.contains(e))
        .collect();
    let bus = json(&bus);
    format!(
        r#"// {MARKER}; `difflorectl hooks uninstall --client opencode` removes it.
// Hands OpenCode's events to difflore-hook on stdin. It never waits for the hook and never
// throws: capture must not slow OpenCode down or break it.
import {{ spawn }} from "node:child_process";

{PROGRAM_LINE}{program};
const EVENTS = new Set({bus});

function send(envelope) {{
  try {{
    // Encoded first: a payload that cannot be (a cycle) must not leave a hook waiting.
    const body = JSON.stringify(envelope);
    const child = spawn(PROGRAM, ["--client", "opencode"], {{
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    }});
    child.on("error", () => {{}});
    child.stdin.on("error", () => {{}});
    child.stdin.end(body);
    child.unref();
  }} catch {{
    // No hook, no capture; OpenCode carries on.
  }}
}}

export const DiffloreCapture = async ({{ directory }}) => ({{
  event: async ({{ event }}) => {{
    if (event && EVENTS.has(event.type)) send({{ plugin_hook: "event", directory, event }});
  }},
  "chat.message": async (input, output) =>
    send({{ plugin_hook: "chat.message", directory, input, output }}),
  "tool.execute.before": async (input, output) =>
    send({{ plugin_hook: "tool.execute.before", directory, input, output }}),
  "tool.execute.after": async (input, output) =>
    send({{ plugin_hook: "tool.execute.after", directory, input, output }}),
}});
"#
    )
}

/// A JavaScript literal for `value` (JSON is one); strings and lists never fail to encode.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The program an installed plugin spawns.
pub(super) fn program_of(text: &str) -> Option<String> {
    let line = text.lines().find_map(|l| l.strip_prefix(PROGRAM_LINE))?;
    serde_json::from_str(line.trim_end_matches(';')).ok()
}
