//! THE pairing of a tool call's end with its start: every reader of tool calls (the trace
//! exporter, difflorectl's views through `events.call_id`) gets its pairs from here.

use super::{Span, SpanKind};

/// The open tool span that an ending event (`tool.post`/`tool.failure`) of `tool` in
/// `session` completes: the one with the agent's own call id `call`; otherwise the nearest
/// (latest started) open call of the same tool in the same session. `None` when the end has
/// no open start (its pre was never captured, or was already closed).
pub fn pair(open: &[Span], session: &str, tool: Option<&str>, call: Option<&str>) -> Option<usize> {
    let calls = || {
        open.iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SpanKind::Tool && s.session == session)
    };
    if let Some(call) = call
        && let Some((i, _)) = calls().find(|(_, s)| s.call.as_deref() == Some(call))
    {
        return Some(i);
    }
    calls()
        .filter(|(_, s)| s.name.as_deref() == tool)
        .max_by_key(|(_, s)| s.start_event)
        .map(|(i, _)| i)
}
