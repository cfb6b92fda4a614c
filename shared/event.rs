//! The event record: which agent sent a payload, which event it is, and the few fields
//! worth indexing (session, cwd, tool), read with one cheap typed parse of the JSON.
//! Event names are kept exactly as the agent sent them; the payload is never rewritten.

use serde::{Deserialize, Deserializer};

/// The agents difflore knows. `--client` names one explicitly; otherwise it is guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    ClaudeCode,
    Codex,
    Gemini,
    Cursor,
    Windsurf,
}

impl Client {
    pub const ALL: [Client; 5] = [
        Client::ClaudeCode,
        Client::Codex,
        Client::Gemini,
        Client::Cursor,
        Client::Windsurf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Cursor => "cursor",
            Client::Windsurf => "windsurf",
        }
    }

    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Where a row stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    InFlight,
    Dead,
    Rejected,
    /// Acknowledged by the collector (or recorded with no endpoint) and kept as local
    /// history for `keep_history`.
    Delivered,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::InFlight => "in_flight",
            State::Dead => "dead",
            State::Rejected => "rejected",
            State::Delivered => "delivered",
        }
    }
}

/// The indexed fields of one event. `client` is a free string so a `--client` the
/// project does not know yet is still stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub client: String,
    pub event: String,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub tool: Option<String>,
}

/// Why an input could not be stored as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLarge { cap: usize },
    InvalidUtf8,
    NotJson(String),
    NotObject,
    Unreadable(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Empty => write!(f, "empty input: no event on stdin or argv"),
            Rejection::TooLarge { cap } => write!(f, "event larger than the {cap}-byte cap"),
            Rejection::InvalidUtf8 => write!(f, "event is not valid UTF-8"),
            Rejection::NotJson(e) => write!(f, "event is not JSON: {e}"),
            Rejection::NotObject => write!(f, "event is JSON but not an object"),
            Rejection::Unreadable(e) => write!(f, "could not read the event from stdin: {e}"),
        }
    }
}

/// Check one raw input and read its fields. `client` overrides detection.
pub fn classify(raw: &[u8], client: Option<&str>) -> Result<Fields, Rejection> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Empty);
    }
    let text = std::str::from_utf8(raw).map_err(|_| Rejection::InvalidUtf8)?;
    let env = match serde_json::from_str::<Envelope>(text) {
        Ok(env) => env,
        // A well-formed payload whose fields have unexpected types: read them leniently.
        Err(e) if e.is_data() => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Envelope::from_map(&map),
            Ok(_) => return Err(Rejection::NotObject),
            Err(e) => return Err(Rejection::NotJson(e.to_string())),
        },
        Err(e) => return Err(Rejection::NotJson(e.to_string())),
    };
    Ok(env.fields(client))
}

/// The fields difflore reads from any agent's payload; everything else is skipped unread.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Envelope {
    hook_event_name: Option<String>,
    agent_action_name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    session_id: Option<String>,
    conversation_id: Option<String>,
    trajectory_id: Option<String>,
    #[serde(rename = "thread-id")]
    thread_id: Option<String>,
    cwd: Option<String>,
    workspace_roots: Option<Vec<String>>,
    tool_name: Option<String>,
    tool_info: Option<ToolInfo>,
    #[serde(deserialize_with = "present_or_null")]
    transcript_path: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    turn_id: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    cursor_version: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    timestamp: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ToolInfo {
    cwd: Option<String>,
    mcp_tool_name: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` (via `default`) when the key is absent.
fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Events only Gemini CLI sends (its SessionStart/SessionEnd look like Claude Code's).
const GEMINI_ONLY: [&str; 8] = [
    "BeforeAgent",
    "AfterAgent",
    "BeforeModel",
    "AfterModel",
    "BeforeToolSelection",
    "BeforeTool",
    "AfterTool",
    "PreCompress",
];

impl Envelope {
    /// The slow path for payloads whose fields have surprising types: keep only strings.
    fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> Envelope {
        let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let nullable = |k: &str| map.get(k).map(|v| v.as_str().map(str::to_owned));
        let info = map.get("tool_info").and_then(|v| v.as_object());
        let info_text = |k: &str| info?.get(k)?.as_str().map(str::to_owned);
        Envelope {
            hook_event_name: text("hook_event_name"),
            agent_action_name: text("agent_action_name"),
            kind: text("type"),
            session_id: text("session_id"),
            conversation_id: text("conversation_id"),
            trajectory_id: text("trajectory_id"),
            thread_id: text("thread-id"),
            cwd: text("cwd"),
            workspace_roots: map
                .get("workspace_roots")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                }),
            tool_name: text("tool_name"),
            tool_info: info.map(|_| ToolInfo {
                cwd: info_text("cwd"),
                mcp_tool_name: info_text("mcp_tool_name"),
            }),
            transcript_path: nullable("transcript_path"),
            turn_id: nullable("turn_id"),
            cursor_version: nullable("cursor_version"),
            timestamp: nullable("timestamp"),
        }
    }

    fn detect(&self) -> Option<Client> {
        if self.agent_action_name.is_some() {
            return Some(Client::Windsurf);
        }
        if self.kind.as_deref() == Some("agent-turn-complete") || self.thread_id.is_some() {
            return Some(Client::Codex);
        }
        let name = self.hook_event_name.as_deref()?;
        let camel = name.starts_with(|c: char| c.is_ascii_lowercase());
        if camel
            || self.conversation_id.is_some()
            || self.cursor_version.is_some()
            || self.workspace_roots.is_some()
        {
            return Some(Client::Cursor);
        }
        let codex_transcript = match &self.transcript_path {
            Some(None) => true,
            Some(Some(p)) => p.contains("/.codex/") || p.contains("\\.codex\\"),
            None => false,
        };
        if self.turn_id.is_some() || codex_transcript {
            return Some(Client::Codex);
        }
        if GEMINI_ONLY.contains(&name) || self.timestamp.is_some() {
            return Some(Client::Gemini);
        }
        Some(Client::ClaudeCode)
    }

    fn fields(self, client: Option<&str>) -> Fields {
        let client = match client {
            Some(c) => c.to_owned(),
            None => self.detect().map_or("unknown", Client::as_str).to_owned(),
        };
        let tool = non_empty(self.tool_name.clone()).or_else(|| self.windsurf_tool());
        let info_cwd = self.tool_info.as_ref().and_then(|i| i.cwd.clone());
        let first_root = self.workspace_roots.and_then(|r| r.into_iter().next());
        Fields {
            client,
            event: self
                .hook_event_name
                .or(self.agent_action_name)
                .or(self.kind)
                .unwrap_or_else(|| "unknown".to_owned()),
            // Empty strings are skipped, not chosen: Cursor sends `"cwd": ""` for "the
            // workspace default", which must not hide `workspace_roots`.
            session_id: non_empty(self.session_id)
                .or(non_empty(self.conversation_id))
                .or(non_empty(self.trajectory_id))
                .or(non_empty(self.thread_id)),
            cwd: non_empty(self.cwd)
                .or(non_empty(first_root))
                .or(non_empty(info_cwd)),
            tool: non_empty(tool),
        }
    }

    /// Windsurf names the tool in the action itself (`pre_run_command` → `run_command`).
    fn windsurf_tool(&self) -> Option<String> {
        if let Some(mcp) = self
            .tool_info
            .as_ref()
            .and_then(|i| i.mcp_tool_name.clone())
        {
            return Some(mcp);
        }
        let action = self.agent_action_name.as_deref()?;
        let tool = action
            .strip_prefix("pre_")
            .or_else(|| action.strip_prefix("post_"))?;
        matches!(tool, "read_code" | "write_code" | "run_command").then(|| tool.to_owned())
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        classify(json.as_bytes(), None).unwrap()
    }

    #[test]
    fn cursor_without_cwd_takes_the_first_workspace_root() {
        let f = fields(
            r#"{"conversation_id":"c1","hook_event_name":"afterFileEdit","workspace_roots":["/w","/x"]}"#,
        );
        assert_eq!(f.client, "cursor");
        assert_eq!(f.event, "afterFileEdit");
        assert_eq!(f.session_id.as_deref(), Some("c1"));
        assert_eq!(f.cwd.as_deref(), Some("/w"));
    }

    #[test]
    fn empty_cwd_falls_back_to_the_first_workspace_root() {
        let f = fields(
            r#"{"conversation_id":"c1","hook_event_name":"beforeShellExecution","cwd":"","workspace_roots":["/w"]}"#,
        );
        assert_eq!(f.cwd.as_deref(), Some("/w"));
    }

    #[test]
    fn codex_string_tool_response_and_null_transcript_are_read() {
        let f = fields(
            r#"{"session_id":"s","transcript_path":null,"cwd":"/p","hook_event_name":"PostToolUse","tool_name":"Bash","tool_response":"hi\n"}"#,
        );
        assert_eq!(f.client, "codex");
        assert_eq!(f.tool.as_deref(), Some("Bash"));
    }

    #[test]
    fn surprising_field_types_fall_back_to_the_lenient_reader() {
        let f = fields(
            r#"{"hook_event_name":"PostToolUse","cwd":42,"session_id":"s","effort":{"level":"high"}}"#,
        );
        assert_eq!(f.event, "PostToolUse");
        assert_eq!(f.cwd, None);
        assert_eq!(f.session_id.as_deref(), Some("s"));
    }

    #[test]
    fn unknown_shape_is_stored_as_event_unknown() {
        let f = fields(r#"{"hello":"world"}"#);
        assert_eq!(
            (f.client.as_str(), f.event.as_str()),
            ("unknown", "unknown")
        );
    }

    #[test]
    fn bad_inputs_are_rejected_with_a_named_reason() {
        assert_eq!(classify(b"  \n", None), Err(Rejection::Empty));
        assert_eq!(classify(b"\xff\xfe{}", None), Err(Rejection::InvalidUtf8));
        assert_eq!(classify(b"[1,2]", None), Err(Rejection::NotObject));
        assert!(matches!(
            classify(b"{nope", None),
            Err(Rejection::NotJson(_))
        ));
    }
}
