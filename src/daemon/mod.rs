//! `difflored`, the background daemon that drains the outbox to the collector.
pub mod redact;
