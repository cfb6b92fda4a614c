//! `difflorectl`: run one parsed command and return its outcome as a value. The words are
//! `render`'s; printing and exit codes are the main's. Never signals a process whose
//! identity it has not checked, and `status` never writes.

pub mod cli;
pub mod hooks;
pub mod process;
pub mod queue;
pub mod render;
pub mod status;
pub mod stop;
pub mod views;

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use crate::shared::paths::{Paths, PathsError};
use crate::shared::pidfile::PidFileError;
use crate::shared::store::StoreError;
use crate::shared::sys;

use cli::Command;
use queue::{Confirm, EventList, FlushOutcome, PurgeOutcome, RetryOutcome};
use status::Status;
use stop::{KillOutcome, RestartOutcome, StartOutcome, StopOutcome};

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("pid file {path} is locked but names no live process")]
    Unidentified { path: PathBuf },
    #[error("could not send {signal} to difflored (pid {pid})")]
    Signal {
        pid: i32,
        signal: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("could not find difflored next to {} or on PATH", beside.as_deref().map_or("difflorectl".into(), |p| p.display().to_string()))]
    NoDaemonBinary { beside: Option<PathBuf> },
    #[error("could not start difflored at {path}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("difflored at {path} could not start ({status}); see {}", log.display())]
    DaemonExited {
        path: PathBuf,
        status: ExitStatus,
        log: PathBuf,
    },
    #[error("difflored at {path} exited 0 but no daemon holds the lock; see {}", log.display())]
    NotStarted { path: PathBuf, log: PathBuf },
    #[error("difflored did not report ready within {}; see {}", humantime::format_duration(*waited), log.display())]
    StartTimeout { waited: Duration, log: PathBuf },
    #[error(transparent)]
    Install(#[from] crate::install::InstallError),
    #[error(transparent)]
    View(#[from] views::ViewError),
    #[error("could not find the home directory; set HOME")]
    NoHome,
    #[error("could not read the current directory")]
    CurrentDir {
        #[source]
        source: io::Error,
    },
    #[error("name the agent with --client NAME")]
    NoClient,
    #[error("--trust is for codex only: {client} runs its hooks without a trust step")]
    TrustNotNeeded { client: &'static str },
    #[error("could not read the answer to the purge prompt")]
    Prompt {
        #[source]
        source: io::Error,
    },
}

/// What a command did, for the renderer.
#[derive(Debug)]
pub enum Outcome {
    Status {
        status: Status,
        json: bool,
    },
    Stop(StopOutcome),
    Kill(KillOutcome),
    Start(StartOutcome),
    Restart(RestartOutcome),
    Events {
        list: EventList,
        json: bool,
    },
    Retry(RetryOutcome),
    Purge(PurgeOutcome),
    Flush(FlushOutcome),
    Hooks(hooks::HooksOutcome),
    Service(String),
    Query {
        table: Option<views::query::Table>,
        format: views::query::Format,
    },
    Sessions {
        list: views::sessions::SessionList,
        json: bool,
    },
    Show {
        timeline: Box<views::show::Timeline>,
        json: bool,
    },
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Status { status, .. } => status.exit_code(),
            Outcome::Stop(StopOutcome::Survived { .. })
            | Outcome::Kill(KillOutcome::Survived { .. })
            | Outcome::Restart(RestartOutcome { start: None, .. }) => 1,
            Outcome::Retry(r) if !r.skipped.is_empty() => 1,
            Outcome::Purge(PurgeOutcome::Declined { .. } | PurgeOutcome::NeedsYes { .. }) => 1,
            Outcome::Flush(FlushOutcome::NotRunning | FlushOutcome::Stale { .. }) => 1,
            _ => 0,
        }
    }
}

/// Run one command against the data home named by the environment.
pub fn run(command: Command) -> Result<Outcome, CtlError> {
    sys::private_umask();
    let paths = match (Paths::from_env(), &command) {
        (Ok(paths), _) => paths,
        // Status reports even an unusable data home (exit 4) instead of failing.
        (Err(e), Command::Status { json }) => {
            return Ok(Outcome::Status {
                status: Status::Unknown {
                    data_home: None,
                    error: e.into(),
                },
                json: *json,
            });
        }
        (Err(e), _) => return Err(e.into()),
    };
    let paths = &paths;
    // Someone else's data home is refused before anything reads or writes in it.
    if !matches!(command, Command::Hooks { .. } | Command::Service { .. })
        && let Err(e) = paths.check_owner()
    {
        return match command {
            Command::Status { json } => Ok(Outcome::Status {
                status: Status::Unknown {
                    data_home: Some(paths.home.clone()),
                    error: e.into(),
                },
                json,
            }),
            _ => Err(e.into()),
        };
    }
    Ok(match command {
        Command::Status { json } => Outcome::Status {
            status: status::status(paths),
            json,
        },
        Command::Stop { grace } => Outcome::Stop(stop::stop(paths, grace.0)?),
        Command::Kill => Outcome::Kill(stop::kill(paths)?),
        Command::Start => Outcome::Start(stop::start(paths)?),
        Command::Restart { grace } => Outcome::Restart(stop::restart(paths, grace.0)?),
        Command::Events { state, limit, json } => Outcome::Events {
            list: queue::events(paths, state.map(|s| s.0), limit.0)?,
            json,
        },
        Command::Retry { target } => Outcome::Retry(match target {
            cli::RetryTarget::AllDead => queue::retry(paths, None)?,
            cli::RetryTarget::Ids(ids) => queue::retry(paths, Some(&ids))?,
        }),
        Command::Purge { state, yes } => {
            let mut ask = ask_on_terminal;
            let confirm = if yes {
                Confirm::Yes
            } else if io::stdin().is_terminal() {
                Confirm::Ask(&mut ask)
            } else {
                Confirm::Refuse
            };
            Outcome::Purge(queue::purge(paths, state.state(), confirm)?)
        }
        Command::Flush => Outcome::Flush(queue::flush(paths)?),
        Command::Hooks {
            action,
            client,
            scope,
            trust,
            json,
        } => Outcome::Hooks(hooks::run(
            paths,
            action,
            client.map(|c| c.0),
            scope.0,
            trust,
            json,
        )?),
        Command::Service { kind, .. } => Outcome::Service(hooks::service(paths, kind)?),
        Command::Query { json, csv, sql } => Outcome::Query {
            table: views::query::query(paths, &sql)?,
            format: match (json, csv) {
                (true, _) => views::query::Format::Json,
                (_, true) => views::query::Format::Csv,
                _ => views::query::Format::Table,
            },
        },
        Command::Sessions {
            since,
            client,
            cwd,
            limit,
            json,
        } => {
            let now = crate::shared::now_ms();
            let cwd = match cwd {
                Some(dir) if dir.is_relative() => Some(
                    std::env::current_dir()
                        .map_err(|source| CtlError::CurrentDir { source })?
                        .join(dir),
                ),
                other => other,
            };
            let filter = views::sessions::Filter {
                since_ms: since.map(|d| now - d.0.as_millis() as i64),
                client,
                cwd,
                limit: limit.0,
            };
            Outcome::Sessions {
                list: views::sessions::sessions(paths, filter, now)?,
                json,
            }
        }
        Command::Show { json, session } => Outcome::Show {
            timeline: Box::new(views::show::show(
                paths,
                &session,
                terminal_width(),
                crate::shared::now_ms(),
            )?),
            json,
        },
    })
}

/// Columns `show` may fill: `$COLUMNS` when the shell exports it, else 100.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c >= 40)
        .unwrap_or(100)
}

/// Show the purge prompt on stderr and read one line: only `y`/`yes` agrees.
fn ask_on_terminal(state: crate::shared::event::State, count: i64) -> io::Result<bool> {
    let mut err = io::stderr().lock();
    write!(err, "{}", render::purge_prompt(state, count))?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(render::is_yes(&answer))
}
