//! The hook installer and the service files, through the library API, against temp dirs
//! standing in for the home and project directories (never the real home).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use difflore::install::{
    self, Action, BACKUP_SUFFIX, Client, InstallError, Locations, Note, Request, Scope, service,
};
use serde_json::{Value, json};

struct Dirs {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
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

    fn request(&self, client: Client, scope: Scope) -> Request {
        Request::new(client, scope, Locations::new(&self.home, &self.project))
    }

    fn user(&self, client: Client) -> Request {
        self.request(client, Scope::User)
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read settings")).expect("settings parse")
}

fn write_json(path: &Path, value: &Value) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    fs::write(path, text).unwrap();
}

/// Every handler object under `hooks[event]`, whatever the layout.
fn handlers<'a>(settings: &'a Value, event: &str) -> Vec<&'a Value> {
    let Some(list) = settings["hooks"][event].as_array() else {
        return Vec::new();
    };
    list.iter()
        .flat_map(|item| match item.get("hooks").and_then(Value::as_array) {
            Some(inner) => inner.iter().collect::<Vec<_>>(),
            None => vec![item],
        })
        .collect()
}

fn ours<'a>(settings: &'a Value, event: &str) -> Vec<&'a Value> {
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
fn existing(client: Client) -> Value {
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
    }
}

#[test]
fn install_into_a_missing_file_creates_it_with_every_event() {
    for client in Client::ALL {
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
            let command = format!("difflore-hook --client {}", client.as_str());
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
fn install_keeps_other_hooks_unknown_keys_and_their_order() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        let original = existing(client);
        write_json(&path, &original);
        install::install(&request).unwrap();
        let after = read_json(&path);

        let before_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
        let after_keys: Vec<&String> = after.as_object().unwrap().keys().collect();
        assert_eq!(
            after_keys, before_keys,
            "{client:?}: top-level keys or order changed"
        );
        for (key, value) in original.as_object().unwrap() {
            if key != "hooks" {
                assert_eq!(&after[key], value, "{client:?}: {key}");
            }
        }
        for (event, list) in original["hooks"].as_object().unwrap() {
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
fn installing_twice_leaves_identical_bytes() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        write_json(&path, &existing(client));
        install::install(&request).unwrap();
        let first = fs::read(&path).unwrap();
        let backup_first = fs::read(install_backup(&path)).unwrap();
        let again = install::install(&request).unwrap();
        assert!(!again.changed, "{client:?}");
        assert_eq!(again.backup, None, "{client:?}");
        assert_eq!(fs::read(&path).unwrap(), first, "{client:?}");
        assert_eq!(
            fs::read(install_backup(&path)).unwrap(),
            backup_first,
            "{client:?}"
        );
    }
}

#[test]
fn uninstall_removes_only_difflores_entries() {
    for client in Client::ALL {
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
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        install::install(&request).unwrap();
        install::uninstall(&request).unwrap();
        let left = read_json(&request.settings_path());
        let expected = match client {
            Client::Cursor => json!({ "version": 1 }),
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
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let outcome = install::uninstall(&request).unwrap();
        assert!(!outcome.changed && outcome.entries == 0);
        assert!(!request.settings_path().exists(), "{client:?}");
    }
}

#[test]
fn reinstall_replaces_an_old_difflore_entry_in_place() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Codex);
    let path = request.settings_path();
    write_json(
        &path,
        &json!({ "hooks": { "Stop": [
            { "hooks": [ { "type": "command", "command": "first.sh" } ] },
            { "hooks": [ { "type": "command", "command": "/old/bin/difflore-hook --client codex", "timeout": 60 } ] },
            { "hooks": [ { "type": "command", "command": "last.sh" } ] }
        ], "Retired": [ { "hooks": [ { "type": "command", "command": "difflore-hook" } ] } ] } }),
    );
    install::install(&request).unwrap();
    let settings = read_json(&path);
    let stop: Vec<&str> = handlers(&settings, "Stop")
        .iter()
        .map(|h| h["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        stop,
        ["first.sh", "difflore-hook --client codex", "last.sh"]
    );
    assert_eq!(ours(&settings, "Stop")[0]["timeout"], json!(5));
    assert!(
        settings["hooks"].get("Retired").is_none(),
        "stale entry left behind"
    );
}

#[test]
fn malformed_file_is_an_error_naming_the_position_and_left_untouched() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bad = b"{\n  \"hooks\": {\n    \"x\": [,]\n  }\n}\n";
        fs::write(&path, bad).unwrap();
        for result in [
            install::install(&request).map(|_| ()),
            install::uninstall(&request).map(|_| ()),
            install::print(&request).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            match &err {
                InstallError::Parse { path: p, line, .. } => {
                    assert_eq!(p, &path);
                    assert_eq!(*line, 3);
                }
                other => panic!("{client:?}: expected a parse error, got {other:?}"),
            }
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("line 3, column"), "{message}");
        }
        assert_eq!(fs::read(&path).unwrap(), bad, "{client:?}");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{client:?}: stray files {names:?}");
    }
}

#[test]
fn unexpected_shape_is_an_error_naming_the_value() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Gemini);
    let path = request.settings_path();
    write_json(
        &path,
        &json!({ "hooks": { "BeforeTool": { "not": "a list" } } }),
    );
    let before = fs::read(&path).unwrap();
    let err = install::install(&request).unwrap_err();
    assert!(err.to_string().contains("/hooks/BeforeTool"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
    write_json(&path, &json!([1, 2]));
    let err = install::install(&request).unwrap_err();
    assert!(matches!(err, InstallError::Shape { .. }), "{err:?}");
}

fn install_backup(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(BACKUP_SUFFIX);
    path.with_file_name(name)
}

#[test]
fn backup_holds_the_previous_file_and_the_mode_is_kept() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        write_json(&path, &existing(client));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let original = fs::read(&path).unwrap();
        let outcome = install::install(&request).unwrap();
        assert_eq!(outcome.backup, Some(install_backup(&path)), "{client:?}");
        assert_eq!(
            fs::read(install_backup(&path)).unwrap(),
            original,
            "{client:?}"
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640, "{client:?}");
    }
}

#[test]
fn a_new_file_gets_no_backup_and_an_unchanged_one_no_new_backup() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Windsurf);
    install::install(&request).unwrap();
    assert!(!install_backup(&request.settings_path()).exists());
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
fn print_shows_the_install_without_writing() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let preview = install::print(&request).unwrap();
        assert!(preview.changed);
        assert!(
            !request.settings_path().exists(),
            "{client:?}: print wrote the file"
        );
        install::install(&request).unwrap();
        assert_eq!(fs::read_to_string(&preview.path).unwrap(), preview.text);
        let again = install::print(&request).unwrap();
        assert!(!again.changed);
        assert_eq!(again.text, preview.text);
    }
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

#[test]
fn codex_install_asks_the_user_to_trust_the_hooks() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Codex);
    let outcome = install::install(&request).unwrap();
    assert!(
        outcome.notes.contains(&Note::CodexTrustHooks),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.to_string().contains("/hooks"))
    );
    let again = install::install(&request).unwrap();
    assert!(again.notes.contains(&Note::CodexTrustHooks));
}

#[test]
fn codex_install_warns_when_hooks_are_turned_off() {
    let dirs = Dirs::new();
    let config = dirs.home.join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "model = \"o4\"\n[features]\ncodex_hooks = false\n").unwrap();
    let outcome = install::install(&dirs.user(Client::Codex)).unwrap();
    assert!(
        outcome.notes.contains(&Note::CodexHooksTurnedOff {
            config: config.clone()
        }),
        "{:?}",
        outcome.notes
    );
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "model = \"o4\"\n[features]\ncodex_hooks = false\n"
    );
}

#[test]
fn gemini_install_warns_when_hooks_are_turned_off() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Gemini);
    write_json(
        &request.settings_path(),
        &json!({ "hooksConfig": { "enabled": false } }),
    );
    let outcome = install::install(&request).unwrap();
    assert!(outcome.notes.contains(&Note::GeminiHooksTurnedOff {
        settings: request.settings_path()
    }));
    let project = install::install(&dirs.request(Client::Gemini, Scope::Project)).unwrap();
    assert!(project.notes.contains(&Note::ProjectTrust {
        client: Client::Gemini
    }));
}

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn installed_files_match_their_snapshots() {
    for client in Client::ALL {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        install::install(&request).unwrap();
        let text = fs::read_to_string(request.settings_path()).unwrap();
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(format!("install_user_{}", client.as_str()), text);
        });
    }
}

#[test]
fn service_files_match_their_snapshots() {
    let difflored = Path::new("/home/dev/.local/bin/difflored");
    let home = Path::new("/home/dev/.difflore");
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("service_systemd", service::systemd_unit(difflored, home));
        insta::assert_snapshot!("service_launchd", service::launchd_plist(difflored, home));
    });
    let unit = service::systemd_unit(difflored, home);
    for line in [
        "Type=simple",
        "ExecStart=/home/dev/.local/bin/difflored --foreground",
        "Restart=on-failure",
        "ExecReload=kill -HUP $MAINPID",
        "Environment=DIFFLORE_HOME=/home/dev/.difflore",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let dirs = Dirs::new();
    assert_eq!(
        service::systemd_unit_path(&dirs.home),
        dirs.home.join(".config/systemd/user/difflored.service")
    );
}
