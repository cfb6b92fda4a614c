//! Assembly on hand-written sessions: pairing by id and by nearness, turns, subagents,
//! and what closes incomplete.

use std::time::Duration;

use super::*;
use crate::shared::vocabulary::Kind;

const HOUR: Duration = Duration::from_secs(3600);

fn ev(id: i64, kind: Kind, tool: Option<&str>, call: Option<&str>) -> Event {
    Event {
        id,
        at_ms: 1_000 * id,
        client: "claude-code".into(),
        kind,
        session: Some("s".into()),
        tool: tool.map(str::to_owned),
        facts: Facts {
            call: call.map(str::to_owned),
            ..Facts::default()
        },
    }
}

fn run(events: &[Event]) -> (State, Assembled) {
    let mut state = State::default();
    let out = assemble(
        &mut state,
        events,
        events.last().map_or(0, |e| e.at_ms),
        HOUR,
    );
    (state, out)
}

fn closed<'a>(out: &'a Assembled, kind: SpanKind, call: Option<&str>) -> &'a Span {
    out.closed
        .iter()
        .find(|s| s.kind == kind && s.call.as_deref() == call)
        .unwrap_or_else(|| panic!("no closed {kind:?} {call:?} in {:#?}", out.closed))
}

#[test]
fn a_turn_pairs_its_tool_calls_by_the_agents_ids() {
    let (state, out) = run(&[
        ev(1, Kind::SessionStart, None, None),
        ev(2, Kind::PromptSubmit, None, None),
        ev(3, Kind::ToolPre, Some("Bash"), Some("a")),
        ev(4, Kind::ToolPre, Some("Bash"), Some("b")),
        ev(5, Kind::ToolPost, Some("Bash"), Some("a")),
        ev(6, Kind::ToolFailure, Some("Bash"), Some("b")),
        ev(7, Kind::TurnStop, None, None),
    ]);
    assert!(state.open.is_empty());
    assert_eq!(out.closed.len(), 3);
    let a = closed(&out, SpanKind::Tool, Some("a"));
    assert_eq!((a.start_event, a.end_event, a.failed), (3, Some(5), false));
    let b = closed(&out, SpanKind::Tool, Some("b"));
    assert_eq!((b.start_event, b.end_event, b.failed), (4, Some(6), true));
    let turn = closed(&out, SpanKind::Turn, None);
    assert_eq!(
        (turn.turn, turn.start_ms, turn.end_ms),
        (1, 2_000, Some(7_000))
    );
    assert!(out.closed.iter().all(|s| !s.incomplete && s.turn == 1));
    let turns: Vec<Option<i64>> = out.marks.iter().map(|m| m.turn).collect();
    assert_eq!(
        turns,
        [None, Some(1), Some(1), Some(1), Some(1), Some(1), Some(1)]
    );
    assert_eq!(out.marks[5].call.as_deref(), Some("b"));
}

#[test]
fn without_ids_an_end_pairs_with_the_nearest_open_pre_of_its_tool() {
    let (_, out) = run(&[
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::ToolPre, Some("Read"), None),
        ev(3, Kind::ToolPre, Some("Edit"), None),
        ev(4, Kind::ToolPre, Some("Read"), None),
        ev(5, Kind::ToolPost, Some("Read"), None),
        ev(6, Kind::ToolPost, Some("Read"), None),
        ev(7, Kind::ToolPost, Some("Edit"), None),
    ]);
    let pairs: Vec<(i64, Option<i64>)> = out
        .closed
        .iter()
        .map(|s| (s.start_event, s.end_event))
        .collect();
    assert_eq!(pairs, [(4, Some(5)), (2, Some(6)), (3, Some(7))]);
    assert_eq!(out.marks[4].call.as_deref(), Some("difflore:4"));
    assert!(!is_agents_call_id("difflore:4"));
}

#[test]
fn an_end_without_a_start_makes_no_span_and_keeps_its_own_call_id() {
    let (state, out) = run(&[ev(1, Kind::ToolPost, Some("Bash"), Some("x"))]);
    assert!(out.closed.is_empty() && state.open.is_empty());
    assert_eq!(out.marks[0].call.as_deref(), Some("x"));
    assert_eq!(out.marks[0].turn, None);
}

#[test]
fn a_subagent_runs_under_the_task_call_that_started_it() {
    let mut start = ev(3, Kind::SubagentStart, None, None);
    start.facts.agent_id = Some("ag".into());
    start.facts.agent_type = Some("general-purpose".into());
    let mut inner = ev(4, Kind::ToolPre, Some("Grep"), Some("g"));
    inner.facts.agent_id = Some("ag".into());
    let mut stop = ev(6, Kind::SubagentStop, None, None);
    stop.facts.agent_id = Some("ag".into());
    let (_, out) = run(&[
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::ToolPre, Some("Task"), Some("t")),
        start,
        inner,
        ev(5, Kind::ToolPost, Some("Grep"), Some("g")),
        stop,
        ev(7, Kind::ToolPost, Some("Task"), Some("t")),
        ev(8, Kind::TurnStop, None, None),
    ]);
    let agent = closed(&out, SpanKind::Subagent, Some("ag"));
    assert_eq!(agent.parent, Some((SpanKind::Tool, "t".into())));
    assert_eq!(agent.name.as_deref(), Some("general-purpose"));
    assert_eq!((agent.end_event, agent.incomplete), (Some(6), false));
    let grep = closed(&out, SpanKind::Tool, Some("g"));
    assert_eq!(grep.parent, Some((SpanKind::Subagent, "ag".into())));
    assert_eq!(closed(&out, SpanKind::Tool, Some("t")).parent, None);
}

#[test]
fn what_never_ends_closes_incomplete_with_its_turn_or_the_next_prompt() {
    let (state, out) = run(&[
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::ToolPre, Some("Bash"), Some("a")),
        // The user interrupted: no Stop, no PostToolUse.
        ev(3, Kind::PromptSubmit, None, None),
        ev(4, Kind::ToolPre, Some("Bash"), Some("b")),
        ev(5, Kind::TurnStop, None, None),
    ]);
    assert!(state.open.is_empty());
    let first = out
        .closed
        .iter()
        .find(|s| s.kind == SpanKind::Turn && s.turn == 1)
        .unwrap();
    assert!(first.incomplete);
    assert_eq!((first.end_event, first.end_ms), (Some(3), Some(2_000)));
    assert!(closed(&out, SpanKind::Tool, Some("a")).incomplete);
    assert!(closed(&out, SpanKind::Tool, Some("b")).incomplete);
    let second = out
        .closed
        .iter()
        .find(|s| s.kind == SpanKind::Turn && s.turn == 2)
        .unwrap();
    assert!(!second.incomplete);
}

#[test]
fn an_empty_prompt_inside_a_turn_goes_on_with_it_and_outside_one_starts_one() {
    let empty = |id| {
        let mut e = ev(id, Kind::PromptSubmit, None, None);
        e.facts.empty_prompt = true;
        e
    };
    // Qwen Code: its tool's result goes back to the model as an empty prompt.
    let (state, out) = run(&[
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::ToolPre, Some("run_shell_command"), None),
        ev(3, Kind::ToolPost, Some("run_shell_command"), None),
        empty(4),
        ev(5, Kind::TurnStop, None, None),
        empty(6),
        ev(7, Kind::TurnStop, None, None),
    ]);
    assert!(state.open.is_empty());
    assert!(
        out.closed.iter().all(|s| !s.incomplete),
        "{:#?}",
        out.closed
    );
    let turns: Vec<Option<i64>> = out.marks.iter().map(|m| m.turn).collect();
    assert_eq!(
        turns,
        [
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(2),
            Some(2)
        ]
    );
    let first = out
        .closed
        .iter()
        .find(|s| s.kind == SpanKind::Turn && s.turn == 1)
        .unwrap();
    assert_eq!((first.start_event, first.end_event), (1, Some(5)));
    assert_eq!(
        closed(&out, SpanKind::Tool, Some("difflore:2")).end_event,
        Some(3)
    );
}

#[test]
fn a_tool_call_with_no_turn_open_starts_one() {
    let (state, out) = run(&[
        ev(1, Kind::ToolPre, Some("Execute"), None),
        ev(2, Kind::ToolPost, Some("Execute"), None),
    ]);
    assert_eq!(out.marks[0].turn, Some(1));
    assert_eq!(state.open.len(), 1, "the turn stays open until it stops");
    assert_eq!(state.open[0].kind, SpanKind::Turn);
}

#[test]
fn a_silent_session_is_closed_after_close_after_by_the_next_event_or_pass() {
    let mut state = State::default();
    let first = [
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::ToolPre, Some("Bash"), Some("a")),
    ];
    let out = assemble(&mut state, &first, 3_000, HOUR);
    assert!(out.closed.is_empty());
    let mut other = ev(3, Kind::Notification, None, None);
    other.session = Some("elsewhere".into());
    let later = 2_000 + HOUR.as_millis() as i64 + 1;
    let out = assemble(&mut state, &[other], later, HOUR);
    assert_eq!(out.closed.len(), 2);
    assert!(
        out.closed
            .iter()
            .all(|s| s.incomplete && s.end_event == Some(3) && s.end_ms == Some(2_000))
    );
    assert_eq!(state.sessions["s"].open_turn, None);
}

#[test]
fn session_end_closes_everything_and_resume_counts_on() {
    let (state, out) = run(&[
        ev(1, Kind::PromptSubmit, None, None),
        ev(2, Kind::SessionEnd, None, None),
        ev(3, Kind::SessionStart, None, None),
        ev(4, Kind::PromptSubmit, None, None),
    ]);
    assert!(closed(&out, SpanKind::Turn, None).incomplete);
    assert_eq!(out.marks[3].turn, Some(2));
    assert_eq!(state.sessions["s"].ended_ms, None);
}
