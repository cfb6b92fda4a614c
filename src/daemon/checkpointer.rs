//! WAL checkpoints during a drain, on a thread of their own with their own connection: a
//! drain commits a claim and an acknowledgement per batch, and left alone the WAL would grow
//! past the length at which each hook checkpoints it itself (copy and two syncs on the
//! hook's clock). PASSIVE checkpoints take no writer lock, so neither the drain loop nor a
//! hook waits for this one. The idle loop's own TRUNCATE checkpoint is not this; nothing
//! here reads or writes rows.

use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

use crate::dlog;
use crate::shared::error_chain;
use crate::shared::paths::Paths;
use crate::shared::store::{OpenOptions, Outbox};

use super::queue::{self, Checkpoint};

/// The loop asks for a checkpoint once the WAL is longer than this: under the hook's own
/// threshold (1 MiB), so a hook during a drain finds the WAL short.
pub const WAL_SHORT: u64 = 512 << 10;

pub struct Checkpointer {
    ask: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// The thread and its connection. Failing to start leaves checkpoints to the loop and
    /// the hooks, as before.
    pub fn start(paths: &Paths) -> Checkpointer {
        // One request waiting is enough: asks while it is busy fold into it.
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let paths = paths.clone();
        let spawned = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || {
                let outbox = match Outbox::open(&paths, OpenOptions::long_lived()) {
                    Ok(outbox) => outbox,
                    Err(e) => {
                        dlog!("no checkpoint thread: {}", error_chain(&e));
                        return;
                    }
                };
                while asked.recv().is_ok() {
                    if let Err(e) = queue::checkpoint(&outbox, Checkpoint::Passive) {
                        dlog!("checkpoint during the drain failed: {}", error_chain(&e));
                    }
                }
            });
        match spawned {
            Ok(thread) => Checkpointer {
                ask: Some(ask),
                thread: Some(thread),
            },
            Err(e) => {
                dlog!("no checkpoint thread: {e}");
                Checkpointer {
                    ask: None,
                    thread: None,
                }
            }
        }
    }

    /// Checkpoint soon, if no checkpoint is already asked for.
    pub fn ask(&self) {
        if let Some(ask) = &self.ask {
            // Full: one is already asked for. Disconnected: the thread could not open the
            // outbox, and the hooks and the loop checkpoint as they would without it.
            let _ = ask.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the checkpoint it is in.
        self.ask = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long the outbox's WAL file is now (0 when there is none).
pub fn wal_len(outbox: &Outbox) -> u64 {
    let mut wal = outbox.path().as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(&wal).map_or(0, |m| m.len())
}
