//! Assembly through the outbox: passes of any size, with the state read back from the
//! tables between them, give what one pass in memory gives; marks land on the rows.

use std::time::Duration;

use super::claimed::carried_by;
use super::store::run;
use super::*;
use crate::shared::event::Fields;
use crate::shared::paths::Paths;
use crate::shared::store::{OpenOptions, Outbox};

const HOUR: Duration = Duration::from_secs(3600);

/// A Claude Code session: a turn with two tool calls (one failing), a subagent, the next
/// turn's prompt, in the events' own words.
const SESSION: [(&str, Option<&str>, &str); 10] = [
    ("SessionStart", None, r#"{"model":"claude-x"}"#),
    ("UserPromptSubmit", None, r#"{}"#),
    ("PreToolUse", Some("Bash"), r#"{"tool_use_id":"t1"}"#),
    ("PreToolUse", Some("Task"), r#"{"tool_use_id":"t2"}"#),
    (
        "SubagentStart",
        None,
        r#"{"agent_id":"ag","agent_type":"explore"}"#,
    ),
    (
        "PostToolUseFailure",
        Some("Bash"),
        r#"{"tool_use_id":"t1"}"#,
    ),
    ("SubagentStop", None, r#"{"agent_id":"ag"}"#),
    ("PostToolUse", Some("Task"), r#"{"tool_use_id":"t2"}"#),
    ("Stop", None, r#"{}"#),
    ("UserPromptSubmit", None, r#"{}"#),
];

fn outbox(dir: &tempfile::TempDir) -> Outbox {
    let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
    for (i, (event, tool, payload)) in SESSION.iter().enumerate() {
        let fields = Fields {
            client: "claude-code".into(),
            event: (*event).into(),
            session_id: Some("s".into()),
            cwd: None,
            tool: tool.map(str::to_owned),
        };
        db.insert(1_000 * (i as i64 + 1), &fields, payload).unwrap();
    }
    db
}

fn spans(db: &Outbox) -> Vec<Span> {
    let ids: Vec<i64> = (1..=SESSION.len() as i64).collect();
    let mut by_row: Vec<(i64, Vec<Span>)> = carried_by(db, &ids).unwrap().into_iter().collect();
    by_row.sort_by_key(|(row, _)| *row);
    by_row.into_iter().flat_map(|(_, s)| s).collect()
}

#[test]
fn passes_of_any_size_through_the_tables_agree() {
    let mut results = Vec::new();
    for limit in [1, 3, 100] {
        let dir = tempfile::tempdir().unwrap();
        let db = outbox(&dir);
        let mut read = 0;
        loop {
            let pass = run(&db, 20_000, HOUR, limit).unwrap();
            if pass.read == 0 {
                break;
            }
            read += pass.read;
        }
        assert_eq!(read, SESSION.len());
        assert_eq!(db.meta("assembled_through").unwrap().as_deref(), Some("10"));
        let marks: Vec<(String, Option<String>, Option<i64>)> = db
            .conn()
            .prepare("SELECT kind, call_id, turn FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        results.push((spans(&db), marks));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    let (spans, marks) = &results[0];
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let agent = spans.iter().find(|s| s.kind == SpanKind::Subagent).unwrap();
    assert_eq!(agent.parent, Some((SpanKind::Tool, "t2".into())));
    let bash = spans
        .iter()
        .find(|s| s.call.as_deref() == Some("t1"))
        .unwrap();
    assert!(bash.failed);
    let turn = spans.iter().find(|s| s.kind == SpanKind::Turn).unwrap();
    assert_eq!((turn.end_event, turn.incomplete), (Some(9), false));
    assert_eq!(
        marks[5],
        ("tool.failure".into(), Some("t1".into()), Some(1))
    );
    assert_eq!(marks[9], ("prompt.submit".into(), None, Some(2)));
}

#[test]
fn spans_leave_the_table_once_their_carrier_is_delivered_and_their_turn_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let db = outbox(&dir);
    run(&db, 20_000, HOUR, 100).unwrap();
    let count = |db: &Outbox| -> i64 {
        db.conn()
            .query_row("SELECT count(*) FROM spans", [], |r| r.get(0))
            .unwrap()
    };
    // Four closed, the second turn open.
    assert_eq!(count(&db), 5);
    db.conn()
        .execute("UPDATE events SET state = 'delivered'", [])
        .unwrap();
    let fields = Fields {
        client: "claude-code".into(),
        event: "Notification".into(),
        session_id: Some("s".into()),
        cwd: None,
        tool: None,
    };
    db.insert(11_000, &fields, "{}").unwrap();
    run(&db, 20_000, HOUR, 100).unwrap();
    assert_eq!(count(&db), 1, "only the open turn is left");
}
