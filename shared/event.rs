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
    Copilot,
    VsCode,
    Cline,
    Droid,
    QwenCode,
    Auggie,
    OpenCode,
    Kimi,
    Kiro,
    Vibe,
    Crush,
}

impl Client {
    pub const ALL: [Client; 16] = [
        Client::ClaudeCode,
        Client::Codex,
        Client::Gemini,
        Client::Cursor,
        Client::Windsurf,
        Client::Copilot,
        Client::VsCode,
        Client::Cline,
        Client::Droid,
        Client::QwenCode,
        Client::Auggie,
        Client::OpenCode,
        Client::Kimi,
        Client::Kiro,
        Client::Vibe,
        Client::Crush,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Cursor => "cursor",
            Client::Windsurf => "windsurf",
            Client::Copilot => "copilot",
            Client::VsCode => "vscode",
            Client::Cline => "cline",
            Client::Droid => "droid",
            Client::QwenCode => "qwen-code",
            Client::Auggie => "auggie",
            Client::OpenCode => "opencode",
            Client::Kimi => "kimi",
            Client::Kiro => "kiro",
            Client::Vibe => "vibe",
            Client::Crush => "crush",
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
    TooLarge {
        cap: usize,
    },
    InvalidUtf8,
    NotJson(String),
    NotObject,
    /// Valid to a lenient reader but not sendable by every sink (see `shared::json`).
    Undeliverable(String),
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
            Rejection::Undeliverable(e) => write!(f, "event cannot be delivered: {e}"),
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
    // What the hook accepts, every sink must be able to send: checked once, here.
    super::json::validate(text).map_err(|e| Rejection::Undeliverable(e.to_string()))?;
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
    /// Kimi Code CLI names itself (`kimi_code_cli`); the older Kimi CLI does not, but keys
    /// its tool calls `tool_call_id` where Claude Code says `tool_use_id`.
    client_type: Option<String>,
    #[serde(deserialize_with = "present_or_null")]
    tool_call_id: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    transcript_path: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    turn_id: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    cursor_version: Option<Option<String>>,
    #[serde(deserialize_with = "present_or_null")]
    timestamp: Option<Option<String>>,
    /// VS Code (`hookEventName`, `sessionId`) and Copilot CLI's camelCase payloads.
    #[serde(rename = "hookEventName")]
    hook_event_name_camel: Option<String>,
    #[serde(rename = "hookName")]
    hook_name: Option<String>,
    #[serde(rename = "sessionId")]
    session_id_camel: Option<String>,
    #[serde(rename = "toolName")]
    tool_name_camel: Option<String>,
    /// Cline: `taskId` is the session, `workspaceRoots` the folders.
    #[serde(rename = "taskId")]
    task_id: Option<String>,
    #[serde(rename = "clineVersion")]
    cline_version: Option<String>,
    #[serde(rename = "workspaceRoots")]
    workspace_roots_camel: Option<Vec<String>>,
    tool_call: Option<NamedTool>,
    tool_result: Option<NamedTool>,
    /// OpenCode, through the plugin difflore installs: `{plugin_hook, directory, event |
    /// input, output}`.
    plugin_hook: Option<String>,
    directory: Option<String>,
    event: Option<PluginEvent>,
    input: Option<PluginInput>,
    /// Crush names its event in a string `event` (where OpenCode's envelope has an object),
    /// so only the lenient reader fills this.
    #[serde(skip)]
    event_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedTool {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PluginEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    properties: Option<PluginProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PluginProperties {
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
    info: Option<PluginInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PluginInfo {
    id: Option<String>,
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PluginInput {
    tool: Option<String>,
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
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

/// Mistral Vibe's hook types, which it sends as the event name: its source's names and
/// the later ones its documentation uses.
const VIBE: [&str; 6] = [
    "before_tool",
    "after_tool",
    "post_agent_turn",
    "pre_tool",
    "post_tool",
    "post_agent",
];

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
            client_type: text("client_type"),
            tool_call_id: nullable("tool_call_id"),
            tool_info: info.map(|_| ToolInfo {
                cwd: info_text("cwd"),
                mcp_tool_name: info_text("mcp_tool_name"),
            }),
            transcript_path: nullable("transcript_path"),
            turn_id: nullable("turn_id"),
            cursor_version: nullable("cursor_version"),
            timestamp: nullable("timestamp"),
            hook_event_name_camel: text("hookEventName"),
            hook_name: text("hookName"),
            session_id_camel: text("sessionId"),
            tool_name_camel: text("toolName"),
            task_id: text("taskId"),
            cline_version: text("clineVersion"),
            workspace_roots_camel: map
                .get("workspaceRoots")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                }),
            tool_call: named(map.get("tool_call")),
            tool_result: named(map.get("tool_result")),
            plugin_hook: text("plugin_hook"),
            directory: text("directory"),
            event: map.get("event").map(|e| {
                let props = e.get("properties");
                let info = props.and_then(|p| p.get("info"));
                let s =
                    |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
                PluginEvent {
                    kind: s(e.get("type")),
                    properties: Some(PluginProperties {
                        session_id: s(props.and_then(|p| p.get("sessionID"))),
                        info: Some(PluginInfo {
                            id: s(info.and_then(|i| i.get("id"))),
                            session_id: s(info.and_then(|i| i.get("sessionID"))),
                        }),
                    }),
                }
            }),
            event_name: map.get("event").and_then(|v| v.as_str()).map(str::to_owned),
            input: map.get("input").map(|i| PluginInput {
                tool: i.get("tool").and_then(|v| v.as_str()).map(str::to_owned),
                session_id: i
                    .get("sessionID")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            }),
        }
    }

    fn detect(&self) -> Option<Client> {
        if self.agent_action_name.is_some() {
            return Some(Client::Windsurf);
        }
        if self.plugin_hook.is_some() {
            return Some(Client::OpenCode);
        }
        if self.hook_event_name.is_none() && self.event_name.is_some() {
            return Some(Client::Crush);
        }
        if self.kind.as_deref() == Some("agent-turn-complete") || self.thread_id.is_some() {
            return Some(Client::Codex);
        }
        if self.hook_name.is_some() && (self.task_id.is_some() || self.cline_version.is_some()) {
            return Some(Client::Cline);
        }
        if self.hook_event_name_camel.is_some() {
            return Some(Client::VsCode);
        }
        if self.hook_event_name.is_none() && self.session_id_camel.is_some() {
            // Copilot CLI's camelCase payloads name no event (`hookName` on some).
            return Some(Client::Copilot);
        }
        if self
            .client_type
            .as_deref()
            .is_some_and(|c| c.starts_with("kimi"))
        {
            return Some(Client::Kimi);
        }
        let name = self.hook_event_name.as_deref()?;
        if VIBE.contains(&name) {
            return Some(Client::Vibe);
        }
        let camel = name.starts_with(|c: char| c.is_ascii_lowercase());
        let cursorish = self.conversation_id.is_some()
            || self.cursor_version.is_some()
            || self.workspace_roots.is_some();
        if camel && !cursorish {
            // Kiro CLI: camelCase names like Cursor's, but only `cwd` around them (no
            // conversation, no workspace roots, no session at all).
            return Some(Client::Kiro);
        }
        let transcript = self.transcript_path.as_ref().and_then(|p| p.as_deref());
        let under = |dir: &str| {
            transcript.is_some_and(|p| {
                p.contains(&format!("/{dir}/")) || p.contains(&format!("\\{dir}\\"))
            })
        };
        if !camel && self.conversation_id.is_some() && self.cursor_version.is_none() {
            // Auggie: Claude-style names with Cursor-style conversation and roots.
            return Some(Client::Auggie);
        }
        if camel || cursorish {
            return Some(Client::Cursor);
        }
        if under(".qwen") {
            return Some(Client::QwenCode);
        }
        if under(".factory") {
            return Some(Client::Droid);
        }
        if under(".copilot") {
            return Some(Client::Copilot);
        }
        let codex_transcript = match &self.transcript_path {
            Some(None) => true,
            Some(Some(p)) => p.contains("/.codex/") || p.contains("\\.codex\\"),
            None => false,
        };
        if self.turn_id.is_some() || codex_transcript {
            return Some(Client::Codex);
        }
        if self.tool_call_id.is_some() && transcript.is_none() {
            return Some(Client::Kimi);
        }
        if GEMINI_ONLY.contains(&name) {
            return Some(Client::Gemini);
        }
        if self.timestamp.is_some() {
            // Gemini always names its transcript; Copilot CLI's Claude-style payloads
            // carry an ISO timestamp and, but for Stop, no transcript.
            return Some(if self.transcript_path.is_some() {
                Client::Gemini
            } else {
                Client::Copilot
            });
        }
        Some(Client::ClaudeCode)
    }

    fn fields(self, client: Option<&str>) -> Fields {
        let client = match client {
            Some(c) => c.to_owned(),
            None => self.detect().map_or("unknown", Client::as_str).to_owned(),
        };
        let tool = non_empty(self.tool_name.clone())
            .or_else(|| self.windsurf_tool())
            .or_else(|| non_empty(self.tool_name_camel.clone()))
            .or_else(|| self.tool_call.as_ref().and_then(|t| t.name.clone()))
            .or_else(|| self.tool_result.as_ref().and_then(|t| t.name.clone()))
            .or_else(|| self.input.as_ref().and_then(|i| i.tool.clone()));
        let info_cwd = self.tool_info.as_ref().and_then(|i| i.cwd.clone());
        let first_root = self.workspace_roots.and_then(|r| r.into_iter().next());
        let first_camel_root = self
            .workspace_roots_camel
            .and_then(|r| r.into_iter().next());
        let props = self.event.as_ref().and_then(|e| e.properties.as_ref());
        let info = props.and_then(|p| p.info.as_ref());
        // OpenCode's `session.*` events carry the session itself as `info`.
        let plugin_session = self
            .input
            .as_ref()
            .and_then(|i| i.session_id.clone())
            .or_else(|| props.and_then(|p| p.session_id.clone()))
            .or_else(|| info.and_then(|i| i.session_id.clone()))
            .or_else(|| info.and_then(|i| i.id.clone()));
        let plugin_event = match self.plugin_hook.as_deref() {
            Some("event") => self.event.as_ref().and_then(|e| e.kind.clone()),
            _ => self.plugin_hook.clone(),
        };
        Fields {
            client,
            event: self
                .hook_event_name
                .or(self.hook_event_name_camel)
                .or(self.agent_action_name)
                .or(self.kind)
                .or(self.hook_name)
                .or(plugin_event)
                .or(self.event_name)
                .unwrap_or_else(|| "unknown".to_owned()),
            // Empty strings are skipped, not chosen: Cursor sends `"cwd": ""` for "the
            // workspace default", which must not hide `workspace_roots`.
            session_id: non_empty(self.session_id)
                .or(non_empty(self.conversation_id))
                .or(non_empty(self.trajectory_id))
                .or(non_empty(self.thread_id))
                .or(non_empty(self.session_id_camel))
                .or(non_empty(self.task_id))
                .or(non_empty(plugin_session)),
            cwd: non_empty(self.cwd)
                .or(non_empty(first_root))
                .or(non_empty(info_cwd))
                .or(non_empty(first_camel_root))
                .or(non_empty(self.directory)),
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

fn named(value: Option<&serde_json::Value>) -> Option<NamedTool> {
    let value = value?;
    Some(NamedTool {
        name: value
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned),
    })
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
    fn camel_case_events_with_only_cwd_are_kiro_and_with_a_conversation_cursor() {
        let kiro = fields(r#"{"hook_event_name":"preToolUse","cwd":"/p","tool_name":"fs_read"}"#);
        assert_eq!((kiro.client.as_str(), kiro.session_id), ("kiro", None));
        let cursor =
            fields(r#"{"hook_event_name":"stop","conversation_id":"c","status":"completed"}"#);
        assert_eq!(cursor.client, "cursor");
    }

    #[test]
    fn kimi_is_told_by_its_client_type_or_its_tool_call_id() {
        let new = fields(
            r#"{"hook_event_name":"Stop","session_id":"session_1","cwd":"/p","client_type":"kimi_code_cli"}"#,
        );
        assert_eq!(new.client, "kimi");
        let old = fields(
            r#"{"hook_event_name":"PreToolUse","session_id":"s","cwd":"/p","tool_name":"Shell","tool_input":{},"tool_call_id":"t"}"#,
        );
        assert_eq!(
            (old.client.as_str(), old.tool.as_deref()),
            ("kimi", Some("Shell"))
        );
        // Claude Code keys its calls `tool_use_id` and always names its transcript.
        let claude = fields(
            r#"{"hook_event_name":"PreToolUse","session_id":"s","transcript_path":"/h/.claude/projects/p/s.jsonl","tool_name":"Bash","tool_use_id":"t"}"#,
        );
        assert_eq!(claude.client, "claude-code");
    }

    #[test]
    fn crush_names_its_event_in_a_string_event() {
        let f = fields(
            r#"{"event":"PreToolUse","session_id":"313909e","cwd":"/p","tool_name":"bash","tool_input":{}}"#,
        );
        let got = (f.client.as_str(), f.event.as_str(), f.tool.as_deref());
        assert_eq!(got, ("crush", "PreToolUse", Some("bash")));
        assert_eq!(f.session_id.as_deref(), Some("313909e"));
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

    #[test]
    fn json_no_sink_can_send_is_rejected_at_capture() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        for bad in [
            r#"{"hook_event_name":"Stop","cut":"\ud83d"}"#.to_owned(),
            r#"{"hook_event_name":"Stop","n":1e400}"#.to_owned(),
            deep,
        ] {
            assert!(
                matches!(
                    classify(bad.as_bytes(), None),
                    Err(Rejection::Undeliverable(_))
                ),
                "{bad}"
            );
        }
        let big = r#"{"hook_event_name":"Stop","n":123456789012345678901234567890,"p":2.50}"#;
        assert!(classify(big.as_bytes(), None).is_ok());
    }
}
