//! At start, make every file in the data home private again (files 0600 or tighter,
//! directories 0700): files left by an older difflore, written by hand (config.toml) or
//! copied in under a looser umask. Changes modes only: never owners or contents, and never
//! follows a symlink out of the home.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::shared::paths::Paths;

/// The home holds `spill/` and nothing deeper; the bound only guards against surprises.
const MAX_DEPTH: usize = 4;

#[derive(Debug, Default)]
pub struct Tightened {
    /// Paths whose mode was changed, with the mode they had.
    pub changed: Vec<(PathBuf, u32)>,
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Remove group and other permissions from everything under the data home.
pub fn tighten(paths: &Paths) -> Tightened {
    let mut report = Tightened::default();
    walk(&paths.home, 0, &mut report);
    report
}

fn walk(dir: &Path, depth: usize, report: &mut Tightened) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return report.failed.push((dir.to_owned(), e)),
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                report.failed.push((dir.to_owned(), e));
                continue;
            }
        };
        // symlink_metadata: a link is left alone, and so is whatever it points to.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.mode() & 0o7777;
        let private = if meta.is_dir() {
            0o700
        } else if meta.is_file() {
            mode & 0o700
        } else {
            continue;
        };
        if mode != private && mode & 0o077 != 0 {
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(private)) {
                Ok(()) => report.changed.push((path.clone(), mode)),
                Err(e) => report.failed.push((path.clone(), e)),
            }
        }
        if meta.is_dir() && depth < MAX_DEPTH {
            walk(&path, depth + 1, report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn loose_files_and_directories_become_private_and_links_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let home = dir.path();
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        std::fs::write(home.join("config.toml"), "").unwrap();
        set(&home.join("config.toml"), 0o644);
        std::fs::write(home.join("outbox.db"), "").unwrap();
        set(&home.join("outbox.db"), 0o600);
        std::fs::create_dir(home.join("spill")).unwrap();
        set(&home.join("spill"), 0o755);
        std::fs::write(home.join("spill/1.ndjson"), "").unwrap();
        set(&home.join("spill/1.ndjson"), 0o664);
        let target = outside.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        set(&target, 0o644);
        std::os::unix::fs::symlink(&target, home.join("link")).unwrap();

        let report = tighten(&Paths::at(home));
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(report.changed.len(), 3, "{:?}", report.changed);
        assert_eq!(mode(&home.join("config.toml")), 0o600);
        assert_eq!(mode(&home.join("outbox.db")), 0o600);
        assert_eq!(mode(&home.join("spill")), 0o700);
        assert_eq!(mode(&home.join("spill/1.ndjson")), 0o600);
        assert_eq!(
            mode(&target),
            0o644,
            "a symlink's target is not ours to change"
        );
        assert!(tighten(&Paths::at(home)).changed.is_empty());
    }
}
