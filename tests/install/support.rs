//! Helpers every install test shares: temp home and project dirs, settings files read
//! and written as JSON, difflore's handlers picked out of them, and a user's own settings.

use std::fs;
use std::path::{Path, PathBuf};

use difflore::install::{self, BACKUP_SUFFIX, Client, Locations, Request, Scope};
use serde_json::{Value, json};

pub struct Dirs {
    _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub project: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir().expect("temp dir");
        let home = tmp.path().join("home");
        let project = tmp.path().join("project");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&project).unwrap();
        Dirs {
            _tmp: tmp,
            home,
            project,
        }
    }

    pub fn request(&self, client: Client, scope: Scope) -> Request {
        Request::new(client, scope, Locations::new(&self.home, &self.project))
    }

    pub fn user(&self, client: Client) -> Request {
        self.request(client, Scope::User)
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read settings")).expect("settings parse")
}

pub fn write_json(path: &Path, value: &Value) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    fs::write(path, text).unwrap();
}

/// Every handler object under `hooks[event]`, whatever the layout.
pub fn handlers<'a>(settings: &'a Value, event: &str) -> Vec<&'a Value> {
    // Droid's hooks.json is the bare event map.
    let list = settings["hooks"][event]
        .as_array()
        .or_else(|| settings[event].as_array());
    let Some(list) = list else {
        return Vec::new();
    };
    list.iter()
        .flat_map(|item| match item.get("hooks").and_then(Value::as_array) {
            Some(inner) => inner.iter().collect::<Vec<_>>(),
            None => vec![item],
        })
        .collect()
}

pub fn ours<'a>(settings: &'a Value, event: &str) -> Vec<&'a Value> {
    handlers(settings, event)
        .into_iter()
        .filter(|h| {
            h["command"]
                .as_str()
                .is_some_and(|c| c.contains(install::PROGRAM))
        })
        .collect()
}

/// A settings file as a user might have it: their own hooks, unknown keys, odd ordering.
pub fn existing(client: Client) -> Value {
    match client {
        Client::ClaudeCode => json!({
            "model": "opus",
            "permissions": { "allow": ["Bash(ls:*)"] },
            "hooks": {
                "PreToolUse": [
                    { "matcher": "Bash", "hooks": [
                        { "type": "command", "command": "~/bin/guard.sh", "timeout": 30 }
                    ] }
                ],
                "SomeFutureEvent": [ { "hooks": [ { "type": "command", "command": "other" } ] } ]
            },
            "zz_unknown": { "nested": [1, 2, { "deep": true }] }
        }),
        Client::Codex => json!({
            "description": "team hooks",
            "hooks": {
                "Stop": [ { "hooks": [
                    { "type": "command", "command": "python3 stop.py", "timeout": 30 }
                ] } ]
            }
        }),
        Client::Gemini => json!({
            "theme": "Dracula",
            "hooksConfig": { "notifications": true },
            "hooks": {
                "BeforeTool": [ { "matcher": "write_file", "hooks": [
                    { "type": "command", "command": "./lint.sh", "timeout": 10000 }
                ] } ]
            },
            "mcpServers": { "db": { "command": "db-mcp", "args": ["--ro"] } }
        }),
        Client::Cursor => json!({
            "version": 1,
            "hooks": { "afterFileEdit": [ { "command": "./format.sh" } ] },
            "x-team": "platform"
        }),
        Client::Windsurf => json!({
            "hooks": { "pre_run_command": [ { "command": "python3 guard.py", "show_output": true } ] },
            "note": "keep me"
        }),
        Client::Droid => json!({
            "PreToolUse": [ { "matcher": "Execute", "hooks": [
                { "type": "command", "command": "./guard.sh", "timeout": 10 }
            ] } ]
        }),
        Client::Copilot | Client::VsCode => json!({
            "version": 1,
            "hooks": { "PreToolUse": [ { "type": "command", "bash": "./guard.sh", "timeoutSec": 10 } ] }
        }),
        Client::QwenCode | Client::Auggie => json!({
            "model": { "name": "m" },
            "hooks": { "Stop": [ { "hooks": [ { "type": "command", "command": "say done", "timeout": 1000 } ] } ] }
        }),
        Client::Crush => json!({
            "$schema": "https://charm.land/crush.json",
            "options": { "debug": false },
            "hooks": { "PreToolUse": [ { "matcher": "^bash$", "command": "./hooks/guard.sh", "timeout": 10 } ] }
        }),
        Client::Kiro => json!({
            "name": "reviewer",
            "tools": ["fs_read", "execute_bash"],
            "hooks": { "preToolUse": [ { "matcher": "execute_bash", "command": "./guard.sh", "timeout_ms": 10000 } ] }
        }),
        Client::Cline | Client::OpenCode | Client::Kimi | Client::Vibe => {
            json!({ "x-team": "platform" })
        }
    }
}

pub fn install_backup(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(BACKUP_SUFFIX);
    path.with_file_name(name)
}
