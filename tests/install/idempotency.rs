//! Installing again changes nothing, replaces an older difflore entry in place, keeps one
//! backup of what it changed; `print` shows the result without writing.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use difflore::install::{self, Client};
use serde_json::json;

use super::support::{Dirs, existing, handlers, install_backup, ours, read_json, write_json};

#[test]
fn installing_twice_leaves_identical_bytes() {
    for client in install::SETTINGS_FILES {
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
fn backup_holds_the_previous_file_and_the_mode_is_kept() {
    for client in install::SETTINGS_FILES {
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
fn print_shows_the_install_without_writing() {
    for client in install::SETTINGS_FILES {
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
