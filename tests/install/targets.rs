//! Which file an install writes: each agent's documented settings file per scope, created
//! when missing, and a symlinked one edited at its target.

use std::fs;

use difflore::install::{self, Action, Client, InstallError, Scope};
use serde_json::json;

use super::support::{Dirs, existing, install_backup, ours, read_json, write_json};

#[test]
fn install_into_a_missing_file_creates_it_with_every_event() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let outcome = install::install(&request).unwrap();
        assert!(outcome.changed && outcome.created, "{client:?}");
        assert_eq!(outcome.backup, None, "{client:?}");
        assert_eq!(outcome.action, Action::Install);
        assert_eq!(outcome.entries, install::events(client).len());
        let settings = read_json(&request.settings_path());
        for event in install::events(client) {
            let ours = ours(&settings, event);
            assert_eq!(ours.len(), 1, "{client:?} {event}");
            let command = request.command();
            assert_eq!(ours[0]["command"], json!(command), "{client:?} {event}");
        }
    }
}

#[test]
fn user_scope_paths_are_each_agents_documented_files() {
    let dirs = Dirs::new();
    let path = |client| dirs.user(client).settings_path();
    assert_eq!(
        path(Client::ClaudeCode),
        dirs.home.join(".claude/settings.json")
    );
    assert_eq!(path(Client::Codex), dirs.home.join(".codex/hooks.json"));
    assert_eq!(
        path(Client::Gemini),
        dirs.home.join(".gemini/settings.json")
    );
    assert_eq!(path(Client::Cursor), dirs.home.join(".cursor/hooks.json"));
    assert_eq!(
        path(Client::Windsurf),
        dirs.home.join(".codeium/windsurf/hooks.json")
    );
    let mut moved = dirs.user(Client::Codex);
    moved.locations.codex_home = Some(dirs.home.join("elsewhere"));
    assert_eq!(
        moved.settings_path(),
        dirs.home.join("elsewhere/hooks.json")
    );
}

#[test]
fn project_scope_writes_under_the_project_directory() {
    let expected = [
        (Client::ClaudeCode, ".claude/settings.json"),
        (Client::Codex, ".codex/hooks.json"),
        (Client::Gemini, ".gemini/settings.json"),
        (Client::Cursor, ".cursor/hooks.json"),
        (Client::Windsurf, ".windsurf/hooks.json"),
    ];
    for (client, relative) in expected {
        let dirs = Dirs::new();
        let outcome = install::install(&dirs.request(client, Scope::Project)).unwrap();
        assert_eq!(outcome.path, dirs.project.join(relative));
        assert_eq!(
            ours(&read_json(&outcome.path), install::events(client)[0]).len(),
            1
        );
        assert!(
            !dirs.home.join(relative).exists(),
            "{client:?} touched the home dir"
        );
    }
}

#[test]
fn project_scope_needs_an_existing_project_directory() {
    let dirs = Dirs::new();
    let mut request = dirs.request(Client::Cursor, Scope::Project);
    request.locations.project = dirs.project.join("missing");
    let err = install::install(&request).unwrap_err();
    assert!(matches!(err, InstallError::NoProjectDir { .. }), "{err:?}");
    assert!(!dirs.project.join("missing").exists());
}

#[test]
fn symlinked_settings_file_is_edited_at_its_target() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::ClaudeCode);
    let link = request.settings_path();
    let target = dirs.home.join("dotfiles/claude-settings.json");
    write_json(&target, &existing(Client::ClaudeCode));
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let outcome = install::install(&request).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(ours(&read_json(&target), "Stop").len(), 1);
    assert_eq!(outcome.backup, Some(install_backup(&target)));
}
