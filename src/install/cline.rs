//! Cline: one executable script per event, named exactly after it (`PreToolUse`, no
//! extension), in `~/Documents/Cline/Hooks/` (user) or `<project>/.clinerules/hooks/`.
//! Cline pipes the event to the script's stdin and reads a JSON answer from its stdout
//! (`difflore-hook --client cline` prints `{"cancel":false}`). The extension runs a script
//! only while it is executable; its Hooks tab toggles that bit.

use std::path::PathBuf;

use super::owned::{MARKER, Wanted};
use super::{Locations, Scope, shell_quote};

/// The script names Cline looks for. `Notification` is the VS Code extension's; `TaskError`
/// and `SessionShutdown` the CLI's; Cline ignores a name it does not know.
pub const EVENTS: &[&str] = &[
    "TaskStart",
    "TaskResume",
    "TaskCancel",
    "TaskComplete",
    "TaskError",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PreCompact",
    "Notification",
    "SessionShutdown",
];

/// rwxr-xr-x: the bit Cline's toggle reads, and no one else may write it.
const MODE: u32 = 0o755;

pub(super) fn dir(scope: Scope, locations: &Locations) -> PathBuf {
    match scope {
        Scope::User => locations.home.join("Documents/Cline/Hooks"),
        Scope::Project => locations.project.join(".clinerules/hooks"),
    }
}

/// The script for every event: `exec` hands stdin, stdout and the exit status straight
/// through, so the answer Cline reads is the hook's.
pub(super) fn scripts(scope: Scope, locations: &Locations, program: &str) -> Vec<Wanted> {
    let dir = dir(scope, locations);
    let text = script(program);
    EVENTS
        .iter()
        .map(|event| Wanted {
            event,
            path: dir.join(event),
            text: text.clone(),
            mode: MODE,
        })
        .collect()
}

pub(super) fn script(program: &str) -> String {
    format!(
        "#!/bin/sh\n# {MARKER}; `difflorectl hooks uninstall --client cline` removes it.\n\
         exec {} --client cline\n",
        shell_quote(program)
    )
}

/// The program an installed script runs, as written after `exec`.
pub(super) fn program_of(text: &str) -> Option<String> {
    let rest = text.lines().find_map(|l| l.strip_prefix("exec "))?;
    let word = rest.strip_suffix(" --client cline").unwrap_or(rest);
    Some(
        match word.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) {
            Some(quoted) => quoted.replace(r"'\''", "'"),
            None => word.to_owned(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_read_back_as_written() {
        for program in [
            "difflore-hook",
            "/opt/my tools/difflore-hook",
            "/o'k/difflore-hook",
        ] {
            assert_eq!(program_of(&script(program)).as_deref(), Some(program));
        }
    }
}
