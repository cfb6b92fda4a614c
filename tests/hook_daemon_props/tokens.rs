//! A JSON text as the sequence of its tokens, numbers kept as written: how the property
//! test compares what the agent sent with what the sink wrote, digit for digit and key for
//! key, whatever the layout. Only ever run on texts already known to be valid JSON.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An object key, decoded (so `"\u00e9"` and `"é"` are the same key).
    Key(String),
    /// A string value, decoded.
    Str(String),
    /// A number exactly as written.
    Num(String),
    /// `true`, `false`, `null`.
    Lit(String),
    /// `{ } [ ] , :`
    Punct(char),
}

/// The tokens of `text`; panics on what is not JSON (the caller checked it is).
pub fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                out.push(Token::Punct(char::from(b)));
                i += 1;
            }
            b'"' => {
                let end = string_end(bytes, i);
                let raw = &text[i..end];
                let decoded: String = serde_json::from_str(raw)
                    .unwrap_or_else(|e| panic!("string token {raw:?} does not decode: {e}"));
                let mut j = end;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                out.push(if bytes.get(j) == Some(&b':') {
                    Token::Key(decoded)
                } else {
                    Token::Str(decoded)
                });
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                out.push(Token::Num(text[start..i].to_owned()));
            }
            b'a'..=b'z' => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                    i += 1;
                }
                out.push(Token::Lit(text[start..i].to_owned()));
            }
            other => panic!("byte {other:#04x} at {i} is not JSON"),
        }
    }
    out
}

/// The numbers alone, in order.
pub fn numbers(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Num(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// The keys alone, in order (duplicates included).
pub fn keys(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// The deepest nesting of arrays and objects in `text` (strings skipped). Works on any
/// text, JSON or not.
pub fn depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// Index just past the string token opening at `start` (or the end of the text).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}
