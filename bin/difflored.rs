//! `difflored`: the background daemon that drains the outbox to the collector. Detaches by
//! default (fit for `difflored &` in a shell profile); `--foreground` for service managers.

use std::process::ExitCode;

use bpaf::Bpaf;
use difflore::daemon::{self, Options};
use difflore::shared::error_chain;

/// Ship captured agent events from the local outbox to the team's collector.
/// One daemon per data home: a start while another runs exits 0 quietly.
#[derive(Debug, Clone, Bpaf)]
#[bpaf(options, version)]
struct Args {
    /// Stay attached and log to stderr (for systemd, launchd and tests)
    foreground: bool,
    /// Where to deliver: http(s)://…, otlp+http(s)://… (OTLP logs), or file:///abs/path.ndjson
    /// (default: DIFFLORE_ENDPOINT, `endpoint` in config.toml, then OTEL_EXPORTER_OTLP_ENDPOINT)
    #[bpaf(argument("URL"))]
    endpoint: Option<String>,
}

fn main() -> ExitCode {
    let args = args().run();
    let opts = Options {
        foreground: args.foreground,
        endpoint: args.endpoint,
    };
    match daemon::run(&opts) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("difflored: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
