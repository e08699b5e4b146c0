//! The private directory the embedded Python server files run from.
//!
//! Python puts a script's directory first on `sys.path`, so whoever can add a file there
//! (an `rpyc.py`, an `argparse.py`) runs code inside the server. The directory is
//! therefore private, and checked before every use:
//!
//! - it lives under the user's cache directory (`$XDG_CACHE_HOME/rpycbench`, else
//!   `~/.cache/rpycbench`), created mode 0700; without either, in a fresh private
//!   temporary directory of this process (a new name, created mode 0700);
//! - that root and the files' own directory must be real directories (no symlinks),
//!   owned by the effective user, writable by no one else; a root that is not is an
//!   error naming it (the user's to fix, never silently used);
//! - the files' directory holds exactly the embedded files, with exactly their
//!   content: anything else in it (a planted module, a `__pycache__`, an edited file)
//!   makes it be rebuilt. It is built whole in a staging directory and renamed into
//!   place, so parallel starts never run a half-written file. Python runs with `-B`,
//!   which keeps it from adding a `__pycache__` of its own.

use super::PythonError;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The directory holding exactly `files` (`(name, content)`), made or checked now.
pub(super) fn prepare(files: &[(&str, &str)]) -> Result<PathBuf, PythonError> {
    let hash = crate::client::fnv1a(files.iter().flat_map(|(_, text)| text.bytes()));
    let root = match user_cache_root() {
        Some(root) => {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&root).map_err(|e| cache_err(&root, e))?;
            root
        }
        None => process_temp_root()?.to_path_buf(),
    };
    check_private(&root)?;
    let name = format!("python-{hash:016x}");
    let dir = root.join(&name);
    if std::fs::symlink_metadata(&dir).is_ok() {
        if holds_exactly(&dir, files) {
            return Ok(dir);
        }
        remove(&dir).map_err(|e| cache_err(&dir, e))?;
    }
    // Built aside, renamed into place whole.
    static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let staging = root.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let built = build(&staging, files).and_then(|()| std::fs::rename(&staging, &dir));
    let _ = std::fs::remove_dir_all(&staging);
    match built {
        Ok(()) => {}
        // Another start renamed its copy into place first: it is checked below.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {}
        Err(e) => return Err(cache_err(&dir, e)),
    }
    if holds_exactly(&dir, files) {
        Ok(dir)
    } else {
        Err(unsafe_cache(&dir, "its content changed while it was being prepared"))
    }
}

/// `$XDG_CACHE_HOME/rpycbench`, else `$HOME/.cache/rpycbench` (relative values are
/// ignored, as the XDG specification says).
fn user_cache_root() -> Option<PathBuf> {
    let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache"))).map(|c| c.join("rpycbench"))
}

/// A private temporary directory made for this process (once), under a name no one
/// could have taken first: creating it fails when anything is there already.
fn process_temp_root() -> Result<&'static Path, PythonError> {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    if let Some(root) = ROOT.get() {
        return Ok(root);
    }
    let mut last = std::io::Error::other("no attempt");
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let unique = crate::client::fnv1a(format!("{}.{nanos}.{attempt}", std::process::id()).into_bytes());
        let dir = std::env::temp_dir().join(format!("rpycbench-python-{unique:016x}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(ROOT.get_or_init(|| dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(cache_err(&dir, e)),
        }
    }
    Err(cache_err(&std::env::temp_dir(), last))
}

/// Refuses a directory someone else could have put files in.
fn check_private(dir: &Path) -> Result<(), PythonError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| cache_err(dir, e))?;
    match unsafe_reason(&meta) {
        Some(why) => Err(unsafe_cache(dir, why)),
        None if !meta.is_dir() => Err(unsafe_cache(dir, "it is not a directory")),
        None => Ok(()),
    }
}

/// Why an entry could hold someone else's code: a symlink, another owner, or a mode
/// that lets others write.
fn unsafe_reason(meta: &std::fs::Metadata) -> Option<&'static str> {
    if meta.file_type().is_symlink() {
        Some("it is a symbolic link")
    } else if meta.uid() != effective_uid() {
        Some("it is owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Some("others may write to it (group or world writable)")
    } else {
        None
    }
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `dir` is private and holds exactly `files`, each private with its content.
fn holds_exactly(dir: &Path, files: &[(&str, &str)]) -> bool {
    let private_dir = std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && unsafe_reason(&m).is_none() && m.mode() & 0o077 == 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let mut count = 0;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        count += 1;
        let name = entry.file_name();
        let Some((_, text)) = files.iter().find(|(n, _)| name.to_str() == Some(n)) else { return false };
        if !has_content(&entry.path(), text) {
            return false;
        }
    }
    private_dir && count == files.len()
}

fn has_content(path: &Path, text: &str) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    if !meta.is_file() || unsafe_reason(&meta).is_some() || meta.len() != text.len() as u64 {
        return false;
    }
    let mut bytes = Vec::with_capacity(text.len());
    std::fs::File::open(path).and_then(|f| f.take(text.len() as u64).read_to_end(&mut bytes)).is_ok()
        && bytes == text.as_bytes()
}

fn build(staging: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(staging);
    std::fs::DirBuilder::new().mode(0o700).create(staging)?;
    for (name, text) in files {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(staging.join(name))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    Ok(())
}

/// Removes what is at `path` without following a symlink.
fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn cache_err(path: &Path, source: std::io::Error) -> PythonError {
    PythonError::Cache { path: path.to_path_buf(), source }
}

fn unsafe_cache(path: &Path, why: &'static str) -> PythonError {
    PythonError::UnsafeCache { path: path.to_path_buf(), why }
}
