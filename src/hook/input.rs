//! Reading the event (stdin with a cap, or the argv argument) and the hook's two numeric
//! settings, `DIFFLORE_MAX_EVENT_BYTES` and `DIFFLORE_HOOK_TIMEOUT_MS`: any value, however
//! large or odd, yields a usable number (clamped, or the default when it is not a number).

use std::io::{self, IsTerminal, Read};
use std::time::Duration;

/// Default cap on one event; `DIFFLORE_MAX_EVENT_BYTES` changes it.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
/// The largest cap honoured: the hook holds the event in memory, and SQLite refuses a value
/// over 1 GB anyway. A larger setting is clamped here (never wrapped).
pub const MAX_EVENT_BYTES_CEILING: usize = 1 << 28;
/// How long the hook waits for a locked outbox before spilling; `DIFFLORE_HOOK_TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest wait honoured: no agent gives a hook more, and SQLite's busy timeout is an
/// `int` of milliseconds.
pub const TIMEOUT_CEILING: Duration = Duration::from_secs(60);

/// The cap on one event's bytes.
pub fn max_event_bytes() -> usize {
    setting("DIFFLORE_MAX_EVENT_BYTES", MAX_EVENT_BYTES_CEILING as u64)
        .map_or(DEFAULT_MAX_EVENT_BYTES, |n| n as usize)
}

/// How long to wait for a locked outbox.
pub fn timeout() -> Duration {
    setting(
        "DIFFLORE_HOOK_TIMEOUT_MS",
        TIMEOUT_CEILING.as_millis() as u64,
    )
    .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
}

fn setting(name: &str, ceiling: u64) -> Option<u64> {
    parse_setting(&std::env::var_os(name)?.to_string_lossy(), ceiling)
}

/// A positive decimal number, saturated at `ceiling`. Anything else (empty, signed, zero,
/// not a number) is `None`: the caller keeps its default.
fn parse_setting(text: &str, ceiling: u64) -> Option<u64> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only overflow can fail, and an overflowing number is over the ceiling too.
    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
    (n > 0).then_some(n.min(ceiling))
}

/// The event bytes (at most `cap + 1`, enough to know it is too large) and the total size.
pub fn read_stdin(cap: usize) -> io::Result<(Vec<u8>, usize)> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        // Run by hand with nothing piped in: do not wait for typing.
        return Ok((Vec::new(), 0));
    }
    let mut lock = stdin.lock();
    let mut buf = Vec::with_capacity(8192);
    (&mut lock)
        .take((cap as u64).saturating_add(1))
        .read_to_end(&mut buf)?;
    let mut size = buf.len();
    if size > cap {
        // Drain to EOF so the agent's write never blocks or breaks, counting the bytes.
        size = size.saturating_add(io::copy(&mut lock, &mut io::sink())? as usize);
    }
    Ok((buf, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_setting_is_clamped_and_a_nonsense_one_ignored() {
        let c = 1000;
        assert_eq!(parse_setting("18446744073709551615", c), Some(c));
        assert_eq!(parse_setting("99999999999999999999999999", c), Some(c));
        assert_eq!(parse_setting(" 12 ", c), Some(12));
        for nonsense in ["", "0", "-5", "+5", "1e6", "12kb", "abc", "0x10"] {
            assert_eq!(parse_setting(nonsense, c), None, "{nonsense:?}");
        }
    }
}
