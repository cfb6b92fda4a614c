//! The scanner against its promises: strictness, the depth boundary against serde_json's
//! default limit, surrogates and number range, and rewriting that touches nothing else.
//! The property tests compare `validate` with serde_json on generated and mutated texts.

use proptest::prelude::*;

use super::*;

fn serde_accepts(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok()
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn accepts_every_kind_of_value() {
    for ok in [
        "null",
        " true ",
        "false",
        "0",
        "-0.0e-5",
        "123456789012345678901234567890",
        "1.7976931348623157e300",
        "1e-400",
        r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#,
        r#"{"a": [1, 2.50, {"b": null}], "a": {}}"#,
        "[]",
        "{}",
        "\t[ 1 ,\r\n2 ]\n",
    ] {
        assert_eq!(validate(ok), Ok(()), "{ok}");
        assert!(serde_accepts(ok), "{ok}");
    }
}

#[test]
fn refuses_what_no_sink_could_send_and_says_where() {
    for (bad, problem, offset) in [
        ("", Problem::EndOfInput, 0),
        ("  ", Problem::EndOfInput, 2),
        (r#""\ud83d""#, Problem::LoneSurrogate(0xd83d), 1),
        (r#""x\ud83dabc""#, Problem::LoneSurrogate(0xd83d), 2),
        (r#""\ud83d\u0041""#, Problem::LoneSurrogate(0xd83d), 1),
        (r#""\ude00""#, Problem::LoneSurrogate(0xde00), 1),
        (r#""\u12G4""#, Problem::InvalidUnicodeEscape, 1),
        (r#""\x""#, Problem::InvalidEscape, 1),
        ("\"a\nb\"", Problem::ControlCharacter, 2),
        ("[1e400]", Problem::NumberOutOfRange, 1),
        ("-1e309", Problem::NumberOutOfRange, 0),
        ("01", Problem::Trailing, 1),
        ("1.", Problem::InvalidNumber, 2),
        ("-", Problem::InvalidNumber, 1),
        ("[1,]", Problem::Unexpected(']'), 3),
        (r#"{"a":1,}"#, Problem::Unexpected('}'), 7),
        (r#"{"a" 1}"#, Problem::Unexpected('1'), 5),
        ("{1:2}", Problem::Unexpected('1'), 1),
        ("[1 2]", Problem::Unexpected('2'), 3),
        ("[1}", Problem::Unexpected('}'), 2),
        ("tru", Problem::EndOfInput, 3),
        ("trUe", Problem::Unexpected('U'), 2),
        ("nul", Problem::EndOfInput, 3),
        ("{} {}", Problem::Trailing, 3),
        ("[é]", Problem::Unexpected('é'), 1),
        ("\u{feff}{}", Problem::Unexpected('\u{feff}'), 0),
        (r#"{"a": "b"#, Problem::EndOfInput, 8),
        ("[", Problem::EndOfInput, 1),
    ] {
        assert_eq!(validate(bad), Err(JsonError { problem, offset }), "{bad:?}");
        assert!(!serde_accepts(bad), "serde_json accepts {bad:?}");
    }
}

#[test]
fn messages_are_lowercase_and_name_the_offset() {
    let err = validate(r#"{"text": "\ud83d"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lone surrogate \\ud83d in a string at byte 10"
    );
    let err = validate(&nested(MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("nesting deeper than {MAX_DEPTH} levels at byte {MAX_DEPTH}")
    );
}

#[test]
fn the_depth_limit_sits_inside_serde_jsons_with_room_for_the_envelope() {
    assert_eq!(validate(&nested(MAX_DEPTH)), Ok(()));
    assert!(validate(&nested(MAX_DEPTH + 1)).is_err());
    let object = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    assert_eq!(validate(&object), Ok(()));
    // The deepest payload, inside the JSON sink's batch, still parses with the defaults.
    let batch = format!(r#"{{"events":[{{"payload":{}}}]}}"#, nested(MAX_DEPTH));
    assert!(serde_accepts(&batch));
    // serde_json's own boundary, so the margin above is measured, not assumed.
    assert!(serde_accepts(&nested(127)));
    assert!(!serde_accepts(&nested(128)));
}

#[test]
fn a_long_integer_keeps_being_accepted_until_it_overflows() {
    let digits = "9".repeat(308);
    assert_eq!(validate(&digits), Ok(()));
    assert!(validate(&"9".repeat(309)).is_err());
    assert!(!serde_accepts(&"9".repeat(309)));
    assert_eq!(validate(&format!("{digits}.5")), Ok(()));
}

#[test]
fn rewriting_nothing_borrows_the_text() {
    let text = r#"{"a": "b", "n": 123456789012345678901234567890}"#;
    let out = rewrite_strings(text, |_| None).unwrap();
    assert!(matches!(out, std::borrow::Cow::Borrowed(_)));
}

#[test]
fn rewriting_replaces_only_the_tokens_changed_and_copies_the_rest() {
    let text =
        "{\"a\" : \"x\",\n \"a\": [2.50, \"x\", {\"b\": \"x\"}], \"n\": 1E+2, \"k\\u0041\": \"x\"}";
    let mut seen = Vec::new();
    let out = rewrite_strings(text, |t| {
        seen.push((t.role, t.key.map(str::to_owned), t.text().into_owned()));
        (t.text() == "x").then(|| format!("{}\"\n", t.key.unwrap_or("-")))
    })
    .unwrap();
    assert_eq!(
        out,
        "{\"a\" : \"a\\\"\\n\",\n \"a\": [2.50, \"a\\\"\\n\", {\"b\": \"b\\\"\\n\"}], \"n\": 1E+2, \"k\\u0041\": \"kA\\\"\\n\"}"
    );
    assert!(serde_accepts(&out));
    let k = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        vec![
            (Role::Key, None, "a".into()),
            (Role::Value, k("a"), "x".into()),
            (Role::Key, None, "a".into()),
            (Role::Value, k("a"), "x".into()),
            (Role::Key, None, "b".into()),
            (Role::Value, k("b"), "x".into()),
            (Role::Key, None, "n".into()),
            (Role::Key, None, "kA".into()),
            (Role::Value, k("kA"), "x".into()),
        ]
    );
}

#[test]
fn keys_and_top_level_strings_can_be_rewritten_too() {
    let out = rewrite_strings(r#"{"secret-key": 1}"#, |t| {
        (t.role == Role::Key).then(|| "k".to_owned())
    })
    .unwrap();
    assert_eq!(out, r#"{"k": 1}"#);
    let out = rewrite_strings(r#" "x" "#, |t| {
        assert_eq!(t.key, None);
        Some("\u{1}\u{1f600}\\".to_owned())
    })
    .unwrap();
    assert_eq!(out, " \"\\u0001\u{1f600}\\\\\" ");
}

#[test]
fn decoding_resolves_every_escape() {
    let text = r#"["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u2028z"]"#;
    let mut got = String::new();
    rewrite_strings(text, |t| {
        got = t.text().into_owned();
        None
    })
    .unwrap();
    assert_eq!(got, "\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1f600}\u{2028}z");
    let back = rewrite_strings(text, |t| Some(format!("{}!", t.text()))).unwrap();
    let parsed: Vec<String> = serde_json::from_str(&back).unwrap();
    assert_eq!(parsed, vec![format!("{got}!")]);
}

#[test]
fn rewriting_refuses_what_validate_refuses() {
    assert!(rewrite_strings(r#"["\ud83d"]"#, |_| None).is_err());
    assert!(rewrite_strings(r#"{"a": 1} x"#, |_| None).is_err());
}

/// JSON texts with some whitespace, surrogate escapes (paired or not), numbers up to
/// out of range, and nesting up to a few levels.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,4})?([eE][-+]?[0-9]{1,3})?",
        r#""([a-z é\u{1f600}]|\\[nt"\\/bfr]|\\u[dD][89abAB][0-9a-f]{2}|\\u[dD][c-fC-F][0-9a-f]{2}|\\u[0-9a-f]{4}){0,6}""#,
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{0,3}", "[ \t\n]{0,2}", inner), 0..5).prop_map(|v| {
                let members: Vec<String> = v
                    .into_iter()
                    .map(|(k, ws, v)| format!("\"{k}\"{ws}:{ws}{v}"))
                    .collect();
                format!("{{{}}}", members.join(", "))
            }),
        ]
    })
}

/// Edits that break JSON in the ways that matter: structure, escapes, numbers, controls.
fn mutation() -> impl Strategy<Value = (prop::sample::Index, u8, &'static str)> {
    (
        any::<prop::sample::Index>(),
        0u8..3,
        prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "e", "E", "-",
            "+", ".", "0", "9", "e400", " ", "\n", "\u{1}", "t", "é", "x",
        ]),
    )
}

fn mutate(text: &str, edits: &[(prop::sample::Index, u8, &str)]) -> String {
    let mut s = text.to_owned();
    for (at, op, piece) in edits {
        let bounds: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
        let i = bounds[at.index(bounds.len())];
        let next = bounds.iter().copied().find(|&j| j > i).unwrap_or(i);
        match op {
            0 => s.insert_str(i, piece),
            1 => s.replace_range(i..next, ""),
            _ => s.replace_range(i..next, piece),
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn validate_agrees_with_serde_json_on_generated_texts(text in json_text()) {
        prop_assert_eq!(validate(&text).is_ok(), serde_accepts(&text), "{}", text);
    }

    #[test]
    fn validate_agrees_with_serde_json_on_mutated_texts(
        text in json_text(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let text = mutate(&text, &edits);
        prop_assert_eq!(validate(&text).is_ok(), serde_accepts(&text), "{}", text);
    }

    #[test]
    fn rewriting_every_string_matches_serde_jsons_reading(text in json_text()) {
        prop_assume!(validate(&text).is_ok());
        let out = rewrite_strings(&text, |t| Some(format!("<{}>", t.text()))).unwrap();
        let mut want: serde_json::Value = serde_json::from_str(&text).unwrap();
        wrap_strings(&mut want);
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(got, want);
    }
}

/// What `rewriting_every_string…` does, done on a parsed value. Duplicate keys collapse the
/// same way on both sides (last wins), so the comparison holds.
fn wrap_strings(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => *s = format!("<{s}>"),
        Value::Array(items) => items.iter_mut().for_each(wrap_strings),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut item) in old {
                wrap_strings(&mut item);
                map.insert(format!("<{k}>"), item);
            }
        }
        _ => {}
    }
}
