//! Words and JSON for `difflorectl show`: the session as a timeline, turn by turn, each
//! line cut to the terminal width.

use serde_json::{Value, json};

use super::query::cut;
use super::sessions::{headline, rfc3339, session_json, tokens, tokens_json};
use super::{Message, human, since};
use crate::ctl::views::show::{Entry, Timeline, Turn};

pub(super) fn show(t: &Timeline, json: bool) -> Message {
    if json {
        return Message::out(serde_json::to_string_pretty(&to_json(t)).unwrap_or_default());
    }
    let mut out = headline(&t.session, t.now_ms);
    let start = t.session.started_ms;
    let mut turn = None;
    for e in &t.entries {
        if e.turn.is_some() && e.turn != turn {
            turn = e.turn;
            if let Some(info) = t.turns.iter().find(|x| Some(x.turn) == e.turn) {
                out.push(String::new());
                out.push(cut(&turn_line(info), t.width));
            }
        }
        out.push(cut(&entry_line(e, start), t.width));
    }
    Message::out(out.join("\n"))
}

fn turn_line(t: &Turn) -> String {
    let took = match t.ended_ms {
        Some(end) => human(since(t.started_ms, end)),
        None => "not finished".into(),
    };
    let used = match &t.tokens {
        Some(tk) => format!(" · tokens {}", tokens(tk)),
        None => String::new(),
    };
    let models = if t.models.is_empty() {
        String::new()
    } else {
        format!(" · {}", t.models.join(", "))
    };
    format!("── turn {} · {took}{used}{models}", t.turn)
}

fn entry_line(e: &Entry, start: i64) -> String {
    let offset = format!("+{}", human(since(start, e.at_ms)));
    let mark = if e.failed { "✗" } else { " " };
    let kind = e.kind.as_deref().unwrap_or(&e.event);
    let duration = e.duration_ms.map_or(String::new(), |ms| {
        human(std::time::Duration::from_millis(ms.max(0) as u64))
    });
    let line = format!(
        "{offset:>9} {mark} {kind:<15} {:<12} {duration:>6}  {}",
        e.tool.as_deref().unwrap_or(""),
        e.summary.as_deref().unwrap_or("")
    );
    line.trim_end().to_owned()
}

fn to_json(t: &Timeline) -> Value {
    let turns: Vec<Value> = t
        .turns
        .iter()
        .map(|x| {
            json!({
                "turn": x.turn,
                "started_at": rfc3339(x.started_ms),
                "ended_at": x.ended_ms.map(rfc3339),
                "duration_ms": x.ended_ms.map(|end| end - x.started_ms),
                "tokens": tokens_json(x.tokens.as_ref()),
                "models": x.models,
            })
        })
        .collect();
    let events: Vec<Value> = t
        .entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": rfc3339(e.at_ms),
                "offset_ms": e.at_ms - t.session.started_ms,
                "event": e.event,
                "kind": e.kind,
                "tool": e.tool,
                "call_id": e.call_id,
                "turn": e.turn,
                "duration_ms": e.duration_ms,
                "failed": e.failed,
                "summary": e.summary,
            })
        })
        .collect();
    json!({
        "session": session_json(&t.session),
        "turns": turns,
        "events": events,
    })
}
