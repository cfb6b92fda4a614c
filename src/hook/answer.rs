//! What an agent must read on the hook's stdout to carry on, for the agents that read one:
//! exactly the agent's own "nothing to say, go ahead", never anything of difflore's. Every
//! other agent gets silence (see AGENT_HOOKS: stdout feeds the model for some of them).

use std::ffi::OsStr;

/// Cline reads a JSON answer from every hook script; `cancel: false` lets the task and the
/// tool call go on, and adds no context to the conversation.
const CLINE: &str = "{\"cancel\":false}\n";

/// The answer for the agent `--client` names, if it reads one.
pub fn carry_on(client: Option<&OsStr>) -> Option<&'static str> {
    match client?.to_str()? {
        "cline" => Some(CLINE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cline_is_answered_and_with_its_own_words() {
        let answer = carry_on(Some(OsStr::new("cline"))).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(answer).unwrap();
        assert_eq!(parsed, serde_json::json!({ "cancel": false }));
        for other in ["claude-code", "codex", "gemini", "Cline", ""] {
            assert_eq!(carry_on(Some(OsStr::new(other))), None, "{other}");
        }
        assert_eq!(carry_on(None), None);
    }
}
