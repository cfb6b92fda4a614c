//! Uninstalling removes difflore's entries and nothing else, and creates no file.

use difflore::install::{self, Action, Client};
use serde_json::json;

use super::support::{Dirs, existing, read_json, write_json};

#[test]
fn uninstall_removes_only_difflores_entries() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        let original = existing(client);
        write_json(&path, &original);
        install::install(&request).unwrap();
        let outcome = install::uninstall(&request).unwrap();
        assert!(outcome.changed, "{client:?}");
        assert_eq!(outcome.action, Action::Uninstall);
        assert_eq!(outcome.entries, install::events(client).len(), "{client:?}");
        assert_eq!(read_json(&path), original, "{client:?}");
        let second = install::uninstall(&request).unwrap();
        assert!(!second.changed && second.entries == 0, "{client:?}");
    }
}

#[test]
fn uninstall_after_install_into_a_missing_file_leaves_no_hooks_behind() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        install::install(&request).unwrap();
        install::uninstall(&request).unwrap();
        let left = read_json(&request.settings_path());
        let expected = match client {
            Client::Cursor | Client::Copilot | Client::VsCode => json!({ "version": 1 }),
            // The file difflore created is a Kiro agent, and stays one.
            Client::Kiro => json!({
                "name": "difflore",
                "description": "Kiro's default tools, with difflore capturing the session",
                "tools": ["*"],
            }),
            _ => json!({}),
        };
        assert_eq!(left, expected, "{client:?}");
    }
}

#[test]
fn uninstall_keeps_a_users_handler_that_shares_a_group_with_ours() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::ClaudeCode);
    let path = request.settings_path();
    write_json(
        &path,
        &json!({ "hooks": { "Stop": [ { "hooks": [
            { "type": "command", "command": "say done" },
            { "type": "command", "command": "difflore-hook --client claude-code" }
        ] } ] } }),
    );
    install::uninstall(&request).unwrap();
    assert_eq!(
        read_json(&path),
        json!({ "hooks": { "Stop": [ { "hooks": [ { "type": "command", "command": "say done" } ] } ] } })
    );
}

#[test]
fn uninstall_without_a_file_creates_nothing() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let outcome = install::uninstall(&request).unwrap();
        assert!(!outcome.changed && outcome.entries == 0);
        assert!(!request.settings_path().exists(), "{client:?}");
    }
}
