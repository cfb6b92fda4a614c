//! Gates: the checks a regex match must pass before it is redacted, so that code which
//! merely names a token (`token = os.getenv("TOKEN")`, `password: String`) stays intact.
//! Pure functions of the match and its surroundings; no regexes are compiled here.

use regex::Captures;

use super::entropy::{is_placeholder, looks_like_password, looks_random};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The shape alone is the proof (PEM blocks, JWTs, `<private>`, config rules).
    Always,
    /// A fixed-prefix token: only documentation placeholders (`ghp_xxxx…`) are let through.
    Prefixed,
    /// A machine-made secret found by context: it must look random.
    Token,
    /// The password of `scheme://user:password@host`: anything but a placeholder.
    UrlPassword,
    /// A PEM block: its body must hold a base64 line, so prose naming the markers stays.
    PemBody,
    /// `KEY = value`: the key must name a secret and the value must look like one.
    Assignment,
}

impl Gate {
    /// `secret` is the text that would be redacted, `caps` the whole match, `hay` the string.
    pub fn admits(self, secret: &str, caps: &Captures<'_>, hay: &str) -> bool {
        match self {
            Gate::Always => true,
            Gate::Prefixed => !is_placeholder(secret),
            Gate::Token => !is_placeholder(secret) && looks_random(secret),
            Gate::UrlPassword => !is_placeholder(secret) && !is_doc_password(secret),
            Gate::PemBody => longest_base64_run(secret) >= PEM_MIN_LINE,
            Gate::Assignment => assignment(caps, hay),
        }
    }
}

/// What kind of value a key holds decides how random the value has to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// People choose these: short and wordy is still a secret.
    Password,
    /// Machines make these: they look random or they are not the real thing.
    Token,
}

fn assignment(caps: &Captures<'_>, hay: &str) -> bool {
    let (Some(key), Some(op)) = (caps.name("key"), caps.name("op")) else {
        return false;
    };
    let (value, quoted) = match (caps.name("secret_quoted"), caps.name("secret_bare")) {
        (Some(v), _) => (v, true),
        (None, Some(v)) => (v, false),
        (None, None) => return false,
    };
    let Some(class) = key_class(key.as_str()) else {
        return false;
    };
    let text = value.as_str();
    if is_placeholder(text) {
        return false;
    }
    if !quoted {
        // `token = get_token()`, `key = keys[0]`: a call or an index, not a literal.
        if matches!(hay[value.end()..].bytes().next(), Some(b'(' | b'[')) {
            return false;
        }
        let env_style = is_env_name(key.as_str()) && matches!(op.as_str(), "=" | ":");
        if is_code_reference(text, env_style) {
            return false;
        }
    }
    match class {
        KeyClass::Password => looks_like_password(text),
        KeyClass::Token => looks_random(text),
    }
}

/// Secret words a key may end in, longest first so `passphrase` is not read as `pass…`.
const KEYWORDS: &[(&str, KeyClass)] = &[
    ("passphrase", KeyClass::Password),
    ("password", KeyClass::Password),
    ("passwd", KeyClass::Password),
    ("secret", KeyClass::Token),
    ("token", KeyClass::Token),
    ("pwd", KeyClass::Password),
    ("key", KeyClass::Token),
];

/// Words glued to a keyword without a separator that still make a secret name
/// (`APIKEY`, `authtoken`, `dbpassword`); `monkey` and `hotkey` are not among them.
const GLUE: &[&str] = &[
    "api",
    "auth",
    "access",
    "secret",
    "private",
    "client",
    "app",
    "bot",
    "db",
    "master",
    "admin",
    "root",
    "user",
    "service",
    "session",
    "refresh",
    "oauth",
    "signing",
    "encryption",
    "deploy",
];

/// Names that end in a secret word but hold no secret: database and cache keys, public
/// keys, pagination cursors. Compared lowercased with `_`, `-` and `.` removed.
const NOT_SECRET: &[&str] = &[
    "publickey",
    "pubkey",
    "publishablekey",
    "primarykey",
    "foreignkey",
    "sortkey",
    "partitionkey",
    "cachekey",
    "idempotencykey",
    "hashkey",
    "rangekey",
    "lookupkey",
    "hotkey",
    "shortcutkey",
    "querykey",
    "i18nkey",
    "translationkey",
    "pagetoken",
    "nexttoken",
    "continuationtoken",
    "cancellationtoken",
    "canceltoken",
];

/// Whether `key` names a secret, and which kind. The keyword must be the whole name or
/// start a new word in it: after `_`, `-` or `.`, at a camelCase hump, or after a glue word.
pub fn key_class(key: &str) -> Option<KeyClass> {
    let key = key.trim_start_matches(['-', '.', '_']);
    let lower = key.to_ascii_lowercase();
    let (word, class) = KEYWORDS.iter().find(|(w, _)| lower.ends_with(w))?;
    let cut = key.len() - word.len();
    let (prefix, tail) = (&key[..cut], &key[cut..]);
    let lower_prefix = prefix.to_ascii_lowercase();
    let starts_word = match prefix.as_bytes().last() {
        None => *word != "key",
        Some(b'_' | b'-' | b'.') => true,
        Some(c) => {
            let hump = (c.is_ascii_lowercase() || c.is_ascii_digit())
                && tail.as_bytes()[0].is_ascii_uppercase();
            hump || GLUE.iter().any(|g| lower_prefix.ends_with(g))
        }
    };
    if !starts_word {
        return None;
    }
    let squashed: String = lower
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .collect();
    if NOT_SECRET.iter().any(|n| squashed.ends_with(n)) {
        return None;
    }
    Some(*class)
}

/// `DB_PASSWORD=…` in a .env file or a shell, `POSTGRES_PASSWORD: …` in a compose file:
/// whatever follows an upper-case name is a literal.
fn is_env_name(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A bare value that is code, not data: a dotted path (`process.env.TOKEN`,
/// `self.password`) always; outside env-style lines also a constant (`DEFAULT_TOKEN`), a
/// variable named after a secret (`apiKey`, `dbPassword`) or an identifier without digits
/// (`hashedPass`). Passwords people choose carry digits (`Summer2024`) and still count.
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
    if env_style || !ident(value) {
        return false;
    }
    let constant = value.contains('_')
        && value
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    let lower = value.to_ascii_lowercase();
    let names_secret = KEYWORDS.iter().any(|(w, _)| lower.contains(w));
    constant || names_secret || !value.bytes().any(|c| c.is_ascii_digit())
}

/// PEM bodies are lines of 64 (OpenSSH: 70) base64 characters; prose has no such words.
const PEM_MIN_LINE: usize = 32;

fn longest_base64_run(s: &str) -> usize {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// `postgres://user:password@localhost` in a README is a template, not a credential.
fn is_doc_password(secret: &str) -> bool {
    let lower = secret.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "password" | "pass" | "passwd" | "pwd" | "pw" | "secret" | "token" | "apikey" | "api_key"
    )
}
