//! The built-in secret rules, modelled on gitleaks' default rules and written here: one
//! table of patterns, each paired with the gate that decides whether a match is a secret.
//! No replacement or payload walking here (that is `mod.rs`).
//!
//! The `regex` crate has no lookaround, so context (`AWS_SECRET_ACCESS_KEY=`, `user:` in a
//! URL) is matched outside a group named `secret`, and only that group is redacted.
//! Word boundaries are ASCII (`(?-u:\b)`): Unicode ones would push the engine off its
//! fast path for any non-ASCII text, and every token here is ASCII anyway.

use super::gate::Gate;

/// The rule name for `<private>…</private>` blocks, which are dropped rather than marked.
pub const PRIVATE: &str = "private";

pub struct Builtin {
    pub name: &'static str,
    pub pattern: &'static str,
    pub gate: Gate,
}

/// Order is priority: when matches start at the same place, the earlier rule names the
/// redaction (`sk-ant-…` is anthropic, not openai; `GITHUB_TOKEN=ghp_…` is github-token,
/// not secret-assignment). Specific token shapes come first, context-based rules last.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: PRIVATE,
        // Unterminated blocks run to the end: the user asked for the rest to stay home.
        pattern: r"(?is)<private>.*?(?:</private>|\z)",
        gate: Gate::Always,
    },
    Builtin {
        name: "private-key",
        // A complete block (body in PEM characters only, so code that names both markers
        // does not match), or a truncated one (output cut mid-key) whose body runs on.
        pattern: concat!(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            r"(?:[\s\\A-Za-z0-9+/=:,.-]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            r"|[\r\n\t\\A-Za-z0-9+/=]{64,})",
        ),
        gate: Gate::PemBody,
    },
    Builtin {
        name: "aws-secret-access-key",
        pattern: concat!(
            r#"(?:(?i:aws)[A-Za-z0-9_.-]{0,32}?(?i:secret)[A-Za-z0-9_.-]{0,32}"#,
            r#"|(?i:secret_?access_?key))"#,
            r#"\\?["']?[ \t]*(?::=|=>|=|:)[ \t]*\\?["']?"#,
            r#"(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        ),
        gate: Gate::Token,
    },
    Builtin {
        name: "aws-access-key-id",
        pattern: r"(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "github-token",
        pattern: r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})(?-u:\b)",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "anthropic-api-key",
        pattern: r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{20,}",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "openai-api-key",
        // `sk-` alone is a common start (`sk-learn-…`): the rest must look random.
        pattern: r"(?-u:\b)sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        gate: Gate::Token,
    },
    Builtin {
        name: "stripe-key",
        pattern: r"(?-u:\b)(?:(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9]{24,})(?-u:\b)",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "slack-token",
        pattern: r"(?-u:\b)(?:xox[abposre]-[0-9]+-[A-Za-z0-9-]{8,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "google-api-key",
        pattern: r"(?-u:\b)AIza[A-Za-z0-9_-]{35}",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "npm-token",
        pattern: r"(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)",
        gate: Gate::Prefixed,
    },
    Builtin {
        name: "jwt",
        pattern: r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        gate: Gate::Always,
    },
    Builtin {
        name: "url-password",
        // scheme://user:PASSWORD@host: the user and host stay, the password goes.
        pattern: concat!(
            r#"[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/?#@"'<>]*:"#,
            r#"(?P<secret>[^\s/?#@"'<>]+)@[A-Za-z0-9\[]"#,
        ),
        gate: Gate::UrlPassword,
    },
    Builtin {
        name: "bearer-token",
        pattern: r"(?-u:\b)(?i:bearer)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)",
        gate: Gate::Token,
    },
    Builtin {
        name: "secret-assignment",
        // KEY = value, KEY: value, "key": "value", key => 'value', export KEY="value"…
        // The key must end in a secret word; the gate checks its shape and the value.
        pattern: concat!(
            r#"(?P<key>[A-Za-z0-9_.-]*(?i:passphrase|password|passwd|pwd|secret|token|key))"#,
            r#"(?:\\?["'])?\]?[ \t]*(?P<op>:=|=>|\?=|\+=|=|:)[ \t]*"#,
            r#"(?:\\?["'`](?P<secret_quoted>[^"'`\s\\]{1,256})\\?["'`]"#,
            r#"|(?P<secret_bare>[^\s"'`,;&<>(){}\[\]$\\|:]{1,256}))"#,
        ),
        gate: Gate::Assignment,
    },
];
