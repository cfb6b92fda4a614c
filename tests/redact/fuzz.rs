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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

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
