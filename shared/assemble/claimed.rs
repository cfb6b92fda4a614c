//! What a claimed row needs from assembly, read after the claim: the closed spans it
//! carries out (its `spans` column), and the span it belongs to (for its log record).
//! Read-only; one range query per batch (a batch is claimed in id order).

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::record::decode;
use super::{Member, Span, SpanKind};
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::Kind;

fn range(rows: &[i64]) -> (i64, i64) {
    let lo = rows.iter().copied().min().unwrap_or(0);
    let hi = rows.iter().copied().max().unwrap_or(-1);
    (lo, hi)
}

/// The span an event belongs to, from its session and marks (`kind`, `call`, `turn`) and
/// the closed spans it carries: a tool event's call (for an end, only when it closed that
/// call: an end whose start was never captured names its turn), a subagent event's
/// subagent, else its turn. None for an event of no session or not assembled.
pub fn member(
    session: Option<String>,
    kind: Option<Kind>,
    call: Option<String>,
    turn: Option<i64>,
    carries: &[Span],
) -> Option<Member> {
    let (session, kind, turn) = (session?, kind?, turn?);
    let closes = |c: &str| {
        carries
            .iter()
            .any(|s| s.kind == SpanKind::Tool && s.call.as_deref() == Some(c))
    };
    let call = match (kind, call) {
        (Kind::ToolPre, Some(c)) => Some((SpanKind::Tool, c)),
        (Kind::ToolPost | Kind::ToolFailure, Some(c)) if closes(&c) => Some((SpanKind::Tool, c)),
        (Kind::SubagentStart | Kind::SubagentStop, Some(c)) => Some((SpanKind::Subagent, c)),
        _ => None,
    };
    let (kind, call) = call.map_or((SpanKind::Turn, None), |(k, c)| (k, Some(c)));
    Some(Member {
        session,
        turn,
        kind,
        call,
    })
}

/// Closed spans by the row that carries them out.
pub type Carried = HashMap<i64, Vec<Span>>;

/// For each of `rows`: the closed spans it carries out, and the span it belongs to
/// (`member`), from what assembly wrote. One range query.
pub fn read(outbox: &Outbox, rows: &[i64]) -> Result<(Carried, HashMap<i64, Member>), StoreError> {
    let sql = |e| outbox.sql(e);
    let (lo, hi) = range(rows);
    let wanted: HashSet<i64> = rows.iter().copied().collect();
    let mut stmt = outbox
        .conn()
        .prepare_cached(
            "SELECT e.id, e.session_id, e.kind, e.call_id, e.turn, c.spans FROM events e
             LEFT JOIN carried c ON c.event_id = e.id
             WHERE e.id BETWEEN ?1 AND ?2",
        )
        .map_err(sql)?;
    let mut found = stmt.query(params![lo, hi]).map_err(sql)?;
    let (mut carried, mut members) = (HashMap::new(), HashMap::new());
    while let Some(r) = found.next().map_err(sql)? {
        let id: i64 = r.get(0).map_err(sql)?;
        if !wanted.contains(&id) {
            continue;
        }
        let spans = decode(r.get_ref(5).map_err(sql)?);
        let session: Option<String> = r.get(1).map_err(sql)?;
        let kind: Option<String> = r.get(2).map_err(sql)?;
        let call: Option<String> = r.get(3).map_err(sql)?;
        let turn: Option<i64> = r.get(4).map_err(sql)?;
        let kind = kind.as_deref().map(Kind::parse);
        if let Some(m) = member(session, kind, call, turn, &spans) {
            members.insert(id, m);
        }
        if !spans.is_empty() {
            carried.insert(id, spans);
        }
    }
    Ok((carried, members))
}
