//! Codex rollout transcripts (JSONL): `turn_context` lines name the model, `token_count`
//! events carry the session's running totals. A response is the difference between two
//! totals; the same totals reported twice count once, keyed by the total they reached.

use serde_json::{Value, json};

use super::{Format, Response, rfc3339_ms, tokens};

/// The running totals a `token_count` event reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    input: i64,
    cached: i64,
    output: i64,
    total: i64,
}

impl Totals {
    fn of(v: &Value) -> Totals {
        Totals {
            input: tokens(v, "input_tokens"),
            cached: tokens(v, "cached_input_tokens"),
            output: tokens(v, "output_tokens"),
            total: tokens(v, "total_tokens"),
        }
    }
}

#[derive(Default)]
pub struct Codex {
    model: Option<String>,
    /// The totals last counted: each response is the difference to the next ones.
    last: Totals,
}

impl Codex {
    /// Where the last pass left off (its `carry`), or a fresh start.
    pub fn resume(carry: Option<&str>) -> Codex {
        let v: Value = carry
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null);
        Codex {
            model: v.get("model").and_then(Value::as_str).map(str::to_owned),
            last: v.get("totals").map(Totals::of).unwrap_or_default(),
        }
    }
}

impl Format for Codex {
    fn line(&mut self, v: &Value) -> Option<Response> {
        let payload = v.get("payload")?;
        match v.get("type")?.as_str()? {
            "turn_context" => {
                if let Some(m) = payload.get("model").and_then(Value::as_str) {
                    self.model = Some(m.to_owned());
                }
                None
            }
            "event_msg" if payload.get("type")?.as_str()? == "token_count" => {
                let now = Totals::of(payload.get("info")?.get("total_token_usage")?);
                // Reported again unchanged (or a new session's smaller totals): nothing new.
                if now.total <= self.last.total {
                    if now.total < self.last.total {
                        self.last = now;
                    }
                    return None;
                }
                let before = std::mem::replace(&mut self.last, now);
                let input = (now.input - before.input).max(0);
                let cached = (now.cached - before.cached).clamp(0, input);
                Some(Response {
                    key: format!("total:{}", now.total),
                    at_ms: rfc3339_ms(v.get("timestamp")),
                    model: self.model.clone(),
                    input: input - cached,
                    output: (now.output - before.output).max(0),
                    cache_read: cached,
                    cache_write: 0,
                })
            }
            _ => None,
        }
    }

    fn carry(&self) -> Option<String> {
        let t = self.last;
        Some(
            json!({"model": self.model, "totals": {
                "input_tokens": t.input, "cached_input_tokens": t.cached,
                "output_tokens": t.output, "total_tokens": t.total,
            }})
            .to_string(),
        )
    }
}
