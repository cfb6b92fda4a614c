//! The redactor under generated input: strings assembled from the fragments its rules look
//! for (anchors, half tokens, header names, escapes, quotes, multi-byte characters), as
//! text and as JSON values under secret and plain keys. It must never panic, must always
//! give back JSON that parses, and must leave non-string bytes as they were.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;

use difflore::daemon::redact::Redactor;

use crate::default_redactor;

/// Built once: compiling the rules is what a daemon does once, not per input.
fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(default_redactor)
}

const FRAGMENTS: &[&str] = &[
    "Authorization: Basic ",
    "Cookie: ",
    "cookiecookiecookie",
    "Set-Cookie: a=",
    "Bearer ",
    "bearer\t",
    "key=",
    "KEY: ",
    "password=",
    "\"api_key\": \"",
    "\\\"",
    "\\",
    "\"",
    "'",
    "`",
    "ghp_",
    "x__ghp_",
    "github_pat_",
    "sk-",
    "sk-ant-",
    "sk_live_",
    "AKIA",
    "ASIA",
    "xoxb-1-",
    "AIza",
    "npm_",
    "eyJ",
    ".eyJ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END",
    "://",
    "u:p@",
    "<private>",
    "</private>",
    "${X}",
    "é",
    "漢字",
    "🦀",
    "\n",
    "\r\n",
    "\t",
    " ",
    ";",
    "=",
    ":",
    "_",
    "-",
    "/",
    "+",
    "0123456789",
    "abcdefghij",
    "ABCDEFGHIJKLMNOP",
    "Zq8Xr2Lm0pT4vN7c",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "password",
                "DB_PASSWORD",
                "api_key",
                "Authorization",
                "cookie",
                "Set-Cookie",
                "token",
                "command",
                "stdout",
                "PGPASSWORD",
                "client_secret",
                "",
            ][..]
        )
        .prop_map(str::to_owned),
        text(),
    ]
}

/// `s` as a JSON string token, each character written as itself or escaped (`\uXXXX`,
/// `\/`) as `escapes` says: every spelling a producer may choose (Go escapes `<` and `>`).
fn spelled(s: &str, escapes: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let escape = escapes
            .get(i % escapes.len().max(1))
            .copied()
            .unwrap_or(false);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape => out.push_str("\\/"),
            c if (c as u32) < 0x20 || (escape && c.is_ascii()) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The payload path skips strings whose text as written holds no anchor: whatever the
    /// spelling, it must redact exactly what the string path does.
    #[test]
    fn a_json_value_is_redacted_as_its_text_is_whatever_its_spelling(
        s in text(),
        escapes in prop::collection::vec(prop::bool::weighted(0.1), 1..8),
    ) {
        let r = redactor();
        let json = format!("{{\"command\": {}}}", spelled(&s, &escapes));
        let mut counts = BTreeMap::new();
        let out = r.redact_json(&json, &mut counts).unwrap();
        let got: Value = serde_json::from_str(&out).unwrap();
        let want = r.redact_str(&s).into_owned();
        prop_assert_eq!(got["command"].as_str().unwrap(), want.as_str());
    }

    #[test]
    fn any_text_redacts_without_panicking(s in text()) {
        let r = redactor();
        let _ = r.redact_str(&s);
    }

    #[test]
    fn any_member_comes_back_as_json_with_its_numbers(k in key(), v in text(), n in any::<i64>()) {
        let r = redactor();
        // A number written as no serializer would, next to the string: it must survive.
        let json = format!(
            "{{{}: {}, \"n\": {n}.50e0, {}: [{}]}}",
            serde_json::to_string(&k).unwrap(),
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string(&k).unwrap(),
            serde_json::to_string(&v).unwrap(),
        );
        let mut counts = BTreeMap::new();
        let out = r.redact_json(&json, &mut counts).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        prop_assert!(parsed.is_object());
        let number = format!("\"n\": {n}.50e0,");
        prop_assert!(out.contains(&number), "{}", out);
    }
}
