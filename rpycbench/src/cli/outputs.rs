//! Output locations checked before anything runs: a results file that cannot be
//! written must fail the command at once, not after minutes of measuring.

use super::external::SetupError;
use std::path::Path;

/// Checks that `dir` is a directory this process can create files in, creating it
/// (and its parents) if needed. `flag` names the option in the error.
pub(crate) fn check_dir(flag: &str, dir: &Path) -> Result<(), SetupError> {
    if dir.exists() && !dir.is_dir() {
        return Err(SetupError::Usage(format!(
            "{flag} {} is an existing file; it must be a directory (it will hold results.json, summary.md, report.html)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| SetupError::Usage(format!("{flag}: cannot create {}: {e}", dir.display())))?;
    probe(dir).map_err(|e| SetupError::Usage(format!("{flag}: cannot write in {}: {e}", dir.display())))
}

/// Checks that the file `path` can be written the way results are (a temporary file in
/// its directory renamed over it): its directory must exist or be creatable, and be
/// writable; `path` must not be a directory.
pub(crate) fn check_file(flag: &str, path: &Path) -> Result<(), SetupError> {
    if path.is_dir() {
        return Err(SetupError::Usage(format!("{flag} {} is a directory; it must be a file", path.display())));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| SetupError::Usage(format!("{flag} {}: cannot create {}: {e}", path.display(), dir.display())))?;
    probe(dir)
        .map_err(|e| SetupError::Usage(format!("{flag} {}: cannot write in {}: {e}", path.display(), dir.display())))
}

/// Creates and removes a file in `dir`: permission bits alone do not tell (root, ACLs,
/// a read-only mount, a full disk of inodes).
fn probe(dir: &Path) -> std::io::Result<()> {
    let file = dir.join(format!(".rpycbench-write-check.{}.tmp", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&file)?;
    std::fs::remove_file(&file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_where_a_directory_goes_is_refused() {
        let file = std::env::temp_dir().join(format!("rpycbench-outputs-test-{}", std::process::id()));
        std::fs::write(&file, "").expect("write a file");
        let dir_err = check_dir("--out", &file).expect_err("a file is no directory").to_string();
        let below = check_file("--json", &file.join("x.json")).expect_err("no directory below a file").to_string();
        let _ = std::fs::remove_file(&file);
        assert!(dir_err.contains("is an existing file"), "{dir_err}");
        assert!(below.contains("cannot create"), "{below}");
        let tmp = std::env::temp_dir();
        assert!(check_file("--json", &tmp).expect_err("a directory").to_string().contains("is a directory"));
        check_dir("--out", &tmp).expect("the temporary directory is writable");
    }
}
