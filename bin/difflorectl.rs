//! `difflorectl`: see and steer the pipeline (status, stop, start, queue tools). Parses the
//! command line, runs one command, prints what the renderer says, exits with its code.

use std::process::ExitCode;

use difflore::ctl::{self, cli, render};

/// Exit code for a command line that does not parse (LSB: invalid argument).
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let command = match cli::command().run_inner(bpaf::Args::current_args()) {
        Ok(command) => command,
        Err(bpaf::ParseFailure::Stderr(doc)) => {
            eprintln!("difflorectl: {}", doc.monochrome(true));
            return ExitCode::from(USAGE);
        }
        Err(asked) => {
            // --help, --version: asked for, so stdout and success.
            asked.print_message(100);
            return ExitCode::SUCCESS;
        }
    };
    match ctl::run(command) {
        Ok(outcome) => {
            let message = render::render(&outcome);
            print!("{}", message.stdout);
            eprint!("{}", message.stderr);
            ExitCode::from(outcome.exit_code())
        }
        Err(err) => {
            eprintln!("{}", render::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
