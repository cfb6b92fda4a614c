//! How a candidate value looks: Shannon entropy, character classes, randomness and
//! placeholders. The thresholds live here, with the reasons for them.
//! Pure functions over one string; nothing here knows about rules or keys.
//!
//! Why these thresholds, by example:
//! - `password = "changeme"` stays: a well-known default, one character class and
//!   2.75 bits/char. Hiding it protects nothing and would mark every sample config.
//! - `password = "Summer2024!"` goes: people pick passwords, so a password key only asks
//!   for 8+ characters in two classes; 2.5 bits/char drops `aaaaaaa1`-style fillers.
//! - `api_key = "user-preferences-v2"` stays, `api_key = "q8Zr2LmX0pT4vN7c"` goes: machines
//!   make tokens, so a token needs 16+ characters, 3.0 bits/char, a digit and a letter,
//!   and frequent switches between character classes. Entropy alone cannot tell
//!   `session-cache-entries` from a token (both score about 3.5); the switches can: words
//!   switch class rarely (ratio ≈ 0.05), random base62 or hex about every other character.

/// Bits per character of `s`'s byte distribution.
pub fn shannon(s: &str) -> f64 {
    // Candidates are at most a few KiB: u16 counts keep the table to 512 bytes.
    let mut counts = [0u16; 256];
    for b in s.bytes() {
        counts[usize::from(b)] = counts[usize::from(b)].saturating_add(1);
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    /// `-`, `_`, `.`, `:`, `/` and spaces join words; they say nothing about randomness.
    Separator,
    Symbol,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        b'-' | b'_' | b'.' | b':' | b'/' | b' ' => Class::Separator,
        _ => Class::Symbol,
    }
}

/// Share of neighbouring characters (separators skipped) that switch class, not counting
/// the capital that starts a camelCase word.
fn switch_ratio(s: &str) -> f64 {
    let (mut prev, mut pairs, mut switches) = (None, 0usize, 0usize);
    for c in s.bytes().map(class).filter(|c| *c != Class::Separator) {
        if let Some(p) = prev {
            pairs += 1;
            if p != c && !(p == Class::Upper && c == Class::Lower) {
                switches += 1;
            }
        }
        prev = Some(c);
    }
    if pairs == 0 {
        return 0.0;
    }
    switches as f64 / pairs as f64
}

const TOKEN_MIN_LEN: usize = 16;
const TOKEN_MIN_BITS: f64 = 3.0;
const TOKEN_MIN_SWITCHES: f64 = 0.2;
const PASSWORD_MIN_LEN: usize = 8;
const PASSWORD_MIN_BITS: f64 = 2.5;

/// A machine-made token: long, varied, with digits and letters switching often.
pub fn looks_random(s: &str) -> bool {
    s.len() >= TOKEN_MIN_LEN
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && switch_ratio(s) >= TOKEN_MIN_SWITCHES
        && shannon(s) >= TOKEN_MIN_BITS
}

/// A password someone chose: long enough, two character classes (separators do not count,
/// so `test-password` is one class), not a filler; or a generated one.
pub fn looks_like_password(s: &str) -> bool {
    let mut seen = [false; 5];
    for b in s.bytes() {
        seen[class(b) as usize] = true;
    }
    seen[Class::Separator as usize] = false;
    let classes = seen.iter().filter(|&&x| x).count();
    let chosen = s.len() >= PASSWORD_MIN_LEN && classes >= 2 && shannon(s) >= PASSWORD_MIN_BITS;
    chosen || looks_random(s)
}

/// Words that mark a value as a stand-in for a secret, not the secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "your",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "redacted",
    "dummy",
    "sample",
    "xxxx",
    "****",
    "....",
];

/// Template syntax, stand-in words, or a run of one character (`ghp_xxxxxxxx…`).
pub fn is_placeholder(s: &str) -> bool {
    if s.starts_with('$') || s.contains("${") || s.contains("$(") || s.contains("{{") {
        return true;
    }
    let wrapped = |open, close| s.starts_with(open) && s.ends_with(close);
    if s.contains("%s") || s.contains("%(") || wrapped('<', '>') || wrapped('{', '}') {
        return true;
    }
    let b = s.as_bytes();
    let has_word = |w: &str| {
        b.windows(w.len())
            .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
    };
    PLACEHOLDER_WORDS.iter().any(|w| has_word(w)) || longest_run(s) >= 6
}

fn longest_run(s: &str) -> usize {
    let (mut best, mut run, mut prev) = (0, 0, None);
    for b in s.bytes() {
        run = if Some(b) == prev { run + 1 } else { 1 };
        prev = Some(b);
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_repeated_strings() {
        assert_eq!(shannon("aaaa"), 0.0);
        assert!((shannon("abcd") - 2.0).abs() < 1e-9);
        assert!((shannon("changeme") - 2.75).abs() < 1e-9);
    }

    #[test]
    fn random_tokens_pass_and_words_do_not() {
        for token in [
            "q8Zr2LmX0pT4vN7c",
            "5d41402abc4b2a76b9719d911017c592",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz0Q1lKA7w",
        ] {
            assert!(looks_random(token), "{token}");
        }
        for word in [
            "user-preferences-v2",
            "session-cache-entries",
            "hashedPasswordValue2",
            "1234567890123456",
            "short1",
        ] {
            assert!(!looks_random(word), "{word}");
        }
    }

    #[test]
    fn chosen_passwords_pass_and_defaults_do_not() {
        for pw in ["Summer2024!", "hunter22x", "P@ssw0rd", "correct-Horse-9"] {
            assert!(looks_like_password(pw), "{pw}");
        }
        for pw in ["changeme", "test-password", "aaaaaaa1", "hunter2"] {
            assert!(!looks_like_password(pw), "{pw}");
        }
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "${TOKEN}",
            "$API_KEY",
            "<your-token>",
            "{{ secrets.TOKEN }}",
            "your-api-key-here",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAIOSFODNN7EXAMPLE",
            "********",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        assert!(!is_placeholder("q8Zr2LmX0pT4vN7c"));
    }
}
