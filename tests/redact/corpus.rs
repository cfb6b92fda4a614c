//! The corpora: every line of secrets.txt redacted exactly as marked, every file under
//! clean/ passed through untouched, and the same results from many threads at once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::{default_redactor, fixtures, member_cases, redact_json, secret_cases};

#[test]
fn every_corpus_secret_is_redacted_under_its_rule() {
    let r = default_redactor();
    let cases = secret_cases();
    let mut misses = Vec::new();
    for (rule, input, expected, n) in &cases {
        let mut value = Value::String(input.clone());
        let mut counts = BTreeMap::new();
        value = redact_json(&r, &value, &mut counts);
        let got = value.as_str().unwrap();
        if got != expected || counts != BTreeMap::from([(rule.clone(), *n)]) {
            misses.push(format!(
                "rule {rule}\n  input:    {input}\n  expected: {expected}\n  got:      {got}\n  counts:   {counts:?}"
            ));
        }
    }
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
    let rules: std::collections::BTreeSet<_> = cases.iter().map(|c| c.0.as_str()).collect();
    assert!(rules.len() >= 14, "corpus covers only {rules:?}");
    for rule in &rules {
        let examples = cases.iter().filter(|c| c.0 == *rule).count();
        assert!(examples >= 3, "rule {rule} has only {examples} examples");
    }
}

#[test]
fn every_corpus_secret_is_redacted_inside_a_json_payload_too() {
    let r = default_redactor();
    let mut misses = Vec::new();
    for (rule, input, expected, n) in secret_cases() {
        let payload =
            serde_json::to_string(&serde_json::json!({"tool_input": {"command": input}})).unwrap();
        let mut counts = BTreeMap::new();
        let out = r.redact_json(&payload, &mut counts).unwrap();
        let got: Value = serde_json::from_str(&out).unwrap();
        if got["tool_input"]["command"] != expected.as_str()
            || counts != BTreeMap::from([(rule.clone(), n)])
        {
            misses.push(format!("rule {rule}: {input}\n  got {out} {counts:?}"));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn secrets_held_as_json_members_are_redacted_with_their_key() {
    let r = default_redactor();
    let cases = member_cases();
    assert!(cases.len() >= 12, "{} member cases", cases.len());
    let mut misses = Vec::new();
    for (rule, input, expected, n) in &cases {
        serde_json::from_str::<Value>(input).expect("members.txt lines are JSON");
        let mut counts = BTreeMap::new();
        let got = r.redact_json(input, &mut counts).unwrap();
        if got != *expected || counts != BTreeMap::from([(rule.clone(), *n)]) {
            misses.push(format!(
                "rule {rule}\n  input:    {input}\n  expected: {expected}\n  got:      {got}\n  counts:   {counts:?}"
            ));
        }
    }
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

fn clean_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("clean"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "clean corpus too small: {files:?}");
    files
}

#[test]
fn clean_corpus_passes_through_unchanged() {
    let r = default_redactor();
    let mut false_positives = Vec::new();
    for path in clean_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        // Whole files (as a Read tool returns them) and single lines (as commands are).
        let pieces = std::iter::once(text.as_str()).chain(text.lines());
        for piece in pieces {
            if let Cow::Owned(changed) = r.redact_str(piece) {
                let first_diff = diff_line(piece, &changed);
                false_positives.push(format!("{}: {first_diff}", path.display()));
                break;
            }
        }
        if path.extension().is_some_and(|e| e == "json") {
            // As a payload: the JSON text itself, each value judged with its key.
            let mut counts = BTreeMap::new();
            let out = r.redact_json(&text, &mut counts).unwrap();
            if let Cow::Owned(changed) = out {
                let first_diff = diff_line(&text, &changed);
                false_positives.push(format!(
                    "{}: as JSON, {counts:?}: {first_diff}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        false_positives.is_empty(),
        "false positives:\n{}",
        false_positives.join("\n")
    );
}

fn diff_line(before: &str, after: &str) -> String {
    before
        .lines()
        .zip(after.lines())
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("{a:?} became {b:?}"))
        .unwrap_or_else(|| "lines changed".to_owned())
}

#[test]
fn one_redactor_serves_many_threads_alike() {
    let r = default_redactor();
    let cases = secret_cases();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for (_, input, expected, _) in &cases {
                    assert_eq!(r.redact_str(input), *expected);
                }
            });
        }
    });
}
