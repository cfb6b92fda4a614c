//! Words for `difflorectl hooks`: what changed in which file, and what the user still has
//! to do (the installer's notes).

use super::Message;
use crate::ctl::hooks::{AgentStatus, HooksOutcome};
use crate::install::Scope;
use crate::install::status::ScopeStatus;
use crate::install::{Action, InstallOutcome};

pub fn hooks(o: &HooksOutcome) -> Message {
    match o {
        HooksOutcome::Preview(p) => Message::out(p.text.clone()),
        HooksOutcome::Changed(o) => changed(o),
        HooksOutcome::Status { agents, json: true } => Message::out(status_json(agents)),
        HooksOutcome::Status {
            agents,
            json: false,
        } => Message::out(status_text(agents)),
    }
}

/// An agent installed but silent this long is worth a hint.
const SILENT_MS: i64 = 24 * 60 * 60 * 1000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::User => "user",
        Scope::Project => "project",
    }
}

fn scope_text(s: &ScopeStatus) -> String {
    let name = scope_name(s.scope);
    if s.unreadable {
        return format!("{name}: {} cannot be read", s.path.display());
    }
    if s.events.is_empty() {
        return format!("{name}: not installed");
    }
    let mut text = format!("{name}: {} events in {}", s.events.len(), s.path.display());
    if !s.command_resolves {
        text.push_str(", but its command does not resolve to an executable difflore-hook");
    }
    if let Some(why) = &s.blocked {
        text.push_str(&format!(", but the agent will not run it: {why}"));
    }
    text
}

fn last_text(ms: Option<i64>) -> String {
    match ms.and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) => {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
            format!("last event {}", humantime::format_rfc3339_seconds(at))
        }
        None => "no event in the outbox".into(),
    }
}

fn status_text(agents: &[AgentStatus]) -> String {
    let mut lines = Vec::new();
    for a in agents {
        let scopes: Vec<String> = a.scopes.iter().map(scope_text).collect();
        lines.push(format!(
            "{}: {}; {}",
            a.client.as_str(),
            scopes.join("; "),
            last_text(a.last_event_ms)
        ));
        let installed = a.scopes.iter().any(|s| !s.events.is_empty());
        let silent = a.last_event_ms.is_none_or(|ms| now_ms() - ms > SILENT_MS);
        if installed && a.last_event_ms.is_some() && silent {
            lines.push(format!(
                "hint: nothing from {} for a day; if you used it, check that it runs its \
                 hooks (restart its sessions; see the notes of `hooks install`)",
                a.client.as_str()
            ));
        }
    }
    lines.join("\n")
}

/// What keeps difflore's hooks for one agent from capturing, in either scope: nothing for
/// an agent whose installed hooks will all run.
fn problems(a: &AgentStatus) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in a
        .scopes
        .iter()
        .filter(|s| !s.events.is_empty() || s.unreadable)
    {
        let found = if s.unreadable {
            Some(format!("{} cannot be read", s.path.display()))
        } else if !s.command_resolves {
            Some("its command does not resolve to an executable difflore-hook".into())
        } else {
            s.blocked.clone()
        };
        if let Some(p) = found.filter(|p| !out.contains(p)) {
            out.push(p);
        }
    }
    out
}

/// `difflorectl status`'s one line about hooks: each agent that has difflore's hooks, and
/// what keeps any of them from capturing (the detail is `hooks status`'s).
pub fn summary(agents: &[AgentStatus]) -> String {
    if agents.is_empty() {
        return "none installed (difflorectl hooks install --client NAME)".into();
    }
    let names: Vec<String> = agents
        .iter()
        .map(|a| match problems(a)[..] {
            [] => a.client.as_str().to_owned(),
            ref p => format!("{} ({})", a.client.as_str(), p.join("; ")),
        })
        .collect();
    names.join(", ")
}

/// `difflorectl status --json`'s `hooks`: the same, as values.
pub fn summary_json(agents: &[AgentStatus]) -> serde_json::Value {
    let agents: Vec<serde_json::Value> = agents
        .iter()
        .map(|a| {
            let scopes: Vec<&str> = a
                .scopes
                .iter()
                .filter(|s| !s.events.is_empty())
                .map(|s| scope_name(s.scope))
                .collect();
            let problems = problems(a);
            serde_json::json!({
                "client": a.client.as_str(),
                "scopes": scopes,
                "will_run": problems.is_empty(),
                "problems": problems,
            })
        })
        .collect();
    serde_json::Value::Array(agents)
}

fn status_json(agents: &[AgentStatus]) -> String {
    let agents: Vec<serde_json::Value> = agents
        .iter()
        .map(|a| {
            let scopes: serde_json::Map<String, serde_json::Value> = a
                .scopes
                .iter()
                .map(|s| {
                    (
                        scope_name(s.scope).to_owned(),
                        serde_json::json!({
                            "path": s.path.display().to_string(),
                            "installed": !s.events.is_empty(),
                            "events": s.events,
                            "readable": !s.unreadable,
                            "command_resolves": s.command_resolves,
                            "will_run": !s.events.is_empty() && s.blocked.is_none() && s.command_resolves,
                            "blocked": s.blocked,
                        }),
                    )
                })
                .collect();
            serde_json::json!({
                "client": a.client.as_str(),
                "scopes": scopes,
                "last_event_ms": a.last_event_ms,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "agents": agents })).unwrap_or_default()
}

fn changed(o: &InstallOutcome) -> Message {
    let client = o.client.as_str();
    let path = o.path.display();
    let trust_changed = o.trust.as_ref().is_some_and(|t| t.recorded + t.removed > 0);
    let mut text = match (o.action, o.changed || trust_changed) {
        (Action::Install, true) if o.changed => format!(
            "installed difflore's hook for {client} on {} events in {path}",
            o.entries
        ),
        (Action::Install, true) => format!(
            "difflore's hook for {client} is already installed on {} events in {path}",
            o.entries
        ),
        (Action::Install, false) => format!(
            "difflore's hook for {client} is already installed on {} events in {path}; nothing changed",
            o.entries
        ),
        (Action::Uninstall, true) if !o.changed => {
            format!("no difflore hooks for {client} in {path}")
        }
        (Action::Uninstall, true) => format!(
            "removed {} difflore hook entr{} for {client} from {path}",
            o.entries,
            if o.entries == 1 { "y" } else { "ies" }
        ),
        (Action::Uninstall, false) => {
            format!("no difflore hooks for {client} in {path}; nothing changed")
        }
    };
    if let Some(backup) = &o.backup {
        text.push_str(&format!(
            "\nthe previous file is saved as {}",
            backup.display()
        ));
    }
    if let Some(trust) = o.trust.as_ref().filter(|t| t.recorded + t.removed > 0) {
        let config = trust.config.display();
        text.push_str(&match o.action {
            Action::Install => format!(
                "\ntrusted difflore's {} hook entries in {config}, as Codex's /hooks screen would",
                trust.trusted
            ),
            Action::Uninstall => format!(
                "\nremoved difflore's trust records ({}) from {config}",
                trust.removed
            ),
        });
        if let Some(backup) = &trust.backup {
            text.push_str(&format!(
                "\nthe previous file is saved as {}",
                backup.display()
            ));
        }
    }
    for note in &o.notes {
        text.push_str(&format!("\nnote: {note}"));
    }
    Message::out(text)
}
