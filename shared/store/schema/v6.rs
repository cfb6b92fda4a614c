//! Outbox schema version 6: the closed spans a row carries out live beside it, in
//! `carried` (keyed by the row's id), not in a column of the row. Assembly closes a span
//! after the hook inserted its carrier, when the row's page is already full: growing the
//! row by its spans' JSON split that page and its neighbours on most carriers, and cost
//! the drain more than the rest of assembly together (`make bench`, traces). A `carried`
//! row is appended in id order, as the hook appends events, so its pages fill in place.
//! A trigger removes a row's spans with the row, whatever deletes it. `events.spans` stays,
//! always empty from here on: dropping a column rewrites every row of the outbox.
//! The step itself is `if found < 6` in `schema`; this file holds what it runs.

pub(super) const SCHEMA_V6: &str = "
CREATE TABLE IF NOT EXISTS carried (
    event_id INTEGER PRIMARY KEY, -- the events row that carries these spans out
    spans    TEXT NOT NULL        -- JSON array of `shared::assemble::Span`
);
INSERT INTO carried (event_id, spans)
    SELECT id, spans FROM events WHERE spans IS NOT NULL;
UPDATE events SET spans = NULL WHERE spans IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS carried_go_with_their_row AFTER DELETE ON events
BEGIN
    DELETE FROM carried WHERE event_id = old.id;
END;
";
