//! `sessions` and `show` over a seeded outbox, rendered at a fixed "now".

use difflore::ctl::Outcome;
use difflore::ctl::views::{sessions, show};
use difflore::shared::paths::Paths;

use crate::common::Sandbox;
use crate::ctl_support::{ctl, settings, shown};
use crate::seed::{self, NOW, SESSION};

fn seeded() -> Sandbox {
    let sb = Sandbox::new();
    seed::claude_session(&sb);
    seed::codex_session(&sb);
    sb
}

fn list(sb: &Sandbox, filter: sessions::Filter, json: bool) -> Outcome {
    let paths = Paths::at(sb.home());
    Outcome::Sessions {
        list: sessions::sessions(&paths, filter, NOW).unwrap(),
        json,
    }
}

fn all() -> sessions::Filter {
    sessions::Filter {
        limit: 20,
        ..Default::default()
    }
}

#[test]
fn sessions_lists_newest_first_with_counts_tokens_and_state() {
    let sb = seeded();
    let cases = vec![
        ("sessions", list(&sb, all(), false)),
        (
            "sessions --limit 1",
            list(&sb, sessions::Filter { limit: 1, ..all() }, false),
        ),
        (
            "sessions --client claude-code --cwd /home/dev/src",
            list(
                &sb,
                sessions::Filter {
                    client: Some("claude-code".into()),
                    cwd: Some("/home/dev/src/".into()),
                    ..all()
                },
                false,
            ),
        ),
        (
            "sessions --since 30m",
            list(
                &sb,
                sessions::Filter {
                    since_ms: Some(NOW - 30 * 60_000),
                    ..all()
                },
                false,
            ),
        ),
        (
            "sessions --cwd /home/dev/src/example (a sibling's prefix is not a match)",
            list(
                &sb,
                sessions::Filter {
                    cwd: Some("/home/dev/src/example".into()),
                    ..all()
                },
                false,
            ),
        ),
        ("sessions --json", list(&sb, all(), true)),
    ];
    settings().bind(|| insta::assert_snapshot!("history_sessions", shown(cases)));
}

#[test]
fn show_is_a_timeline_of_turns_tool_calls_failures_and_tokens() {
    let sb = seeded();
    let paths = Paths::at(sb.home());
    let timeline = |wanted: &str, width: usize, json: bool| Outcome::Show {
        timeline: Box::new(show::show(&paths, wanted, width, NOW).unwrap()),
        json,
    };
    let cases = vec![
        ("show 3f2a (a prefix)", timeline("3f2a", 100, false)),
        ("show 3f2a, 60 columns", timeline("3f2a", 60, false)),
        ("show --json", timeline(SESSION, 100, true)),
    ];
    settings().bind(|| insta::assert_snapshot!("history_show", shown(cases)));
}

#[test]
fn show_finds_last_and_says_when_nothing_or_several_match() {
    let sb = seeded();
    let last = ctl(&sb, &["show", "last", "--json"]);
    assert_eq!(last.code, 0, "{}", last.shown());
    let v: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_eq!(v["session"]["client"], "codex", "the newest session");
    let missing = ctl(&sb, &["show", "zzz"]);
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr, "difflorectl: no session matches \"zzz\"\n");
    sb.hook(
        &["--client", "claude-code"],
        br#"{"hook_event_name":"Stop","session_id":"3f2b0000-other"}"#,
    );
    let several = ctl(&sb, &["show", "3f2"]);
    assert_eq!(several.code, 1, "{}", several.shown());
    assert_eq!(
        several.stderr,
        "difflorectl: \"3f2\" matches 2 sessions (3f2a9c1e-7b4d-4e8a-9c21-5d6e7f8a9b0c, \
         3f2b0000-other…); give more of the id\n"
    );
    let empty = Sandbox::new();
    let none = ctl(&empty, &["sessions"]);
    assert_eq!(
        (none.code, none.stdout.as_str()),
        (0, "no sessions recorded yet\n")
    );
}

/// `difflorectl sessions` counts tool calls and tokens only for the sessions it shows; what
/// it shows is what the documented `sessions` view holds, row for row.
#[test]
fn the_sessions_command_and_the_sessions_view_agree() {
    let sb = seeded();
    let paths = Paths::at(sb.home());
    let listed = sessions::sessions(&paths, all(), NOW).unwrap();
    let history = difflore::ctl::views::History::open(&paths)
        .unwrap()
        .unwrap();
    let from_view: Vec<sessions::SessionRow> = history
        .conn()
        .prepare(&format!(
            "SELECT {} FROM sessions ORDER BY started_ms DESC, session_id",
            sessions::COLUMNS
        ))
        .unwrap()
        .query_map([], sessions::SessionRow::read)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(from_view.len() >= 2, "{from_view:?}");
    assert!(
        from_view
            .iter()
            .any(|s| s.tool_calls > 0 && s.tokens.is_some())
    );
    assert_eq!(listed.rows, from_view);
    assert_eq!(listed.total, from_view.len() as i64);
}
