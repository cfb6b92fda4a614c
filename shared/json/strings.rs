//! String tokens: decoding them (escapes resolved, borrowed when there are none),
//! writing them back escaped, and the rewriter that hands each token to the caller with
//! the key it belongs to and splices in only the tokens the caller changes.

use std::borrow::Cow;

use super::JsonError;
use super::scan::{self, Visit};

/// Whether a string token names an object member or is a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Key,
    Value,
}

/// One string token as the rewriter's caller sees it.
#[derive(Debug)]
pub struct StringToken<'t> {
    pub role: Role,
    /// For a value: the name of the member it sits under, the nearest enclosing one for an
    /// array's items (`{"env": ["A=b"]}` gives `env`), `None` outside any object.
    /// For a key: `None`.
    pub key: Option<&'t str>,
    /// The token as written between its quotes, escapes unresolved.
    pub raw: &'t str,
    /// Whether `raw` holds a backslash.
    pub escaped: bool,
}

impl<'t> StringToken<'t> {
    /// The token's text, escapes resolved: decoded only when asked (borrowed when there
    /// are no escapes), so a caller that can judge `raw` alone pays nothing.
    pub fn text(&self) -> Cow<'t, str> {
        decode(self.raw, self.escaped)
    }

    /// Whether each character of the text that is not `"`, `\` or a control character
    /// is written as itself in `raw` (no `\u` or `\/` escapes): then a literal of such
    /// characters occurs in the text only if it occurs in `raw`.
    pub fn literal_in_raw(&self) -> bool {
        !self.escaped || !(self.raw.contains("\\u") || self.raw.contains("\\/"))
    }
}

/// `text` with each string token the caller answers `Some(new)` for replaced by `new`,
/// escaped; every other byte (numbers, whitespace, duplicate keys) copied as it stands.
/// Borrowed when nothing changes. Validates as [`super::validate`] does.
pub fn rewrite_strings<'a, F>(text: &'a str, change: F) -> Result<Cow<'a, str>, JsonError>
where
    F: FnMut(&StringToken<'_>) -> Option<String>,
{
    let mut r = Rewriter {
        text,
        change,
        out: None,
        copied: 0,
        frames: Vec::new(),
    };
    scan::walk(text.as_bytes(), &mut r)?;
    Ok(match r.out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[r.copied..]);
            Cow::Owned(out)
        }
    })
}

struct Frame<'a> {
    object: bool,
    /// The key this container sits under (its own member name, or its parent's).
    under: Option<Cow<'a, str>>,
    /// In an object: the name of the member being read.
    member: Option<Cow<'a, str>>,
}

struct Rewriter<'a, F> {
    text: &'a str,
    change: F,
    out: Option<String>,
    copied: usize,
    frames: Vec<Frame<'a>>,
}

/// The key a value or container at the cursor belongs to.
fn current_key<'f, 'a>(frames: &'f [Frame<'a>]) -> Option<&'f Cow<'a, str>> {
    let top = frames.last()?;
    if top.object {
        top.member.as_ref()
    } else {
        top.under.as_ref()
    }
}

impl<'a, F> Visit for Rewriter<'a, F>
where
    F: FnMut(&StringToken<'_>) -> Option<String>,
{
    fn open(&mut self, object: bool) {
        let under = current_key(&self.frames).cloned();
        self.frames.push(Frame {
            object,
            under,
            member: None,
        });
    }

    fn close(&mut self) {
        self.frames.pop();
    }

    fn string(&mut self, start: usize, end: usize, escaped: bool, key: bool) {
        let text: &'a str = self.text;
        let raw = &text[start + 1..end - 1];
        let new = {
            let token = StringToken {
                role: if key { Role::Key } else { Role::Value },
                key: if key {
                    None
                } else {
                    current_key(&self.frames).map(|k| k.as_ref())
                },
                raw,
                escaped,
            };
            (self.change)(&token).filter(|n| *n != token.text())
        };
        if let Some(new) = new {
            let out = self
                .out
                .get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[self.copied..start]);
            push_escaped(out, &new);
            self.copied = end;
        }
        if key && let Some(top) = self.frames.last_mut() {
            top.member = Some(decode(raw, escaped));
        }
    }
}

/// A string token's inside (quotes stripped) with its escapes resolved. The walk has
/// checked it, so every escape is well formed and surrogates come in pairs.
fn decode(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let b = rest.as_bytes();
        let (c, used) = match b.get(at + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let high = hex4(rest, at + 2);
                if (0xD800..0xDC00).contains(&high) {
                    let low = hex4(rest, at + 8);
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00));
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(high).unwrap_or('\u{FFFD}'), 6)
                }
            }
            Some(&c) => (c as char, 2),
            None => ('\\', 1),
        };
        out.push(c);
        rest = rest.get(at + used..).unwrap_or_default();
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn hex4(s: &str, at: usize) -> u32 {
    s.get(at..at + 4)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or(0xFFFD)
}

/// `text` as a JSON string token, quotes included: `"` and `\` escaped, control
/// characters as `\n`, `\t`… or `\u00XX`; everything else as it is.
pub(super) fn push_escaped(out: &mut String, text: &str) {
    out.push('"');
    let mut from = 0;
    for (i, b) in text.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&text[from..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(short);
        }
        from = i + 1;
    }
    out.push_str(&text[from..]);
    out.push('"');
}
