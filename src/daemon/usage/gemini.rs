//! Gemini CLI session files (JSONL, `session-….jsonl`): each `gemini` message record carries
//! the response's `tokens` and `model`. A message is appended again whenever it changes
//! (tokens recorded after the text, tool calls added), under the same `id`: it counts once.

use serde_json::Value;

use super::{Format, GeminiCounts, Response, tokens};

pub struct Gemini;

impl Format for Gemini {
    fn line(&mut self, v: &Value) -> Option<Response> {
        if v.get("type")?.as_str()? != "gemini" {
            return None;
        }
        let t = v.get("tokens")?;
        if !t.is_object() {
            return None;
        }
        let id = v.get("id")?.as_str()?;
        let counts = GeminiCounts {
            prompt: tokens(t, "input"),
            cached: tokens(t, "cached"),
            candidates: tokens(t, "output"),
            thoughts: tokens(t, "thoughts"),
        };
        Some(counts.response(id, v))
    }

    fn carry(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_gemini_record_splits_cached_input_and_counts_thoughts_as_output() {
        let line = json!({
            "id": "m1", "timestamp": "2026-12-01T10:00:00.000Z", "type": "gemini",
            "content": "ok", "model": "gemini-2.5-pro",
            "tokens": {"input": 1200, "output": 40, "cached": 1000, "thoughts": 7, "tool": 0, "total": 1247}
        });
        let r = Gemini.line(&line).unwrap();
        assert_eq!(
            (r.input, r.output, r.cache_read, r.cache_write),
            (200, 47, 1000, 0)
        );
        assert_eq!(r.key, "m1");
        assert_eq!(r.model.as_deref(), Some("gemini-2.5-pro"));
    }

    #[test]
    fn the_largest_counts_are_capped_and_nonsense_counts_are_zero() {
        let max = i64::MAX;
        let line = json!({"id": "m", "type": "gemini",
            "tokens": {"input": -5, "cached": 9, "output": max, "thoughts": max}});
        let r = Gemini.line(&line).unwrap();
        let cap = super::super::MAX_TOKENS;
        assert_eq!((r.input, r.output, r.cache_read), (0, 2 * cap, 0));
        let line = json!({"id": "m", "type": "gemini",
            "tokens": {"input": 1e300, "cached": "12", "output": u64::MAX}});
        let r = Gemini.line(&line).unwrap();
        assert_eq!((r.input, r.output, r.cache_read), (0, 0, 0));
    }

    #[test]
    fn user_records_metadata_and_tokenless_messages_are_not_responses() {
        for line in [
            json!({"id": "u1", "type": "user", "content": "hi", "tokens": {"input": 5}}),
            json!({"$set": {"lastUpdated": "2026-12-01T10:00:00.000Z"}}),
            json!({"id": "m2", "type": "gemini", "content": "", "tokens": null}),
            json!({"sessionId": "s", "projectHash": "h", "startTime": "x"}),
        ] {
            assert_eq!(Gemini.line(&line), None, "{line}");
        }
    }
}
