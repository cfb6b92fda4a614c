//! The capture promise as a property, end to end: seeded inputs (valid JSON of every shape,
//! nasty valid JSON, and invalid bytes) through the real `difflore-hook` on stdin, then one
//! real `difflored` draining to a file sink. Every input ends delivered, with its numbers
//! digit for digit and its keys (duplicates too) as sent, or rejected at capture with a
//! reason; none ends `dead`. Run with redaction on (the default) and off. No timings here.
//!
//! `DIFFLORE_PROPS_SEED=<u64>` replays another sequence; `DIFFLORE_PROPS_CASES=<n>` sets
//! how many generated inputs each run adds to the fixed ones.

mod common;

#[path = "hook_daemon_props/inputs.rs"]
mod inputs;
#[path = "hook_daemon_props/nasty.rs"]
mod nasty;
#[path = "hook_daemon_props/tokens.rs"]
mod tokens;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::Sandbox;
use common::daemon::{DaemonGuard, write_config};
use inputs::{Case, Expect, Rng};
use tokens::Token;

/// Generous: a loaded CI machine drains slowly. A bound on waiting, not a timing assertion.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);
const DEFAULT_SEED: u64 = 0x00d1_ff10_5e7e_57ed;
const DEFAULT_CASES: usize = 1200;

#[test]
fn with_redaction_on_every_input_is_delivered_as_sent_or_rejected_at_capture() {
    run(true);
}

#[test]
fn with_redaction_off_every_input_is_delivered_as_sent_or_rejected_at_capture() {
    run(false);
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn run(redact: bool) {
    let seed = setting("DIFFLORE_PROPS_SEED", DEFAULT_SEED) ^ u64::from(redact);
    let mut rng = Rng::new(seed);
    let mut cases = nasty::fixed();
    let generated = setting("DIFFLORE_PROPS_CASES", DEFAULT_CASES as u64) as usize;
    cases.extend(inputs::generated(&mut rng, generated));

    let sb = Sandbox::new();
    write_config(&sb, if redact { "" } else { "redact = false" });
    for case in &cases {
        let out = sb.hook(&[], &case.input);
        assert_eq!(
            out.status.code(),
            Some(0),
            "seed {seed}: the hook failed on {}: {}",
            show(case),
            common::stderr(&out)
        );
        assert!(
            out.stdout.is_empty(),
            "seed {seed}: stdout on {}",
            show(case)
        );
        assert!(
            common::stderr(&out).lines().count() <= 1,
            "seed {seed}: more than one stderr line on {}",
            show(case)
        );
    }
    let captured = rows(&sb);
    assert_eq!(
        captured.len(),
        cases.len(),
        "seed {seed}: every input is exactly one row"
    );

    let sink = sb.dir.path().join("out.ndjson");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &format!("file://{}", sink.display())]);
    assert!(
        common::wait_until(DRAIN_LIMIT, || sb
            .count("state IN ('pending', 'in_flight')")
            == 0),
        "seed {seed}: the outbox did not drain; log:\n{}",
        d.log_text()
    );
    let delivered = sink_payloads(&sink);
    let failures: Vec<String> = cases
        .iter()
        .zip(rows(&sb))
        .filter_map(|(case, row)| {
            check(case, &row, &delivered, redact)
                .err()
                .map(|e| format!("{}: {e}", show(case)))
        })
        .collect();
    // Not vacuous: both outcomes are well represented in what the generator produced.
    let ended = |state: &str| rows(&sb).iter().filter(|r| r.state == state).count();
    let (delivered_rows, rejected_rows) = (ended("delivered"), ended("rejected"));
    assert!(
        delivered_rows >= cases.len() / 3 && rejected_rows >= cases.len() / 10,
        "seed {seed}: a lopsided mix: {delivered_rows} delivered, {rejected_rows} rejected"
    );
    assert!(
        failures.is_empty(),
        "seed {seed}, redaction {}: {} of {} inputs went wrong:\n{}\ndaemon log:\n{}",
        if redact { "on" } else { "off" },
        failures.len(),
        cases.len(),
        failures.join("\n"),
        d.log_text()
    );
}

struct Row {
    id: i64,
    state: String,
    last_error: Option<String>,
    payload: Vec<u8>,
}

fn rows(sb: &Sandbox) -> Vec<Row> {
    let conn = sb.sqlite();
    let mut stmt = conn
        .prepare("SELECT id, state, last_error, CAST(payload AS BLOB) FROM events ORDER BY id")
        .expect("prepare row query");
    stmt.query_map([], |r| {
        Ok(Row {
            id: r.get(0)?,
            state: r.get(1)?,
            last_error: r.get(2)?,
            payload: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
        })
    })
    .expect("query rows")
    .map(|r| r.expect("read row"))
    .collect()
}

/// The payload text of every line of the file sink, by outbox row (`id` is
/// `<install>-<row>`), kept exactly as written.
fn sink_payloads(path: &Path) -> HashMap<i64, Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Line {
        id: String,
        payload: Box<serde_json::value::RawValue>,
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let line: Line = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("sink line is not an event ({e}): {line:.200}"));
        let row = line
            .id
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or_else(|| panic!("sink id {:?} names no row", line.id));
        out.entry(row)
            .or_default()
            .push(line.payload.get().to_owned());
    }
    out
}

/// One input against its row and the sink.
fn check(
    case: &Case,
    row: &Row,
    delivered: &HashMap<i64, Vec<String>>,
    redact: bool,
) -> Result<(), String> {
    let sent = delivered.get(&row.id).map_or(&[][..], Vec::as_slice);
    match (row.state.as_str(), case.expect) {
        ("rejected", Expect::Rejected | Expect::Either) => {
            if row.last_error.as_deref().unwrap_or("").trim().is_empty() {
                return Err("rejected without a reason".into());
            }
            if !sent.is_empty() {
                return Err("rejected, yet delivered".into());
            }
            Ok(())
        }
        ("rejected", Expect::Delivered) => Err(format!(
            "rejected at capture: {}",
            row.last_error.as_deref().unwrap_or("(no reason)")
        )),
        ("delivered", Expect::Delivered | Expect::Either) => {
            if row.payload != case.input {
                return Err("the outbox row does not hold the input as sent".into());
            }
            let [payload] = sent else {
                return Err(format!("delivered {} times to the sink", sent.len()));
            };
            same_payload(&case.input, payload, redact)
        }
        ("delivered", Expect::Rejected) => Err("delivered, but it is not deliverable".into()),
        (state, _) => Err(format!(
            "ended {state}: {}",
            row.last_error.as_deref().unwrap_or("(no reason)")
        )),
    }
}

/// The sink's payload against the input: token for token (layout aside); with redaction
/// on, a string value may carry a redaction marker instead, but nothing else may differ.
fn same_payload(input: &[u8], payload: &str, redact: bool) -> Result<(), String> {
    let input = std::str::from_utf8(input).map_err(|_| "delivered input is not UTF-8")?;
    let (want, got) = (tokens::tokens(input), tokens::tokens(payload));
    let (want_numbers, got_numbers) = (tokens::numbers(&want), tokens::numbers(&got));
    if want_numbers != got_numbers {
        return Err(format!(
            "numbers changed: sent {want_numbers:?}, delivered {got_numbers:?}"
        ));
    }
    let (want_keys, got_keys) = (tokens::keys(&want), tokens::keys(&got));
    if want_keys != got_keys {
        return Err(format!(
            "keys changed: sent {want_keys:?}, delivered {got_keys:?}"
        ));
    }
    // Only the redactor may change a string value, and only by leaving its marker.
    let same = |a: &Token, b: &Token| match (a, b) {
        (Token::Str(_), Token::Str(got)) if redact => a == b || got.contains("[REDACTED:"),
        _ => a == b,
    };
    let agree = want
        .iter()
        .zip(&got)
        .take_while(|(a, b)| same(a, b))
        .count();
    if agree < want.len().max(got.len()) {
        return Err(format!(
            "payload changed at token {agree}: sent {:?}, delivered {:?}",
            want.get(agree),
            got.get(agree)
        ));
    }
    Ok(())
}

/// A case for a failure message: its name and the start of its input.
fn show(case: &Case) -> String {
    let text = String::from_utf8_lossy(&case.input);
    let head: String = text.chars().take(160).collect();
    let more = if text.chars().count() > 160 {
        "…"
    } else {
        ""
    };
    format!(
        "[{}] {head:?}{more} ({} bytes)",
        case.name,
        case.input.len()
    )
}
