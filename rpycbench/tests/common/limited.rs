//! `rpycbench serve` and `rpycbench proxy` run as child processes under limits the test
//! sets (open files at start, address space while running), with their stderr kept for
//! the test to read. For `tests/server_idle.rs`; included with `#[path]`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long a process may take to print its readiness line.
const READY: Duration = Duration::from_secs(30);

/// A running `rpycbench` subcommand; killed, reaped and its stderr file removed on drop.
pub struct Proc {
    child: Child,
    pub addr: SocketAddr,
    stderr: PathBuf,
}

impl Proc {
    /// Runs `rpycbench ARGS` (a command printing `listening on ADDR`), with the soft and
    /// hard open-files limit set to `nofile` before it starts when given.
    pub fn start(args: &[&str], nofile: Option<u64>) -> Proc {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let stderr = std::env::temp_dir().join(format!(
            "rpycbench-server-idle-{}-{}.stderr",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&stderr).expect("creating the stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpycbench"));
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(file);
        if let Some(n) = nofile {
            // SAFETY: setrlimit(2) is async-signal-safe, and the closure touches nothing
            // but its own copy of `n`.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit { rlim_cur: n, rlim_max: n };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("starting rpycbench");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut proc = Proc { child, addr: "0.0.0.0:0".parse().unwrap(), stderr };
        let line = rx.recv_timeout(READY).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            panic!("rpycbench {args:?} is not ready: {line:?}; stderr: {}", proc.stderr_text());
        };
        proc.addr = addr.parse().expect("a socket address on the readiness line");
        proc
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sets the soft address-space limit (`RLIMIT_AS`) of the running process, in
    /// bytes (`None`: unlimited); the hard limit stays.
    pub fn limit_address_space(&self, bytes: Option<u64>) {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let pid = self.pid() as libc::pid_t;
        // SAFETY: prlimit(2) with a valid pointer to read the current limits into.
        assert_eq!(unsafe { libc::prlimit(pid, libc::RLIMIT_AS, std::ptr::null(), &mut lim) }, 0);
        lim.rlim_cur = bytes.unwrap_or(libc::RLIM_INFINITY).min(lim.rlim_max);
        // SAFETY: prlimit(2) with a valid pointer to the new limits.
        let set = unsafe { libc::prlimit(pid, libc::RLIMIT_AS, &lim, std::ptr::null_mut()) };
        assert_eq!(set, 0, "prlimit(RLIMIT_AS): {}", std::io::Error::last_os_error());
    }

    /// Threads of the process now.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid())).map(|d| d.count()).unwrap_or(0)
    }

    /// The children of the process now (live or zombie).
    pub fn children(&self) -> usize {
        let me = self.pid();
        crate::common::all_procs().iter().filter(|p| p.ppid == me).count()
    }

    /// CPU time the process has used, user and system, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let Some(close) = stat.rfind(')') else { return 0 };
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        num(11) + num(12)
    }

    /// The process's virtual memory size in bytes.
    pub fn vm_size(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmSize in /proc/PID/status")
            * 1024
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}
