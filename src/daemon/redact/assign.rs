//! The `KEY = value` rule (`export GITHUB_TOKEN=…`, `"api_key": "…"`, `password: …`):
//! a byte-level parser started at each secret keyword, and the gate that decides whether
//! the key names a secret and the value is one. A parser rather than a regex because
//! keywords are everywhere in code and nearly all are rejected within a few bytes.
//! Looks at one key and one value, never past the end of a line.

use std::ops::Range;

use super::entropy::{is_placeholder, looks_like_password, looks_random};
use super::keyname::{KeyClass, key_class, names_secret_word};

/// Longer keys are not names but data (a base64 blob that happens to contain `key`).
const MAX_KEY: usize = 256;
/// Longer values are not credentials.
const MAX_VALUE: usize = 4096;

/// `KEY [\]["'] []] [ \t]* OP [ \t]* ( [\]QUOTE VALUE [\]QUOTE | BARE )`, OP one of
/// `:=`, `=>`, `?=`, `+=`, `=`, `:`.
#[derive(Debug)]
pub struct Assignment<'t> {
    key_text: &'t str,
    op: &'t str,
    pub value: Range<usize>,
    quoted: bool,
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

fn is_quote(b: Option<&u8>) -> bool {
    matches!(b, Some(b'"' | b'\'' | b'`'))
}

/// A byte table: `true` for the listed bytes and ASCII whitespace.
const fn stops(listed: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let blanks = b" \t\n\r\x0c";
    let mut i = 0;
    while i < blanks.len() {
        table[blanks[i] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < listed.len() {
        table[listed[i] as usize] = true;
        i += 1;
    }
    table
}

/// Where an unquoted value ends: whitespace, quotes, separators, brackets, `$` (a
/// variable), `\`, `|` and `:`.
const ENDS_BARE: [bool; 256] = stops(b"\"'`,;&<>(){}[]$\\|:");
/// Where a quoted value ends: whitespace, any quote or a backslash.
const ENDS_QUOTED: [bool; 256] = stops(b"\"'`\\");

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// The run of key characters around byte `at` (where a keyword was found). A run too long
/// to be a name gives `Err(p)`: no key starts in it before `p`, so anchors up to there can
/// be passed over.
pub fn key_run(text: &str, at: usize) -> Result<Range<usize>, usize> {
    let b = text.as_bytes();
    let mut end = at;
    while end < b.len() && is_key_byte(b[end]) {
        end += 1;
        if end - at > MAX_KEY {
            return Err(end);
        }
    }
    let mut start = at;
    while start > 0 && is_key_byte(b[start - 1]) {
        start -= 1;
        if end - start > MAX_KEY {
            return Err(end);
        }
    }
    Ok(start..end)
}

/// The assignment whose key is the run `key`, if one follows it. Otherwise `Err(p)`:
/// keywords before `p` belong to this key or to its overlong value, none starts a key.
pub fn parse(text: &str, key: Range<usize>) -> Result<Assignment<'_>, usize> {
    let b = text.as_bytes();
    let (start, end) = (key.start, key.end);
    // The close of a quoted or indexed key: `"key": …`, `\"key\": …`, `env["KEY"] = …`.
    let mut i = end;
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
        i += 2;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    if b.get(i) == Some(&b']') {
        i += 1;
    }
    i = skip_blanks(b, i);
    let op_len = match (b.get(i), b.get(i + 1)) {
        // `==` compares and `::` is a path: neither assigns.
        (Some(b'='), Some(b'=')) | (Some(b':'), Some(b':')) => return Err(end),
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) | (Some(b'?' | b'+'), Some(b'=')) => 2,
        (Some(b'=' | b':'), _) => 1,
        _ => return Err(end),
    };
    let op = &text[i..i + op_len];
    i = skip_blanks(b, i + op_len);
    let open = if b.get(i) == Some(&b'\\') { i + 1 } else { i };
    let quoted = is_quote(b.get(open));
    if !quoted && open != i {
        return Err(end);
    }
    let from = if quoted { open + 1 } else { i };
    let stop = if quoted { &ENDS_QUOTED } else { &ENDS_BARE };
    // One byte past the longest value, so an overlong one is seen without reading it all.
    let limit = b.len().min(from + MAX_VALUE + 1);
    let mut k = from;
    while k < limit && !stop[usize::from(b[k])] {
        k += 1;
    }
    if k - from > MAX_VALUE {
        return Err(k);
    }
    let closed = !quoted || is_quote(b.get(if b.get(k) == Some(&b'\\') { k + 1 } else { k }));
    if k == from || !closed {
        return Err(end.max(k));
    }
    Ok(Assignment {
        key_text: &text[start..end],
        op,
        value: from..k,
        quoted,
    })
}

/// What an admitted assignment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Secret,
    /// `aws_secret_access_key = …`, `"SecretAccessKey": "…"` with a 40-character key.
    AwsSecretKey,
}

/// Whether the assignment holds a secret: the key names one and the value is one. The
/// cheap shape checks run first; most candidates in code fail them.
pub fn admits(text: &str, a: &Assignment<'_>) -> Option<Verdict> {
    let class = key_class(a.key_text)?;
    let value = &text[a.value.clone()];
    if !a.quoted {
        // `token = get_token()`, `key = keys[0]`: a call or an index, not a literal.
        if matches!(text.as_bytes().get(a.value.end), Some(b'(' | b'[')) {
            return None;
        }
        let env_style = is_env_name(a.key_text) && matches!(a.op, "=" | ":");
        if is_code_reference(value, env_style) || is_type_annotation(text, a) {
            return None;
        }
    }
    judge(class, a.key_text, value, a.quoted)
}

/// Whether a JSON member's string value holds a secret, judged with its key
/// (`{"password": "…"}`, `{"DB_PASSWORD": "…"}`): as a quoted assignment is judged.
pub fn admits_member(key: &str, value: &str) -> Option<Verdict> {
    if key.len() > MAX_KEY || value.len() > MAX_VALUE || value.is_empty() {
        return None;
    }
    let class = key_class(key)?;
    // A value spanning lines is a document, not a credential; blanks are prose unless
    // the key asks for a password, where a passphrase of a few words has them.
    let blanks = value.bytes().filter(|&b| b == b' ' || b == b'\t').count();
    if value.contains(['\n', '\r'])
        || (blanks > 0 && (class == KeyClass::Token || blanks > MAX_PASSPHRASE_BLANKS))
    {
        return None;
    }
    judge(class, key, value, true)
}

/// More blanks than this under a password key make a sentence, not a passphrase.
const MAX_PASSPHRASE_BLANKS: usize = 4;

fn judge(class: KeyClass, key: &str, value: &str, quoted: bool) -> Option<Verdict> {
    let shaped = match class {
        KeyClass::Password => looks_like_password(value),
        KeyClass::Token => looks_random(value),
    };
    if !shaped || is_placeholder(value) || (quoted && is_field_name(value)) {
        return None;
    }
    Some(if is_aws_secret_key(key, value) {
        Verdict::AwsSecretKey
    } else {
        Verdict::Secret
    })
}

fn is_aws_secret_key(key: &str, value: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let named = (lower.contains("aws") && lower.contains("secret"))
        || lower
            .replace(['_', '-', '.'], "")
            .ends_with("secretaccesskey");
    named
        && value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
}

/// `DB_PASSWORD=…` in a .env file or a shell, `POSTGRES_PASSWORD: …` in a compose file:
/// whatever follows an upper-case name is a literal.
fn is_env_name(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A bare value that is code, not data: a dotted path (`process.env.TOKEN`,
/// `self.password`) or a constant (`DEFAULT_TOKEN`, `WIN32_ERROR`) always; outside
/// env-style lines also a variable named after a secret (`apiKey`, `dbPassword`) or an
/// identifier without digits (`hashedPass`). Passwords people choose carry digits
/// (`Summer2024`) and still count.
fn is_code_reference(value: &str, env_style: bool) -> bool {
    let ident = |s: &str| {
        let mut b = s.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'$')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
    };
    if value.contains('.') && value.split('.').all(ident) {
        return true;
    }
    let constant = value.contains('_')
        && value.bytes().next().is_some_and(|c| c.is_ascii_uppercase())
        && value
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    if constant {
        return true;
    }
    if env_style || !ident(value) {
        return false;
    }
    names_secret_word(value) || !value.bytes().any(|c| c.is_ascii_digit())
}

/// `"challengePassword"`, `"api_key"`: a quoted name that says what it names, without the
/// digits chosen passwords carry (`"Passw0rd2024"` still counts).
fn is_field_name(value: &str) -> bool {
    let mut b = value.bytes();
    let name = b
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphabetic() || c == b'_');
    name && names_secret_word(value)
}

/// `NAME: Type = …`, `name: Option<T>`, `field: Type;`: after a `:`, a bare word followed
/// by `=`, `<` or `;` is a declared type, not a value.
fn is_type_annotation(text: &str, a: &Assignment<'_>) -> bool {
    let b = text.as_bytes();
    if a.quoted || a.op != ":" {
        return false;
    }
    if b.get(a.value.end) == Some(&b'<') {
        return true;
    }
    let next = skip_blanks(b, a.value.end);
    match (b.get(next), b.get(next + 1)) {
        (Some(b'='), Some(b'=')) => false,
        (Some(b'=' | b';'), _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(text: &str) -> Option<&str> {
        let at = text.find("KEY").or_else(|| text.find("key"))?;
        parse(text, key_run(text, at).ok()?)
            .ok()
            .map(|a| &text[a.value])
    }

    #[test]
    fn parses_the_common_assignment_shapes() {
        assert_eq!(value_of("export API_KEY=abc123"), Some("abc123"));
        assert_eq!(value_of(r#"{"api_key": "v1"}"#), Some("v1"));
        assert_eq!(value_of(r#"{\"api_key\": \"v2\"}"#), Some("v2"));
        assert_eq!(value_of(r#"env["API_KEY"] = 'v3'"#), Some("v3"));
        assert_eq!(value_of("api_key => `v4`"), Some("v4"));
        assert_eq!(value_of("API_KEY := v5;"), Some("v5"));
        assert_eq!(value_of("API_KEY == v6"), None);
        assert_eq!(value_of("Api::KEY::new"), None);
        assert_eq!(value_of("API_KEY = \"two words\""), None);
        assert_eq!(value_of("API_KEY = ${X}"), None);
        assert_eq!(value_of("api_key\n= v7"), None);
    }
}
