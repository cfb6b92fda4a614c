//! `difflorectl query`: the documented views, three output formats, and a database that
//! nothing written through `query` can change.

use crate::common::Sandbox;
use crate::ctl_support::{ctl, settings};
use crate::seed;

fn seeded() -> Sandbox {
    let sb = Sandbox::new();
    seed::claude_session(&sb);
    seed::codex_session(&sb);
    sb
}

#[test]
fn the_views_answer_as_a_table_as_json_and_as_csv() {
    let sb = seeded();
    let sql = "SELECT tool, call_id, duration_ms, ok, error FROM tool_calls ORDER BY started_at";
    let table = ctl(&sb, &["query", sql]);
    let json = ctl(&sb, &["query", "--json", sql]);
    let csv = ctl(&sb, &["query", "--csv", sql]);
    let turns = ctl(
        &sb,
        &[
            "query",
            "SELECT session_id, turn, duration_ms, tool_calls, tool_failures, input_tokens, \
             output_tokens, cache_read_tokens, cache_write_tokens FROM turns ORDER BY started_at",
        ],
    );
    let text = [table, json, csv, turns]
        .iter()
        .map(|r| r.shown())
        .collect::<Vec<_>>()
        .join("\n");
    settings().bind(|| insta::assert_snapshot!("history_query", text));
}

#[test]
fn the_readme_example_queries_run() {
    let sb = seeded();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = readme
        .split("<!-- history-queries -->")
        .nth(1)
        .expect("the README's example queries");
    let queries: Vec<&str> = section
        .split("```sql")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().trim())
        .collect();
    assert!(queries.len() >= 3, "{queries:?}");
    for sql in queries {
        let ran = ctl(&sb, &["query", sql]);
        assert_eq!(ran.code, 0, "{sql}\n{}", ran.shown());
    }
}

#[test]
fn a_statement_that_writes_is_refused_with_exit_1_and_changes_nothing() {
    let sb = seeded();
    let before = std::fs::read(sb.db()).unwrap();
    let rows = sb.count("1");
    let mut text = String::new();
    for sql in [
        "DELETE FROM events",
        "UPDATE main.events SET state = 'pending'",
        "INSERT INTO meta VALUES ('x', 'y')",
        "DROP TABLE usage",
        "PRAGMA user_version = 9",
        "ATTACH '/tmp/other.db' AS other",
        "VACUUM",
        "SELECT 1; DELETE FROM events",
        "SELECT 1; SELECT 2",
    ] {
        let ran = ctl(&sb, &["query", sql]);
        assert_eq!(ran.code, 1, "{sql}: {}", ran.shown());
        text.push_str(&format!("$ query {sql:?}\n{}", ran.shown()));
    }
    assert_eq!(sb.count("1"), rows);
    assert_eq!(
        std::fs::read(sb.db()).unwrap(),
        before,
        "the file is unchanged"
    );
    settings().bind(|| insta::assert_snapshot!("history_query_refused", text));
}

#[test]
fn a_syntax_error_shows_sqlites_message_and_the_views() {
    let sb = seeded();
    let text = [
        ctl(&sb, &["query", "SELEC * FROM events"]),
        ctl(&sb, &["query", "SELECT nope FROM sessions"]),
    ]
    .iter()
    .map(|r| r.shown())
    .collect::<Vec<_>>()
    .join("\n");
    settings().bind(|| insta::assert_snapshot!("history_query_errors", text));
}
