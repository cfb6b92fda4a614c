//! The contract with the daemon: keys as well as values, any nesting, `<private>` blocks
//! dropped, counts per match, config rules and allow-list, `redact = false`, and errors
//! that name the rule and the config key.

use std::borrow::Cow;
use std::collections::BTreeMap;

use difflore::daemon::redact::{RedactError, Redactor};
use difflore::shared::config::{Config, ExtraRule};
use serde_json::json;

use crate::{default_redactor, redact_json};

#[test]
fn keys_and_values_are_redacted_at_any_depth() {
    let r = default_redactor();
    let github = "ghp_R2d8Kq0LzX4mN7pV1tY9wB3cF6hJ5sA8eU0i";
    let aws = "AKIAQZ75BU8787C5WDR3";
    let mut payload = json!({
        "tool_input": {"command": format!("export GITHUB_TOKEN={github}")},
        "tool_response": [
            {"stdout": ["line", {"deep": [format!("key {aws}")]}]},
            42, null, true
        ],
        github: {"nested": aws},
    });
    let mut counts = BTreeMap::new();
    payload = redact_json(&r, &payload, &mut counts);
    let text = payload.to_string();
    assert!(!text.contains(github) && !text.contains(aws), "{text}");
    assert_eq!(
        payload,
        json!({
            "tool_input": {"command": "export GITHUB_TOKEN=[REDACTED:github-token]"},
            "tool_response": [
                {"stdout": ["line", {"deep": ["key [REDACTED:aws-access-key-id]"]}]},
                42, null, true
            ],
            "[REDACTED:github-token]": {"nested": "[REDACTED:aws-access-key-id]"},
        })
    );
    assert_eq!(
        counts,
        BTreeMap::from([
            ("aws-access-key-id".to_owned(), 2),
            ("github-token".to_owned(), 2)
        ])
    );
}

#[test]
fn redaction_works_on_the_text_and_keeps_every_other_byte() {
    let r = default_redactor();
    // Duplicate keys (both redacted to one text, and plain ones), numbers beyond f64's
    // digits, trailing zeros, exponents, escapes and odd whitespace.
    let input = concat!(
        "{ \"AKIAQZ75BU8787C5WDR3\": 1, \"AKIAB0IIBFPIDTC4ICOL\" :2,",
        "\"n\":123456789012345678901234567890,\"p\":2.50,\"e\":1E+2,\"z\":-0,",
        "\"d\":1,\"d\":2,\t\"u\":\"caf\\u00e9 \\ud83d\\ude00\",",
        "\"password\":\"Tr0ub4dor&3xyzzyQ\"}\n"
    );
    let mut counts = BTreeMap::new();
    let out = r.redact_json(input, &mut counts).unwrap();
    assert_eq!(
        out,
        concat!(
            "{ \"[REDACTED:aws-access-key-id]\": 1, \"[REDACTED:aws-access-key-id]\" :2,",
            "\"n\":123456789012345678901234567890,\"p\":2.50,\"e\":1E+2,\"z\":-0,",
            "\"d\":1,\"d\":2,\t\"u\":\"caf\\u00e9 \\ud83d\\ude00\",",
            "\"password\":\"[REDACTED:secret-assignment]\"}\n"
        )
    );
    assert_eq!(
        counts,
        BTreeMap::from([
            ("aws-access-key-id".to_owned(), 2),
            ("secret-assignment".to_owned(), 1)
        ])
    );
    // Nothing to redact: the very same text, borrowed.
    let clean = r#"{"a": 1.50, "a": [1e400]}"#;
    assert!(
        r.redact_json(clean, &mut counts).is_err(),
        "1e400 is not sendable"
    );
    let clean = r#"{"a": 1.50, "a": [1e300]}"#;
    assert!(matches!(
        r.redact_json(clean, &mut counts),
        Ok(Cow::Borrowed(_))
    ));
}

#[test]
fn private_blocks_are_dropped_across_lines() {
    let r = default_redactor();
    let input = "before <private>my\nhome address\n</private> after <PRIVATE>x</PRIVATE>.";
    let mut value = json!({ "prompt": input });
    let mut counts = BTreeMap::new();
    value = redact_json(&r, &value, &mut counts);
    assert_eq!(value, json!({ "prompt": "before  after ." }));
    assert_eq!(counts, BTreeMap::from([("private".to_owned(), 2)]));
    // Cut off before its end tag: the rest stays home.
    assert_eq!(r.redact_str("ok <private>secret plans\nand more"), "ok ");
}

#[test]
fn counts_grow_by_one_per_match() {
    let r = default_redactor();
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl";
    let value = json!([
        format!("{jwt} and {jwt}"),
        format!("AKIAQZ75BU8787C5WDR3 {jwt}"),
    ]);
    let mut counts = BTreeMap::from([("jwt".to_owned(), 10)]);
    redact_json(&r, &value, &mut counts);
    assert_eq!(
        counts,
        BTreeMap::from([("aws-access-key-id".to_owned(), 1), ("jwt".to_owned(), 13)])
    );
}

#[test]
fn anthropic_keys_are_not_reported_as_openai() {
    let r = default_redactor();
    let key = format!("sk-ant-api03-{}AA", "aB3-dE5_gH7".repeat(9));
    assert_eq!(
        r.redact_str(&format!("key={key}")),
        "key=[REDACTED:anthropic-api-key]"
    );
    let key = format!("sk-proj-{}", "aB3dE5gH7".repeat(8));
    assert_eq!(r.redact_str(&key), "[REDACTED:openai-api-key]");
}

fn config(patterns: &[(&str, &str)], allow: &[&str]) -> Config {
    Config {
        redact_patterns: patterns
            .iter()
            .map(|(name, regex)| ExtraRule {
                name: (*name).to_owned(),
                regex: (*regex).to_owned(),
            })
            .collect(),
        redact_allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        ..Config::default()
    }
}

#[test]
fn config_rules_redact_and_the_allow_list_spares() {
    let cfg = config(
        &[
            ("employee-id", r"\bEMP-[0-9]{6}\b"),
            ("internal-host", r"host=(?P<secret>[a-z]+\.corp)\b"),
        ],
        &[r"AKIA[A-Z0-9]{12}TEST", r"postgres://ci:[^@]+@localhost"],
    );
    let r = Redactor::new(&cfg).unwrap();
    assert_eq!(
        r.redact_str("ticket EMP-123456 on host=build.corp"),
        "ticket [REDACTED:employee-id] on host=[REDACTED:internal-host]"
    );
    // Allowed stretches stay; the same rule elsewhere in the string still redacts.
    let input = "AKIAABCDEFGHIJKLTEST postgres://ci:Xk29fj3Lq@localhost AKIAQZ75BU8787C5WDR3";
    assert_eq!(
        r.redact_str(input),
        "AKIAABCDEFGHIJKLTEST postgres://ci:Xk29fj3Lq@localhost [REDACTED:aws-access-key-id]"
    );
}

#[test]
fn redact_false_is_a_no_op() {
    let cfg = Config {
        redact: false,
        ..config(&[("everything", ".+")], &[])
    };
    let r = Redactor::new(&cfg).unwrap();
    assert!(!r.is_enabled());
    assert!(default_redactor().is_enabled());
    let original = json!({"AKIAQZ75BU8787C5WDR3": "<private>x</private> AKIAQZ75BU8787C5WDR3"});
    let mut value = original.clone();
    let mut counts = BTreeMap::new();
    value = redact_json(&r, &value, &mut counts);
    assert_eq!(value, original);
    assert!(counts.is_empty());
    assert!(matches!(
        r.redact_str("AKIAQZ75BU8787C5WDR3"),
        Cow::Borrowed("AKIAQZ75BU8787C5WDR3")
    ));
}

fn chain(err: &RedactError) -> String {
    difflore::shared::error_chain(err)
}

#[test]
fn bad_config_regexes_name_the_rule_and_the_key() {
    let err = Redactor::new(&config(&[("ticket-id", r"TICKET-(\d+")], &[]))
        .err()
        .unwrap();
    let msg = chain(&err);
    assert!(
        msg.contains("\"ticket-id\"") && msg.contains("redact_patterns"),
        "{msg}"
    );
    assert!(msg.contains("unclosed group"), "{msg}");

    let err = Redactor::new(&config(&[], &["ok", "[z-a]"])).err().unwrap();
    let msg = chain(&err);
    assert!(
        msg.contains("redact_allow") && msg.contains("[z-a]"),
        "{msg}"
    );
    assert!(msg.contains("entry 1"), "{msg}");

    let err = Redactor::new(&config(&[("has space]", "x")], &[]))
        .err()
        .unwrap();
    let msg = chain(&err);
    assert!(
        msg.contains("has space]") && msg.contains("redact_patterns"),
        "{msg}"
    );
}

#[test]
fn strings_without_secrets_are_borrowed() {
    let r = default_redactor();
    for text in [
        "",
        "plain text",
        "password: String",
        "token = os.getenv(\"TOKEN\")",
    ] {
        assert!(matches!(r.redact_str(text), Cow::Borrowed(_)), "{text}");
    }
}

#[test]
fn a_secret_inside_a_private_block_goes_with_the_block() {
    let r = default_redactor();
    let mut value =
        json!("keep <private>AKIAQZ75BU8787C5WDR3\nmore</private> AKIAB0IIBFPIDTC4ICOL");
    let mut counts = BTreeMap::new();
    value = redact_json(&r, &value, &mut counts);
    assert_eq!(value, json!("keep  [REDACTED:aws-access-key-id]"));
    assert_eq!(
        counts,
        BTreeMap::from([
            ("aws-access-key-id".to_owned(), 1),
            ("private".to_owned(), 1)
        ])
    );
}

#[test]
fn repeated_markers_are_handled_once_each() {
    let r = default_redactor();
    assert_eq!(r.redact_str(&"<private>".repeat(1000)), "");
    let markers = "-----BEGIN RSA PRIVATE KEY-----\n".repeat(1000);
    assert!(matches!(r.redact_str(&markers), Cow::Borrowed(_)));
    let chained = "key=".repeat(5000);
    assert!(matches!(r.redact_str(&chained), Cow::Borrowed(_)));
    let urls = "https://u:Xk29fj3Lq@h ".repeat(100);
    assert_eq!(
        r.redact_str(&urls),
        "https://u:[REDACTED:url-password]@h ".repeat(100)
    );
}
