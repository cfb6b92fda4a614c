//! Assembly's state in the outbox: the `assembled_through` cursor, `span_sessions` and the
//! `spans` table (open spans, and closed ones until the row that carries them out is sent).
//! One pass reads the next rows in id order, folds them in with `assemble`, and writes the
//! marks, the spans and the cursor in one transaction, so a crash repeats a pass whole or
//! not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{Event, Facts, Session, Span, SpanKind, State, assemble};
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::kind_of;

const CURSOR: &str = "assembled_through";

pub(super) const SPAN_COLUMNS: &str = "session_id, turn, kind, call_id, parent_kind, parent_call, client, \
    name, model, start_event, start_ms, end_event, end_ms, failed, incomplete";

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Rows read (the cursor moved past them).
    pub read: usize,
    /// Spans closed.
    pub closed: usize,
}

/// Assemble up to `limit` rows past the cursor. Rejected rows are passed over unread: they
/// are never sent, so they neither start nor carry a span.
pub fn run(
    outbox: &Outbox,
    now_ms: i64,
    close_after: Duration,
    limit: usize,
) -> Result<Pass, StoreError> {
    let sql = |e| outbox.sql(e);
    let conn = outbox.conn();
    let cursor = cursor(outbox)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_ms, client, event, session_id, tool, payload, state
             FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .map_err(sql)?;
    let mut last = cursor;
    let mut read = 0;
    let mut events = Vec::new();
    let mut rows = stmt
        .query(params![cursor, limit.max(1) as i64])
        .map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        last = r.get(0).map_err(sql)?;
        read += 1;
        let state: String = r.get(7).map_err(sql)?;
        if state == "rejected" {
            continue;
        }
        let client: String = r.get(2).map_err(sql)?;
        let event: String = r.get(3).map_err(sql)?;
        let payload = r.get_ref(6).map_err(sql)?;
        events.push(Event {
            id: last,
            at_ms: r.get(1).map_err(sql)?,
            kind: kind_of(&client, &event),
            client,
            session: r.get(4).map_err(sql)?,
            tool: r.get(5).map_err(sql)?,
            facts: Facts::read(payload.as_bytes().unwrap_or_default()),
        });
    }
    drop(rows);
    if read == 0 {
        return Ok(Pass::default());
    }
    let mut state = load(outbox, &events)?;
    let done = assemble(&mut state, &events, now_ms, close_after);
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql)?;
    {
        let mut mark = tx
            .prepare_cached("UPDATE events SET kind = ?2, call_id = ?3, turn = ?4 WHERE id = ?1")
            .map_err(sql)?;
        for m in &done.marks {
            mark.execute(params![m.id, m.kind.as_str(), m.call, m.turn])
                .map_err(sql)?;
        }
    }
    tx.execute("DELETE FROM spans WHERE end_event IS NULL", [])
        .map_err(sql)?;
    for s in state.open.iter().chain(&done.closed) {
        insert(&tx, s).map_err(sql)?;
    }
    save_sessions(&tx, &state.sessions).map_err(sql)?;
    // Closed spans whose carrier is gone, delivered or dead will never be sent; those of an
    // open turn stay until it ends (`State::done`). Swept once a backlog is caught up, not
    // on every pass through it.
    if read < limit {
        sweep(&tx).map_err(sql)?;
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = ?2",
        params![last.to_string(), CURSOR],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(Pass {
        read,
        closed: done.closed.len(),
    })
}

/// The last row assembled.
pub fn cursor(outbox: &Outbox) -> Result<i64, StoreError> {
    Ok(outbox
        .meta(CURSOR)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn sweep(tx: &Transaction) -> rusqlite::Result<usize> {
    tx.execute(
        "DELETE FROM spans WHERE end_event IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM events e WHERE e.id = spans.end_event
             AND e.state IN ('pending', 'in_flight'))
         AND NOT EXISTS (SELECT 1 FROM span_sessions ss
             WHERE ss.session_id = spans.session_id AND ss.open_turn = spans.turn)",
        [],
    )
}

/// Every open span, the keys of spans closed in open turns, and the sessions of those spans
/// and of `events`.
fn load(outbox: &Outbox, events: &[Event]) -> Result<State, StoreError> {
    let sql = |e| outbox.sql(e);
    let conn = outbox.conn();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE end_event IS NULL ORDER BY id"
        ))
        .map_err(sql)?;
    let open = stmt
        .query_map([], span)
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    let mut keys = conn
        .prepare_cached(
            "SELECT s.session_id, s.turn, s.kind, s.call_id FROM spans s
             JOIN span_sessions ss ON ss.session_id = s.session_id AND ss.open_turn = s.turn
             WHERE s.end_event IS NOT NULL AND s.kind != 'turn'",
        )
        .map_err(sql)?;
    let done = keys
        .query_map([], |r| {
            let kind: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                SpanKind::parse(&kind).unwrap_or(SpanKind::Tool),
                r.get(3)?,
            ))
        })
        .map_err(sql)?
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(sql)?;
    let wanted: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.session.as_deref())
        .chain(open.iter().map(|s| s.session.as_str()))
        .collect();
    let mut one = conn
        .prepare_cached(
            "SELECT client, turns, open_turn, last_ms, ended_ms FROM span_sessions
             WHERE session_id = ?1",
        )
        .map_err(sql)?;
    let mut sessions = BTreeMap::new();
    for id in wanted {
        let found = one
            .query_row([id], |r| {
                Ok(Session {
                    client: r.get(0)?,
                    turns: r.get(1)?,
                    open_turn: r.get(2)?,
                    last_ms: r.get(3)?,
                    ended_ms: r.get(4)?,
                })
            })
            .optional()
            .map_err(sql)?;
        if let Some(s) = found {
            sessions.insert(id.to_owned(), s);
        }
    }
    Ok(State {
        sessions,
        open,
        done,
    })
}

fn save_sessions(tx: &Transaction, sessions: &BTreeMap<String, Session>) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO span_sessions (session_id, client, turns, open_turn, last_ms, ended_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (session_id) DO UPDATE SET client = excluded.client,
             turns = excluded.turns, open_turn = excluded.open_turn,
             last_ms = excluded.last_ms, ended_ms = excluded.ended_ms",
    )?;
    for (id, s) in sessions {
        stmt.execute(params![
            id,
            s.client,
            s.turns,
            s.open_turn,
            s.last_ms,
            s.ended_ms
        ])?;
    }
    Ok(())
}

fn insert(tx: &Transaction, s: &Span) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO spans ({SPAN_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?;
    let (parent_kind, parent_call) = match &s.parent {
        Some((k, c)) => (Some(k.as_str()), Some(c.as_str())),
        None => (None, None),
    };
    stmt.execute(params![
        s.session,
        s.turn,
        s.kind.as_str(),
        s.call,
        parent_kind,
        parent_call,
        s.client,
        s.name,
        s.model,
        s.start_event,
        s.start_ms,
        s.end_event,
        s.end_ms,
        s.failed,
        s.incomplete
    ])?;
    Ok(())
}

pub(super) fn span(r: &Row) -> rusqlite::Result<Span> {
    let kind: String = r.get(2)?;
    let parent_kind: Option<String> = r.get(4)?;
    let parent_call: Option<String> = r.get(5)?;
    Ok(Span {
        session: r.get(0)?,
        turn: r.get(1)?,
        kind: SpanKind::parse(&kind).unwrap_or(SpanKind::Tool),
        call: r.get(3)?,
        parent: parent_kind
            .and_then(|k| SpanKind::parse(&k))
            .zip(parent_call),
        client: r.get(6)?,
        name: r.get(7)?,
        model: r.get(8)?,
        start_event: r.get(9)?,
        start_ms: r.get(10)?,
        end_event: r.get(11)?,
        end_ms: r.get(12)?,
        failed: r.get(13)?,
        incomplete: r.get(14)?,
    })
}
