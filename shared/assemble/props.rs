//! Property tests: any interleaving of any events, in any number of passes, yields
//! well-formed span trees.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::shared::vocabulary::Kind;

const KINDS: [Kind; 10] = [
    Kind::SessionStart,
    Kind::SessionEnd,
    Kind::PromptSubmit,
    Kind::ToolPre,
    Kind::ToolPost,
    Kind::ToolFailure,
    Kind::TurnStop,
    Kind::SubagentStart,
    Kind::SubagentStop,
    Kind::Other,
];

fn events() -> impl Strategy<Value = Vec<Event>> {
    let one = (
        0..KINDS.len(),
        0..3usize,
        0..3usize,
        proptest::option::of(0..4usize),
        proptest::option::of(0..2usize),
        0..5_000i64,
        proptest::bool::weighted(0.3),
    );
    proptest::collection::vec(one, 0..60).prop_map(|raw| {
        let mut at = 0;
        raw.into_iter()
            .enumerate()
            .map(|(i, (k, session, tool, call, agent, step, empty_prompt))| {
                // Mostly forward in time, sometimes back (spill imports, clock changes).
                at = (at + step - 500).max(0);
                Event {
                    id: i as i64 + 1,
                    at_ms: at,
                    client: "claude-code".into(),
                    kind: KINDS[k],
                    session: (session < 2).then(|| format!("s{session}")),
                    tool: Some(["Bash", "Task", "Read"][tool].into()),
                    facts: Facts {
                        call: call.map(|c| format!("c{c}")),
                        agent_id: agent.map(|a| format!("a{a}")),
                        // Read off any event; only a prompt's is looked at.
                        empty_prompt,
                        ..Facts::default()
                    },
                }
            })
            .collect()
    })
}

fn key(s: &Span) -> (String, i64, SpanKind, Option<String>) {
    (s.session.clone(), s.turn, s.kind, s.call.clone())
}

/// Run `events` in passes split at `cuts`, returning the closed spans and the final state.
fn in_passes(events: &[Event], cuts: &[usize], close_after: Duration) -> (Vec<Span>, State) {
    let mut state = State::default();
    let mut closed = Vec::new();
    let mut from = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (events.len() + 1)).collect();
    bounds.push(events.len());
    bounds.sort_unstable();
    for to in bounds {
        let part = &events[from..to.max(from)];
        let now = part.last().map_or(0, |e| e.at_ms);
        closed.extend(assemble(&mut state, part, now, close_after).closed);
        from = to.max(from);
    }
    (closed, state)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_interleaving_yields_well_formed_trees(
        events in events(),
        cuts in proptest::collection::vec(0..64usize, 0..3),
        close_after in 1_000..20_000u64,
    ) {
        let (closed, state) = in_passes(&events, &cuts, Duration::from_millis(close_after));
        let all: Vec<&Span> = closed.iter().chain(&state.open).collect();
        let by_key: HashMap<_, &Span> = all.iter().map(|s| (key(s), *s)).collect();
        let ids: HashSet<i64> = events.iter().map(|e| e.id).collect();
        for s in &all {
            // Every child is in its parent's trace: the same session and turn.
            let parent = match &s.parent {
                Some((kind, call)) => (s.session.clone(), s.turn, *kind, Some(call.clone())),
                None if s.kind == SpanKind::Turn => continue,
                None => (s.session.clone(), s.turn, SpanKind::Turn, None),
            };
            prop_assert!(by_key.contains_key(&parent), "{s:?} has no parent {parent:?}");
            prop_assert!(ids.contains(&s.start_event));
        }
        for s in &closed {
            let end = s.end_ms.expect("a closed span has an end");
            prop_assert!(end >= s.start_ms, "{s:?} ends before it starts");
            prop_assert!(ids.contains(&s.end_event.expect("and a carrier")));
        }
        // Each event starts at most one span and completes at most one (a tool call or
        // subagent with no turn open also starts that turn).
        let mut started = HashSet::new();
        let mut completed = HashSet::new();
        for s in &all {
            let first = started.insert((s.start_event, s.kind == SpanKind::Turn));
            prop_assert!(first, "event {} starts two spans", s.start_event);
        }
        for s in closed.iter().filter(|s| !s.incomplete) {
            let end = s.end_event.unwrap();
            prop_assert!(completed.insert(end), "event {end} completes two spans");
        }
        // Nothing closes twice, nothing stays open outside its session's open turn.
        prop_assert_eq!(by_key.len(), all.len(), "a span appears twice");
        for s in &state.open {
            prop_assert_eq!(state.sessions[&s.session].open_turn, Some(s.turn));
        }
    }

    #[test]
    fn passes_split_anywhere_assemble_the_same_spans(
        events in events(),
        cuts in proptest::collection::vec(0..64usize, 1..4),
    ) {
        let never = Duration::from_secs(1 << 40);
        let (whole, whole_state) = in_passes(&events, &[], never);
        let (split, split_state) = in_passes(&events, &cuts, never);
        prop_assert_eq!(whole, split);
        prop_assert_eq!(whole_state, split_state);
    }
}
