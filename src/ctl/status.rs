//! `difflorectl status`: gather what the pid file, the outbox and the spill directory say,
//! into one report value. Read-only by contract: the lock is only probed, the outbox is
//! opened read-only, nothing is created, cleaned or migrated.

use std::path::PathBuf;

use crate::shared::config::{Config, shown_endpoint};
use crate::shared::health::{self, Dropped, Health};
use crate::shared::paths::Paths;
use crate::shared::pidfile::PidRecord;
use crate::shared::spill;
use crate::shared::store::{Outbox, QueueCounts, StoreError};

use super::CtlError;
use super::hooks::{self, AgentStatus};
use super::process::{self, Daemon};

#[derive(Debug)]
pub enum Status {
    Known(Box<StatusReport>),
    /// The pid file (or the data home itself) could not be read.
    Unknown {
        data_home: Option<PathBuf>,
        error: CtlError,
    },
}

impl Status {
    /// LSB `status` exit codes.
    pub fn exit_code(&self) -> u8 {
        match self {
            Status::Known(report) => match report.daemon {
                DaemonStatus::Running(_) => 0,
                DaemonStatus::Stale { .. } => 1,
                DaemonStatus::NotRunning => 3,
            },
            Status::Unknown { .. } => 4,
        }
    }
}

#[derive(Debug)]
pub struct StatusReport {
    pub now_ms: i64,
    pub data_home: PathBuf,
    pub daemon: DaemonStatus,
    pub queue: QueueView,
    pub spill_waiting: usize,
    /// From the health record, else from config.toml with any credentials removed.
    pub endpoint: Option<String>,
    /// `max_outbox_bytes` from config.toml (`None` when it cannot be read).
    pub max_outbox_bytes: Option<u64>,
    /// `keep_history` from config.toml (`None` when it cannot be read).
    pub keep_history: Option<std::time::Duration>,
    /// The agents with difflore's hooks installed (`None`: no home directory to look in).
    pub hooks: Option<Vec<AgentStatus>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonStatus {
    /// The lock is held. The record is `None` while a starting daemon has not written it.
    Running(Option<PidRecord>),
    Stale {
        record: PidRecord,
        other_process: bool,
    },
    NotRunning,
}

#[derive(Debug)]
pub enum QueueView {
    /// No outbox yet: nothing was ever captured.
    Missing,
    Read(QueueInfo),
    Unreadable(StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub counts: QueueCounts,
    pub delivered_total: i64,
    /// Written by the daemon; kept after it stops (its last word).
    pub health: Option<Health>,
    /// Bytes the outbox's pages hold, what `max_outbox_bytes` limits.
    pub used_bytes: u64,
    /// Rows the daemon removed to stay under `max_outbox_bytes`.
    pub dropped: Dropped,
}

pub fn status(paths: &Paths) -> Status {
    let daemon = match process::find(paths) {
        Ok(Daemon::Running(record)) => DaemonStatus::Running(Some(record)),
        Ok(Daemon::Stale {
            record,
            other_process,
        }) => DaemonStatus::Stale {
            record,
            other_process,
        },
        Ok(Daemon::NotRunning) => DaemonStatus::NotRunning,
        // Held but unnamed: the lock is what counts as running.
        Err(CtlError::Unidentified { .. }) => DaemonStatus::Running(None),
        Err(error) => {
            return Status::Unknown {
                data_home: Some(paths.home.clone()),
                error,
            };
        }
    };
    let queue = match read_queue(paths) {
        Ok(Some(info)) => QueueView::Read(info),
        Ok(None) => QueueView::Missing,
        Err(e) => QueueView::Unreadable(e),
    };
    let config = Config::load(paths).ok();
    let endpoint = match &queue {
        QueueView::Read(QueueInfo {
            health: Some(Health {
                endpoint: Some(e), ..
            }),
            ..
        }) => Some(e.clone()),
        _ => config
            .as_ref()
            .and_then(|c| c.endpoint.as_deref())
            .map(shown_endpoint),
    };
    Status::Known(Box::new(StatusReport {
        now_ms: crate::shared::now_ms(),
        spill_waiting: spill::waiting(paths),
        data_home: paths.home.clone(),
        daemon,
        queue,
        endpoint,
        max_outbox_bytes: config.as_ref().map(|c| c.max_outbox_bytes),
        keep_history: config.map(|c| c.keep_history),
        hooks: hooks::installed(paths),
    }))
}

fn read_queue(paths: &Paths) -> Result<Option<QueueInfo>, StoreError> {
    let Some(outbox) = Outbox::open_read_only(paths)? else {
        return Ok(None);
    };
    Ok(Some(QueueInfo {
        counts: outbox.counts()?,
        delivered_total: health::delivered_total(&outbox)?,
        health: Health::read(&outbox)?,
        used_bytes: outbox.used_bytes()?,
        dropped: Dropped::read(&outbox)?,
    }))
}
