//! A remote server's companion: a small process of the deployed binary, started over
//! the same session beside the server, that answers two questions during a run.
//!
//! - *What do the server's processes use?* Each request line on its stdin is answered
//!   with the `/proc/PID/stat` lines of every process in the server's session (the
//!   server leads it, forked children included), framed by `sample CLK_TCK PAGE_SIZE`
//!   and `end`. The local sampler reads them as it reads its own /proc (see
//!   `metrics::system`), so the figures and the diagnosis are the same as for a local
//!   server.
//! - *What does the network cost?* It listens, reached the same way as the server (the
//!   same tunnel or the same bind address), and echoes whatever arrives: a raw TCP
//!   ping-pong across the same path as the benchmark's requests.
//!
//! It ends when its stdin does (the session ended, or [`RemoteProbe::close`]).

use super::server::{Launch, RemoteServer};
use super::{RemoteError, RemoteSession};
use crate::server::Served;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `serve --mode` name of the companion.
pub(crate) const COMPANION_MODE: &str = "companion";

/// How long one sample may take to come back before the companion is given up on.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(3);

/// The local end of a remote server's companion (see the module documentation).
pub struct RemoteProbe {
    companion: Mutex<Option<RemoteServer>>,
    echo: SocketAddr,
    server_pid: u32,
    /// Set once a sample did not come back: later ones are not waited for.
    lost: AtomicBool,
}

impl std::fmt::Debug for RemoteProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProbe").field("echo", &self.echo).field("server_pid", &self.server_pid).finish()
    }
}

/// One answer of the companion: the `stat` lines of the server's processes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSample {
    /// The remote's clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    pub clk_tck: u64,
    /// The remote's page size, bytes.
    pub page_size: u64,
    /// `/proc/PID/stat` of every process of the server's session, one per line.
    pub stats: Vec<String>,
}

impl RemoteProbe {
    /// Starts the companion of the server whose process (and session) is `server_pid`.
    pub(crate) fn start(
        session: Arc<RemoteSession>,
        binary: Option<&Path>,
        server_pid: u32,
        deployed: Option<super::Deployment>,
    ) -> Result<RemoteProbe, RemoteError> {
        let launch = Launch {
            name: COMPANION_MODE,
            served: Served { name: COMPANION_MODE, backend: "rust", compression: None, payload: None },
            args: vec!["--mode".into(), COMPANION_MODE.into(), "--session".into(), server_pid.to_string()],
            exit_with_stdin: false,
            timeout: Duration::from_secs(20),
            deployed,
        };
        let companion = RemoteServer::launch(session, binary, 0, launch)?;
        let echo = companion.addr();
        Ok(RemoteProbe { companion: Mutex::new(Some(companion)), echo, server_pid, lost: AtomicBool::new(false) })
    }

    /// Where the echo is reached from here: over the same path as the server.
    pub fn echo_addr(&self) -> SocketAddr {
        self.echo
    }

    /// The server's process id there (its session's).
    pub fn server_pid(&self) -> u32 {
        self.server_pid
    }

    /// Asks for one sample; `None` once the companion is closed, gone, or did not
    /// answer within 3 s (then it is not asked again: a lost network must not hold
    /// up every sample of a run).
    pub fn sample(&self) -> Option<RemoteSample> {
        if self.lost.load(Ordering::Relaxed) {
            return None;
        }
        let mut guard = self.companion.lock().ok()?;
        let companion = guard.as_mut()?;
        let answer = companion.ask("sample", SAMPLE_TIMEOUT, |l| l == "end");
        let parsed = answer.as_deref().and_then(parse_answer);
        if parsed.is_none() {
            self.lost.store(true, Ordering::Relaxed);
        }
        parsed
    }

    /// Stops the companion (also done when the server stops); later samples are `None`.
    pub fn close(&self) {
        let taken = self.companion.lock().ok().and_then(|mut c| c.take());
        drop(taken);
    }
}

/// `sample CLK PAGE`, stat lines, `end`.
fn parse_answer(lines: &[String]) -> Option<RemoteSample> {
    let (head, rest) = lines.split_first()?;
    let (stats, end) = rest.split_at(rest.len().checked_sub(1)?);
    if end != ["end"] {
        return None;
    }
    let mut words = head.strip_prefix("sample ")?.split_whitespace();
    let clk_tck = words.next()?.parse().ok()?;
    let page_size = words.next()?.parse().ok()?;
    Some(RemoteSample { clk_tck, page_size, stats: stats.to_vec() })
}

/// The companion itself, on the remote: binds `host:port`, says `listening on`,
/// echoes what its connections send, and answers sample requests on stdin until EOF.
pub(crate) fn serve_companion(host: &str, port: u16, session: u32) -> Result<(), String> {
    let listener = TcpListener::bind((host, port)).map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("rpycbench-echo".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = std::thread::Builder::new().name("rpycbench-echo-conn".into()).spawn(move || echo(conn));
            }
        })
        .map_err(|e| format!("cannot start the echo thread: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {local}").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    // SAFETY: sysconf has no preconditions.
    let (clk, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let mut content = String::with_capacity(512);
    for request in std::io::stdin().lock().lines() {
        if request.is_err() {
            break;
        }
        let mut answer = format!("sample {clk} {page}\n");
        for pid in pids() {
            content.clear();
            let read =
                std::fs::File::open(format!("/proc/{pid}/stat")).and_then(|mut f| f.read_to_string(&mut content));
            if read.is_ok() && stat_session(&content) == Some(session) {
                answer.push_str(content.trim_end());
                answer.push('\n');
            }
        }
        answer.push_str("end\n");
        if out.write_all(answer.as_bytes()).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    Ok(())
}

fn echo(mut conn: std::net::TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    pids
}

/// Field 6 of a `stat` line (after the parenthesised name, which may hold spaces).
fn stat_session(stat: &str) -> Option<u32> {
    stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_sessions_are_field_six() {
        let lines: Vec<String> =
            ["sample 100 4096", "7 (a b) S 1 7 7 0", "end"].iter().map(|s| s.to_string()).collect();
        let sample = parse_answer(&lines).expect("parses");
        assert_eq!((sample.clk_tck, sample.page_size, sample.stats.len()), (100, 4096, 1));
        assert_eq!(parse_answer(&lines[..2]), None, "no end");
        assert_eq!(stat_session("7 (x) S) S 1 7 9 0 -1"), Some(9));
    }
}
