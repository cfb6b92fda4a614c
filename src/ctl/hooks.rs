//! `difflorectl hooks` and `service`: find the places (home, project, difflored) and hand
//! them to `crate::install`, which owns every settings-file edit and service text.

use crate::install::status::ScopeStatus;
use crate::install::{self, InstallOutcome, Locations, Preview, Request, Scope};
use crate::shared::event::Client;
use crate::shared::paths::Paths;
use crate::shared::store::Outbox;

use super::CtlError;
use super::cli::{HooksAction, ServiceKind};

#[derive(Debug)]
pub enum HooksOutcome {
    Changed(InstallOutcome),
    Preview(Preview),
    Status {
        agents: Vec<AgentStatus>,
        json: bool,
    },
}

/// `hooks status` for one agent: both scopes, and its newest event in the outbox.
#[derive(Debug)]
pub struct AgentStatus {
    pub client: Client,
    pub scopes: Vec<ScopeStatus>,
    /// `received_ms` of the newest row from this agent still in the outbox.
    pub last_event_ms: Option<i64>,
}

pub fn run(
    paths: &Paths,
    action: HooksAction,
    client: Option<Client>,
    scope: Scope,
    trust: bool,
    json: bool,
) -> Result<HooksOutcome, CtlError> {
    if action == HooksAction::Status {
        return status(paths, client, json);
    }
    let client = client.ok_or(CtlError::NoClient)?;
    if trust && client != Client::Codex {
        return Err(CtlError::TrustNotNeeded {
            client: client.as_str(),
        });
    }
    let mut request = Request::new(client, scope, locations()?);
    request.trust = trust;
    Ok(match action {
        HooksAction::Install => HooksOutcome::Changed(install::install(&request)?),
        HooksAction::Uninstall => HooksOutcome::Changed(install::uninstall(&request)?),
        HooksAction::Print => HooksOutcome::Preview(install::print(&request)?),
        HooksAction::Status => status(paths, Some(client), json)?,
    })
}

fn locations() -> Result<Locations, CtlError> {
    let home = dirs::home_dir().ok_or(CtlError::NoHome)?;
    let project = std::env::current_dir().map_err(|source| CtlError::CurrentDir { source })?;
    let mut locations = Locations::new(home, project);
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(Into::into)
    };
    locations.codex_home = var("CODEX_HOME");
    locations.kimi_home = var("KIMI_CODE_HOME");
    // OpenCode finds its user directory through xdg-basedir: XDG_CONFIG_HOME when not empty.
    locations.xdg_config_home = var("XDG_CONFIG_HOME");
    locations.crush_global = var("CRUSH_GLOBAL_CONFIG");
    Ok(locations)
}

/// Read-only: the agents' files and the outbox, never written.
fn status(paths: &Paths, client: Option<Client>, json: bool) -> Result<HooksOutcome, CtlError> {
    let clients: Vec<Client> = match client {
        Some(c) => vec![c],
        None => install::INSTALLABLE.to_vec(),
    };
    let agents = agents(paths, &locations()?, clients);
    Ok(HooksOutcome::Status { agents, json })
}

/// For `difflorectl status`: every agent with difflore's hooks in either scope. `None` when
/// there is no home directory to look in. Read-only, like `hooks status`.
pub fn installed(paths: &Paths) -> Option<Vec<AgentStatus>> {
    let agents = agents(paths, &locations().ok()?, install::INSTALLABLE.to_vec());
    Some(
        agents
            .into_iter()
            .filter(|a| a.scopes.iter().any(|s| !s.events.is_empty()))
            .collect(),
    )
}

fn agents(paths: &Paths, locations: &Locations, clients: Vec<Client>) -> Vec<AgentStatus> {
    let path_var = std::env::var("PATH").ok();
    let last = last_events(paths);
    clients
        .into_iter()
        .map(|client| AgentStatus {
            client,
            scopes: [Scope::User, Scope::Project]
                .into_iter()
                .map(|scope| {
                    let request = Request::new(client, scope, locations.clone());
                    install::status::scope_status(&request, path_var.as_deref())
                })
                .collect(),
            last_event_ms: last
                .iter()
                .find(|(c, _)| c == client.as_str())
                .map(|(_, ms)| *ms),
        })
        .collect()
}

/// The newest `received_ms` per client; nothing when there is no readable outbox.
fn last_events(paths: &Paths) -> Vec<(String, i64)> {
    let Ok(Some(outbox)) = Outbox::open_read_only(paths) else {
        return Vec::new();
    };
    let Ok(mut stmt) = outbox
        .conn()
        .prepare("SELECT client, MAX(received_ms) FROM events GROUP BY client")
    else {
        return Vec::new();
    };
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// The service definition for the `difflored` beside this difflorectl (or on PATH).
pub fn service(paths: &Paths, kind: ServiceKind) -> Result<String, CtlError> {
    let daemon = super::stop::daemon_binary()?;
    Ok(match kind {
        ServiceKind::Systemd => install::service::systemd_unit(&daemon, &paths.home),
        ServiceKind::Launchd => install::service::launchd_plist(&daemon, &paths.home),
    })
}
