//! The file sink (`file:///abs/path.ndjson`): one event per line, appended and synced
//! before the batch counts as delivered. What `make demo` uses; no network.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use super::{Failure, OutEvent, Verdict};

pub struct FileSink {
    pub path: PathBuf,
}

impl FileSink {
    pub fn send(&mut self, events: &[OutEvent]) -> Result<(), Failure> {
        let mut buf = Vec::with_capacity(events.len() * 512);
        for ev in events {
            let start = buf.len();
            serde_json::to_writer(&mut buf, ev).map_err(|e| self.failure(&e.to_string()))?;
            // The payload keeps the agent's own formatting, newlines included (serde escapes
            // those inside strings): compact the event so it stays one line.
            if buf[start..].contains(&b'\n') {
                let value: serde_json::Value = serde_json::from_slice(&buf[start..])
                    .map_err(|e| self.failure(&e.to_string()))?;
                buf.truncate(start);
                serde_json::to_writer(&mut buf, &value)
                    .map_err(|e| self.failure(&e.to_string()))?;
            }
            buf.push(b'\n');
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.failure(&e.to_string()))?;
        file.write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| self.failure(&e.to_string()))
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
