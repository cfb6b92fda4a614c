//! An agent's `hooks` object: recognising difflore's entries by their `difflore-hook`
//! command, and adding or removing them while every other key, group and handler stays
//! where it was. Works on parsed JSON only; never touches the disk.

use serde_json::{Map, Value};

use super::agent::{AgentSpec, Layout};

/// The program name that marks an entry as difflore's, wherever it is installed.
pub const PROGRAM: &str = "difflore-hook";

/// A part of the file that is not the shape the agent documents; we refuse to guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ShapeError {
    /// A JSON pointer to the offending value, e.g. `/hooks/PreToolUse`.
    pub pointer: String,
    pub expected: &'static str,
}

/// Put difflore's entry under every event of `spec`, replacing any earlier difflore entry in
/// place (so a second install changes nothing) and dropping difflore entries under events
/// the spec no longer lists.
pub(super) fn install(
    root: &mut Map<String, Value>,
    spec: &AgentSpec,
    command: &str,
) -> Result<(), ShapeError> {
    (spec.fill_root)(root);
    let (hooks, at) = if spec.bare {
        (root, "")
    } else {
        let hooks = root
            .entry("hooks")
            .or_insert_with(|| Value::Object(Map::new()));
        (as_object(hooks, "/hooks")?, "/hooks")
    };
    let mut positions = Vec::new();
    for (event, list) in hooks.iter_mut() {
        if let Value::Array(list) = list {
            let removal = remove_ours(list, spec.layout);
            if removal.removed > 0 {
                positions.push((event.clone(), removal.first));
            }
        }
    }
    for event in spec.events {
        let list = hooks
            .entry(*event)
            .or_insert_with(|| Value::Array(Vec::new()));
        let list = as_array(list, &format!("{at}/{event}"))?;
        let entry = (spec.entry)(event, command);
        let at = positions
            .iter()
            .find(|(name, _)| name == event)
            .and_then(|(_, first)| *first);
        match at {
            Some(index) if index <= list.len() => list.insert(index, entry),
            _ => list.push(entry),
        }
    }
    let stale = positions
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !spec.events.contains(&name.as_str()));
    for name in stale {
        drop_if_empty(hooks, &name);
    }
    Ok(())
}

/// Remove every difflore entry, and the groups, event lists and `hooks` object that held
/// nothing else. Returns how many entries were removed.
pub(super) fn uninstall(
    root: &mut Map<String, Value>,
    spec: &AgentSpec,
) -> Result<usize, ShapeError> {
    let layout = spec.layout;
    let hooks = if spec.bare {
        &mut *root
    } else {
        let Some(hooks) = root.get_mut("hooks") else {
            return Ok(0);
        };
        as_object(hooks, "/hooks")?
    };
    let mut emptied = Vec::new();
    let mut removed = 0;
    for (event, list) in hooks.iter_mut() {
        if let Value::Array(list) = list {
            let removal = remove_ours(list, layout);
            removed += removal.removed;
            if removal.removed > 0 && list.is_empty() {
                emptied.push(event.clone());
            }
        }
    }
    for event in emptied {
        hooks.shift_remove(&event);
    }
    if removed > 0 && hooks.is_empty() && !spec.bare {
        root.shift_remove("hooks");
    }
    Ok(removed)
}

/// Is this handler (an object with a `command`, or Copilot CLI's `bash`) one of difflore's?
pub(super) fn is_ours(handler: &Value) -> bool {
    ["command", "bash"].iter().any(|key| {
        handler
            .get(*key)
            .and_then(Value::as_str)
            .and_then(program_of)
            .is_some_and(|program| program.rsplit('/').next() == Some(PROGRAM))
    })
}

/// The program a shell command line runs: the first word after any `NAME=value`
/// assignments, with simple quotes removed.
fn program_of(command: &str) -> Option<&str> {
    let mut rest = command.trim_start();
    loop {
        let (word, after) = first_word(rest)?;
        let assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                && !name.starts_with(|c: char| c.is_ascii_digit())
        });
        if !assignment {
            return Some(word);
        }
        rest = after.trim_start();
    }
}

fn first_word(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"');
    match quote {
        Some(q) => {
            let end = text[1..].find(q)? + 1;
            Some((&text[1..end], &text[end + 1..]))
        }
        None if text.is_empty() => None,
        None => {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            Some((&text[..end], &text[end..]))
        }
    }
}

struct Removal {
    removed: usize,
    /// Where difflore's first entry was, so a reinstall puts the new one back there.
    first: Option<usize>,
}

fn remove_ours(list: &mut Vec<Value>, layout: Layout) -> Removal {
    let mut removal = Removal {
        removed: 0,
        first: None,
    };
    let mut kept = Vec::with_capacity(list.len());
    for item in list.drain(..) {
        match layout {
            Layout::Flat if is_ours(&item) => {
                removal.removed += 1;
                removal.first.get_or_insert(kept.len());
                continue;
            }
            Layout::Flat => {}
            Layout::Grouped => {
                let mut item = item;
                let handlers = item.get_mut("hooks").and_then(Value::as_array_mut);
                if let Some(handlers) = handlers {
                    let before = handlers.len();
                    handlers.retain(|h| !is_ours(h));
                    let removed = before - handlers.len();
                    if removed > 0 {
                        removal.removed += removed;
                        let emptied = handlers.is_empty();
                        // A group that held only difflore's handler goes; one shared with
                        // the user's handlers stays, and ours comes back right after it.
                        let slot = if emptied { kept.len() } else { kept.len() + 1 };
                        removal.first.get_or_insert(slot);
                        if emptied {
                            continue;
                        }
                    }
                }
                kept.push(item);
                continue;
            }
        }
        kept.push(item);
    }
    *list = kept;
    removal
}

fn drop_if_empty(hooks: &mut Map<String, Value>, event: &str) {
    if hooks
        .get(event)
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        hooks.shift_remove(event);
    }
}

fn as_object<'a>(
    value: &'a mut Value,
    pointer: &str,
) -> Result<&'a mut Map<String, Value>, ShapeError> {
    value.as_object_mut().ok_or_else(|| ShapeError {
        pointer: pointer.to_string(),
        expected: "an object",
    })
}

fn as_array<'a>(value: &'a mut Value, pointer: &str) -> Result<&'a mut Vec<Value>, ShapeError> {
    value.as_array_mut().ok_or_else(|| ShapeError {
        pointer: pointer.to_string(),
        expected: "an array",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_difflore_hook_however_it_is_spelled() {
        for command in [
            "difflore-hook --client codex",
            "/home/u/.local/bin/difflore-hook --client codex",
            "'/opt/my tools/difflore-hook' --client codex",
            "DIFFLORE_HOME=/tmp/x difflore-hook",
            "  difflore-hook",
        ] {
            assert!(is_ours(&json!({ "command": command })), "{command}");
        }
        for command in [
            "difflore-hook-wrapper --client codex",
            "echo difflore-hook",
            "",
            "'unterminated difflore-hook",
        ] {
            assert!(!is_ours(&json!({ "command": command })), "{command}");
        }
        assert!(!is_ours(&json!({ "prompt": "difflore-hook" })));
    }
}
