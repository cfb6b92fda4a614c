//! config.toml as the daemon lives with it: a value it cannot work with is refused at a
//! reload, naming the key, and the daemon keeps delivering under its previous settings; a
//! relative `token_file` is read from the data home wherever the daemon was started.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::collector::Collector;
use common::daemon::{DaemonGuard, enqueue, write_config};
use common::{Sandbox, wait_until};
use difflore::shared::sys::Signal;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_bad_value_at_reload_is_named_and_the_previous_config_kept() {
    let sb = Sandbox::new();
    let c = Collector::start();
    write_config(&sb, &format!("endpoint = {:?}", c.url()));
    let d = DaemonGuard::foreground(&sb, &[]);
    let first = enqueue(&sb, 2, "before");
    assert!(wait_until(LIMIT, || c.ids().len() == 2), "{}", d.log_text());

    write_config(
        &sb,
        &format!("endpoint = {:?}\nretry_base = \"0s\"", c.url()),
    );
    d.signal(Signal::Hup);
    let said = "keeping the previous configuration: invalid config";
    assert!(
        wait_until(LIMIT, || d.log_text().contains(said)),
        "{}",
        d.log_text()
    );
    assert!(
        d.log_text().contains("retry_base = \"0s\" is not allowed"),
        "{}",
        d.log_text()
    );
    let later = enqueue(&sb, 2, "after");
    assert!(wait_until(LIMIT, || c.ids().len() == 4), "{}", d.log_text());
    assert!(first.iter().chain(&later).all(|id| c.ids().contains(id)));
}

#[test]
fn a_relative_token_file_is_read_from_the_data_home_wherever_the_daemon_starts() {
    let sb = Sandbox::new();
    let c = Collector::start();
    c.require_token("t0ken-from-the-data-home");
    write_config(
        &sb,
        &format!("endpoint = {:?}\ntoken_file = \"token\"", c.url()),
    );
    let token = sb.home().join("token");
    std::fs::write(&token, "t0ken-from-the-data-home\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let ids = enqueue(&sb, 3, "tok");
    let d = DaemonGuard::foreground_with(&sb, &[], |cmd| {
        cmd.current_dir(&elsewhere);
    });
    assert!(
        wait_until(LIMIT, || ids.iter().all(|id| c.ids().contains(id))),
        "{}",
        d.log_text()
    );
}
