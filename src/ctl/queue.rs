//! The queue tools: `events` (read-only listing), `retry` (dead back to pending), `purge`
//! (delete dead or rejected rows) and `flush` (wake the daemon). Each touches exactly the
//! rows it names and returns an outcome value; the words belong to the renderer.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::shared::event::State;
use crate::shared::paths::Paths;
use crate::shared::store::{OpenOptions, Outbox, StoreError};
use crate::shared::sys::Signal;

use super::CtlError;
use super::cli::{EventRef, parse_state};
use super::process::{self, Daemon, Sent};

/// One row as `events` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub received_ms: i64,
    pub client: String,
    pub event: String,
    pub tool: Option<String>,
    pub state: State,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventList {
    pub now_ms: i64,
    pub install_id: String,
    pub filter: Option<State>,
    pub rows: Vec<EventRow>,
    /// Rows matching the filter, shown or not.
    pub total: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NotFound,
    /// The id names a row of another outbox (another install id).
    OtherOutbox,
    /// Only dead rows are retried; this one is elsewhere.
    NotDead(State),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOutcome {
    /// `retry --dead` rather than a list of ids.
    pub all_dead: bool,
    pub retried: Vec<i64>,
    pub skipped: Vec<(EventRef, Skip)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeOutcome {
    Nothing {
        state: State,
    },
    Purged {
        state: State,
        count: i64,
    },
    /// Answered no at the prompt.
    Declined {
        state: State,
        count: i64,
    },
    /// Not a terminal and no `--yes`.
    NeedsYes {
        state: State,
        count: i64,
    },
}

/// How `purge` gets its go-ahead.
pub enum Confirm<'a> {
    Yes,
    /// Ask a person: the closure shows the prompt and reads the answer.
    Ask(&'a mut dyn FnMut(State, i64) -> std::io::Result<bool>),
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    Woken { pid: i32 },
    NotRunning,
    Stale { pid: i32, other_process: bool },
}

/// The rows `events` lists: those in state `?1`, or without one, every row not yet delivered
/// (history is what `sessions`, `show` and `query` are for). An `IN` list, so the state
/// index finds them however much history there is.
const WANTED: &str = "(?1 IS NOT NULL AND state = ?1)
    OR (?1 IS NULL AND state IN ('pending', 'in_flight', 'dead', 'rejected'))";

pub fn events(paths: &Paths, filter: Option<State>, limit: usize) -> Result<EventList, CtlError> {
    let mut list = EventList {
        now_ms: crate::shared::now_ms(),
        install_id: String::new(),
        filter,
        rows: Vec::new(),
        total: 0,
    };
    let Some(outbox) = Outbox::open_read_only(paths)? else {
        return Ok(list);
    };
    list.install_id = outbox.install_id()?;
    let state = filter.map(State::as_str);
    let c = outbox.conn();
    list.total = c
        .query_row(
            &format!("SELECT count(*) FROM events WHERE {WANTED}"),
            [state],
            |r| r.get(0),
        )
        .map_err(|e| outbox.sql(e))?;
    let mut stmt = c
        .prepare(&format!(
            "SELECT id, received_ms, client, event, tool, state, attempts, last_error
             FROM events WHERE {WANTED} ORDER BY id LIMIT ?2"
        ))
        .map_err(|e| outbox.sql(e))?;
    let rows = stmt
        .query_map(params![state, limit as i64], |r| {
            Ok(EventRow {
                id: r.get(0)?,
                received_ms: r.get(1)?,
                client: r.get(2)?,
                event: r.get(3)?,
                tool: r.get(4)?,
                state: parse_state(&r.get::<_, String>(5)?).unwrap_or(State::Pending),
                attempts: r.get(6)?,
                last_error: r.get(7)?,
            })
        })
        .map_err(|e| outbox.sql(e))?;
    for row in rows {
        list.rows.push(row.map_err(|e| outbox.sql(e))?);
    }
    Ok(list)
}

/// What `retry` does to a dead row: due now, as if never tried.
const REVIVE: &str = "UPDATE events SET state = 'pending', attempts = 0, next_attempt_ms = ?1,
     first_failure_ms = NULL, claimed_ms = NULL WHERE state = 'dead'";

pub fn retry(paths: &Paths, ids: Option<&[EventRef]>) -> Result<RetryOutcome, CtlError> {
    let mut outcome = RetryOutcome {
        all_dead: ids.is_none(),
        retried: Vec::new(),
        skipped: Vec::new(),
    };
    let Some(outbox) = open_existing(paths)? else {
        let none = ids.unwrap_or_default().iter();
        outcome.skipped = none.map(|id| (id.clone(), Skip::NotFound)).collect();
        return Ok(outcome);
    };
    let install_id = outbox.install_id()?;
    let now = crate::shared::now_ms();
    let path = outbox.path().to_owned();
    let sql = |source| StoreError::Sql {
        path: path.clone(),
        source,
    };
    let tx =
        Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate).map_err(sql)?;
    match ids {
        None => {
            let mut stmt = tx.prepare(&format!("{REVIVE} RETURNING id")).map_err(sql)?;
            let rows = stmt.query_map([now], |r| r.get(0)).map_err(sql)?;
            for id in rows {
                outcome.retried.push(id.map_err(sql)?);
            }
            outcome.retried.sort_unstable();
        }
        Some(ids) => {
            for id in ids {
                if outcome.retried.contains(&id.row())
                    || outcome.skipped.iter().any(|(s, _)| s.row() == id.row())
                {
                    continue;
                }
                let skip = match id {
                    EventRef::Full { install_id: i, .. } if *i != install_id => {
                        Some(Skip::OtherOutbox)
                    }
                    _ => tx
                        .query_row("SELECT state FROM events WHERE id = ?1", [id.row()], |r| {
                            r.get::<_, String>(0)
                        })
                        .optional()
                        .map_err(sql)?
                        .map_or(Some(Skip::NotFound), |s| match parse_state(&s) {
                            Some(State::Dead) => None,
                            other => Some(Skip::NotDead(other.unwrap_or(State::Pending))),
                        }),
                };
                match skip {
                    Some(skip) => outcome.skipped.push((id.clone(), skip)),
                    None => {
                        tx.execute(&format!("{REVIVE} AND id = ?2"), params![now, id.row()])
                            .map_err(sql)?;
                        outcome.retried.push(id.row());
                    }
                }
            }
        }
    }
    tx.commit().map_err(sql)?;
    Ok(outcome)
}

/// Delete the rows in `state` that were counted when asking, and only those: a row that
/// dies while a person reads the prompt was not shown, so it stays.
pub fn purge(paths: &Paths, state: State, confirm: Confirm<'_>) -> Result<PurgeOutcome, CtlError> {
    let Some(outbox) = open_existing(paths)? else {
        return Ok(PurgeOutcome::Nothing { state });
    };
    let shown: Vec<i64> = {
        let mut stmt = outbox
            .conn()
            .prepare("SELECT id FROM events WHERE state = ?1 ORDER BY id")
            .map_err(|e| outbox.sql(e))?;
        let ids = stmt
            .query_map([state.as_str()], |r| r.get(0))
            .map_err(|e| outbox.sql(e))?;
        ids.collect::<Result<_, _>>().map_err(|e| outbox.sql(e))?
    };
    let count = shown.len() as i64;
    if shown.is_empty() {
        return Ok(PurgeOutcome::Nothing { state });
    }
    match confirm {
        Confirm::Yes => {}
        Confirm::Refuse => return Ok(PurgeOutcome::NeedsYes { state, count }),
        Confirm::Ask(ask) => {
            if !ask(state, count).map_err(|source| CtlError::Prompt { source })? {
                return Ok(PurgeOutcome::Declined { state, count });
            }
        }
    }
    let path = outbox.path().to_owned();
    let sql = |source| StoreError::Sql {
        path: path.clone(),
        source,
    };
    let tx =
        Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate).map_err(sql)?;
    let mut purged = 0;
    {
        // Still in the state it was shown in: a row retried meanwhile is not deleted either.
        let mut del = tx
            .prepare("DELETE FROM events WHERE id = ?1 AND state = ?2")
            .map_err(sql)?;
        for id in &shown {
            purged += del.execute(params![id, state.as_str()]).map_err(sql)? as i64;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(PurgeOutcome::Purged {
        state,
        count: purged,
    })
}

/// SIGUSR1 to the live, identity-checked daemon.
pub fn flush(paths: &Paths) -> Result<FlushOutcome, CtlError> {
    match process::find(paths)? {
        Daemon::Running(record) => match process::signal(&record, Signal::Usr1)? {
            Sent::Delivered => Ok(FlushOutcome::Woken { pid: record.pid }),
            Sent::Gone => Ok(FlushOutcome::NotRunning),
        },
        Daemon::Stale {
            record,
            other_process,
        } => Ok(FlushOutcome::Stale {
            pid: record.pid,
            other_process,
        }),
        Daemon::NotRunning => Ok(FlushOutcome::NotRunning),
    }
}

/// Open the outbox for writing, but never create one just to find it empty.
fn open_existing(paths: &Paths) -> Result<Option<Outbox>, StoreError> {
    if !paths.db().exists() {
        return Ok(None);
    }
    let progress = |line: &str| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "difflorectl: {line}");
    };
    Outbox::open(paths, OpenOptions::long_lived().with_progress(progress)).map(Some)
}
