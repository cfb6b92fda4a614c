//! Words and JSON for `difflorectl sessions`, and the session fields `show` repeats.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::query::cut;
use super::{Message, human, since};
use crate::ctl::views::sessions::{SessionList, SessionRow, Tokens};

/// Characters of the session id shown: enough to be a unique prefix for `show`.
pub(super) const SHORT_ID: usize = 8;
const PROJECT_MAX: usize = 32;

pub(super) fn sessions(list: &SessionList, json: bool) -> Message {
    if json {
        let rows: Vec<Value> = list.rows.iter().map(session_json).collect();
        return Message::out(serde_json::to_string_pretty(&rows).unwrap_or_default());
    }
    if list.rows.is_empty() {
        let f = &list.filter;
        let unfiltered = f.since_ms.is_none() && f.client.is_none() && f.cwd.is_none();
        return Message::out(if unfiltered {
            "no sessions recorded yet".to_owned()
        } else {
            "no sessions match".to_owned()
        });
    }
    let header = [
        "STARTED", "DURATION", "AGENT", "PROJECT", "PROMPTS", "TOOLS", "FAILED", "TOKENS", "STATE",
        "SESSION",
    ];
    let rows: Vec<[String; 10]> = list
        .rows
        .iter()
        .map(|s| {
            let end = s.ended_ms.unwrap_or(s.last_ms);
            [
                format!("{} ago", human(since(s.started_ms, list.now_ms))),
                human(since(s.started_ms, end)),
                s.client.clone(),
                project(s.cwd.as_deref()),
                s.prompts.to_string(),
                s.tool_calls.to_string(),
                s.tool_failures.to_string(),
                s.tokens.map_or("-".into(), |t| count(t.total())),
                if s.ended_ms.is_some() {
                    "ended"
                } else {
                    "open"
                }
                .into(),
                s.session_id.chars().take(SHORT_ID).collect(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let right = [
        false, true, false, false, true, true, true, true, false, false,
    ];
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - c.chars().count());
                if right[i] {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    if list.total > list.rows.len() as i64 {
        out.push(format!(
            "({} of {} sessions; --limit N shows more)",
            list.rows.len(),
            list.total
        ));
    }
    Message::out(out.join("\n"))
}

/// A project folder, its end kept when it is long.
fn project(cwd: Option<&str>) -> String {
    let Some(cwd) = cwd else {
        return "-".into();
    };
    let n = cwd.chars().count();
    if n <= PROJECT_MAX {
        return cwd.to_owned();
    }
    let tail: String = cwd.chars().skip(n - (PROJECT_MAX - 1)).collect();
    format!("…{tail}")
}

/// `950`, `12.3k`, `4.5M`.
pub(super) fn count(n: i64) -> String {
    match n {
        ..1000 => n.to_string(),
        1000..1_000_000 => trim(format!("{:.1}", n as f64 / 1e3)) + "k",
        _ => trim(format!("{:.1}", n as f64 / 1e6)) + "M",
    }
}

fn trim(s: String) -> String {
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// `12.3k in, 4.5k out, 100k cache read, 2k cache write`.
pub(super) fn tokens(t: &Tokens) -> String {
    format!(
        "{} in, {} out, {} cache read, {} cache write",
        count(t.input),
        count(t.output),
        count(t.cache_read),
        count(t.cache_write)
    )
}

pub(super) fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

pub(super) fn tokens_json(t: Option<&Tokens>) -> Value {
    t.map_or(Value::Null, |t| {
        json!({
            "input": t.input,
            "output": t.output,
            "cache_read": t.cache_read,
            "cache_write": t.cache_write,
        })
    })
}

pub(super) fn session_json(s: &SessionRow) -> Value {
    json!({
        "session_id": s.session_id,
        "client": s.client,
        "cwd": s.cwd,
        "started_at": rfc3339(s.started_ms),
        "ended_at": s.ended_ms.map(rfc3339),
        "last_event_at": rfc3339(s.last_ms),
        "events": s.events,
        "prompts": s.prompts,
        "tool_calls": s.tool_calls,
        "tool_failures": s.tool_failures,
        "tokens": tokens_json(s.tokens.as_ref()),
        "models": s.models,
    })
}

/// The summary line `show` opens with.
pub(super) fn headline(s: &SessionRow, now_ms: i64) -> Vec<String> {
    let end = s.ended_ms.unwrap_or(s.last_ms);
    let state = match s.ended_ms {
        Some(_) => format!("ended after {}", human(since(s.started_ms, end))),
        None => format!("open, last event {} ago", human(since(s.last_ms, now_ms))),
    };
    let mut lines = vec![
        format!(
            "session {} ({}) in {}",
            s.session_id,
            s.client,
            s.cwd.as_deref().unwrap_or("an unknown folder")
        ),
        format!(
            "started {} ({} ago), {state}",
            rfc3339(s.started_ms),
            human(since(s.started_ms, now_ms))
        ),
        format!(
            "{} events, {} prompts, {} tool calls, {} failed",
            s.events, s.prompts, s.tool_calls, s.tool_failures
        ),
    ];
    let models = if s.models.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.models.join(", "))
    };
    lines.push(match &s.tokens {
        Some(t) => cut(&format!("tokens: {}{models}", tokens(t)), 200),
        None => "tokens: unknown (no usage in a transcript)".into(),
    });
    lines
}
