//! `difflorectl query "SQL"`: one read-only statement over the documented views, its
//! result as a table of cells. A statement that would write is refused before it runs
//! (SQLite says whether it is read-only); the connection is read-only and `query_only`
//! besides, so even a statement that slipped through changes nothing.

use rusqlite::types::ValueRef;

use super::{History, ViewError};
use crate::shared::paths::Paths;

/// How `query` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// An array of objects, one per row.
    Json,
    /// RFC 4180 CSV with a header line.
    Csv,
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// A blob is shown by its size, never dumped.
    Blob(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Run `sql` over the history. `Ok(None)`: there is no outbox yet.
pub fn query(paths: &Paths, sql: &str) -> Result<Option<Table>, ViewError> {
    let Some(history) = History::open(paths)? else {
        return Ok(None);
    };
    run(&history, sql).map(Some)
}

/// Statements refused by their first word, before SQLite sees them: every one that writes
/// (a write into a view would otherwise read as "cannot modify a view"), and ATTACH and
/// DETACH, which SQLite calls read-only although they reach outside the outbox.
const WRITERS: [&str; 12] = [
    "insert", "update", "delete", "replace", "create", "drop", "alter", "vacuum", "reindex",
    "analyze", "attach", "detach",
];

pub fn run(history: &History, sql: &str) -> Result<Table, ViewError> {
    let first = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if WRITERS.contains(&first.as_str()) {
        return Err(ViewError::Writes);
    }
    let mut stmt = history.conn().prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => ViewError::Several,
        // A write aimed at a view (or at a later statement's table) is still a write.
        e if sqlite_message(&e).starts_with("cannot modify") => ViewError::Writes,
        e => ViewError::Sql {
            message: sqlite_message(&e),
        },
    })?;
    if !stmt.readonly() {
        return Err(ViewError::Writes);
    }
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let n = columns.len();
    let mut rows = Vec::new();
    let mut cursor = stmt.query([]).map_err(refused)?;
    while let Some(row) = cursor.next().map_err(refused)? {
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(match row.get_ref(i).map_err(refused)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Real(v),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::Blob(b.len()),
            });
        }
        rows.push(cells);
    }
    Ok(Table { columns, rows })
}

/// A failure while running: `query_only` refusing a write, or an error in the statement.
fn refused(e: rusqlite::Error) -> ViewError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return ViewError::Writes;
    }
    ViewError::Sql {
        message: sqlite_message(&e),
    }
}

/// SQLite's own words (`near "SELEC": syntax error`), without rusqlite's wrapping.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}
