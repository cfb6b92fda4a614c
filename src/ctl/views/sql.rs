//! The documented views `query`, `sessions` and `show` read: `events`, `sessions`,
//! `tool_calls`, `turns` and `usage`. They are the stable interface over the outbox tables
//! (README, "Local history"), created as TEMP views on difflorectl's own read-only
//! connection, so they cost the outbox nothing and change with the binary, not the file.
//! The kinds and call ids they group by are the assembler's (`shared::assemble`); nothing
//! here pairs or classifies events itself.

/// The views, in the order the README documents them.
pub const VIEW_NAMES: [&str; 5] = ["events", "sessions", "tool_calls", "turns", "usage"];

/// An epoch-millisecond column as RFC 3339 UTC text with milliseconds (sorts as time does).
macro_rules! iso {
    ($ms:literal) => {
        concat!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', ",
            $ms,
            " / 1000.0, 'unixepoch')"
        )
    };
}

/// Per-session figures one pass over the history index gives: everything of a session but
/// its tool calls (a distinct count) and its tokens (another table). The `sessions` view
/// and `difflorectl sessions` (which counts tool calls only for the sessions it shows)
/// both build on it.
macro_rules! session_totals {
    () => {
        "SELECT session_id, min(id) AS first_id, min(received_ms) AS started_ms,
             max(received_ms) AS last_ms,
             max(received_ms) FILTER (WHERE kind = 'session.end') AS ended_ms,
             count(*) AS events,
             count(*) FILTER (WHERE kind = 'prompt.submit') AS prompts,
             count(*) FILTER (WHERE kind = 'tool.failure') AS tool_failures
      FROM main.events WHERE session_id IS NOT NULL GROUP BY session_id"
    };
}
pub(crate) use session_totals;

/// A session's tool calls: its distinct call ids among tool events (`$s`: the session id).
macro_rules! tool_calls_of {
    ($s:literal) => {
        concat!(
            "(SELECT count(DISTINCT call_id) FROM main.events c WHERE c.session_id = ",
            $s,
            " AND c.kind IN ('tool.pre', 'tool.post', 'tool.failure'))"
        )
    };
}
pub(crate) use tool_calls_of;

/// A TEMP view named like a `main` table hides it for unqualified names, so every view reads
/// `main.` tables explicitly.
pub const VIEWS: &str = concat!(
    "
CREATE TEMP VIEW events AS
SELECT id, ",
    iso!("received_ms"),
    " AS at, received_ms AS at_ms, client, event, kind, session_id, cwd, tool, call_id, turn,
       state, payload
FROM main.events WHERE state != 'rejected';

CREATE TEMP VIEW tool_calls AS
SELECT session_id, call_id, max(tool) AS tool, max(turn) AS turn, client,
       ",
    iso!("coalesce(min(received_ms) FILTER (WHERE kind = 'tool.pre'), min(received_ms))"),
    " AS started_at,
       coalesce(min(received_ms) FILTER (WHERE kind = 'tool.pre'), min(received_ms))
           AS started_ms,
       max(received_ms) FILTER (WHERE kind IN ('tool.post', 'tool.failure'))
           - min(received_ms) FILTER (WHERE kind = 'tool.pre') AS duration_ms,
       CASE WHEN count(*) FILTER (WHERE kind = 'tool.failure') > 0 THEN 0
            WHEN count(*) FILTER (WHERE kind = 'tool.post') > 0 THEN 1 END AS ok,
       max(CASE WHEN kind = 'tool.failure' THEN coalesce(payload ->> '$.error',
           payload ->> '$.error_message', payload ->> '$.tool_response.error', 'failed') END)
           AS error
FROM main.events
WHERE call_id IS NOT NULL AND kind IN ('tool.pre', 'tool.post', 'tool.failure')
GROUP BY session_id, call_id;

CREATE TEMP VIEW usage AS
SELECT id, session_id, client, turn, ",
    iso!("at_ms"),
    " AS at, at_ms, model, input AS input_tokens,
       output AS output_tokens, cache_read AS cache_read_tokens,
       cache_write AS cache_write_tokens, source AS transcript
FROM main.usage;

CREATE TEMP VIEW turns AS
SELECT t.session_id, t.turn, t.client, ",
    iso!("t.started_ms"),
    " AS started_at, ",
    iso!("t.ended_ms"),
    " AS ended_at,
       t.started_ms, t.ended_ms, t.ended_ms - t.started_ms AS duration_ms, t.events,
       t.tool_calls, t.tool_failures, u.input_tokens, u.output_tokens,
       u.cache_read_tokens, u.cache_write_tokens, u.models
FROM (SELECT session_id, turn, min(client) AS client, min(received_ms) AS started_ms,
             max(received_ms) FILTER (WHERE kind = 'turn.stop') AS ended_ms,
             count(*) AS events,
             count(DISTINCT call_id) FILTER (WHERE kind IN ('tool.pre', 'tool.post',
                 'tool.failure')) AS tool_calls,
             count(*) FILTER (WHERE kind = 'tool.failure') AS tool_failures
      FROM main.events WHERE turn IS NOT NULL AND session_id IS NOT NULL
      GROUP BY session_id, turn) t
LEFT JOIN (SELECT session_id, turn, sum(input) AS input_tokens, sum(output) AS output_tokens,
                  sum(cache_read) AS cache_read_tokens, sum(cache_write) AS cache_write_tokens,
                  group_concat(DISTINCT model) AS models
           FROM main.usage WHERE turn IS NOT NULL GROUP BY session_id, turn) u
       ON u.session_id = t.session_id AND u.turn = t.turn;

CREATE TEMP VIEW sessions AS
SELECT g.session_id, f.client, f.cwd, ",
    iso!("g.started_ms"),
    " AS started_at,
       CASE WHEN g.ended_ms >= g.last_ms THEN ",
    iso!("g.ended_ms"),
    " END AS ended_at, ",
    iso!("g.last_ms"),
    " AS last_at,
       g.started_ms, CASE WHEN g.ended_ms >= g.last_ms THEN g.ended_ms END AS ended_ms,
       g.last_ms, g.events, g.prompts, ",
    tool_calls_of!("g.session_id"),
    " AS tool_calls, g.tool_failures,
       u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.models
FROM (",
    session_totals!(),
    ") g
JOIN main.events f ON f.id = g.first_id
LEFT JOIN (SELECT session_id, sum(input) AS input_tokens, sum(output) AS output_tokens,
                  sum(cache_read) AS cache_read_tokens, sum(cache_write) AS cache_write_tokens,
                  group_concat(DISTINCT model) AS models
           FROM main.usage GROUP BY session_id) u ON u.session_id = g.session_id;
"
);
