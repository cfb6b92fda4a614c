//! What a claimed row needs from assembly, read after the claim: the closed spans it
//! carries out, and the span it belongs to (for its log record). Read-only.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::store::{SPAN_COLUMNS, span};
use super::{Member, Span, SpanKind};
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::Kind;

/// The closed spans each of `rows` carries out, by row.
pub fn carried_by(outbox: &Outbox, rows: &[i64]) -> Result<HashMap<i64, Vec<Span>>, StoreError> {
    let sql = |e| outbox.sql(e);
    let mut stmt = outbox
        .conn()
        .prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE end_event = ?1 ORDER BY id"
        ))
        .map_err(sql)?;
    let mut out = HashMap::new();
    for row in rows {
        let spans = stmt
            .query_map([row], span)
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        if !spans.is_empty() {
            out.insert(*row, spans);
        }
    }
    Ok(out)
}

/// The span each of `rows` belongs to, by row, from the marks assembly wrote: a tool
/// event's call (when its pre was captured), a subagent event's subagent, else its turn.
pub fn members(outbox: &Outbox, rows: &[i64]) -> Result<HashMap<i64, Member>, StoreError> {
    let sql = |e| outbox.sql(e);
    let conn = outbox.conn();
    let mut marks = conn
        .prepare_cached("SELECT session_id, kind, call_id, turn FROM events WHERE id = ?1")
        .map_err(sql)?;
    let mut pre = conn
        .prepare_cached(
            "SELECT 1 FROM events WHERE session_id = ?1 AND call_id = ?2 AND kind = 'tool.pre'
             LIMIT 1",
        )
        .map_err(sql)?;
    let mut out = HashMap::new();
    for row in rows {
        let mark = marks
            .query_row([row], |r| {
                let session: Option<String> = r.get(0)?;
                let kind: Option<String> = r.get(1)?;
                let call: Option<String> = r.get(2)?;
                let turn: Option<i64> = r.get(3)?;
                Ok((session, kind, call, turn))
            })
            .optional()
            .map_err(sql)?;
        let Some((Some(session), Some(kind), call, Some(turn))) = mark else {
            continue;
        };
        let kind = Kind::parse(&kind);
        let call = match (kind, call) {
            (Kind::ToolPre, Some(c)) => Some((SpanKind::Tool, c)),
            (Kind::ToolPost | Kind::ToolFailure, Some(c)) => pre
                .exists(params![session, c])
                .map_err(sql)?
                .then_some((SpanKind::Tool, c)),
            (Kind::SubagentStart | Kind::SubagentStop, Some(c)) => Some((SpanKind::Subagent, c)),
            _ => None,
        };
        let (kind, call) = call.map_or((SpanKind::Turn, None), |(k, c)| (k, Some(c)));
        out.insert(
            *row,
            Member {
                session,
                turn,
                kind,
                call,
            },
        );
    }
    Ok(out)
}
