//! Kimi Code CLI: `[[hooks]]` tables (`event`, `matcher`, `command`, `timeout` in seconds)
//! in `~/.kimi-code/config.toml` (`$KIMI_CODE_HOME/config.toml`), the one file Kimi reads
//! hooks from (there is no project scope). difflore adds one table per event and removes
//! only its own, recognised by their `difflore-hook` command; every other table, key and
//! comment stays. Kimi refuses the whole file over a hook table with a key or an event it
//! does not know, so difflore's tables carry only `event`, `command` and `timeout`.

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::hooks_map::is_ours;
use super::{Action, InstallError, Request, settings_file};

/// Seconds (Kimi's unit; its default is 30, its limit 600).
pub const TIMEOUT_SECS: i64 = 5;

/// Every event Kimi Code CLI documents, but four: `TurnStarted`, `UserPromptQueued` and
/// `TaskStarted` came in 0.32, and an event an older Kimi does not know makes it refuse the
/// whole config file; `SessionHeartbeat` is a timer (a process a minute, saying nothing).
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PermissionResult",
    "PostToolUse",
    "PostToolUseFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "Notification",
    "Stop",
    "StopFailure",
    "Interrupt",
    "SessionEnd",
];

/// The user's config file: `$KIMI_CODE_HOME/config.toml`, else `~/.kimi-code/config.toml`.
pub(super) fn user_file(home: &Path, kimi_home: Option<&Path>) -> PathBuf {
    match kimi_home {
        Some(dir) => dir.join("config.toml"),
        None => home.join(".kimi-code/config.toml"),
    }
}

/// The file as an install or uninstall would leave it.
pub(super) struct Plan {
    pub path: PathBuf,
    pub loaded: settings_file::Loaded,
    pub text: String,
    pub changed: bool,
    pub entries: usize,
}

pub(super) fn plan(request: &Request, action: Action) -> Result<Plan, InstallError> {
    let path = request.settings_path();
    let loaded = settings_file::load_raw(&path)?;
    let original = String::from_utf8_lossy(loaded.original.as_deref().unwrap_or_default());
    let toml_error = |message: String| InstallError::Toml {
        path: path.clone(),
        message,
    };
    let mut doc = original
        .parse::<DocumentMut>()
        .map_err(|e| toml_error(e.to_string()))?;
    let wanted: Vec<Table> = match action {
        Action::Install => EVENTS
            .iter()
            .map(|event| table(event, &request.command()))
            .collect(),
        Action::Uninstall => Vec::new(),
    };
    let entries = match action {
        Action::Install => wanted.len(),
        Action::Uninstall => ours(&doc).len(),
    };
    let unchanged = same(&ours(&doc), &wanted) && (loaded.original.is_some() || wanted.is_empty());
    if unchanged {
        return Ok(Plan {
            path,
            text: original.into_owned(),
            loaded,
            changed: false,
            entries,
        });
    }
    let hooks = doc
        .entry("hooks")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(hooks) = hooks.as_array_of_tables_mut() else {
        return Err(InstallError::Shape {
            path: path.clone(),
            pointer: "/hooks".into(),
            expected: "an array of tables ([[hooks]])",
        });
    };
    // The user's tables keep their order; difflore's go where its first one was.
    let mut kept: Vec<Table> = Vec::new();
    let mut at = None;
    for t in hooks.iter() {
        if is_ours_table(t) {
            at.get_or_insert(kept.len());
            continue;
        }
        kept.push(t.clone());
    }
    let at = at.unwrap_or(kept.len());
    let tail = kept.split_off(at);
    hooks.clear();
    for t in kept.into_iter().chain(wanted).chain(tail) {
        hooks.push(t);
    }
    if hooks.is_empty() {
        doc.remove("hooks");
    }
    Ok(Plan {
        path,
        loaded,
        text: doc.to_string(),
        changed: true,
        entries,
    })
}

fn table(event: &str, command: &str) -> Table {
    let mut t = Table::new();
    t.insert("event", toml_edit::value(event));
    t.insert("command", toml_edit::value(command));
    t.insert("timeout", toml_edit::value(TIMEOUT_SECS));
    t
}

fn is_ours_table(t: &Table) -> bool {
    let command = t.get("command").and_then(Item::as_str).unwrap_or_default();
    is_ours(&serde_json::json!({ "command": command }))
}

/// difflore's tables, in the file's order.
fn ours(doc: &DocumentMut) -> Vec<&Table> {
    doc.get("hooks")
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(ArrayOfTables::iter)
        .filter(|t| is_ours_table(t))
        .collect()
}

/// The same tables, key for key, in the same order.
fn same(found: &[&Table], wanted: &[Table]) -> bool {
    let flat = |t: &Table| -> Vec<(String, String)> {
        t.iter()
            .map(|(k, v)| (k.to_owned(), v.to_string().trim().to_owned()))
            .collect()
    };
    found.len() == wanted.len() && found.iter().zip(wanted).all(|(f, w)| flat(f) == flat(w))
}

/// The events and commands of difflore's tables in `text`, read-only (for `hooks status`).
pub(super) fn installed(text: &str) -> Option<Vec<(String, String)>> {
    let doc = text.parse::<DocumentMut>().ok()?;
    Some(
        ours(&doc)
            .into_iter()
            .map(|t| {
                let s = |k: &str| {
                    t.get(k)
                        .and_then(Item::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                (s("event"), s("command"))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(home: &Path) -> Request {
        let loc = super::super::Locations::new(home, home);
        Request::new(super::super::Client::Kimi, super::super::Scope::User, loc)
    }

    #[test]
    fn the_users_tables_and_comments_stay_and_a_second_install_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".kimi-code/config.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let user = "# mine\ndefault_model = \"k2\"\n\n[[hooks]]\nevent = \"Stop\"\ncommand = \"notify-send done\"\n";
        std::fs::write(&file, user).unwrap();
        let req = request(dir.path());
        let plan = plan(&req, Action::Install).unwrap();
        assert!(plan.changed);
        assert!(plan.text.starts_with(user), "{}", plan.text);
        assert_eq!(installed(&plan.text).unwrap().len(), EVENTS.len());
        std::fs::write(&file, &plan.text).unwrap();
        assert!(!super::plan(&req, Action::Install).unwrap().changed);
        let removed = super::plan(&req, Action::Uninstall).unwrap();
        assert_eq!(removed.entries, EVENTS.len());
        assert_eq!(removed.text, user);
    }
}
