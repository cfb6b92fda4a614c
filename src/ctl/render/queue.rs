//! Words and JSON for the queue tools: `events`, `retry`, `purge` and `flush`.

use serde_json::{Value, json};

use super::{Message, count, human, since, stale_pid};
use crate::ctl::queue::{EventList, EventRow, FlushOutcome, PurgeOutcome, RetryOutcome, Skip};
use crate::shared::event::State;

/// Longest last-error excerpt in the table (the JSON has it whole).
const ERROR_WIDTH: usize = 60;

pub(super) fn events(list: &EventList, json: bool) -> Message {
    if json {
        let rows: Vec<Value> = list.rows.iter().map(|r| row_json(list, r)).collect();
        return Message::out(serde_json::to_string_pretty(&rows).unwrap_or_default());
    }
    if list.rows.is_empty() {
        return Message::out(match list.filter {
            Some(state) => format!(
                "no {} in the outbox",
                count(0, state).trim_start_matches("0 ")
            ),
            None => "no events in the outbox".into(),
        });
    }
    let header = [
        "ID",
        "AGE",
        "STATE",
        "CLIENT",
        "EVENT",
        "TOOL",
        "TRIES",
        "LAST ERROR",
    ];
    let mut table: Vec<[String; 8]> = vec![header.map(String::from)];
    for r in &list.rows {
        table.push([
            r.id.to_string(),
            human(since(r.received_ms, list.now_ms)),
            r.state.as_str().to_owned(),
            r.client.clone(),
            r.event.clone(),
            r.tool.clone().unwrap_or_else(|| "-".into()),
            r.attempts.to_string(),
            excerpt(r.last_error.as_deref().unwrap_or("")),
        ]);
    }
    let mut widths = [0usize; 8];
    for cells in &table {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out: Vec<String> = table
        .iter()
        .map(|cells| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_owned()
        })
        .collect();
    let shown = list.rows.len() as i64;
    if list.total > shown {
        out.push(format!(
            "showing the oldest {shown} of {}; use --limit to see more",
            list.total
        ));
    }
    Message::out(out.join("\n"))
}

fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= ERROR_WIDTH {
        return one_line;
    }
    let cut: String = one_line.chars().take(ERROR_WIDTH - 1).collect();
    format!("{cut}…")
}

fn row_json(list: &EventList, r: &EventRow) -> Value {
    json!({
        "id": r.id,
        "event_id": format!("{}-{}", list.install_id, r.id),
        "state": r.state.as_str(),
        "age_s": since(r.received_ms, list.now_ms).as_secs(),
        "client": r.client,
        "event": r.event,
        "tool": r.tool,
        "attempts": r.attempts,
        "last_error": r.last_error,
    })
}

pub(super) fn retry(o: &RetryOutcome) -> Message {
    let moved = o.retried.len() as i64;
    let head = match (moved, o.all_dead) {
        (0, true) => Message::out("no dead events to retry"),
        (0, false) => Message::default(),
        (n, all) => {
            let ids = if all {
                String::new()
            } else {
                let ids: Vec<String> = o.retried.iter().map(i64::to_string).collect();
                format!(" ({})", ids.join(", "))
            };
            Message::out(format!(
                "moved {}{ids} back to pending; difflored sends {} at its next drain \
                 (`difflorectl flush` drains now)",
                count(n, State::Dead),
                if n == 1 { "it" } else { "them" }
            ))
        }
    };
    o.skipped.iter().fold(head, |msg, (id, skip)| {
        let why = match skip {
            Skip::NotFound => "not found".to_owned(),
            Skip::OtherOutbox => "belongs to another outbox (its install id differs)".to_owned(),
            Skip::NotDead(state) => format!("is {}, not dead; left as it is", state.as_str()),
        };
        msg.and(Message::err(format!("event {id}: {why}")))
    })
}

pub(super) fn purge(o: &PurgeOutcome) -> Message {
    match *o {
        PurgeOutcome::Nothing { state } => Message::out(format!(
            "no {} to purge",
            count(0, state).trim_start_matches("0 ")
        )),
        PurgeOutcome::Purged { state, count: n } => {
            Message::out(format!("purged {}", count(n, state)))
        }
        PurgeOutcome::Declined { state, count: n } => {
            Message::err(format!("kept {}; nothing purged", count(n, state)))
        }
        PurgeOutcome::NeedsYes { state, count: n } => Message::err(format!(
            "refusing to purge {} without --yes: stdin is not a terminal to ask on",
            count(n, state)
        )),
    }
}

/// The question `purge` asks on a terminal (printed without a newline).
pub fn purge_prompt(state: State, n: i64) -> String {
    format!("purge {}? this cannot be undone [y/N] ", count(n, state))
}

/// Only an explicit yes agrees; anything else (an empty line, EOF) keeps the rows.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub(super) fn flush(o: &FlushOutcome) -> Message {
    match *o {
        FlushOutcome::Woken { pid } => Message::out(format!(
            "asked difflored (pid {pid}) to deliver what is due now"
        )),
        FlushOutcome::NotRunning => {
            Message::err("difflored is not running; `difflorectl start` starts it")
        }
        FlushOutcome::Stale { pid, other_process } => Message::err(format!(
            "difflored is not running: it crashed or was killed ({}); \
             `difflorectl start` starts it again",
            stale_pid(pid, other_process)
        )),
    }
}
