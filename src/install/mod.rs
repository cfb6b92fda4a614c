//! Hook installation for every agent with command hooks (`difflorectl hooks
//! install|uninstall|print`) and the service files that keep `difflored` running
//! (`service`). Every path comes from the caller, nothing here reads the environment, and
//! outcomes are values for one renderer.

mod agent;
mod auggie;
mod claude_code;
mod cline;
mod codex;
pub mod codex_trust;
mod copilot;
mod crush;
mod cursor;
mod droid;
mod gemini;
mod hooks_map;
mod kimi;
mod kiro;
mod note;
mod opencode;
mod owned;
mod qwen;
pub mod service;
mod settings_file;
pub mod status;
mod windsurf;

use std::path::PathBuf;

use agent::{AgentSpec, NoteContext};
pub use hooks_map::PROGRAM;
pub use note::Note;
pub use owned::MARKER;
pub use settings_file::BACKUP_SUFFIX;

pub use crate::shared::event::Client;

/// Timeouts written into each agent's file, in that agent's own unit.
pub mod timeouts {
    pub use super::auggie::TIMEOUT_MS as AUGGIE_MS;
    pub use super::claude_code::TIMEOUT_SECS as CLAUDE_CODE_SECS;
    pub use super::codex::{
        SHORT_TIMEOUT_SECS as CODEX_SESSION_END_SECS, TIMEOUT_SECS as CODEX_SECS,
    };
    pub use super::copilot::TIMEOUT_SECS as COPILOT_SECS;
    pub use super::crush::TIMEOUT_SECS as CRUSH_SECS;
    pub use super::droid::TIMEOUT_SECS as DROID_SECS;
    pub use super::gemini::TIMEOUT_MS as GEMINI_MS;
    pub use super::kimi::TIMEOUT_SECS as KIMI_SECS;
    pub use super::kiro::TIMEOUT_MS as KIRO_MS;
    pub use super::qwen::TIMEOUT_MS as QWEN_CODE_MS;
}

/// The agents whose hooks difflore can write (the others are only recognised).
pub const INSTALLABLE: [Client; 15] = [
    Client::ClaudeCode,
    Client::Codex,
    Client::Gemini,
    Client::Cursor,
    Client::Windsurf,
    Client::Copilot,
    Client::VsCode,
    Client::Droid,
    Client::QwenCode,
    Client::Auggie,
    Client::Cline,
    Client::OpenCode,
    Client::Kimi,
    Client::Kiro,
    Client::Crush,
];

/// The installable agents whose hooks are entries difflore merges into a JSON settings file
/// of the user's; the others get files of difflore's own (Cline's scripts, OpenCode's plugin)
/// or tables in a TOML file (Kimi's `[[hooks]]`).
pub const SETTINGS_FILES: [Client; 12] = [
    Client::ClaudeCode,
    Client::Codex,
    Client::Gemini,
    Client::Cursor,
    Client::Windsurf,
    Client::Copilot,
    Client::VsCode,
    Client::Droid,
    Client::QwenCode,
    Client::Auggie,
    Client::Kiro,
    Client::Crush,
];

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON (line {line}, column {column}); it was left untouched")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path}: expected {} to be {expected}; it was left untouched",
        if pointer.is_empty() { "the top level" } else { pointer.as_str() }
    )]
    Shape {
        path: PathBuf,
        /// A JSON pointer to the offending value; empty for the top level.
        pointer: String,
        expected: &'static str,
    },
    #[error("project directory {path} does not exist")]
    NoProjectDir { path: PathBuf },
    #[error("could not create directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write backup {path}; the settings file was left untouched")]
    Backup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("difflore cannot write hooks for {} yet; its events are recognised when they reach difflore-hook", client.as_str())]
    Unsupported { client: Client },
    #[error("{path} is not valid TOML; it was left untouched: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{} reads hooks from the user's settings only; install it without --scope project", client.as_str())]
    UserScopeOnly { client: Client },
    #[error("{path} changed while difflore was editing it; nothing was written, run it again")]
    ChangedMeanwhile { path: PathBuf },
}

/// Which settings file: the user's (under the home directory) or a project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Project,
}

/// Where the user's home and the project are. Tests pass temp dirs; the CLI passes `$HOME`,
/// the current directory (or `--project`) and `$CODEX_HOME` when it is set.
#[derive(Debug, Clone)]
pub struct Locations {
    pub home: PathBuf,
    pub project: PathBuf,
    /// Codex's user directory when moved from `~/.codex` (`CODEX_HOME`).
    pub codex_home: Option<PathBuf>,
    /// Kimi Code CLI's user directory when moved from `~/.kimi-code` (`KIMI_CODE_HOME`).
    pub kimi_home: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`, where OpenCode's and Crush's user configuration live when it is set.
    pub xdg_config_home: Option<PathBuf>,
    /// Crush's user directory when moved (`CRUSH_GLOBAL_CONFIG`).
    pub crush_global: Option<PathBuf>,
}

impl Locations {
    pub fn new(home: impl Into<PathBuf>, project: impl Into<PathBuf>) -> Locations {
        Locations {
            home: home.into(),
            project: project.into(),
            codex_home: None,
            kimi_home: None,
            xdg_config_home: None,
            crush_global: None,
        }
    }
}

/// One install, uninstall or print.
#[derive(Debug, Clone)]
pub struct Request {
    pub client: Client,
    pub scope: Scope,
    pub locations: Locations,
    /// The program the agent runs: [`PROGRAM`] (found on the agent's `PATH`) unless the
    /// caller gives an absolute path.
    pub program: String,
    /// Codex: record trust for difflore's entries as Codex's `/hooks` screen does.
    pub trust: bool,
}

impl Request {
    pub fn new(client: Client, scope: Scope, locations: Locations) -> Request {
        Request {
            client,
            scope,
            locations,
            program: PROGRAM.to_string(),
            trust: false,
        }
    }

    /// The command line written into the agent's file.
    pub fn command(&self) -> String {
        if matches!(self.client, Client::Copilot | Client::VsCode) {
            // One file serves both; the payload names the agent.
            return shell_quote(&self.program);
        }
        format!(
            "{} --client {}",
            shell_quote(&self.program),
            self.client.as_str()
        )
    }

    /// The settings file this request reads and writes; for an agent configured by files of
    /// difflore's own, the directory of Cline's scripts or OpenCode's plugin file.
    pub fn settings_path(&self) -> PathBuf {
        let spec = spec(self.client);
        let loc = &self.locations;
        match (self.scope, self.client) {
            (scope, Client::Cline) => cline::dir(scope, loc),
            (scope, Client::OpenCode) => opencode::file(scope, loc),
            (Scope::User, Client::Codex) => codex::user_file(&loc.home, loc.codex_home.as_deref()),
            (Scope::User, Client::Kimi) => kimi::user_file(&loc.home, loc.kimi_home.as_deref()),
            (Scope::User, Client::Crush) => crush::user_file(loc),
            // Kimi reads no project file; status looks where one would be, and finds nothing.
            (Scope::Project, Client::Kimi) => loc.project.join(".kimi-code/config.toml"),
            (Scope::User, _) => loc.home.join(spec.user_file),
            (Scope::Project, _) => loc.project.join(spec.project_file),
        }
    }
}

/// The events difflore hooks for `client`, in the agent's own spelling.
pub fn events(client: Client) -> &'static [&'static str] {
    match client {
        Client::Cline => cline::EVENTS,
        Client::OpenCode => opencode::EVENTS,
        Client::Kimi => kimi::EVENTS,
        _ => spec(client).events,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    Uninstall,
}

/// What an install or uninstall did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOutcome {
    pub client: Client,
    pub action: Action,
    pub path: PathBuf,
    /// The file's content changed (false: it already said what we wanted; nothing written).
    pub changed: bool,
    /// The file did not exist before.
    pub created: bool,
    /// Where the previous content was saved, when there was one and it changed.
    pub backup: Option<PathBuf>,
    /// Install: events now carrying difflore's hook. Uninstall: entries removed.
    pub entries: usize,
    /// Codex: what recording (or, on uninstall, removing) difflore's trust did.
    pub trust: Option<codex_trust::TrustOutcome>,
    pub notes: Vec<Note>,
}

/// `print`'s answer: the file as an install would leave it, not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub path: PathBuf,
    pub text: String,
    pub changed: bool,
}

/// Merge difflore's entries into the agent's settings file for every event it documents.
pub fn install(request: &Request) -> Result<InstallOutcome, InstallError> {
    apply(request, Action::Install)
}

/// Remove difflore's entries (and the groups and lists that held only them).
pub fn uninstall(request: &Request) -> Result<InstallOutcome, InstallError> {
    apply(request, Action::Uninstall)
}

/// The file an install would write, without writing it.
pub fn print(request: &Request) -> Result<Preview, InstallError> {
    if request.client == Client::Kimi {
        let plan = kimi_plan(request, Action::Install)?;
        return Ok(Preview {
            path: plan.path,
            text: plan.text,
            changed: plan.changed,
        });
    }
    if let Some(files) = own_files(request)? {
        let changed = owned::apply_preview(&files)?;
        return Ok(Preview {
            path: request.settings_path(),
            text: files.first().map(|f| f.text.clone()).unwrap_or_default(),
            changed,
        });
    }
    let plan = plan(request, Action::Install)?;
    Ok(Preview {
        path: plan.path,
        text: plan.text,
        changed: plan.changed,
    })
}

struct Plan {
    path: PathBuf,
    loaded: settings_file::Loaded,
    root: serde_json::Map<String, serde_json::Value>,
    text: String,
    changed: bool,
    entries: usize,
}

fn plan(request: &Request, action: Action) -> Result<Plan, InstallError> {
    if !SETTINGS_FILES.contains(&request.client) {
        return Err(InstallError::Unsupported {
            client: request.client,
        });
    }
    let spec = spec(request.client);
    let path = request.settings_path();
    if request.scope == Scope::Project && !request.locations.project.is_dir() {
        return Err(InstallError::NoProjectDir {
            path: request.locations.project.clone(),
        });
    }
    let loaded = settings_file::load(&path)?;
    let mut root = loaded.root.clone();
    let shape_error = |e: hooks_map::ShapeError| InstallError::Shape {
        path: path.clone(),
        pointer: e.pointer,
        expected: e.expected,
    };
    let entries = match action {
        Action::Install => {
            hooks_map::install(&mut root, spec, &request.command()).map_err(shape_error)?;
            spec.events.len()
        }
        Action::Uninstall => hooks_map::uninstall(&mut root, spec).map_err(shape_error)?,
    };
    let changed = root != loaded.root || (loaded.original.is_none() && action == Action::Install);
    let text = if changed {
        settings_file::render(&root, loaded.original.as_deref()).map_err(|e| {
            InstallError::Write {
                path: path.clone(),
                source: std::io::Error::other(e),
            }
        })?
    } else {
        String::from_utf8_lossy(loaded.original.as_deref().unwrap_or_default()).into_owned()
    };
    Ok(Plan {
        path,
        loaded,
        root,
        text,
        changed,
        entries,
    })
}

/// The files difflore owns whole for `request`'s agent, when it is configured that way.
fn own_files(request: &Request) -> Result<Option<Vec<owned::Wanted>>, InstallError> {
    let Some(files) = wanted_files(request) else {
        return Ok(None);
    };
    let loc = &request.locations;
    if request.scope == Scope::Project && !loc.project.is_dir() {
        return Err(InstallError::NoProjectDir {
            path: loc.project.clone(),
        });
    }
    Ok(Some(files))
}

fn wanted_files(request: &Request) -> Option<Vec<owned::Wanted>> {
    let (scope, loc) = (request.scope, &request.locations);
    match request.client {
        Client::Cline => Some(cline::scripts(scope, loc, &request.program)),
        Client::OpenCode => Some(vec![opencode::plugin(scope, loc, &request.program)]),
        _ => None,
    }
}

fn apply_own_files(
    request: &Request,
    files: &[owned::Wanted],
    action: Action,
) -> Result<InstallOutcome, InstallError> {
    let applied = owned::apply(files, action)?;
    let entries = match (request.client, action) {
        // One plugin file carries every event.
        (Client::OpenCode, Action::Install) if applied.entries > 0 => opencode::EVENTS.len(),
        _ => applied.entries,
    };
    let mut notes = applied.skipped;
    if action == Action::Install {
        notes.extend(agent::restart_note(request.client, applied.changed));
    }
    Ok(InstallOutcome {
        client: request.client,
        action,
        path: request.settings_path(),
        changed: applied.changed,
        created: applied.created,
        backup: None,
        entries,
        trust: None,
        notes,
    })
}

fn kimi_plan(request: &Request, action: Action) -> Result<kimi::Plan, InstallError> {
    if request.scope == Scope::Project {
        return Err(InstallError::UserScopeOnly {
            client: request.client,
        });
    }
    kimi::plan(request, action)
}

fn apply_kimi(request: &Request, action: Action) -> Result<InstallOutcome, InstallError> {
    let plan = kimi_plan(request, action)?;
    let backup = if plan.changed {
        settings_file::store(&plan.path, &plan.loaded, &plan.text)?
    } else {
        None
    };
    Ok(InstallOutcome {
        client: request.client,
        action,
        created: plan.changed && plan.loaded.original.is_none(),
        path: plan.path,
        changed: plan.changed,
        backup,
        entries: plan.entries,
        trust: None,
        notes: match action {
            Action::Install => agent::restart_note(request.client, plan.changed),
            Action::Uninstall => Vec::new(),
        },
    })
}

fn apply(request: &Request, action: Action) -> Result<InstallOutcome, InstallError> {
    if request.client == Client::Kimi {
        return apply_kimi(request, action);
    }
    if let Some(files) = own_files(request)? {
        return apply_own_files(request, &files, action);
    }
    let plan = plan(request, action)?;
    let backup = if plan.changed {
        settings_file::store(&plan.path, &plan.loaded, &plan.text)?
    } else {
        None
    };
    let trust = match (request.client, action) {
        (Client::Codex, Action::Install) if request.trust => {
            Some(codex::record_trust(request, &plan.path, &plan.root)?)
        }
        (Client::Codex, Action::Uninstall) => {
            Some(codex::record_trust(request, &plan.path, &plan.root)?)
        }
        _ => None,
    };
    let notes = match action {
        Action::Install => (spec(request.client).notes)(&NoteContext {
            request,
            scope: request.scope,
            home: &request.locations.home,
            project: &request.locations.project,
            agent_home: request.locations.codex_home.as_deref(),
            settings: &plan.root,
            settings_path: &plan.path,
            changed: plan.changed,
        }),
        Action::Uninstall => Vec::new(),
    };
    Ok(InstallOutcome {
        client: request.client,
        action,
        path: plan.path,
        changed: plan.changed,
        created: plan.changed && plan.loaded.original.is_none(),
        backup,
        entries: plan.entries,
        trust,
        notes,
    })
}

fn spec(client: Client) -> &'static AgentSpec {
    match client {
        Client::Copilot | Client::VsCode => &copilot::SPEC,
        Client::Droid => &droid::SPEC,
        Client::QwenCode => &qwen::SPEC,
        Client::Auggie => &auggie::SPEC,
        Client::Kiro => &kiro::SPEC,
        Client::Crush => &crush::SPEC,
        // Guarded by `own_files` and `apply_kimi`: these get files of difflore's own or
        // TOML tables, not a JSON settings file; Vibe is not installable (`plan` refuses it,
        // and the CLI does not offer it).
        Client::Cline | Client::OpenCode | Client::Kimi | Client::Vibe => &windsurf::SPEC,
        Client::ClaudeCode => &claude_code::SPEC,
        Client::Codex => &codex::SPEC,
        Client::Gemini => &gemini::SPEC,
        Client::Cursor => &cursor::SPEC,
        Client::Windsurf => &windsurf::SPEC,
    }
}

/// Quote a program path for the `sh -c` the agents run hooks through (and Cline's scripts).
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./+:@%,=".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
