//! Reading an agent's JSON settings file and writing it back safely: parse errors with their
//! position, the user's indentation, a backup of the previous file, and an atomic replace
//! (temp file in the same directory, fsync, rename) that keeps the file's mode and follows
//! a symlinked file to its target. Knows nothing about hooks.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::{Map, Value};

use super::InstallError;

/// Appended to the settings file's name for the copy of its previous content.
pub const BACKUP_SUFFIX: &str = ".difflore-backup";

static NEXT_TEMP: AtomicUsize = AtomicUsize::new(0);

/// A settings file as found on disk.
#[derive(Debug)]
pub(super) struct Loaded {
    /// The file actually read and written: `path` itself, or its target when it is a link.
    pub target: PathBuf,
    /// `None` when the file does not exist yet.
    pub original: Option<Vec<u8>>,
    /// The parsed top-level object (empty for a missing or blank file).
    pub root: Map<String, Value>,
    /// Permission bits to keep, when the file exists.
    pub mode: Option<u32>,
}

pub(super) fn load(path: &Path) -> Result<Loaded, InstallError> {
    let mut loaded = load_raw(path)?;
    loaded.root = match &loaded.original {
        Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => parse(path, bytes)?,
        _ => Map::new(),
    };
    Ok(loaded)
}

/// The file's bytes, mode and real location, not parsed (`root` stays empty): for files
/// that are not JSON, such as Codex's `config.toml`.
pub(super) fn load_raw(path: &Path) -> Result<Loaded, InstallError> {
    let read_error = |source| InstallError::Read {
        path: path.to_path_buf(),
        source,
    };
    let target = resolve(path).map_err(read_error)?;
    let original = match fs::read(&target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(read_error(e)),
    };
    let mode = match &original {
        Some(_) => Some(
            fs::metadata(&target)
                .map_err(read_error)?
                .permissions()
                .mode()
                & 0o7777,
        ),
        None => None,
    };
    Ok(Loaded {
        target,
        original,
        root: Map::new(),
        mode,
    })
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>, InstallError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(root)) => Ok(root),
        Ok(_) => Err(InstallError::Shape {
            path: path.to_path_buf(),
            pointer: String::new(),
            expected: "an object",
        }),
        Err(source) => Err(InstallError::Parse {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        }),
    }
}

/// A settings path that is a symlink (dotfile managers do this) is edited at its target, so
/// the link survives.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

/// The file's text for `root`, indented the way the original was (two spaces for a new one).
pub(super) fn render(
    root: &Map<String, Value>,
    original: Option<&[u8]>,
) -> Result<String, serde_json::Error> {
    let indent = original.and_then(detect_indent).unwrap_or(b"  ");
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    root.serialize(&mut serializer)?;
    out.push(b'\n');
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The leading whitespace of the first indented line: one level in a pretty-printed file.
fn detect_indent(original: &[u8]) -> Option<&[u8]> {
    original
        .split(|b| *b == b'\n')
        .skip(1)
        .map(|line| {
            let width = line
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
            &line[..width]
        })
        .find(|indent| !indent.is_empty() && indent.len() <= 8)
}

/// Write `text` over `loaded.target`, first saving the previous content next to it. Nothing
/// is written when the file changed on disk since `load` (the agent may be saving it too).
pub(super) fn store(
    path: &Path,
    loaded: &Loaded,
    text: &str,
) -> Result<Option<PathBuf>, InstallError> {
    let target = &loaded.target;
    let write_error = |source| InstallError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(|source| InstallError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let backup = match &loaded.original {
        Some(bytes) => {
            let backup = backup_path(target);
            replace(&backup, bytes, loaded.mode).map_err(|source| InstallError::Backup {
                path: backup.clone(),
                source,
            })?;
            Some(backup)
        }
        None => None,
    };
    let current = match fs::read(target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(write_error(e)),
    };
    if current != loaded.original {
        return Err(InstallError::ChangedMeanwhile {
            path: path.to_path_buf(),
        });
    }
    replace(target, text.as_bytes(), loaded.mode).map_err(write_error)?;
    Ok(backup)
}

pub(super) fn backup_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(BACKUP_SUFFIX);
    target.with_file_name(name)
}

/// Atomically replace `path` with `bytes`: a temp file in the same directory, fsynced, then
/// renamed over it, then the directory fsynced so the rename itself is durable.
pub(super) fn replace(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    // Unique per process and per call, so two edits in one process never share a temp file.
    let call = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    name.push(format!(".difflore-{}-{call}.tmp", std::process::id()));
    let temp = dir.join(name);
    let result = write_temp(&temp, bytes, mode).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    // The new content is in place either way; a directory that cannot be fsynced only
    // makes the rename less durable, which is no reason to report a failure.
    let _ = File::open(dir).and_then(|dir| dir.sync_all());
    Ok(())
}

fn write_temp(temp: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    // Only a leftover of a killed earlier run with the same pid can have this name.
    let _ = fs::remove_file(temp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode.unwrap_or(0o666))
        .open(temp)?;
    if let Some(mode) = mode {
        // The umask narrowed the creation mode; the user's file keeps exactly its own.
        file.set_permissions(Permissions::from_mode(mode))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}
