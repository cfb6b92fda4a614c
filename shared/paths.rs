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
    #[error(
        "data home {path} is owned by uid {owner}, not by this user (uid {me}); refusing to use it"
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
    pub fn config_file(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// Create the data home (0700) if it is missing. Cheap when it exists: one mkdir call.
    /// The caller sets a 0077 umask first (see `sys::private_umask`), so files created
    /// inside are 0600 without a chmod each.
    pub fn ensure_home(&self) -> Result<(), PathsError> {
        match DirBuilder::new().mode(0o700).create(&self.home) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(&self.home)
                .map_err(|source| self.create_error(source)),
            Err(source) => Err(self.create_error(source)),
        }
    }

    /// The full check the daemon and ctl make once at start: the home exists, belongs to
    /// this user and is private (tightened to 0700 if it was looser).
    pub fn ensure_private_home(&self) -> Result<(), PathsError> {
        self.ensure_home()?;
        let meta = std::fs::metadata(&self.home).map_err(|source| self.create_error(source))?;
        let me = crate::shared::sys::effective_uid();
        if meta.uid() != me {
            return Err(PathsError::ForeignOwner {
                path: self.home.clone(),
                owner: meta.uid(),
                me,
            });
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(&self.home, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| self.create_error(source))?;
        }
        Ok(())
    }

    fn create_error(&self, source: io::Error) -> PathsError {
        PathsError::Create {
            path: self.home.clone(),
            source,
        }
    }
}
