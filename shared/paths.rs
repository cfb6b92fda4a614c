//! Where difflore keeps its files: `$DIFFLORE_HOME`, else `~/.difflore`.
//! Owns path names and the private (0700/0600) creation of the data home; nothing else.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// The environment variable that moves the data home (tests always set it).
pub const HOME_VAR: &str = "DIFFLORE_HOME";

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("{HOME_VAR} is set but empty; unset it or give an absolute path")]
    EmptyHome,
    #[error("{HOME_VAR} must be an absolute path, got {0:?}")]
    RelativeHome(PathBuf),
    #[error("could not find the home directory; set {HOME_VAR} to an absolute path")]
    NoHomeDir,
    #[error("could not create data home at {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not inspect data home {path}")]
    Inspect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "data home {path} is owned by uid {owner}, not by this user (uid {me}); refusing to use it: chown it to yourself or set {HOME_VAR} to a directory you own"
    )]
    ForeignOwner { path: PathBuf, owner: u32, me: u32 },
}

/// Every path difflore reads or writes, derived from one data home.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
}

impl Paths {
    /// Resolve the data home from `DIFFLORE_HOME` or `~/.difflore`, without touching disk.
    pub fn from_env() -> Result<Paths, PathsError> {
        match std::env::var_os(HOME_VAR) {
            Some(v) if v.is_empty() => Err(PathsError::EmptyHome),
            Some(v) => {
                let p = PathBuf::from(v);
                if p.is_absolute() {
                    Ok(Paths::at(p))
                } else {
                    Err(PathsError::RelativeHome(p))
                }
            }
            None => dirs::home_dir()
                .map(|h| Paths::at(h.join(".difflore")))
                .ok_or(PathsError::NoHomeDir),
        }
    }

    /// A data home at an explicit directory (unit tests pass a temp dir here).
    pub fn at(home: impl Into<PathBuf>) -> Paths {
        Paths { home: home.into() }
    }

    pub fn db(&self) -> PathBuf {
        self.home.join("outbox.db")
    }
    pub fn spill_dir(&self) -> PathBuf {
        self.home.join("spill")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.home.join("difflored.pid")
    }
    pub fn log_file(&self) -> PathBuf {
        self.home.join("difflored.log")
    }
    /// Locked (shared) by each hook waiting for the outbox's write lock: `store::waiting`.
    pub fn hooks_waiting(&self) -> PathBuf {
        self.home.join("hooks-waiting")
    }
    pub fn config_file(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// Create the data home (0700) if it is missing. Cheap when it exists: one mkdir call.
    /// The caller sets a 0077 umask first (see `sys::private_umask`), so files created
    /// inside are 0600 without a chmod each.
    pub fn ensure_home(&self) -> Result<(), PathsError> {
        self.create_home().map(drop)
    }

    /// The full check the hook and the daemon make at start: the home exists, belongs to
    /// this user and is private (tightened to 0700 if it was looser). When it exists: one
    /// mkdir and one stat (a chmod only if it was loose), cheap enough for the hook.
    pub fn ensure_private_home(&self) -> Result<(), PathsError> {
        if self.create_home()? {
            // Ours and 0700: we just made it.
            return Ok(());
        }
        let meta = std::fs::metadata(&self.home).map_err(|source| self.inspect_error(source))?;
        self.owned(&meta)?;
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(&self.home, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| self.create_error(source))?;
        }
        Ok(())
    }

    /// `Ok(true)` when this call created the home.
    fn create_home(&self) -> Result<bool, PathsError> {
        match DirBuilder::new().mode(0o700).create(&self.home) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(&self.home)
                .map(|()| true)
                .map_err(|source| self.create_error(source)),
            Err(source) => Err(self.create_error(source)),
        }
    }

    /// For callers that must not create or change anything (difflorectl): refuse a home that
    /// belongs to another user. `Ok(false)` when there is no home yet.
    pub fn check_owner(&self) -> Result<bool, PathsError> {
        match std::fs::metadata(&self.home) {
            Ok(meta) => self.owned(&meta).map(|()| true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(self.inspect_error(source)),
        }
    }

    /// Someone else's directory would hold (and show them) what our agents saw.
    fn owned(&self, meta: &std::fs::Metadata) -> Result<(), PathsError> {
        let me = crate::shared::sys::effective_uid();
        if meta.uid() != me {
            return Err(PathsError::ForeignOwner {
                path: self.home.clone(),
                owner: meta.uid(),
                me,
            });
        }
        Ok(())
    }

    fn inspect_error(&self, source: io::Error) -> PathsError {
        PathsError::Inspect {
            path: self.home.clone(),
            source,
        }
    }

    fn create_error(&self, source: io::Error) -> PathsError {
        PathsError::Create {
            path: self.home.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn a_loose_home_is_tightened_and_a_missing_one_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path().join("a/b/home"));
        assert!(!paths.check_owner().unwrap(), "no home yet");
        paths.ensure_private_home().unwrap();
        assert_eq!(mode(&paths.home), 0o700);
        assert!(paths.check_owner().unwrap());
        std::fs::set_permissions(&paths.home, std::fs::Permissions::from_mode(0o755)).unwrap();
        paths.ensure_private_home().unwrap();
        assert_eq!(mode(&paths.home), 0o700);
    }
}
