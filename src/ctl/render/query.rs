//! Words for `difflorectl query`: the result as aligned columns, a JSON array of objects,
//! or CSV.

use serde_json::{Map, Value};

use super::Message;
use crate::ctl::views::query::{Cell, Format, Table};

/// Characters of one cell an aligned table shows (JSON and CSV show everything).
const CELL_MAX: usize = 60;

pub(super) fn query(table: Option<&Table>, format: Format) -> Message {
    let Some(table) = table else {
        return Message::err(
            "no outbox yet: nothing was ever captured, so there is nothing to query",
        );
    };
    match format {
        Format::Table => Message::out(aligned(table)),
        Format::Json => Message::out(json(table)),
        Format::Csv => Message {
            stdout: csv(table),
            stderr: String::new(),
        },
    }
}

fn shown(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(v) => v.to_string(),
        Cell::Real(v) => v.to_string(),
        Cell::Text(t) => t.clone(),
        Cell::Blob(n) => format!("<{n} bytes>"),
    }
}

/// One line, at most `max` characters, `…` where it was cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn aligned(t: &Table) -> String {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|row| row.iter().map(|c| cut(&shown(c), CELL_MAX)).collect())
        .collect();
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    // Numbers line up on the right, like any table of figures.
    let numeric: Vec<bool> = (0..t.columns.len())
        .map(|i| {
            t.rows
                .iter()
                .any(|r| matches!(r[i], Cell::Int(_) | Cell::Real(_)))
                && t.rows
                    .iter()
                    .all(|r| matches!(r[i], Cell::Int(_) | Cell::Real(_) | Cell::Null))
        })
        .collect();
    let line = |row: &[String]| {
        let parts: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(&t.columns)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.extend(cells.iter().map(|r| line(r)));
    let n = t.rows.len();
    out.push(format!("({n} row{})", if n == 1 { "" } else { "s" }));
    out.join("\n")
}

/// A cell as JSON. Text holding a JSON object or array (a payload) is embedded as JSON.
fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(v) => Value::from(*v),
        Cell::Real(v) => Value::from(*v),
        Cell::Text(t) => {
            let trimmed = t.trim_start();
            if (trimmed.starts_with('{') || trimmed.starts_with('['))
                && let Ok(v) = serde_json::from_str::<Value>(t)
            {
                return v;
            }
            Value::from(t.as_str())
        }
        Cell::Blob(n) => Value::from(format!("<{n} bytes>")),
    }
}

fn json(t: &Table) -> String {
    let rows: Vec<Value> = t
        .rows
        .iter()
        .map(|row| {
            let mut object = Map::new();
            for (name, cell) in t.columns.iter().zip(row) {
                object.insert(name.clone(), value(cell));
            }
            Value::Object(object)
        })
        .collect();
    serde_json::to_string_pretty(&Value::Array(rows)).unwrap_or_default()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(t: &Table) -> String {
    let mut out = String::new();
    let mut line = |fields: Vec<String>| {
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    line(t.columns.iter().map(|c| csv_field(c)).collect());
    for row in &t.rows {
        line(row.iter().map(|c| csv_field(&shown(c))).collect());
    }
    out
}
