//! difflore-hook end to end: the real binary, a temporary data home, the outbox read back
//! with SQLite. One test crate split by concern under tests/hook/; no timings here (those
//! belong to `make bench`).

mod common;

#[path = "hook/fixtures.rs"]
mod fixtures;
#[path = "hook/input.rs"]
mod input;
#[path = "hook/schema.rs"]
mod schema;
#[path = "hook/spill.rs"]
mod spill;
#[path = "hook/store.rs"]
mod store;
#[path = "hook/support.rs"]
mod support;
