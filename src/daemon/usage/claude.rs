//! Claude Code transcripts (JSONL): each assistant line carries the model's `usage`;
//! one response is logged once per content block under the same message and request id.

use serde_json::Value;

use super::{Format, Response, rfc3339_ms, tokens};

pub struct Claude;

impl Format for Claude {
    fn line(&mut self, v: &Value) -> Option<Response> {
        if v.get("type")?.as_str()? != "assistant" {
            return None;
        }
        let message = v.get("message")?;
        let usage = message.get("usage")?;
        let id = message.get("id").and_then(Value::as_str)?;
        let request = v.get("requestId").and_then(Value::as_str).unwrap_or("");
        Some(Response {
            key: format!("{id}:{request}"),
            at_ms: rfc3339_ms(v.get("timestamp")),
            model: message
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| *m != "<synthetic>")
                .map(str::to_owned),
            input: tokens(usage, "input_tokens"),
            output: tokens(usage, "output_tokens"),
            cache_read: tokens(usage, "cache_read_input_tokens"),
            cache_write: tokens(usage, "cache_creation_input_tokens"),
        })
    }

    fn carry(&self) -> Option<String> {
        None
    }
}
