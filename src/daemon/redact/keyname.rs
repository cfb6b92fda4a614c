//! Key names: whether `DB_PASSWORD`, `apiKey` or `x-api-key` names a secret, and which
//! kind (chosen by people or made by machines). Word lists and name shape only; values
//! are judged in `assign.rs` and `entropy.rs`.

/// What kind of value a key holds decides how random the value has to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// People choose these: short and wordy is still a secret.
    Password,
    /// Machines make these: they look random or they are not the real thing.
    Token,
}

/// Secret words a key may end in, longest first so `passphrase` is not read as `pass…`.
const KEYWORDS: &[(&str, KeyClass)] = &[
    ("passphrase", KeyClass::Password),
    ("password", KeyClass::Password),
    ("passwd", KeyClass::Password),
    ("secret", KeyClass::Token),
    ("token", KeyClass::Token),
    ("pass", KeyClass::Password),
    ("pwd", KeyClass::Password),
    ("key", KeyClass::Token),
];

/// Words glued to a keyword without a separator that still make a secret name
/// (`APIKEY`, `authtoken`, `dbpassword`); `monkey`, `bypass` and `hotkey` are not.
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
/// start a new word in it: after `_`, `-` or `.`, at a camelCase hump, after a glue
/// word, or anywhere for the long words (`PGPASSWORD`). A bare `key`, `pass` or `pwd` is too common (maps, React lists, the shell's
/// working directory) to count alone.
pub fn key_class(key: &str) -> Option<KeyClass> {
    let key = key.trim_start_matches(['-', '.', '_']).as_bytes();
    let ends_with = |word: &str| {
        key.len() >= word.len()
            && key[key.len() - word.len()..].eq_ignore_ascii_case(word.as_bytes())
    };
    let (word, class) = KEYWORDS.iter().find(|(w, _)| ends_with(w))?;
    let cut = key.len() - word.len();
    let (prefix, tail) = (&key[..cut], &key[cut..]);
    let starts_word = match prefix.last() {
        None => !matches!(*word, "key" | "pass" | "pwd"),
        Some(b'_' | b'-' | b'.') => true,
        Some(c) => {
            let hump =
                (c.is_ascii_lowercase() || c.is_ascii_digit()) && tail[0].is_ascii_uppercase();
            let glued = |g: &&str| {
                prefix.len() >= g.len()
                    && prefix[prefix.len() - g.len()..].eq_ignore_ascii_case(g.as_bytes())
            };
            // `PGPASSWORD`, `rootpasswd`: the long words name a secret glued to anything.
            hump || word.len() >= 6 || GLUE.iter().any(glued)
        }
    };
    if !starts_word {
        return None;
    }
    let squashed: Vec<u8> = key
        .iter()
        .filter(|b| !matches!(b, b'_' | b'-' | b'.'))
        .map(u8::to_ascii_lowercase)
        .collect();
    if NOT_SECRET.iter().any(|n| squashed.ends_with(n.as_bytes())) {
        return None;
    }
    Some(*class)
}

/// Whether `value` contains a secret word (`apiKey`, `dbPassword`, `challengePassword`):
/// a name for the secret, not the secret. `pass` and `pwd` are too short to tell.
pub fn names_secret_word(value: &str) -> bool {
    let b = value.as_bytes();
    KEYWORDS
        .iter()
        .filter(|(w, _)| w.len() > 4)
        .chain(&[("key", KeyClass::Token)])
        .any(|(w, _)| {
            b.windows(w.len())
                .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_name_a_secret_as_a_word() {
        for key in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "APIKEY",
            "x-api-key",
            "authToken",
        ] {
            assert!(key_class(key).is_some(), "{key}");
        }
        assert_eq!(key_class("db_pass"), Some(KeyClass::Password));
        assert_eq!(key_class("PGPASSWORD"), Some(KeyClass::Password));
        assert_eq!(key_class("clientsecret"), Some(KeyClass::Token));
        for key in [
            "key",
            "monkey",
            "hotkey",
            "bypass",
            "publicKey",
            "next_page_token",
        ] {
            assert_eq!(key_class(key), None, "{key}");
        }
    }
}
