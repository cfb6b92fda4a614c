//! What is installed where, read-only: per agent and scope, the events carrying difflore's
//! hook, whether its command still resolves to an executable `difflore-hook`, and whether
//! the agent will run it (Codex trust and `[features] hooks`, Gemini `hooksConfig.enabled`).
//! Never writes anything.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::hooks_map::{PROGRAM, is_ours};
use super::{
    Client, Request, Scope, cline, codex, codex_trust, kimi, opencode, owned, settings_file, spec,
    wanted_files,
};

/// One agent's hooks in one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeStatus {
    pub scope: Scope,
    pub path: PathBuf,
    /// Events carrying difflore's hook, in the file's order.
    pub events: Vec<String>,
    /// The file exists but could not be read or parsed.
    pub unreadable: bool,
    /// Every difflore command resolves to an executable `difflore-hook`.
    pub command_resolves: bool,
    /// Why the agent will not run the hooks, when it will not.
    pub blocked: Option<String>,
}

/// Status of `request.client` in `request.scope`.
pub fn scope_status(request: &Request, path_var: Option<&str>) -> ScopeStatus {
    if let Some(files) = wanted_files(request) {
        return own_files_status(request, &files, path_var);
    }
    if request.client == Client::Kimi {
        return kimi_status(request, path_var);
    }
    let path = request.settings_path();
    let spec = spec(request.client);
    let mut status = ScopeStatus {
        scope: request.scope,
        path: path.clone(),
        events: Vec::new(),
        unreadable: false,
        command_resolves: true,
        blocked: None,
    };
    let root = match settings_file::load(&path) {
        Ok(loaded) => loaded.root,
        Err(_) => {
            status.unreadable = true;
            return status;
        }
    };
    let hooks = if spec.bare {
        Some(&root)
    } else {
        root.get("hooks").and_then(Value::as_object)
    };
    let mut commands = Vec::new();
    for (event, list) in hooks.into_iter().flatten() {
        let handlers: Vec<&Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| match item.get("hooks").and_then(Value::as_array) {
                Some(inner) => inner.iter().collect::<Vec<_>>(),
                None => vec![item],
            })
            .filter(|h| is_ours(h))
            .collect();
        if !handlers.is_empty() {
            status.events.push(event.clone());
        }
        for h in handlers {
            let command = h.get("command").or_else(|| h.get("bash"));
            if let Some(c) = command.and_then(Value::as_str) {
                commands.push(c.to_owned());
            }
        }
    }
    status.command_resolves = commands.iter().all(|c| resolves(c, path_var));
    if status.events.is_empty() {
        return status;
    }
    status.blocked = match request.client {
        Client::Codex => {
            let config = codex::user_config(request);
            let wanted = codex_trust::entries(&codex::trust_source(request, &path), &root);
            if codex::hooks_turned_off(&config) {
                Some(format!("hooks are turned off in {}", config.display()))
            } else if codex_trust::trusted_count(&config, &wanted) < wanted.len() {
                let scope = match request.scope {
                    Scope::User => "",
                    Scope::Project => " --scope project",
                };
                Some(format!(
                    "not trusted: run difflorectl hooks install --client codex{scope} --trust"
                ))
            } else {
                None
            }
        }
        Client::Gemini => {
            let enabled = root
                .get("hooksConfig")
                .and_then(|c| c.get("enabled"))
                .and_then(Value::as_bool);
            (enabled == Some(false)).then(|| "hooksConfig.enabled is false".into())
        }
        _ => None,
    };
    status
}

/// Kimi's `[[hooks]]` tables in its config.toml.
fn kimi_status(request: &Request, path_var: Option<&str>) -> ScopeStatus {
    let path = request.settings_path();
    let mut status = ScopeStatus {
        scope: request.scope,
        path: path.clone(),
        events: Vec::new(),
        unreadable: false,
        command_resolves: true,
        blocked: None,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return status,
        Err(_) => {
            status.unreadable = true;
            return status;
        }
    };
    let Some(tables) = kimi::installed(&text) else {
        status.unreadable = true;
        return status;
    };
    status.command_resolves = tables.iter().all(|(_, c)| resolves(c, path_var));
    for (event, _) in tables {
        if !status.events.contains(&event) {
            status.events.push(event);
        }
    }
    status
}

/// Cline's scripts and OpenCode's plugin: which are difflore's, what they run, and whether
/// Cline will run a script (only while it is executable).
fn own_files_status(
    request: &Request,
    files: &[owned::Wanted],
    path_var: Option<&str>,
) -> ScopeStatus {
    let found = owned::installed(files);
    let events = match request.client {
        // One plugin file carries every event.
        Client::OpenCode if !found.events.is_empty() => opencode::EVENTS.to_vec(),
        _ => found.events.clone(),
    };
    let programs: Vec<Option<String>> = found
        .files
        .iter()
        .map(|(text, _)| match request.client {
            Client::OpenCode => opencode::program_of(text),
            _ => cline::program_of(text),
        })
        .collect();
    // Cline's Hooks tab turns a script off by clearing its executable bits.
    let off: Vec<&str> = found
        .events
        .iter()
        .zip(&found.files)
        .filter(|(_, (_, mode))| request.client == Client::Cline && mode & 0o111 == 0)
        .map(|(event, _)| *event)
        .collect();
    ScopeStatus {
        scope: request.scope,
        path: request.settings_path(),
        events: events.into_iter().map(str::to_owned).collect(),
        unreadable: found.unreadable,
        command_resolves: programs
            .iter()
            .all(|p| p.as_deref().is_some_and(|p| program_resolves(p, path_var))),
        blocked: (!off.is_empty()).then(|| {
            format!(
                "not executable, so turned off in Cline's Hooks tab: {}",
                off.join(", ")
            )
        }),
    }
}

/// The command's program is `difflore-hook`, found as given or on `path_var`, executable.
fn resolves(command: &str, path_var: Option<&str>) -> bool {
    let program = command.split_whitespace().next().unwrap_or_default();
    program_resolves(program.trim_matches(|c| c == '\'' || c == '"'), path_var)
}

/// `program` is `difflore-hook`, found as given or on `path_var`, executable.
fn program_resolves(program: &str, path_var: Option<&str>) -> bool {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return program.rsplit('/').next() == Some(PROGRAM) && executable(Path::new(program));
    }
    path_var
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .any(|dir| executable(&Path::new(dir).join(program)))
}
