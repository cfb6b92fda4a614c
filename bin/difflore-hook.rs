//! `difflore-hook`: the command agents' hook configs run, with the event on stdin (or as a
//! final JSON argument). Stores it and exits 0; never exits 2. On stdout only the "carry
//! on" answer of an agent that needs one (Cline), and nothing for the others.
#![no_main]

use std::ffi::OsString;
use std::io::Write;

use bpaf::Bpaf;
use difflore::hook::{self, HookArgs};
use difflore::shared::sys;

/// Capture one AI coding agent hook event into the local difflore outbox.
#[derive(Debug, Clone, Bpaf)]
#[bpaf(options, version)]
struct Args {
    /// Name the agent instead of detecting it: claude-code, codex, gemini, cursor, windsurf
    #[bpaf(argument("NAME"))]
    client: Option<OsString>,
    /// Exit 1 (never 2) when the event could not be stored as given
    strict: bool,
    /// The event JSON, for agents that pass it on argv (Codex `notify`)
    #[bpaf(positional("EVENT_JSON"))]
    event: Option<OsString>,
}

/// The process's entry, called by the C runtime in place of Rust's `main`. Rust's start-up
/// (finding the main thread's stack guard by reading /proc/self/maps, an alternate signal
/// stack, SIGSEGV handlers) costs about a tenth of a `/bin/true` on every agent event, and
/// the hook needs none of it but what `sys::start_like_std` does. Returns the exit status.
#[allow(unsafe_code)] // `no_mangle`: the one symbol named `main` in the program.
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    sys::start_like_std();
    // SAFETY: these are the C runtime's own `argc` and `argv`.
    let args = unsafe { sys::main_args(argc, argv) };
    let status = run(&args);
    // Rust's start-up would have flushed stdout at exit; here that is ours to do.
    let _ = std::io::stdout().flush();
    status
}

/// The hook with `argv` (the program's name first); returns the exit status.
fn run(argv: &[OsString]) -> std::ffi::c_int {
    // Arguments are read as the OS gives them (bytes): one that is not UTF-8 must not crash.
    let given = argv.get(1..).unwrap_or_default();
    let name = argv
        .first()
        .and_then(|p| std::path::Path::new(p).file_name()?.to_str())
        .unwrap_or("difflore-hook");
    let (args, notice) = match args().run_inner(bpaf::Args::from(given).set_name(name)) {
        Ok(args) => (args, None),
        // A mistyped hook config must not lose the event: say so, and capture it anyway.
        Err(bpaf::ParseFailure::Stderr(doc)) => {
            let salvaged = hook::salvage(given.iter().cloned());
            let args = Args {
                client: salvaged.client,
                strict: salvaged.strict,
                event: salvaged.event_arg,
            };
            let doc = doc
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            (args, Some(format!("{doc}; capturing anyway")))
        }
        Err(bpaf::ParseFailure::Stdout(doc, _)) => {
            // --help / --version asked for explicitly by a person.
            let _ = write!(std::io::stdout(), "{doc}");
            return 0;
        }
        Err(bpaf::ParseFailure::Completion(s)) => {
            let _ = write!(std::io::stdout(), "{s}");
            return 0;
        }
    };
    if let Some(answer) = hook::carry_on(args.client.as_deref()) {
        // First, so the agent has its answer however long the outbox takes, or if the hook
        // is cut short. An agent that stopped reading loses nothing by a failed write.
        let mut out = std::io::stdout();
        let _ = out.write_all(answer.as_bytes()).and_then(|()| out.flush());
    }
    let outcome = hook::run(&HookArgs::new(args.client, args.event, notice));
    if let Some(line) = outcome.message() {
        say(&line);
    }
    i32::from(args.strict && outcome.is_failure())
}

/// The one stderr line. Not `eprintln!`: it panics when the agent has stopped reading our
/// stderr (Gemini does not wait for SessionEnd hooks), and the exit code must stay 0.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "difflore-hook: {line}");
}
