//! HTTP credential headers: `Authorization`, `Proxy-Authorization`, `Cookie` and
//! `Set-Cookie`, whose values are credentials whatever they look like. Finds the header
//! line in text (`curl -H "Cookie: sid=…"`, a logged request) and says which parts of a
//! header's value to redact: the credentials after the scheme (`Basic …`, `Digest …`),
//! each cookie's value. The name is kept, and so is an authorization scheme.

use std::ops::Range;

use super::entropy::{is_placeholder, looks_like_password};

/// A header whose value is a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Authorization,
    Cookie,
    SetCookie,
}

/// The longest header name looked for (`proxy-authorization`).
const MAX_NAME: usize = 19;
/// Longer values are bodies, not header values (browsers cap a cookie at 4096 bytes).
const MAX_VALUE: usize = 4096;
/// Shorter credentials are flags or tests (`Basic x`), not worth a false alarm.
const MIN_CREDENTIAL: usize = 4;

/// The header `name` is, compared ignoring case.
pub fn header(name: &str) -> Option<Header> {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("authorization") || is("proxy-authorization") {
        Some(Header::Authorization)
    } else if is("cookie") {
        Some(Header::Cookie)
    } else if is("set-cookie") {
        Some(Header::SetCookie)
    } else {
        None
    }
}

/// The stretches of `value`, the value of header `h`, that are credentials.
pub fn credentials(h: Header, value: &str, out: &mut Vec<Range<usize>>) {
    if value.len() > MAX_VALUE {
        return;
    }
    match h {
        Header::Authorization => {
            let start = value.len() - value.trim_start().len();
            let rest = &value[start..];
            // `Scheme credentials`: the scheme is a word (`Basic`, `AWS4-HMAC-SHA256`).
            let cut = match rest.find([' ', '\t']) {
                Some(i) if is_scheme(&rest[..i]) => {
                    i + (rest[i..].len() - rest[i..].trim_start().len())
                }
                _ => 0,
            };
            push(out, value, start + cut, start + rest.trim_end().len());
        }
        Header::Cookie => cookie_values(value, usize::MAX, out),
        // After the first pair come attributes (`Path=/`, `Expires=…`): not secrets.
        Header::SetCookie => cookie_values(value, 1, out),
    }
}

fn is_scheme(word: &str) -> bool {
    (1..=32).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of each `name=value` pair of a cookie list, at most `pairs` of them.
fn cookie_values(value: &str, pairs: usize, out: &mut Vec<Range<usize>>) {
    let mut at = 0;
    for part in value.split(';').take(pairs) {
        if let Some(eq) = part.find('=') {
            let v = &part[eq + 1..];
            let lead = v.len() - v.trim_start().len();
            let start = at + eq + 1 + lead;
            push(out, value, start, start + v.trim().len());
        }
        at += part.len() + 1;
    }
}

/// Keeps `value[start..end]` when it looks like a credential: chosen or generated, not a
/// placeholder and not a word (`theme=dark`, `Bearer token-from-the-login-step`).
fn push(out: &mut Vec<Range<usize>>, value: &str, start: usize, end: usize) {
    // `Basic ` with nothing after the scheme: the blanks run past the trimmed end.
    let Some(part) = value.get(start..end) else {
        return;
    };
    if part.len() >= MIN_CREDENTIAL && looks_like_password(part) && !is_placeholder(part) {
        out.push(start..end);
    }
}

/// A header line in text around the anchor at `at` (inside the header's name): the
/// header, and where its value lies. `Err(p)`: none, and none starts before `p` either
/// (its value ran past the longest a header has), so anchors before `p` need no look. `Cookie: a=b`, `"Cookie": "a=b"`,
/// `\"Cookie\": \"a=b\"`, `-H 'Cookie: a=b'`. The value ends at its closing quote, a
/// backslash (an escaped quote or newline) or the end of the line.
pub fn line(text: &str, at: usize) -> Result<(Header, Range<usize>), usize> {
    let b = text.as_bytes();
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    // Bounded both ways: a long run of name bytes (`cookiecookie…`) is no header name,
    // and walking all of it at each anchor would make the scan quadratic.
    let mut start = at;
    while start > 0 && name_byte(b[start - 1]) {
        start -= 1;
        if at - start > MAX_NAME {
            return Err(0);
        }
    }
    let mut end = at;
    while end < b.len() && name_byte(b[end]) {
        end += 1;
        if end - start > MAX_NAME {
            return Err(0);
        }
    }
    let h = header(&text[start..end]).ok_or(0usize)?;
    let mut i = end;
    if b.get(i) == Some(&b'\\') {
        i += 1;
    }
    let quoted_name = matches!(b.get(i), Some(b'"' | b'\''));
    if quoted_name {
        i += 1;
    } else if i != end {
        return Err(0);
    }
    if b.get(i) != Some(&b':') {
        return Err(0);
    }
    i += 1;
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
        i += 2;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let limit = b.len().min(i + MAX_VALUE + 1);
    let mut k = i;
    while k < limit && !matches!(b[k], b'"' | b'\'' | b'\\' | b'\n' | b'\r') {
        k += 1;
    }
    match k - i {
        0 => Err(0),
        // A run past the longest value is a blob that happens to follow the name.
        n if n > MAX_VALUE => Err(k),
        _ => Ok((h, i..k)),
    }
}

/// The credential stretches of the header line at `at`, as offsets into `text`. Returns
/// where the line's look ended: no other header line starts before that.
pub fn line_credentials(text: &str, at: usize, out: &mut Vec<Range<usize>>) -> usize {
    let (h, value) = match line(text, at) {
        Ok(found) => found,
        Err(past) => return past,
    };
    let mut found = Vec::new();
    credentials(h, &text[value.clone()], &mut found);
    out.extend(
        found
            .into_iter()
            .map(|r| value.start + r.start..value.start + r.end),
    );
    value.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        let at = text
            .find("uthorization")
            .or_else(|| text.find("ookie"))
            .unwrap();
        let mut spans = Vec::new();
        line_credentials(text, at, &mut spans);
        let mut out = text.to_owned();
        for r in spans.into_iter().rev() {
            out.replace_range(r, "X");
        }
        out
    }

    #[test]
    fn header_lines_keep_the_name_and_scheme_and_lose_the_credentials() {
        assert_eq!(
            redacted("Authorization: Basic dXNlcjpwYXNzd29yZA=="),
            "Authorization: Basic X"
        );
        assert_eq!(
            redacted(r#"curl -H "Cookie: sid=8f3a9c2b7e; theme=dark" x"#),
            r#"curl -H "Cookie: sid=X; theme=dark" x"#
        );
        assert_eq!(
            redacted("Set-Cookie: session=a8f5f167f44f4964; Path=/; HttpOnly"),
            "Set-Cookie: session=X; Path=/; HttpOnly"
        );
        assert_eq!(
            redacted(r#"{\"authorization\": \"Digest abcdef0123\"}"#),
            r#"{\"authorization\": \"Digest X\"}"#
        );
        assert_eq!(
            redacted("proxy-authorization: s3cr3tvalue"),
            "proxy-authorization: X"
        );
    }

    #[test]
    fn prose_and_placeholders_stay() {
        for text in [
            "set the Authorization header",
            "Authorization: Bearer ${TOKEN}",
            "Authorization: Basic <base64>",
            "Authorization: Bearer token-from-the-login-step",
            "cookies: none",
            "the cookie jar is empty",
            "Cookie:",
            "Authorization: Basic ",
            "Authorization: Basic \t ",
            "Cookie: =; ;=",
            "xproxy-authorization: s3cr3tvalue",
        ] {
            assert_eq!(redacted(text), text);
        }
    }
}
