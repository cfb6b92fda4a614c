//! `difflorectl`: placeholder until its issue lands.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("difflorectl: not implemented yet");
    ExitCode::FAILURE
}
