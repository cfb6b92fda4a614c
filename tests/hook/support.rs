//! Helpers the hook tests share: reading rows back, and the output contract every run must
//! keep (exit 0, nothing on stdout, at most one stderr line). Hook-specific, so not in common.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{self, Sandbox};

/// One `events` row, as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub client: String,
    pub event: String,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub tool: Option<String>,
    pub payload: Vec<u8>,
    pub size: i64,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Every row, oldest first.
pub fn rows(sb: &Sandbox) -> Vec<Row> {
    let conn = sb.sqlite();
    let mut stmt = conn
        .prepare(
            "SELECT id, client, event, session_id, cwd, tool, CAST(payload AS BLOB), size,
                    state, attempts, last_error
             FROM events ORDER BY id",
        )
        .expect("prepare row query");
    stmt.query_map([], |r| {
        Ok(Row {
            id: r.get(0)?,
            client: r.get(1)?,
            event: r.get(2)?,
            session_id: r.get(3)?,
            cwd: r.get(4)?,
            tool: r.get(5)?,
            payload: r.get::<_, Option<Vec<u8>>>(6)?.unwrap_or_default(),
            size: r.get(7)?,
            state: r.get(8)?,
            attempts: r.get(9)?,
            last_error: r.get(10)?,
        })
    })
    .expect("query rows")
    .map(|r| r.expect("read row"))
    .collect()
}

/// The only row; fails if there is not exactly one.
pub fn only_row(sb: &Sandbox) -> Row {
    let mut all = rows(sb);
    assert_eq!(all.len(), 1, "expected exactly one row, got {all:#?}");
    all.remove(0)
}

/// Stored without a word: exit 0, empty stdout, empty stderr.
pub fn assert_silent(out: &Output) {
    assert_answered(out, "");
}

/// Stored with nothing said but the agent's own "carry on" `answer` on stdout (Cline's
/// `{"cancel":false}`; empty for the agents that read none): exit 0, empty stderr.
pub fn assert_answered(out: &Output, answer: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        common::stderr(out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        answer,
        "stdout must be exactly the agent's answer"
    );
    assert!(
        out.stderr.is_empty(),
        "unexpected stderr: {}",
        common::stderr(out)
    );
}

/// Exit 0, empty stdout and exactly one `difflore-hook: …` line on stderr, returned.
pub fn one_stderr_line(out: &Output) -> String {
    one_stderr_line_with(out, 0)
}

/// As `one_stderr_line`, with the exit code expected (`--strict` failures exit 1).
pub fn one_stderr_line_with(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        common::stderr(out)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout must stay empty: {:?}",
        out.stdout
    );
    let err = common::stderr(out);
    assert!(err.ends_with('\n'), "stderr is not one whole line: {err:?}");
    assert_eq!(err.lines().count(), 1, "expected one stderr line: {err:?}");
    assert!(
        err.starts_with("difflore-hook: "),
        "unprefixed stderr: {err:?}"
    );
    err.trim_end().to_owned()
}

/// Spill files waiting for import (`*.ndjson`), sorted.
pub fn spill_files(sb: &Sandbox) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(sb.home().join("spill")) {
        Ok(dir) => dir
            .map(|e| e.expect("read spill entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read spill dir: {e}"),
    };
    files.sort();
    files
}

/// Anything at all left in the spill directory (claims and temp files included).
pub fn spill_entries(sb: &Sandbox) -> usize {
    std::fs::read_dir(sb.home().join("spill")).map_or(0, |d| d.count())
}

/// Permission bits of a file or directory.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A small valid event with a distinct session id.
pub fn event(session: &str) -> Vec<u8> {
    format!(
        r#"{{"session_id":"{session}","cwd":"/home/dev/src/example-app","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{{"command":"true"}}}}"#
    )
    .into_bytes()
}
