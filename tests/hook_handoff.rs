//! The outbox's write lock handed from a draining daemon to waiting hooks: a real hook
//! refused the lock marks itself waiting (`hooks-waiting`) until its event is stored, and
//! a daemon that sees hooks waiting claims in short pieces yet still sends whole batches,
//! each event once, within `batch_max_bytes`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::event::classify;
use difflore::shared::paths::Paths;
use difflore::shared::store::{OpenOptions, Outbox, Waiters};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_hook_refused_the_lock_is_marked_waiting_until_its_event_is_stored() {
    let sb = Sandbox::new();
    let first = sb.hook(&[], br#"{"hook_event_name":"Stop","session_id":"s"}"#);
    assert!(first.status.success());
    let paths = Paths::at(sb.home());
    let daemon_side = Waiters::open(&paths);
    assert!(!daemon_side.any(), "nobody waits yet");

    // Hold the write lock as a draining daemon would, and run a hook into it.
    let holder = sb.sqlite();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut hook = sb
        .cmd("difflore-hook")
        .env("DIFFLORE_HOOK_TIMEOUT_MS", "20000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    hook.stdin
        .take()
        .unwrap()
        .write_all(br#"{"hook_event_name":"Stop","session_id":"waits"}"#)
        .unwrap();
    assert!(
        wait_until(LIMIT, || daemon_side.any()),
        "the refused hook never marked itself waiting"
    );
    assert!(
        hook.try_wait().unwrap().is_none(),
        "it waits, it has not given up"
    );

    holder.execute_batch("COMMIT").unwrap();
    let out = hook.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sb.count("session_id = 'waits'"), 1, "its event is stored");
    assert!(
        !daemon_side.any(),
        "a hook that is done is no longer marked"
    );
}

#[test]
fn while_hooks_wait_batches_are_claimed_in_pieces_and_sent_whole_once_within_the_byte_cap() {
    const MAX_BYTES: usize = 200_000;
    let sb = Sandbox::new();
    write_config(
        &sb,
        &format!("batch_max_events = 500\nbatch_max_bytes = {MAX_BYTES}"),
    );
    std::fs::create_dir_all(sb.home()).unwrap();
    let paths = Paths::at(sb.home());
    // Sizes chosen so that the byte cap falls inside a batch's later pieces, with one row
    // too large to join a batch already started.
    let sizes: Vec<usize> = (0..1200)
        .map(|i| if i == 300 { 150_000 } else { 100 + i % 200 })
        .collect();
    let outbox = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
    let install = outbox.install_id().unwrap();
    let mut size_of = BTreeMap::new();
    for (i, size) in sizes.iter().enumerate() {
        let payload = format!(
            r#"{{"hook_event_name":"PostToolUse","session_id":"p","tool_name":"Bash","tool_input":{{"command":"{}"}},"n":{i}}}"#,
            "x".repeat(*size)
        );
        let fields = classify(payload.as_bytes(), None).unwrap();
        let row = outbox.insert(1, &fields, &payload).unwrap();
        size_of.insert(format!("{install}-{row}"), payload.len());
    }
    drop(outbox);

    // A hook stuck waiting (marked, never taking the lock): the daemon sees hooks waiting
    // throughout, so it claims and acknowledges in pieces.
    let mark = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(paths.hooks_waiting())
        .unwrap();
    mark.lock_shared().unwrap();

    let c = Collector::start();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    let want: BTreeSet<String> = size_of.keys().cloned().collect();
    assert!(
        wait_until(LIMIT, || c.ids() == want
            && sb.count("state != 'delivered'") == 0),
        "{} of {} arrived\n{}",
        c.ids().len(),
        want.len(),
        d.log_text()
    );
    assert_eq!(c.duplicates(), 0);
    let mut largest = 0;
    for request in c.requests() {
        let ids: Vec<&str> = request
            .events
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        // The claim's own estimate: each event's payload plus 256 bytes of envelope.
        let budget: usize = ids.iter().map(|id| size_of[*id] + 256).sum();
        assert!(
            budget <= MAX_BYTES || ids.len() == 1,
            "a batch of {} events and {budget} bytes outgrew the cap",
            ids.len()
        );
        largest = largest.max(ids.len());
    }
    assert!(
        largest > 100,
        "pieces are sent together as one batch, not one request each (largest {largest})"
    );
    mark.unlock().unwrap();
}
