//! The fixed inputs of the property test: each known-nasty shape (lone surrogates, nesting
//! at and past the limit, numbers past f64, duplicate keys, NUL and non-UTF-8 bytes, empty,
//! truncated, the size cap) with the outcome it must have. Known cases only; no generator.

use super::inputs::{CAP, Case, Expect, MAX_DEPTH};

fn wrap(member: &str) -> String {
    format!(r#"{{"hook_event_name":"PostToolUse",{member}}}"#)
}

/// An event whose whole text is `depth` levels deep.
fn nested(depth: usize) -> String {
    format!(
        r#"{{"hook_event_name":"Stop","d":{}0{}}}"#,
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

/// The known-nasty inputs, each with its required outcome.
pub fn fixed() -> Vec<Case> {
    use Expect::*;
    let mut cases = vec![
        Case::new("empty", "", Rejected),
        Case::new("whitespace only", " \n\t\r\n ", Rejected),
        Case::new("lone high surrogate", wrap(r#""s":"\ud83d""#), Rejected),
        Case::new("lone low surrogate", wrap(r#""s":"x\udE00y""#), Rejected),
        Case::new(
            "surrogate then letter",
            wrap(r#""s":"\ud83d\u0041""#),
            Rejected,
        ),
        Case::new("lone surrogate in a key", wrap(r#""\ud83d":1"#), Rejected),
        Case::new("1e400", wrap(r#""n":1e400"#), Rejected),
        Case::new("-1e309", wrap(r#""n":[-1e309]"#), Rejected),
        Case::new(
            "huge integer",
            wrap(r#""n":123456789012345678901234567890"#),
            Delivered,
        ),
        Case::new(
            "2.50 and -0",
            wrap(r#""a":2.50,"b":-0,"c":-0.0,"d":1E+2"#),
            Delivered,
        ),
        Case::new("1e-400 underflows", wrap(r#""n":1e-400"#), Delivered),
        Case::new("near f64 max", wrap(r#""n":1.7976931348e308"#), Delivered),
        // Refused by design: `validate` keeps a margin below f64::MAX for other parsers.
        Case::new("f64 max", wrap(r#""n":1.7976931348623157e308"#), Either),
        Case::new(
            "duplicate keys",
            wrap(r#""a":1,"a":2,"a":{"a":3,"a":[4]}"#),
            Delivered,
        ),
        Case::new(
            "duplicate envelope keys",
            r#"{"hook_event_name":"Stop","session_id":"one","session_id":"two"}"#,
            Delivered,
        ),
        Case::new(
            "escaped unicode",
            wrap(r#""s":"\u00e9\u00E9\ud83d\ude00\u2028\u0000\/""#),
            Delivered,
        ),
        Case::new(
            "escaped envelope",
            r#"{"hook_event_name":"Stop","session_id":"s\u0000\n\u00e9","cwd":"/tmp/\ud83d\ude00"}"#,
            Delivered,
        ),
        Case::new(
            "raw NUL in a string",
            b"{\"hook_event_name\":\"Stop\",\"s\":\"a\0b\"}".to_vec(),
            Rejected,
        ),
        Case::new(
            "raw NUL after",
            b"{\"hook_event_name\":\"Stop\"}\0".to_vec(),
            Rejected,
        ),
        Case::new(
            "invalid UTF-8",
            b"{\"hook_event_name\":\"Stop\",\"s\":\"caf\xe9\"}".to_vec(),
            Rejected,
        ),
        Case::new(
            "cut emoji bytes",
            b"{\"hook_event_name\":\"Stop\",\"s\":\"\xf0\x9f\x98\"}".to_vec(),
            Rejected,
        ),
        Case::new(
            "UTF-8 BOM",
            "\u{feff}{\"hook_event_name\":\"Stop\"}",
            Rejected,
        ),
        Case::new(
            "truncated",
            r#"{"hook_event_name":"Stop","s":"ab"#,
            Rejected,
        ),
        Case::new(
            "truncated after a comma",
            r#"{"hook_event_name":"Stop","#,
            Rejected,
        ),
        Case::new("trailing comma", r#"{"hook_event_name":"Stop",}"#, Rejected),
        Case::new("array", "[1,2,3]", Rejected),
        Case::new("bare number", "123456789012345678901234567890", Rejected),
        Case::new("null", "null", Rejected),
        Case::new("empty object", "{}", Delivered),
        Case::new(
            "pretty-printed",
            "{\n  \"hook_event_name\": \"Stop\",\n  \"n\": [\n    1.10,\n    -0,\n    123456789012345678901234567890\n  ],\n  \"a\": 1,\n  \"a\": 2\n}\n",
            Delivered,
        ),
        Case::new("depth at the limit", nested(MAX_DEPTH), Delivered),
        Case::new("depth one over", nested(MAX_DEPTH + 1), Rejected),
        Case::new("depth 128", nested(128), Rejected),
        Case::new("depth 129", nested(129), Rejected),
        Case::new("depth 100000", nested(100_000), Rejected),
        Case::new(
            "non-event object nested",
            r#"{"a":{"b":{"c":[]}}}"#,
            Delivered,
        ),
    ];
    let long = "x".repeat(CAP - 200);
    cases.push(Case::new(
        "long string under the cap",
        wrap(&format!(r#""s":"{long}""#)),
        Delivered,
    ));
    let prefix = r#"{"hook_event_name":"Stop","s":""#;
    let exact = format!("{prefix}{}\"}}", "y".repeat(CAP - prefix.len() - 2));
    assert_eq!(exact.len(), CAP);
    cases.push(Case::new("exactly the cap", exact, Delivered));
    cases.push(Case::new(
        "one byte over the cap",
        format!("{prefix}{}\"}}", "y".repeat(CAP - prefix.len() - 1)),
        Rejected,
    ));
    cases.push(Case::new(
        "many escapes",
        wrap(&format!(r#""s":"{}""#, "\\n\\u00e9\\\"".repeat(20_000))),
        Delivered,
    ));
    cases
}
