//! Codex rollout transcripts (JSONL): `turn_context` lines name the model, `token_count`
//! events carry the session's running totals and the last response's tokens. The same
//! totals may be reported twice; a response counts once, keyed by the total it brought.

use serde_json::{Value, json};

use super::{Format, Response, rfc3339_ms, tokens};

#[derive(Default)]
pub struct Codex {
    model: Option<String>,
    /// `total_tokens` of the last totals counted.
    total: i64,
}

impl Codex {
    /// Where the last pass left off (its `carry`), or a fresh start.
    pub fn resume(carry: Option<&str>) -> Codex {
        let v: Value = carry
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null);
        Codex {
            model: v.get("model").and_then(Value::as_str).map(str::to_owned),
            total: v.get("total").and_then(Value::as_i64).unwrap_or(0),
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
                let info = payload.get("info")?;
                let total = tokens(info.get("total_token_usage")?, "total_tokens");
                if total <= self.total {
                    return None;
                }
                self.total = total;
                let last = info.get("last_token_usage")?;
                let input = tokens(last, "input_tokens");
                let cached = tokens(last, "cached_input_tokens").min(input);
                Some(Response {
                    key: format!("total:{total}"),
                    at_ms: rfc3339_ms(v.get("timestamp")),
                    model: self.model.clone(),
                    input: input - cached,
                    output: tokens(last, "output_tokens"),
                    cache_read: cached,
                    cache_write: 0,
                })
            }
            _ => None,
        }
    }

    fn carry(&self) -> Option<String> {
        Some(json!({"model": self.model, "total": self.total}).to_string())
    }
}
