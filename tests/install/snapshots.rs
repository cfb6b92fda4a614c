//! Installed settings and service files against their insta snapshots.

use std::fs;
use std::path::Path;

use difflore::install::{self, service};

use super::support::Dirs;

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn installed_files_match_their_snapshots() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        install::install(&request).unwrap();
        let text = fs::read_to_string(request.settings_path()).unwrap();
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(format!("install_user_{}", client.as_str()), text);
        });
    }
}

#[test]
fn service_files_match_their_snapshots() {
    let difflored = Path::new("/home/dev/.local/bin/difflored");
    let home = Path::new("/home/dev/.difflore");
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("service_systemd", service::systemd_unit(difflored, home));
        insta::assert_snapshot!("service_launchd", service::launchd_plist(difflored, home));
    });
    let unit = service::systemd_unit(difflored, home);
    for line in [
        "Type=simple",
        "ExecStart=/home/dev/.local/bin/difflored --foreground",
        "Restart=on-failure",
        "ExecReload=kill -HUP $MAINPID",
        "Environment=DIFFLORE_HOME=/home/dev/.difflore",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
}
