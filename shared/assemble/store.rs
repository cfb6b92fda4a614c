//! Assembly's state in the outbox: the `assembled_through` cursor, `span_sessions`, the
//! `spans` table (open spans) and each event's marks and the closed spans it carries out
//! (in `carried`, beside the row, as `record` writes them), which go with the row. One
//! pass reads the next rows in id order, folds them in with `assemble`, and writes the
//! marks, what changed in the spans and sessions, and the cursor in one transaction, so a
//! crash repeats a pass whole or not at all.
//!
//! The outbox is the state's durable copy; `Assembler` keeps a copy in memory between
//! passes (`memory`), trusted only while the cursor is where its last pass left it, and
//! dropped on any error, so the next pass reads the tables again.

use std::time::Duration;

use rusqlite::{Connection, Row, params};

use super::content::Content;
use super::memory::Memory;
use super::{Assembled, Event, Facts, Span, SpanKind, assemble};
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::{Kind, kind_of};

const CURSOR: &str = "assembled_through";

pub(super) const SPAN_COLUMNS: &str = "session_id, turn, kind, call_id, parent_kind, parent_call, client, \
    name, model, start_event, start_ms, end_event, end_ms, failed, incomplete, arguments";

/// How assembly runs: when a silent session's spans close, and whether a tool call's
/// arguments are kept for `otlp_content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub close_after: Duration,
    pub content: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            close_after: super::DEFAULT_CLOSE_AFTER,
            content: false,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Rows read (the cursor moved past them).
    pub read: usize,
    /// Spans closed.
    pub closed: usize,
}

/// Runs the passes, keeping the state between them. One per outbox connection that holds
/// the daemon's lock: nothing else writes the span tables.
#[derive(Debug, Default)]
pub struct Assembler {
    memory: Option<Memory>,
}

impl Assembler {
    /// Assemble up to `limit` rows past the cursor, none past row `upto`. Rejected rows are
    /// passed over unread: they are never sent, so they neither start nor carry a span.
    /// Inside a transaction already open on the connection, the pass writes in it, and an
    /// error must roll all of it back (`Scope`).
    pub fn run(
        &mut self,
        outbox: &Outbox,
        now_ms: i64,
        settings: Settings,
        limit: usize,
        upto: i64,
    ) -> Result<Pass, StoreError> {
        let through = cursor(outbox)?;
        let (last, read, events) = read(outbox.conn(), through, upto, limit, settings.content)
            .map_err(|e| outbox.sql(e))?;
        if read == 0 {
            return Ok(Pass::default());
        }
        let done = self.fold(outbox, now_ms, settings, through, last, &events, true)?;
        Ok(Pass {
            read,
            closed: done.closed.len(),
        })
    }

    /// Assemble `events`, which the caller read itself and which are every row past the
    /// cursor up to `last` (the daemon's claim, when the rows it claims follow the cursor
    /// without a gap), and return their marks (one per event, in order) unwritten, with
    /// the spans the pass closed: the caller writes the marks into the same rows it is
    /// writing anyway, in the same transaction, which must already be open. Everything
    /// else the pass changed is written here.
    pub fn run_on(
        &mut self,
        outbox: &Outbox,
        now_ms: i64,
        settings: Settings,
        events: &[Event],
        last: i64,
    ) -> Result<Assembled, StoreError> {
        debug_assert!(
            !outbox.conn().is_autocommit(),
            "marks left unwritten outside a transaction"
        );
        let through = cursor(outbox)?;
        self.fold(outbox, now_ms, settings, through, last, events, false)
    }

    /// One pass over `events`, the rows in (`through`, `last`] not rejected: fold them in,
    /// write what changed (the marks too, with `write_marks`) and move the cursor to `last`.
    #[allow(clippy::too_many_arguments)]
    fn fold(
        &mut self,
        outbox: &Outbox,
        now_ms: i64,
        settings: Settings,
        through: i64,
        last: i64,
        events: &[Event],
        write_marks: bool,
    ) -> Result<Assembled, StoreError> {
        let sql = |e| outbox.sql(e);
        let conn = outbox.conn();
        // Taken out: an error from here on drops it, and the next pass loads the tables.
        let mut memory = match self.memory.take() {
            Some(m) if m.through == through => m,
            _ => Memory::load(conn).map_err(sql)?,
        };
        memory.sessions_of(conn, events).map_err(sql)?;
        let done = assemble(&mut memory.state, events, now_ms, settings.close_after);
        let scope = Scope::begin(conn).map_err(sql)?;
        memory.write(conn, &done, write_marks).map_err(sql)?;
        conn.prepare_cached("UPDATE meta SET value = ?1 WHERE key = ?2")
            .and_then(|mut s| s.execute(params![last.to_string(), CURSOR]))
            .map_err(sql)?;
        scope.commit().map_err(sql)?;
        memory.through = last;
        memory.forget_settled();
        self.memory = Some(memory);
        Ok(done)
    }
}

impl Event {
    /// An outbox row as assembly reads it. A tool call's start keeps its arguments when
    /// content is sent.
    #[allow(clippy::too_many_arguments)]
    pub fn of_row(
        id: i64,
        at_ms: i64,
        client: String,
        event: &str,
        session: Option<String>,
        tool: Option<String>,
        payload: &[u8],
        content: bool,
    ) -> Event {
        let kind = kind_of(&client, event);
        let mut facts = Facts::read(payload);
        if content && kind == Kind::ToolPre {
            facts.arguments = Content::read(payload).arguments;
        }
        Event {
            id,
            at_ms,
            client,
            kind,
            session,
            tool,
            facts,
        }
    }
}

/// The last row assembled.
pub fn cursor(outbox: &Outbox) -> Result<i64, StoreError> {
    let value: Option<String> = outbox
        .conn()
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut s| s.query_row([CURSOR], |r| r.get(0)))
        .map_err(|e| outbox.sql(e))?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Up to `limit` rows past `through`, none past `upto`: the last id read, how many, and
/// the events among them. A tool call's start keeps its arguments when content is sent.
fn read(
    conn: &Connection,
    through: i64,
    upto: i64,
    limit: usize,
    content: bool,
) -> rusqlite::Result<(i64, usize, Vec<Event>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, received_ms, client, event, session_id, tool, payload, state
         FROM events WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
    )?;
    let (mut last, mut read, mut events) = (through, 0, Vec::new());
    let mut rows = stmt.query(params![through, upto, limit.max(1) as i64])?;
    while let Some(r) = rows.next()? {
        last = r.get(0)?;
        read += 1;
        if r.get_ref(7)?.as_str()? == "rejected" {
            continue;
        }
        let payload = r.get_ref(6)?.as_bytes().unwrap_or_default();
        events.push(Event::of_row(
            last,
            r.get(1)?,
            r.get(2)?,
            r.get_ref(3)?.as_str()?,
            r.get(4)?,
            r.get(5)?,
            payload,
            content,
        ));
    }
    Ok((last, read, events))
}

/// The pass's transaction: its own, taking the write lock first (so hooks queue behind it
/// rather than a read turning into a write midway), or, inside one already open, that one:
/// no savepoint (it would copy every page the pass touches to a sub-journal first), so a
/// failed pass must fail the whole enclosing transaction, as `spans::claim` does.
struct Scope<'c> {
    conn: Option<&'c Connection>,
}

impl<'c> Scope<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Scope<'c>> {
        if !conn.is_autocommit() {
            return Ok(Scope { conn: None });
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Scope { conn: Some(conn) })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        if let Some(conn) = self.conn {
            // On failure the transaction may still be open: dropping rolls it back.
            conn.execute_batch("COMMIT")?;
            self.conn = None;
        }
        Ok(())
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn {
            // Nothing better to do with a failed rollback: the pass already failed, and
            // SQLite rolls back an unfinished transaction on its own.
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// A new span row; returns its id.
pub(super) fn insert(conn: &Connection, s: &Span) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO spans ({SPAN_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
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
        s.incomplete,
        s.arguments
    ])?;
    Ok(conn.last_insert_rowid())
}

/// A stored span, changed in place: what a span gains after its start (the turn's model,
/// its end). Identity, parent and start never change.
pub(super) fn update(conn: &Connection, id: i64, s: &Span) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE spans SET model = ?2, end_event = ?3, end_ms = ?4, failed = ?5,
             incomplete = ?6 WHERE id = ?1",
    )?
    .execute(params![
        id,
        s.model,
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
        arguments: r.get(15)?,
    })
}
