//! The redactor against its two corpora (tests/fixtures/redact: every secret caught under
//! its rule, every clean file untouched) and its contract with the daemon: keys and
//! values, nesting, `<private>` blocks, counts, config rules, allow-list and errors.

mod contract;
mod corpus;
mod fuzz;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use difflore::daemon::redact::Redactor;
use difflore::shared::config::Config;
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redact")
}

pub fn default_redactor() -> Redactor {
    Redactor::new(&Config::default()).unwrap()
}

/// `value` as the daemon sends it: its JSON text through `Redactor::redact_json`.
pub fn redact_json(r: &Redactor, value: &Value, counts: &mut BTreeMap<String, u64>) -> Value {
    let text = value.to_string();
    let out = r.redact_json(&text, counts).expect("valid JSON");
    serde_json::from_str(&out).expect("redaction keeps the JSON valid")
}

/// `\n` is a newline and `\\` a backslash; any other backslash stays as it is.
fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// (rule, input, expected output, number of secrets) for each line of secrets.txt.
pub fn secret_cases() -> Vec<(String, String, String, u64)> {
    cases("secrets.txt")
}

/// The same for members.txt, whose inputs are JSON texts.
pub fn member_cases() -> Vec<(String, String, String, u64)> {
    cases("members.txt")
}

fn cases(file: &str) -> Vec<(String, String, String, u64)> {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    let mut cases = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (rule, marked) = line.split_once('\t').expect("rule<TAB>text");
        let marked = unescape(marked);
        let input = marked.replace(['«', '»'], "");
        let mut expected = String::new();
        let mut rest = marked.as_str();
        let mut n = 0;
        while let Some(open) = rest.find('«') {
            let close = rest[open..].find('»').expect("unclosed «") + open;
            expected.push_str(&rest[..open]);
            expected.push_str(&format!("[REDACTED:{rule}]"));
            rest = &rest[close + '»'.len_utf8()..];
            n += 1;
        }
        expected.push_str(rest);
        assert!(n > 0, "no «secret» marked in {line}");
        cases.push((rule.to_owned(), input, expected, n));
    }
    cases
}
