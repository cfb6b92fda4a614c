//! The one renderer: every word difflorectl prints comes from here, as a pure function of an
//! outcome value (and the clock captured in it), so each message is an insta snapshot.
//! Never looks at disk, processes or the current time.

mod hooks;
mod query;
mod queue;
mod sessions;
mod show;
mod status;

use std::time::Duration;

use super::Outcome;
use super::stop::{KillOutcome, RestartOutcome, StartOutcome, StopOutcome};
use crate::shared::event::State;

pub use queue::{is_yes, purge_prompt};

/// `difflorectl: error: cause: cause…`, the one line for an error.
pub fn error_line(err: &dyn std::error::Error) -> String {
    format!("difflorectl: {}", crate::shared::error_chain(err))
}

/// What to print: `stdout` for what was asked, `stderr` for what went wrong. Each is
/// empty or ends in a newline.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Message {
    pub stdout: String,
    pub stderr: String,
}

impl Message {
    fn out(text: impl Into<String>) -> Message {
        Message {
            stdout: line(text.into()),
            stderr: String::new(),
        }
    }

    fn err(text: impl Into<String>) -> Message {
        Message {
            stdout: String::new(),
            stderr: line(text.into()),
        }
    }

    fn and(mut self, other: Message) -> Message {
        self.stdout.push_str(&other.stdout);
        self.stderr.push_str(&other.stderr);
        self
    }
}

fn line(mut text: String) -> String {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

pub fn render(outcome: &Outcome) -> Message {
    match outcome {
        Outcome::Status { status, json } => status::status(status, *json),
        Outcome::Stop(o) => stop(o),
        Outcome::Kill(o) => kill(o),
        Outcome::Start(o) => start(o),
        Outcome::Restart(o) => restart(o),
        Outcome::Events { list, json } => queue::events(list, *json),
        Outcome::Retry(o) => queue::retry(o),
        Outcome::Purge(o) => queue::purge(o),
        Outcome::Flush(o) => queue::flush(o),
        Outcome::Hooks(o) => hooks::hooks(o),
        Outcome::Service(text) => Message::out(text.clone()),
        Outcome::Query { table, format } => query::query(table.as_ref(), *format),
        Outcome::Sessions { list, json } => sessions::sessions(list, *json),
        Outcome::Show { timeline, json } => show::show(timeline, *json),
    }
}

const REQUEUE: &str = "in-flight events return to the queue at the next start";

fn stale_cleaned(pid: i32, other_process: bool) -> Message {
    Message::out(format!(
        "difflored was not running; emptied its stale pid file ({})",
        stale_pid(pid, other_process)
    ))
}

/// What became of the pid a stale file names.
fn stale_pid(pid: i32, other_process: bool) -> String {
    if other_process {
        format!("pid {pid} now belongs to an unrelated process, which was left alone")
    } else {
        format!("pid {pid} had exited")
    }
}

fn survived(pid: i32) -> Message {
    Message::err(format!(
        "difflored (pid {pid}) still holds its lock after SIGKILL; it may be stuck in the kernel"
    ))
}

fn stop(o: &StopOutcome) -> Message {
    match *o {
        StopOutcome::NotRunning => Message::out("difflored is not running"),
        StopOutcome::StaleCleaned { pid, other_process } => stale_cleaned(pid, other_process),
        StopOutcome::Stopped { pid, after } => Message::out(format!(
            "stopped difflored (pid {pid}) after {}",
            human(after)
        )),
        StopOutcome::Killed { pid, grace } => Message::out(format!(
            "difflored (pid {pid}) did not stop within {}; killed it ({REQUEUE})",
            human(grace)
        )),
        StopOutcome::Survived { pid } => survived(pid),
    }
}

fn kill(o: &KillOutcome) -> Message {
    match *o {
        KillOutcome::NotRunning => Message::out("difflored is not running"),
        KillOutcome::StaleCleaned { pid, other_process } => stale_cleaned(pid, other_process),
        KillOutcome::Killed { pid } => {
            Message::out(format!("killed difflored (pid {pid}); {REQUEUE}"))
        }
        KillOutcome::Survived { pid } => survived(pid),
    }
}

fn start(o: &StartOutcome) -> Message {
    match *o {
        StartOutcome::AlreadyRunning { pid } => {
            Message::out(format!("difflored is already running (pid {pid})"))
        }
        StartOutcome::Started { pid } => Message::out(format!("started difflored (pid {pid})")),
    }
}

fn restart(o: &RestartOutcome) -> Message {
    let stopped = stop(&o.stop);
    match &o.start {
        Some(started) => stopped.and(start(started)),
        None => stopped.and(Message::err(
            "not starting a new difflored while the old one lives",
        )),
    }
}

/// A duration for people: `0.3s`, `42s`, `3m 2s`, `2h 5m`, `3d 4h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => format!("{:.1}s", d.as_secs_f64()),
        10..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// Time between two epoch-millisecond instants, never negative (clocks step).
fn since(earlier_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(now_ms.saturating_sub(earlier_ms).max(0) as u64)
}

/// `1 dead event`, `3 dead events`, `1 rejected input`.
fn count(n: i64, state: State) -> String {
    let (adj, noun) = match state {
        State::Pending => ("pending ", "event"),
        State::InFlight => ("in-flight ", "event"),
        State::Dead => ("dead ", "event"),
        State::Rejected => ("rejected ", "input"),
        State::Delivered => ("delivered ", "event"),
    };
    format!("{n} {adj}{noun}{}", if n == 1 { "" } else { "s" })
}
