//! The typed values `difflorectl`'s parser yields: grace periods, limits, queue states,
//! event ids, agents, scopes and hook actions, each with the message a bad spelling gets.
//! Parsing only: nothing here touches disk or signals.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::install::Scope;
use crate::shared::event::{Client, State};

/// `hooks … ACTION`: what to do with an agent's hook settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HooksAction {
    Install,
    Uninstall,
    Print,
    Status,
}

impl FromStr for HooksAction {
    type Err = String;

    fn from_str(text: &str) -> Result<HooksAction, String> {
        match text {
            "install" => Ok(HooksAction::Install),
            "uninstall" => Ok(HooksAction::Uninstall),
            "print" => Ok(HooksAction::Print),
            "status" => Ok(HooksAction::Status),
            _ => Err("not an action; use install, uninstall, print or status".into()),
        }
    }
}

/// `service print`: the one verb, spelled out so the command reads as what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintOnly;

impl FromStr for PrintOnly {
    type Err = String;

    fn from_str(text: &str) -> Result<PrintOnly, String> {
        match text {
            "print" => Ok(PrintOnly),
            _ => Err("not an action; use print".into()),
        }
    }
}

/// `hooks --client`: an agent difflore knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agent(pub Client);

impl FromStr for Agent {
    type Err = String;

    fn from_str(text: &str) -> Result<Agent, String> {
        let names: Vec<&str> = crate::install::INSTALLABLE
            .iter()
            .map(|c| c.as_str())
            .collect();
        match Client::parse(text) {
            Some(c) if crate::install::INSTALLABLE.contains(&c) => Ok(Agent(c)),
            // Recognised agents whose hooks difflore does not write (Mistral Vibe).
            Some(c) => Err(format!(
                "difflore recognises {}'s events but does not write its hooks; use {}",
                c.as_str(),
                names.join(", ")
            )),
            None => Err(format!("not an agent; use {}", names.join(", "))),
        }
    }
}

/// `hooks --scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeArg(pub Scope);

impl FromStr for ScopeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<ScopeArg, String> {
        match text {
            "user" => Ok(ScopeArg(Scope::User)),
            "project" => Ok(ScopeArg(Scope::Project)),
            _ => Err("not a scope; use user or project".into()),
        }
    }
}

impl fmt::Display for ScopeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Scope::User => "user",
            Scope::Project => "project",
        })
    }
}

/// How long `stop` waits after SIGTERM before SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace(pub Duration);

impl Grace {
    pub const DEFAULT: Grace = Grace(Duration::from_secs(5));
    /// Longer than this is a typo, not a wish: the caller would hang for it.
    pub const MAX: Duration = Duration::from_secs(3600);
}

impl FromStr for Grace {
    type Err = String;

    fn from_str(text: &str) -> Result<Grace, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("a bare number has no unit: did you mean {text}s?"));
        }
        let d = humantime::parse_duration(text)
            .map_err(|e| format!("not a duration like 5s or 1m30s ({e})"))?;
        if d.is_zero() {
            return Err("a zero grace skips the graceful stop; use `difflorectl kill`".into());
        }
        if d > Grace::MAX {
            return Err("longer than the 1h limit; a stop should not hang for that long".into());
        }
        Ok(Grace(d))
    }
}

impl fmt::Display for Grace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// `events --limit N`: at least one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub usize);

impl FromStr for Limit {
    type Err = String;

    fn from_str(text: &str) -> Result<Limit, String> {
        match text.parse::<usize>() {
            Ok(0) => Err("the limit must be at least 1".into()),
            Ok(n) => Ok(Limit(n)),
            Err(_) => Err("not a number of events".into()),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `sessions --since`: how far back to look, like `2d`, `12h` or `30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub Duration);

impl FromStr for Since {
    type Err = String;

    fn from_str(text: &str) -> Result<Since, String> {
        humantime::parse_duration(text)
            .map(Since)
            .map_err(|e| format!("not a duration like 2d, 12h or 30m: {e}"))
    }
}

/// `events --state`: a state name as the outbox stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueState(pub State);

impl FromStr for QueueState {
    type Err = String;

    fn from_str(text: &str) -> Result<QueueState, String> {
        parse_state(text).map(QueueState).ok_or_else(|| {
            "not a state; use pending, in_flight, dead, rejected or delivered".into()
        })
    }
}

/// A state name as stored in the `events` table (`in-flight` accepted for typing ease).
pub fn parse_state(text: &str) -> Option<State> {
    match text {
        "pending" => Some(State::Pending),
        "in_flight" | "in-flight" => Some(State::InFlight),
        "dead" => Some(State::Dead),
        "rejected" => Some(State::Rejected),
        "delivered" => Some(State::Delivered),
        _ => None,
    }
}

/// An event id as `events` shows it: the row number, or the full `<install_id>-<row>`
/// that the collector receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRef {
    Row(i64),
    Full { install_id: String, row: i64 },
}

impl EventRef {
    pub fn row(&self) -> i64 {
        match self {
            EventRef::Row(row) | EventRef::Full { row, .. } => *row,
        }
    }
}

impl FromStr for EventRef {
    type Err = String;

    fn from_str(text: &str) -> Result<EventRef, String> {
        let bad =
            || "not an event id; expected a row number like 42, or <install_id>-42".to_owned();
        let row = |digits: &str| match digits.parse::<i64>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(bad()),
        };
        match text.rsplit_once('-') {
            None => row(text).map(EventRef::Row),
            Some((install, digits))
                if !install.is_empty() && install.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok(EventRef::Full {
                    install_id: install.to_ascii_lowercase(),
                    row: row(digits)?,
                })
            }
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventRef::Row(row) => write!(f, "{row}"),
            EventRef::Full { install_id, row } => write!(f, "{install_id}-{row}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_wants_a_unit_and_a_sane_size() {
        assert_eq!("300ms".parse(), Ok(Grace(Duration::from_millis(300))));
        assert_eq!("1m30s".parse(), Ok(Grace(Duration::from_secs(90))));
        assert!(
            "5".parse::<Grace>()
                .unwrap_err()
                .contains("did you mean 5s?")
        );
        assert!("0s".parse::<Grace>().is_err());
        assert!("2h".parse::<Grace>().is_err());
        assert!("soon".parse::<Grace>().is_err());
    }

    #[test]
    fn event_ids_are_rows_or_full_ids() {
        assert_eq!("42".parse(), Ok(EventRef::Row(42)));
        assert_eq!(
            "ABCD-7".parse(),
            Ok(EventRef::Full {
                install_id: "abcd".into(),
                row: 7
            })
        );
        for bad in ["", "0", "-1", "x-1", "ab-", "ab-+1", "1.5"] {
            assert!(bad.parse::<EventRef>().is_err(), "{bad} accepted");
        }
    }
}
