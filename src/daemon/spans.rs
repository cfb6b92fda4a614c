//! The daemon's side of trace assembly: run `shared::assemble` over new rows in each
//! claim's own transaction (so every claimed row already carries the spans it closes), hand
//! each claimed row its spans and the span it belongs to, and the outgoing span record
//! those become in `prepare`, every captured string in it redacted there. Never encodes or
//! sends.

use crate::shared::assemble::{
    self, Assembled, Assembler, Event, Member, Settings, SpanKind, claimed, ids, store,
};
use crate::shared::config::Config;
use crate::shared::store::{Outbox, StoreError};
use crate::shared::vocabulary::kind_of;

use super::queue::{self, Claimed, Take};
use super::usage::turns::Tokens;

/// Rows folded in per transaction: hooks wait for the write lock no longer than this takes.
const ROWS_PER_PASS: usize = 1000;

/// One span as it leaves the machine. Ids are difflore's own (hashes); every string came
/// through the redactor. Times are the capture times of the events that start and end it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSpan {
    pub kind: SpanKind,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `None` for a turn: the root of its trace.
    pub parent_span_id: Option<[u8; 8]>,
    /// A turn's link to the turn before it in its session.
    pub previous_turn: Option<([u8; 16], [u8; 8])>,
    pub turn: i64,
    pub client: String,
    pub session_id: String,
    /// Tool name, or subagent type.
    pub name: Option<String>,
    /// Tool: the agent's own call id (none when difflore made one up); subagent: agent id.
    pub call_id: Option<String>,
    pub model: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub failed: bool,
    pub incomplete: bool,
    /// A turn's tokens (`prepare` sets them), for the `gen_ai.usage.*` attributes.
    pub usage: Option<Tokens>,
    /// A tool call's arguments and result (`otlp_content` only): redacted, then cut.
    pub arguments: Option<String>,
    pub result: Option<String>,
}

/// The keys `OutSpan::build` hands tool call content to `redact` under.
pub const ARGUMENTS: &str = "gen_ai.tool.call.arguments";
pub const RESULT: &str = "gen_ai.tool.call.result";

impl OutSpan {
    /// The outgoing record of a closed span: ids from the raw values (hashes only), every
    /// string through `redact(key, value)`; a tool call's content (`result`, from the event
    /// that ends it, and its arguments) under `ARGUMENTS` and `RESULT`.
    pub fn build(
        span: assemble::Span,
        install: &ids::InstallIds,
        result: Option<String>,
        mut redact: impl FnMut(&str, String) -> String,
    ) -> OutSpan {
        let ids = install.session(&span.session);
        let trace_id = ids.trace_id(span.turn);
        let span_id = ids.span_id(span.turn, span.kind, span.call.as_deref());
        let parent_span_id = match (&span.kind, &span.parent) {
            (SpanKind::Turn, _) => None,
            (_, Some((kind, call))) => Some(ids.span_id(span.turn, *kind, Some(call))),
            (_, None) => Some(ids.span_id(span.turn, SpanKind::Turn, None)),
        };
        let previous_turn = (span.kind == SpanKind::Turn && span.turn > 1).then(|| {
            let n = span.turn - 1;
            (ids.trace_id(n), ids.span_id(n, SpanKind::Turn, None))
        });
        let call_id = span
            .call
            .filter(|c| span.kind != SpanKind::Turn && assemble::is_agents_call_id(c));
        OutSpan {
            kind: span.kind,
            trace_id,
            span_id,
            parent_span_id,
            previous_turn,
            turn: span.turn,
            client: redact("client", span.client),
            session_id: redact("session_id", span.session),
            name: span.name.map(|v| redact("tool", v)),
            call_id: call_id.map(|v| redact("call_id", v)),
            model: span.model.map(|v| redact("model", v)),
            start_ms: span.start_ms,
            end_ms: span.end_ms.unwrap_or(span.start_ms),
            failed: span.failed,
            incomplete: span.incomplete,
            usage: None,
            arguments: span.arguments.map(|v| redact(ARGUMENTS, v)),
            result: result.map(|v| redact(RESULT, v)),
        }
    }
}

/// The trace and span ids of the span an event belongs to, for its log record.
pub fn ids_of(member: &Member, install: &ids::InstallIds) -> ([u8; 16], [u8; 8]) {
    let ids = install.session(&member.session);
    (
        ids.trace_id(member.turn),
        ids.span_id(member.turn, member.kind, member.call.as_deref()),
    )
}

/// How assembly runs under `config`.
pub fn settings(config: &Config) -> Settings {
    Settings {
        close_after: config.span_close_after,
        content: config.otlp_content,
    }
}

/// Fold every row not yet assembled into the span tables, a transaction per
/// `ROWS_PER_PASS`. Returns how many rows were read.
pub fn assemble_all(
    assembler: &mut Assembler,
    outbox: &Outbox,
    now_ms: i64,
    settings: Settings,
) -> Result<usize, StoreError> {
    let mut read = 0;
    loop {
        let pass = assembler.run(outbox, now_ms, settings, ROWS_PER_PASS, i64::MAX)?;
        read += pass.read;
        if pass.read < ROWS_PER_PASS {
            return Ok(read);
        }
    }
}

/// Claim what `take` allows (a batch, or a piece of one) and, in the claim's own
/// transaction, assemble every row up to the last one claimed: one commit, and no row
/// leaves unassembled. When the rows to claim follow the assembly cursor without a gap (a
/// drain that keeps up: every batch but the first after a retry), assembly reads them from
/// the claim and each row is written once, its claim and its mark together; otherwise
/// assembly reads the rows up to the last one itself first. `with_spans` (a sink that sends
/// traces) also gives each row its spans (`attach`), read in the same transaction. On any
/// error the claim is undone with the pass.
pub fn claim(
    assembler: &mut Assembler,
    outbox: &Outbox,
    now_ms: i64,
    config: &Config,
    take: Take,
    with_spans: bool,
) -> Result<Vec<Claimed>, StoreError> {
    let conn = outbox.conn();
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| outbox.sql(e))?;
    let claimed = (|| {
        let mut batch = queue::due(outbox, now_ms, take)?;
        let Some(last) = batch.last().map(|c| c.id) else {
            return Ok(batch);
        };
        let settings = settings(config);
        let mut through = store::cursor(outbox)?;
        let fresh = batch.partition_point(|c| c.id <= through);
        // Ids are unique and in order: as many rows as ids in (through, last] is all of them.
        let done = if last > through && (batch.len() - fresh) as i64 == last - through {
            let events: Vec<Event> = batch[fresh..]
                .iter()
                .map(|c| {
                    Event::of_row(
                        c.id,
                        c.received_ms,
                        c.client.clone(),
                        &c.event,
                        c.session_id.clone(),
                        c.tool.clone(),
                        &c.payload,
                        settings.content,
                    )
                })
                .collect();
            let done = assembler.run_on(outbox, now_ms, settings, &events, last)?;
            through = last;
            Some(done)
        } else {
            while through < last {
                let pass = assembler.run(outbox, now_ms, settings, ROWS_PER_PASS, last)?;
                if pass.read == 0 {
                    break;
                }
                through = store::cursor(outbox)?;
            }
            None
        };
        // Rows assembly could not reach (none, unless the outbox is damaged) stay pending.
        batch.retain(|c| c.id <= through);
        let marks = done.as_ref().map_or(&[][..], |d| &d.marks[..]);
        queue::claim_rows(outbox, now_ms, &mut batch, marks)?;
        for row in &mut batch {
            // Read before this claim assembled it (the path after a gap): the kind is the
            // vocabulary's, as its mark now says.
            row.kind
                .get_or_insert_with(|| kind_of(&row.client, &row.event).as_str().to_owned());
        }
        if with_spans {
            match done {
                Some(done) => {
                    // The rows assembled just now have their spans and marks at hand.
                    attach(outbox, &mut batch[..fresh])?;
                    given(&mut batch[fresh..], done);
                }
                None => attach(outbox, &mut batch)?,
            }
        }
        Ok(batch)
    })();
    let end = if claimed.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    match conn.execute_batch(end) {
        Ok(()) => claimed,
        Err(e) => {
            if claimed.is_ok() {
                // A failed COMMIT may leave the transaction open: close it before retrying.
                let _ = conn.execute_batch("ROLLBACK");
            }
            claimed.and(Err(outbox.sql(e)))
        }
    }
}

/// Give each of `rows`, assembled by `done` (a mark each, in order), the spans `done`
/// closed that it carries out and the span it belongs to, as `attach` would read them.
fn given(rows: &mut [Claimed], done: Assembled) {
    let mut carried = assemble::by_carrier(done.closed);
    for (row, mark) in rows.iter_mut().zip(done.marks) {
        debug_assert_eq!(row.id, mark.id);
        row.spans = carried.remove(&row.id).unwrap_or_default();
        row.member = claimed::member(
            row.session_id.clone(),
            Some(mark.kind),
            mark.call,
            mark.turn,
            &row.spans,
        );
    }
}

/// Give each claimed row (every one assembled) the closed spans it carries out and the
/// span it belongs to, read from what assembly wrote.
fn attach(outbox: &Outbox, batch: &mut [Claimed]) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows: Vec<i64> = batch.iter().map(|c| c.id).collect();
    let (mut carried, mut members) = claimed::read(outbox, &rows)?;
    for row in batch.iter_mut() {
        row.spans = carried.remove(&row.id).unwrap_or_default();
        row.member = members.remove(&row.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The claim's assembly against assembly alone: whatever mix of inserts, rejected rows,
    //! rows not yet due, silences, claims of any size, releases, retries and restarts,
    //! every row is sent once, and ends with the marks, the carried spans and the span it
    //! belongs to that one plain pass over the same rows gives; the claims hand out each
    //! row's kind and carried spans exactly as stored.

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::shared::event::Fields;
    use crate::shared::paths::Paths;
    use crate::shared::store::OpenOptions;

    const NOW: i64 = 1_700_000_100_000;

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            event: usize,
            session: usize,
            call: usize,
        },
        Reject,
        /// The newest row waits an hour (a pending row past the cursor the claim skips).
        Defer,
        /// Two hours of silence: each session's next event closes what it left open.
        Pause,
        Claim {
            size: usize,
            then: Then,
        },
        Restart,
    }

    #[derive(Debug, Clone, Copy)]
    enum Then {
        Ack,
        Release,
        Retry,
    }

    const EVENTS: [&str; 9] = [
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "Stop",
        "SessionStart",
        "SessionEnd",
        "SubagentStart",
        "SubagentStop",
    ];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..EVENTS.len(), 0..2usize, 0..3usize)
                .prop_map(|(event, session, call)| Op::Insert { event, session, call }),
            1 => Just(Op::Reject),
            1 => Just(Op::Defer),
            1 => Just(Op::Pause),
            3 => (1..8usize, prop_oneof![
                    4 => Just(Then::Ack), 1 => Just(Then::Release), 1 => Just(Then::Retry)
                ])
                .prop_map(|(size, then)| Op::Claim { size, then }),
            1 => Just(Op::Restart),
        ]
    }

    fn open(dir: &tempfile::TempDir) -> Outbox {
        Outbox::open(&Paths::at(dir.path()), OpenOptions::long_lived()).unwrap()
    }

    fn insert(db: &Outbox, at: i64, event: usize, session: usize, call: usize) {
        let name = EVENTS[event];
        let tool = name.contains("Tool").then(|| "Bash".to_owned());
        let payload = format!(
            r#"{{"hook_event_name":"{name}","tool_use_id":"c{call}","agent_id":"a{call}"}}"#
        );
        let fields = Fields {
            client: "claude-code".into(),
            event: name.into(),
            session_id: Some(format!("s{session}")),
            cwd: None,
            tool,
        };
        db.insert(at, &fields, &payload).unwrap();
    }

    /// Each row's marks, and the spans it carries, as stored.
    fn stored(db: &Outbox) -> Vec<String> {
        let mut stmt = db
            .conn()
            .prepare(
                "SELECT e.id, e.kind, e.call_id, e.turn, c.spans FROM events e
                 LEFT JOIN carried c ON c.event_id = e.id ORDER BY e.id",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok(format!(
                "{:?}|{:?}|{:?}|{:?}|{:?}",
                r.get_ref(0)?,
                r.get_ref(1)?,
                r.get_ref(2)?,
                r.get_ref(3)?,
                r.get_ref(4)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    type Sent = HashMap<i64, (Option<String>, Vec<assemble::Span>, Option<Member>)>;

    fn claim_and(
        db: &Outbox,
        assembler: &mut Assembler,
        size: usize,
        then: Then,
        sent: &mut Sent,
    ) -> usize {
        let config = Config {
            batch_max_events: size,
            ..Config::default()
        };
        let batch = claim(assembler, db, NOW, &config, Take::batch(&config), true).unwrap();
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        match then {
            Then::Ack => {
                for row in batch {
                    let first = sent.insert(row.id, (row.kind, row.spans, row.member));
                    assert!(first.is_none(), "row {} acknowledged twice", row.id);
                }
                queue::ack(db, &ids, true).unwrap();
            }
            Then::Release => queue::release(db, &ids).unwrap(),
            Then::Retry => {
                queue::retry_later(db, &ids, NOW, NOW, i64::MIN, "try again").unwrap();
            }
        }
        ids.len()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn claims_assemble_as_one_pass_does(ops in proptest::collection::vec(op(), 0..50)) {
            let (dir, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (db, plain) = (open(&dir), open(&reference));
            let mut assembler = Assembler::default();
            let mut sent = Sent::new();
            let mut at = NOW - 60_000;
            for op in ops {
                at += 10;
                match op {
                    Op::Insert { event, session, call } => {
                        insert(&db, at, event, session, call);
                        insert(&plain, at, event, session, call);
                    }
                    Op::Reject => {
                        for d in [&db, &plain] {
                            d.insert_rejected(at, None, "not JSON", b"{", 1).unwrap();
                        }
                    }
                    Op::Defer => {
                        db.conn()
                            .execute(
                                "UPDATE events SET next_attempt_ms = ?1
                                 WHERE id = (SELECT max(id) FROM events) AND state = 'pending'",
                                [NOW + 3_600_000],
                            )
                            .unwrap();
                    }
                    Op::Pause => at += 2 * 3_600_000,
                    Op::Claim { size, then } => {
                        claim_and(&db, &mut assembler, size, then, &mut sent);
                    }
                    Op::Restart => assembler = Assembler::default(),
                }
            }
            queue::wake_waiting(&db, NOW).unwrap();
            while claim_and(&db, &mut assembler, 5, Then::Ack, &mut sent) > 0 {}

            assemble_all(&mut Assembler::default(), &plain, NOW, Settings::default()).unwrap();
            prop_assert_eq!(stored(&db), stored(&plain));
            let ids: Vec<i64> = sent.keys().copied().collect();
            let (mut carried, mut members) = claimed::read(&plain, &ids).unwrap();
            let events: i64 = plain
                .conn()
                .query_row("SELECT count(*) FROM events WHERE state != 'rejected'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            prop_assert_eq!(sent.len() as i64, events, "every event sent once");
            for (id, (kind, spans, member)) in sent {
                let stored: Option<String> = plain
                    .conn()
                    .query_row("SELECT kind FROM events WHERE id = ?1", [id], |r| r.get(0))
                    .unwrap();
                prop_assert_eq!(kind, stored, "row {}", id);
                prop_assert_eq!(spans, carried.remove(&id).unwrap_or_default(), "row {}", id);
                prop_assert_eq!(member, members.remove(&id), "row {}", id);
            }
        }
    }
}
