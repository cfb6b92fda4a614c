//! The hook installer and the service files, through the library API, against temp dirs
//! standing in for the home and project directories (never the real home). One test crate
//! split by concern under tests/install/.

#[path = "install/fixtures.rs"]
mod fixtures;
#[path = "install/idempotency.rs"]
mod idempotency;
#[path = "install/malformed.rs"]
mod malformed;
#[path = "install/merge.rs"]
mod merge;
#[path = "install/notes.rs"]
mod notes;
#[path = "install/own_files.rs"]
mod own_files;
#[path = "install/snapshots.rs"]
mod snapshots;
#[path = "install/support.rs"]
mod support;
#[path = "install/targets.rs"]
mod targets;
#[path = "install/trust.rs"]
mod trust;
#[path = "install/uninstall.rs"]
mod uninstall;
