//! `difflorectl hooks` and `service`: find the places (home, project, difflored) and hand
//! them to `crate::install`, which owns every settings-file edit and service text.

use crate::install::{self, InstallOutcome, Locations, Preview, Request, Scope};
use crate::shared::event::Client;
use crate::shared::paths::Paths;

use super::CtlError;
use super::cli::{HooksAction, ServiceKind};

#[derive(Debug)]
pub enum HooksOutcome {
    Changed(InstallOutcome),
    Preview(Preview),
}

pub fn run(
    action: HooksAction,
    client: Client,
    scope: Scope,
    trust: bool,
) -> Result<HooksOutcome, CtlError> {
    if trust && client != Client::Codex {
        return Err(CtlError::TrustNotNeeded {
            client: client.as_str(),
        });
    }
    let home = dirs::home_dir().ok_or(CtlError::NoHome)?;
    let project = std::env::current_dir().map_err(|source| CtlError::CurrentDir { source })?;
    let mut locations = Locations::new(home, project);
    locations.codex_home = std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(Into::into);
    let mut request = Request::new(client, scope, locations);
    request.trust = trust;
    Ok(match action {
        HooksAction::Install => HooksOutcome::Changed(install::install(&request)?),
        HooksAction::Uninstall => HooksOutcome::Changed(install::uninstall(&request)?),
        HooksAction::Print => HooksOutcome::Preview(install::print(&request)?),
    })
}

/// The service definition for the `difflored` beside this difflorectl (or on PATH).
pub fn service(paths: &Paths, kind: ServiceKind) -> Result<String, CtlError> {
    let daemon = super::stop::daemon_binary()?;
    Ok(match kind {
        ServiceKind::Systemd => install::service::systemd_unit(&daemon, &paths.home),
        ServiceKind::Launchd => install::service::launchd_plist(&daemon, &paths.home),
    })
}
