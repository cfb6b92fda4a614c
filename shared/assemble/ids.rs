//! Deterministic trace and span ids: a 128-bit FNV-1a hash of the install id, the session,
//! the turn and (for a tool call or subagent) its id. A retried batch or a restarted daemon
//! sends the same ids for the same span, never new ones. Not a secret: only unique.

use super::SpanKind;

const FNV_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const FNV_PRIME: u128 = 0x0000000001000000000000000000013b;

/// FNV-1a over `parts` from `hash` on: each part's length first, so ("ab", "c") and
/// ("a", "bc") differ, and a hash of some leading parts can be continued with the rest.
fn fnv1a_from(mut hash: u128, parts: &[&[u8]]) -> u128 {
    for part in parts {
        for byte in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// The ids of one session's spans: the hash of the parts they all begin with, taken once
/// (the install id and the session are most of the bytes hashed).
#[derive(Debug, Clone, Copy)]
pub struct SessionIds {
    trace: u128,
    span: u128,
}

/// The hash of the parts every id of one install begins with, taken once per daemon: a
/// session's ids then hash only the session (the drain takes them for every event and span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallIds {
    trace: u128,
    span: u128,
}

impl InstallIds {
    pub fn new(install: &str) -> InstallIds {
        let parts = |tag: &[u8]| fnv1a_from(FNV_OFFSET, &[tag, install.as_bytes()]);
        InstallIds {
            trace: parts(b"trace"),
            span: parts(b"span"),
        }
    }

    pub fn session(&self, session: &str) -> SessionIds {
        SessionIds {
            trace: fnv1a_from(self.trace, &[session.as_bytes()]),
            span: fnv1a_from(self.span, &[session.as_bytes()]),
        }
    }
}

impl SessionIds {
    pub fn new(install: &str, session: &str) -> SessionIds {
        InstallIds::new(install).session(session)
    }

    /// The trace of one turn.
    pub fn trace_id(&self, turn: i64) -> [u8; 16] {
        let h = fnv1a_from(self.trace, &[&turn.to_le_bytes()]);
        // All zeros is the invalid id.
        h.max(1).to_be_bytes()
    }

    /// A span: the turn's own (`call` is `None`), or a tool call's or subagent's.
    pub fn span_id(&self, turn: i64, kind: SpanKind, call: Option<&str>) -> [u8; 8] {
        let h = fnv1a_from(
            self.span,
            &[
                &turn.to_le_bytes(),
                kind.as_str().as_bytes(),
                call.unwrap_or_default().as_bytes(),
            ],
        );
        let folded = ((h >> 64) as u64) ^ (h as u64);
        folded.max(1).to_be_bytes()
    }
}

/// The trace of one turn of a session.
pub fn trace_id(install: &str, session: &str, turn: i64) -> [u8; 16] {
    SessionIds::new(install, session).trace_id(turn)
}

/// A span: the turn's own (`call` is `None`), or a tool call's or subagent's.
pub fn span_id(
    install: &str,
    session: &str,
    turn: i64,
    kind: SpanKind,
    call: Option<&str>,
) -> [u8; 8] {
    SessionIds::new(install, session).span_id(turn, kind, call)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids as the one-shot hash of every part gives them: continuing a session's hash
    /// changes no id a collector already has.
    #[test]
    fn a_sessions_ids_are_the_hash_of_all_their_parts() {
        let whole = |parts: &[&[u8]]| fnv1a_from(FNV_OFFSET, parts);
        let turn = 3i64.to_le_bytes();
        let trace = whole(&[b"trace", b"inst", b"sess", &turn])
            .max(1)
            .to_be_bytes();
        assert_eq!(trace_id("inst", "sess", 3), trace);
        let h = whole(&[b"span", b"inst", b"sess", &turn, b"tool", b"toolu_1"]);
        let span = (((h >> 64) as u64) ^ (h as u64)).max(1).to_be_bytes();
        assert_eq!(
            span_id("inst", "sess", 3, SpanKind::Tool, Some("toolu_1")),
            span
        );
    }

    /// The install's hash taken once gives every session the ids of the one-shot hash.
    #[test]
    fn an_installs_hash_continues_into_each_session() {
        let install = InstallIds::new("inst");
        for session in ["", "s", "sess", "3f2a9c1e-7b4d-4e8a-9c21-000000000042"] {
            let ids = install.session(session);
            assert_eq!(ids.trace_id(2), trace_id("inst", session, 2));
            assert_eq!(
                ids.span_id(2, SpanKind::Subagent, Some("a1")),
                span_id("inst", session, 2, SpanKind::Subagent, Some("a1"))
            );
        }
    }

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
