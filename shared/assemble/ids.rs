//! Deterministic trace and span ids: a 128-bit FNV-1a hash of the install id, the session,
//! the turn and (for a tool call or subagent) its id. A retried batch or a restarted daemon
//! sends the same ids for the same span, never new ones. Not a secret: only unique.

use super::SpanKind;

const FNV_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const FNV_PRIME: u128 = 0x0000000001000000000000000000013b;

fn fnv1a(parts: &[&[u8]]) -> u128 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        // Each part's length first, so ("ab", "c") and ("a", "bc") differ.
        for byte in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// The trace of one turn of a session.
pub fn trace_id(install: &str, session: &str, turn: i64) -> [u8; 16] {
    let h = fnv1a(&[
        b"trace",
        install.as_bytes(),
        session.as_bytes(),
        &turn.to_le_bytes(),
    ]);
    // All zeros is the invalid id.
    h.max(1).to_be_bytes()
}

/// A span: the turn's own (`call` is `None`), or a tool call's or subagent's.
pub fn span_id(
    install: &str,
    session: &str,
    turn: i64,
    kind: SpanKind,
    call: Option<&str>,
) -> [u8; 8] {
    let h = fnv1a(&[
        b"span",
        install.as_bytes(),
        session.as_bytes(),
        &turn.to_le_bytes(),
        kind.as_str().as_bytes(),
        call.unwrap_or_default().as_bytes(),
    ]);
    let folded = ((h >> 64) as u64) ^ (h as u64);
    folded.max(1).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_part_and_nothing_else() {
        let a = trace_id("i", "s", 1);
        assert_eq!(a, trace_id("i", "s", 1));
        assert_ne!(a, trace_id("i", "s", 2));
        assert_ne!(a, trace_id("j", "s", 1));
        assert_ne!(trace_id("ab", "c", 1), trace_id("a", "bc", 1));
        let t = span_id("i", "s", 1, SpanKind::Turn, None);
        assert_ne!(t, span_id("i", "s", 1, SpanKind::Tool, Some("")));
        assert_ne!(
            span_id("i", "s", 1, SpanKind::Tool, Some("x")),
            span_id("i", "s", 1, SpanKind::Subagent, Some("x"))
        );
        assert_ne!(t, [0; 8]);
    }
}
