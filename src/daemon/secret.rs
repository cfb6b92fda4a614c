//! The credentials difflored holds (the bearer token, the endpoint URL's password and its
//! longer query values) and scrubbing them out of anything a collector sent back before it
//! is logged or stored. Keeps them in memory only; its Debug form shows none of them.

use std::borrow::Cow;

use reqwest::Url;

use super::sink::Failure;

/// What a credential becomes in logs, `last_error` and status.
pub const MARK: &str = "[REDACTED:credential]";

/// Shorter query values (`json`, `1`) are not taken for credentials: replacing them
/// everywhere would garble messages and protect nothing.
const MIN_QUERY_SECRET: usize = 8;

#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest first, so a secret that contains another is replaced whole.
    values: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} held)", self.values.len())
    }
}

impl Secrets {
    pub fn new(token: Option<&str>, endpoint: Option<&str>) -> Secrets {
        let mut values: Vec<String> = token.into_iter().map(str::to_owned).collect();
        if let Some(url) = endpoint.and_then(|e| Url::parse(e).ok()) {
            if let Some(password) = url.password() {
                values.push(password.to_owned());
                values.extend(url_decoded(password));
            }
            for pair in url.query().unwrap_or_default().split('&') {
                let raw = pair.split_once('=').map_or("", |(_, v)| v);
                let forms = std::iter::once(raw.to_owned()).chain(url_decoded(raw));
                values.extend(forms.filter(|v| v.len() >= MIN_QUERY_SECRET));
            }
        }
        values.retain(|v| !v.is_empty());
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Secrets { values }
    }

    /// Also scrub these values (OTLP header values, for example).
    pub fn add(&mut self, more: Vec<String>) {
        self.values
            .extend(more.into_iter().filter(|v| !v.is_empty()));
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
    }

    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.values
            .iter()
            .fold(Cow::Borrowed(text), |text, secret| {
                match scrub_one(&text, Some(secret)) {
                    Cow::Borrowed(_) => text,
                    Cow::Owned(t) => Cow::Owned(t),
                }
            })
    }

    /// A failed send's detail (a collector's words, maybe echoing our headers), scrubbed.
    pub fn scrub_failure(&self, mut failure: Failure) -> Failure {
        if let Cow::Owned(t) = self.scrub(&failure.detail) {
            failure.detail = t;
        }
        failure
    }
}

/// `text` with every occurrence of `secret` replaced by `MARK`.
pub fn scrub_one<'a>(text: &'a str, secret: Option<&str>) -> Cow<'a, str> {
    match secret {
        Some(s) if !s.is_empty() && text.contains(s) => Cow::Owned(text.replace(s, MARK)),
        _ => Cow::Borrowed(text),
    }
}

/// The percent-decoded form of a URL part, when it differs.
fn url_decoded(raw: &str) -> Option<String> {
    let decoded: String = url::form_urlencoded::parse(format!("x={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    (decoded != raw).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_the_password_and_long_query_values_are_scrubbed() {
        let s = Secrets::new(
            Some("tok-123"),
            Some("https://user:p%40ssword-9@c.example/in?api_key=k3y%2Fvalue-long&format=json"),
        );
        let text = "got tok-123, p@ssword-9, p%40ssword-9, k3y/value-long and k3y%2Fvalue-long; format=json user";
        assert_eq!(
            s.scrub(text),
            format!("got {MARK}, {MARK}, {MARK}, {MARK} and {MARK}; format=json user")
        );
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{s:?}"), "Secrets(5 held)");
    }

    #[test]
    fn no_credentials_change_nothing() {
        let s = Secrets::new(None, Some("http://127.0.0.1:9/ingest"));
        assert_eq!(s.scrub("collector answered 500"), "collector answered 500");
        assert_eq!(scrub_one("a b", Some("")), "a b");
    }
}
