//! Finding the secrets in one string: one pass for every rule's anchor literals
//! (`anchors.rs`), then each rule only where one of its anchors turned up, run anchored
//! where its match must start, so a clean string costs that one pass whatever its length.
//! Returns spans; no replacing, no counting (that is `mod.rs`).

use regex_automata::{Anchored, Input, meta};

use super::anchors::Anchors;
use super::assign::{self, Verdict};
use super::gate::Gate;
use super::header;
use super::keyname;
use super::rules::Quick;

/// A stretch of a string to replace, and the rule (index) that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub rule: usize,
}

pub enum Find {
    AtAnchor(meta::Regex),
    AtScheme(meta::Regex),
    Assignment,
    AwsAssignment,
    /// Credential header lines (`header.rs`).
    Header,
    /// A rule from the config: no anchors known, so it runs over the whole string.
    Everywhere(meta::Regex),
}

/// How far past its `://` a URL rule's match may end.
const URL_AHEAD: usize = 1024;
/// The longest URL scheme a URL rule takes (`[A-Za-z][A-Za-z0-9+.-]{1,30}`).
const SCHEME_MAX: usize = 31;

pub struct Rule {
    pub name: String,
    pub find: Find,
    /// Capture groups named `secret…`: when present, the part redacted.
    pub secret_groups: Vec<usize>,
    /// How far before its anchor a match starts.
    pub back: usize,
    pub quick: Option<Quick>,
    pub gate: Gate,
}

impl Rule {
    pub fn new(name: String, find: Find, back: usize, quick: Option<Quick>, gate: Gate) -> Rule {
        let secret_groups = match &find {
            Find::AtAnchor(re) | Find::AtScheme(re) | Find::Everywhere(re) => re
                .group_info()
                .pattern_names(regex_automata::PatternID::ZERO)
                .enumerate()
                .filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret")))
                .map(|(i, _)| i)
                .collect(),
            Find::Assignment | Find::AwsAssignment | Find::Header => Vec::new(),
        };
        Rule {
            name,
            find,
            secret_groups,
            back,
            quick,
            gate,
        }
    }
}

pub struct Scanner {
    anchors: Anchors,
    /// The rule naming assignments of AWS secret keys, when the table has one.
    aws: Option<usize>,
    /// The rules naming secrets judged by their key (`secret-assignment`) and credential
    /// headers (`http-credential`), when the table has them.
    assignment: Option<usize>,
    header: Option<usize>,
    /// Some rule runs over the whole string (a config rule without anchors).
    everywhere: bool,
    rules: Vec<Rule>,
}

impl Scanner {
    /// `anchors[i]` are rule `i`'s literals (empty for `Everywhere` rules).
    pub fn new(rules: Vec<Rule>, anchors: &[&[&'static str]]) -> Result<Scanner, String> {
        let aws = rules
            .iter()
            .position(|r| matches!(r.find, Find::AwsAssignment));
        let assignment = rules
            .iter()
            .position(|r| matches!(r.find, Find::Assignment));
        let header = rules.iter().position(|r| matches!(r.find, Find::Header));
        let everywhere = rules.iter().any(|r| matches!(r.find, Find::Everywhere(_)));
        Ok(Scanner {
            anchors: Anchors::new(anchors)?,
            aws,
            assignment,
            header,
            everywhere,
            rules,
        })
    }

    pub fn rule_name(&self, rule: usize) -> &str {
        &self.rules[rule].name
    }

    /// Every admitted match in `text` (the allow-list aside), unsorted and overlapping.
    pub fn candidates(&self, text: &str, out: &mut Vec<Hit>) {
        let mut progress = Progress {
            from: 0,
            parsed_to: 0,
            matched_to: Vec::new(),
        };
        while let Some((rules, at)) = self.anchors.next(text, progress.from) {
            // One byte on, not past the literal: anchors may overlap (`…-sk-proj…`).
            progress.from = at + 1;
            for &rule in rules {
                match self.rules[rule].find {
                    Find::Assignment => self.assignment(rule, text, at, &mut progress, out),
                    // Not skipped past: a token rule names what the value holds.
                    Find::Header => self.header_line(rule, text, at, &mut progress, out),
                    _ => self.search(rule, text, at, &mut progress, out),
                }
            }
        }
        for (rule, r) in self.rules.iter().enumerate() {
            if let Find::Everywhere(re) = &r.find {
                for m in re.find_iter(text) {
                    self.push_match(rule, text, m, out);
                }
            }
        }
    }

    /// The `KEY = value` rule at the keyword found at `at`.
    fn assignment(
        &self,
        rule: usize,
        text: &str,
        at: usize,
        progress: &mut Progress,
        out: &mut Vec<Hit>,
    ) {
        if at < progress.parsed_to {
            return;
        }
        let run = match assign::key_run(text, at) {
            Ok(run) => run,
            Err(past) => {
                progress.parsed_to = past;
                return;
            }
        };
        progress.parsed_to = run.end;
        // No token starts after a letter or digit (rules.rs checks it), so unless a `_`,
        // `-` or `.` follows in the run, the search skips it.
        if !text.as_bytes()[at..run.end]
            .iter()
            .any(|&b| matches!(b, b'_' | b'-' | b'.'))
        {
            progress.from = progress.from.max(run.end);
        }
        // Keywords inside the value are part of it (`a=key=b`), not keys of their own.
        let a = match assign::parse(text, run) {
            Ok(a) => a,
            Err(past) => {
                progress.parsed_to = past;
                return;
            }
        };
        progress.parsed_to = a.value.end;
        let named = match assign::admits(text, &a) {
            Some(Verdict::AwsSecretKey) => self.aws.unwrap_or(rule),
            Some(Verdict::Secret) => rule,
            None => return,
        };
        out.push(hit(a.value.start, a.value.end, named));
    }

    /// The credential header line around the anchor at `at`, unless the line of one
    /// looked at before reaches past it (`Cookie: a=b; Cookie: …` costs one look).
    fn header_line(
        &self,
        rule: usize,
        text: &str,
        at: usize,
        progress: &mut Progress,
        out: &mut Vec<Hit>,
    ) {
        if progress.matched_to.get(rule).is_some_and(|&end| at < end) {
            return;
        }
        let mut spans = Vec::new();
        let end = header::line_credentials(text, at, &mut spans);
        out.extend(spans.into_iter().map(|r| hit(r.start, r.end, rule)));
        if end > at {
            progress.matched(rule, end, self.rules.len());
        }
    }

    /// Whether any rule may match in `text`: one of their anchors is in it, or a rule from
    /// the config (which has none) could match anywhere. `false` means no candidates.
    pub fn may_match(&self, text: &str) -> bool {
        self.everywhere || self.anchors.next(text, 0).is_some()
    }

    /// Whether a value under `key` is judged with its key as well as on its own.
    pub fn judges_member(&self, key: &str) -> bool {
        header::header(key).is_some() || keyname::key_class(key).is_some()
    }

    /// The secrets in `value` judged with the `key` it sits under: a JSON member's value
    /// under a secret name (`{"password": …}`), or a credential header's. Added to
    /// `out` with the candidates the text itself gives.
    pub fn member_candidates(&self, key: &str, value: &str, out: &mut Vec<Hit>) {
        if let (Some(h), Some(rule)) = (header::header(key), self.header) {
            let mut spans = Vec::new();
            header::credentials(h, value, &mut spans);
            out.extend(spans.into_iter().map(|r| hit(r.start, r.end, rule)));
            return;
        }
        let named = match (assign::admits_member(key, value), self.assignment) {
            (Some(Verdict::AwsSecretKey), Some(rule)) => self.aws.unwrap_or(rule),
            (Some(Verdict::Secret), Some(rule)) => rule,
            _ => return,
        };
        out.push(hit(0, value.len(), named));
    }

    /// Rule `rule` at the anchor found at `at`.
    fn search(
        &self,
        rule: usize,
        text: &str,
        at: usize,
        progress: &mut Progress,
        out: &mut Vec<Hit>,
    ) {
        let r = &self.rules[rule];
        let Some(at) = at.checked_sub(r.back) else {
            return;
        };
        if progress.matched_to.get(rule).is_some_and(|&end| at < end) {
            return;
        }
        if r.quick.is_some_and(|quick| !quick(text.as_bytes(), at)) {
            return;
        }
        let (re, input) = match &r.find {
            Find::AtAnchor(re) => (
                re,
                Input::new(text)
                    .span(at..text.len())
                    .anchored(Anchored::Yes),
            ),
            Find::AtScheme(re) => {
                let Some(start) = scheme_start(text.as_bytes(), at) else {
                    return;
                };
                let end = floor_char(text, (at + URL_AHEAD).min(text.len()));
                (
                    re,
                    Input::new(text).span(start..end).anchored(Anchored::Yes),
                )
            }
            Find::Assignment | Find::AwsAssignment | Find::Header | Find::Everywhere(_) => return,
        };
        // Most anchors fail within a few bytes: find the match first, groups only then.
        if let Some(m) = re.search(&input) {
            progress.matched(rule, m.end(), self.rules.len());
            self.push_match(rule, text, m, out);
        }
    }

    /// The part of match `m` to redact (its group named `secret…`, else all of it), if
    /// the rule's gate lets it through.
    fn push_match(&self, rule: usize, text: &str, m: regex_automata::Match, out: &mut Vec<Hit>) {
        let r = &self.rules[rule];
        let re = match &r.find {
            Find::AtAnchor(re) | Find::AtScheme(re) | Find::Everywhere(re) => re,
            Find::Assignment | Find::AwsAssignment | Find::Header => return,
        };
        let mut span = m.span();
        if !r.secret_groups.is_empty() {
            let mut caps = re.create_captures();
            let input = Input::new(text).span(m.range()).anchored(Anchored::Yes);
            re.search_captures(&input, &mut caps);
            // A config rule's alternative without the group redacts its whole match.
            if let Some(group) = r.secret_groups.iter().find_map(|&g| caps.get_group(g)) {
                span = group;
            }
        }
        if span.start < span.end && r.gate.admits(&text[span.range()]) {
            out.push(hit(span.start, span.end, rule));
        }
    }
}

/// Where the scan of one string stands, so that no rule looks at a stretch twice: a
/// string of `<private>` tags or `key=key=key…` costs one pass, not one per anchor.
struct Progress {
    /// Where the anchor search resumes.
    from: usize,
    /// Keyword anchors before this lie in a key or value already parsed.
    parsed_to: usize,
    /// Per rule, the end of its last regex match (empty until a first match).
    matched_to: Vec<usize>,
}

impl Progress {
    /// Rule `rule` has looked at the text up to `end` (of `rules` rules in all).
    fn matched(&mut self, rule: usize, end: usize, rules: usize) {
        if self.matched_to.is_empty() {
            self.matched_to = vec![0; rules];
        }
        self.matched_to[rule] = end;
    }
}

fn hit(start: usize, end: usize, rule: usize) -> Hit {
    Hit { start, end, rule }
}

/// Where the URL scheme ending at `at` starts: the leftmost letter followed only by scheme
/// characters up to `at`, at most `SCHEME_MAX` back; as the regex would start.
fn scheme_start(b: &[u8], at: usize) -> Option<usize> {
    let scheme = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-');
    let mut start = at;
    while start > 0 && at - start < SCHEME_MAX && scheme(b[start - 1]) {
        start -= 1;
    }
    while start < at && !b[start].is_ascii_alphabetic() {
        start += 1;
    }
    (at - start >= 2).then_some(start)
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
