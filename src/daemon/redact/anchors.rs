//! The one pass over each string: every rule's anchor literals searched at once (packed
//! SIMD Teddy where the CPU has it, else an Aho-Corasick automaton), each hit reported with
//! the rules it may start. Knows nothing of what the rules do with a hit.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, Input, MatchKind, Span};

enum Finder {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

pub struct Anchors {
    finder: Option<Finder>,
    /// The shortest literal: shorter strings cannot hold one.
    shortest: usize,
    /// For each literal, the rules it may start, in priority order.
    rules_of: Vec<Vec<usize>>,
}

impl Anchors {
    /// `per_rule[i]` are rule `i`'s literals. No literal may be a prefix of another: two
    /// anchors at one position would hide each other.
    pub fn new(per_rule: &[&[&'static str]]) -> Result<Anchors, String> {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        for (rule, list) in per_rule.iter().enumerate() {
            for lit in list.iter() {
                match literals.iter().position(|l| l == lit) {
                    Some(i) => rules_of[i].push(rule),
                    None => {
                        literals.push(lit);
                        rules_of.push(vec![rule]);
                    }
                }
            }
        }
        for a in &literals {
            if let Some(b) = literals.iter().find(|b| *b != a && b.starts_with(a)) {
                return Err(format!("anchor {a:?} is a prefix of anchor {b:?}"));
            }
        }
        let shortest = literals.iter().map(|l| l.len()).min().unwrap_or(0);
        let finder = if literals.is_empty() {
            None
        } else {
            let mut config = packed::Config::new();
            config.match_kind(packed::MatchKind::LeftmostFirst);
            match config.builder().extend(&literals).build() {
                Some(searcher) => Some(Finder::Packed(searcher)),
                None => AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&literals)
                    .map(Finder::Automaton)
                    .map(Some)
                    .map_err(|e| e.to_string())?,
            }
        };
        Ok(Anchors {
            finder,
            shortest,
            rules_of,
        })
    }

    /// The next anchor starting at or after `from`: the rules it may start, and where.
    pub fn next(&self, text: &str, from: usize) -> Option<(&[usize], usize)> {
        if text.len() < self.shortest || from >= text.len() {
            return None;
        }
        let m = match self.finder.as_ref()? {
            Finder::Packed(s) => s.find_in(text, Span::from(from..text.len())),
            Finder::Automaton(ac) => ac.find(Input::new(text).span(from..text.len())),
        }?;
        Some((&self.rules_of[m.pattern().as_usize()], m.start()))
    }
}
