//! Gates: the checks a regex match must pass before it is redacted, so that a documented
//! placeholder (`ghp_xxxx…`, `user:password@localhost`) or prose stays intact.
//! Pure functions of the matched text; the `KEY = value` rule has its own in `assign.rs`.

use super::entropy::{is_placeholder, looks_random};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The shape alone is the proof (JWTs, `<private>`, config rules).
    Always,
    /// A fixed-prefix token: only documentation placeholders are let through.
    Prefixed,
    /// A machine-made secret found by context: it must look random.
    Token,
    /// The password of `scheme://user:password@host`: anything but a placeholder.
    UrlPassword,
    /// A PEM block: its body must hold a base64 line, so prose naming the markers stays.
    PemBody,
}

impl Gate {
    /// Whether `secret`, the text a rule would redact, is one.
    pub fn admits(self, secret: &str) -> bool {
        match self {
            Gate::Always => true,
            Gate::Prefixed => !is_placeholder(secret),
            Gate::Token => looks_random(secret) && !is_placeholder(secret),
            Gate::UrlPassword => !is_placeholder(secret) && !is_doc_password(secret),
            Gate::PemBody => longest_base64_run(secret) >= PEM_MIN_LINE,
        }
    }
}

/// `postgres://user:password@localhost` in a README is a template, not a credential.
fn is_doc_password(secret: &str) -> bool {
    let lower = secret.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "password" | "pass" | "passwd" | "pwd" | "pw" | "secret" | "token" | "apikey" | "api_key"
    )
}

/// PEM bodies are lines of 64 (OpenSSH: 70) base64 characters; prose has no such words.
const PEM_MIN_LINE: usize = 32;

fn longest_base64_run(s: &str) -> usize {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .map(str::len)
        .max()
        .unwrap_or(0)
}
