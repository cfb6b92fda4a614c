//! `difflorectl`'s command line: the bpaf parser, its commands and their help. The typed
//! values it yields live in `values`. Parsing only: nothing here touches disk or signals.

mod values;

use bpaf::{Bpaf, Parser};

use crate::install::Scope;
use crate::shared::event::State;

pub use values::{
    Agent, EventRef, Grace, HooksAction, Limit, PrintOnly, QueueState, ScopeArg, Since, parse_state,
};

/// Steer difflore: see whether the daemon runs, stop or start it, and inspect or retry
/// what waits in the outbox.
#[derive(Debug, Clone, Bpaf)]
#[bpaf(options, version)]
pub enum Command {
    /// Show whether difflored runs, what waits in the outbox and how delivery goes
    #[bpaf(command, footer(STATUS_EXIT_CODES))]
    Status {
        /// Print one JSON object instead of text
        json: bool,
    },
    /// Stop difflored: SIGTERM, then SIGKILL if it is still running after the grace period
    #[bpaf(command)]
    Stop {
        #[bpaf(external(grace))]
        grace: Grace,
    },
    /// Kill difflored at once (SIGKILL); in-flight events return to the queue at next start
    #[bpaf(command)]
    Kill,
    /// Start difflored in the background (nothing to do if it is already running)
    #[bpaf(command)]
    Start,
    /// Stop difflored (as `stop` does), then start it again
    #[bpaf(command)]
    Restart {
        #[bpaf(external(grace))]
        grace: Grace,
    },
    /// List events in the outbox, oldest first
    #[bpaf(command)]
    Events {
        /// Only events in this state: pending, in_flight, dead, rejected or delivered (history);
        /// without it, every event not yet delivered
        #[bpaf(argument("STATE"))]
        state: Option<QueueState>,
        /// Show at most N events
        #[bpaf(argument("N"), fallback(Limit(50)), display_fallback)]
        limit: Limit,
        /// Print a JSON array instead of a table
        json: bool,
    },
    /// Move dead events back to pending, attempts reset, due now
    #[bpaf(command)]
    Retry {
        #[bpaf(external(retry_target))]
        target: RetryTarget,
    },
    /// Delete every dead or every rejected event (asks first on a terminal)
    #[bpaf(command)]
    Purge {
        #[bpaf(external(purge_state))]
        state: PurgeState,
        /// Do not ask for confirmation (needed when stdin is not a terminal)
        yes: bool,
    },
    /// Wake the running difflored to deliver what is due now (SIGUSR1)
    #[bpaf(command)]
    Flush,
    /// Add, remove or show difflore's entries in an agent's hook settings
    #[bpaf(command)]
    Hooks {
        /// The agent: claude-code, codex, gemini, cursor, windsurf, copilot, vscode, droid,
        /// qwen-code or auggie
        #[bpaf(argument("NAME"))]
        client: Option<Agent>,
        /// user (your home directory: every project) or project (the current directory)
        #[bpaf(argument("SCOPE"), fallback(ScopeArg(Scope::User)), display_fallback)]
        scope: ScopeArg,
        /// codex: also record trust for difflore's entries, as Codex's /hooks screen does
        trust: bool,
        /// status: print one JSON object instead of text
        json: bool,
        /// install, uninstall, print (show the resulting file without writing it), or status
        /// (what is installed for every agent, or the one named, and when it last sent)
        #[bpaf(positional("ACTION"))]
        action: HooksAction,
    },
    /// List recorded sessions, newest first: agent, project, prompts, tool calls, tokens
    #[bpaf(command)]
    Sessions {
        /// Only sessions active within this long, like 2d, 12h or 30m
        #[bpaf(argument("DURATION"))]
        since: Option<Since>,
        /// Only this agent's sessions (claude-code, codex, gemini, cursor, windsurf…)
        #[bpaf(argument("NAME"))]
        client: Option<String>,
        /// Only sessions in this folder or below it
        #[bpaf(argument("PATH"))]
        cwd: Option<std::path::PathBuf>,
        /// Show at most N sessions
        #[bpaf(argument("N"), fallback(Limit(20)), display_fallback)]
        limit: Limit,
        /// Print a JSON array instead of a table
        json: bool,
    },
    /// Show one session as a timeline: turns, tool calls with durations, failures, tokens
    #[bpaf(command)]
    Show {
        /// Print one JSON object (session, turns, events) instead of text
        json: bool,
        /// A session id, a unique prefix of one, or `last` (the newest)
        #[bpaf(positional("SESSION"))]
        session: String,
    },
    /// Run one read-only SQL statement over the history views (see the README)
    #[bpaf(command, footer(QUERY_FOOTER))]
    Query {
        /// Print a JSON array of objects instead of a table
        json: bool,
        /// Print CSV with a header line instead of a table
        csv: bool,
        /// The statement, like "SELECT tool, count(*) FROM tool_calls GROUP BY tool"
        #[bpaf(positional("SQL"))]
        sql: String,
    },
    /// Print a service definition that runs `difflored --foreground` at login
    #[bpaf(command)]
    Service {
        #[bpaf(external(service_kind))]
        kind: ServiceKind,
        /// print (the only action: redirect it into the file the service manager reads)
        #[bpaf(positional("print"))]
        _print: PrintOnly,
    },
}

/// Which service manager to write for:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Bpaf)]
pub enum ServiceKind {
    /// A systemd user unit (Linux)
    Systemd,
    /// A launchd agent (macOS)
    Launchd,
}

/// Which rows to move back to pending:
#[derive(Debug, Clone, PartialEq, Eq, Bpaf)]
pub enum RetryTarget {
    /// Retry every dead event
    #[bpaf(long("dead"))]
    AllDead,
    Ids(
        /// Event ids as `events` shows them: the row number or <install_id>-<row>
        #[bpaf(positional("ID"), some("name at least one event ID, or --dead"))]
        Vec<EventRef>,
    ),
}

/// Which rows to delete:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Bpaf)]
pub enum PurgeState {
    /// Delete every dead event
    Dead,
    /// Delete every rejected input
    Rejected,
}

impl PurgeState {
    pub fn state(self) -> State {
        match self {
            PurgeState::Dead => State::Dead,
            PurgeState::Rejected => State::Rejected,
        }
    }
}

const QUERY_FOOTER: &str = "The outbox is opened read-only: a statement that would write \
    is refused (exit 1) and nothing changes. The views and their columns are described in the \
    README (Local history).";

const STATUS_EXIT_CODES: &str = "Exit codes, as LSB init scripts: 0 running, 1 not running \
    although the pid file still names a process (crashed or killed), 3 not running, 4 unknown \
    (for example an unreadable data home).";

fn grace() -> impl Parser<Grace> {
    bpaf::long("grace")
        .help("How long to wait for a graceful exit, like 5s, 300ms or 1m30s")
        .argument::<Grace>("DURATION")
        .fallback(Grace::DEFAULT)
        .display_fallback()
}
