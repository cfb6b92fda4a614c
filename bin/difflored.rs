//! `difflored`: placeholder until its issue lands.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("difflored: not implemented yet");
    ExitCode::FAILURE
}
