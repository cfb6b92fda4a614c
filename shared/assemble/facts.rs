//! What assembly needs from a payload beyond the envelope: the agent's own call id, the
//! subagent's id and type, and the model. Read leniently: a field of an unexpected type is
//! simply absent. Local only; what goes out is built from redacted values in `prepare`.

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess};
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
    /// The event has a `prompt` and it is empty: Qwen Code sends UserPromptSubmit again,
    /// with `"prompt": ""`, when it hands a tool's result back to the model mid-turn.
    pub empty_prompt: bool,
}

/// The fields looked at, each any JSON (unknown fields are skipped unread).
#[derive(Default)]
struct Raw {
    tool_use_id: Option<Value>,
    tool_call_id: Option<Value>,
    execution_id: Option<Value>,
    /// OpenCode: `callID`.
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
    prompt: Option<Blank>,
}

/// The keys `Raw` looks at; any other is skipped unread.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    ToolUseId,
    ToolCallId,
    ExecutionId,
    #[serde(rename = "callID")]
    CallId,
    ToolCall,
    Input,
    AgentId,
    SubagentId,
    AgentType,
    SubagentType,
    Model,
    Prompt,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            /// A key given twice counts once, as its last value (as in serde_json's own
            /// maps): a derived struct would refuse the whole payload, facts and all.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut raw = Raw::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::ToolUseId => &mut raw.tool_use_id,
                        Key::ToolCallId => &mut raw.tool_call_id,
                        Key::ExecutionId => &mut raw.execution_id,
                        Key::CallId => &mut raw.call_id,
                        Key::ToolCall => &mut raw.tool_call,
                        Key::Input => &mut raw.input,
                        Key::AgentId => &mut raw.agent_id,
                        Key::SubagentId => &mut raw.subagent_id,
                        Key::AgentType => &mut raw.agent_type,
                        Key::SubagentType => &mut raw.subagent_type,
                        Key::Model => &mut raw.model,
                        Key::Prompt => {
                            raw.prompt = map.next_value()?;
                            continue;
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value()?;
                }
                Ok(raw)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Whether a value is a string of nothing but white space, read without copying the
/// string (a prompt may be a pasted file).
struct Blank(bool);

impl<'de> Deserialize<'de> for Blank {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blank, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Blank;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Blank, E> {
                Ok(Blank(v.trim().is_empty()))
            }
            // Anything but a string is not blank, and is skipped unread.
            fn visit_bool<E>(self, _: bool) -> Result<Blank, E> {
                Ok(Blank(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Blank, E> {
                Ok(Blank(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Blank, E> {
                Ok(Blank(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Blank, E> {
                Ok(Blank(false))
            }
            fn visit_unit<E>(self) -> Result<Blank, E> {
                Ok(Blank(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Blank, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Blank(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Blank, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Blank(false))
            }
        }
        d.deserialize_any(Visit)
    }
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
            empty_prompt: raw.prompt.is_some_and(|b| b.0),
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
    fn only_a_prompt_given_and_empty_is_an_empty_prompt() {
        for (payload, empty) in [
            (r#"{"prompt":""}"#, true),
            (r#"{"prompt":" \n"}"#, true),
            (r#"{"prompt":"run echo hello"}"#, false),
            (r#"{"prompt":null}"#, false),
            (r#"{"prompt":[]}"#, false),
            (r#"{}"#, false),
        ] {
            assert_eq!(
                Facts::read(payload.as_bytes()).empty_prompt,
                empty,
                "{payload}"
            );
        }
        // A prompt of another shape is skipped whole: the fields after it are still read.
        for payload in [
            r#"{"prompt":{"a":[1,{"b":""}]},"tool_use_id":"t"}"#,
            r#"{"prompt":[1,"",{"c":null}],"tool_use_id":"t"}"#,
            r#"{"prompt":true,"tool_use_id":"t"}"#,
            r#"{"prompt":-1.5e3,"tool_use_id":"t"}"#,
            // A key twice: the last one counts, and nothing else is lost.
            r#"{"prompt":"","prompt":"x","tool_use_id":"t"}"#,
            r#"{"tool_use_id":"u","prompt":"","tool_use_id":"t","prompt":"y"}"#,
        ] {
            let f = Facts::read(payload.as_bytes());
            assert_eq!(f.call.as_deref(), Some("t"), "{payload}");
            assert!(!f.empty_prompt, "{payload}");
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
