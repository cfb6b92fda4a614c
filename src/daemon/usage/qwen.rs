//! Qwen Code session files (JSONL, one record per line): each `assistant` record carries
//! the response's `usageMetadata` (Gemini API counts) and `model`, under its own `uuid`.

use serde_json::Value;

use super::{Format, GeminiCounts, Response, tokens};

pub struct Qwen;

impl Format for Qwen {
    fn line(&mut self, v: &Value) -> Option<Response> {
        if v.get("type")?.as_str()? != "assistant" {
            return None;
        }
        let u = v.get("usageMetadata")?;
        if !u.is_object() {
            return None;
        }
        let id = v.get("uuid")?.as_str()?;
        let counts = GeminiCounts {
            prompt: tokens(u, "promptTokenCount"),
            cached: tokens(u, "cachedContentTokenCount"),
            candidates: tokens(u, "candidatesTokenCount"),
            thoughts: tokens(u, "thoughtsTokenCount"),
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
    fn an_assistant_record_splits_cached_input_and_counts_thoughts_as_output() {
        let line = json!({
            "uuid": "a1", "parentUuid": "u1", "sessionId": "q", "type": "assistant",
            "timestamp": "2026-12-01T10:00:00.000Z", "model": "qwen3-coder-plus",
            "message": {"role": "model", "parts": [{"text": "ok"}]},
            "usageMetadata": {"promptTokenCount": 900, "candidatesTokenCount": 50,
                              "cachedContentTokenCount": 600, "thoughtsTokenCount": 10,
                              "totalTokenCount": 960}
        });
        let r = Qwen.line(&line).unwrap();
        assert_eq!(
            (r.input, r.output, r.cache_read, r.cache_write),
            (300, 60, 600, 0)
        );
        assert_eq!(
            (r.key.as_str(), r.model.as_deref()),
            ("a1", Some("qwen3-coder-plus"))
        );
    }

    #[test]
    fn user_tool_and_system_records_are_not_responses() {
        for line in [
            json!({"uuid": "u1", "type": "user", "usageMetadata": {"promptTokenCount": 5}}),
            json!({"uuid": "t1", "type": "tool_result"}),
            json!({"uuid": "s1", "type": "system", "subtype": "ui_telemetry",
                   "systemPayload": {"uiEvent": {"usage": 1}}}),
            json!({"uuid": "a2", "type": "assistant"}),
        ] {
            assert_eq!(Qwen.line(&line), None, "{line}");
        }
    }
}
