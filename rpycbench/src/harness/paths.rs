//! Where a benchmark binary's files go: its package root (Python services, baselines)
//! and its target directory (results).

use std::path::{Path, PathBuf};

/// What `rpycbench::main!()` knows about the binary at compile time, used when the
/// environment cargo sets at run time is missing (the binary run by hand).
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryInfo {
    /// `CARGO_MANIFEST_DIR` of the crate that declared the benchmarks.
    pub manifest_dir: Option<&'static str>,
    /// `CARGO_PKG_NAME`.
    pub package: Option<&'static str>,
    /// `CARGO_CRATE_NAME` of the benchmark target (e.g. `rpyc_benches`).
    pub crate_name: Option<&'static str>,
}

/// The resolved locations of one benchmark binary.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The package root: Python import paths and the default baseline directory are
    /// relative to it.
    pub manifest_dir: PathBuf,
    /// The package's name.
    pub package: String,
    /// The benchmark target's name, e.g. `rpyc_benches`.
    pub binary: String,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
}

impl Paths {
    /// Resolves the locations. The package root comes from cargo's run-time
    /// environment first (cargo and nextest set `CARGO_MANIFEST_DIR` for test binaries,
    /// also when the tree moved since the build), then from what the binary was compiled
    /// with, then the current directory. Names come from the compilation first.
    pub fn resolve(info: BinaryInfo) -> Paths {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let exe = std::env::current_exe().ok();
        let manifest_dir = env("CARGO_MANIFEST_DIR")
            .or_else(|| info.manifest_dir.map(str::to_owned))
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        // The name the binary was compiled with cannot be wrong; the environment may be
        // another package's (a binary run by another crate's test).
        let package =
            info.package.map(str::to_owned).or_else(|| env("CARGO_PKG_NAME")).unwrap_or_else(|| "bench".into());
        let binary = info
            .crate_name
            .map(str::to_owned)
            .or_else(|| exe.as_deref().and_then(binary_name))
            .unwrap_or_else(|| "benches".into());
        let target_dir = env("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| exe.as_deref().and_then(target_dir_of))
            .unwrap_or_else(|| manifest_dir.join("target"));
        Paths { manifest_dir, package, binary, target_dir }
    }

    /// This binary's results file: `target/rpycbench/<package>/<binary>.json`, so two
    /// binaries (or two packages' binaries of the same name) never share a file.
    pub fn results_file(&self) -> PathBuf {
        self.target_dir.join("rpycbench").join(&self.package).join(format!("{}.json", self.binary))
    }
}

/// `rpyc_benches` from `…/deps/rpyc_benches-0123abcd`.
fn binary_name(exe: &Path) -> Option<String> {
    let stem = exe.file_stem()?.to_str()?;
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => stem,
    };
    Some(name.to_owned())
}

/// The target directory holding `exe`: the nearest ancestor named `target`, else the
/// parent of the profile directory (`<target>/<profile>/deps/<exe>`).
fn target_dir_of(exe: &Path) -> Option<PathBuf> {
    if let Some(t) = exe.ancestors().skip(1).find(|a| a.file_name().is_some_and(|n| n == "target")) {
        return Some(t.to_path_buf());
    }
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        return dir.parent()?.parent().map(Path::to_path_buf);
    }
    dir.parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names_lose_their_hash() {
        assert_eq!(binary_name(Path::new("/t/debug/deps/rpyc_benches-0123456789abcdef")).unwrap(), "rpyc_benches");
        assert_eq!(binary_name(Path::new("/t/debug/my-bench")).unwrap(), "my-bench");
    }

    #[test]
    fn the_target_dir_is_found_from_the_binary() {
        let t = target_dir_of(Path::new("/w/target/debug/deps/x-0123456789abcdef")).unwrap();
        assert_eq!(t, Path::new("/w/target"));
        let t = target_dir_of(Path::new("/tmp/ct/release/deps/x-0123456789abcdef")).unwrap();
        assert_eq!(t, Path::new("/tmp/ct"));
    }
}
