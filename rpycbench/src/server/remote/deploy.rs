//! Putting a binary that runs native servers on the remote: this one, copied once and
//! cached there by content hash, when the remote's OS and architecture match; else the
//! remote's own `rpycbench` on its PATH when the user allows it; else a clear error.

use super::{shell_quote, RemoteError, RemoteSession};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// Test hook: the platform this binary claims to be built for, as `OS ARCH` (e.g.
/// `linux riscv64`), so a test can fake a remote of another architecture.
#[doc(hidden)]
pub const EXPECT_PLATFORM_ENV: &str = "RPYCBENCH_REMOTE_EXPECT_PLATFORM";

/// An operating system and architecture, named as Rust names them (`linux x86_64`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `macos`, `freebsd`, … (`std::env::consts::OS`).
    pub os: String,
    /// `x86_64`, `aarch64`, … (`std::env::consts::ARCH`).
    pub arch: String,
}

impl Platform {
    /// What this binary is built for (or what `RPYCBENCH_REMOTE_EXPECT_PLATFORM` says, a test hook).
    pub fn local() -> Platform {
        if let Some((os, arch)) = std::env::var(EXPECT_PLATFORM_ENV).ok().as_deref().and_then(|s| s.split_once(' ')) {
            return Platform { os: os.into(), arch: arch.into() };
        }
        Platform { os: std::env::consts::OS.into(), arch: std::env::consts::ARCH.into() }
    }

    /// Reads `uname -sm` output (`Linux x86_64`, `Darwin arm64`), in Rust's names.
    pub fn from_uname(line: &str) -> Option<Platform> {
        let mut words = line.split_whitespace();
        let (os, arch) = (words.next()?, words.next()?);
        let os = match os {
            "Linux" => "linux",
            "Darwin" => "macos",
            "FreeBSD" => "freebsd",
            "OpenBSD" => "openbsd",
            "NetBSD" => "netbsd",
            other => return Some(Platform { os: other.to_lowercase(), arch: arch.into() }),
        };
        let arch = match arch {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "i386" | "i486" | "i586" | "i686" => "x86",
            other => other,
        };
        Some(Platform { os: os.into(), arch: arch.into() })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.os, self.arch)
    }
}

/// Where the binary on the remote came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The path to run there (in the remote shell's syntax, `$HOME` unexpanded).
    pub path: String,
    /// It was copied by this deployment (false: already there, or the PATH's).
    pub copied: bool,
    /// It is the remote's own `rpycbench` from its PATH, not a copy of ours.
    pub from_path: bool,
    /// The remote's platform.
    pub platform: Platform,
}

/// How long copying the binary may take: a debug build is some hundred MB.
const COPY_TIMEOUT: Duration = Duration::from_secs(600);

/// Makes `binary` runnable on the remote (see the module's documentation).
pub(crate) fn deploy(session: &RemoteSession, binary: &Path) -> Result<Deployment, RemoteError> {
    let hash = file_sha256(binary)?;
    let dir = format!("\"$HOME\"/.cache/rpycbench/{hash}");
    let path = format!("{dir}/rpycbench");
    // One round trip: the platform, whether the copy is there, and the PATH's binary.
    let probe =
        format!("uname -sm; if test -x {path}; then echo cached; else echo absent; fi; command -v rpycbench || true");
    let out = session.run(&probe, None, Duration::from_secs(30))?;
    let mut lines = out.stdout.lines();
    let destination = session.spec().destination.clone();
    let uname = lines.next().unwrap_or_default();
    let remote = Platform::from_uname(uname).ok_or_else(|| RemoteError::Command {
        destination: destination.clone(),
        command: "uname -sm".into(),
        status: "unexpected output".into(),
        stderr: format!("{uname:?}"),
    })?;
    let cached = lines.next() == Some("cached");
    let on_path = lines.next().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
    let local = Platform::local();
    if remote != local {
        return match (session.spec().use_path, on_path) {
            (true, Some(p)) => {
                Ok(Deployment { path: shell_quote(&p), copied: false, from_path: true, platform: remote })
            }
            (true, None) => Err(RemoteError::NoBinary { destination, remote, local }),
            (false, _) => Err(RemoteError::PlatformMismatch { destination, remote, local }),
        };
    }
    if cached {
        return Ok(Deployment { path, copied: false, from_path: false, platform: remote });
    }
    let file = std::fs::File::open(binary)
        .map_err(|source| RemoteError::LocalBinary { path: binary.to_path_buf(), source })?;
    // Written under a name of its own, then renamed: a run that is cut short never
    // leaves a partial file at the path that says "cached", and two at once do not clash.
    let copy = format!("mkdir -p {dir} && t={path}.tmp.$$ && cat > \"$t\" && chmod 755 \"$t\" && mv -f \"$t\" {path}");
    session.run(&copy, Some(Box::new(file)), COPY_TIMEOUT)?;
    Ok(Deployment { path, copied: true, from_path: false, platform: remote })
}

/// The SHA-256 of a file, in hex. Remembered for the file's path, size and modification
/// time: a suite starts several servers from one binary, and a debug build takes a good
/// part of a second to hash.
fn file_sha256(path: &Path) -> Result<String, RemoteError> {
    type Key = (std::path::PathBuf, u64, Option<std::time::SystemTime>);
    static KNOWN: std::sync::Mutex<Vec<(Key, String)>> = std::sync::Mutex::new(Vec::new());
    let read = |source| RemoteError::LocalBinary { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(read)?;
    let key: Key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some((_, hash)) = KNOWN.lock().ok().and_then(|k| k.iter().find(|(k, _)| *k == key).cloned()) {
        return Ok(hash);
    }
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(read)?;
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if let Ok(mut known) = KNOWN.lock() {
        known.push((key, hash.clone()));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn uname_names_become_rusts() {
        let p = |os: &str, arch: &str| Some(Platform { os: os.into(), arch: arch.into() });
        assert_eq!(Platform::from_uname("Linux x86_64\n"), p("linux", "x86_64"));
        assert_eq!(Platform::from_uname("Darwin arm64"), p("macos", "aarch64"));
        assert_eq!(Platform::from_uname("FreeBSD amd64"), p("freebsd", "x86_64"));
        assert_eq!(Platform::from_uname("Linux"), None);
    }
}
