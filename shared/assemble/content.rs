//! Tool call content, sent only with `otlp_content = true`: the arguments a tool was called
//! with and the result it gave, found where each agent's payload puts them. Raw captured
//! JSON text, local only: what goes out is redacted and cut in the daemon's `prepare`.

use serde_json::Value;

/// Where the arguments are, first found wins: Claude Code, Codex, Gemini, Cursor MCP,
/// Copilot, Auggie (`tool_input`), Cline (`tool_call.input`), Windsurf (`tool_info`),
/// OpenCode (`output.args` before the call, `input.args` after), Cursor's shell (`command`).
const ARGUMENTS: [&[&str]; 8] = [
    &["tool_input"],
    &["tool_call", "input"],
    &["tool_result", "input"],
    &["tool_info", "mcp_tool_arguments"],
    &["tool_info"],
    &["output", "args"],
    &["input", "args"],
    &["command"],
];

/// Where the result is: the tool's response or output, else its error.
const RESULT: [&[&str]; 10] = [
    &["tool_response"],
    &["tool_result", "output"],
    &["tool_result"],
    &["tool_output"],
    &["result_json"],
    &["tool_info", "mcp_result"],
    &["output", "output"],
    &["output"],
    &["tool_error"],
    &["error"],
];

/// What one payload says a tool call was given and gave back, as JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    pub arguments: Option<String>,
    pub result: Option<String>,
}

fn find(v: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| {
        let found = path.iter().try_fold(v, |at, key| at.get(key))?;
        (!found.is_null()).then(|| found.to_string())
    })
}

impl Content {
    /// The content of a payload; none when it is not a JSON object.
    pub fn read(payload: &[u8]) -> Content {
        match serde_json::from_slice::<Value>(payload) {
            Ok(v) if v.is_object() => Content {
                arguments: find(&v, &ARGUMENTS),
                result: find(&v, &RESULT),
            },
            _ => Content::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agents_arguments_and_result_are_found() {
        let c = Content::read(
            br#"{"tool_input":{"command":"ls"},"tool_response":{"stdout":"a\n"},"error":null}"#,
        );
        assert_eq!(c.arguments.as_deref(), Some(r#"{"command":"ls"}"#));
        assert_eq!(c.result.as_deref(), Some(r#"{"stdout":"a\n"}"#));
        let cursor = Content::read(br#"{"command":"npm test","output":"12 passing\n"}"#);
        assert_eq!(cursor.arguments.as_deref(), Some(r#""npm test""#));
        assert_eq!(cursor.result.as_deref(), Some(r#""12 passing\n""#));
        let opencode = Content::read(
            br#"{"input":{"callID":"c","args":{"command":"echo"}},"output":{"output":"hi"}}"#,
        );
        assert_eq!(opencode.arguments.as_deref(), Some(r#"{"command":"echo"}"#));
        assert_eq!(opencode.result.as_deref(), Some(r#""hi""#));
        let failed = Content::read(br#"{"tool_input":{},"error":"not found"}"#);
        assert_eq!(failed.result.as_deref(), Some(r#""not found""#));
        assert_eq!(Content::read(b"[1]"), Content::default());
    }
}
