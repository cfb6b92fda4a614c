//! Codex trust (`--trust`): difflore's entries, and only those, are recorded in the user's
//! config.toml the way Codex's /hooks screen records them; repeats change nothing and an
//! uninstall takes the records away again.

use std::fs;

use difflore::install::{self, Client, Note, Scope, codex_trust};

use super::support::{Dirs, existing, write_json};

fn trusting(dirs: &Dirs, scope: Scope) -> install::Request {
    let mut request = dirs.request(Client::Codex, scope);
    request.trust = true;
    request
}

#[test]
fn trust_records_every_difflore_entry_and_nothing_else() {
    let dirs = Dirs::new();
    let config = dirs.home.join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "# mine\nmodel = \"o3\"\n").unwrap();
    let request = trusting(&dirs, Scope::User);
    write_json(&request.settings_path(), &existing(Client::Codex));

    let outcome = install::install(&request).unwrap();
    let trust = outcome.trust.expect("a trust outcome");
    assert_eq!((trust.trusted, trust.recorded), (12, 12));
    assert!(!outcome.notes.contains(&Note::CodexTrustHooks));
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("# mine\nmodel = \"o3\"\n"), "{text}");
    let records = codex_trust::recorded(&config);
    assert_eq!(records.len(), 12);
    let hooks = request.settings_path();
    // The user's own Stop hook is group 0; difflore's comes after it.
    let stop = format!("{}:stop:1:0", hooks.display());
    assert!(records.iter().any(|(k, _)| *k == stop), "{records:?}");
    assert!(
        !records.iter().any(|(k, _)| k.ends_with(":stop:0:0")),
        "the user's own hook is never trusted: {records:?}"
    );
    assert!(records.iter().any(|(k, h)| k.ends_with(":pre_tool_use:0:0")
        && h == "sha256:6d444b92815455c596e140ae4fa9e69510c6e36ca6fa17ed7fc7bc23bebed5bc"));
}

#[test]
fn reinstalling_with_trust_keeps_it_and_writes_nothing() {
    let dirs = Dirs::new();
    let request = trusting(&dirs, Scope::User);
    install::install(&request).unwrap();
    let config = dirs.home.join(".codex/config.toml");
    let before = fs::read(&config).unwrap();
    let again = install::install(&request).unwrap();
    assert!(!again.changed);
    assert_eq!(again.trust.unwrap().recorded, 0);
    assert!(again.notes.is_empty(), "{:?}", again.notes);
    assert_eq!(fs::read(&config).unwrap(), before);
    // Without --trust, a trusted install no longer asks to be trusted.
    let plain = install::install(&dirs.user(Client::Codex)).unwrap();
    assert!(
        !plain.notes.contains(&Note::CodexTrustHooks),
        "{:?}",
        plain.notes
    );
}

#[test]
fn a_moved_entry_gets_its_new_key_and_loses_the_old_one() {
    let dirs = Dirs::new();
    let request = trusting(&dirs, Scope::User);
    install::install(&request).unwrap();
    // The user puts a hook of their own in front of difflore's Stop group.
    let path = request.settings_path();
    let mut settings: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    settings["hooks"]["Stop"].as_array_mut().unwrap().insert(
        0,
        serde_json::json!({"hooks": [{"type": "command", "command": "mine"}]}),
    );
    write_json(&path, &settings);
    let outcome = install::install(&request).unwrap();
    let trust = outcome.trust.unwrap();
    assert_eq!((trust.recorded, trust.removed), (1, 1));
    let records = codex_trust::recorded(&dirs.home.join(".codex/config.toml"));
    assert!(records.iter().any(|(k, _)| k.ends_with(":stop:1:0")));
    assert!(!records.iter().any(|(k, _)| k.ends_with(":stop:0:0")));
}

#[test]
fn uninstall_takes_difflores_trust_records_away_and_keeps_the_users() {
    let dirs = Dirs::new();
    let config = dirs.home.join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(
        &config,
        "[hooks.state.\"/elsewhere/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:00\"\n",
    )
    .unwrap();
    let request = trusting(&dirs, Scope::User);
    install::install(&request).unwrap();
    let outcome = install::uninstall(&request).unwrap();
    assert_eq!(outcome.trust.unwrap().removed, 12);
    let records = codex_trust::recorded(&config);
    assert_eq!(
        records,
        vec![("/elsewhere/hooks.json:stop:0:0".into(), "sha256:00".into())]
    );
}

#[test]
fn project_trust_is_keyed_by_the_project_file_and_kept_in_the_user_config() {
    let dirs = Dirs::new();
    let request = trusting(&dirs, Scope::Project);
    install::install(&request).unwrap();
    let records = codex_trust::recorded(&dirs.home.join(".codex/config.toml"));
    let project_file = dirs.project.join(".codex/hooks.json");
    assert_eq!(records.len(), 12);
    assert!(
        records
            .iter()
            .all(|(k, _)| k.starts_with(&format!("{}:", project_file.display()))),
        "{records:?}"
    );
}

#[test]
fn a_config_that_is_not_toml_is_left_untouched() {
    let dirs = Dirs::new();
    let config = dirs.home.join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "model = \n").unwrap();
    let err = install::install(&trusting(&dirs, Scope::User)).unwrap_err();
    assert!(err.to_string().contains("not valid TOML"), "{err}");
    assert_eq!(fs::read_to_string(&config).unwrap(), "model = \n");
}
