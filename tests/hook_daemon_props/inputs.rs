//! The generated inputs of the property test: a seeded generator of hook events (valid JSON
//! laid out every way agents write it, with odd numbers, escapes, duplicate keys and deep
//! nesting) and their mutations into invalid input. Each input says what must become of
//! it; the generator never decides by calling difflore's parser.

use super::tokens;

/// What must become of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Delivered,
    Rejected,
    /// A random mutation: either, as long as the outcome is one of the two.
    Either,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub input: Vec<u8>,
    pub expect: Expect,
}

impl Case {
    pub fn new(name: impl Into<String>, input: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case {
            name: name.into(),
            input: input.into(),
            expect,
        }
    }
}

/// The deepest nesting difflore accepts (`shared::json::MAX_DEPTH`).
pub const MAX_DEPTH: usize = difflore::shared::json::MAX_DEPTH;
/// The hook's default cap on one event.
pub const CAP: usize = difflore::hook::DEFAULT_MAX_EVENT_BYTES;

/// splitmix64: small, seedable, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|i| {
                let lo = if i == 0 { 1 } else { 0 };
                char::from(b'0' + (lo + self.below(10 - lo as usize) as u8))
            })
            .collect()
    }
}

/// Keys from a small set, so duplicates are common; none of them names a secret.
const KEYS: &[&str] = &[
    "a",
    "b",
    "k",
    "n",
    "x",
    "tool_input",
    "command",
    "items",
    "meta",
    "é",
    "\\u00e9",
    "a b",
    "\\\"q\\\"",
    "",
];
const EVENTS: &[&str] = &[
    "PreToolUse",
    "PostToolUse",
    "Stop",
    "UserPromptSubmit",
    "SessionStart",
    "BeforeTool",
];
const WORDS: &[&str] = &[
    "hello",
    "ls -la",
    "cargo test",
    "/home/dev/src/app",
    "ok",
    " ",
    "x",
    "line one",
];
/// Escapes and characters strings are made of (JSON text, so already escaped).
const PIECES: &[&str] = &[
    "\\\"",
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\u0000",
    "\\u001f",
    "\\u00e9",
    "\\u00E9",
    "\\u2028",
    "\\uffff",
    "\\ud83d\\ude00",
    "\\uD83D\\uDE00",
    "\\udbff\\udfff",
    "é",
    "日本語",
    "😀",
    "\u{10ffff}",
    "\u{7f}",
    "'",
];
const SPACE: &[&str] = &["", "", "", " ", "\n", "\n  ", "\t", "\r\n", "  "];

/// One generated event: an object with an event name and random members.
pub fn event(rng: &mut Rng) -> String {
    let mut out = String::from("{");
    let ws = |rng: &mut Rng, out: &mut String| out.push_str(rng.pick(SPACE));
    ws(rng, &mut out);
    out.push_str(&format!("\"hook_event_name\":\"{}\"", rng.pick(EVENTS)));
    if rng.percent(60) {
        out.push(',');
        ws(rng, &mut out);
        out.push_str(&format!("\"session_id\":{}", string(rng)));
    }
    if rng.percent(30) {
        out.push(',');
        out.push_str(&format!("\"cwd\":{}", string(rng)));
    }
    for _ in 0..rng.below(6) {
        out.push(',');
        ws(rng, &mut out);
        out.push_str(&member(rng, 4));
    }
    if rng.percent(15) {
        // Nesting near the limit: the event object is one level, the chain the rest.
        let depth = MAX_DEPTH - 3 + rng.below(6);
        out.push_str(&format!(",\"deep\":{}", chain(depth - 1, rng)));
    }
    ws(rng, &mut out);
    out.push('}');
    out
}

fn member(rng: &mut Rng, depth: usize) -> String {
    let key = rng.pick(KEYS);
    let sep = rng.pick(SPACE);
    format!("\"{key}\"{sep}:{sep}{}", value(rng, depth))
}

fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth == 0 { 3 } else { 5 }) {
        0 => number(rng),
        1 => string(rng),
        2 => rng.pick(&["true", "false", "null"]).to_string(),
        3 => {
            let items: Vec<String> = (0..rng.below(5)).map(|_| value(rng, depth - 1)).collect();
            format!("[{}]", items.join(rng.pick(&[",", ", ", ",\n"])))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(5)).map(|_| member(rng, depth - 1)).collect();
            format!("{{{}}}", items.join(rng.pick(&[",", ", ", ",\n  "])))
        }
    }
}

/// `levels` arrays and objects nested in each other, with a number at the bottom.
fn chain(levels: usize, rng: &mut Rng) -> String {
    let kinds: Vec<bool> = (0..levels).map(|_| rng.percent(50)).collect();
    let mut out = String::new();
    for &object in &kinds {
        out.push_str(if object { "{\"n\":" } else { "[" });
    }
    out.push_str(&number(rng));
    for &object in kinds.iter().rev() {
        out.push(if object { '}' } else { ']' });
    }
    out
}

/// A number in any JSON spelling, always within f64's range (so always deliverable).
pub fn number(rng: &mut Rng) -> String {
    let sign = if rng.percent(30) { "-" } else { "" };
    match rng.below(8) {
        0 => format!("{sign}{}", rng.below(1000)),
        1 => {
            let n = 16 + rng.below(30);
            format!("{sign}{}", rng.digits(n))
        }
        2 => format!("{sign}{}.{}0", rng.below(100), rng.below(100)),
        3 => rng
            .pick(&[
                "-0", "0", "-0.0", "0.000", "0e0", "-0E-0", "1E+2", "2.50", "1e-400",
            ])
            .to_string(),
        4 => {
            let e = rng.pick(&["e", "E", "e+", "E-", "e-"]);
            let (exp, lead, len) = (rng.below(300), 1 + rng.below(9), 1 + rng.below(20));
            format!("{sign}{lead}.{}{e}{exp}", rng.digits(len))
        }
        5 => {
            let len = 1 + rng.below(40);
            format!("{sign}0.{}", rng.digits(len))
        }
        6 => format!(
            "{sign}{}",
            rng.pick(&["9007199254740993", "18446744073709551616"])
        ),
        _ => format!("{sign}{}e-{}", rng.below(10), 300 + rng.below(200)),
    }
}

/// A JSON string token (quotes included) of words, escapes and non-ASCII characters.
pub fn string(rng: &mut Rng) -> String {
    let mut out = String::from("\"");
    for _ in 0..rng.below(6) {
        if rng.percent(50) {
            out.push_str(rng.pick(WORDS));
        } else {
            out.push_str(rng.pick(PIECES));
        }
    }
    if rng.percent(3) {
        out.push_str(&"abc def ".repeat(1 + rng.below(4000)));
    }
    out.push('"');
    out
}

/// Break a valid event: the result is invalid, or (for `Either`) maybe not.
pub fn mutate(rng: &mut Rng, text: &str) -> (String, Vec<u8>, Expect) {
    let bytes = text.as_bytes();
    let at = rng.below(bytes.len());
    let splice = |insert: &[u8]| [&bytes[..at], insert, &bytes[at..]].concat();
    match rng.below(7) {
        0 => ("truncated".into(), bytes[..at].to_vec(), Expect::Rejected),
        1 => ("raw NUL".into(), splice(b"\0"), Expect::Rejected),
        2 => ("byte 0xff".into(), splice(b"\xff"), Expect::Rejected),
        3 => (
            "two values".into(),
            [bytes, bytes].concat(),
            Expect::Rejected,
        ),
        4 => {
            let mut out = bytes.to_vec();
            out[at] = rng.next() as u8;
            ("byte replaced".into(), out, Expect::Either)
        }
        5 => {
            let b = rng.pick(b"{}[]\",:\\ 0e-.tn\n");
            ("byte inserted".into(), splice(&[b]), Expect::Either)
        }
        _ => {
            let mut out = bytes.to_vec();
            out.remove(at);
            ("byte removed".into(), out, Expect::Either)
        }
    }
}

/// `n` generated cases: mostly valid events, the rest their mutations.
pub fn generated(rng: &mut Rng, n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let text = event(rng);
            if rng.percent(70) {
                let expect = if tokens::depth(&text) <= MAX_DEPTH {
                    Expect::Delivered
                } else {
                    Expect::Rejected
                };
                Case::new(format!("generated #{i}"), text, expect)
            } else {
                let (how, input, expect) = mutate(rng, &text);
                Case::new(format!("generated #{i}, {how}"), input, expect)
            }
        })
        .collect()
}
