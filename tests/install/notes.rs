//! What an install tells the user to do next: trust the hooks, or turn hooks back on.

use std::fs;

use difflore::install::{self, Client, Note, Scope};
use serde_json::json;

use super::support::{Dirs, write_json};

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
            .any(|n| n.to_string().contains("--trust"))
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
