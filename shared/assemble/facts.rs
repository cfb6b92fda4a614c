//! What assembly needs from a payload beyond the envelope: the agent's own call id, the
//! subagent's id and type, and the model. Read leniently: a field of an unexpected type is
//! simply absent. Local only; what goes out is built from redacted values in `prepare`.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The agent's own tool call id, if it gives one.
    pub call: Option<String>,
    /// The subagent an event belongs to or starts (Claude Code `agent_id`, Cursor
    /// `subagent_id`).
    pub agent_id: Option<String>,
    pub agent_type: Option<String>,
    pub model: Option<String>,
    /// A tool call's arguments (`content`), read only when content is sent.
    pub arguments: Option<String>,
}

/// The fields looked at, each any JSON (unknown fields are skipped unread).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw {
    tool_use_id: Option<Value>,
    tool_call_id: Option<Value>,
    execution_id: Option<Value>,
    #[serde(rename = "callID")]
    call_id: Option<Value>,
    /// Cline: `tool_call.id`.
    tool_call: Option<Value>,
    /// OpenCode's plugin envelope: `input.callID`.
    input: Option<Value>,
    agent_id: Option<Value>,
    subagent_id: Option<Value>,
    agent_type: Option<Value>,
    subagent_type: Option<Value>,
    model: Option<Value>,
}

fn text(v: &Option<Value>) -> Option<String> {
    v.as_ref()
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn nested(v: &Option<Value>, key: &str) -> Option<String> {
    text(&v.as_ref().and_then(|o| o.get(key)).cloned())
}

impl Facts {
    /// The facts of a payload; none at all when it is not a JSON object.
    pub fn read(payload: &[u8]) -> Facts {
        let Ok(raw) = serde_json::from_slice::<Raw>(payload) else {
            return Facts::default();
        };
        let call = text(&raw.tool_use_id)
            .or_else(|| text(&raw.tool_call_id))
            .or_else(|| text(&raw.execution_id))
            .or_else(|| text(&raw.call_id))
            .or_else(|| nested(&raw.tool_call, "id"))
            .or_else(|| nested(&raw.input, "callID"));
        Facts {
            call,
            agent_id: text(&raw.agent_id).or_else(|| text(&raw.subagent_id)),
            agent_type: text(&raw.agent_type).or_else(|| text(&raw.subagent_type)),
            model: text(&raw.model),
            arguments: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agents_call_id_is_found() {
        for (payload, want) in [
            (r#"{"tool_use_id":"toolu_1"}"#, "toolu_1"),
            (r#"{"tool_call_id":"c2"}"#, "c2"),
            (r#"{"execution_id":"e3"}"#, "e3"),
            (r#"{"tool_call":{"id":"call_4","name":"x"}}"#, "call_4"),
            (r#"{"input":{"tool":"bash","callID":"call_5"}}"#, "call_5"),
        ] {
            assert_eq!(Facts::read(payload.as_bytes()).call.as_deref(), Some(want));
        }
    }

    #[test]
    fn odd_shapes_are_absent_not_errors() {
        let f = Facts::read(br#"{"model":{"id":"x"},"tool_use_id":7,"agent_id":""}"#);
        assert_eq!(f, Facts::default());
        assert_eq!(Facts::read(b"[1,2]"), Facts::default());
        let f = Facts::read(br#"{"subagent_id":"a","subagent_type":"general","model":"m"}"#);
        assert_eq!(f.agent_id.as_deref(), Some("a"));
        assert_eq!(f.agent_type.as_deref(), Some("general"));
        assert_eq!(f.model.as_deref(), Some("m"));
    }
}
