//! The capture model's pairing and turns: which `tool.pre` a `tool.post`/`tool.failure`
//! completes, which events make up a turn, and the spans they form (turn, tool call,
//! subagent). One pass over events in outbox id order, as pure functions over a `State`
//! that `store` keeps in the outbox, so a restart or an outage changes nothing. Never
//! decides what leaves the machine: spans hold raw captured strings, redacted on the way out.

pub mod claimed;
mod close;
pub mod content;
pub mod facts;
pub mod ids;
mod memory;
mod pair;
mod record;
pub mod store;
mod turns;

#[cfg(test)]
mod props;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::vocabulary::Kind;

pub use facts::Facts;
pub use pair::pair;
pub use store::{Assembler, Settings};
pub use turns::assemble;

/// Prefix of a call id difflore made up because the agent gave none (the row of the pre).
pub const OWN_CALL_PREFIX: &str = "difflore:";

/// The default `span_close_after`: a session silent this long has its open spans closed.
pub const DEFAULT_CLOSE_AFTER: Duration = Duration::from_secs(3600);

/// Whether `call` is the agent's own id rather than one difflore made up.
pub fn is_agents_call_id(call: &str) -> bool {
    !call.starts_with(OWN_CALL_PREFIX)
}

/// One stored event, as assembly reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub at_ms: i64,
    pub client: String,
    pub kind: Kind,
    pub session: Option<String>,
    pub tool: Option<String>,
    pub facts: Facts,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Turn,
    Tool,
    Subagent,
}

impl Span {
    pub fn key(&self) -> Key {
        (
            self.session.clone(),
            self.turn,
            self.kind,
            self.call.clone(),
        )
    }
}

impl SpanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Turn => "turn",
            SpanKind::Tool => "tool",
            SpanKind::Subagent => "subagent",
        }
    }

    pub fn parse(text: &str) -> Option<SpanKind> {
        [SpanKind::Turn, SpanKind::Tool, SpanKind::Subagent]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A span, open (`end_event` is `None`) or closed. `end_event` is the outbox row whose
/// outgoing record carries the span out once it is closed; the `carried` table keeps it
/// beside that row (`record`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub session: String,
    pub turn: i64,
    pub kind: SpanKind,
    /// Tool: the call id; subagent: the agent id; turn: `None`.
    pub call: Option<String>,
    /// The tool call or subagent it runs under; `None` under the turn span (or, for the
    /// turn span, the root).
    pub parent: Option<(SpanKind, String)>,
    pub client: String,
    /// Tool name, subagent type.
    pub name: Option<String>,
    pub model: Option<String>,
    pub start_event: i64,
    pub start_ms: i64,
    pub end_event: Option<i64>,
    pub end_ms: Option<i64>,
    pub failed: bool,
    /// Closed without the event that ends it (turn over, session over, or silent too long).
    pub incomplete: bool,
    /// A tool call's arguments as its start captured them (JSON text), kept only while
    /// `otlp_content` is on.
    pub arguments: Option<String>,
}

/// One session's turn counter and open turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub client: String,
    /// Ordinal of the latest turn (1-based; 0 before the first).
    pub turns: i64,
    pub open_turn: Option<i64>,
    /// Capture time of the latest event.
    pub last_ms: i64,
    pub ended_ms: Option<i64>,
}

/// A span's identity within its session: turn, kind and call (its ids derive from these).
pub type Key = (String, i64, SpanKind, Option<String>);

/// What assembly carries from one pass to the next: sessions, every open span (all of
/// which belong to their session's open turn), and the keys of the spans already closed in
/// open turns, so that a start seen twice (a hook registered twice, events reordered) never
/// makes a second span with the same ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub sessions: BTreeMap<String, Session>,
    pub open: Vec<Span>,
    pub done: BTreeSet<Key>,
}

/// The span an event belongs to (`claimed::read`): its log record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub session: String,
    pub turn: i64,
    pub kind: SpanKind,
    pub call: Option<String>,
}

/// What an event is, written back to its row: its kind, the call it belongs to, its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub id: i64,
    pub kind: Kind,
    pub call: Option<String>,
    pub turn: Option<i64>,
}

/// The result of one pass: a mark per event, and the spans it closed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assembled {
    pub marks: Vec<Mark>,
    pub closed: Vec<Span>,
}

/// Closed spans (owned or borrowed) by the row that carries them out, each row's in the
/// order they closed. A span with no carrier (none that a pass closes) is left out.
pub fn by_carrier<S: std::borrow::Borrow<Span>>(
    closed: impl IntoIterator<Item = S>,
) -> HashMap<i64, Vec<S>> {
    let mut carried = HashMap::<i64, Vec<S>>::new();
    for s in closed {
        if let Some(row) = s.borrow().end_event {
            carried.entry(row).or_default().push(s);
        }
    }
    carried
}
