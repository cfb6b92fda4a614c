//! Outbox schema version 5: a closed span lives in the row that carries it out (the
//! `spans` column of `events`, a JSON array), not in a row of its own. Assembly marks
//! every event in any case, so writing its spans there adds bytes to a row already being
//! written instead of an insert into `spans` with two index entries, an update moving
//! both, and a delete sweeping them later: that was most of what traces cost the drain.
//! The `spans` table keeps only what is open, by row id alone (nothing looks its rows up
//! any other way), and a closed span goes with its carrier.
//! The step itself is `if found < 5` in `schema`; this file holds what it runs.

/// Every closed span moves into its carrier's `spans`, in the order it was stored, with
/// the field names `shared::assemble::Span` reads; then the table's indexes go.
pub(super) const SCHEMA_V5: &str = "
ALTER TABLE events ADD COLUMN spans TEXT;

UPDATE events SET spans = (
    SELECT json_group_array(json(one)) FROM (
        SELECT json_object(
            'session', s.session_id, 'turn', s.turn, 'kind', s.kind, 'call', s.call_id,
            'parent', CASE WHEN s.parent_kind IS NULL OR s.parent_call IS NULL THEN NULL
                           ELSE json_array(s.parent_kind, s.parent_call) END,
            'client', s.client, 'name', s.name, 'model', s.model,
            'start_event', s.start_event, 'start_ms', s.start_ms,
            'end_event', s.end_event, 'end_ms', s.end_ms,
            'failed', json(CASE WHEN s.failed THEN 'true' ELSE 'false' END),
            'incomplete', json(CASE WHEN s.incomplete THEN 'true' ELSE 'false' END),
            'arguments', s.arguments) AS one
        FROM spans s WHERE s.end_event = events.id ORDER BY s.id))
WHERE id IN (SELECT end_event FROM spans WHERE end_event IS NOT NULL);

DELETE FROM spans WHERE end_event IS NOT NULL;
DROP INDEX IF EXISTS spans_open;
DROP INDEX IF EXISTS spans_closed_by;
";

#[cfg(test)]
mod tests {

    use super::super::v4::SCHEMA_V4;
    use super::super::{SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION, raw_outbox};
    use crate::shared::assemble::claimed;
    use crate::shared::assemble::{Span, SpanKind};
    use crate::shared::paths::Paths;
    use crate::shared::store::{OpenOptions, Outbox};

    #[test]
    fn a_version_4_outbox_moves_its_closed_spans_into_their_carriers() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw_outbox(&dir, &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4], 4);
        for (id, event) in [(1, "PreToolUse"), (2, "PostToolUse"), (3, "PreToolUse")] {
            raw.execute(
                "INSERT INTO events (id, received_ms, client, event, session_id, payload, size)
                 VALUES (?1, ?1, 'claude-code', ?2, 's', '{}', 2)",
                rusqlite::params![id, event],
            )
            .unwrap();
        }
        // A closed tool call carried by row 2 (failed, content kept, a quote in its
        // arguments), a closed turn carried by it too, and a call still open.
        raw.execute_batch(
            r#"INSERT INTO spans (session_id, turn, kind, call_id, parent_kind, parent_call,
                client, name, model, start_event, start_ms, end_event, end_ms, failed,
                incomplete, arguments) VALUES
             ('s', 1, 'tool', 't1', 'subagent', 'ag', 'claude-code', 'Bash', NULL, 1, 1, 2, 2,
              1, 0, '{"command":"echo \"hi\""}'),
             ('s', 1, 'turn', NULL, NULL, NULL, 'claude-code', NULL, 'claude-x', 1, 1, 2, 2,
              0, 1, NULL),
             ('s', 2, 'tool', 't2', NULL, NULL, 'claude-code', 'Read', NULL, 3, 3, NULL, NULL,
              0, 0, NULL);"#,
        )
        .unwrap();
        drop(raw);

        let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
        assert_eq!(db.user_version().unwrap(), SCHEMA_VERSION);
        let carried = claimed::read(&db, &[1, 2, 3]).unwrap().0;
        assert_eq!(carried.len(), 1, "{carried:#?}");
        let tool = Span {
            session: "s".into(),
            turn: 1,
            kind: SpanKind::Tool,
            call: Some("t1".into()),
            parent: Some((SpanKind::Subagent, "ag".into())),
            client: "claude-code".into(),
            name: Some("Bash".into()),
            model: None,
            start_event: 1,
            start_ms: 1,
            end_event: Some(2),
            end_ms: Some(2),
            failed: true,
            incomplete: false,
            arguments: Some(r#"{"command":"echo \"hi\""}"#.into()),
        };
        let turn = Span {
            kind: SpanKind::Turn,
            call: None,
            parent: None,
            name: None,
            model: Some("claude-x".into()),
            failed: false,
            incomplete: true,
            arguments: None,
            ..tool.clone()
        };
        assert_eq!(carried[&2], [tool, turn]);
        let (open, indexes): (i64, i64) = db
            .conn()
            .query_row(
                "SELECT (SELECT count(*) FROM spans WHERE end_event IS NULL AND call_id = 't2'),
                        (SELECT count(*) FROM sqlite_master WHERE tbl_name = 'spans'
                         AND type = 'index')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (open, indexes),
            (1, 0),
            "the open call stays, the indexes go"
        );
        let left: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM spans", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }
}
