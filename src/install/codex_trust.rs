//! Codex hook trust: the state key and hash Codex's `/hooks` screen records in `config.toml`
//! (`[hooks.state."<hooks.json>:<event>:<group>:<handler>"] trusted_hash = "sha256:…"`),
//! computed as Codex computes them, and the edit that records them. Only handlers whose
//! command runs `difflore-hook` are ever looked at, so nothing else can become trusted.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::InstallError;
use super::hooks_map::is_ours;
use super::settings_file;

/// Events whose `matcher` Codex keeps when it hashes a group; for the others it hashes as
/// if there were none.
const MATCHER_EVENTS: &[&str] = &[
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PreCompact",
    "PostCompact",
    "SessionStart",
    "SubagentStart",
    "SubagentStop",
];

/// Events Codex gives 1 s by default and at most 3 s.
const SHORT_EVENTS: &[&str] = &["SessionEnd", "Interrupt"];

/// One handler's trust record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustEntry {
    pub key: String,
    pub hash: String,
}

/// What recording trust did to `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustOutcome {
    pub config: PathBuf,
    /// difflore's handlers trusted after the edit.
    pub trusted: usize,
    /// Records written or replaced (0: every one was already there).
    pub recorded: usize,
    /// Stale difflore records removed (handlers that moved or went away).
    pub removed: usize,
    pub backup: Option<PathBuf>,
}

/// Codex's label for an event in state keys and hashes: `PreToolUse` → `pre_tool_use`.
pub fn event_label(event: &str) -> String {
    let mut label = String::with_capacity(event.len() + 4);
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                label.push('_');
            }
            label.push(c.to_ascii_lowercase());
        } else {
            label.push(c);
        }
    }
    label
}

/// The state key of handler `handler` in group `group` under `event` of the file `source`.
pub fn key(source: &Path, event: &str, group: usize, handler: usize) -> String {
    format!(
        "{}:{}:{group}:{handler}",
        source.display(),
        event_label(event)
    )
}

/// The hash Codex compares with `trusted_hash`: SHA-256 over the compact JSON, keys sorted,
/// of `{event_name, matcher?, hooks: [handler]}`, where the handler is normalized (the
/// timeout filled in and bounded, `async` always present, unset options left out).
pub fn handler_hash(event: &str, matcher: Option<&str>, handler: &Map<String, Value>) -> String {
    let text = |k: &str| handler.get(k).and_then(Value::as_str);
    let given = handler.get("timeout").and_then(Value::as_u64);
    let timeout = if SHORT_EVENTS.contains(&event) {
        given.unwrap_or(1).clamp(1, 3)
    } else {
        given.unwrap_or(600).max(1)
    };
    let is_async = handler
        .get("async")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Keys in sorted order at every level, as Codex's canonical form has them.
    let mut normalized = Map::new();
    normalized.insert("async".into(), is_async.into());
    normalized.insert("command".into(), text("command").unwrap_or_default().into());
    if let Some(message) = text("statusMessage") {
        normalized.insert("statusMessage".into(), message.into());
    }
    normalized.insert("timeout".into(), timeout.into());
    normalized.insert("type".into(), "command".into());
    let mut identity = Map::new();
    identity.insert("event_name".into(), event_label(event).into());
    identity.insert(
        "hooks".into(),
        Value::Array(vec![Value::Object(normalized)]),
    );
    if let Some(matcher) = matcher.filter(|_| MATCHER_EVENTS.contains(&event)) {
        identity.insert("matcher".into(), matcher.into());
    }
    let digest = Sha256::digest(Value::Object(identity).to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Every difflore handler in a Codex hooks file (`root` parsed from `source`), with its key
/// and hash. Handlers of anyone else are skipped, whatever they run.
pub fn entries(source: &Path, root: &Map<String, Value>) -> Vec<TrustEntry> {
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (event, groups) in hooks {
        let Some(groups) = groups.as_array() else {
            continue;
        };
        for (g, group) in groups.iter().enumerate() {
            let matcher = group.get("matcher").and_then(Value::as_str);
            let handlers = group.get("hooks").and_then(Value::as_array);
            for (h, handler) in handlers.into_iter().flatten().enumerate() {
                let command = handler.get("type").and_then(Value::as_str) == Some("command");
                if let (true, true, Some(map)) = (command, is_ours(handler), handler.as_object()) {
                    found.push(TrustEntry {
                        key: key(source, event, g, h),
                        hash: handler_hash(event, matcher, map),
                    });
                }
            }
        }
    }
    found
}

/// The trust records in `config` as Codex reads them: key → trusted hash.
pub fn recorded(config: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let state = table
        .get("hooks")
        .and_then(|h| h.get("state"))
        .and_then(toml::Value::as_table);
    state
        .into_iter()
        .flatten()
        .filter_map(|(key, record)| {
            let hash = record.get("trusted_hash")?.as_str()?;
            Some((key.clone(), hash.to_owned()))
        })
        .collect()
}

/// How many of `wanted` `config` already trusts with exactly that hash.
pub fn trusted_count(config: &Path, wanted: &[TrustEntry]) -> usize {
    let have = recorded(config);
    wanted
        .iter()
        .filter(|w| have.iter().any(|(k, h)| *k == w.key && *h == w.hash))
        .count()
}

/// Make `config` trust exactly `wanted` among difflore's records for `source`: write the
/// missing ones and drop the records of `source` that carry one of `ours` (the hashes of
/// difflore's own entries) but no longer name a difflore handler. Other records stay.
pub fn record(
    config: &Path,
    source: &Path,
    wanted: &[TrustEntry],
    ours: &[String],
) -> Result<TrustOutcome, InstallError> {
    let have = recorded(config);
    let prefix = format!("{}:", source.display());
    let is_stale = |key: &str, hash: &str| {
        key.starts_with(&prefix)
            && ours.iter().any(|o| o == hash)
            && !wanted.iter().any(|w| w.key == key)
    };
    let missing = wanted
        .iter()
        .any(|w| !have.iter().any(|(k, h)| *k == w.key && *h == w.hash));
    if !missing && !have.iter().any(|(k, h)| is_stale(k, h)) {
        return Ok(TrustOutcome {
            config: config.to_path_buf(),
            trusted: wanted.len(),
            recorded: 0,
            removed: 0,
            backup: None,
        });
    }
    let loaded = settings_file::load_raw(config)?;
    let original = String::from_utf8_lossy(loaded.original.as_deref().unwrap_or_default());
    let mut doc = original
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| InstallError::Toml {
            path: config.to_path_buf(),
            message: e.to_string(),
        })?;
    let shape = |pointer: &str| InstallError::Shape {
        path: config.to_path_buf(),
        pointer: pointer.into(),
        expected: "a table",
    };
    let hooks = doc
        .entry("hooks")
        .or_insert_with(|| implicit_table().into());
    let hooks = hooks.as_table_like_mut().ok_or_else(|| shape("/hooks"))?;
    let state = hooks
        .entry("state")
        .or_insert_with(|| implicit_table().into());
    let state = state
        .as_table_like_mut()
        .ok_or_else(|| shape("/hooks/state"))?;
    let stale: Vec<String> = state
        .iter()
        .filter(|(key, record)| {
            let hash = record.get("trusted_hash").and_then(|v| v.as_str());
            hash.is_some_and(|h| is_stale(key, h))
        })
        .map(|(key, _)| key.to_owned())
        .collect();
    for key in &stale {
        state.remove(key);
    }
    let mut recorded = 0;
    for entry in wanted {
        let current = state
            .get(&entry.key)
            .and_then(|r| r.get("trusted_hash"))
            .and_then(|v| v.as_str());
        if current == Some(entry.hash.as_str()) {
            continue;
        }
        let record = state.entry(&entry.key).or_insert_with(toml_edit::table);
        let record = record
            .as_table_like_mut()
            .ok_or_else(|| shape("/hooks/state/<difflore entry>"))?;
        record.insert("trusted_hash", toml_edit::value(entry.hash.as_str()));
        recorded += 1;
    }
    let outcome = |backup| TrustOutcome {
        config: config.to_path_buf(),
        trusted: wanted.len(),
        recorded,
        removed: stale.len(),
        backup,
    };
    if recorded == 0 && stale.is_empty() {
        return Ok(outcome(None));
    }
    let backup = settings_file::store(config, &loaded, &doc.to_string())?;
    Ok(outcome(backup))
}

/// A table that shows up only through its children's headers (`[hooks.state."…"]`).
fn implicit_table() -> toml_edit::Table {
    let mut table = toml_edit::Table::new();
    table.set_implicit(true);
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn handler(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// Derived by hand from Codex's source (`command_hook_hash` in hooks/src/engine/
    /// discovery.rs, `version_for_toml` in config/src/fingerprint.rs): the identity
    /// `{"event_name":"pre_tool_use","hooks":[{"async":false,"command":"difflore-hook
    /// --client codex","timeout":5,"type":"command"}]}`, compact, keys sorted, SHA-256.
    /// Codex 0.171.0's `app-server` `hooks/list` reports the same `currentHash`.
    #[test]
    fn hash_matches_the_one_codex_computes_for_difflores_handler() {
        let ours = handler(json!({
            "type": "command", "command": "difflore-hook --client codex", "timeout": 5
        }));
        assert_eq!(
            handler_hash("PreToolUse", None, &ours),
            "sha256:6d444b92815455c596e140ae4fa9e69510c6e36ca6fa17ed7fc7bc23bebed5bc"
        );
        let short = handler(json!({
            "type": "command", "command": "difflore-hook --client codex", "timeout": 3
        }));
        assert_eq!(
            handler_hash("SessionEnd", None, &short),
            "sha256:c31bb42842ddbd91e199f4fc20549867a60e28991b93b616b22691cc309b5a26"
        );
    }

    #[test]
    fn stop_ignores_its_matcher_and_session_end_clamps_its_timeout() {
        let ours = handler(json!({
            "type": "command", "command": "difflore-hook --client codex", "timeout": 5
        }));
        assert_eq!(
            handler_hash("Stop", Some("x"), &ours),
            "sha256:2ec4f518c93797fde647727f53d369e769829adf78a69dbc56e5c05f8c8cd7f8"
        );
        assert_eq!(
            handler_hash("SessionEnd", None, &ours),
            handler_hash(
                "SessionEnd",
                None,
                &handler(
                    json!({"type": "command", "command": "difflore-hook --client codex", "timeout": 3})
                )
            )
        );
        assert_ne!(
            handler_hash("PreToolUse", Some("Bash"), &ours),
            handler_hash("PreToolUse", None, &ours)
        );
    }

    #[test]
    fn keys_name_the_file_the_snake_case_event_and_both_positions() {
        assert_eq!(
            key(Path::new("/h/.codex/hooks.json"), "UserPromptSubmit", 2, 0),
            "/h/.codex/hooks.json:user_prompt_submit:2:0"
        );
        assert_eq!(event_label("SessionStart"), "session_start");
    }

    #[test]
    fn only_difflores_handlers_get_entries() {
        let root = handler(json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "python3 stop.py", "timeout": 30}]},
            {"hooks": [
                {"type": "command", "command": "other"},
                {"type": "command", "command": "difflore-hook --client codex", "timeout": 5}
            ]}
        ]}}));
        let found = entries(Path::new("/h/hooks.json"), &root);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "/h/hooks.json:stop:1:1");
    }
}
