//! Named baselines: a run's results, with their histograms, kept in a directory meant
//! to be committed (`rpycbench-baselines/NAME.json`), stamped with where they came from.
//!
//! A baseline file is a [`Baseline`] in JSON with its own schema identifier,
//! [`BASELINE_SCHEMA`], wrapping a complete result collection
//! ([`RESULTS_SCHEMA`](crate::metrics::RESULTS_SCHEMA)). Files are written atomically,
//! and a file that cannot be read is never overwritten: it may be a newer rpycbench's,
//! or someone's work.

use crate::metrics::{now_rfc3339, BenchResult, Environment, ResultFileError, ResultSet, RESULTS_SCHEMA};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The schema identifier every baseline file carries.
pub const BASELINE_SCHEMA: &str = "rpycbench/baseline/v1";

/// The default baseline directory, relative to the package root.
pub const DEFAULT_BASELINE_DIR: &str = "rpycbench-baselines";

/// A saved run and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA`].
    pub schema: String,
    /// The baseline's name (its file is `NAME.json`).
    pub name: String,
    /// When it was last written (RFC 3339, UTC).
    pub created_at: String,
    /// `git rev-parse HEAD` of the package when saved, if git was available.
    pub git_commit: Option<String>,
    /// Whether the working tree had uncommitted changes, if git was available.
    pub git_dirty: Option<bool>,
    /// [`Environment::fingerprint`] of the machine that measured it.
    pub machine_fingerprint: String,
    /// `release` or `debug`: how the measuring binary was built.
    pub build_profile: String,
    /// The server modes of its results (`threaded`, `python-forking`, …).
    pub server_modes: Vec<String>,
    /// Python version of the Python-backed servers used, if any.
    pub python: Option<String>,
    /// rpyc version of the Python-backed servers used, if any.
    pub rpyc: Option<String>,
    /// The results, with their serialized histograms.
    pub results: ResultSet,
}

/// Why a baseline or results file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// No such baseline: save one first, or run leniently.
    #[error("baseline '{name}' not found at {}", path.display())]
    Missing {
        /// The baseline's name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file exists but is not a readable baseline or result file; it is left as is.
    #[error("{} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file has a schema this rpycbench does not read; it is left as is.
    #[error("{} has schema {found:?}, but this rpycbench reads {BASELINE_SCHEMA:?} and {RESULTS_SCHEMA:?}", path.display())]
    UnknownSchema {
        /// The file.
        path: PathBuf,
        /// The schema it names.
        found: String,
    },
    /// Reading, writing or locking failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl BaselineError {
    /// Whether the file exists but cannot be used (corrupt or unknown schema).
    pub fn is_unreadable(&self) -> bool {
        matches!(self, BaselineError::Corrupt { .. } | BaselineError::UnknownSchema { .. })
    }
}

/// What a comparison reads: a baseline, or a plain result file.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// The results.
    pub results: ResultSet,
    /// The stamp, when the file is a baseline.
    pub baseline: Option<Baseline>,
}

impl Baseline {
    /// A baseline of `results`, stamped with this machine, build and git state.
    pub fn new(name: &str, results: ResultSet, git_dir: &Path) -> Baseline {
        let env = Environment::current();
        let mut modes: Vec<String> = results.results.iter().map(|r| r.server.mode.clone()).collect();
        modes.sort();
        modes.dedup();
        let python = results.results.iter().find_map(|r| r.environment.python.clone());
        let rpyc = results.results.iter().find_map(|r| r.environment.rpyc.clone());
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(git_dir)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let git_commit = git(&["rev-parse", "HEAD"]);
        let git_dirty =
            git_commit.as_ref().and(git(&["status", "--porcelain", "--untracked-files=no"])).map(|s| !s.is_empty());
        Baseline {
            schema: BASELINE_SCHEMA.into(),
            name: name.into(),
            created_at: now_rfc3339(),
            git_commit,
            git_dirty,
            machine_fingerprint: env.fingerprint(),
            build_profile: env.build_profile,
            server_modes: modes,
            python,
            rpyc,
            results,
        }
    }

    /// `DIR/NAME.json`.
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.json"))
    }

    /// Reads baseline `name` from `dir`.
    pub fn load(dir: &Path, name: &str) -> Result<LoadedFile, BaselineError> {
        let path = Baseline::path(dir, name);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BaselineError::Missing { name: name.into(), path })
            }
            _ => load_file(&path),
        }
    }

    /// Saves `results` as baseline `name` in `dir`. Results of benchmarks that did not
    /// run this time but still exist (`keep` says which names do) are kept from the
    /// existing baseline: a filtered run, cargo-nextest's one process per benchmark, or a
    /// benchmark whose server failed this time. An existing file that cannot be read is
    /// never replaced: the save is refused.
    pub fn save(
        dir: &Path,
        name: &str,
        results: Vec<BenchResult>,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<PathBuf, BaselineError> {
        let path = Baseline::path(dir, name);
        let _lock = lock_dir(dir)?;
        let existing = match Baseline::load(dir, name) {
            Ok(file) => Some(file.results),
            Err(BaselineError::Missing { .. }) => None,
            Err(e) => return Err(e),
        };
        let set = merged(existing, results, keep);
        // git runs in the baseline directory: it exists now, and is in the package's repository.
        let baseline = Baseline::new(name, set, dir);
        let json = serde_json::to_string_pretty(&baseline).expect("baselines always serialize");
        write_atomically(&path, json.as_bytes())?;
        Ok(path)
    }
}

/// Reads a baseline or a result file, checking the schema before anything else.
pub fn load_file(path: &Path) -> Result<LoadedFile, BaselineError> {
    let io = |source| BaselineError::Io { path: path.to_path_buf(), source };
    let text = crate::metrics::read_input(path).map_err(io)?;
    let corrupt = |reason: String| BaselineError::Corrupt { path: path.to_path_buf(), reason };
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    let schema = raw.get("schema").and_then(|s| s.as_str()).ok_or_else(|| corrupt("no \"schema\" field".into()))?;
    let shown = path.display().to_string();
    let from_results = |e: ResultFileError| match e {
        ResultFileError::UnknownSchema { found, .. } => {
            BaselineError::UnknownSchema { path: path.to_path_buf(), found }
        }
        other => corrupt(other.to_string()),
    };
    match schema {
        BASELINE_SCHEMA => {
            // The inner collection goes through ResultSet's own checks too.
            let inner = raw.get("results").ok_or_else(|| corrupt("no \"results\" field".into()))?;
            let results = ResultSet::from_json(&inner.to_string(), &shown).map_err(from_results)?;
            let baseline: Baseline = serde_json::from_value(raw).map_err(|e| corrupt(e.to_string()))?;
            Ok(LoadedFile { results, baseline: Some(baseline) })
        }
        RESULTS_SCHEMA => {
            Ok(LoadedFile { results: ResultSet::from_json(&text, &shown).map_err(from_results)?, baseline: None })
        }
        other => Err(BaselineError::UnknownSchema { path: path.to_path_buf(), found: other.into() }),
    }
}

/// `existing`'s results that `keep` accepts and `fresh` does not replace, then `fresh`.
pub fn merged(existing: Option<ResultSet>, fresh: Vec<BenchResult>, keep: &dyn Fn(&str) -> bool) -> ResultSet {
    let mut set = existing.unwrap_or_default();
    set.results.retain(|old| keep(&old.name) && !fresh.iter().any(|new| new.name == old.name));
    set.results.extend(fresh);
    set.created_at = now_rfc3339();
    set
}

/// An exclusive lock on a directory (created if needed), held until dropped, so two
/// processes of one run (cargo-nextest runs one per benchmark) merge their results
/// instead of losing one another's.
pub fn lock_dir(dir: &Path) -> Result<Flock<std::fs::File>, BaselineError> {
    let io = |source| BaselineError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = std::fs::File::open(dir).map_err(io)?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| io(errno.into()))
}

/// [`crate::metrics`]' atomic write, with this module's error.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BaselineError> {
    crate::metrics::write_atomically(path, bytes)
        .map_err(|source| BaselineError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rpycbench-baseline-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn missing_corrupt_and_foreign_files_are_distinct() {
        let dir = temp_dir("errors");
        assert!(matches!(Baseline::load(&dir, "main"), Err(BaselineError::Missing { .. })));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Baseline::path(&dir, "bad"), "{ not json").unwrap();
        assert!(matches!(Baseline::load(&dir, "bad"), Err(BaselineError::Corrupt { .. })));
        std::fs::write(Baseline::path(&dir, "new"), r#"{"schema": "rpycbench/baseline/v9"}"#).unwrap();
        assert!(matches!(Baseline::load(&dir, "new"), Err(BaselineError::UnknownSchema { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn saving_round_trips_and_refuses_to_replace_a_corrupt_file() {
        let dir = temp_dir("save");
        let path = Baseline::save(&dir, "main", Vec::new(), &|_| true).unwrap();
        let loaded = Baseline::load(&dir, "main").unwrap();
        let stamp = loaded.baseline.unwrap();
        assert_eq!(stamp.schema, BASELINE_SCHEMA);
        assert_eq!(stamp.name, "main");
        assert!(!stamp.machine_fingerprint.is_empty());
        std::fs::write(&path, "garbage").unwrap();
        let err = Baseline::save(&dir, "main", Vec::new(), &|_| true).unwrap_err();
        assert!(err.is_unreadable(), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
