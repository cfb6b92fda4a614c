//! `difflorectl sessions`: one row per session from the `sessions` view, newest first,
//! filtered by recent activity, agent and project folder.

use std::path::PathBuf;

use rusqlite::params;

use super::{History, ViewError, sql};
use crate::shared::paths::Paths;

/// Token counts, summed over a session's (or a turn's) model responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

impl Tokens {
    pub fn total(&self) -> i64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    /// From four nullable sums: `None` when no usage was recorded at all.
    pub fn from_sums(sums: [Option<i64>; 4]) -> Option<Tokens> {
        sums.iter().any(Option::is_some).then(|| Tokens {
            input: sums[0].unwrap_or(0),
            output: sums[1].unwrap_or(0),
            cache_read: sums[2].unwrap_or(0),
            cache_write: sums[3].unwrap_or(0),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub session_id: String,
    pub client: String,
    pub cwd: Option<String>,
    pub started_ms: i64,
    /// `None` while the session is open.
    pub ended_ms: Option<i64>,
    pub last_ms: i64,
    pub events: i64,
    pub prompts: i64,
    pub tool_calls: i64,
    pub tool_failures: i64,
    pub tokens: Option<Tokens>,
    pub models: Vec<String>,
}

/// Which sessions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Active at or after this instant.
    pub since_ms: Option<i64>,
    pub client: Option<String>,
    /// This folder or one below it.
    pub cwd: Option<PathBuf>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionList {
    pub now_ms: i64,
    pub filter: Filter,
    pub rows: Vec<SessionRow>,
    /// Sessions matching the filter, shown or not.
    pub total: i64,
}

/// The columns `SessionRow::read` expects, in order.
pub const COLUMNS: &str = "session_id, client, cwd, started_ms, ended_ms, last_ms, events,
    prompts, tool_calls, tool_failures, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, models";

impl SessionRow {
    pub fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
        let models: Option<String> = r.get(14)?;
        let mut models: Vec<String> = models
            .unwrap_or_default()
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        models.sort();
        Ok(SessionRow {
            session_id: r.get(0)?,
            client: r.get(1)?,
            cwd: r.get(2)?,
            started_ms: r.get(3)?,
            ended_ms: r.get(4)?,
            last_ms: r.get(5)?,
            events: r.get(6)?,
            prompts: r.get(7)?,
            tool_calls: r.get(8)?,
            tool_failures: r.get(9)?,
            tokens: Tokens::from_sums([r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?]),
            models,
        })
    }
}

const MATCHING: &str = "(?1 IS NULL OR last_ms >= ?1) AND (?2 IS NULL OR client = ?2)
    AND (?3 IS NULL OR cwd = ?3 OR substr(cwd, 1, length(?3) + 1) = ?3 || '/')";

pub fn sessions(paths: &Paths, filter: Filter, now_ms: i64) -> Result<SessionList, ViewError> {
    let mut list = SessionList {
        now_ms,
        filter,
        rows: Vec::new(),
        total: 0,
    };
    let Some(history) = History::open(paths)? else {
        return Ok(list);
    };
    let f = &list.filter;
    let cwd = f.cwd.as_ref().map(|p| {
        let text = p.to_string_lossy();
        let trimmed = text.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }
    });
    let args = params![f.since_ms, f.client, cwd, f.limit as i64];
    let c = history.conn();
    // The same figures as the `sessions` view, but the distinct count of tool calls and the
    // tokens only for the sessions shown: on a large history they are most of the work.
    let mut stmt = c
        .prepare(&format!(
            "WITH top AS MATERIALIZED (
                 SELECT g.*, f.client, f.cwd, count(*) OVER () AS total
                 FROM ({}) g JOIN main.events f ON f.id = g.first_id
                 WHERE {MATCHING}
                 ORDER BY g.started_ms DESC, g.session_id LIMIT ?4)
             SELECT top.session_id, top.client, top.cwd, top.started_ms,
                    CASE WHEN top.ended_ms >= top.last_ms THEN top.ended_ms END,
                    top.last_ms, top.events, top.prompts, {} AS tool_calls, top.tool_failures,
                    u.input, u.output, u.cache_read, u.cache_write, u.models, top.total
             FROM top LEFT JOIN (
                 SELECT session_id, sum(input) AS input, sum(output) AS output,
                        sum(cache_read) AS cache_read, sum(cache_write) AS cache_write,
                        group_concat(DISTINCT model) AS models
                 FROM main.usage WHERE session_id IN (SELECT session_id FROM top)
                 GROUP BY session_id) u ON u.session_id = top.session_id
             ORDER BY top.started_ms DESC, top.session_id",
            sql::session_totals!(),
            sql::tool_calls_of!("top.session_id"),
        ))
        .map_err(|e| history.sql(e))?;
    let mut rows = stmt.query(args).map_err(|e| history.sql(e))?;
    while let Some(row) = rows.next().map_err(|e| history.sql(e))? {
        list.total = row.get(15).map_err(|e| history.sql(e))?;
        list.rows
            .push(SessionRow::read(row).map_err(|e| history.sql(e))?);
    }
    Ok(list)
}
