//! The in-memory copy of assembly's state between passes, and what a pass writes back:
//! each event's mark, and only the spans and sessions that changed (a span updated in
//! place by its row id, never deleted and inserted again). Loaded from the tables when
//! there is no copy to trust; never the only copy of anything once a pass has committed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};

use super::record::{decode, encode};
use super::store::{SPAN_COLUMNS, insert, span, update};
use super::{Assembled, Event, Key, Session, Span, SpanKind, State};

/// Sessions held in memory before settled ones are forgotten.
const KEEP_SESSIONS: usize = 1024;

#[derive(Debug)]
pub(super) struct Memory {
    /// The cursor this state is as of.
    pub through: i64,
    pub state: State,
    /// The `spans` row of each open span, and the span as it was last written.
    rows: HashMap<Key, (i64, Span)>,
    /// Each session in `state` as it was last written.
    written: HashMap<String, Session>,
}

impl Memory {
    /// Every open span, the keys of spans closed in open turns, and the sessions of the
    /// open spans, from the tables.
    pub fn load(conn: &Connection) -> rusqlite::Result<Memory> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS}, id FROM spans WHERE end_event IS NULL ORDER BY id"
        ))?;
        let mut rows = HashMap::new();
        let mut open = Vec::new();
        for found in stmt.query_map([], |r| Ok((span(r)?, r.get::<_, i64>(16)?)))? {
            let (s, id) = found?;
            rows.insert(s.key(), (id, s.clone()));
            open.push(s);
        }
        let mut carriers = conn.prepare_cached(
            "SELECT c.spans FROM span_sessions ss
             JOIN events e ON e.session_id = ss.session_id AND e.turn = ss.open_turn
             JOIN carried c ON c.event_id = e.id
             WHERE ss.open_turn IS NOT NULL",
        )?;
        let mut done = BTreeSet::new();
        let mut found = carriers.query([])?;
        while let Some(r) = found.next()? {
            done.extend(
                decode(r.get_ref(0)?)
                    .into_iter()
                    .filter(|s| s.kind != SpanKind::Turn)
                    .map(|s| s.key()),
            );
        }
        let mut memory = Memory {
            through: 0,
            state: State {
                sessions: BTreeMap::new(),
                open,
                done,
            },
            rows,
            written: HashMap::new(),
        };
        let sessions: BTreeSet<String> = memory
            .state
            .open
            .iter()
            .map(|s| s.session.clone())
            .collect();
        for id in sessions {
            memory.session(conn, &id)?;
        }
        Ok(memory)
    }

    /// Bring in the stored sessions of `events` not already here, each looked up once (a
    /// new session is in no table yet, whatever the number of its events).
    pub fn sessions_of(&mut self, conn: &Connection, events: &[Event]) -> rusqlite::Result<()> {
        let missing: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| e.session.as_deref())
            .filter(|id| !self.state.sessions.contains_key(*id))
            .collect();
        for id in missing {
            self.session(conn, id)?;
        }
        Ok(())
    }

    fn session(&mut self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        let found = conn
            .prepare_cached(
                "SELECT client, turns, open_turn, last_ms, ended_ms FROM span_sessions
                 WHERE session_id = ?1",
            )?
            .query_row([id], |r| {
                Ok(Session {
                    client: r.get(0)?,
                    turns: r.get(1)?,
                    open_turn: r.get(2)?,
                    last_ms: r.get(3)?,
                    ended_ms: r.get(4)?,
                })
            })
            .optional()?;
        if let Some(s) = found {
            self.written.insert(id.to_owned(), s.clone());
            self.state.sessions.insert(id.to_owned(), s);
        }
        Ok(())
    }

    /// Write what the pass `done` changed: every event's mark (with `write_marks`; else the
    /// caller writes them) and the closed spans it carries (a span stored open leaves the
    /// table), each open span that is new or
    /// changed, each session that changed.
    pub fn write(
        &mut self,
        conn: &Connection,
        done: &Assembled,
        write_marks: bool,
    ) -> rusqlite::Result<()> {
        let mut carried = super::by_carrier(&done.closed);
        for s in &done.closed {
            if let Some((id, _)) = self.rows.remove(&s.key()) {
                conn.prepare_cached("DELETE FROM spans WHERE id = ?1")?
                    .execute([id])?;
            }
        }
        let mut mark = conn
            .prepare_cached("UPDATE events SET kind = ?2, call_id = ?3, turn = ?4 WHERE id = ?1")?;
        let mut carry = conn.prepare_cached(
            "INSERT INTO carried (event_id, spans) VALUES (?1, ?2)
             ON CONFLICT (event_id) DO UPDATE SET spans = excluded.spans",
        )?;
        for m in &done.marks {
            if write_marks {
                mark.execute(params![m.id, m.kind.as_str(), m.call, m.turn])?;
            }
            if let Some(spans) = carried.remove(&m.id) {
                carry.execute(params![m.id, encode(&spans)])?;
            }
        }
        // `assemble` closes a span only with one of the events it was given as carrier.
        debug_assert!(carried.is_empty(), "spans carried by no event of the pass");
        for s in &self.state.open {
            match self.rows.get_mut(&s.key()) {
                Some((id, stored)) => {
                    if stored != s {
                        update(conn, *id, s)?;
                        *stored = s.clone();
                    }
                }
                None => {
                    let id = insert(conn, s)?;
                    self.rows.insert(s.key(), (id, s.clone()));
                }
            }
        }
        let mut save = conn.prepare_cached(
            "INSERT INTO span_sessions (session_id, client, turns, open_turn, last_ms, ended_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (session_id) DO UPDATE SET client = excluded.client,
                 turns = excluded.turns, open_turn = excluded.open_turn,
                 last_ms = excluded.last_ms, ended_ms = excluded.ended_ms",
        )?;
        for (id, s) in &self.state.sessions {
            if self.written.get(id) != Some(s) {
                save.execute(params![
                    id,
                    s.client,
                    s.turns,
                    s.open_turn,
                    s.last_ms,
                    s.ended_ms
                ])?;
                self.written.insert(id.clone(), s.clone());
            }
        }
        Ok(())
    }

    /// Once written, sessions with nothing open may be forgotten here (the table has them):
    /// when more than `KEEP_SESSIONS` are held, the longest silent of those go, so memory
    /// holds what is open and what was recently busy, not every session ever seen.
    pub fn forget_settled(&mut self) {
        if self.state.sessions.len() <= KEEP_SESSIONS {
            return;
        }
        let open: BTreeSet<&str> = self.state.open.iter().map(|s| s.session.as_str()).collect();
        let mut settled: Vec<(i64, String)> = self
            .state
            .sessions
            .iter()
            .filter(|(id, s)| s.open_turn.is_none() && !open.contains(id.as_str()))
            .map(|(id, s)| (s.last_ms, id.clone()))
            .collect();
        settled.sort_unstable();
        let excess = self.state.sessions.len() - KEEP_SESSIONS / 2;
        for (_, id) in settled.into_iter().take(excess) {
            self.state.sessions.remove(&id);
            self.written.remove(&id);
        }
    }
}
