//! The native accept loops: a thread per connection, or a forked process per
//! connection. Both run inside a dedicated server process (`rpycbench serve`).

use super::service::{Service, ServiceRoot};
use super::slots::Slots;
use crate::client::{Config, Connection};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::collections::HashSet;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes one service instance per connection, as Python's servers do when given a class.
pub type ServiceFactory = Arc<dyn Fn() -> Arc<dyn Service> + Send + Sync>;

/// How a native server treats its connections.
#[derive(Clone)]
pub struct ServeOptions {
    /// The service each connection gets.
    pub service: ServiceFactory,
    /// The connections' configuration (limits, timeouts for callbacks, and
    /// [`Config::silence`]: how long a client may stay silent mid-frame or between
    /// requests).
    pub config: Config,
    /// Connections served at once; further ones are accepted and closed at once, so a
    /// benchmark can study a server at its limit. `None` is unlimited.
    /// [`ServeOptions::builtin`] sets [`default_max_connections`](super::default_max_connections).
    pub max_connections: Option<usize>,
}

/// How often the accept loop looks at the stop flag. A connection wakes it at once.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How long a stopping threaded server waits for its connections to end.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Waits until a connection is ready to accept, or the poll interval passes.
fn readable(listener: &TcpListener) -> io::Result<bool> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(STOP_POLL.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    match poll(&mut fds, timeout) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Accepts one connection if one is pending.
pub(crate) fn accept(listener: &TcpListener) -> io::Result<Option<TcpStream>> {
    if !readable(listener)? {
        return Ok(None);
    }
    match listener.accept() {
        Ok((stream, _)) => {
            // Accepted sockets must block; the listener itself does not.
            stream.set_nonblocking(false)?;
            Ok(Some(stream))
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) => {
            // Out of descriptors: back off instead of spinning; the backlog waits.
            log_line(format_args!("accept failed ({e}); retrying"));
            std::thread::sleep(Duration::from_millis(50));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn serve_connection(stream: TcpStream, opts: &ServeOptions) {
    // A panicking service (or a bug here) must end only its own connection, with a
    // line that says so; out of a forked child, unwinding would run the server's own
    // main in the child.
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve_one(stream, opts)));
    if served.is_err() {
        log_line(format_args!("a connection's handler panicked; that connection is closed"));
    }
}

fn serve_one(stream: TcpStream, opts: &ServeOptions) {
    // A client that stops reading our reply holds this thread in `write` as a client
    // that stops mid-frame holds it in `read`: the same limit ends both.
    if let Err(e) = stream.set_write_timeout(opts.config.silence.stall) {
        return log_line(format_args!("cannot set a write timeout: {e}"));
    }
    let mut conn = match Connection::from_stream(stream, opts.config.clone()) {
        Ok(c) => c,
        Err(e) => return log_line(format_args!("{e}")),
    };
    conn.set_service(ServiceRoot::lend((opts.service)()));
    if let Err(e) = conn.serve_until_closed() {
        // A broken or hostile client ends only its own connection.
        log_line(format_args!("connection from {} ended: {e}", conn.peer()));
    }
}

/// Serves with one thread per connection until `stop` is set.
pub fn serve_threaded(listener: TcpListener, opts: ServeOptions, stop: &AtomicBool) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let slots = Slots::new(opts.max_connections);
    while !stop.load(Ordering::Relaxed) {
        let Some(stream) = accept(&listener)? else { continue };
        // Over the cap: accepted and closed at once (dropping the stream).
        let Some(slot) = slots.take() else { continue };
        let opts = opts.clone();
        let spawned = std::thread::Builder::new().name("rpyc-conn".into()).spawn(move || {
            // Moved in, so the slot comes back however the thread ends.
            let _slot = slot;
            serve_connection(stream, &opts);
        });
        if let Err(e) = spawned {
            // The closure, its stream and its slot were dropped: the client sees the
            // connection close, and the cap is whole again.
            log_line(format_args!("cannot start a connection thread: {e}"));
        }
    }
    // Connections whose client has just left get a moment to finish what they read
    // (a profiled server's telemetry then holds their last frames); open ones do not
    // hold the stop up for longer.
    let deadline = Instant::now() + STOP_GRACE;
    while slots.live() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Serves with one forked process per connection until `stop` is set, then stops and
/// reaps every child.
///
/// Must run in a process with a single thread: `fork` copies only the calling thread,
/// so a lock held by another thread would stay locked forever in the child. That is
/// why servers run in their own process, never inside the multi-threaded harness.
pub fn serve_forking(listener: TcpListener, opts: ServeOptions, stop: &AtomicBool) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut children: HashSet<Pid> = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        reap(&mut children, false);
        let Some(stream) = accept(&listener)? else { continue };
        if opts.max_connections.is_some_and(|max| children.len() >= max) {
            drop(stream);
            continue;
        }
        // SAFETY: the forking server process is single-threaded (see above), so the
        // child starts with consistent memory; it only serves and then _exits.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(listener);
                // SAFETY: resetting dispositions and prctl are async-signal-safe, and
                // _exit skips the parent's atexit handlers and buffered output.
                unsafe {
                    libc::signal(libc::SIGTERM, libc::SIG_DFL);
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                    // A child must not outlive its server, even if the server is killed;
                    // SIGKILL, as a stopped child would hold a SIGTERM until continued.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                }
                serve_connection(stream, &opts);
                unsafe { libc::_exit(0) }
            }
            Ok(ForkResult::Parent { child }) => {
                children.insert(child);
            }
            Err(e) => log_line(format_args!("fork failed: {e}")),
        }
    }
    for &child in &children {
        let _ = kill(child, Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while !children.is_empty() && Instant::now() < deadline {
        reap(&mut children, false);
        std::thread::sleep(Duration::from_millis(10));
    }
    for &child in &children {
        let _ = kill(child, Signal::SIGKILL);
    }
    reap(&mut children, true);
    Ok(())
}

/// Collects exited children (all of them when `block` is set).
fn reap(children: &mut HashSet<Pid>, block: bool) {
    let flags = if block { None } else { Some(WaitPidFlag::WNOHANG) };
    while !children.is_empty() {
        match waitpid(None, flags) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    children.remove(&pid);
                }
            }
        }
    }
}

/// Writes `rpycbench server: …` and a newline to stderr in one `write`: a forking
/// server's children share one pipe, and `eprintln!` may write a line in pieces that
/// interleave with a sibling's (seen in a test: "sent  sent nothingnothing").
pub(crate) fn log_line(args: std::fmt::Arguments<'_>) {
    let line = format!("rpycbench server: {args}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}
