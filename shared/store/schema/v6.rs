//! Outbox schema version 6: the closed spans a row carries out live beside it, in
//! `carried` (keyed by the row's id), not in a column of the row. Assembly closes a span
//! after the hook inserted its carrier, when the row's page is already full: growing the
//! row by its spans' JSON split that page and its neighbours on most carriers, and cost
//! the drain more than the rest of assembly together (`make bench`, traces). A `carried`
//! row is appended in id order, as the hook appends events, so its pages fill in place.
//! A trigger removes a row's spans with the row, whatever deletes it. `events.spans` stays,
//! always empty from here on: dropping a column rewrites every row of the outbox.
//! The step itself is `if found < 6` in `schema`; this file holds what it runs. Later
//! versions write each row's spans as a protobuf blob (`shared::assemble::record`) in the
//! same column, and still read the JSON text this step moved.

pub(super) const SCHEMA_V6: &str = "
CREATE TABLE IF NOT EXISTS carried (
    event_id INTEGER PRIMARY KEY, -- the events row that carries these spans out
    spans    TEXT NOT NULL        -- the row's closed spans: a protobuf record, JSON before
);
INSERT INTO carried (event_id, spans)
    SELECT id, spans FROM events WHERE spans IS NOT NULL;
UPDATE events SET spans = NULL WHERE spans IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS carried_go_with_their_row AFTER DELETE ON events
BEGIN
    DELETE FROM carried WHERE event_id = old.id;
END;
";

#[cfg(test)]
mod tests {
    use super::super::v4::SCHEMA_V4;
    use super::super::v5::SCHEMA_V5;
    use super::super::{SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION, raw_outbox};
    use crate::shared::assemble::claimed;
    use crate::shared::paths::Paths;
    use crate::shared::store::{OpenOptions, Outbox};

    const TOOL: &str = r#"[{"session":"s","turn":1,"kind":"tool","call":"t1","parent":null,"client":"claude-code","name":"Bash","model":null,"start_event":1,"start_ms":1,"end_event":2,"end_ms":2,"failed":false,"incomplete":false,"arguments":null}]"#;

    #[test]
    fn a_version_5_outbox_moves_each_rows_spans_beside_it_and_they_go_with_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let steps = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];
        let raw = raw_outbox(&dir, &steps, 5);
        for (id, event) in [(1, "PreToolUse"), (2, "PostToolUse"), (3, "Stop")] {
            raw.execute(
                "INSERT INTO events (id, received_ms, client, event, session_id, payload, size)
                 VALUES (?1, ?1, 'claude-code', ?2, 's', '{}', 2)",
                rusqlite::params![id, event],
            )
            .unwrap();
        }
        raw.execute("UPDATE events SET spans = ?1 WHERE id = 2", [TOOL])
            .unwrap();
        drop(raw);

        let db = Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap();
        assert_eq!(db.user_version().unwrap(), SCHEMA_VERSION);
        let carried = claimed::read(&db, &[1, 2, 3]).unwrap().0;
        assert_eq!(carried.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(carried[&2][0].call.as_deref(), Some("t1"));
        let count = |sql: &str| -> i64 { db.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM events WHERE spans IS NOT NULL"),
            0
        );

        // Whatever deletes a row (an ack, a trim, difflorectl) deletes its spans.
        db.conn()
            .execute("DELETE FROM events WHERE id IN (1, 3)", [])
            .unwrap();
        assert_eq!(count("SELECT count(*) FROM carried"), 1);
        db.conn()
            .execute("DELETE FROM events WHERE id = 2", [])
            .unwrap();
        assert_eq!(count("SELECT count(*) FROM carried"), 0);
    }
}
