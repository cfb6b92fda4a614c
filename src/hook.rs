//! `difflore-hook`: read one event, insert it into the outbox, and nothing else.
//! Its time is the agent's time: no async runtime, no HTTP client, no config file. Every
//! failure ends in "exit 0, one stderr line, the event kept" (in the outbox or a spill file),
//! except a data home owned by another user: nothing is written there, not even a spill.

use std::io::{self, IsTerminal, Read};
use std::time::Duration;

use crate::shared::event::{Rejection, classify};
use crate::shared::paths::{Paths, PathsError};
use crate::shared::spill::{self, SpillRecord};
use crate::shared::store::{OpenOptions, Outbox};
use crate::shared::{error_chain, now_ms, sys};

/// Default cap on one event; `DIFFLORE_MAX_EVENT_BYTES` changes it.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
/// How long the hook waits for a locked outbox before spilling; `DIFFLORE_HOOK_TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// Spill files a successful hook imports on its way out (the daemon imports the rest).
const IMPORT_PER_HOOK: usize = 4;
/// A spill file claimed this long ago by a hook that did not finish importing it is
/// imported by the next hook, so nothing waits for a daemon that may never run.
const ABANDONED_CLAIM: Duration = Duration::from_secs(60);
/// A WAL longer than this is checkpointed by the hook that finds it so (see
/// `Outbox::checkpoint_long_wal`): about 250 pages, under SQLite's 1000-page auto-checkpoint.
const WAL_LIMIT_BYTES: u64 = 1 << 20;

#[derive(Debug, Default, Clone)]
pub struct HookArgs {
    /// `--client NAME`: overrides detection.
    pub client: Option<String>,
    /// The event as a final argument (Codex `notify`), instead of stdin.
    pub event_arg: Option<String>,
}

/// What a command line that did not parse still says clearly: `--client NAME` (or
/// `--client=NAME`), `--strict`, and a final argument that is a JSON object (Codex `notify`
/// puts the event there). Everything else is ignored.
pub fn salvage(args: impl IntoIterator<Item = String>) -> Salvaged {
    let args: Vec<String> = args.into_iter().collect();
    let mut out = Salvaged::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if let Some(name) = arg.strip_prefix("--client=") {
            out.client = Some(name.to_owned());
        } else if arg == "--client" && i + 1 < args.len() {
            out.client = Some(args[i + 1].clone());
            i += 1;
        } else if arg == "--strict" {
            out.strict = true;
        }
        i += 1;
    }
    out.event_arg = args
        .last()
        .filter(|a| a.trim_start().starts_with('{'))
        .cloned();
    out
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Salvaged {
    pub client: Option<String>,
    pub strict: bool,
    pub event_arg: Option<String>,
}

/// What happened to the input. Only `Stored` and `Disabled` are silent.
#[derive(Debug)]
pub enum HookOutcome {
    Stored,
    /// The capture kill switch is on.
    Disabled,
    /// Not an event; recorded as a `rejected` row (or spilled when the outbox was down too).
    Rejected(String),
    /// The outbox could not take it; it waits in a spill file.
    Spilled(String),
    /// Neither the outbox nor a spill file could take it.
    Lost(String),
}

impl HookOutcome {
    pub fn is_failure(&self) -> bool {
        !matches!(self, HookOutcome::Stored | HookOutcome::Disabled)
    }

    /// The one stderr line, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            HookOutcome::Stored | HookOutcome::Disabled => None,
            HookOutcome::Rejected(m) | HookOutcome::Spilled(m) | HookOutcome::Lost(m) => {
                Some(m.clone())
            }
        }
    }
}

/// `DIFFLORE_CAPTURE=off|false|0|no` (any case) turns capture off.
pub fn capture_disabled() -> bool {
    std::env::var("DIFFLORE_CAPTURE").is_ok_and(|v| {
        ["off", "false", "0", "no"]
            .iter()
            .any(|o| v.trim().eq_ignore_ascii_case(o))
    })
}

pub fn run(args: &HookArgs) -> HookOutcome {
    if capture_disabled() {
        return HookOutcome::Disabled;
    }
    let received_ms = now_ms();
    let cap = env_number("DIFFLORE_MAX_EVENT_BYTES").unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    let client = args.client.as_deref();
    let (raw, size, verdict) = match read_input(args.event_arg.as_deref(), cap) {
        Ok((raw, size)) if size > cap => (raw, size, Err(Rejection::TooLarge { cap })),
        Ok((raw, size)) => {
            let verdict = classify(&raw, client);
            (raw, size, verdict)
        }
        Err(e) => (Vec::new(), 0, Err(Rejection::Unreadable(e.to_string()))),
    };

    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => return HookOutcome::Lost(format!("event lost: {}", error_chain(&e))),
    };
    sys::private_umask();
    let timeout = env_number("DIFFLORE_HOOK_TIMEOUT_MS")
        .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms as u64));
    let home = paths.ensure_private_home();
    if let Err(e @ PathsError::ForeignOwner { .. }) = &home {
        // Neither the outbox nor a spill file: both would live in someone else's directory.
        return HookOutcome::Lost(format!("event not stored: {}", error_chain(e)));
    }
    let outbox = home.map_err(|e| error_chain(&e)).and_then(|()| {
        Outbox::open(&paths, OpenOptions::hook(timeout)).map_err(|e| error_chain(&e))
    });
    if let Ok(db) = &outbox {
        // Before the insert: that insert then starts the WAL over (see checkpoint_long_wal).
        // Best effort, and it never waits.
        let _ = db.checkpoint_long_wal(WAL_LIMIT_BYTES);
    }

    match verdict {
        Ok(fields) => {
            // The payload is valid UTF-8: classify checked it.
            let payload = String::from_utf8_lossy(&raw);
            let stored = outbox.as_ref().map_err(Clone::clone).and_then(|db| {
                db.insert(received_ms, &fields, &payload)
                    .map_err(|e| error_chain(&e))
            });
            match (stored, outbox) {
                (Ok(_), Ok(db)) => {
                    // Best effort and never waiting: spill files exist because the outbox
                    // was contended, so a busy outbox leaves them for the daemon.
                    if db.conn().busy_timeout(Duration::ZERO).is_ok() {
                        let _ = spill::import(&db, &paths, IMPORT_PER_HOOK, ABANDONED_CLAIM);
                    }
                    HookOutcome::Stored
                }
                (Err(cause), _) | (Ok(_), Err(cause)) => {
                    let record = SpillRecord::accepted(received_ms, &fields, &payload);
                    match spill::write(&paths, &record) {
                        Ok(file) => HookOutcome::Spilled(format!(
                            "outbox unavailable ({cause}); event kept in {}",
                            file.display()
                        )),
                        Err(e) => HookOutcome::Lost(format!(
                            "event lost: outbox unavailable ({cause}) and {}",
                            error_chain(&e)
                        )),
                    }
                }
            }
        }
        Err(why) => {
            let reason = why.to_string();
            let kept = outbox.and_then(|db| {
                db.insert_rejected(received_ms, client, &reason, &raw, size)
                    .map_err(|e| error_chain(&e))
            });
            let place = match kept {
                Ok(id) => format!("recorded as rejected row {id}"),
                Err(cause) => {
                    let record =
                        SpillRecord::rejected(received_ms, client, reason.clone(), &raw, size);
                    match spill::write(&paths, &record) {
                        Ok(file) => {
                            format!("outbox unavailable ({cause}); kept in {}", file.display())
                        }
                        Err(e) => format!("not recorded: {cause}; {}", error_chain(&e)),
                    }
                }
            };
            HookOutcome::Rejected(format!("rejected input ({size} bytes): {reason}; {place}"))
        }
    }
}

/// The event bytes (at most `cap + 1`, enough to know it is too large) and the total size.
fn read_input(arg: Option<&str>, cap: usize) -> io::Result<(Vec<u8>, usize)> {
    if let Some(arg) = arg {
        return Ok((arg.as_bytes().to_vec(), arg.len()));
    }
    let stdin = io::stdin();
    if stdin.is_terminal() {
        // Run by hand with nothing piped in: do not wait for typing.
        return Ok((Vec::new(), 0));
    }
    let mut lock = stdin.lock();
    let mut buf = Vec::with_capacity(8192);
    (&mut lock).take(cap as u64 + 1).read_to_end(&mut buf)?;
    let mut size = buf.len();
    if size > cap {
        // Drain to EOF so the agent's write never blocks or breaks, counting the bytes.
        size += io::copy(&mut lock, &mut io::sink())? as usize;
    }
    Ok((buf, size))
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_mistyped_command_line_keeps_the_argv_event_and_the_client() {
        let s = salvage(args(&[
            "--clent",
            "x",
            "--client",
            "codex",
            r#"{"type":"agent-turn-complete"}"#,
        ]));
        assert_eq!(s.client.as_deref(), Some("codex"));
        assert_eq!(
            s.event_arg.as_deref(),
            Some(r#"{"type":"agent-turn-complete"}"#)
        );
        let s = salvage(args(&["--client=cursor", "--strict", "--bogus"]));
        assert_eq!(
            (s.client.as_deref(), s.strict, s.event_arg),
            (Some("cursor"), true, None)
        );
    }
}
