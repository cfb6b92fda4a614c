//! Files difflore writes whole and owns, for agents configured by files rather than by
//! entries in a settings file: Cline's hook scripts, OpenCode's plugin. Each carries
//! [`MARKER`]; a file without it is the user's, never replaced and never removed.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Action, InstallError, Note, settings_file};

/// The line (after a comment leader) that makes a file difflore's.
pub const MARKER: &str = "difflore: written by `difflorectl hooks install`";

/// One file as difflore wants it.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    pub event: &'static str,
    pub path: PathBuf,
    pub text: String,
    pub mode: u32,
}

/// What applying a set of files did.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// A file was written or removed.
    pub changed: bool,
    /// None of difflore's files existed before this install.
    pub created: bool,
    /// Install: events whose file is now difflore's. Uninstall: files removed.
    pub entries: usize,
    /// Files of the user's own where difflore wanted one: left alone.
    pub skipped: Vec<Note>,
}

/// A file on disk, as far as ownership goes.
pub(super) enum Found {
    Missing,
    Ours { text: String, mode: u32 },
    Theirs,
}

pub(super) fn find(path: &Path) -> Result<Found, InstallError> {
    let read_error = |source| InstallError::Read {
        path: path.to_path_buf(),
        source,
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(read_error(e)),
        // A link or a directory of that name is the user's doing, whatever it points at.
        Ok(meta) if !meta.file_type().is_file() => return Ok(Found::Theirs),
        Ok(_) => {}
    }
    let bytes = fs::read(path).map_err(read_error)?;
    let mode = fs::metadata(path).map_err(read_error)?.permissions().mode() & 0o7777;
    match String::from_utf8(bytes) {
        Ok(text) if text.contains(MARKER) => Ok(Found::Ours { text, mode }),
        _ => Ok(Found::Theirs),
    }
}

pub(super) fn apply(files: &[Wanted], action: Action) -> Result<Applied, InstallError> {
    let mut applied = Applied {
        created: action == Action::Install,
        ..Applied::default()
    };
    for file in files {
        let found = find(&file.path)?;
        if matches!(found, Found::Ours { .. }) {
            applied.created = false;
        }
        match (action, found) {
            (Action::Install, Found::Theirs) => applied.skipped.push(Note::NotOurs {
                path: file.path.clone(),
                event: file.event,
            }),
            (Action::Install, Found::Ours { text, mode })
                if text == file.text && mode == file.mode =>
            {
                applied.entries += 1;
            }
            (Action::Install, _) => {
                write(file)?;
                applied.changed = true;
                applied.entries += 1;
            }
            (Action::Uninstall, Found::Ours { .. }) => {
                fs::remove_file(&file.path).map_err(|source| InstallError::Write {
                    path: file.path.clone(),
                    source,
                })?;
                applied.changed = true;
                applied.entries += 1;
            }
            (Action::Uninstall, Found::Missing | Found::Theirs) => {}
        }
    }
    applied.created &= applied.changed;
    Ok(applied)
}

/// Whether an install would write anything (`print`'s answer), writing nothing.
pub(super) fn apply_preview(files: &[Wanted]) -> Result<bool, InstallError> {
    for file in files {
        match find(&file.path)? {
            Found::Missing => return Ok(true),
            Found::Ours { text, mode } if text != file.text || mode != file.mode => {
                return Ok(true);
            }
            Found::Ours { .. } | Found::Theirs => {}
        }
    }
    Ok(false)
}

fn write(file: &Wanted) -> Result<(), InstallError> {
    if let Some(dir) = file.path.parent() {
        fs::create_dir_all(dir).map_err(|source| InstallError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    settings_file::replace(&file.path, file.text.as_bytes(), Some(file.mode)).map_err(|source| {
        InstallError::Write {
            path: file.path.clone(),
            source,
        }
    })
}

/// Which of `files` are difflore's now, read-only.
#[derive(Debug, Default)]
pub(super) struct Installed {
    /// Events whose file is difflore's, in `files`' order.
    pub events: Vec<&'static str>,
    /// Those files' texts and permission bits.
    pub files: Vec<(String, u32)>,
    /// One of the files could not be read.
    pub unreadable: bool,
}

pub(super) fn installed(files: &[Wanted]) -> Installed {
    let mut found = Installed::default();
    for file in files {
        match find(&file.path) {
            Ok(Found::Ours { text, mode }) => {
                found.events.push(file.event);
                found.files.push((text, mode));
            }
            Ok(_) => {}
            Err(_) => found.unreadable = true,
        }
    }
    found
}
