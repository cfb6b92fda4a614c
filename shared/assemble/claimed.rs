//! What a claimed row needs from assembly, read after the claim: the closed spans it
//! carries out (its `spans` column), and the span it belongs to (for its log record).
//! Read-only; one range query each per batch (a batch is claimed in id order).

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::store::decode;
use super::{Member, Span, SpanKind};
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::Kind;

fn range(rows: &[i64]) -> (i64, i64) {
    let lo = rows.iter().copied().min().unwrap_or(0);
    let hi = rows.iter().copied().max().unwrap_or(-1);
    (lo, hi)
}

/// The closed spans each of `rows` carries out, by row.
pub fn carried_by(outbox: &Outbox, rows: &[i64]) -> Result<HashMap<i64, Vec<Span>>, StoreError> {
    let sql = |e| outbox.sql(e);
    let (lo, hi) = range(rows);
    let wanted: HashSet<i64> = rows.iter().copied().collect();
    let mut stmt = outbox
        .conn()
        .prepare_cached(
            "SELECT id, spans FROM events WHERE id BETWEEN ?1 AND ?2 AND spans IS NOT NULL",
        )
        .map_err(sql)?;
    let mut out: HashMap<i64, Vec<Span>> = HashMap::new();
    let mut found = stmt.query([lo, hi]).map_err(sql)?;
    while let Some(r) = found.next().map_err(sql)? {
        let row: i64 = r.get(0).map_err(sql)?;
        if wanted.contains(&row) {
            let spans = decode(
                r.get_ref(1)
                    .map_err(sql)?
                    .as_str()
                    .map_err(|e| sql(e.into()))?,
            );
            if !spans.is_empty() {
                out.insert(row, spans);
            }
        }
    }
    Ok(out)
}

/// The span each of `rows` belongs to, by row, from the marks assembly wrote: a tool
/// event's call (for an end, only when it closed that call: an end whose start was never
/// captured names its turn), a subagent event's subagent, else its turn.
pub fn members(
    outbox: &Outbox,
    rows: &[i64],
    carried: &HashMap<i64, Vec<Span>>,
) -> Result<HashMap<i64, Member>, StoreError> {
    let sql = |e| outbox.sql(e);
    let (lo, hi) = range(rows);
    let wanted: HashSet<i64> = rows.iter().copied().collect();
    let mut stmt = outbox
        .conn()
        .prepare_cached(
            "SELECT id, session_id, kind, call_id, turn FROM events WHERE id BETWEEN ?1 AND ?2",
        )
        .map_err(sql)?;
    let mut marks = stmt.query(params![lo, hi]).map_err(sql)?;
    let mut out = HashMap::new();
    while let Some(r) = marks.next().map_err(sql)? {
        let id: i64 = r.get(0).map_err(sql)?;
        let session: Option<String> = r.get(1).map_err(sql)?;
        let kind: Option<String> = r.get(2).map_err(sql)?;
        let call: Option<String> = r.get(3).map_err(sql)?;
        let turn: Option<i64> = r.get(4).map_err(sql)?;
        let (true, Some(session), Some(kind), Some(turn)) =
            (wanted.contains(&id), session, kind, turn)
        else {
            continue;
        };
        let closes = |c: &str| {
            carried.get(&id).is_some_and(|spans| {
                spans
                    .iter()
                    .any(|s| s.kind == SpanKind::Tool && s.call.as_deref() == Some(c))
            })
        };
        let call = match (Kind::parse(&kind), call) {
            (Kind::ToolPre, Some(c)) => Some((SpanKind::Tool, c)),
            (Kind::ToolPost | Kind::ToolFailure, Some(c)) if closes(&c) => {
                Some((SpanKind::Tool, c))
            }
            (Kind::SubagentStart | Kind::SubagentStop, Some(c)) => Some((SpanKind::Subagent, c)),
            _ => None,
        };
        let (kind, call) = call.map_or((SpanKind::Turn, None), |(k, c)| (k, Some(c)));
        out.insert(
            id,
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
