//! What counts as plain-text transport: which hosts are loopback, and the redirect policy
//! that never lets a collector send difflored (its events and maybe its token) to plain
//! http on another machine. Decides only; builds no client and sends nothing.

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// reqwest's own default limit.
const MAX_REDIRECTS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum RedirectError {
    #[error(
        "refusing to follow the collector's redirect to plain http on {host}, which is not loopback"
    )]
    PlainText { host: String },
    #[error(
        "refusing to follow the collector's redirect to {origin}, another host: the OTLP headers would go with it"
    )]
    CrossOrigin { origin: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
}

/// Is this URL's host this machine (`localhost`, 127.0.0.0/8, ::1)?
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Would sending to `url` cross the network unencrypted?
pub fn is_plain_remote(url: &Url) -> bool {
    url.scheme() == "http" && !is_loopback(url)
}

/// Follow redirects as reqwest would, except to plain http on another machine: a 307 there
/// would resend the batch in clear (and, on the same host and port, the token too). Such a
/// redirect is refused even with `allow_insecure_http`, which covers only the endpoint the
/// user wrote down. The refusal is a transport error: the sink backs off and says why.
/// With `keep_origin` (the sink sends headers the user configured, such as OTLP API keys,
/// which reqwest strips on a cross-host redirect only for `Authorization` and cookies), a
/// redirect to another scheme, host or port is refused too.
pub fn redirect_policy(keep_origin: bool) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(RedirectError::TooMany);
        }
        if is_plain_remote(attempt.url()) {
            let host = attempt.url().host_str().unwrap_or("(no host)").to_owned();
            return attempt.error(RedirectError::PlainText { host });
        }
        let from = attempt.previous().last().map(Url::origin);
        if keep_origin && from.is_some_and(|o| o != attempt.url().origin()) {
            let origin = attempt.url().origin().ascii_serialization();
            return attempt.error(RedirectError::CrossOrigin { origin });
        }
        attempt.follow()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_off_this_machine_is_plain_remote() {
        let plain = |u: &str| is_plain_remote(&Url::parse(u).unwrap());
        assert!(!plain("http://127.0.0.1:9/x"));
        assert!(!plain("http://127.1.2.3/x"));
        assert!(!plain("http://LOCALHOST:9/x"));
        assert!(!plain("http://[::1]:9/x"));
        assert!(!plain("https://collector.example/x"));
        assert!(plain("http://collector.example/x"));
        assert!(plain("http://10.0.0.1/x"));
        assert!(
            plain("http://[::ffff:127.0.0.1]/x"),
            "mapped addresses are not trusted"
        );
    }
}
