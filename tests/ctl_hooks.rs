//! `difflorectl hooks` and `service` through the real binary: what an install, a repeat
//! and an uninstall say and do to the agent's file, with a temporary HOME.

mod common;
mod ctl_support;

use common::Sandbox;
use ctl_support::{ctl, settings};

#[test]
fn hooks_install_is_idempotent_and_uninstall_restores_the_users_file() {
    let sb = Sandbox::new();
    let home = sb.dir.path().join("home");
    let settings_file = home.join(".claude/settings.json");
    std::fs::create_dir_all(settings_file.parent().unwrap()).unwrap();
    let original = r#"{"model":"opus","hooks":{"Stop":[{"hooks":[{"type":"command","command":"say done"}]}]}}"#;
    std::fs::write(&settings_file, original).unwrap();

    let mut shown = String::new();
    for args in [
        &["hooks", "install", "--client", "claude-code"][..],
        &["hooks", "install", "--client", "claude-code"],
        &["hooks", "uninstall", "--client", "claude-code"],
        &["hooks", "uninstall", "--client", "claude-code"],
        &["hooks", "install", "--client", "codex"],
        &["hooks", "install", "--client", "codex", "--trust"],
        &["hooks", "install", "--client", "codex", "--trust"],
        &["hooks", "install", "--client", "claude-code", "--trust"],
        &["hooks", "install", "--client", "vim"],
    ] {
        let ran = ctl(&sb, args);
        shown.push_str(&format!("=== {}\n{}", args.join(" "), ran.shown()));
        if args[1] == "install" && args[3] == "claude-code" && args.len() == 4 {
            let now: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&settings_file).unwrap()).unwrap();
            assert_eq!(now["model"], "opus", "unknown keys are kept");
            let stop = now["hooks"]["Stop"].to_string();
            assert!(
                stop.contains("say done") && stop.contains("difflore-hook --client claude-code"),
                "{stop}"
            );
        }
    }
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settings_file).unwrap()).unwrap();
    let before: serde_json::Value = serde_json::from_str(original).unwrap();
    assert_eq!(
        after, before,
        "uninstall leaves the user's own settings as they were"
    );
    let shown = shown.replace(&home.display().to_string(), "[HOME]");
    settings().bind(|| insta::assert_snapshot!("ctl_hooks", shown));
}

#[test]
fn hooks_print_writes_nothing() {
    let sb = Sandbox::new();
    let ran = ctl(&sb, &["hooks", "print", "--client", "cursor"]);
    assert_eq!(ran.code, 0, "{}", ran.shown());
    let printed: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(printed["version"], 1);
    assert!(ran.stdout.contains("difflore-hook --client cursor"));
    assert!(!sb.dir.path().join("home/.cursor").exists());
}

#[test]
fn service_print_names_the_daemon_beside_difflorectl() {
    let sb = Sandbox::new();
    let ran = ctl(&sb, &["service", "print", "--systemd"]);
    assert_eq!(ran.code, 0, "{}", ran.shown());
    let daemon = std::path::Path::new(env!("CARGO_BIN_EXE_difflored"));
    assert!(
        ran.stdout
            .contains(&format!("ExecStart={} --foreground", daemon.display())),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains(&sb.home().display().to_string()));
    let ran = ctl(&sb, &["service", "print", "--launchd"]);
    assert!(
        ran.stdout.contains("<string>--foreground</string>"),
        "{}",
        ran.stdout
    );
}

#[test]
fn hooks_status_shows_each_agents_scopes_and_what_keeps_them_from_running() {
    let sb = Sandbox::new();
    let home = sb.dir.path().join("home");
    let hook_dir = std::path::Path::new(env!("CARGO_BIN_EXE_difflore-hook"))
        .parent()
        .unwrap()
        .to_path_buf();
    let project = sb.dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let run = |args: &[&str], path: &std::path::Path| {
        let out = sb
            .cmd("difflorectl")
            .args(args)
            .current_dir(&project)
            .env("PATH", path)
            .output()
            .expect("run difflorectl");
        format!(
            "=== {}\nexit {}\n{}{}",
            args.join(" "),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let empty = sb.dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut shown = String::new();
    for args in [
        &["hooks", "install", "--client", "claude-code"][..],
        &["hooks", "install", "--client", "codex"],
    ] {
        run(args, &hook_dir);
    }
    let gemini = home.join(".gemini/settings.json");
    std::fs::create_dir_all(gemini.parent().unwrap()).unwrap();
    std::fs::write(&gemini, r#"{"hooksConfig":{"enabled":false}}"#).unwrap();
    run(&["hooks", "install", "--client", "gemini"], &hook_dir);
    shown.push_str(&run(&["hooks", "status"], &hook_dir));
    run(
        &["hooks", "install", "--client", "codex", "--trust"],
        &hook_dir,
    );
    shown.push_str(&run(
        &["hooks", "status", "--client", "codex", "--json"],
        &hook_dir,
    ));
    shown.push_str(&run(
        &["hooks", "status", "--client", "claude-code"],
        &empty,
    ));
    shown.push_str(&run(&["hooks", "install"], &hook_dir));
    let shown = shown
        .replace(&project.display().to_string(), "[PROJECT]")
        .replace(&home.display().to_string(), "[HOME]");
    assert!(shown.contains("not trusted"), "{shown}");
    assert!(shown.contains("hooksConfig.enabled is false"), "{shown}");
    assert!(shown.contains("does not resolve"), "{shown}");
    settings().bind(|| insta::assert_snapshot!("ctl_hooks_status", shown));
}
