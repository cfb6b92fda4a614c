//! Local history: delivered events kept for `keep_history` (or deleted with "0s"), and the
//! views over it: `query` (read-only, refusing writes), `sessions` and `show`, their words
//! snapshotted from a real outbox seeded with the agents' recorded payload shapes.

mod common;
mod ctl_support;

#[path = "history/query.rs"]
mod query;
#[path = "history/retention.rs"]
mod retention;
#[path = "history/seed.rs"]
mod seed;
#[path = "history/sessions.rs"]
mod sessions;
