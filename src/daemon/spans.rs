//! The daemon's side of trace assembly: run `shared::assemble` over new rows before each
//! claim (so every claimed row already carries the spans it closes), hand each claimed row
//! its spans and the span it belongs to, and the outgoing span record those become in
//! `prepare`, every captured string in it redacted there. Never encodes or sends.

use std::time::Duration;

use crate::shared::assemble::{self, Member, SpanKind, claimed, ids, store};
use crate::shared::store::{Outbox, StoreError};

use super::queue::Claimed;
use super::usage::turns::Tokens;

/// Rows folded in per transaction: hooks wait for the write lock no longer than this takes.
const ROWS_PER_PASS: usize = 1000;

/// One span as it leaves the machine. Ids are difflore's own (hashes); every string came
/// through the redactor. Times are the capture times of the events that start and end it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSpan {
    pub kind: SpanKind,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `None` for a turn: the root of its trace.
    pub parent_span_id: Option<[u8; 8]>,
    /// A turn's link to the turn before it in its session.
    pub previous_turn: Option<([u8; 16], [u8; 8])>,
    pub turn: i64,
    pub client: String,
    pub session_id: String,
    /// Tool name, or subagent type.
    pub name: Option<String>,
    /// Tool: the agent's own call id (none when difflore made one up); subagent: agent id.
    pub call_id: Option<String>,
    pub model: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub failed: bool,
    pub incomplete: bool,
    /// A turn's tokens (`prepare` sets them), for the `gen_ai.usage.*` attributes.
    pub usage: Option<Tokens>,
}

impl OutSpan {
    /// The outgoing record of a closed span: ids from the raw values (hashes only), every
    /// string through `redact(key, value)`.
    pub fn build(
        span: assemble::Span,
        install: &str,
        mut redact: impl FnMut(&str, String) -> String,
    ) -> OutSpan {
        let session = span.session.as_str();
        let trace_id = ids::trace_id(install, session, span.turn);
        let turn_span = ids::span_id(install, session, span.turn, SpanKind::Turn, None);
        let span_id = ids::span_id(install, session, span.turn, span.kind, span.call.as_deref());
        let parent_span_id = match (&span.kind, &span.parent) {
            (SpanKind::Turn, _) => None,
            (_, Some((kind, call))) => {
                Some(ids::span_id(install, session, span.turn, *kind, Some(call)))
            }
            (_, None) => Some(turn_span),
        };
        let previous_turn = (span.kind == SpanKind::Turn && span.turn > 1).then(|| {
            let n = span.turn - 1;
            (
                ids::trace_id(install, session, n),
                ids::span_id(install, session, n, SpanKind::Turn, None),
            )
        });
        let call_id = span
            .call
            .filter(|c| span.kind != SpanKind::Turn && assemble::is_agents_call_id(c));
        OutSpan {
            kind: span.kind,
            trace_id,
            span_id,
            parent_span_id,
            previous_turn,
            turn: span.turn,
            client: redact("client", span.client),
            session_id: redact("session_id", span.session),
            name: span.name.map(|v| redact("tool", v)),
            call_id: call_id.map(|v| redact("call_id", v)),
            model: span.model.map(|v| redact("model", v)),
            start_ms: span.start_ms,
            end_ms: span.end_ms.unwrap_or(span.start_ms),
            failed: span.failed,
            incomplete: span.incomplete,
            usage: None,
        }
    }
}

/// The trace and span ids of the span an event belongs to, for its log record.
pub fn ids_of(member: &Member, install: &str) -> ([u8; 16], [u8; 8]) {
    let session = member.session.as_str();
    (
        ids::trace_id(install, session, member.turn),
        ids::span_id(
            install,
            session,
            member.turn,
            member.kind,
            member.call.as_deref(),
        ),
    )
}

/// Fold every row not yet assembled into the span tables, a transaction per
/// `ROWS_PER_PASS`. Returns how many rows were read.
pub fn assemble_all(
    outbox: &Outbox,
    now_ms: i64,
    close_after: Duration,
) -> Result<usize, StoreError> {
    let mut read = 0;
    loop {
        let pass = store::run(outbox, now_ms, close_after, ROWS_PER_PASS)?;
        read += pass.read;
        if pass.read < ROWS_PER_PASS {
            return Ok(read);
        }
    }
}

/// Give each claimed row the closed spans it carries out. Returns the rows claimed past
/// the assembly cursor (a hook inserted them after the last pass): they may close spans not
/// assembled yet, so they must go back and wait for the next pass.
pub fn attach(outbox: &Outbox, batch: &mut [Claimed]) -> Result<Vec<i64>, StoreError> {
    let through = store::cursor(outbox)?;
    let rows: Vec<i64> = batch.iter().map(|c| c.id).collect();
    let mut carried = claimed::carried_by(outbox, &rows)?;
    let mut members = claimed::members(outbox, &rows, &carried)?;
    for row in batch.iter_mut() {
        row.spans = carried.remove(&row.id).unwrap_or_default();
        row.member = members.remove(&row.id);
    }
    Ok(rows.into_iter().filter(|id| *id > through).collect())
}
