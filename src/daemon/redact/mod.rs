//! Secret redaction applied by the daemon to every payload before upload: keys and values
//! of every JSON string become `[REDACTED:<rule>]` where a rule matches, and
//! `<private>…</private>` blocks vanish. Compiled once per daemon from the config; never
//! touches the outbox, the network or the log (counts go back to the caller).

mod entropy;
mod gate;
mod rules;

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::shared::config::Config;
use gate::Gate;
use rules::{BUILTIN, PRIVATE};

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
    #[error("could not compile built-in redaction rule {name:?}")]
    Builtin {
        name: &'static str,
        #[source]
        source: regex::Error,
    },
    #[error("could not compile the redaction rule set")]
    Set {
        #[source]
        source: regex::Error,
    },
}

struct Rule {
    name: String,
    regex: Regex,
    gate: Gate,
    /// Capture groups named `secret…`: the part replaced, when the match has context.
    secret_groups: Vec<usize>,
}

impl Rule {
    fn new(name: String, regex: Regex, gate: Gate) -> Rule {
        let secret_groups = regex
            .capture_names()
            .enumerate()
            .filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret")))
            .map(|(i, _)| i)
            .collect();
        Rule {
            name,
            regex,
            gate,
            secret_groups,
        }
    }
}

/// The daemon's redactor: built once from the config, shared by every drain pass.
pub struct Redactor {
    enabled: bool,
    rules: Vec<Rule>,
    /// One entry per rule, in the same order: which rules are worth running on a string.
    set: RegexSet,
    allow: Vec<Regex>,
}

/// A stretch of a string to replace, and the rule that names it.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    rule: usize,
}

impl Redactor {
    pub fn new(config: &Config) -> Result<Redactor, RedactError> {
        let mut rules = Vec::with_capacity(BUILTIN.len() + config.redact_patterns.len());
        for b in BUILTIN {
            let regex = Regex::new(b.pattern).map_err(|source| RedactError::Builtin {
                name: b.name,
                source,
            })?;
            rules.push(Rule::new(b.name.to_owned(), regex, b.gate));
        }
        for extra in &config.redact_patterns {
            let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if extra.name.is_empty() || !extra.name.chars().all(valid) {
                return Err(RedactError::Name {
                    name: extra.name.clone(),
                });
            }
            let regex = Regex::new(&extra.regex).map_err(|source| RedactError::Pattern {
                name: extra.name.clone(),
                source,
            })?;
            rules.push(Rule::new(extra.name.clone(), regex, Gate::Always));
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
        let set = RegexSet::new(rules.iter().map(|r| r.regex.as_str()))
            .map_err(|source| RedactError::Set { source })?;
        Ok(Redactor {
            enabled: config.redact,
            rules,
            set,
            allow,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Redact every string in `value`, object keys included, in place; add one to
    /// `counts[rule]` per redaction.
    pub fn redact_value(&self, value: &mut Value, counts: &mut BTreeMap<String, u64>) {
        if !self.enabled {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(new) = self.redact_counted(s, counts) {
                    *s = new;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.redact_value(item, counts);
                }
            }
            Value::Object(map) => {
                for item in map.values_mut() {
                    self.redact_value(item, counts);
                }
                if map.keys().any(|k| self.set.is_match(k)) {
                    self.redact_keys(map, counts);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// A map's keys cannot be changed in place: rebuild it. Two keys redacted to the same
    /// text get `#2`, `#3`… so no value is lost.
    fn redact_keys(
        &self,
        map: &mut serde_json::Map<String, Value>,
        counts: &mut BTreeMap<String, u64>,
    ) {
        let old = std::mem::take(map);
        for (key, item) in old {
            let mut key = self.redact_counted(&key, counts).into_owned();
            if map.contains_key(&key) {
                let base = key.clone();
                let mut n = 2;
                while map.contains_key(&key) {
                    key = format!("{base}#{n}");
                    n += 1;
                }
            }
            map.insert(key, item);
        }
    }

    /// `text` with its secrets replaced; borrowed when nothing matched.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut scratch = BTreeMap::new();
        self.redact_counted(text, &mut scratch)
    }

    fn redact_counted<'a>(
        &self,
        text: &'a str,
        counts: &mut BTreeMap<String, u64>,
    ) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let hits = self.hits(text);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for hit in hits {
            out.push_str(&text[at..hit.start]);
            let name = &self.rules[hit.rule].name;
            if name != PRIVATE {
                out.push_str("[REDACTED:");
                out.push_str(name);
                out.push(']');
            }
            *counts.entry(name.clone()).or_insert(0) += 1;
            at = hit.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The stretches to replace, sorted by position. Rules run in priority order and a
    /// match overlapping one already taken is dropped: the specific rule knows where its
    /// token ends (`user:ghs_…@github.com` keeps `@github.com`), and `<private>` comes first.
    fn hits(&self, text: &str) -> Vec<Hit> {
        let matched = self.set.matches(text);
        if !matched.matched_any() {
            return Vec::new();
        }
        let mut hits: Vec<Hit> = Vec::new();
        for index in matched.iter() {
            let rule = &self.rules[index];
            for caps in rule.regex.captures_iter(text) {
                let Some(m) = rule
                    .secret_groups
                    .iter()
                    .find_map(|&g| caps.get(g))
                    .or_else(|| caps.get(0))
                else {
                    continue;
                };
                let (start, end) = (m.start(), m.end());
                if start == end || hits.iter().any(|h| start < h.end && h.start < end) {
                    continue;
                }
                if !rule.gate.admits(m.as_str(), &caps, text) {
                    continue;
                }
                if rule.name != PRIVATE && self.allowed(text, start, end) {
                    continue;
                }
                hits.push(Hit {
                    start,
                    end,
                    rule: index,
                });
            }
        }
        hits.sort_by_key(|h| h.start);
        hits
    }

    /// Whether an allow-list match covers `start..end` entirely.
    fn allowed(&self, text: &str, start: usize, end: usize) -> bool {
        self.allow.iter().any(|re| {
            re.find_iter(text)
                .any(|m| m.start() <= start && end <= m.end())
        })
    }
}
