//! The hook's command line as the operating system hands it over: bytes, not text. A raw
//! byte in `--client`, in an unknown flag or in a Codex `notify` argument must never crash
//! the hook, so nothing here assumes UTF-8; the conversions say what they changed.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

#[derive(Debug, Default, Clone)]
pub struct HookArgs {
    /// `--client NAME`: overrides detection.
    pub client: Option<OsString>,
    /// The event as a final argument (Codex `notify`), instead of stdin.
    pub event_arg: Option<OsString>,
    /// What the command line parser had to say (an unknown flag): part of the one stderr line.
    pub notice: Option<String>,
}

impl HookArgs {
    /// The parsed command line. A "positional" that starts with `-` is a flag the parser
    /// could not read as one (its name is not UTF-8): it is said and ignored, and the event
    /// is read from stdin as it would be without it.
    pub fn new(
        client: Option<OsString>,
        event_arg: Option<OsString>,
        notice: Option<String>,
    ) -> HookArgs {
        match event_arg {
            Some(arg) if arg.as_bytes().starts_with(b"-") => {
                let flag = format!("unknown flag {:?} ignored", arg.to_string_lossy());
                let notice = Some(match notice {
                    Some(n) => format!("{n}; {flag}"),
                    None => flag,
                });
                HookArgs {
                    client,
                    event_arg: None,
                    notice,
                }
            }
            event_arg => HookArgs {
                client,
                event_arg,
                notice,
            },
        }
    }
}

/// What a command line that did not parse still says clearly: `--client NAME` (or
/// `--client=NAME`), `--strict`, and a final argument that is a JSON object (Codex `notify`
/// puts the event there). Everything else is ignored. Arguments need not be UTF-8.
pub fn salvage(args: impl IntoIterator<Item = OsString>) -> Salvaged {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut out = Salvaged::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        if let Some(name) = arg.strip_prefix(b"--client=") {
            out.client = Some(OsStr::from_bytes(name).to_owned());
        } else if arg == b"--client" && i + 1 < args.len() {
            out.client = Some(args[i + 1].clone());
            i += 1;
        } else if arg == b"--strict" {
            out.strict = true;
        }
        i += 1;
    }
    out.event_arg = args
        .last()
        .filter(|a| a.as_bytes().trim_ascii_start().starts_with(b"{"))
        .cloned();
    out
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Salvaged {
    pub client: Option<OsString>,
    pub strict: bool,
    pub event_arg: Option<OsString>,
}

/// `--client` as text. A name that is not UTF-8 is kept with each invalid sequence replaced
/// by U+FFFD (a client name is a label, not data), and the change is said.
pub fn client_name(client: Option<&OsStr>) -> (Option<String>, Option<String>) {
    let Some(raw) = client else {
        return (None, None);
    };
    let (text, replaced) = lossy(raw.as_bytes());
    let note = (replaced > 0).then(|| {
        format!(
            "--client is not valid UTF-8 ({replaced} invalid byte sequences replaced by U+FFFD)"
        )
    });
    (Some(text), note)
}

/// The event argument's bytes as UTF-8 text. An argument that is not UTF-8 (a raw byte in a
/// Codex `notify` argument) has each invalid sequence replaced by U+FFFD: JSON text cannot
/// carry raw bytes, and the rest of the event is worth keeping. The note says how many.
pub fn event_text(arg: &OsStr) -> (Vec<u8>, Option<String>) {
    let bytes = arg.as_bytes();
    let (text, replaced) = lossy(bytes);
    if replaced == 0 {
        return (bytes.to_vec(), None);
    }
    let note = format!(
        "event argument is not valid UTF-8 ({replaced} invalid byte sequences replaced by U+FFFD)"
    );
    (text.into_bytes(), Some(note))
}

/// `String::from_utf8_lossy`, and how many replacements it made.
fn lossy(bytes: &[u8]) -> (String, usize) {
    let mut out = String::with_capacity(bytes.len());
    let mut replaced = 0;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            replaced += 1;
        }
    }
    (out, replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&[u8]]) -> Vec<OsString> {
        list.iter()
            .map(|s| OsStr::from_bytes(s).to_owned())
            .collect()
    }

    #[test]
    fn a_mistyped_command_line_keeps_the_argv_event_and_the_client() {
        let s = salvage(args(&[
            b"--clent",
            b"x",
            b"--client",
            b"codex",
            br#"{"type":"agent-turn-complete"}"#,
        ]));
        assert_eq!(s.client.as_deref(), Some(OsStr::new("codex")));
        assert_eq!(
            s.event_arg.as_deref(),
            Some(OsStr::new(r#"{"type":"agent-turn-complete"}"#))
        );
        let s = salvage(args(&[b"--client=cursor", b"--strict", b"--bogus"]));
        assert_eq!(
            (s.client.as_deref(), s.strict, s.event_arg),
            (Some(OsStr::new("cursor")), true, None)
        );
    }

    #[test]
    fn arguments_that_are_not_utf8_are_salvaged_as_bytes() {
        let s = salvage(args(&[
            b"--b\xffgus",
            b"--client=co\xfedex",
            b" {\"x\":\"\xff\"}",
        ]));
        assert_eq!(
            s.client.as_deref().map(OsStr::as_bytes),
            Some(&b"co\xfedex"[..])
        );
        let (text, note) = event_text(s.event_arg.as_deref().unwrap());
        assert_eq!(text, " {\"x\":\"\u{FFFD}\"}".as_bytes());
        assert!(note.unwrap().contains("1 invalid byte sequences"));
        let (name, note) = client_name(s.client.as_deref());
        assert_eq!(name.as_deref(), Some("co\u{FFFD}dex"));
        assert!(note.is_some());
        assert_eq!(
            client_name(Some(OsStr::new("codex"))),
            (Some("codex".into()), None)
        );
    }
}
