//! An endpoint whose path holds a credential (a webhook URL such as
//! `…/services/T0/B0/<token>`) is never printed whole: not by `status`, not by
//! `status --json`, not in the daemon's log, not in an error from the HTTP client.

mod common;

use std::time::Duration;

use common::collector::{Collector, Reply};
use common::daemon::{DaemonGuard, enqueue, health, write_config};
use common::{Sandbox, wait_until};

const TOKEN: &str = "x7KpQ2mN9vR4sT6wY8zA1bC3";

fn status_texts(sb: &Sandbox) -> String {
    let mut all = String::new();
    for args in [&["status"][..], &["status", "--json"][..]] {
        let out = sb.cmd("difflorectl").args(args).output().unwrap();
        all.push_str(&String::from_utf8_lossy(&out.stdout));
        all.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    all
}

#[test]
fn a_token_in_the_endpoint_path_is_never_shown() {
    let sb = Sandbox::new();
    // Nobody listens: the daemon meets a transport error whose text would carry the URL.
    let c = Collector::reserve();
    let url = format!(
        "http://127.0.0.1:{}/services/T0ABCDEF1/B0ABCDEF2/{TOKEN}",
        c.port
    );
    write_config(&sb, &format!("endpoint = {url:?}"));
    let before = status_texts(&sb);
    assert!(before.contains("/services/***/***/***"), "{before}");
    assert!(!before.contains(TOKEN), "{before}");

    enqueue(&sb, 2, "t");
    let d = DaemonGuard::foreground(&sb, &[]);
    assert!(
        wait_until(Duration::from_secs(30), || health(&sb)
            .is_some_and(|h| h.last_error.is_some())),
        "{}",
        d.log_text()
    );
    let shown = format!("{}{}", status_texts(&sb), d.log_text());
    assert!(shown.contains("could not reach collector"), "{shown}");
    assert!(shown.contains("/services/***/***/***"), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("T0ABCDEF1"), "{shown}");
}

#[test]
fn otlp_headers_never_follow_a_redirect_to_another_host() {
    let sb = Sandbox::new();
    write_config(&sb, "");
    let elsewhere = Collector::start();
    let c = Collector::start();
    c.set_default(
        Reply::status(307).location(&format!("http://127.0.0.1:{}/v1/logs", elsewhere.port)),
    );
    enqueue(&sb, 2, "redirected");
    let url = format!("otlp+http://127.0.0.1:{}", c.port);
    let d = DaemonGuard::foreground_with(&sb, &["--endpoint", &url], |cmd| {
        cmd.env("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret-api-key-value");
    });
    let refused = "refusing to follow the collector's redirect to http://127.0.0.1:";
    assert!(
        wait_until(Duration::from_secs(30), || c.started() >= 2
            && d.log_text().contains(refused)),
        "{}",
        d.log_text()
    );
    assert!(
        elsewhere
            .requests()
            .iter()
            .all(|r| !r.headers.contains_key("api-key")),
        "the API key went to another host"
    );
    assert!(!d.log_text().contains("s3cret-api-key-value"));
}
