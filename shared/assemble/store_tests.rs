//! Assembly through the outbox: passes of any size, with the state kept in memory between
//! them or read back from the tables, give what one pass gives; marks land on the rows.

use std::time::Duration;

use super::claimed;
use super::store::{Assembler, Settings};
use super::*;
use crate::shared::event::Fields;
use crate::shared::paths::Paths;
use crate::shared::store::{OpenOptions, Outbox};

const HOUR: Duration = Duration::from_secs(3600);

/// One pass; `fresh` forgets the state kept in memory first, as a restarted daemon does.
fn run(db: &Outbox, assembler: &mut Assembler, fresh: bool, limit: usize) -> super::store::Pass {
    if fresh {
        *assembler = Assembler::default();
    }
    let settings = Settings {
        close_after: HOUR,
        content: false,
    };
    assembler
        .run(db, 20_000, settings, limit, i64::MAX)
        .unwrap()
}

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
    let mut by_row: Vec<(i64, Vec<Span>)> =
        claimed::read(db, &ids).unwrap().0.into_iter().collect();
    by_row.sort_by_key(|(row, _)| *row);
    by_row.into_iter().flat_map(|(_, s)| s).collect()
}

/// The span tables as stored (the open turn's spans and sessions included), row ids aside.
fn tables(db: &Outbox) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT session_id, turn, kind, call_id, parent_kind, parent_call, client, name, model,
                start_event, start_ms, end_event, end_ms, failed, incomplete, arguments
         FROM spans ORDER BY session_id, turn, kind, call_id",
        "SELECT session_id, client, turns, open_turn, last_ms, ended_ms FROM span_sessions",
        "SELECT e.id, e.kind, e.call_id, e.turn, c.spans FROM events e
         LEFT JOIN carried c ON c.event_id = e.id ORDER BY e.id",
    ] {
        let mut stmt = db.conn().prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(cells.join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[test]
fn passes_of_any_size_through_the_tables_agree() {
    let mut results = Vec::new();
    for (limit, fresh) in [(1, false), (1, true), (3, false), (3, true), (100, false)] {
        let dir = tempfile::tempdir().unwrap();
        let db = outbox(&dir);
        let mut assembler = Assembler::default();
        let mut read = 0;
        loop {
            let pass = run(&db, &mut assembler, fresh, limit);
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
        results.push((spans(&db), marks, tables(&db)));
    }
    for other in &results[1..] {
        assert_eq!(&results[0], other);
    }
    let (spans, marks, _) = &results[0];
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
fn the_table_holds_only_open_spans_and_closed_ones_go_with_their_carrier() {
    let dir = tempfile::tempdir().unwrap();
    let db = outbox(&dir);
    let mut assembler = Assembler::default();
    run(&db, &mut assembler, false, 100);
    let count = |db: &Outbox| -> i64 {
        db.conn()
            .query_row("SELECT count(*) FROM spans", [], |r| r.get(0))
            .unwrap()
    };
    // The second turn is open; the four closed spans are in their carriers.
    assert_eq!(count(&db), 1);
    let carried = spans(&db);
    assert_eq!(carried.len(), 4, "{carried:#?}");
    assert!(carried.iter().all(|s| s.end_event.is_some()));
    db.conn()
        .execute("DELETE FROM events WHERE id < 10", [])
        .unwrap();
    assert!(
        spans(&db).is_empty(),
        "delivered, their spans went with them"
    );
    // A restarted daemon finds the open turn where it was.
    run(&db, &mut assembler, true, 100);
    assert_eq!(count(&db), 1);
}

#[test]
fn after_a_restart_a_start_repeated_in_the_open_turn_makes_no_second_span() {
    let dir = tempfile::tempdir().unwrap();
    let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
    let insert = |at: i64, event: &str, tool: Option<&str>, payload: &str| {
        let fields = Fields {
            client: "claude-code".into(),
            event: event.into(),
            session_id: Some("s".into()),
            cwd: None,
            tool: tool.map(str::to_owned),
        };
        db.insert(at, &fields, payload).unwrap();
    };
    insert(1_000, "UserPromptSubmit", None, "{}");
    insert(2_000, "PreToolUse", Some("Bash"), r#"{"tool_use_id":"t1"}"#);
    insert(
        3_000,
        "PostToolUse",
        Some("Bash"),
        r#"{"tool_use_id":"t1"}"#,
    );
    let mut assembler = Assembler::default();
    run(&db, &mut assembler, false, 100);
    // The hook registered twice: the same start again, seen by a restarted daemon.
    insert(3_001, "PreToolUse", Some("Bash"), r#"{"tool_use_id":"t1"}"#);
    insert(4_000, "Stop", None, "{}");
    run(&db, &mut assembler, true, 100);
    let tools: Vec<Span> = spans(&db)
        .into_iter()
        .filter(|s| s.kind == SpanKind::Tool)
        .collect();
    assert_eq!(tools.len(), 1, "{tools:#?}");
    assert!(!tools[0].incomplete);
}

#[test]
fn spans_stored_as_anything_but_their_text_carry_nothing_and_stop_no_claim() {
    let dir = tempfile::tempdir().unwrap();
    let db = outbox(&dir);
    let mut assembler = Assembler::default();
    run(&db, &mut assembler, false, 100);
    let ids: Vec<i64> = (1..=SESSION.len() as i64).collect();
    let (carried, members) = claimed::read(&db, &ids).unwrap();
    assert!(!carried.is_empty());
    // A damaged database: one carrier's spans a blob, another's not UTF-8, a third's not JSON.
    let rows: Vec<i64> = carried.keys().copied().collect();
    for (row, value) in rows.iter().zip([
        rusqlite::types::Value::Blob(b"[]".to_vec()),
        rusqlite::types::Value::Integer(7),
        rusqlite::types::Value::Text("[{\"session\":".into()),
    ]) {
        db.conn()
            .execute(
                "UPDATE carried SET spans = ?2 WHERE event_id = ?1",
                rusqlite::params![row, value],
            )
            .unwrap();
    }
    let (after, after_members) = claimed::read(&db, &ids).unwrap();
    for row in rows.iter().take(3) {
        assert!(!after.contains_key(row), "row {row}: {after:#?}");
    }
    assert_eq!(
        after_members.len(),
        members.len(),
        "every event keeps its span"
    );
}
