//! `difflore-hook`: read one event, insert it into the outbox, and nothing else.
//! Its time is the agent's time: no async runtime, no HTTP client, no config file. Every
//! failure ends in "exit 0, one stderr line, the event kept" (in the outbox or a spill file),
//! except a data home owned by another user: nothing is written there, not even a spill.

mod answer;
mod args;
mod input;

use std::time::Duration;

use crate::shared::event::{Fields, Rejection, classify};
use crate::shared::paths::{Paths, PathsError};
use crate::shared::pidfile;
use crate::shared::spill::{self, SpillRecord};
use crate::shared::store::{OpenOptions, Outbox};
use crate::shared::{error_chain, now_ms, sys};

pub use answer::carry_on;
pub use args::{HookArgs, Salvaged, salvage};
pub use input::{DEFAULT_MAX_EVENT_BYTES, DEFAULT_TIMEOUT, MAX_EVENT_BYTES_CEILING};

/// Spill files a successful hook imports on its way out (the daemon imports the rest).
const IMPORT_PER_HOOK: usize = 4;
/// A spill file claimed this long ago by a hook that did not finish importing it is
/// imported by the next hook, so nothing waits for a daemon that may never run.
const ABANDONED_CLAIM: Duration = Duration::from_secs(60);
/// How long past its outbox patience a hook may live at all (see
/// `sys::finish_despite_termination_requests`): time for a spill file, and for an agent
/// that is slow to close stdin.
const RUN_DEADLINE_SLACK: Duration = Duration::from_secs(30);
/// With no daemon running, a WAL longer than this is checkpointed by the hook that finds it
/// so (see `Outbox::checkpoint_long_wal`): 64 pages, about 15 events. Short, because each
/// hook that opens the outbox alone reads the whole WAL again to rebuild its index: at
/// 1 MiB that cost every hook more (p50 1.19 ms, mean 1.28 ms in one interleaved series)
/// than the more frequent and smaller checkpoints cost here (p50 1.03 ms, mean 1.19 ms).
const WAL_LIMIT_BYTES: u64 = 256 << 10;

/// What happened to the input. Only `Stored` and `Disabled` are silent.
#[derive(Debug)]
pub enum HookOutcome {
    Stored,
    /// Stored as given, with something to say about the command line (an unknown flag).
    Noted(String),
    /// Stored as an event, but not exactly as given (an argument that was not UTF-8).
    Altered(String),
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
    /// Not stored as given: what `--strict` turns into exit 1.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            HookOutcome::Stored | HookOutcome::Noted(_) | HookOutcome::Disabled
        )
    }

    /// The one stderr line, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            HookOutcome::Stored | HookOutcome::Disabled => None,
            HookOutcome::Noted(m)
            | HookOutcome::Altered(m)
            | HookOutcome::Rejected(m)
            | HookOutcome::Spilled(m)
            | HookOutcome::Lost(m) => Some(m.clone()),
        }
    }

    /// The same outcome with its message led by `lead`; `altered` when the lead says the
    /// input was changed on its way in (so a stored event is no longer "as given").
    fn led_by(self, lead: &str, altered: bool) -> HookOutcome {
        let join = |m: String| format!("{lead}; {m}");
        match self {
            HookOutcome::Stored if altered => HookOutcome::Altered(format!("{lead}; event stored")),
            HookOutcome::Stored => HookOutcome::Noted(format!("{lead}; event stored")),
            HookOutcome::Noted(m) if altered => HookOutcome::Altered(join(m)),
            HookOutcome::Noted(m) => HookOutcome::Noted(join(m)),
            HookOutcome::Disabled => HookOutcome::Disabled,
            HookOutcome::Altered(m) => HookOutcome::Altered(join(m)),
            HookOutcome::Rejected(m) => HookOutcome::Rejected(join(m)),
            HookOutcome::Spilled(m) => HookOutcome::Spilled(join(m)),
            HookOutcome::Lost(m) => HookOutcome::Lost(join(m)),
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

/// The hook's whole run, once per process: it leaves the outbox open for the process's exit
/// to close (`leave_to_exit`).
pub fn run(args: &HookArgs) -> HookOutcome {
    if capture_disabled() {
        return HookOutcome::Disabled;
    }
    // From here the event is read and must be kept: an agent's "stop" waits for that.
    sys::finish_despite_termination_requests(input::timeout() + RUN_DEADLINE_SLACK);
    let received_ms = now_ms();
    let (client, client_note) = args::client_name(args.client.as_deref());
    let client = client.as_deref();
    let cap = input::max_event_bytes();
    let (raw, size, verdict, arg_note) = match &args.event_arg {
        Some(arg) => {
            let (raw, note) = args::event_text(arg);
            let size = raw.len();
            let verdict = judge(&raw, size, cap, client);
            (raw, size, verdict, note)
        }
        None => match input::read_stdin(cap) {
            Ok((raw, size)) => {
                let verdict = judge(&raw, size, cap, client);
                (raw, size, verdict, None)
            }
            Err(e) => (
                Vec::new(),
                0,
                Err(Rejection::Unreadable(e.to_string())),
                None,
            ),
        },
    };
    let mut outcome = store(received_ms, client, &raw, size, verdict);
    for note in [arg_note, client_note].into_iter().flatten() {
        outcome = outcome.led_by(&note, true);
    }
    match &args.notice {
        Some(notice) => outcome.led_by(notice, false),
        None => outcome,
    }
}

fn judge(raw: &[u8], size: usize, cap: usize, client: Option<&str>) -> Result<Fields, Rejection> {
    if size > cap {
        return Err(Rejection::TooLarge { cap });
    }
    let mut fields = classify(raw, client)?;
    if fields.session_id.is_none() && fields.client == "kiro" {
        // Kiro CLI exports its session id to its hooks instead of sending it.
        fields.session_id = std::env::var("KIRO_SESSION_ID")
            .ok()
            .filter(|s| !s.trim().is_empty() && s.len() <= 256);
    }
    Ok(fields)
}

/// Into the outbox, else a spill file: as an event, or as a rejected row with its reason.
fn store(
    received_ms: i64,
    client: Option<&str>,
    raw: &[u8],
    size: usize,
    verdict: Result<Fields, Rejection>,
) -> HookOutcome {
    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => return HookOutcome::Lost(format!("event lost: {}", error_chain(&e))),
    };
    sys::private_umask();
    let home = paths.ensure_private_home();
    if let Err(e @ PathsError::ForeignOwner { .. }) = &home {
        // Neither the outbox nor a spill file: both would live in someone else's directory.
        return HookOutcome::Lost(format!("event not stored: {}", error_chain(e)));
    }
    let outbox = home.map_err(|e| error_chain(&e)).and_then(|()| {
        Outbox::open(&paths, OpenOptions::hook(input::timeout())).map_err(|e| error_chain(&e))
    });
    if let Ok(db) = &outbox {
        // Before the insert: that insert then starts the WAL over (see checkpoint_long_wal).
        // Best effort, and it never waits. A running daemon checkpoints between its own
        // writes: a hook doing it too would pay a copy and two fsyncs on the agent's clock
        // through every long drain.
        let _ = db.checkpoint_long_wal(WAL_LIMIT_BYTES, || !pidfile::daemon_running(&paths));
    }

    match verdict {
        Ok(fields) => {
            // The payload is valid UTF-8: classify checked it.
            let payload = String::from_utf8_lossy(raw);
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
                    leave_to_exit(db);
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
                let id = db
                    .insert_rejected(received_ms, client, &reason, raw, size)
                    .map_err(|e| error_chain(&e));
                leave_to_exit(db);
                id
            });
            let place = match kept {
                Ok(id) => format!("recorded as rejected row {id}"),
                Err(cause) => {
                    let record =
                        SpillRecord::rejected(received_ms, client, reason.clone(), raw, size);
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

/// The outbox is not closed: the process ends next, and its exit does all a close would.
/// The hook's close never checkpoints (`skip_checkpoint_on_close`), so closing only frees
/// the parsed schema and statements and drops file locks, and the exit drops the locks too
/// (SQLite is built to survive a process ending at any point, and here every transaction
/// is over). About a twentieth of the hook's own time, on the agent's clock.
fn leave_to_exit(db: Outbox) {
    std::mem::forget(db);
}
