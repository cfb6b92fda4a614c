//! Spill files: where an event goes when the outbox cannot take it in time (locked,
//! corrupt, read-only, full, newer schema), and how spilled events come back exactly once.
//! Each spill is its own file, written whole and then renamed into place, so no reader ever
//! sees half a line and concurrent hooks never share a file.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::event::Fields;
use super::paths::Paths;
use super::store::{Outbox, StoreError};

const READY: &str = "ndjson";
const CLAIMED: &str = "claimed";
/// `.<name>.tmp`: a spill being written. One left this long after its last write belongs to
/// a hook that was killed mid-write (an agent's timeout): it is imported if it is whole,
/// else recorded as a rejected row saying what was lost. Never left forever.
const TEMP: &str = "tmp";
const ABANDONED_TEMP: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("could not write spill file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not read spill directory {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One spilled input, as one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpillRecord {
    pub received_ms: i64,
    pub client: Option<String>,
    pub event: Option<String>,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub tool: Option<String>,
    /// Set for an input that was not an event: the reason, and the bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    #[serde(default)]
    pub size: usize,
    /// The payload exactly as received (a lossy excerpt for rejected input).
    pub payload: String,
}

impl SpillRecord {
    pub fn accepted(received_ms: i64, f: &Fields, payload: &str) -> SpillRecord {
        SpillRecord {
            received_ms,
            client: Some(f.client.clone()),
            event: Some(f.event.clone()),
            session_id: f.session_id.clone(),
            cwd: f.cwd.clone(),
            tool: f.tool.clone(),
            rejected: None,
            size: payload.len(),
            payload: payload.to_owned(),
        }
    }

    pub fn rejected(
        received_ms: i64,
        client: Option<&str>,
        reason: String,
        raw: &[u8],
        size: usize,
    ) -> SpillRecord {
        let excerpt = super::store::rejected_excerpt(raw);
        SpillRecord {
            received_ms,
            client: client.map(str::to_owned),
            event: None,
            session_id: None,
            cwd: None,
            tool: None,
            rejected: Some(reason),
            size,
            payload: String::from_utf8_lossy(excerpt).into_owned(),
        }
    }

    fn store(&self, outbox: &Outbox) -> Result<(), StoreError> {
        match (&self.rejected, &self.event) {
            (None, Some(event)) => {
                let f = Fields {
                    client: self.client.clone().unwrap_or_else(|| "unknown".into()),
                    event: event.clone(),
                    session_id: self.session_id.clone(),
                    cwd: self.cwd.clone(),
                    tool: self.tool.clone(),
                };
                outbox.insert(self.received_ms, &f, &self.payload).map(drop)
            }
            (reason, _) => {
                let reason = reason
                    .as_deref()
                    .unwrap_or("spill record without an event name");
                outbox
                    .insert_rejected(
                        self.received_ms,
                        self.client.as_deref(),
                        reason,
                        self.payload.as_bytes(),
                        self.size,
                    )
                    .map(drop)
            }
        }
    }
}

/// Write one record to a new spill file and return its path.
pub fn write(paths: &Paths, record: &SpillRecord) -> Result<PathBuf, SpillError> {
    let dir = paths.spill_dir();
    let name = format!("{}-{}-{}", record.received_ms, std::process::id(), nanos());
    let tmp = dir.join(format!(".{name}.tmp"));
    let done = dir.join(format!("{name}.{READY}"));
    let fail = |source| SpillError::Write {
        path: done.clone(),
        source,
    };
    let mut line = serde_json::to_vec(record).map_err(|e| fail(io::Error::other(e)))?;
    line.push(b'\n');
    if let Err(e) = fs::create_dir(&dir)
        && e.kind() != io::ErrorKind::AlreadyExists
    {
        return Err(fail(e));
    }
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(&line).map_err(fail)?;
    file.sync_data().map_err(fail)?;
    fs::rename(&tmp, &done).map_err(fail)?;
    Ok(done)
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// What one import pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub files: usize,
    pub rows: usize,
}

/// Spill files waiting to be imported.
pub fn waiting(paths: &Paths) -> usize {
    fs::read_dir(paths.spill_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let p = e.path();
                    has_ext(&p, READY) || has_ext(&p, CLAIMED) || has_ext(&p, TEMP)
                })
                .count()
        })
        .unwrap_or(0)
}

/// Import up to `max_files` spill files into the outbox, each exactly once.
/// Files another importer claimed (renamed) are adopted once they are at least
/// `adopt_claims_older_than` old: that importer died or gave up. Adopting one still being
/// imported is harmless, since `spill_imported` admits each file once; the age only spares
/// the work. The daemon adopts every claim (zero), hooks only old ones.
pub fn import(
    outbox: &Outbox,
    paths: &Paths,
    max_files: usize,
    adopt_claims_older_than: Duration,
) -> Result<ImportReport, SpillError> {
    let dir = paths.spill_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ImportReport::default()),
        Err(source) => return Err(SpillError::Read { path: dir, source }),
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            has_ext(p, READY)
                || (has_ext(p, CLAIMED) && older(p, adopt_claims_older_than))
                || (has_ext(p, TEMP) && older(p, ABANDONED_TEMP))
        })
        .collect();
    names.sort();
    let mut report = ImportReport::default();
    for path in names.into_iter().take(max_files) {
        let claimed = if has_ext(&path, CLAIMED) {
            path
        } else {
            let claimed = claim_name(&path);
            match fs::rename(&path, &claimed) {
                Ok(()) => claimed,
                // Another importer claimed it first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(SpillError::Read { path, source }),
            }
        };
        report.rows += import_file(outbox, &claimed)?;
        report.files += 1;
    }
    Ok(report)
}

/// Import one claimed file in one transaction, recorded by name so a second import of the
/// same file (after a crash between commit and unlink) adds nothing.
fn import_file(outbox: &Outbox, claimed: &Path) -> Result<usize, SpillError> {
    let text = match fs::read(claimed) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(SpillError::Read {
                path: claimed.to_owned(),
                source,
            });
        }
    };
    let name = claimed
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tx = Transaction::new_unchecked(outbox.conn(), TransactionBehavior::Immediate)
        .map_err(|e| outbox.sql(e))?;
    let mut rows = 0;
    let fresh = tx
        .execute(
            "INSERT OR IGNORE INTO spill_imported(name, imported_ms, rows) VALUES (?1, ?2, 0)",
            params![name, super::now_ms()],
        )
        .map_err(|e| outbox.sql(e))?
        == 1;
    if fresh {
        // Only a hook killed mid-write leaves a file empty or without its final newline
        // (a finished spill is renamed into place whole): the event is lost, and said so.
        let whole = text.ends_with(b"\n");
        if text.is_empty() {
            let why = format!(
                "spill file {name} left empty by a hook stopped mid-write: its event is lost"
            );
            SpillRecord::rejected(super::now_ms(), None, why, b"", 0).store(outbox)?;
            rows += 1;
        }
        let lines: Vec<&[u8]> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let record = serde_json::from_slice::<SpillRecord>(line).unwrap_or_else(|e| {
                let why = if !whole && i + 1 == lines.len() {
                    format!(
                        "spill file {name} cut short by a hook stopped mid-write ({} bytes kept): {e}",
                        line.len()
                    )
                } else {
                    format!("unreadable spill line: {e}")
                };
                SpillRecord::rejected(super::now_ms(), None, why, line, line.len())
            });
            record.store(outbox)?;
            rows += 1;
        }
        tx.execute(
            "UPDATE spill_imported SET rows = ?1 WHERE name = ?2",
            params![rows as i64, name],
        )
        .map_err(|e| outbox.sql(e))?;
    }
    tx.commit().map_err(|e| outbox.sql(e))?;
    // Imported (now or before): the file has served its purpose.
    let _ = fs::remove_file(claimed);
    Ok(rows)
}

/// `x.ndjson` → `x.claimed`; an abandoned `.x.tmp` → `x.claimed` too, so it is imported
/// (and recorded in `spill_imported`) under the name it would have had.
fn claim_name(path: &Path) -> PathBuf {
    if has_ext(path, TEMP) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        return path.with_file_name(format!("{}.{CLAIMED}", name.trim_start_matches('.')));
    }
    path.with_extension(CLAIMED)
}

/// Last modified at least `age` ago (a rename keeps the time the spill was written).
fn older(p: &Path, age: Duration) -> bool {
    age.is_zero()
        || fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|e| e >= age)
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::event::classify;
    use crate::shared::store::OpenOptions;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_claim_left_by_an_importer_that_gave_up_is_adopted_once_old() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let f = classify(br#"{"hook_event_name":"Stop","session_id":"s"}"#, None).unwrap();
        let path = write(&paths, &SpillRecord::accepted(7, &f, "{}")).unwrap();
        let claimed = path.with_extension(CLAIMED);
        fs::rename(&path, &claimed).unwrap();
        let outbox = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
        // Fresh: another hook may be importing it right now.
        assert_eq!(import(&outbox, &paths, 10, HOUR).unwrap().rows, 0);
        let old = std::time::SystemTime::now() - 2 * HOUR;
        fs::File::options()
            .write(true)
            .open(&claimed)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(import(&outbox, &paths, 10, HOUR).unwrap().rows, 1);
        assert_eq!(waiting(&paths), 0);
    }

    #[test]
    fn a_spilled_event_is_imported_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let f = classify(br#"{"hook_event_name":"Stop","session_id":"s"}"#, None).unwrap();
        let path = write(
            &paths,
            &SpillRecord::accepted(7, &f, r#"{"hook_event_name":"Stop"}"#),
        )
        .unwrap();
        let outbox = Outbox::open(&paths, OpenOptions::long_lived()).unwrap();
        assert_eq!(
            import(&outbox, &paths, 10, HOUR).unwrap(),
            ImportReport { files: 1, rows: 1 }
        );
        // Simulate a crash between commit and unlink: the same file shows up again.
        let name = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".ndjson", ".claimed");
        fs::write(dir.path().join("spill").join(name), b"{}\n").unwrap();
        import(&outbox, &paths, 10, Duration::ZERO).unwrap();
        let n: i64 = outbox
            .conn()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(waiting(&paths), 0);
    }
}
