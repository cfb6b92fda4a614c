//! The state machine over one session's events: a turn runs from `prompt.submit` to
//! `turn.stop` (a tool call or subagent with no turn open starts one), a tool call from
//! `tool.pre` to its paired end, a subagent from `subagent.start` to `subagent.stop` under the
//! tool call that started it. What never ends is closed, marked incomplete: at the end of its
//! turn or session, when the next prompt starts a new turn, or when the session has been
//! silent for `close_after`. Pure: no clock but the `now` it is given.

use std::time::Duration;

use super::close::{close, close_session, close_turn, close_where, finish};
use super::{Assembled, Event, Mark, OWN_CALL_PREFIX, Session, Span, SpanKind, State, pair};
use crate::shared::vocabulary::Kind;

/// Tools whose call starts a subagent (Claude Code's, before and after the rename).
const SUBAGENT_TOOLS: [&str; 2] = ["Task", "Agent"];

/// Fold `events` (in outbox id order) into `state`: a mark for every event, and every span
/// closed on the way. Spans left open by sessions silent since before `now - close_after`
/// are closed too, carried by the last event (with no event there is nothing to carry
/// them, and they wait for the next pass).
pub fn assemble(
    state: &mut State,
    events: &[Event],
    now_ms: i64,
    close_after: Duration,
) -> Assembled {
    let after = i64::try_from(close_after.as_millis()).unwrap_or(i64::MAX);
    let mut out = Assembled::default();
    for ev in events {
        let mark = apply(state, ev, after, &mut out);
        out.marks.push(mark);
    }
    if let Some(last) = events.last() {
        let silent: Vec<String> = state
            .sessions
            .iter()
            .filter(|(id, s)| {
                now_ms.saturating_sub(s.last_ms) > after
                    && state.open.iter().any(|o| &o.session == *id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            let end = state.sessions[&id].last_ms;
            close_session(state, &id, end, last.id, &mut out);
        }
    }
    out
}

/// The call id of a tool event: the agent's own, else one made from the row.
fn own_call(ev: &Event) -> String {
    ev.facts
        .call
        .clone()
        .unwrap_or_else(|| format!("{OWN_CALL_PREFIX}{}", ev.id))
}

fn apply(state: &mut State, ev: &Event, after: i64, out: &mut Assembled) -> Mark {
    let mark = |call: Option<String>, turn: Option<i64>| Mark {
        id: ev.id,
        kind: ev.kind,
        call,
        turn,
    };
    let Some(sid) = ev.session.as_deref() else {
        let call = matches!(ev.kind, Kind::ToolPre | Kind::ToolPost | Kind::ToolFailure)
            .then(|| own_call(ev));
        return mark(call, None);
    };
    let before = state.sessions.get(sid).map(|s| s.last_ms);
    if let Some(last) = before
        && ev.at_ms.saturating_sub(last) > after
    {
        close_session(state, sid, last, ev.id, out);
    }
    let session = state
        .sessions
        .entry(sid.to_owned())
        .or_insert_with(|| Session {
            client: ev.client.clone(),
            turns: 0,
            open_turn: None,
            last_ms: ev.at_ms,
            ended_ms: None,
        });
    session.last_ms = session.last_ms.max(ev.at_ms);
    let open_turn = session.open_turn;
    let marked = match ev.kind {
        Kind::SessionStart => {
            if let Some(s) = state.sessions.get_mut(sid) {
                s.ended_ms = None;
            }
            mark(None, open_turn)
        }
        // An empty prompt inside a turn is the agent going on with it (Qwen Code hands
        // each tool result back to the model this way), not a person starting another.
        Kind::PromptSubmit if ev.facts.empty_prompt && open_turn.is_some() => mark(None, open_turn),
        Kind::PromptSubmit => {
            if let Some(n) = open_turn {
                let end = before.unwrap_or(ev.at_ms);
                close_turn(state, sid, n, end, ev.id, false, out);
            }
            let n = ensure_turn(state, sid, ev);
            mark(None, Some(n))
        }
        Kind::ToolPre => {
            let n = ensure_turn(state, sid, ev);
            let call = own_call(ev);
            if !known(state, sid, n, SpanKind::Tool, &call) {
                let parent = ev
                    .facts
                    .agent_id
                    .as_deref()
                    .filter(|a| find(state, sid, n, SpanKind::Subagent, Some(a)).is_some())
                    .map(|a| (SpanKind::Subagent, a.to_owned()));
                state
                    .open
                    .push(span(ev, sid, n, SpanKind::Tool, Some(&call), parent));
            }
            mark(Some(call), Some(n))
        }
        Kind::ToolPost | Kind::ToolFailure => {
            let found = pair(
                &state.open,
                sid,
                ev.tool.as_deref(),
                ev.facts.call.as_deref(),
            );
            match found {
                Some(i) => {
                    let mut s = state.open.remove(i);
                    s.failed = ev.kind == Kind::ToolFailure;
                    let (call, turn) = (s.call.clone(), s.turn);
                    finish(&mut s, ev.at_ms, ev.id, false);
                    close(state, s, out);
                    mark(call, Some(turn))
                }
                None => mark(Some(own_call(ev)), open_turn),
            }
        }
        Kind::SubagentStart => {
            let n = ensure_turn(state, sid, ev);
            let agent = ev.facts.agent_id.clone().unwrap_or_else(|| own_call(ev));
            if !known(state, sid, n, SpanKind::Subagent, &agent) {
                let parent = subagent_parent(state, sid, n, &agent);
                let mut s = span(ev, sid, n, SpanKind::Subagent, Some(&agent), parent);
                s.name = ev.facts.agent_type.clone();
                state.open.push(s);
            }
            mark(Some(agent), Some(n))
        }
        Kind::SubagentStop => {
            let found = state
                .open
                .iter()
                .enumerate()
                .filter(|(_, s)| s.kind == SpanKind::Subagent && s.session == sid)
                .filter(|(_, s)| ev.facts.agent_id.is_none() || s.call == ev.facts.agent_id)
                .max_by_key(|(_, s)| s.start_event)
                .map(|(i, _)| i);
            match found {
                Some(i) => {
                    let mut s = state.open.remove(i);
                    let (agent, turn) = (s.call.clone().unwrap_or_default(), s.turn);
                    finish(&mut s, ev.at_ms, ev.id, false);
                    close(state, s, out);
                    let under = Some((SpanKind::Subagent, agent.clone()));
                    let pick = |o: &Span| o.session == sid && o.parent == under;
                    close_where(state, pick, ev.at_ms, ev.id, out);
                    mark(Some(agent), Some(turn))
                }
                None => mark(ev.facts.agent_id.clone(), open_turn),
            }
        }
        Kind::TurnStop => {
            if let Some(n) = open_turn {
                close_turn(state, sid, n, ev.at_ms, ev.id, true, out);
            }
            mark(None, open_turn)
        }
        Kind::SessionEnd => {
            close_session(state, sid, ev.at_ms, ev.id, out);
            if let Some(s) = state.sessions.get_mut(sid) {
                s.ended_ms = Some(ev.at_ms);
            }
            mark(None, open_turn)
        }
        _ => mark(None, open_turn),
    };
    // The turn's model is the first one any of its events names.
    let now_open = state.sessions.get(sid).and_then(|s| s.open_turn);
    if let (Some(n), Some(model)) = (now_open, &ev.facts.model)
        && let Some(i) = find(state, sid, n, SpanKind::Turn, None)
    {
        state.open[i].model.get_or_insert_with(|| model.clone());
    }
    marked
}

fn span(
    ev: &Event,
    sid: &str,
    turn: i64,
    kind: SpanKind,
    call: Option<&str>,
    parent: Option<(SpanKind, String)>,
) -> Span {
    Span {
        session: sid.to_owned(),
        turn,
        kind,
        call: call.map(str::to_owned),
        parent,
        client: ev.client.clone(),
        name: if kind == SpanKind::Tool {
            ev.tool.clone()
        } else {
            None
        },
        model: ev.facts.model.clone(),
        start_event: ev.id,
        start_ms: ev.at_ms,
        end_event: None,
        end_ms: None,
        failed: false,
        incomplete: false,
        arguments: if kind == SpanKind::Tool {
            ev.facts.arguments.clone()
        } else {
            None
        },
    }
}

fn find(state: &State, sid: &str, turn: i64, kind: SpanKind, call: Option<&str>) -> Option<usize> {
    state.open.iter().position(|s| {
        s.kind == kind && s.session == sid && s.turn == turn && s.call.as_deref() == call
    })
}

/// The open turn of `sid`, or a new one started by `ev`.
fn ensure_turn(state: &mut State, sid: &str, ev: &Event) -> i64 {
    let Some(session) = state.sessions.get_mut(sid) else {
        return 0;
    };
    if let Some(n) = session.open_turn {
        return n;
    }
    session.turns += 1;
    let n = session.turns;
    session.open_turn = Some(n);
    state
        .open
        .push(span(ev, sid, n, SpanKind::Turn, None, None));
    n
}

/// The call a new subagent runs under: the open tool call whose id is the agent's id, else
/// the oldest open Task/Agent call without a subagent yet; `None` puts it under the turn.
fn subagent_parent(state: &State, sid: &str, turn: i64, agent: &str) -> Option<(SpanKind, String)> {
    let tools = || {
        state
            .open
            .iter()
            .filter(|s| s.kind == SpanKind::Tool && s.session == sid && s.turn == turn)
    };
    let busy = |call: &Option<String>| {
        state.open.iter().any(|s| {
            s.kind == SpanKind::Subagent
                && s.session == sid
                && s.parent.as_ref().map(|p| &p.1) == call.as_ref()
        })
    };
    tools()
        .find(|s| s.call.as_deref() == Some(agent))
        .or_else(|| {
            tools()
                .filter(|s| {
                    s.name
                        .as_deref()
                        .is_some_and(|n| SUBAGENT_TOOLS.contains(&n))
                })
                .filter(|s| !busy(&s.call))
                .min_by_key(|s| s.start_event)
        })
        .and_then(|s| s.call.clone())
        .map(|call| (SpanKind::Tool, call))
}

/// A start whose span is open or already closed in this turn adds nothing.
fn known(state: &State, sid: &str, turn: i64, kind: SpanKind, call: &str) -> bool {
    find(state, sid, turn, kind, Some(call)).is_some()
        || state
            .done
            .contains(&(sid.to_owned(), turn, kind, Some(call.to_owned())))
}
