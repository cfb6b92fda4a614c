//! Closing spans: normally by the event that ends them, otherwise incomplete with their
//! turn or session. A closed span leaves the open set; its key is remembered while its turn
//! is open so that a repeated start adds nothing.

use super::{Assembled, Span, SpanKind, State};

pub(super) fn finish(s: &mut Span, end_ms: i64, carrier: i64, incomplete: bool) {
    s.end_ms = Some(end_ms.max(s.start_ms));
    s.end_event = Some(carrier);
    s.incomplete = incomplete;
}

/// Close a span: out it goes, and its key is remembered while its turn is open.
pub(super) fn close(state: &mut State, s: Span, out: &mut Assembled) {
    let turn_open = state
        .sessions
        .get(&s.session)
        .is_some_and(|x| x.open_turn == Some(s.turn));
    if turn_open && s.kind != SpanKind::Turn {
        state.done.insert(s.key());
    }
    out.closed.push(s);
}

/// Close every open span `pick` selects, incomplete.
pub(super) fn close_where(
    state: &mut State,
    pick: impl Fn(&Span) -> bool,
    end_ms: i64,
    carrier: i64,
    out: &mut Assembled,
) {
    let (closing, open): (Vec<Span>, Vec<Span>) = std::mem::take(&mut state.open)
        .into_iter()
        .partition(|s| pick(s));
    state.open = open;
    for mut s in closing {
        finish(&mut s, end_ms, carrier, true);
        close(state, s, out);
    }
}

/// End turn `n` of `sid`: its own span `complete` or not, whatever still runs in it
/// incomplete.
pub(super) fn close_turn(
    state: &mut State,
    sid: &str,
    n: i64,
    end_ms: i64,
    carrier: i64,
    complete: bool,
    out: &mut Assembled,
) {
    let before = out.closed.len();
    close_where(
        state,
        |s| s.session == sid && s.turn == n,
        end_ms,
        carrier,
        out,
    );
    if complete {
        for s in &mut out.closed[before..] {
            if s.kind == SpanKind::Turn {
                s.incomplete = false;
            }
        }
    }
    end_turn(state, sid);
}

/// `sid` has no open turn any more, and forgets what closed in it.
pub(super) fn end_turn(state: &mut State, sid: &str) {
    if let Some(session) = state.sessions.get_mut(sid) {
        session.open_turn = None;
    }
    state.done.retain(|k| k.0 != sid);
}

pub(super) fn close_session(
    state: &mut State,
    sid: &str,
    end_ms: i64,
    carrier: i64,
    out: &mut Assembled,
) {
    close_where(state, |s| s.session == sid, end_ms, carrier, out);
    end_turn(state, sid);
}
