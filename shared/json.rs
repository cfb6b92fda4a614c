//! The one JSON scanner of the project: `validate` decides whether a text is strict JSON
//! (RFC 8259) that every sink can deliver, and `rewrite_strings` walks its string tokens so
//! the redactor can replace some of them while every other byte is copied as it stands.
//! Single pass, no recursion, no allocation when validating; never builds a value tree.

mod scan;
mod strings;
#[cfg(test)]
mod tests;

pub use strings::{Role, StringToken, rewrite_strings};

/// The deepest nesting of arrays and objects `validate` accepts. serde_json's default
/// recursion limit takes 127 levels; the sinks wrap a payload in a few more (the JSON
/// sink's `{"events":[{"payload":…}]}` adds three), so a collector parsing a batch with a
/// stock parser still has room.
pub const MAX_DEPTH: usize = 100;

/// Why a text is not JSON difflore can deliver, and where (a byte offset into it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {offset}")]
pub struct JsonError {
    pub problem: Problem,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unexpected end of input")]
    EndOfInput,
    #[error("unexpected character {0:?}")]
    Unexpected(char),
    #[error("trailing content after the value")]
    Trailing,
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unescaped control character in a string")]
    ControlCharacter,
    #[error("invalid escape in a string")]
    InvalidEscape,
    #[error("invalid \\u escape in a string")]
    InvalidUnicodeEscape,
    #[error("lone surrogate \\u{0:04x} in a string")]
    LoneSurrogate(u16),
    #[error("invalid number")]
    InvalidNumber,
    #[error("number out of range for a 64-bit float")]
    NumberOutOfRange,
}

/// `Ok` when `text` is one strict JSON value (surrounding whitespace allowed) that every
/// sink can deliver: depth at most [`MAX_DEPTH`], every `\u` escape a valid code point
/// (surrogates paired), every number finite as an f64, nothing after the value.
pub fn validate(text: &str) -> Result<(), JsonError> {
    scan::walk(text.as_bytes(), &mut scan::Ignore)
}
