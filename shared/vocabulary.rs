//! The one event vocabulary: every agent's own event name mapped to a normalized `Kind`,
//! one table per client. The agent's name is never replaced (it stays `event`); the kind
//! sits next to it. Pairing and turns are `assemble`'s job, not this file's.

/// What an event means, whichever agent sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    SessionStart,
    SessionEnd,
    PromptSubmit,
    ToolPre,
    ToolPost,
    ToolFailure,
    PermissionRequest,
    TurnStop,
    SubagentStart,
    SubagentStop,
    CompactPre,
    Notification,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::SessionStart,
        Kind::SessionEnd,
        Kind::PromptSubmit,
        Kind::ToolPre,
        Kind::ToolPost,
        Kind::ToolFailure,
        Kind::PermissionRequest,
        Kind::TurnStop,
        Kind::SubagentStart,
        Kind::SubagentStop,
        Kind::CompactPre,
        Kind::Notification,
        Kind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SessionStart => "session.start",
            Kind::SessionEnd => "session.end",
            Kind::PromptSubmit => "prompt.submit",
            Kind::ToolPre => "tool.pre",
            Kind::ToolPost => "tool.post",
            Kind::ToolFailure => "tool.failure",
            Kind::PermissionRequest => "permission.request",
            Kind::TurnStop => "turn.stop",
            Kind::SubagentStart => "subagent.start",
            Kind::SubagentStop => "subagent.stop",
            Kind::CompactPre => "compact.pre",
            Kind::Notification => "notification",
            Kind::Other => "other",
        }
    }

    /// The kind a stored `events.kind` names; `Other` for anything unknown.
    pub fn parse(text: &str) -> Kind {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .unwrap_or(Kind::Other)
    }

    /// `tool.post` or `tool.failure`: the event that ends a tool call.
    pub fn ends_tool(self) -> bool {
        matches!(self, Kind::ToolPost | Kind::ToolFailure)
    }
}

/// A kind goes out as its name (`"tool.pre"`), in every encoding.
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One client's table: the agent's event name, exactly as it spells it, and its kind.
pub type Table = &'static [(&'static str, Kind)];

/// Every client's table, by the client name `events.client` stores. A new client is one
/// more table and one more line here; no other client's table changes.
const TABLES: &[(&str, Table)] = &[
    ("claude-code", CLAUDE_CODE),
    ("codex", CODEX),
    ("gemini", GEMINI),
    ("cursor", CURSOR),
    ("windsurf", WINDSURF),
    ("copilot", COPILOT),
    ("vscode", VSCODE),
    ("droid", DROID),
    ("qwen-code", QWEN_CODE),
    ("auggie", AUGGIE),
    ("cline", CLINE),
    ("opencode", OPENCODE),
    ("kimi", KIMI),
    ("kiro", KIRO),
    ("vibe", VIBE),
    ("crush", CRUSH),
];

/// The normalized kind of `event` as `client` sent it. An unknown client or event is
/// `Other`: agents add events over time and difflore keeps them all.
pub fn kind_of(client: &str, event: &str) -> Kind {
    table(client)
        .and_then(|t| t.iter().find(|(name, _)| *name == event))
        .map_or(Kind::Other, |(_, kind)| *kind)
}

/// The table of `client`, if difflore has one.
pub fn table(client: &str) -> Option<Table> {
    TABLES
        .iter()
        .find(|(name, _)| *name == client)
        .map(|(_, t)| *t)
}

/// Every client that has a table, and its table (the README's vocabulary table).
pub fn tables() -> impl Iterator<Item = (&'static str, Table)> {
    TABLES.iter().copied()
}

/// Copilot CLI under its PascalCase registrations; `permissionRequest` arrives camelCase.
const COPILOT: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PostToolUseFailure", Kind::ToolFailure),
    ("PermissionRequest", Kind::PermissionRequest),
    ("permissionRequest", Kind::PermissionRequest),
    ("Stop", Kind::TurnStop),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    ("Notification", Kind::Notification),
];

const VSCODE: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PreCompact", Kind::CompactPre),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("Stop", Kind::TurnStop),
];

const DROID: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("Notification", Kind::Notification),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    ("Stop", Kind::TurnStop),
];

const QWEN_CODE: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PostToolUseFailure", Kind::ToolFailure),
    ("PermissionRequest", Kind::PermissionRequest),
    ("Notification", Kind::Notification),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    ("Stop", Kind::TurnStop),
    ("StopFailure", Kind::TurnStop),
];

const AUGGIE: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("PromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("Stop", Kind::TurnStop),
];

/// Cline's `hookName`s: the CLI's own (`agent_start`, …), and the VS Code extension's, which
/// are its script names (`TaskStart`, …). A run or task that ends, fails or is cancelled
/// ends the turn.
const CLINE: Table = &[
    ("agent_start", Kind::SessionStart),
    ("agent_resume", Kind::SessionStart),
    ("prompt_submit", Kind::PromptSubmit),
    ("tool_call", Kind::ToolPre),
    ("tool_result", Kind::ToolPost),
    ("agent_end", Kind::TurnStop),
    ("agent_error", Kind::TurnStop),
    ("agent_abort", Kind::TurnStop),
    ("session_shutdown", Kind::SessionEnd),
    ("TaskStart", Kind::SessionStart),
    ("TaskResume", Kind::SessionStart),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("TaskComplete", Kind::TurnStop),
    ("TaskError", Kind::TurnStop),
    ("TaskCancel", Kind::TurnStop),
    ("SessionShutdown", Kind::SessionEnd),
    ("PreCompact", Kind::CompactPre),
    ("Notification", Kind::Notification),
];

/// OpenCode's plugin events and hooks, as difflore's plugin hands them on.
const OPENCODE: Table = &[
    ("session.created", Kind::SessionStart),
    ("session.deleted", Kind::SessionEnd),
    ("chat.message", Kind::PromptSubmit),
    ("tool.execute.before", Kind::ToolPre),
    ("tool.execute.after", Kind::ToolPost),
    ("permission.asked", Kind::PermissionRequest),
    ("session.idle", Kind::TurnStop),
    ("session.compacted", Kind::CompactPre),
];

/// Kimi Code CLI (and the older Kimi CLI, whose 13 events are a subset). `Stop` does not
/// fire when the user interrupts a turn; `Interrupt` does, so it ends the turn too.
const KIMI: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PostToolUseFailure", Kind::ToolFailure),
    ("PermissionRequest", Kind::PermissionRequest),
    ("Stop", Kind::TurnStop),
    ("StopFailure", Kind::TurnStop),
    ("Interrupt", Kind::TurnStop),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    ("Notification", Kind::Notification),
];

/// Kiro CLI's agent hooks: `agentSpawn` fires once the agent starts, which is the session.
const KIRO: Table = &[
    ("agentSpawn", Kind::SessionStart),
    ("userPromptSubmit", Kind::PromptSubmit),
    ("preToolUse", Kind::ToolPre),
    ("postToolUse", Kind::ToolPost),
    ("stop", Kind::TurnStop),
];

/// Mistral Vibe's experimental hooks, under both spellings of their names.
const VIBE: Table = &[
    ("before_tool", Kind::ToolPre),
    ("after_tool", Kind::ToolPost),
    ("post_agent_turn", Kind::TurnStop),
    ("pre_tool", Kind::ToolPre),
    ("post_tool", Kind::ToolPost),
    ("post_agent", Kind::TurnStop),
];

/// Charm Crush: the one event its hook reference documents.
const CRUSH: Table = &[("PreToolUse", Kind::ToolPre)];

const CLAUDE_CODE: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PostToolUseFailure", Kind::ToolFailure),
    ("PermissionRequest", Kind::PermissionRequest),
    ("Stop", Kind::TurnStop),
    // The turn ended on an API error: still the end of the turn.
    ("StopFailure", Kind::TurnStop),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    ("Notification", Kind::Notification),
];

const CODEX: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    ("UserPromptSubmit", Kind::PromptSubmit),
    ("PreToolUse", Kind::ToolPre),
    ("PostToolUse", Kind::ToolPost),
    ("PermissionRequest", Kind::PermissionRequest),
    ("Stop", Kind::TurnStop),
    ("SubagentStart", Kind::SubagentStart),
    ("SubagentStop", Kind::SubagentStop),
    ("PreCompact", Kind::CompactPre),
    // The legacy `notify` program's one event.
    ("agent-turn-complete", Kind::TurnStop),
];

const GEMINI: Table = &[
    ("SessionStart", Kind::SessionStart),
    ("SessionEnd", Kind::SessionEnd),
    // BeforeAgent fires once the user's prompt is submitted, AfterAgent when the turn ends.
    ("BeforeAgent", Kind::PromptSubmit),
    ("AfterAgent", Kind::TurnStop),
    ("BeforeTool", Kind::ToolPre),
    ("AfterTool", Kind::ToolPost),
    ("Notification", Kind::Notification),
    ("PreCompress", Kind::CompactPre),
];

const CURSOR: Table = &[
    ("sessionStart", Kind::SessionStart),
    ("sessionEnd", Kind::SessionEnd),
    ("beforeSubmitPrompt", Kind::PromptSubmit),
    ("preToolUse", Kind::ToolPre),
    ("postToolUse", Kind::ToolPost),
    ("postToolUseFailure", Kind::ToolFailure),
    ("beforeShellExecution", Kind::ToolPre),
    ("afterShellExecution", Kind::ToolPost),
    ("beforeMCPExecution", Kind::ToolPre),
    ("afterMCPExecution", Kind::ToolPost),
    // beforeReadFile and afterFileEdit each see one side of a call only (no after-read,
    // no before-edit): as tool.pre/tool.post they would never pair. They stay `other`;
    // the generic preToolUse/postToolUse pair covers reads and edits.
    ("stop", Kind::TurnStop),
    ("subagentStart", Kind::SubagentStart),
    ("subagentStop", Kind::SubagentStop),
    ("preCompact", Kind::CompactPre),
];

const WINDSURF: Table = &[
    ("pre_user_prompt", Kind::PromptSubmit),
    ("post_cascade_response", Kind::TurnStop),
    ("pre_read_code", Kind::ToolPre),
    ("post_read_code", Kind::ToolPost),
    ("pre_write_code", Kind::ToolPre),
    ("post_write_code", Kind::ToolPost),
    ("pre_run_command", Kind::ToolPre),
    ("post_run_command", Kind::ToolPost),
    ("pre_mcp_tool_use", Kind::ToolPre),
    ("post_mcp_tool_use", Kind::ToolPost),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agents_pre_tool_event_is_tool_pre() {
        for (client, event) in [
            ("claude-code", "PreToolUse"),
            ("codex", "PreToolUse"),
            ("gemini", "BeforeTool"),
            ("cursor", "beforeShellExecution"),
            ("cursor", "beforeMCPExecution"),
            ("cursor", "preToolUse"),
            ("windsurf", "pre_run_command"),
            ("windsurf", "pre_mcp_tool_use"),
            ("windsurf", "pre_write_code"),
        ] {
            assert_eq!(kind_of(client, event), Kind::ToolPre, "{client} {event}");
        }
    }

    #[test]
    fn codex_notify_ends_a_turn() {
        assert_eq!(kind_of("codex", "agent-turn-complete"), Kind::TurnStop);
    }

    #[test]
    fn unknown_clients_and_events_are_other() {
        assert_eq!(kind_of("claude-code", "MessageDisplay"), Kind::Other);
        assert_eq!(kind_of("someone-new", "PreToolUse"), Kind::Other);
        // Names are exact: Cursor's camelCase is not Claude Code's PascalCase.
        assert_eq!(kind_of("cursor", "PreToolUse"), Kind::Other);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), kind);
        }
        assert_eq!(Kind::parse("nonsense"), Kind::Other);
    }

    #[test]
    fn no_table_names_an_event_twice() {
        for (client, table) in tables() {
            for (i, (name, _)) in table.iter().enumerate() {
                assert!(
                    !table[..i].iter().any(|(n, _)| n == name),
                    "{client} maps {name} twice"
                );
            }
        }
    }
}
