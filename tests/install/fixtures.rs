//! Every event the installer hooks has a fixture, and every fixture is an event the
//! installer hooks, for each agent: a new event on one side only fails here. The gaps that
//! remain are named below with their reason.

use std::collections::BTreeSet;
use std::path::Path;

use difflore::install::{self, Client};

/// Hooked, but no payload of it recorded or documented yet.
fn no_fixture_yet(client: Client) -> &'static [&'static str] {
    match client {
        Client::Copilot => &[
            "PermissionRequest",
            "PostToolUseFailure",
            "Notification",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "ErrorOccurred",
        ],
        // The shared file also carries Copilot CLI's events, which VS Code does not send.
        Client::VsCode => &[
            "PermissionRequest",
            "PostToolUseFailure",
            "Notification",
            "ErrorOccurred",
            "SessionEnd",
        ],
        Client::Droid => &[
            "UserPromptSubmit",
            "Notification",
            "SubagentStop",
            "PreCompact",
        ],
        Client::QwenCode => &[
            "PermissionRequest",
            "PostToolUseFailure",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "PostCompact",
            "StopFailure",
        ],
        Client::OpenCode => &[
            "session.compacted",
            "session.error",
            "session.deleted",
            "permission.asked",
        ],
        _ => &[],
    }
}

/// The event a fixture is hooked as. Cline's CLI names its payloads apart from the script
/// that receives them (Cline's own map: `TaskStart` runs for `agent_start`, …); the VS Code
/// extension's payloads carry the script's name.
fn hooked_as(client: Client, fixture: &str) -> &str {
    const CLINE_CLI: &[(&str, &str)] = &[
        ("agent_start", "TaskStart"),
        ("agent_resume", "TaskResume"),
        ("agent_abort", "TaskCancel"),
        ("agent_end", "TaskComplete"),
        ("agent_error", "TaskError"),
        ("tool_call", "PreToolUse"),
        ("tool_result", "PostToolUse"),
        ("prompt_submit", "UserPromptSubmit"),
        ("session_shutdown", "SessionShutdown"),
    ];
    match client {
        Client::Cline => CLINE_CLI
            .iter()
            .find(|(payload, _)| *payload == fixture)
            .map_or(fixture, |(_, script)| script),
        _ => fixture,
    }
}

/// A fixture for an event deliberately not hooked (or not a hook at all).
fn left_out(client: Client) -> &'static [&'static str] {
    match client {
        // Legacy `notify`, passed as an argument, configured in config.toml.
        Client::Codex => &["notify-agent-turn-complete"],
        // The model events carry the whole model request, once per streamed chunk.
        Client::Gemini => &["AfterModel", "BeforeModel"],
        // Its payload carries `_exchange`, the turn's whole request and response.
        Client::Auggie => &["Stop"],
        // Arrives camelCase under the PascalCase registration of PermissionRequest.
        Client::Copilot => &["permissionRequest"],
        // Added in Kimi Code 0.32 (an older Kimi refuses a config naming them), and a
        // once-a-minute timer.
        Client::Kimi => &[
            "TurnStarted",
            "UserPromptQueued",
            "TaskStarted",
            "SessionHeartbeat",
        ],
        _ => &[],
    }
}

#[test]
fn each_agents_fixtures_and_installed_events_agree() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let mut problems = Vec::new();
    for client in install::INSTALLABLE {
        let fixtures: BTreeSet<String> = std::fs::read_dir(root.join(client.as_str()))
            .expect("a fixture folder per installable agent")
            .filter_map(|e| {
                let name = e.ok()?.file_name();
                let event = name.to_str()?.strip_suffix(".json")?;
                Some(hooked_as(client, event).to_owned())
            })
            .collect();
        let events: BTreeSet<&str> = install::events(client).iter().copied().collect();
        for event in &events {
            let known_gap = no_fixture_yet(client).contains(event);
            if fixtures.contains(*event) == known_gap {
                problems.push(format!(
                    "{}: {event} hooked, fixture {}",
                    client.as_str(),
                    if known_gap {
                        "exists though listed as missing"
                    } else {
                        "missing"
                    }
                ));
            }
        }
        for fixture in &fixtures {
            let left = left_out(client).contains(&fixture.as_str());
            if events.contains(fixture.as_str()) == left {
                problems.push(format!(
                    "{}: fixture {fixture} {}",
                    client.as_str(),
                    if left {
                        "is hooked though listed as left out"
                    } else {
                        "is not hooked"
                    }
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
