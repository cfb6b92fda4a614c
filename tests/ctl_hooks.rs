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
        &["hooks", "install", "--client", "cline"],
        &["hooks", "install", "--client", "cline"],
        &["hooks", "uninstall", "--client", "cline"],
        &["hooks", "install", "--client", "opencode"],
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
    run(
        &[
            "hooks", "install", "--client", "cline", "--scope", "project",
        ],
        &hook_dir,
    );
    let off = project.join(".clinerules/hooks/TaskCancel");
    std::fs::set_permissions(&off, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    shown.push_str(&run(&["hooks", "status"], &hook_dir));
    // `difflorectl status` sums the same up in one line (and a `hooks` list in its JSON).
    let status = run(&["status"], &hook_dir);
    let line = status
        .lines()
        .find(|l| l.starts_with("hooks:"))
        .unwrap_or("");
    shown.push_str(&format!("=== status (its hooks line)\n{line}\n"));
    let status = run(&["status", "--json"], &hook_dir);
    let json: serde_json::Value = serde_json::from_str(&status[status.find('{').unwrap()..])
        .unwrap_or_else(|e| panic!("{e}: {status}"));
    shown.push_str(&format!(
        "=== status --json (its hooks)\n{}\n",
        serde_json::to_string_pretty(&json["hooks"]).unwrap()
    ));
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
    assert!(
        shown.contains("turned off in Cline's Hooks tab: TaskCancel"),
        "{shown}"
    );
    settings().bind(|| insta::assert_snapshot!("ctl_hooks_status", shown));
}

/// OpenCode loads the plugin with Bun; Node runs the same module, so the plugin is tried
/// under Node when there is one: each hook call returns at once and the events it hands on
/// reach the outbox, the ones it filters out do not.
#[test]
fn the_opencode_plugin_hands_events_to_the_hook_without_waiting() {
    let Ok(node) = which("node") else {
        eprintln!("skipped: no node on PATH");
        return;
    };
    let sb = Sandbox::new();
    let hook = env!("CARGO_BIN_EXE_difflore-hook");
    let locations = difflore::install::Locations::new(sb.dir.path().join("home"), sb.dir.path());
    let mut request = difflore::install::Request::new(
        difflore::install::Client::OpenCode,
        difflore::install::Scope::User,
        locations,
    );
    request.program = hook.to_owned();
    difflore::install::install(&request).unwrap();
    let plugin = request.settings_path();
    // Node reads a `.js` file as ES module only beside a package.json that says so.
    let module = sb.dir.path().join("plugin.mjs");
    std::fs::copy(&plugin, &module).unwrap();
    let script = format!(
        r#"const m = await import({module:?});
const hooks = await m.DiffloreCapture({{ directory: "/home/user/proj" }});
const started = Date.now();
await hooks["tool.execute.before"]({{ tool: "bash", sessionID: "ses_1", callID: "call_1" }}, {{ args: {{ command: "echo hello" }} }});
await hooks.event({{ event: {{ type: "message.part.delta", properties: {{ sessionID: "ses_1" }} }} }});
await hooks.event({{ event: {{ type: "session.idle", properties: {{ sessionID: "ses_1" }} }} }});
const cyclic = {{}}; cyclic.self = cyclic;
await hooks["chat.message"]({{ sessionID: "ses_1" }}, cyclic);
if (Date.now() - started > 1000) throw new Error("the plugin waited");
"#,
        module = module.display().to_string()
    );
    let out = sb
        .command(&node)
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("run node");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let rows = || {
        rusqlite::Connection::open(sb.db())
            .and_then(|db| db.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    let stored = common::wait_until(std::time::Duration::from_secs(10), || {
        sb.db().exists() && rows() >= 2
    });
    assert!(stored, "both events reach the outbox");
    let events: Vec<String> = {
        let db = sb.sqlite();
        let mut stmt = db
            .prepare("SELECT event FROM events WHERE client = 'opencode' ORDER BY event")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(events, ["session.idle", "tool.execute.before"]);
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
