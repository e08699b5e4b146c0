//! A real sshd on 127.0.0.1 for the remote-server tests: its own host key, an
//! authorized key made for the test, a free port outside the ephemeral range, and a
//! home directory of its own (sshd's `SetEnv HOME`), so the binary cache starts empty
//! and is removed with the test. `Sshd::start` returns `None` (saying why) when
//! Debian's openssh-server is not installed.
//!
//! Needs only its parent's `ports` module, so both packages' tests include it: the
//! rpycbench package's as `common::sshd`, the root package's as `support::sshd`.

use super::ports::port_outside_ephemeral_range;
use rpycbench::server::remote::RemoteSpec;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test's directory, removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The live processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<u32> {
    let Ok(proc_dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    proc_dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

pub const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd for one test; killed, and its directory removed, on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: Dir,
}

impl Sshd {
    /// Starts one, or `None` (with the reason printed) when sshd is not installed.
    pub fn start(name: &str) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            eprintln!(
                "skipped: {SSHD} is not installed (apt-get install -y openssh-server; scripts/test does it as root)"
            );
            return None;
        }
        let dir = Dir(std::env::temp_dir().join(format!("rpycbench-ssh-test-{}-{name}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        std::fs::create_dir_all(&dir.0).expect("create the test's directory");
        let d = &dir.0;
        for key in ["host", "client"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).expect("authorize the client key");
        std::fs::create_dir_all(d.join("home")).expect("make the remote home");
        let config = format!(
            "HostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
             PermitRootLogin prohibit-password\nListenAddress 127.0.0.1\nPidFile {d}/pid\n\
             UsePAM no\nSetEnv HOME={d}/home\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("write sshd_config");
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = port_outside_ephemeral_range();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .args(["-p", &port.to_string(), "-E"])
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        let sshd = Sshd { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen within 10 s: {}", sshd.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sshd)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// What the library needs to reach it.
    pub fn spec(&self) -> RemoteSpec {
        let mut spec = RemoteSpec::new("root@127.0.0.1");
        spec.port = Some(self.port);
        spec.identity = Some(self.path("client"));
        spec.ssh_args = self.ssh_options().into_iter().flat_map(|o| ["-o".to_owned(), o]).collect();
        spec
    }

    pub fn ssh_options(&self) -> Vec<String> {
        vec![format!("UserKnownHostsFile={}", self.path("known").display()), "StrictHostKeyChecking=accept-new".into()]
    }

    /// The command line's flags that reach it: `--remote root@127.0.0.1 --remote-port
    /// … --remote-identity … --remote-ssh-option …`.
    pub fn remote_flags(&self) -> Vec<String> {
        let mut flags =
            vec!["--remote".to_owned(), "root@127.0.0.1".into(), "--remote-port".into(), self.port.to_string()];
        flags.extend(["--remote-identity".to_owned(), self.path("client").display().to_string()]);
        for option in self.ssh_options() {
            flags.extend(["--remote-ssh-option".to_owned(), option]);
        }
        flags
    }

    /// The same options for a harness, as `RPYCBENCH_REMOTE_SSH_OPTIONS` takes them.
    pub fn ssh_options_env(&self) -> String {
        let mut options =
            vec![format!("Port={}", self.port), format!("IdentityFile={}", self.path("client").display())];
        options.extend(self.ssh_options());
        options.join(" ")
    }

    /// The processes running a binary from the cache in its home (servers, companions).
    pub fn cached_binaries_running(&self) -> Vec<u32> {
        let cache = self.path("home/.cache/rpycbench");
        live_pids(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.starts_with(&cache)))
    }
}

/// The processes running now (zombies left out) for which `matches` holds.
pub fn live_pids(matches: impl Fn(u32) -> bool) -> Vec<u32> {
    let Ok(proc_dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    proc_dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')));
            !zombie && matches(pid)
        })
        .collect()
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that failed may have left a server (or a local `serve --remote`) of
        // its own: only processes naming this test's directory, so no one else's. An
        // sshd session process would otherwise hold the test's output open.
        for pid in processes_naming(&self.dir.0.display().to_string()) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
        }
    }
}
