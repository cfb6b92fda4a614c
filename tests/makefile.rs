//! `make demo`, `make install` and `make bench` build where cargo builds: with
//! CARGO_TARGET_DIR set (many developers set it globally), no rule reaches for `./target`.
//! Dry runs only (`make -n`): nothing is built here.

use std::process::Command;

#[test]
fn make_rules_use_the_target_directory_cargo_reports() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("builds");
    let out = match Command::new("make")
        .args([
            "-n",
            "install",
            "bench",
            "demo",
            "test",
            "PREFIX=/nonexistent/prefix",
        ])
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", &target)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("make is not installed: nothing to check");
            return;
        }
        Err(e) => panic!("run make: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = target.to_string_lossy();
    for wanted in [
        format!("{target}/release/difflored"),
        format!("{target}/release/difflorectl"),
        format!("DIFFLORE_BIN_DIR={target}/release"),
        format!("{target}/test.log"),
    ] {
        assert!(text.contains(&wanted), "{wanted} not in:\n{text}");
    }
    assert!(
        text.contains(&format!("DIFFLORE_HOOK_BIN={target}/")),
        "the bench's hook is not under {target}:\n{text}"
    );
    for line in text.lines() {
        assert!(
            !line.contains(" target/") && !line.contains(&format!("{manifest}/target")),
            "a rule still uses ./target: {line}"
        );
    }
}

/// `make e2e` downloads the agents: `make test` and `make ci` (what CI runs) never reach it.
#[test]
fn the_real_agent_run_is_not_part_of_test_or_ci() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let out = match Command::new("make")
        .args(["-n", "ci", "test"])
        .current_dir(manifest)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("make is not installed: nothing to check");
            return;
        }
        Err(e) => panic!("run make: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("tests/e2e"), "{text}");
    let e2e = Command::new("make")
        .args(["-n", "e2e"])
        .current_dir(manifest)
        .output()
        .expect("make -n e2e");
    assert!(String::from_utf8_lossy(&e2e.stdout).contains("tests/e2e/run.sh"));
}
