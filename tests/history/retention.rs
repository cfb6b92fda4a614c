//! Delivered events stay on the machine as history, unless `keep_history = "0s"`.

use std::time::Duration;

use crate::common::daemon::{DaemonGuard, enqueue, write_config};
use crate::common::{Sandbox, wait_until};

const LIMIT: Duration = Duration::from_secs(30);

fn deliver_to_a_file(keep: &str) -> (Sandbox, usize) {
    let sb = Sandbox::new();
    write_config(&sb, keep);
    let out = sb.dir.path().join("out.ndjson");
    let ids = enqueue(&sb, 20, "kept");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &format!("file://{}", out.display())]);
    assert!(
        wait_until(LIMIT, || std::fs::read_to_string(&out)
            .is_ok_and(|t| t.lines().count() == ids.len())
            && sb.count("state IN ('pending', 'in_flight')") == 0),
        "{}",
        d.log_text()
    );
    (sb, ids.len())
}

#[test]
fn delivered_events_are_kept_as_history_with_their_payloads() {
    let (sb, n) = deliver_to_a_file("");
    assert_eq!(sb.count("state = 'delivered'"), n as i64);
    assert_eq!(sb.count("payload LIKE '%kept-19%'"), 1);
}

#[test]
fn keep_history_zero_deletes_each_event_once_delivered() {
    let (sb, _) = deliver_to_a_file("keep_history = \"0s\"");
    assert_eq!(sb.count("1"), 0);
}
