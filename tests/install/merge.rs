//! Installing into a user's existing settings: their hooks, keys, order and indentation
//! stay; difflore's entries carry each agent's units and a quoted program path.

use std::fs;

use difflore::install::{self, Client};
use serde_json::json;

use super::support::{Dirs, existing, handlers, ours, read_json, write_json};

#[test]
fn install_keeps_other_hooks_unknown_keys_and_their_order() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        let original = existing(client);
        write_json(&path, &original);
        install::install(&request).unwrap();
        let after = read_json(&path);

        let before_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
        let after_keys: Vec<&String> = after.as_object().unwrap().keys().collect();
        let bare = client == Client::Droid;
        if bare {
            assert_eq!(
                &after_keys[..before_keys.len()],
                &before_keys[..],
                "{client:?}"
            );
        } else {
            assert_eq!(
                after_keys, before_keys,
                "{client:?}: top-level keys or order changed"
            );
        }
        for (key, value) in original.as_object().unwrap() {
            if key != "hooks" && !bare {
                assert_eq!(&after[key], value, "{client:?}: {key}");
            }
        }
        let theirs_map = original.get("hooks").unwrap_or(&original);
        for (event, list) in theirs_map.as_object().unwrap() {
            let theirs: Vec<_> = handlers(&original, event);
            let now = handlers(&after, event);
            assert_eq!(
                &now[..theirs.len()],
                &theirs[..],
                "{client:?} {event}: {list}"
            );
        }
    }
}

#[test]
fn user_indentation_is_kept() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Cursor);
    let path = request.settings_path();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "{\n    \"version\": 1,\n    \"hooks\": {}\n}\n").unwrap();
    install::install(&request).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\n    \"version\": 1,\n    \"hooks\": {\n        \""),
        "{text}"
    );
}

#[test]
fn program_paths_are_shell_quoted_and_still_recognised() {
    let dirs = Dirs::new();
    let mut request = dirs.user(Client::Gemini);
    request.program = "/opt/dev tools/difflore-hook".into();
    assert_eq!(
        request.command(),
        "'/opt/dev tools/difflore-hook' --client gemini"
    );
    install::install(&request).unwrap();
    request.program = install::PROGRAM.into();
    install::install(&request).unwrap();
    let settings = read_json(&request.settings_path());
    let stop = ours(&settings, "AfterAgent");
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0]["command"], json!("difflore-hook --client gemini"));
}

#[test]
fn timeouts_use_each_agents_unit() {
    let dirs = Dirs::new();
    let timeouts = |client| {
        let request = dirs.user(client);
        install::install(&request).unwrap();
        let settings = read_json(&request.settings_path());
        install::events(client)
            .iter()
            .map(|event| (*event, ours(&settings, event)[0].get("timeout").cloned()))
            .collect::<Vec<_>>()
    };
    for (_, t) in timeouts(Client::ClaudeCode) {
        assert_eq!(t, Some(json!(5)), "Claude Code: seconds");
    }
    for (event, t) in timeouts(Client::Codex) {
        let secs = if matches!(event, "SessionEnd" | "Interrupt") {
            3
        } else {
            5
        };
        assert_eq!(t, Some(json!(secs)), "Codex {event}: seconds");
    }
    for (_, t) in timeouts(Client::Gemini) {
        assert_eq!(t, Some(json!(5000)), "Gemini: milliseconds");
    }
    for client in [Client::Cursor, Client::Windsurf] {
        for (event, t) in timeouts(client) {
            assert_eq!(t, None, "{client:?} {event}");
        }
    }
}

#[test]
fn claude_code_never_hooks_worktree_creation() {
    let events = install::events(Client::ClaudeCode);
    assert!(!events.contains(&"WorktreeCreate") && !events.contains(&"WorktreeRemove"));
    assert!(events.contains(&"PostToolUseFailure") && events.contains(&"SessionEnd"));
}
