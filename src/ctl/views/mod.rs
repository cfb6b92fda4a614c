//! The local history views: `sessions`, `show` and `query`, each one read-only query whose
//! outcome value the renderer turns into words, a table, JSON or CSV. The outbox is opened
//! read-only with `query_only` set, after the documented TEMP views (`sql`) are created on
//! that connection: nothing here can change the outbox.

pub mod query;
pub mod sessions;
pub mod show;
pub mod sql;

use crate::shared::paths::Paths;
use crate::shared::store::{Outbox, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(
        "query refused: it would change the outbox, and difflorectl query only reads (SELECT, WITH … SELECT); nothing was changed"
    )]
    Writes,
    #[error("query refused: one statement at a time; nothing was run")]
    Several,
    #[error("query failed: {message}; the views are {}", sql::VIEW_NAMES.join(", "))]
    Sql { message: String },
    #[error("no session matches {wanted:?}")]
    NoSession { wanted: String },
    #[error("{wanted:?} matches {count} sessions ({examples}…); give more of the id")]
    Ambiguous {
        wanted: String,
        count: usize,
        examples: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outbox as the views see it: read-only, `query_only`, the TEMP views in place.
pub struct History {
    outbox: Outbox,
}

impl History {
    /// `Ok(None)` when nothing was ever captured (no outbox yet).
    pub fn open(paths: &Paths) -> Result<Option<History>, ViewError> {
        let Some(outbox) = Outbox::open_read_only(paths)? else {
            return Ok(None);
        };
        let c = outbox.conn();
        c.execute_batch(sql::VIEWS).map_err(|e| outbox.sql(e))?;
        c.pragma_update(None, "query_only", true)
            .map_err(|e| outbox.sql(e))?;
        Ok(Some(History { outbox }))
    }

    pub fn conn(&self) -> &rusqlite::Connection {
        self.outbox.conn()
    }

    pub fn sql(&self, e: rusqlite::Error) -> ViewError {
        ViewError::Store(self.outbox.sql(e))
    }
}
