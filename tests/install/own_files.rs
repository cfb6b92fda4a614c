//! Agents configured by files of difflore's own: Cline's hook scripts (one executable per
//! event) and OpenCode's plugin. Only difflore's files are ever written or removed; a
//! user's file of the same name is said and left alone.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use difflore::install::{self, Action, Client, Note, Scope};

use super::support::Dirs;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn cline_gets_one_executable_script_per_event_in_each_scope() {
    let dirs = Dirs::new();
    for (scope, dir) in [
        (Scope::User, dirs.home.join("Documents/Cline/Hooks")),
        (Scope::Project, dirs.project.join(".clinerules/hooks")),
    ] {
        let request = dirs.request(Client::Cline, scope);
        assert_eq!(request.settings_path(), dir);
        let outcome = install::install(&request).unwrap();
        assert!(outcome.changed && outcome.created, "{scope:?}");
        assert_eq!(outcome.entries, install::events(Client::Cline).len());
        for event in install::events(Client::Cline) {
            let script = dir.join(event);
            let text = fs::read_to_string(&script).unwrap();
            assert!(text.starts_with("#!/bin/sh\n"), "{text}");
            assert!(text.contains(install::MARKER), "{text}");
            assert!(
                text.contains("\nexec difflore-hook --client cline\n"),
                "{text}"
            );
            assert_eq!(mode(&script), 0o755, "{event}");
        }
        let entries = fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            entries,
            install::events(Client::Cline).len(),
            "no temp files left"
        );
    }
}

#[test]
fn a_cline_script_answers_carry_on_and_stores_the_event() {
    let dirs = Dirs::new();
    let mut request = dirs.user(Client::Cline);
    request.program = env!("CARGO_BIN_EXE_difflore-hook").to_owned();
    install::install(&request).unwrap();
    let script = request.settings_path().join("PreToolUse");
    let payload = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cline/tool_call.json"
    ))
    .unwrap();
    let data = dirs.home.join(".difflore");
    // Run as Cline runs it: the script itself, the event on stdin.
    let mut child = Command::new(&script)
        .env("HOME", &dirs.home)
        .env("DIFFLORE_HOME", &data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"cancel\":false}\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let db = rusqlite::Connection::open(data.join("outbox.db")).unwrap();
    let (client, event): (String, String) = db
        .query_row("SELECT client, event FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((client.as_str(), event.as_str()), ("cline", "tool_call"));
}

#[test]
fn a_users_own_script_is_never_replaced_nor_removed() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Cline);
    let dir = request.settings_path();
    fs::create_dir_all(&dir).unwrap();
    let theirs = dir.join("PreToolUse");
    let text = "#!/bin/bash\necho '{\"cancel\":false}'\n";
    fs::write(&theirs, text).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();

    let outcome = install::install(&request).unwrap();
    assert_eq!(outcome.entries, install::events(Client::Cline).len() - 1);
    assert!(
        outcome.notes.contains(&Note::NotOurs {
            path: theirs.clone(),
            event: "PreToolUse"
        }),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.to_string().contains("left as it is"))
    );
    let again = install::install(&request).unwrap();
    assert!(!again.changed, "nothing new to write");

    let removed = install::uninstall(&request).unwrap();
    assert_eq!(removed.action, Action::Uninstall);
    assert_eq!(removed.entries, install::events(Client::Cline).len() - 1);
    assert_eq!(fs::read_to_string(&theirs).unwrap(), text);
    assert_eq!(mode(&theirs), 0o700);
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![theirs]);
    let second = install::uninstall(&request).unwrap();
    assert!(!second.changed && second.entries == 0);
}

#[test]
fn reinstalling_restores_a_script_cline_turned_off_and_says_nothing_new_otherwise() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Cline);
    install::install(&request).unwrap();
    let again = install::install(&request).unwrap();
    assert!(!again.changed && !again.created && again.notes.is_empty());
    let script = request.settings_path().join("TaskStart");
    // Cline's Hooks tab turns a hook off by clearing its executable bits.
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let status = install::status::scope_status(&request, None);
    assert!(
        status
            .blocked
            .as_deref()
            .is_some_and(|b| b.ends_with(": TaskStart")),
        "{:?}",
        status.blocked
    );
    assert!(install::print(&request).unwrap().changed);
    let fixed = install::install(&request).unwrap();
    assert!(fixed.changed && !fixed.created);
    assert_eq!(mode(&script), 0o755);
}

#[test]
fn uninstall_without_files_and_print_create_nothing() {
    for client in [Client::Cline, Client::OpenCode] {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let outcome = install::uninstall(&request).unwrap();
        assert!(!outcome.changed && outcome.entries == 0, "{client:?}");
        let preview = install::print(&request).unwrap();
        assert!(preview.changed && preview.text.contains(install::MARKER));
        assert!(!request.settings_path().exists(), "{client:?}");
        assert!(!dirs.home.join("Documents").exists() && !dirs.home.join(".config").exists());
    }
}

#[test]
fn opencode_gets_one_plugin_file_in_each_scope() {
    let dirs = Dirs::new();
    for (scope, file) in [
        (
            Scope::User,
            dirs.home.join(".config/opencode/plugins/difflore.js"),
        ),
        (
            Scope::Project,
            dirs.project.join(".opencode/plugins/difflore.js"),
        ),
    ] {
        let request = dirs.request(Client::OpenCode, scope);
        assert_eq!(request.settings_path(), file);
        let outcome = install::install(&request).unwrap();
        assert!(outcome.changed && outcome.created);
        assert_eq!(outcome.entries, install::events(Client::OpenCode).len());
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.contains(install::MARKER));
        assert!(
            text.contains(r#"const PROGRAM = "difflore-hook";"#),
            "{text}"
        );
        for event in install::events(Client::OpenCode) {
            assert!(text.contains(&format!("\"{event}\"")), "{event}");
        }
        for secret in ["chat.params", "chat.headers", "shell.env"] {
            assert!(
                !text.contains(&format!("\"{secret}\"")),
                "{secret} handed on"
            );
        }
        let status = install::status::scope_status(&request, None);
        assert_eq!(status.events.len(), install::events(Client::OpenCode).len());
        assert!(
            !status.command_resolves,
            "no difflore-hook on an empty PATH"
        );
        install::uninstall(&request).unwrap();
        assert!(!file.exists());
    }
}

#[test]
fn a_users_own_opencode_plugin_named_difflore_is_left_alone() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::OpenCode);
    let file = request.settings_path();
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "export const Mine = async () => ({})\n").unwrap();
    let outcome = install::install(&request).unwrap();
    assert!(!outcome.changed && outcome.entries == 0);
    assert!(
        matches!(outcome.notes[..], [Note::NotOurs { .. }]),
        "{:?}",
        outcome.notes
    );
    install::uninstall(&request).unwrap();
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "export const Mine = async () => ({})\n"
    );
}
