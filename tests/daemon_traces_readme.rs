//! The README's vocabulary table is the one `shared::vocabulary` holds, and its Traces
//! section names the semantic-conventions version the encoder pins. On a mismatch the
//! failure prints the table as it should read.

use difflore::daemon::sink::otlp::traces::SEMCONV;
use difflore::shared::vocabulary::{Kind, tables};

const OPEN: &str = "<!-- vocabulary -->\n";
const CLOSE: &str = "<!-- /vocabulary -->";

/// The table: one row per kind, each agent's own event names for it.
fn table() -> String {
    let mut out = String::from("| kind | the agents' events |\n| --- | --- |\n");
    for kind in Kind::ALL {
        let mut cells = Vec::new();
        for (client, table) in tables() {
            let names: Vec<String> = table
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            if !names.is_empty() {
                cells.push(format!("{client}: {}", names.join(", ")));
            }
        }
        if kind == Kind::Other {
            cells.push("every other event, and every event of an agent without a table".into());
        }
        out.push_str(&format!("| `{}` | {} |\n", kind.as_str(), cells.join("; ")));
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn the_readme_vocabulary_table_is_the_code_s() {
    let text = readme();
    let start = text.find(OPEN).expect("a vocabulary block in the README") + OPEN.len();
    let end = start + text[start..].find(CLOSE).expect("its end marker");
    let want = table();
    assert!(
        text[start..end] == want,
        "the README's vocabulary table should read:\n{want}"
    );
}

#[test]
fn the_readme_names_the_pinned_semantic_conventions() {
    assert!(
        readme().contains(&format!("semantic conventions {SEMCONV}")),
        "the README's Traces section must name version {SEMCONV}"
    );
}
