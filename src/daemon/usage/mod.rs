//! Token usage from agent transcripts: the daemon follows the transcript each session names
//! (`transcript_path` in its events), reads what was appended since its last look, and
//! records one `usage` row per model response, attributed to the session's turn. Reads files
//! only, a bounded amount per pass; never sends anything (the views and spans read the table).

mod claude;
mod codex;
mod gemini;
mod qwen;
pub mod turns;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use rusqlite::{OptionalExtension, params};

use crate::shared::store::{Outbox, StoreError};

/// Bytes read from transcripts per pass, so a huge backlog cannot stall delivery.
const BYTES_PER_PASS: u64 = 8 << 20;
/// Sessions with new events looked at per pass.
const SESSIONS_PER_PASS: usize = 200;

/// One model response's tokens as a transcript records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Unique within the transcript: the same response logged twice counts once.
    pub key: String,
    pub at_ms: Option<i64>,
    pub model: Option<String>,
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

/// A transcript format: one JSON line at a time, with what it must remember between
/// lines and passes (`carry`: Codex's model of the turn and its last totals).
trait Format {
    fn line(&mut self, line: &serde_json::Value) -> Option<Response>;
    fn carry(&self) -> Option<String>;
}

fn format_for(client: &str, carry: Option<&str>) -> Option<Box<dyn Format>> {
    match client {
        "claude-code" => Some(Box::new(claude::Claude)),
        "codex" => Some(Box::new(codex::Codex::resume(carry))),
        "gemini" => Some(Box::new(gemini::Gemini)),
        "qwen-code" => Some(Box::new(qwen::Qwen)),
        _ => None,
    }
}

/// Look at the transcripts of sessions that had events since the last pass; returns the
/// usage rows recorded.
pub fn pass(outbox: &Outbox, now_ms: i64) -> Result<usize, StoreError> {
    let conn = outbox.conn();
    let sql = |e| outbox.sql(e);
    let through: i64 = conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'usage_through'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?
        .unwrap_or(0);
    let mut sessions = conn
        .prepare_cached(
            "SELECT client, session_id, max(id) FROM events
             WHERE id > ?1 AND session_id IS NOT NULL AND client IN ('claude-code', 'codex', 'gemini', 'qwen-code')
             GROUP BY client, session_id ORDER BY max(id) LIMIT ?2",
        )
        .map_err(sql)?
        .query_map(params![through, SESSIONS_PER_PASS as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    let Some(mut newest) = sessions.iter().map(|s| s.2).max() else {
        return Ok(0);
    };
    let mut budget = BYTES_PER_PASS;
    let mut recorded = 0;
    let tx = outbox.conn().unchecked_transaction().map_err(sql)?;
    for (client, session, last) in sessions.drain(..) {
        let path: Option<String> = tx
            .query_row(
                "SELECT payload ->> '$.transcript_path' FROM events WHERE id = ?1",
                [last],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        // Gemini CLI before its JSONL files wrote one JSON document, rewritten whole.
        if client == "gemini" && !path.ends_with(".jsonl") {
            continue;
        }
        let (rows, finished) =
            follow(&tx, &path, &client, &session, now_ms, &mut budget).map_err(sql)?;
        recorded += rows;
        if !finished {
            // The budget ran out mid-file: this session is looked at again next pass.
            newest = newest.min(last - 1);
        }
        attribute(&tx, &session).map_err(sql)?;
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('usage_through', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [newest],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(recorded)
}

/// Give `session`'s responses not yet given a turn the turn that was open when they were
/// written. A response read before its events were assembled (turns are numbered by
/// assembly) is given one on a later look.
pub(super) fn attribute(conn: &rusqlite::Connection, session: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE usage SET turn = (SELECT max(turn) FROM events
             WHERE session_id = usage.session_id AND received_ms <= usage.at_ms
               AND turn IS NOT NULL)
         WHERE session_id = ?1 AND turn IS NULL",
    )?
    .execute([session])
}

/// Read what `path` gained since the last look and record its responses. A file that
/// is not the one read before (another inode, a shorter length, another first line) is
/// read from its start: rows already recorded are not counted twice (`UNIQUE (source, key)`).
fn follow(
    conn: &rusqlite::Connection,
    path: &str,
    client: &str,
    session: &str,
    now_ms: i64,
    budget: &mut u64,
) -> rusqlite::Result<(usize, bool)> {
    let Some(mut format_carry) = conn
        .query_row(
            "SELECT dev, ino, head, offset, carry FROM transcripts WHERE path = ?1",
            [path],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()?
        .map(Some)
        .unwrap_or(Some((None, None, None, 0, None)))
    else {
        return Ok((0, true));
    };
    // Never blocking: a FIFO named as a transcript would hold the daemon at open.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let (mut file, meta) = match opened.and_then(|f| f.metadata().map(|m| (f, m))) {
        Ok(found) => found,
        Err(e) => {
            skip(conn, path, client, session, &e.to_string())?;
            return Ok((0, true));
        }
    };
    // The agent's own transcript: a regular file of this user's, nothing else.
    let uid = crate::shared::sys::effective_uid();
    if !meta.is_file() || meta.uid() != uid {
        let why = if meta.is_file() {
            "another user's file"
        } else {
            "not a regular file"
        };
        skip(conn, path, client, session, why)?;
        return Ok((0, true));
    }
    let head = first_line_fingerprint(&mut file);
    let (dev, ino, old_head, offset, carry) = &mut format_carry;
    let same = *dev == Some(meta.dev() as i64)
        && *ino == Some(meta.ino() as i64)
        && old_head.as_deref() == head.as_deref()
        && (*offset as u64) <= meta.len();
    let start = if same { *offset as u64 } else { 0 };
    let carry = if same { carry.take() } else { None };
    let Some(mut format) = format_for(client, carry.as_deref()) else {
        return Ok((0, true));
    };
    let want = (meta.len() - start).min(*budget);
    let mut buf = Vec::with_capacity(want as usize);
    if file.seek(SeekFrom::Start(start)).is_err()
        || file.by_ref().take(want).read_to_end(&mut buf).is_err()
    {
        return Ok((0, true));
    }
    *budget -= buf.len() as u64;
    // Whole lines only: a line the agent is still writing is read next time.
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (mut recorded, mut skipped) = (0, 0i64);
    // A response logged more than once (Claude Code writes one line per content block)
    // keeps one row, with the largest count each line gave.
    let mut insert = conn.prepare_cached(
        "INSERT INTO usage (source, key, session_id, client, turn, at_ms, model,
                            input, output, cache_read, cache_write)
         VALUES (?1, ?2, ?3, ?4,
                 (SELECT max(turn) FROM events WHERE session_id = ?3 AND received_ms <= ?5
                    AND turn IS NOT NULL),
                 ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (source, key) DO UPDATE SET
             input = max(input, excluded.input), output = max(output, excluded.output),
             cache_read = max(cache_read, excluded.cache_read),
             cache_write = max(cache_write, excluded.cache_write)",
    )?;
    for line in buf[..complete].split(|&b| b == b'\n') {
        // Most lines are messages and tool output: parse only those that can hold usage.
        if !contains(line, b"usage")
            && !contains(line, b"turn_context")
            && !contains(line, b"tokens")
        {
            continue;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
            // A torn or malformed line: counted (status shows it), never fatal.
            skipped += 1;
            continue;
        };
        if let Some(r) = format.line(&value) {
            recorded += insert.execute(params![
                path,
                r.key,
                session,
                client,
                r.at_ms.unwrap_or(now_ms),
                r.model,
                r.input,
                r.output,
                r.cache_read,
                r.cache_write
            ])?;
        }
    }
    let finished = start + (complete as u64) >= meta.len() || complete == 0 && want == 0;
    conn.execute(
        "INSERT INTO transcripts (path, client, session_id, dev, ino, head, offset, carry,
                                  read_ms, skipped)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino,
             head = excluded.head, offset = excluded.offset, carry = excluded.carry,
             read_ms = excluded.read_ms, skipped = skipped + excluded.skipped",
        params![
            path,
            client,
            session,
            meta.dev() as i64,
            meta.ino() as i64,
            head,
            (start + complete as u64) as i64,
            format.carry(),
            now_ms,
            skipped
        ],
    )?;
    if skipped > 0 {
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ?1 WHERE key = 'usage_skipped'",
            [skipped],
        )?;
        crate::dlog!(
            "skipped {skipped} unreadable lines of the {client} transcript of session {session}"
        );
    }
    Ok((recorded, finished))
}

/// A transcript that cannot be read this time (gone, unreadable, not a file): counted and
/// logged, nothing else. It is looked at again with the session's next event.
fn skip(
    conn: &rusqlite::Connection,
    path: &str,
    client: &str,
    session: &str,
    why: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'usage_skipped'",
        [],
    )?;
    crate::dlog!("cannot read the {client} transcript of session {session} ({path}): {why}");
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first line's first 256 bytes: a replaced file with the same inode differs here.
fn first_line_fingerprint(file: &mut File) -> Option<String> {
    let mut head = [0u8; 256];
    let n = file.read(&mut head).ok()?;
    let line = head[..n].split(|&b| b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).into_owned())
}

/// A transcript timestamp (RFC 3339) in Unix ms.
fn rfc3339_ms(v: Option<&serde_json::Value>) -> Option<i64> {
    let text = v?.as_str()?;
    let t = humantime::parse_rfc3339(text)
        .or_else(|_| humantime::parse_rfc3339_weak(text))
        .ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

/// Counts in the Gemini API's terms (Gemini CLI, Qwen Code): the prompt count includes its
/// cached part, and thinking is billed as output.
struct GeminiCounts {
    prompt: i64,
    cached: i64,
    candidates: i64,
    thoughts: i64,
}

impl GeminiCounts {
    fn response(self, key: &str, v: &serde_json::Value) -> Response {
        let cached = self.cached.min(self.prompt);
        Response {
            key: key.to_owned(),
            at_ms: rfc3339_ms(v.get("timestamp")),
            model: v
                .get("model")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            input: self.prompt - cached,
            output: self.candidates.saturating_add(self.thoughts),
            cache_read: cached,
            cache_write: 0,
        }
    }
}

/// The most tokens one count may say: far beyond any response, and small enough that the
/// views' sums over millions of them never overflow SQLite's integers.
const MAX_TOKENS: i64 = 1 << 40;

/// A count as a transcript gives it: not a non-negative integer is 0, and a huge one is
/// `MAX_TOKENS`.
fn tokens(v: &serde_json::Value, key: &str) -> i64 {
    v.get(key)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
        .clamp(0, MAX_TOKENS)
}
