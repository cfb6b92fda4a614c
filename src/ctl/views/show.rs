//! `difflorectl show SESSION`: one session as a timeline. Finds the session (`last`, or a
//! unique prefix of its id), reads its events in order with the call durations of the
//! `tool_calls` view and the tokens per turn of the `usage` table, and picks a one-line
//! summary out of each payload (the prompt, the command, the file path).

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::sessions::{COLUMNS, SessionRow, Tokens};
use super::{History, ViewError};
use crate::shared::paths::Paths;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at_ms: i64,
    pub event: String,
    pub kind: Option<String>,
    pub tool: Option<String>,
    pub call_id: Option<String>,
    pub turn: Option<i64>,
    /// The prompt, the command, the file path…, on one line, uncut.
    pub summary: Option<String>,
    /// On the event that ends a tool call: how long the call took.
    pub duration_ms: Option<i64>,
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub turn: i64,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub tokens: Option<Tokens>,
    pub models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub session: SessionRow,
    pub entries: Vec<Entry>,
    pub turns: Vec<Turn>,
    /// Columns the summary lines may fill.
    pub width: usize,
    pub now_ms: i64,
}

pub fn show(paths: &Paths, wanted: &str, width: usize, now_ms: i64) -> Result<Timeline, ViewError> {
    let no_session = || ViewError::NoSession {
        wanted: wanted.to_owned(),
    };
    let history = History::open(paths)?.ok_or_else(no_session)?;
    let id = find(&history, wanted)?.ok_or_else(no_session)?;
    let c = history.conn();
    let sql = |e| history.sql(e);
    let session = c
        .query_row(
            &format!("SELECT {COLUMNS} FROM sessions WHERE session_id = ?1"),
            [&id],
            SessionRow::read,
        )
        .map_err(sql)?;
    let mut calls: BTreeMap<String, Option<i64>> = BTreeMap::new();
    {
        let mut stmt = c
            .prepare("SELECT call_id, duration_ms FROM tool_calls WHERE session_id = ?1")
            .map_err(sql)?;
        let rows = stmt
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql)?;
        for row in rows {
            let (call, duration) = row.map_err(sql)?;
            calls.insert(call, duration);
        }
    }
    let mut entries = Vec::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT id, received_ms, event, kind, tool, call_id, turn, payload
                 FROM main.events WHERE session_id = ?1 ORDER BY received_ms, id",
            )
            .map_err(sql)?;
        let mut rows = stmt.query([&id]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let kind: Option<String> = r.get(3).map_err(sql)?;
            let call_id: Option<String> = r.get(5).map_err(sql)?;
            let payload = r.get_ref(7).map_err(sql)?.as_bytes().unwrap_or_default();
            let ends_call = matches!(kind.as_deref(), Some("tool.post" | "tool.failure"));
            entries.push(Entry {
                id: r.get(0).map_err(sql)?,
                at_ms: r.get(1).map_err(sql)?,
                event: r.get(2).map_err(sql)?,
                tool: r.get(4).map_err(sql)?,
                turn: r.get(6).map_err(sql)?,
                summary: summary(payload, kind.as_deref()),
                duration_ms: call_id
                    .as_ref()
                    .filter(|_| ends_call)
                    .and_then(|c| calls.get(c).copied().flatten()),
                failed: kind.as_deref() == Some("tool.failure"),
                kind,
                call_id,
            });
        }
    }
    let turns = turns(&history, &id, &entries)?;
    Ok(Timeline {
        session,
        entries,
        turns,
        width,
        now_ms,
    })
}

/// `last` (the session of the newest event), an exact id, or a unique prefix of one.
fn find(history: &History, wanted: &str) -> Result<Option<String>, ViewError> {
    let c = history.conn();
    let sql = |e| history.sql(e);
    if wanted == "last" {
        return c
            .query_row(
                "SELECT session_id FROM main.events WHERE session_id IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql);
    }
    // A range over the session index: ids from the prefix up to the prefix followed by
    // the highest character.
    let mut stmt = c
        .prepare(
            "SELECT DISTINCT session_id FROM main.events
             WHERE session_id >= ?1 AND session_id < ?1 || char(1114111)
             ORDER BY session_id LIMIT 4",
        )
        .map_err(sql)?;
    let found: Vec<String> = stmt
        .query_map([wanted], |r| r.get(0))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    if found.iter().any(|s| s == wanted) {
        return Ok(Some(wanted.to_owned()));
    }
    match found.len() {
        0 | 1 => Ok(found.into_iter().next()),
        _ => {
            let count: i64 = c
                .query_row(
                    "SELECT count(DISTINCT session_id) FROM main.events
                     WHERE session_id >= ?1 AND session_id < ?1 || char(1114111)",
                    [wanted],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            Err(ViewError::Ambiguous {
                wanted: wanted.to_owned(),
                count: count as usize,
                examples: found[..found.len().min(3)].join(", "),
            })
        }
    }
}

/// The session's turns, in order, with their tokens.
fn turns(history: &History, id: &str, entries: &[Entry]) -> Result<Vec<Turn>, ViewError> {
    let mut turns: BTreeMap<i64, Turn> = BTreeMap::new();
    for e in entries {
        let Some(n) = e.turn else { continue };
        let t = turns.entry(n).or_insert(Turn {
            turn: n,
            started_ms: e.at_ms,
            ended_ms: None,
            tokens: None,
            models: Vec::new(),
        });
        if e.kind.as_deref() == Some("turn.stop") {
            t.ended_ms = Some(e.at_ms);
        }
    }
    let sql = |e| history.sql(e);
    let mut stmt = history
        .conn()
        .prepare(
            "SELECT turn, sum(input), sum(output), sum(cache_read), sum(cache_write),
                    group_concat(DISTINCT model)
             FROM main.usage WHERE session_id = ?1 AND turn IS NOT NULL GROUP BY turn",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![id]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let n: i64 = r.get(0).map_err(sql)?;
        if let Some(t) = turns.get_mut(&n) {
            t.tokens = Tokens::from_sums([
                r.get(1).map_err(sql)?,
                r.get(2).map_err(sql)?,
                r.get(3).map_err(sql)?,
                r.get(4).map_err(sql)?,
            ]);
            let models: Option<String> = r.get(5).map_err(sql)?;
            t.models = models
                .unwrap_or_default()
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
        }
    }
    Ok(turns.into_values().collect())
}

/// What an event is about, in the agent's own fields: the prompt, the command, the path…
fn summary(payload: &[u8], kind: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let pick = |paths: &[&[&str]]| {
        paths.iter().find_map(|path| {
            let mut v = &value;
            for key in *path {
                v = v.get(key)?;
            }
            match v {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                _ => None,
            }
        })
    };
    const CALL: &[&[&str]] = &[
        &["tool_input", "command"],
        &["tool_input", "file_path"],
        &["tool_input", "path"],
        &["tool_input", "absolute_path"],
        &["tool_input", "pattern"],
        &["tool_input", "url"],
        &["tool_input", "query"],
        &["tool_input", "description"],
        &["command"],
        &["file_path"],
        &["tool_info", "command_line"],
        &["tool_info", "file_path"],
        &["tool_call", "input", "command"],
    ];
    let found = match kind {
        Some("tool.failure") => pick(&[&["error"], &["error_message"]]).or_else(|| pick(CALL)),
        Some(k) if k.starts_with("tool.") || k == "permission.request" => pick(CALL),
        Some("prompt.submit") => pick(&[&["prompt"], &["tool_info", "user_prompt"]]),
        Some("session.start") => pick(&[&["source"]]),
        Some("session.end") => pick(&[&["reason"]]),
        Some("notification") => pick(&[&["message"]]),
        Some("subagent.start" | "subagent.stop") => pick(&[&["agent_type"], &["agent_id"]]),
        Some("compact.pre") => pick(&[&["trigger"]]),
        _ => pick(&[&["prompt"], &["message"]]).or_else(|| pick(CALL)),
    }?;
    Some(found.split_whitespace().collect::<Vec<_>>().join(" "))
}
