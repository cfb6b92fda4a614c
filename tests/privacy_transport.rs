//! Transport privacy, end to end against real daemons: plain http only to loopback unless
//! `allow_insecure_http` asks for it, no redirect to plain http elsewhere, a token file others
//! can read refused with the fix, and the bearer token (from DIFFLORE_TOKEN or token_file)
//! never in the log, the health record, status, or anything stored, even when the collector
//! echoes it back.

mod common;
mod ctl_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{self, DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use ctl_support::ctl;
use difflore::shared::health::Circuit;
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);
/// Never resolves (RFC 6761), and is refused before any lookup anyway.
const REMOTE: &str = "http://collector.invalid:9/ingest";
const MARK: &str = "[REDACTED:credential]";

fn write_private(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn status_text(sb: &Sandbox) -> String {
    ctl(sb, &["status"]).shown()
}

#[test]
fn plain_http_to_another_host_is_refused_unless_allow_insecure_http() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    enqueue(&sb, 2, "insecure");
    let d = DaemonGuard::foreground(&sb, &["--endpoint", REMOTE]);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h.circuit
            == Circuit::NoEndpoint
            && h.last_error.as_deref().is_some_and(|e| e
                .contains("not loopback")
                && e.contains("allow_insecure_http = true")))),
        "{}",
        d.log_text()
    );
    let shown = status_text(&sb);
    assert!(shown.contains("allow_insecure_http"), "{shown}");
    assert_eq!(sb.count("state = 'pending'"), 2, "refused: events wait");

    // Asked for: the sink is built and delivery would start (the queue is emptied first so
    // nothing is ever sent off this machine).
    sb.sqlite().execute("DELETE FROM events", []).unwrap();
    write_config(&sb, "allow_insecure_http = true");
    d.signal(Signal::Hup);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.circuit == Circuit::Closed
                && h.last_error.is_none()
                && h.endpoint.as_deref() == Some(REMOTE))),
        "{}",
        d.log_text()
    );
    assert!(d.log_text().contains(&format!("delivering to {REMOTE}")));
}

#[test]
fn plain_http_to_loopback_is_always_allowed() {
    for host in ["127.0.0.1", "localhost"] {
        let sb = Sandbox::new();
        write_config(&sb, "");
        let c = Collector::start();
        let ids: BTreeSet<String> = enqueue(&sb, 3, host).into_iter().collect();
        let url = format!("http://{host}:{}/ingest", c.port);
        let d = DaemonGuard::foreground(&sb, &["--endpoint", &url]);
        assert!(
            wait_until(LIMIT, || c.ids() == ids
                && sb.count("state != 'delivered'") == 0),
            "{host}: {}",
            d.log_text()
        );
    }
}

#[test]
fn a_redirect_to_plain_http_elsewhere_is_refused_and_one_on_loopback_is_followed() {
    let sb = Sandbox::new();
    write_config(&sb, "retry_base = \"1h\"\nretry_cap = \"1h\"");
    let c = Collector::start();
    c.set_default(Reply::status(307).location(REMOTE));
    let ids: BTreeSet<String> = enqueue(&sb, 5, "redirect").into_iter().collect();
    let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
    assert!(
        wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| {
            h.circuit == Circuit::Open
                && h.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("plain http on collector.invalid"))
        })),
        "{}",
        d.log_text()
    );
    assert_eq!(
        sb.count("state = 'pending'"),
        5,
        "an outage, not a refusal: nothing dead"
    );
    assert!(c.ids().is_empty());

    // A redirect that stays on this machine is followed, body and all.
    let moved = format!("{}/moved", c.url());
    c.set_default(Reply::ok());
    c.script([Reply::status(307).location(&moved)]);
    let before = c.requests().len();
    d.signal(Signal::Usr1);
    assert!(
        wait_until(LIMIT, || c.ids() == ids
            && sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    let statuses: Vec<u16> = c.requests()[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses, [307, 200]);
}

#[test]
fn a_token_file_group_or_others_can_read_is_refused_with_the_fix() {
    for mode in [0o640, 0o604, 0o644] {
        let sb = Sandbox::new();
        let token = sb.dir.path().join("token");
        write_private(&token, "tf-secret-0451\n", mode);
        write_config(&sb, &format!("token_file = \"{}\"", token.display()));
        let c = Collector::start();
        let ids: BTreeSet<String> = enqueue(&sb, 2, "mode").into_iter().collect();
        let d = DaemonGuard::foreground(&sb, &["--endpoint", &c.url()]);
        let why = format!(
            "token file {} is readable by group or others",
            token.display()
        );
        assert!(
            wait_until(LIMIT, || daemon::health(&sb).is_some_and(|h| h
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains(&why) && e.contains("chmod 600")))),
            "mode {mode:o}: {}",
            d.log_text()
        );
        let shown = status_text(&sb);
        assert!(shown.contains("chmod 600"), "{shown}");
        assert!(!shown.contains("tf-secret") && !d.log_text().contains("tf-secret"));
        assert_eq!(c.started(), 0, "mode {mode:o}: nothing may be sent");
        if mode == 0o640 {
            // The fix the message names works, with a reload.
            std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
            d.signal(Signal::Hup);
            assert!(wait_until(LIMIT, || c.ids() == ids), "{}", d.log_text());
            assert_eq!(
                c.requests()[0].headers["authorization"],
                "Bearer tf-secret-0451"
            );
        }
    }
}

/// Where the daemon gets its token in `token_never_leaks`.
#[derive(Debug, Clone, Copy)]
enum TokenFrom {
    Env,
    File,
}

#[test]
fn the_token_from_the_environment_never_leaks_even_when_echoed() {
    token_never_leaks(TokenFrom::Env, "env-tok-7Qx9c2Lm5Vb8");
}

#[test]
fn the_token_from_token_file_never_leaks_even_when_echoed() {
    token_never_leaks(TokenFrom::File, "file-tok-3Zk8d1Pw6Rn4");
}

/// A collector that echoes the Authorization header in every error body: a 500 (logged and
/// in health), then 400s (a collector refusing everything: events wait with the body
/// excerpt), then a 401 (paused, in health and status). The token must show up nowhere but on the wire.
fn token_never_leaks(from: TokenFrom, token: &str) {
    let sb = Sandbox::new();
    let c = Collector::start();
    c.echo_authorization();
    c.script([Reply::status(500)]);
    c.set_default(Reply::status(400));
    let extra = match from {
        TokenFrom::Env => String::new(),
        TokenFrom::File => {
            let path = sb.dir.path().join("token");
            write_private(&path, &format!("{token}\n"), 0o600);
            format!("token_file = \"{}\"", path.display())
        }
    };
    write_config(&sb, &extra);
    enqueue(&sb, 4, "refused");
    let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &c.url()], |cmd| {
        if let TokenFrom::Env = from {
            cmd.env("DIFFLORE_TOKEN", token);
        }
    });
    assert!(
        wait_until(LIMIT, || sb
            .count("state = 'pending' AND last_error LIKE 'refused: 400%'")
            == 4),
        "{}",
        d.log_text()
    );
    c.set_default(Reply::status(401));
    enqueue(&sb, 2, "paused");
    assert!(
        wait_until(LIMIT, || daemon::health(&sb)
            .is_some_and(|h| h.circuit == Circuit::PausedAuth)),
        "{}",
        d.log_text()
    );
    // It was sent, and it was echoed: this test is not vacuous.
    let sent = &c.requests()[0].headers["authorization"];
    assert_eq!(sent, &format!("Bearer {token}"));

    // Scrubbed where the echo lands: dead rows, the health record, the log, status.
    let errors: Vec<String> = {
        let conn = sb.sqlite();
        let mut stmt = conn
            .prepare("SELECT last_error FROM events WHERE last_error LIKE 'refused: 400%'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    for e in &errors {
        assert!(
            e.contains("collector answered 400") && e.contains(MARK),
            "{e}"
        );
    }
    let health = daemon::health(&sb).unwrap();
    let last = health.last_error.clone().unwrap_or_default();
    assert!(last.contains("401") && last.contains(MARK), "{last}");
    let log = d.log_text();
    assert!(
        log.contains("collector answered 500") && log.contains(MARK),
        "{log}"
    );
    let status = status_text(&sb);
    assert!(status.contains(MARK), "{status}");

    // And the token itself nowhere.
    let places = [
        ("the daemon's log", log),
        ("the health record", serde_json::to_string(&health).unwrap()),
        ("status", status),
        ("status --json", ctl(&sb, &["status", "--json"]).shown()),
        ("events --json", ctl(&sb, &["events", "--json"]).shown()),
        ("events", ctl(&sb, &["events"]).shown()),
    ];
    for (place, text) in places {
        assert!(!text.contains(token), "the token is in {place}:\n{text}");
    }
    for entry in std::fs::read_dir(sb.home()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
            assert!(!found, "the token is in {}", path.display());
        }
    }
}
