//! difflore: capture AI coding agents' hook events into a local SQLite outbox
//! (`difflore-hook`), ship them to a collector (`difflored`), and steer it (`difflorectl`).
//! `shared` is what all three use; the other modules each serve one binary.

#[path = "../shared/mod.rs"]
pub mod shared;

pub mod daemon;
pub mod hook;
