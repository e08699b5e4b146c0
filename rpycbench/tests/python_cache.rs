//! The Python server's files run from a private directory: modules planted where the
//! old versions wrote them (a predictable name in $TMPDIR) or in the new cache
//! directory are never imported, and a cache directory others could write to is
//! refused. Each case runs a real `rpycbench serve --mode python-threaded` with its own
//! TMPDIR, HOME and XDG_CACHE_HOME, and a real client call through it.

mod common;
use common::{python, KillOnDrop};

use rpycbench::client::Connection;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rpycbench");
const SERVICE_PY: &str = include_str!("../python/rpycbench_service.py");
const LAUNCHER_PY: &str = include_str!("../python/rpycbench_server.py");

/// The content hash naming the files' directory (FNV-1a over both files, as the
/// server module computes it).
fn hash() -> u64 {
    SERVICE_PY
        .bytes()
        .chain(LAUNCHER_PY.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A fresh scratch tree: `tmp/`, `home/`, `cache/`, and where planted code leaves marks.
struct Scratch {
    root: PathBuf,
    /// Neither HOME nor XDG_CACHE_HOME set.
    homeless: bool,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("rpycbench-pycache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for sub in ["tmp", "home", "cache"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        Scratch { root, homeless: false }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.root.join(sub)
    }

    fn marker(&self) -> PathBuf {
        self.root.join("PLANTED-CODE-RAN")
    }

    /// Puts modules the launcher or its service would import first (`rpyc`, and the
    /// standard library's `argparse`) in `dir`; each leaves the marker and exits.
    fn plant(&self, dir: &Path) {
        let code =
            format!("open({:?}, 'a').write(__name__ + '\\n')\nraise SystemExit(97)\n", self.marker().to_str().unwrap());
        for module in ["rpyc.py", "argparse.py"] {
            std::fs::write(dir.join(module), &code).unwrap();
        }
    }

    /// `rpycbench serve --mode python-threaded` in this scratch environment.
    fn serve(&self) -> std::process::Child {
        let mut cmd = Command::new(BIN);
        cmd.env("TMPDIR", self.path("tmp"));
        if self.homeless {
            cmd.env_remove("HOME").env_remove("XDG_CACHE_HOME");
        } else {
            cmd.env("HOME", self.path("home")).env("XDG_CACHE_HOME", self.path("cache"));
        }
        cmd.args(["serve", "--mode", "python-threaded", "--port", "0", "--python"])
            .arg(python())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpycbench serve")
    }

    /// Starts the server, which must come up and answer a real call; no planted code
    /// may have run.
    fn serve_and_call(&self) {
        let mut server = KillOnDrop(self.serve());
        let stdout = server.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(addr) = first.trim().strip_prefix("listening on ") else {
            let _ = server.0.kill();
            let mut stderr = String::new();
            let _ = server.0.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("the Python server did not start (first line {first:?}); stderr:\n{stderr}\n{}", self.marks());
        };
        let mut conn = Connection::connect(addr).expect("connect to the Python server");
        let pong = conn.call("ping", ()).expect("ping the Python server");
        assert_eq!(pong.extract::<String>().unwrap(), "pong");
        drop(conn);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.0.id() as i32), nix::sys::signal::Signal::SIGTERM)
            .unwrap();
        common::exit_within(&mut server.0, Duration::from_secs(30), "the Python server, after SIGTERM,");
        assert!(!self.marker().exists(), "planted code ran inside the server: {}", self.marks());
    }

    fn marks(&self) -> String {
        std::fs::read_to_string(self.marker()).map(|m| format!("planted modules imported: {m}")).unwrap_or_default()
    }

    /// The directory the files run from now.
    fn files_dir(&self) -> PathBuf {
        self.path("cache").join("rpycbench").join(format!("python-{:016x}", hash()))
    }

    /// Runs `serve`, which must fail without running planted code; returns its stderr.
    fn serve_refused(&self) -> String {
        let mut child = KillOnDrop(self.serve());
        let status = common::exit_within(&mut child.0, Duration::from_secs(30), "a refused serve");
        let mut stderr = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut stderr);
        assert!(!status.success(), "serve started from an unsafe cache directory; stderr:\n{stderr}");
        assert!(!self.marker().exists(), "planted code ran: {}", self.marks());
        stderr
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn modules_planted_in_the_old_predictable_directory_are_never_imported() {
    let s = Scratch::new("old");
    // What a version before this one used: $TMPDIR/rpycbench-python-<hash>, reused as
    // found when it held our two files.
    let old = s.path("tmp").join(format!("rpycbench-python-{:016x}", hash()));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(old.join("rpycbench_service.py"), SERVICE_PY).unwrap();
    std::fs::write(old.join("rpycbench_server.py"), LAUNCHER_PY).unwrap();
    s.plant(&old);
    s.serve_and_call();
}

#[test]
fn modules_planted_in_the_cache_directory_are_removed_before_the_server_runs() {
    let s = Scratch::new("new");
    let dir = s.files_dir();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).unwrap();
    std::fs::write(dir.join("rpycbench_service.py"), SERVICE_PY).unwrap();
    std::fs::write(dir.join("rpycbench_server.py"), LAUNCHER_PY).unwrap();
    s.plant(&dir);
    // A bytecode cache Python would load in place of the source.
    std::fs::create_dir_all(dir.join("__pycache__")).unwrap();
    s.serve_and_call();
    let mut left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["rpycbench_server.py", "rpycbench_service.py"], "the directory holds only our files");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the files' directory is private");
}

#[test]
fn an_edited_embedded_file_is_rewritten() {
    let s = Scratch::new("edited");
    let dir = s.files_dir();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).unwrap();
    let evil = format!("open({:?}, 'a').write('service\\n')\nraise SystemExit(97)\n", s.marker().to_str().unwrap());
    std::fs::write(dir.join("rpycbench_service.py"), evil).unwrap();
    std::fs::write(dir.join("rpycbench_server.py"), LAUNCHER_PY).unwrap();
    s.serve_and_call();
    assert_eq!(std::fs::read_to_string(dir.join("rpycbench_service.py")).unwrap(), SERVICE_PY);
}

#[test]
fn a_cache_root_others_can_write_to_is_refused() {
    let s = Scratch::new("shared");
    let root = s.path("cache").join("rpycbench");
    std::fs::create_dir_all(root.join(format!("python-{:016x}", hash()))).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    s.plant(&root.join(format!("python-{:016x}", hash())));
    let stderr = s.serve_refused();
    assert!(stderr.contains("group or world writable") && stderr.contains(root.to_str().unwrap()), "{stderr}");
}

#[test]
fn a_symlinked_cache_root_is_refused() {
    let s = Scratch::new("symlink");
    let elsewhere = s.path("tmp").join("elsewhere");
    std::fs::DirBuilder::new().mode(0o700).create(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.path("cache").join("rpycbench")).unwrap();
    let stderr = s.serve_refused();
    assert!(stderr.contains("symbolic link"), "{stderr}");
}

#[test]
fn a_cache_root_of_another_user_is_refused() {
    if !is_root() {
        // Only root can give a directory away; the mode and symlink cases still run.
        eprintln!("not root: cannot make a directory of another user; the ownership case is not exercised");
        return;
    }
    let s = Scratch::new("owner");
    let root = s.path("cache").join("rpycbench");
    std::fs::DirBuilder::new().mode(0o700).create(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(65534), None).unwrap();
    let stderr = s.serve_refused();
    assert!(stderr.contains("owned by another user"), "{stderr}");
}

#[test]
fn without_a_cache_directory_the_files_run_from_a_fresh_private_temporary_one() {
    let mut s = Scratch::new("homeless");
    s.homeless = true;
    // Where the old versions looked, with planted modules: never used.
    let old = s.path("tmp").join(format!("rpycbench-python-{:016x}", hash()));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("rpycbench_service.py"), SERVICE_PY).unwrap();
    std::fs::write(old.join("rpycbench_server.py"), LAUNCHER_PY).unwrap();
    s.plant(&old);
    s.serve_and_call();
    let fresh: Vec<PathBuf> = std::fs::read_dir(s.path("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &old && p.file_name().unwrap().to_str().unwrap().starts_with("rpycbench-python-"))
        .collect();
    assert_eq!(fresh.len(), 1, "one fresh directory: {fresh:?}");
    let mode = std::fs::metadata(&fresh[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is private", fresh[0].display());
}
