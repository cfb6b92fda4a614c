//! A claimed batch's turns and their tokens: the rows that end a turn (`turn.stop`) and the
//! turn spans the batch carries out are given the usage recorded for that turn, read from
//! the transcripts just before (so a turn's own responses are counted when it ends). Model
//! names are the only captured strings here; they are redacted in `prepare` like the rest.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::shared::assemble::SpanKind;
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::Kind;

use super::super::queue::Claimed;

/// A turn's tokens, summed over its model responses. `input` is the uncached input, as
/// in the `usage` view; the trace exporter adds the cache's parts back for
/// `gen_ai.usage.input_tokens`, which includes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    pub models: Vec<String>,
}

/// Give each row that ends a turn, and each turn span in the batch, its turn's tokens.
/// A turn with no recorded response keeps `None`: unknown, not zero.
pub fn attach(outbox: &Outbox, batch: &mut [Claimed], now_ms: i64) -> Result<(), StoreError> {
    let conn = outbox.conn();
    let sql = |e| outbox.sql(e);
    let mut own_turn = BTreeMap::new();
    let mut wanted = BTreeSet::new();
    for row in batch.iter() {
        if row.kind.as_deref() == Some(Kind::TurnStop.as_str()) {
            let turn: Option<(Option<String>, Option<i64>)> = conn
                .prepare_cached("SELECT session_id, turn FROM events WHERE id = ?1")
                .map_err(sql)?
                .query_row([row.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(sql)?;
            if let Some((Some(session), Some(turn))) = turn {
                wanted.insert((session.clone(), turn));
                own_turn.insert(row.id, (session, turn));
            }
        }
        for span in row.spans.iter().filter(|s| s.kind == SpanKind::Turn) {
            wanted.insert((span.session.clone(), span.turn));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    // The transcripts as they stand now: the turn's last responses were written before
    // the agent ran its end-of-turn hook.
    super::pass(outbox, now_ms)?;
    let sessions: BTreeSet<&String> = wanted.iter().map(|(s, _)| s).collect();
    for session in sessions {
        super::attribute(conn, session).map_err(sql)?;
    }
    let mut found = BTreeMap::new();
    let mut sum = conn
        .prepare_cached(
            "SELECT count(*), total(input), total(output), total(cache_read),
                    total(cache_write), group_concat(DISTINCT model)
             FROM usage WHERE session_id = ?1 AND turn = ?2",
        )
        .map_err(sql)?;
    for (session, turn) in wanted {
        let (n, input, output, cache_read, cache_write, models) = sum
            .query_row(rusqlite::params![session, turn], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)? as i64,
                    r.get::<_, f64>(2)? as i64,
                    r.get::<_, f64>(3)? as i64,
                    r.get::<_, f64>(4)? as i64,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(sql)?;
        if n == 0 {
            continue;
        }
        let mut models: Vec<String> = models
            .map(|m| m.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        models.sort();
        let tokens = Tokens {
            input,
            output,
            cache_read,
            cache_write,
            models,
        };
        found.insert((session, turn), tokens);
    }
    for row in batch.iter_mut() {
        if let Some(key) = own_turn.get(&row.id) {
            row.turn_usage = found.get(key).cloned();
        }
        for span in row.spans.iter().filter(|s| s.kind == SpanKind::Turn) {
            if let Some(t) = found.get(&(span.session.clone(), span.turn)) {
                row.span_usage
                    .insert((span.session.clone(), span.turn), t.clone());
            }
        }
    }
    Ok(())
}
