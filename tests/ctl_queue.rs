//! The queue tools against a real outbox filled by the real hook: `events` lists, `retry`
//! and `purge` move or delete exactly the rows they name, and nothing else.

mod common;
mod ctl_support;

use common::Sandbox;
use ctl_support::{ctl, ids_in, mark_dead, normalize, seed, settings};

/// Every column of every row, to prove untouched rows stay byte-identical.
fn rows(sb: &Sandbox) -> Vec<Vec<String>> {
    let conn = sb.sqlite();
    let mut stmt = conn
        .prepare(
            "SELECT id, state, attempts, next_attempt_ms, claimed_ms, first_failure_ms,
             last_error, payload FROM events ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        (0..8)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn install_id(sb: &Sandbox) -> String {
    sb.sqlite()
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn queue_tools_on_an_empty_home_create_nothing() {
    let sb = Sandbox::new();
    for args in [
        &["events"][..],
        &["events", "--json"],
        &["retry", "--dead"],
        &["purge", "--dead", "--yes"],
    ] {
        let ran = ctl(&sb, args);
        assert_eq!(ran.code, 0, "{}", ran.shown());
    }
    assert_eq!(ctl(&sb, &["events", "--json"]).stdout, "[]\n");
    assert_eq!(ctl(&sb, &["retry", "7"]).code, 1);
    assert!(!sb.home().exists(), "a queue tool created the data home");
}

#[test]
fn events_lists_oldest_first_filtered_and_limited() {
    let sb = Sandbox::new();
    seed(&sb, 5);
    mark_dead(&sb, &[2, 4]);
    let all = ctl(&sb, &["events"]);
    assert_eq!(all.code, 0, "{}", all.shown());
    let dead = ctl(&sb, &["events", "--state", "dead"]);
    let limited = ctl(&sb, &["events", "--limit", "2"]);
    let text = format!(
        "=== events\n{}=== events --state dead\n{}=== events --limit 2\n{}",
        all.stdout, dead.stdout, limited.stdout
    );
    settings().bind(|| insta::assert_snapshot!("ctl_events", normalize(&sb, &text)));

    let json: serde_json::Value =
        serde_json::from_str(&ctl(&sb, &["events", "--state", "dead", "--json"]).stdout).unwrap();
    let id = install_id(&sb);
    let listed: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [format!("{id}-2"), format!("{id}-4")]);
    settings().bind(|| {
        insta::assert_json_snapshot!("ctl_events_json", json, {
            "[].age_s" => "[age]",
            "[].event_id" => "[install_id]-[row]",
        })
    });
}

#[test]
fn retry_moves_exactly_the_named_dead_rows() {
    let sb = Sandbox::new();
    seed(&sb, 6);
    mark_dead(&sb, &[2, 3, 5]);
    let before = rows(&sb);
    let full = format!("{}-5", install_id(&sb));
    let ran = ctl(&sb, &["retry", "2", &full, "4", "99", "ffff-3", "2"]);
    assert_eq!(ran.code, 1, "{}", ran.shown());
    settings().bind(|| insta::assert_snapshot!("ctl_retry_ids", normalize(&sb, &ran.shown())));

    assert_eq!(ids_in(&sb, "dead"), [3]);
    assert_eq!(ids_in(&sb, "pending"), [1, 2, 4, 5, 6]);
    let after = rows(&sb);
    for (old, new) in before.iter().zip(&after) {
        let id = &old[0];
        if id == "Integer(2)" || id == "Integer(5)" {
            // Revived: attempts reset, due now, no failure window, no claim.
            assert_eq!(new[1], "Text(\"pending\")");
            assert_eq!(new[2], "Integer(0)");
            assert_ne!(new[3], old[3], "next_attempt_ms not reset");
            assert_eq!(new[4], "Null");
            assert_eq!(new[5], "Null");
            assert_eq!(new[7], old[7], "payload changed");
        } else {
            assert_eq!(new, old, "row {id} was not named but changed");
        }
    }
}

#[test]
fn retry_dead_revives_every_dead_row_and_nothing_else() {
    let sb = Sandbox::new();
    seed(&sb, 4);
    mark_dead(&sb, &[1, 3]);
    let before = rows(&sb);
    let ran = ctl(&sb, &["retry", "--dead"]);
    assert_eq!(ran.code, 0, "{}", ran.shown());
    assert!(
        ran.stdout.starts_with("moved 2 dead events"),
        "{}",
        ran.shown()
    );
    assert!(ids_in(&sb, "dead").is_empty());
    let after = rows(&sb);
    assert_eq!(after[1], before[1]);
    assert_eq!(after[3], before[3]);
    assert_eq!(
        ctl(&sb, &["retry", "--dead"]).stdout,
        "no dead events to retry\n"
    );
}

#[test]
fn purge_deletes_exactly_one_state_and_asks_first() {
    let sb = Sandbox::new();
    seed(&sb, 4);
    for junk in [&b"not json at all"[..], b"[1,2,3]"] {
        assert!(sb.hook(&[], junk).status.success());
    }
    mark_dead(&sb, &[1, 3]);
    assert_eq!(ids_in(&sb, "rejected"), [5, 6]);
    let before = rows(&sb);

    // Not a terminal and no --yes: refused, nothing deleted.
    let refused = ctl(&sb, &["purge", "--dead"]);
    assert_eq!(refused.code, 1, "{}", refused.shown());
    assert_eq!(rows(&sb), before);

    let dead = ctl(&sb, &["purge", "--dead", "--yes"]);
    assert_eq!(dead.code, 0, "{}", dead.shown());
    assert!(ids_in(&sb, "dead").is_empty());
    assert_eq!(
        rows(&sb),
        [&before[1], &before[3], &before[4], &before[5]].map(Clone::clone)
    );

    let rejected = ctl(&sb, &["purge", "--rejected", "--yes"]);
    assert_eq!(rejected.code, 0, "{}", rejected.shown());
    assert_eq!(ids_in(&sb, "pending"), [2, 4]);
    assert_eq!(sb.count("1"), 2);
    let again = ctl(&sb, &["purge", "--rejected", "--yes"]);
    let text = [refused, dead, rejected, again].map(|r| r.shown()).join("");
    settings().bind(|| insta::assert_snapshot!("ctl_purge", text));
}

#[test]
fn purge_on_a_terminal_asks_and_only_yes_deletes() {
    let sb = Sandbox::new();
    seed(&sb, 3);
    mark_dead(&sb, &[2]);
    // util-linux `script` gives difflorectl a pseudo-terminal for stdin.
    let on_terminal = |answer: &str| {
        let line = format!("{} purge --dead", env!("CARGO_BIN_EXE_difflorectl"));
        let out = common::run_with_stdin(
            common::daemon::sandboxed(&sb, "script").args(["-qec", &line, "/dev/null"]),
            answer.as_bytes(),
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, shown) = on_terminal("n\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("purge 1 dead event? this cannot be undone [y/N]"),
        "{shown}"
    );
    assert!(
        shown.contains("kept 1 dead event; nothing purged"),
        "{shown}"
    );
    assert_eq!(ids_in(&sb, "dead"), [2]);

    let (code, shown) = on_terminal("y\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("purged 1 dead event"), "{shown}");
    assert!(ids_in(&sb, "dead").is_empty());
    assert_eq!(ids_in(&sb, "pending"), [1, 3]);
}

#[test]
fn purge_deletes_only_the_rows_shown_at_the_prompt() {
    use difflore::ctl::queue::{Confirm, PurgeOutcome, purge};
    use difflore::shared::event::State;
    use difflore::shared::paths::Paths;

    let sb = Sandbox::new();
    seed(&sb, 4);
    mark_dead(&sb, &[3]);
    // While the person reads "purge 1 dead event?", the daemon buries row 1 (an older id
    // than the one shown).
    let mut ask = |_: State, count: i64| {
        assert_eq!(count, 1);
        mark_dead(&sb, &[1]);
        Ok(true)
    };
    let outcome = purge(&Paths::at(sb.home()), State::Dead, Confirm::Ask(&mut ask)).unwrap();
    assert_eq!(
        outcome,
        PurgeOutcome::Purged {
            state: State::Dead,
            count: 1
        }
    );
    assert_eq!(ids_in(&sb, "dead"), [1], "the row that died unseen is kept");
    assert_eq!(ids_in(&sb, "pending"), [2, 4]);
}
