//! The built-in secret rules, modelled on gitleaks' default rules and written here: one
//! table saying, per rule, which literals anchor it, how a match is found from an anchor,
//! and which gate decides whether the match is a secret. No scanning here (`scan.rs`).
//!
//! The `regex` crate has no lookaround, so context (`AWS_SECRET_ACCESS_KEY=`, `user:` in a
//! URL) is matched outside a group named `secret…`, and only that group is redacted.
//! Word boundaries are ASCII (`(?-u:\b)`): every token here is ASCII, and Unicode ones
//! would push the engine off its fast path on non-ASCII text. Anchors are case-sensitive,
//! so a word counts in the spellings they cover: `token`, `Token`, `TOKEN` (via `oken`,
//! `OKEN`), likewise `secret`, `pass…` and `key`; `pwd` and `PWD`; `bearer`, `Bearer`.

use super::gate::Gate;

/// The rule name for `<private>…</private>` blocks, which are dropped rather than marked.
pub const PRIVATE: &str = "private";

/// How a rule finds its match once one of its anchors turns up at byte `p`.
pub enum Find {
    /// The regex, run anchored at `p` (the anchor is where every match starts).
    AtAnchor(&'static str),
    /// The regex, run anchored at the URL scheme that ends at the anchor `://` at `p`.
    AtScheme(&'static str),
    /// The `KEY = value` parser of `assign.rs`, around the keyword at `p`.
    Assignment,
    /// Assignments that parser finds whose key and value are an AWS secret key's.
    AwsAssignment,
    /// The credential header lines of `header.rs`, around the header name at `p`.
    Header,
}

/// A necessary condition checked on the bytes at the anchor before any regex runs, for
/// anchors common in ordinary text (`Bearer`, `task-`, `https://`).
pub type Quick = fn(&[u8], usize) -> bool;

pub struct Builtin {
    pub name: &'static str,
    /// Literals at least one of which every match contains; case-sensitive. All rules'
    /// anchors together stay within 32 literals of 3+ bytes, the most one SIMD pass
    /// (slim Teddy) takes at full speed.
    pub anchors: &'static [&'static str],
    /// How far before its anchor an `AtAnchor` match starts (`<p` before `rivate>`).
    pub back: usize,
    pub find: Find,
    pub quick: Option<Quick>,
    pub gate: Gate,
}

/// Order is priority: when matches overlap, the rule listed first keeps its match
/// (`sk-ant-…` is anthropic, not openai; `GITHUB_TOKEN=ghp_…` is github-token, not
/// secret-assignment). `<private>` first, specific token shapes next, context rules last.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: PRIVATE,
        anchors: &["rivate>", "RIVATE>"],
        back: 2,
        // Unterminated blocks run to the end: the user asked for the rest to stay home.
        find: Find::AtAnchor(
            r"(?s)(?:<private>|<Private>|<PRIVATE>).*?(?:</private>|</Private>|</PRIVATE>|\z)",
        ),
        quick: None,
        gate: Gate::Always,
    },
    Builtin {
        name: "private-key",
        anchors: &["-----BEGIN"],
        back: 0,
        // A complete block, or a truncated one (output cut mid-key) whose body runs on.
        // The body holds base64, blanks, escaped newlines and `Name: value` headers, but
        // no `-`: so the search stops at the next marker, whatever the text around.
        find: Find::AtAnchor(concat!(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            r"(?:(?:[\s\\A-Za-z0-9+/=]|[A-Za-z-]{1,32}: [^\r\n\\]{0,200})*",
            r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            r"|[\r\n\t\\A-Za-z0-9+/=]{64,})",
        )),
        quick: None,
        gate: Gate::PemBody,
    },
    Builtin {
        name: "aws-secret-access-key",
        // `aws_secret_access_key = …`, `"SecretAccessKey": "…"`: the assignment parser
        // finds these (its anchors include `secret`) and names them here.
        anchors: &[],
        back: 0,
        find: Find::AwsAssignment,
        quick: None,
        gate: Gate::Always,
    },
    Builtin {
        name: "aws-access-key-id",
        // ABIA, ACCA and A3T… ids exist too, but are rare and would cost anchor room.
        anchors: &["AKIA", "ASIA"],
        back: 0,
        find: Find::AtAnchor(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?-u:\b)"),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "github-token",
        anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        back: 0,
        find: Find::AtAnchor(
            r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})(?-u:\b)",
        ),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "anthropic-api-key",
        anchors: &["sk-"],
        back: 0,
        find: Find::AtAnchor(r"sk-ant-[A-Za-z0-9_-]{20,}"),
        quick: Some(sk_token),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "openai-api-key",
        anchors: &["sk-"],
        back: 0,
        // `sk-` alone is a common start (`sk-learn-…`): the rest must look random.
        find: Find::AtAnchor(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        quick: Some(sk_token),
        gate: Gate::Token,
    },
    Builtin {
        name: "stripe-key",
        anchors: &["sk_", "rk_"],
        back: 0,
        find: Find::AtAnchor(r"(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,247}(?-u:\b)"),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "slack-token",
        anchors: &["xox"],
        back: 0,
        // Real tokens carry a numeric team or user id first; `xoxb-your-token` does not.
        find: Find::AtAnchor(r"xox[abposre]-[0-9]+-[A-Za-z0-9-]{8,}"),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "google-api-key",
        anchors: &["AIza"],
        back: 0,
        find: Find::AtAnchor(r"AIza[A-Za-z0-9_-]{35}"),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "npm-token",
        anchors: &["npm_"],
        back: 0,
        find: Find::AtAnchor(r"npm_[A-Za-z0-9]{36}(?-u:\b)"),
        quick: Some(token_start),
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "jwt",
        anchors: &["eyJ"],
        back: 0,
        find: Find::AtAnchor(r"eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        quick: Some(token_start),
        gate: Gate::Always,
    },
    Builtin {
        name: "url-password",
        anchors: &["://"],
        back: 0,
        // scheme://user:PASSWORD@host: the user and host stay, the password goes.
        find: Find::AtScheme(concat!(
            r#"[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/?#@"'<>]{0,128}:"#,
            r#"(?P<secret>[^\s/?#@"'<>]{1,256})@[A-Za-z0-9\[]"#,
        )),
        quick: Some(url_userinfo),
        gate: Gate::UrlPassword,
    },
    Builtin {
        name: "bearer-token",
        anchors: &["earer"],
        back: 1,
        find: Find::AtAnchor(r"[bB]earer[ \t]{1,16}(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)"),
        quick: Some(bearer_value),
        gate: Gate::Token,
    },
    Builtin {
        name: "http-credential",
        // Authorization, Proxy-Authorization, Cookie and Set-Cookie header lines; see
        // header.rs. After the token rules, which name a known token in such a value.
        anchors: &["uthorization", "ookie"],
        back: 0,
        find: Find::Header,
        quick: None,
        gate: Gate::Always,
    },
    Builtin {
        name: "secret-assignment",
        // KEY = value, KEY: value, "key": "value", key => 'value', export KEY="value"…
        // where the key ends in a secret word; see assign.rs for the grammar and gate.
        anchors: &[
            "pass", "Pass", "PASS", "pwd", "PWD", "oken", "OKEN", "ecret", "ECRET", "key", "Key",
            "KEY",
        ],
        back: 0,
        find: Find::Assignment,
        quick: None,
        gate: Gate::Always,
    },
];

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How many bytes from `from` on satisfy `ok`, counting no further than `max`.
fn run(b: &[u8], from: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|&&c| ok(c))
        .count()
}

/// A token starts where no letter or digit comes before it: after a blank, a quote, or
/// `_`, which glues tokens into names (`mcp__github__ghp_…`, `MY_ghp_…`).
fn token_start(b: &[u8], at: usize) -> bool {
    at == 0 || !b[at - 1].is_ascii_alphanumeric()
}

/// `sk-` starting a token and followed by 20 token characters (not `task-`, `sk-learn`).
fn sk_token(b: &[u8], at: usize) -> bool {
    token_start(b, at) && run(b, at + 3, 20, |c| word_byte(c) || c == b'-') >= 20
}

/// `://user:pass@`: a colon, then a password, then `@`, before any `/` or blank.
fn url_userinfo(b: &[u8], at: usize) -> bool {
    let stops = |c: u8| {
        c.is_ascii_whitespace()
            || matches!(c, b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'<' | b'>')
    };
    let user = at + 3 + run(b, at + 3, 129, |c| !stops(c) && c != b':');
    if b.get(user) != Some(&b':') {
        return false;
    }
    let pass = run(b, user + 1, 257, |c| !stops(c));
    pass > 0 && b.get(user + 1 + pass) == Some(&b'@')
}

/// `Bearer` and blanks, then at least 16 token characters (not `Bearer ${token}`).
fn bearer_value(b: &[u8], at: usize) -> bool {
    let blanks = run(b, at + 6, 17, |c| c == b' ' || c == b'\t');
    let token =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'-');
    token_start(b, at) && blanks > 0 && run(b, at + 6 + blanks, 16, token) >= 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_fit_one_fast_simd_pass_and_hide_none_of_each_other() {
        let mut literals: Vec<&str> = BUILTIN
            .iter()
            .flat_map(|b| b.anchors.iter().copied())
            .collect();
        literals.sort_unstable();
        literals.dedup();
        // Slim Teddy takes 32 literals; more halve the bytes per step (fat Teddy), which
        // `make bench` measures; 64 is fat Teddy's limit.
        assert!(literals.len() <= 34, "{} anchors", literals.len());
        assert!(literals.iter().all(|l| l.len() >= 3), "{literals:?}");
        for a in &literals {
            assert!(
                !literals.iter().any(|b| b != a && b.starts_with(a)),
                "{a} is a prefix of another anchor"
            );
        }
    }

    /// The scan skips the rest of a run of word characters once a keyword in it is
    /// parsed, up to its first `_`, `-` or `.`: sound only while every regex rule with
    /// word anchors starts a token (no letter or digit before it), checked before its
    /// regex runs, and never at a word boundary alone (`\b` would miss `x__ghp_…`).
    #[test]
    fn regex_rules_with_word_anchors_start_a_token() {
        for b in BUILTIN {
            let pattern = match b.find {
                Find::AtAnchor(p) | Find::AtScheme(p) => p,
                Find::Assignment | Find::AwsAssignment | Find::Header => continue,
            };
            let word = |l: &&str| l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
            if b.anchors.iter().any(word) {
                assert!(!pattern.starts_with(r"(?-u:\b)"), "{}", b.name);
                let quick = b.quick.expect("a token-start check");
                assert!(!quick(b"ax", 1), "{} may start inside a word", b.name);
            }
        }
    }
}
