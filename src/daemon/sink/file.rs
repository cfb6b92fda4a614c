//! The file sink (`file:///abs/path.ndjson`): one event per line, appended and synced
//! before the batch counts as delivered. What `make demo` uses; no network. Writes only to
//! a regular file this user owns and nobody else may write, never through a symlink: in a
//! shared folder, someone else's file (or link) would otherwise receive the events.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use super::{Failure, OutEvent, Verdict};
use crate::shared::sys;

pub struct FileSink {
    pub path: PathBuf,
}

impl FileSink {
    pub fn send(&self, events: &[OutEvent]) -> Result<(), Failure> {
        let mut buf = Vec::with_capacity(events.len() * 512);
        for ev in events {
            let start = buf.len();
            serde_json::to_writer(&mut buf, ev).map_err(|e| self.failure(&e.to_string()))?;
            one_line(&mut buf, start);
            buf.push(b'\n');
        }
        let mut file = self.open()?;
        file.write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| self.failure(&e.to_string()))
    }

    /// The file, created private if missing; refused if it is a symlink, not a regular
    /// file, someone else's, or writable by others.
    fn open(&self) -> Result<File, Failure> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&self.path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => self.failure("it is a symbolic link"),
                _ => self.failure(&e.to_string()),
            })?;
        let meta = file.metadata().map_err(|e| self.failure(&e.to_string()))?;
        if !meta.file_type().is_file() {
            return Err(self.failure("it is not a regular file"));
        }
        if meta.uid() != sys::effective_uid() {
            return Err(self.failure(&format!(
                "it belongs to uid {}, not to this user",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(self.failure("group or others may write to it; chmod go-w it"));
        }
        Ok(file)
    }

    fn failure(&self, cause: &str) -> Failure {
        Failure {
            verdict: Verdict::Retry,
            status: None,
            retry_after: None,
            detail: format!("could not append to {}: {cause}", self.path.display()),
        }
    }
}

/// Make the event written from `start` one line. The payload keeps the agent's own layout,
/// newlines included; a raw CR or LF in valid JSON can only be whitespace between tokens
/// (inside a string JSON escapes them), so dropping those bytes changes nothing else:
/// numbers keep their digits and duplicate keys stay, as no parse and re-print would.
fn one_line(buf: &mut Vec<u8>, start: usize) {
    if !buf[start..].iter().any(|b| matches!(b, b'\n' | b'\r')) {
        return;
    }
    let event = buf.split_off(start);
    buf.extend(event.into_iter().filter(|b| !matches!(b, b'\n' | b'\r')));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sink(path: PathBuf) -> FileSink {
        FileSink { path }
    }

    #[test]
    fn a_pretty_printed_payload_becomes_one_line_with_every_digit_and_key() {
        let event = "{\"event\":\"e\\nf\",\"payload\":{\r\n  \"n\": [2.50, -0, 123456789012345678901234567890],\n  \"a\": 1,\n  \"a\": \"x\\ny\"\n}\n}";
        let mut buf = b"{\"before\":1}\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(event.as_bytes());
        one_line(&mut buf, start);
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "{\"before\":1}\n{\"event\":\"e\\nf\",\"payload\":{  \"n\": [2.50, -0, 123456789012345678901234567890],  \"a\": 1,  \"a\": \"x\\ny\"}}"
        );
    }

    #[test]
    fn a_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("theirs.ndjson");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("out.ndjson");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = sink(link).send(&[]).unwrap_err();
        assert!(
            err.detail.ends_with("it is a symbolic link"),
            "{}",
            err.detail
        );
        assert_eq!(err.verdict, Verdict::Retry);
        assert_eq!(std::fs::read(&target).unwrap(), b"");
    }

    #[test]
    fn a_file_others_may_write_is_refused_and_a_new_one_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open.ndjson");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = sink(open).send(&[]).unwrap_err();
        assert!(
            err.detail.contains("group or others may write"),
            "{}",
            err.detail
        );

        let fresh = dir.path().join("fresh.ndjson");
        sink(fresh.clone()).send(&[]).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn someone_elses_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.ndjson");
        std::fs::write(&theirs, "").unwrap();
        // Only root can give a file away; as anyone else, a file of root's stands in.
        let other = if sys::effective_uid() == 0 { 65534 } else { 0 };
        if std::os::unix::fs::chown(&theirs, Some(other), None).is_err() {
            return;
        }
        let err = sink(theirs.clone()).send(&[]).unwrap_err();
        assert!(
            err.detail.contains(&format!("belongs to uid {other}")),
            "{}",
            err.detail
        );
    }

    #[test]
    fn a_fifo_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Without a reader the open itself fails (ENXIO), with one the type check refuses:
        // either way nothing blocks and nothing is written.
        assert!(sink(fifo).send(&[]).is_err());
    }
}
