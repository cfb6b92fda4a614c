//! What leaves the machine, built in one place: `Preparer::prepare` turns a claimed row into
//! the one `OutEvent` every sink encodes (difflore JSON, the NDJSON file, OTLP logs and
//! traces), with the redactor run over every captured string in it: envelope and payload.
//! Sinks only encode what this record holds; none of them ever sees the raw row. Must not
//! reorder, drop or re-identify events.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;

use super::queue::Claimed;
use super::redact::{RedactError, Redactor};
use super::spans::{self, OutSpan};
use super::usage::turns::Tokens;
use crate::shared::assemble::content::Content;
use crate::shared::assemble::ids::InstallIds;
use crate::shared::assemble::{Span, SpanKind};
use crate::shared::config::Config;
use crate::shared::vocabulary::{self, Kind};

/// One event as it leaves the machine. `row` stays local (the outbox id to acknowledge);
/// `id` is the collector's dedup key. Every string that came from the agent has been
/// through the redactor; `id` and `received_at` are difflore's own (install id, clock).
#[derive(Debug, Serialize)]
pub struct OutEvent {
    #[serde(skip)]
    pub row: i64,
    pub id: String,
    /// When the hook captured it (Unix ms); encoders that want a number use this.
    #[serde(skip)]
    pub received_ms: i64,
    pub client: String,
    pub event: String,
    /// The normalized kind next to the agent's own name: the same for Claude Code's
    /// `PreToolUse` and Gemini's `BeforeTool`. Difflore's vocabulary, never captured text.
    pub kind: Kind,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub tool: Option<String>,
    pub received_at: String,
    pub payload: Box<RawValue>,
    /// On the event that ends a turn: the turn's tokens, when a transcript recorded any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Tokens>,
    /// The spans this event closes, for the OTLP traces signal (no other sink sends them).
    #[serde(skip)]
    pub spans: Vec<OutSpan>,
    /// The trace and span the event belongs to, for its OTLP log record.
    #[serde(skip)]
    pub span: Option<([u8; 16], [u8; 8])>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Redact(#[from] RedactError),
}

/// Per-configuration state for building outgoing records: the redactor's rules, compiled once.
pub struct Preparer {
    install_id: String,
    /// The install's part of every trace and span id, hashed once.
    ids: InstallIds,
    redactor: Redactor,
    /// `otlp_content`: the bytes each tool call's arguments and result are cut to; `None`
    /// sends neither.
    content_max: Option<usize>,
}

/// How a cut is marked: what was left out, so nobody takes the rest for the whole.
fn cut_mark(total: usize) -> String {
    format!("…[cut by difflore: {total} bytes in all]")
}

/// `text` cut to at most `max` bytes, mark included, on a character boundary.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mark = cut_mark(text.len());
    let mut keep = max.saturating_sub(mark.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    text.truncate(keep);
    text.push_str(&mark);
    text
}

/// Redaction counts per rule, as the health record shows them.
pub type Counts = BTreeMap<String, u64>;

/// A claimed batch as it leaves: the events to send, the rows that cannot be sent at all
/// (with why), and the redactions made on the way.
#[derive(Debug, Default)]
pub struct Prepared {
    pub events: Vec<OutEvent>,
    pub unsendable: Vec<(i64, String)>,
    pub redactions: Counts,
}

impl Preparer {
    pub fn new(install_id: String, config: &Config) -> Result<Preparer, PrepareError> {
        Ok(Preparer {
            ids: InstallIds::new(&install_id),
            install_id,
            redactor: Redactor::new(config)?,
            content_max: config.otlp_content.then_some(config.otlp_content_max_bytes),
        })
    }

    pub fn install_id(&self) -> &str {
        &self.install_id
    }

    /// Every row of a claimed batch, in order (`prepare`).
    pub fn prepare_batch(&self, batch: Vec<Claimed>) -> Prepared {
        let mut out = Prepared {
            events: Vec::with_capacity(batch.len()),
            ..Prepared::default()
        };
        for row in batch {
            let id = row.id;
            match self.prepare(row, &mut out.redactions) {
                Ok(ev) => out.events.push(ev),
                Err(why) => out.unsendable.push((id, why)),
            }
        }
        out
    }

    /// A claimed row as the collector will see it, or why it cannot be sent at all. The
    /// row is consumed: nothing downstream can reach back into it.
    pub fn prepare(&self, row: Claimed, counts: &mut Counts) -> Result<OutEvent, String> {
        let raw =
            String::from_utf8(row.payload).map_err(|_| "payload is not valid UTF-8".to_owned())?;
        let carried = self.content_of(row.id, row.spans, &raw);
        let payload = self
            .payload(raw, counts)
            .map_err(|e| format!("payload is not valid JSON: {e}"))?;
        let at = UNIX_EPOCH + Duration::from_millis(row.received_ms.max(0) as u64);
        let span = row.member.as_ref().map(|m| spans::ids_of(m, &self.ids));
        // As assembled when it was; a row inserted after the last assembly pass gets the
        // same answer from the vocabulary directly.
        let kind = row
            .kind
            .as_deref()
            .map_or_else(|| vocabulary::kind_of(&row.client, &row.event), Kind::parse);
        let mut span_usage = row.span_usage;
        let mut spans = Vec::with_capacity(carried.len());
        for (s, result) in carried {
            let usage = span_usage.remove(&(s.session.clone(), s.turn));
            let mut out =
                OutSpan::build(s, &self.ids, result, |k, v| match (k, self.content_max) {
                    (spans::ARGUMENTS | spans::RESULT, Some(max)) => {
                        self.content(k, v, max, counts)
                    }
                    _ => self.field(k, v, counts),
                });
            if out.kind == SpanKind::Turn {
                out.usage = usage.map(|t| self.tokens(t, counts));
            }
            spans.push(out);
        }
        Ok(OutEvent {
            row: row.id,
            id: format!("{}-{}", self.install_id, row.id),
            received_ms: row.received_ms,
            client: self.field("client", row.client, counts),
            event: self.field("event", row.event, counts),
            kind,
            session_id: row.session_id.map(|v| self.field("session_id", v, counts)),
            cwd: row.cwd.map(|v| self.field("cwd", v, counts)),
            tool: row.tool.map(|v| self.field("tool", v, counts)),
            received_at: humantime::format_rfc3339_millis(at).to_string(),
            payload,
            usage: row.turn_usage.map(|t| self.tokens(t, counts)),
            spans,
            span,
        })
    }

    /// The spans row `id` carries, each with its result when content is sent: a tool call
    /// this row completes takes it (and its arguments, when its start had none) from the
    /// row's payload. Without content, arguments kept from before are dropped.
    fn content_of(&self, id: i64, spans: Vec<Span>, raw: &str) -> Vec<(Span, Option<String>)> {
        let ends_here =
            |s: &Span| s.kind == SpanKind::Tool && s.end_event == Some(id) && !s.incomplete;
        if self.content_max.is_none() || !spans.iter().any(ends_here) {
            let off = self.content_max.is_none();
            return spans
                .into_iter()
                .map(|mut s| {
                    if off {
                        s.arguments = None;
                    }
                    (s, None)
                })
                .collect();
        }
        let found = Content::read(raw.as_bytes());
        spans
            .into_iter()
            .map(|mut s| {
                if !ends_here(&s) {
                    return (s, None);
                }
                if s.arguments.is_none() {
                    s.arguments.clone_from(&found.arguments);
                }
                (s, found.result.clone())
            })
            .collect()
    }

    /// THE content call site: a tool call's arguments or result (JSON text) redacted as a
    /// payload is, a JSON string sent as its text, then cut to `max` bytes (cut after
    /// redaction, so a cut never leaves half a secret to go unrecognised).
    fn content(&self, key: &str, json: String, max: usize, counts: &mut Counts) -> String {
        let redacted = match self.redactor.redact_json(&json, counts) {
            Ok(Cow::Borrowed(_)) => json,
            Ok(Cow::Owned(redacted)) => redacted,
            // Not JSON after all: judged whole, as an envelope field.
            Err(_) => self.field(key, json, counts),
        };
        let text = match serde_json::from_str::<String>(&redacted) {
            Ok(text) => text,
            Err(_) => redacted,
        };
        cut(text, max)
    }

    /// THE envelope call site: one captured string field, judged with its key.
    fn field(&self, key: &str, value: String, counts: &mut Counts) -> String {
        match self.redactor.redact_field(key, &value, counts) {
            Cow::Borrowed(_) => value,
            Cow::Owned(redacted) => redacted,
        }
    }

    /// Tokens as they leave: the model names are captured strings, redacted like any field.
    fn tokens(&self, mut t: Tokens, counts: &mut Counts) -> Tokens {
        t.models = t
            .models
            .into_iter()
            .map(|m| self.field("model", m, counts))
            .collect();
        t
    }

    /// THE payload call site: every string of the payload, keys and values, passes the
    /// redactor, on the JSON text, so every other byte (numbers digit for digit,
    /// duplicate keys) goes out as captured. With `redact = false` the captured bytes go
    /// out as they are.
    fn payload(&self, raw: String, counts: &mut Counts) -> Result<Box<RawValue>, String> {
        let text = match self.redactor.redact_json(&raw, counts) {
            Ok(Cow::Borrowed(_)) => raw,
            Ok(Cow::Owned(redacted)) => redacted,
            Err(e) => return Err(e.to_string()),
        };
        RawValue::from_string(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghp_cTfoJpR4eCy6GBc9oGa8nZt0QXKmvz6j9UcN";

    fn row(text: &str) -> Claimed {
        Claimed {
            id: 3,
            received_ms: 1_700_000_000_000,
            client: format!("claude-code {text}"),
            event: format!("PreToolUse {text}"),
            session_id: Some(format!("s-{text}")),
            cwd: Some(format!("/home/u/{text}/proj")),
            tool: Some(format!("mcp__x__{text} ")),
            payload: format!(r#"{{"k":"{text}"}}"#).into_bytes(),
            size: 0,
            kind: None,
            spans: Vec::new(),
            member: None,
            turn_usage: None,
            span_usage: Default::default(),
        }
    }

    #[test]
    fn every_captured_string_of_the_record_is_redacted() {
        let p = Preparer::new("inst".into(), &Config::default()).unwrap();
        let mut counts = Counts::new();
        let ev = p.prepare(row(&format!(" {TOKEN} ")), &mut counts).unwrap();
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        assert_eq!(counts.get("github-token"), Some(&6), "{counts:?}");
        assert_eq!(ev.id, "inst-3");
    }

    #[test]
    fn the_kind_is_the_assembled_one_else_the_vocabularys() {
        let p = Preparer::new("inst".into(), &Config::default()).unwrap();
        let mut counts = Counts::new();
        let fresh = Claimed {
            client: "gemini".into(),
            event: "BeforeTool".into(),
            ..row("x")
        };
        let assembled = Claimed {
            kind: Some("tool.post".into()),
            ..fresh.clone()
        };
        assert_eq!(p.prepare(fresh, &mut counts).unwrap().kind, Kind::ToolPre);
        assert_eq!(
            p.prepare(assembled, &mut counts).unwrap().kind,
            Kind::ToolPost
        );
        let text = serde_json::to_string(&p.prepare(row("x"), &mut counts).unwrap()).unwrap();
        assert!(text.contains(r#""kind":"other""#), "{text}");
    }

    #[test]
    fn with_redaction_off_the_record_is_what_was_captured() {
        let config = Config {
            redact: false,
            ..Config::default()
        };
        let p = Preparer::new("inst".into(), &config).unwrap();
        let mut counts = Counts::new();
        let ev = p.prepare(row(TOKEN), &mut counts).unwrap();
        assert!(ev.cwd.unwrap().contains(TOKEN));
        assert!(ev.payload.get().contains(TOKEN));
        assert!(counts.is_empty());
    }
}
