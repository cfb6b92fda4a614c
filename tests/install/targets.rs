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

#[test]
fn kimi_and_kiro_and_opencode_follow_their_own_homes() {
    let dirs = Dirs::new();
    let path = |client| dirs.user(client).settings_path();
    assert_eq!(path(Client::Kimi), dirs.home.join(".kimi-code/config.toml"));
    assert_eq!(
        path(Client::Kiro),
        dirs.home.join(".kiro/agents/difflore.json")
    );
    let mut kimi = dirs.user(Client::Kimi);
    kimi.locations.kimi_home = Some(dirs.home.join("kimi"));
    assert_eq!(kimi.settings_path(), dirs.home.join("kimi/config.toml"));
    let mut opencode = dirs.user(Client::OpenCode);
    assert_eq!(
        opencode.settings_path(),
        dirs.home.join(".config/opencode/plugins/difflore.js")
    );
    opencode.locations.xdg_config_home = Some(dirs.home.join("xdg"));
    assert_eq!(
        opencode.settings_path(),
        dirs.home.join("xdg/opencode/plugins/difflore.js")
    );
    install::install(&opencode).unwrap();
    assert!(dirs.home.join("xdg/opencode/plugins/difflore.js").is_file());
}

#[test]
fn kimi_hooks_are_tables_in_its_config_and_it_has_no_project_scope() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Kimi);
    let outcome = install::install(&request).unwrap();
    assert!(outcome.changed && outcome.created);
    assert_eq!(outcome.entries, install::events(Client::Kimi).len());
    let text = fs::read_to_string(request.settings_path()).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let hooks = doc["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), install::events(Client::Kimi).len());
    for (table, event) in hooks.iter().zip(install::events(Client::Kimi)) {
        let table = table.as_table().unwrap();
        // Kimi refuses a hook table with any other key.
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        assert_eq!(keys, ["command", "event", "timeout"]);
        assert_eq!(table["event"].as_str(), Some(*event));
        assert_eq!(
            table["command"].as_str(),
            Some("difflore-hook --client kimi")
        );
        assert_eq!(table["timeout"].as_integer(), Some(5));
    }
    assert!(!install::install(&request).unwrap().changed);
    let status = install::status::scope_status(&request, None);
    assert_eq!(status.events.len(), install::events(Client::Kimi).len());
    let project = install::install(&dirs.request(Client::Kimi, Scope::Project));
    assert!(matches!(project, Err(InstallError::UserScopeOnly { .. })));
    let removed = install::uninstall(&request).unwrap();
    assert_eq!(removed.entries, install::events(Client::Kimi).len());
    assert_eq!(
        fs::read_to_string(request.settings_path()).unwrap().trim(),
        ""
    );
}

#[test]
fn crush_follows_crush_global_config_then_xdg_config_home() {
    let dirs = Dirs::new();
    let mut crush = dirs.user(Client::Crush);
    assert_eq!(
        crush.settings_path(),
        dirs.home.join(".config/crush/crush.json")
    );
    crush.locations.xdg_config_home = Some(dirs.home.join("xdg"));
    assert_eq!(
        crush.settings_path(),
        dirs.home.join("xdg/crush/crush.json")
    );
    crush.locations.crush_global = Some(dirs.home.join("cg"));
    assert_eq!(crush.settings_path(), dirs.home.join("cg/crush.json"));
    let project = dirs.request(Client::Crush, Scope::Project);
    assert_eq!(project.settings_path(), dirs.project.join("crush.json"));
}
