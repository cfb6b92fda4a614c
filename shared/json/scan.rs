//! The walk itself: a byte loop with an explicit container stack (a bit per level), which
//! checks every token and tells a visitor where each string is and when containers open
//! and close. Knows nothing of decoding or rewriting (that is `strings.rs`).

use super::{JsonError, MAX_DEPTH, Problem};

/// What the walk reports as it goes. Every method has an empty default, so validation
/// (`Ignore`) compiles to the bare checks.
pub(super) trait Visit {
    /// A string token at `start..end` (quotes included), `escaped` when it holds a
    /// backslash, `key` when it is an object member's name.
    fn string(&mut self, _start: usize, _end: usize, _escaped: bool, _key: bool) {}
    fn open(&mut self, _object: bool) {}
    fn close(&mut self) {}
}

pub(super) struct Ignore;
impl Visit for Ignore {}

/// Bytes a string's fast loop stops at: the closing quote, a backslash, a control byte.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Below this many integer digits (and with no exponent) a number is finite for sure.
const SAFE_DIGITS: usize = 308;
/// serde_json's float parser may round a hair differently from std's at the very top of
/// the range: refuse what lies that close to overflowing, so what passes here passes there.
const FLOAT_LIMIT: f64 = f64::MAX * (1.0 - 1e-12);

pub(super) fn walk<V: Visit>(text: &[u8], v: &mut V) -> Result<(), JsonError> {
    let mut s = Scanner { b: text, i: 0 };
    // One bit per open container, set for an object.
    let mut objects = [0u64; MAX_DEPTH.div_ceil(64)];
    let mut depth = 0usize;
    s.skip_ws();
    loop {
        // A value starts at s.i.
        match s.peek() {
            Some(c @ (b'{' | b'[')) => {
                if depth == MAX_DEPTH {
                    return Err(s.fail(Problem::TooDeep));
                }
                let object = c == b'{';
                if object {
                    objects[depth / 64] |= 1 << (depth % 64);
                } else {
                    objects[depth / 64] &= !(1 << (depth % 64));
                }
                depth += 1;
                s.i += 1;
                v.open(object);
                s.skip_ws();
                let empty = if object { b'}' } else { b']' };
                if s.peek() == Some(empty) {
                    s.i += 1;
                    depth -= 1;
                    v.close();
                } else {
                    if object {
                        s.key(v)?;
                    }
                    continue;
                }
            }
            Some(b'"') => s.string(v, false)?,
            Some(b'-' | b'0'..=b'9') => s.number()?,
            Some(b't') => s.literal(b"true")?,
            Some(b'f') => s.literal(b"false")?,
            Some(b'n') => s.literal(b"null")?,
            Some(_) => return Err(s.unexpected()),
            None => return Err(s.fail(Problem::EndOfInput)),
        }
        // After a value: a separator, the end of containers, or the end of the text.
        loop {
            s.skip_ws();
            if depth == 0 {
                return match s.peek() {
                    None => Ok(()),
                    Some(_) => Err(s.fail(Problem::Trailing)),
                };
            }
            let top = depth - 1;
            let in_object = objects[top / 64] & (1 << (top % 64)) != 0;
            match s.peek() {
                Some(b',') => {
                    s.i += 1;
                    s.skip_ws();
                    if in_object {
                        s.key(v)?;
                    }
                    break;
                }
                Some(b'}') if in_object => {}
                Some(b']') if !in_object => {}
                Some(_) => return Err(s.unexpected()),
                None => return Err(s.fail(Problem::EndOfInput)),
            }
            s.i += 1;
            depth -= 1;
            v.close();
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn fail(&self, problem: Problem) -> JsonError {
        JsonError {
            problem,
            offset: self.i,
        }
    }

    /// The character at the cursor, named in the error (or the end of input).
    fn unexpected(&self) -> JsonError {
        match utf8_first(self.b.get(self.i..).unwrap_or_default()) {
            Some(c) => self.fail(Problem::Unexpected(c)),
            None => self.fail(Problem::EndOfInput),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// An object member's name, its colon, and the whitespace up to its value.
    fn key<V: Visit>(&mut self, v: &mut V) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        self.string(v, true)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.unexpected());
        }
        self.i += 1;
        self.skip_ws();
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        for &c in word {
            if self.peek() != Some(c) {
                return Err(self.unexpected());
            }
            self.i += 1;
        }
        Ok(())
    }

    fn string<V: Visit>(&mut self, v: &mut V, key: bool) -> Result<(), JsonError> {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        loop {
            while self.i < self.b.len() && !STOP[self.b[self.i] as usize] {
                self.i += 1;
            }
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return Err(self.fail(Problem::ControlCharacter)),
                None => return Err(self.fail(Problem::EndOfInput)),
            }
        }
        self.i += 1;
        v.string(start, self.i, escaped, key);
        Ok(())
    }

    /// One escape at the cursor (its backslash); a high surrogate takes its low half along.
    fn escape(&mut self) -> Result<(), JsonError> {
        let at = self.i;
        match self.b.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.i += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4(at + 2)?;
                self.i = at + 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = (self.b.get(self.i) == Some(&b'\\')
                            && self.b.get(self.i + 1) == Some(&b'u'))
                        .then(|| self.hex4(self.i + 2))
                        .transpose()?;
                        match low {
                            Some(0xDC00..=0xDFFF) => {
                                self.i += 6;
                                Ok(())
                            }
                            _ => Err(JsonError {
                                problem: Problem::LoneSurrogate(unit),
                                offset: at,
                            }),
                        }
                    }
                    0xDC00..=0xDFFF => Err(JsonError {
                        problem: Problem::LoneSurrogate(unit),
                        offset: at,
                    }),
                    _ => Ok(()),
                }
            }
            Some(_) => Err(JsonError {
                problem: Problem::InvalidEscape,
                offset: at,
            }),
            None => Err(JsonError {
                problem: Problem::EndOfInput,
                offset: at + 1,
            }),
        }
    }

    /// Four hex digits at `at`, as a UTF-16 unit.
    fn hex4(&self, at: usize) -> Result<u16, JsonError> {
        let mut unit = 0u16;
        for k in 0..4 {
            let digit = match self.b.get(at + k) {
                Some(&c) => (c as char).to_digit(16),
                None => {
                    return Err(JsonError {
                        problem: Problem::EndOfInput,
                        offset: at + k,
                    });
                }
            };
            match digit {
                Some(d) => unit = unit << 4 | d as u16,
                None => {
                    return Err(JsonError {
                        problem: Problem::InvalidUnicodeEscape,
                        offset: at - 2,
                    });
                }
            }
        }
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let integer = match self.peek() {
            Some(b'0') => {
                self.i += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.fail(Problem::InvalidNumber)),
        };
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.fail(Problem::InvalidNumber));
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail(Problem::InvalidNumber));
            }
        }
        if exponent || integer > SAFE_DIGITS {
            // ASCII digits, signs, dots and `e` only: always UTF-8, always parseable.
            let finite = std::str::from_utf8(&self.b[start..self.i])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|x| x.abs() < FLOAT_LIMIT);
            if !finite {
                return Err(JsonError {
                    problem: Problem::NumberOutOfRange,
                    offset: start,
                });
            }
        }
        Ok(())
    }
}

/// The first character of bytes that are a valid UTF-8 prefix (the text came from a `str`).
fn utf8_first(bytes: &[u8]) -> Option<char> {
    (1..=bytes.len().min(4))
        .rev()
        .find_map(|n| std::str::from_utf8(&bytes[..n]).ok())
        .and_then(|s| s.chars().next())
}
