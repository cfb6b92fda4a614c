//! Secret redaction applied by the daemon to everything that leaves the machine: in a JSON
//! text every string, keys and values (each value judged with its key too), becomes
//! `[REDACTED:<rule>]` where a rule matches, `<private>…</private>` blocks vanish, and
//! every other byte stays as captured. Compiled once per daemon from the config; never
//! touches the outbox, the network or the log (counts go back to the caller).

mod anchors;
mod assign;
mod entropy;
mod gate;
mod header;
mod keyname;
mod rules;
mod scan;

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::Regex;
use regex_automata::meta;

use crate::shared::config::Config;
use crate::shared::json::{JsonError, Role, rewrite_strings};
use gate::Gate;
use rules::{BUILTIN, PRIVATE};
use scan::{Hit, Scanner};

#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid regex for redaction rule {name:?} in config key redact_patterns")]
    Pattern {
        name: String,
        #[source]
        source: regex::Error,
    },
    #[error(
        "invalid redaction rule name {name:?} in config key redact_patterns: \
         use letters, digits, '-', '_' and '.'"
    )]
    Name { name: String },
    #[error("invalid regex {pattern:?} (entry {index}) in config key redact_allow")]
    Allow {
        index: usize,
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("could not compile redaction rule {name:?}")]
    Compile {
        name: String,
        #[source]
        source: Box<meta::BuildError>,
    },
    #[error("could not build the redaction anchors: {reason}")]
    Anchors { reason: String },
}

/// The daemon's redactor: built once from the config, shared by every drain pass.
/// `redact_patterns` add rules: a group named `secret…` narrows the redaction to it, and a
/// rule named `private` drops its matches as `<private>` blocks are dropped.
/// `redact_allow` spares a match that lies wholly inside one of its matches.
pub struct Redactor {
    enabled: bool,
    scanner: Scanner,
    allow: Vec<Regex>,
}

impl Redactor {
    pub fn new(config: &Config) -> Result<Redactor, RedactError> {
        let mut rules = Vec::with_capacity(BUILTIN.len() + config.redact_patterns.len());
        let mut anchors: Vec<&[&'static str]> = Vec::with_capacity(rules.capacity());
        for b in BUILTIN {
            let compile = |pattern: &str| {
                meta::Regex::new(pattern).map_err(|source| RedactError::Compile {
                    name: b.name.to_owned(),
                    source: Box::new(source),
                })
            };
            let find = match b.find {
                rules::Find::AtAnchor(p) => scan::Find::AtAnchor(compile(p)?),
                rules::Find::AtScheme(p) => scan::Find::AtScheme(compile(p)?),
                rules::Find::Assignment => scan::Find::Assignment,
                rules::Find::AwsAssignment => scan::Find::AwsAssignment,
                rules::Find::Header => scan::Find::Header,
            };
            rules.push(scan::Rule::new(
                b.name.to_owned(),
                find,
                b.back,
                b.quick,
                b.gate,
            ));
            anchors.push(b.anchors);
        }
        for extra in &config.redact_patterns {
            let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if extra.name.is_empty() || !extra.name.chars().all(valid) {
                return Err(RedactError::Name {
                    name: extra.name.clone(),
                });
            }
            // Checked with `regex` for its clearer messages, then built with the engine
            // under it (which takes spans and anchoring), so this second step holds.
            Regex::new(&extra.regex).map_err(|source| RedactError::Pattern {
                name: extra.name.clone(),
                source,
            })?;
            let re = meta::Regex::new(&extra.regex).map_err(|source| RedactError::Compile {
                name: extra.name.clone(),
                source: Box::new(source),
            })?;
            rules.push(scan::Rule::new(
                extra.name.clone(),
                scan::Find::Everywhere(re),
                0,
                None,
                Gate::Always,
            ));
            anchors.push(&[]);
        }
        let allow = config
            .redact_allow
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                Regex::new(pattern).map_err(|source| RedactError::Allow {
                    index,
                    pattern: pattern.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scanner =
            Scanner::new(rules, &anchors).map_err(|reason| RedactError::Anchors { reason })?;
        Ok(Redactor {
            enabled: config.redact,
            scanner,
            allow,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// A JSON text with its secrets replaced: every string token, object keys included,
    /// and each value judged with the key it sits under as well as on its own
    /// (`{"password": "…"}`). Every other byte stays as captured: numbers digit for
    /// digit, duplicate keys, whitespace. Adds one to `counts[rule]` per redaction.
    /// Borrowed when nothing matched; an error when `text` is not JSON a sink can send.
    pub fn redact_json<'a>(
        &self,
        text: &'a str,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<Cow<'a, str>, JsonError> {
        if !self.enabled {
            return Ok(Cow::Borrowed(text));
        }
        rewrite_strings(text, |token| {
            let key = match token.role {
                Role::Key => None,
                Role::Value => token.key,
            };
            // Most strings hold no anchor of any rule: judged on the text as written,
            // they are never decoded. A value under a secret name always is.
            let judged_by_key = key.is_some_and(|k| self.scanner.judges_member(k));
            if !judged_by_key && token.literal_in_raw() && !self.scanner.may_match(token.raw) {
                return None;
            }
            match self.redact_in(key, &token.text(), counts) {
                Cow::Owned(new) => Some(new),
                Cow::Borrowed(_) => None,
            }
        })
    }

    /// One named value outside any JSON (an envelope field such as `cwd`), judged with
    /// its name as a JSON member's value is.
    pub fn redact_field<'a>(
        &self,
        key: &str,
        value: &'a str,
        counts: &mut BTreeMap<String, u64>,
    ) -> Cow<'a, str> {
        self.redact_in(Some(key), value, counts)
    }

    /// `text` with its secrets replaced; borrowed when nothing matched.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut scratch = BTreeMap::new();
        self.redact_in(None, text, &mut scratch)
    }

    /// `text`, found under `key` when it has one, with its secrets replaced.
    fn redact_in<'a>(
        &self,
        key: Option<&str>,
        text: &'a str,
        counts: &mut BTreeMap<String, u64>,
    ) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let hits = self.hits(key, text);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for hit in hits {
            out.push_str(&text[at..hit.start]);
            let name = self.scanner.rule_name(hit.rule);
            if name != PRIVATE {
                out.push_str("[REDACTED:");
                out.push_str(name);
                out.push(']');
            }
            *counts.entry(name.to_owned()).or_insert(0) += 1;
            at = hit.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The stretches to replace, sorted by position. Where matches overlap the rule listed
    /// first keeps its match and the other is dropped: the specific rule knows where its
    /// token ends (`user:ghs_…@github.com` keeps `@github.com`), and `<private>` comes first.
    fn hits(&self, key: Option<&str>, text: &str) -> Vec<Hit> {
        let mut candidates = Vec::new();
        self.scanner.candidates(text, &mut candidates);
        if let Some(key) = key {
            self.scanner.member_candidates(key, text, &mut candidates);
        }
        if candidates.is_empty() {
            return candidates;
        }
        candidates.sort_by_key(|h| (h.rule, h.start));
        // Taken stretches by start; they never overlap, so only the neighbours can clash.
        let mut taken: BTreeMap<usize, Hit> = BTreeMap::new();
        let mut allowed: Option<AllowSpans> = None;
        for c in candidates {
            let before = taken.range(..c.end).next_back();
            if before.is_some_and(|(_, h)| c.start < h.end) {
                continue;
            }
            if self.scanner.rule_name(c.rule) != PRIVATE && !self.allow.is_empty() {
                let spans = allowed.get_or_insert_with(|| self.allowed_spans(text));
                if spans.cover(c.start, c.end) {
                    continue;
                }
            }
            taken.insert(c.start, c);
        }
        taken.into_values().collect()
    }

    /// Every allow-list match in `text`: a redaction wholly inside one is skipped.
    fn allowed_spans(&self, text: &str) -> AllowSpans {
        let mut spans: Vec<(usize, usize)> = self
            .allow
            .iter()
            .flat_map(|re| re.find_iter(text).map(|m| (m.start(), m.end())))
            .collect();
        spans.sort_unstable();
        let mut reach = Vec::with_capacity(spans.len());
        let mut furthest = 0;
        for &(_, end) in &spans {
            furthest = furthest.max(end);
            reach.push(furthest);
        }
        AllowSpans { spans, reach }
    }
}

/// Allow-list matches by start, with the furthest end reached so far: a stretch is covered
/// when some match starting at or before it reaches past its end.
struct AllowSpans {
    spans: Vec<(usize, usize)>,
    reach: Vec<usize>,
}

impl AllowSpans {
    fn cover(&self, start: usize, end: usize) -> bool {
        let starting_before = self.spans.partition_point(|&(s, _)| s <= start);
        starting_before > 0 && self.reach[starting_before - 1] >= end
    }
}
