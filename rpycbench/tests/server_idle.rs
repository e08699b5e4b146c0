//! Time and connections on the native servers and the profiling relay: a client that
//! stops mid-frame, stops reading, or (when the server asks for it) goes silent loses
//! its connection and nobody else notices; the connection cap survives threads that
//! cannot start and follows the descriptor limit by default; work a client left
//! behind (`io_work`, `cpu_work`) stops with it. Every case runs real `rpycbench serve`
//! or `rpycbench proxy` processes, some under limits the test sets on them.

mod common;
#[path = "common/limited.rs"]
mod limited;

use common::{eventually, minor_faults, rss_bytes};
use limited::Proc;
use rpycbench::client::{Config, Connection};
use rpycbench::wire::{Boxed, Compression, FrameDecoder, FrameEncoder, Handler, Limits, Message, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long any single wait on a server may take before the test fails (never hangs).
const BOUND: Duration = Duration::from_secs(20);

/// A client that is served: connected, and its PING comes back.
fn served(addr: SocketAddr, what: &str) -> Connection {
    let config = Config::default().request_timeout(BOUND).connect_timeout(BOUND);
    let mut c = Connection::connect_with(addr, config).unwrap_or_else(|e| panic!("{what}: connect: {e}"));
    c.ping().unwrap_or_else(|e| panic!("{what}: not served: {e}"));
    c
}

/// [`served`], waiting while the server is at its connection cap: the calls of the
/// clients just gone end within the server's peer check (100 ms), but a loaded machine
/// may run this loop faster than the server's sleeping threads wake, so a cycle may meet
/// a full server for a moment. A server that never frees its connections stays full,
/// and this fails after [`BOUND`].
fn served_within_bound(addr: SocketAddr, what: &str) -> Connection {
    let deadline = Instant::now() + BOUND;
    loop {
        let config = Config::default().request_timeout(BOUND).connect_timeout(BOUND);
        let attempt = Connection::connect_with(addr, config).and_then(|mut c| c.ping().map(|_| c));
        match attempt {
            Ok(c) => return c,
            Err(e) if Instant::now() >= deadline => panic!("{what}: not served within {BOUND:?}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A raw socket, connected.
fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, BOUND).expect("connecting");
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Waits until the server closes `s` (EOF or reset); how long that took.
fn closed_within(s: &mut TcpStream, what: &str) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {} // a CLOSE of the server's own, or an answer: read on
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return start.elapsed()
            }
            Err(e) => panic!("{what}: the server did not close the connection within {BOUND:?}: {e}"),
        }
    }
}

/// A complete PING request frame carrying `text`.
fn ping_frame(seq: i64, text: &str) -> Vec<u8> {
    let args = Boxed::Value(Value::Tuple(vec![Value::from(text)]));
    let mut enc = FrameEncoder::new(Compression::Off);
    Message::Request { seq, handler: i64::from(Handler::Ping.id()), args }.encode(enc.payload()).unwrap();
    enc.finish().unwrap().to_vec()
}

/// Reads the answer to a PING of `text` on a raw socket.
fn ping_answered(s: &mut TcpStream, text: &str, what: &str) {
    let mut decoder = FrameDecoder::new(Limits::DEFAULT);
    loop {
        if let Some(f) = decoder.next_frame().unwrap() {
            match Message::decode(f.payload, &Limits::DEFAULT).unwrap() {
                Message::Reply { value, .. } => {
                    assert_eq!(value, Boxed::Value(Value::from(text)), "{what}");
                    return;
                }
                other => panic!("{what}: expected the PING's reply, got {other:?}"),
            }
        }
        let n = decoder.read_from(s).unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert!(n > 0, "{what}: the server closed the connection instead of answering");
    }
}

fn serve(mode: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["serve", "--mode", mode, "--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    Proc::start(&args, None)
}

// ---------------------------------------------------------------------------------
// Silence limits.

/// A client that sends the start of a frame and then nothing is dropped after the stall
/// limit; a silent client (nothing half-sent) keeps its connection by default, as with
/// Python's `ThreadedServer`; a frame that keeps arriving, byte by byte, is never cut.
fn stalled_frame_is_dropped(mode: &str) {
    let server = serve(mode, &["--stall-timeout", "1s"]);
    let mut silent = raw(server.addr);
    let mut dripping = raw(server.addr);
    let mut stalled = raw(server.addr);
    stalled.write_all(&[0, 0, 1]).unwrap(); // three bytes of a length header
    let took = closed_within(&mut stalled, "the stalled frame");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}, before the 1 s stall limit");
    // One byte every 300 ms: slower than the limit in total, never silent for it.
    let frame = ping_frame(1, "drip");
    for byte in &frame {
        dripping.write_all(std::slice::from_ref(byte)).unwrap();
        std::thread::sleep(Duration::from_millis(300).min(Duration::from_secs(6) / frame.len() as u32));
    }
    ping_answered(&mut dripping, "drip", "the dripping frame");
    // The silent client has been idle for longer than the stall limit by now.
    silent.write_all(&ping_frame(2, "silent")).unwrap();
    ping_answered(&mut silent, "silent", "the silent client");
    let log = server.stderr_text();
    assert!(log.contains("sent part of a frame and then nothing for 1s"), "{log}");
}

#[test]
fn stalled_frame_is_dropped_threaded() {
    stalled_frame_is_dropped("threaded");
}

#[test]
fn stalled_frame_is_dropped_forking() {
    stalled_frame_is_dropped("forking");
}

/// With `--max-connections 2`, two silent clients lock a third out; with
/// `--idle-timeout` their slots come back after it and the third is served.
fn idle_timeout_frees_the_slots_of_silent_clients(mode: &str) {
    let server = serve(mode, &["--max-connections", "2", "--idle-timeout", "2s"]);
    let connected = Instant::now();
    let (mut a, mut b) = (raw(server.addr), raw(server.addr));
    // Let the server take both before the third arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut third = raw(server.addr);
    let refused = closed_within(&mut third, "the client over the cap");
    assert!(refused < Duration::from_secs(1), "the client over the cap waited {refused:?} to be turned away");
    closed_within(&mut a, "a silent client");
    let idle = connected.elapsed();
    assert!(idle >= Duration::from_millis(1900), "a silent client was closed after only {idle:?}");
    closed_within(&mut b, "a silent client");
    assert!(
        eventually(BOUND, || TcpStream::connect(server.addr).is_ok_and(|s| served_on(s).is_some())),
        "no slot came back after the idle limit"
    );
    let log = server.stderr_text();
    assert!(log.contains("sent nothing for 2s"), "{log}");
}

/// Whether a PING on a fresh raw socket is answered (`None`: closed or no answer).
fn served_on(mut s: TcpStream) -> Option<()> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(&ping_frame(1, "free")).ok()?;
    let mut decoder = FrameDecoder::new(Limits::DEFAULT);
    loop {
        if decoder.next_frame().ok()?.is_some() {
            return Some(());
        }
        if decoder.read_from(&mut s).ok()? == 0 {
            return None;
        }
    }
}

#[test]
fn idle_timeout_frees_the_slots_of_silent_clients_threaded() {
    idle_timeout_frees_the_slots_of_silent_clients("threaded");
}

#[test]
fn idle_timeout_frees_the_slots_of_silent_clients_forking() {
    idle_timeout_frees_the_slots_of_silent_clients("forking");
}

/// A client that asks for 32 MiB and never reads holds the server's write; the stall
/// limit ends it, and the thread serving it is gone.
#[test]
fn a_client_that_stops_reading_is_dropped_threaded() {
    let server = serve("threaded", &["--stall-timeout", "1s"]);
    let mut greedy = served(server.addr, "the greedy client");
    let _reply = greedy.call_async("download", (32i64 << 20,)).expect("sending download");
    assert!(eventually(BOUND, || server.threads() == 2), "the connection thread never started");
    assert!(
        eventually(BOUND, || server.threads() == 1),
        "the server still writes to a client that reads nothing: {} threads",
        server.threads()
    );
    served(server.addr, "a client after the greedy one");
    drop(greedy);
}

// ---------------------------------------------------------------------------------
// The connection cap.

/// With the address space limited so that no thread stack fits, 50 connections find no
/// thread to serve them (RLIMIT_NPROC cannot do this: root ignores it). Each failure
/// must give its slot back: once the limit is lifted, `--max-connections 50` still
/// serves 50 clients at once.
#[test]
fn failed_thread_spawns_leave_the_cap_intact() {
    const MAX: usize = 50;
    let server = serve("threaded", &["--max-connections", "50"]);
    // A thread needs a 2 MiB stack; 1 MiB of headroom lets the accept loop's own small
    // allocations through but no stack. No connection has been served yet, so no
    // exited thread's stack is cached for reuse.
    server.limit_address_space(Some(server.vm_size() + (1 << 20)));
    for i in 0..MAX {
        let mut s = raw(server.addr);
        closed_within(&mut s, &format!("connection {i} with no thread to serve it"));
    }
    // The server closes a connection (dropping the failed spawn's closure) before it
    // writes why: the last lines may lag the last close a little.
    let failures = || server.stderr_text().matches("cannot start a connection thread").count();
    assert!(eventually(BOUND, || failures() == MAX), "{} spawns of {MAX} failed: {}", failures(), server.stderr_text());
    server.limit_address_space(None);
    let clients: Vec<Connection> = (0..MAX).map(|i| served(server.addr, &format!("client {i} of {MAX}"))).collect();
    assert_eq!(server.threads(), MAX + 1, "one thread per client and the accept loop");
    drop(clients);
}

/// Without `--max-connections`, a server whose descriptor limit is 48 caps itself at
/// 16 connections (48 less 32 kept free) and turns the 17th away at once, instead of
/// running out of descriptors and leaving new clients waiting in the backlog.
fn default_cap_follows_the_descriptor_limit(mode: &str) {
    let server = Proc::start(&["serve", "--mode", mode, "--port", "0"], Some(48));
    let clients: Vec<Connection> = (0..16).map(|i| served(server.addr, &format!("client {i}"))).collect();
    let mut extra = raw(server.addr);
    let took = closed_within(&mut extra, "the 17th client");
    assert!(took < Duration::from_secs(2), "the 17th client waited {took:?}");
    drop(clients);
    assert!(
        eventually(BOUND, || TcpStream::connect(server.addr).is_ok_and(|s| served_on(s).is_some())),
        "slots did not come back after the clients left"
    );
}

#[test]
fn default_cap_follows_the_descriptor_limit_threaded() {
    default_cap_follows_the_descriptor_limit("threaded");
}

#[test]
fn default_cap_follows_the_descriptor_limit_forking() {
    default_cap_follows_the_descriptor_limit("forking");
}

// ---------------------------------------------------------------------------------
// Work left behind by a client that left.

/// Cycles of "connect, call io_work(86400) asynchronously, disconnect": more than the
/// server has descriptors (128). Each sleeping call must end with its client, so no
/// thread (or forked child) stays behind and a new client is still served.
fn io_work_ends_with_its_client(mode: &str, cycles: usize) {
    let server = Proc::start(&["serve", "--mode", mode, "--port", "0"], Some(128));
    for i in 0..cycles {
        let mut c = served_within_bound(server.addr, &format!("cycle {i}"));
        let _sleeping = c.call_async("io_work", (86400,)).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        drop(c);
    }
    let left = || if mode == "forking" { server.children() } else { server.threads() - 1 };
    assert!(eventually(BOUND, || left() == 0), "{} connections still served after their clients left", left());
    served(server.addr, "a client after the cycles");
}

#[test]
fn io_work_ends_with_its_client_threaded() {
    io_work_ends_with_its_client("threaded", 250);
}

#[test]
fn io_work_ends_with_its_client_forking() {
    io_work_ends_with_its_client("forking", 250);
}

/// `nested(80, callback)` whose client leaves before answering the first callback: the
/// server's call back finds the connection gone and the request ends with it.
fn nested_ends_with_its_client(mode: &str) {
    let server = serve(mode, &[]);
    for i in 0..50 {
        let mut c = served(server.addr, &format!("cycle {i}"));
        let callback = rpycbench::client::Object::callback(|_conn, args| Ok(args.arg::<i64>(0)?.into()));
        let _nesting = c.call_async("nested", (80, callback)).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        drop(c);
    }
    let left = || if mode == "forking" { server.children() } else { server.threads() - 1 };
    assert!(eventually(BOUND, || left() == 0), "{} connections still served after their clients left", left());
}

#[test]
fn nested_ends_with_its_client_threaded() {
    nested_ends_with_its_client("threaded");
}

#[test]
fn nested_ends_with_its_client_forking() {
    nested_ends_with_its_client("forking");
}

/// `cpu_work(10**12)` (hours of SHA-256) stops using the CPU once its client left.
fn cpu_work_ends_with_its_client(mode: &str) {
    let server = serve(mode, &[]);
    let mut c = served(server.addr, "the cpu_work client");
    let before = server_ticks(&server, mode);
    let _computing = c.call_async("cpu_work", (1_000_000_000_000i64,)).expect("sending cpu_work");
    assert!(eventually(BOUND, || server_ticks(&server, mode) > before + 10), "cpu_work never ran");
    drop(c);
    // Quiet: less than 0.05 s of CPU in a whole second (the work takes a full core).
    let quiet = eventually(BOUND, || {
        let start = server_ticks(&server, mode);
        std::thread::sleep(Duration::from_secs(1));
        server_ticks(&server, mode) < start + 5
    });
    assert!(quiet, "the server still computes for a client that left");
}

/// CPU ticks of the server and (forking) its children.
fn server_ticks(server: &Proc, mode: &str) -> u64 {
    if mode == "threaded" {
        return server.cpu_ticks();
    }
    let me = server.pid();
    common::all_procs().iter().filter(|p| p.ppid == me).map(|p| ticks_of(p.pid)).sum()
}

fn ticks_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rfind(')').map(|c| stat[c + 2..].split_whitespace().collect()).unwrap_or_default();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    num(11) + num(12)
}

#[test]
fn cpu_work_ends_with_its_client_threaded() {
    cpu_work_ends_with_its_client("threaded");
}

#[test]
fn cpu_work_ends_with_its_client_forking() {
    cpu_work_ends_with_its_client("forking");
}

// ---------------------------------------------------------------------------------
// The relay.

/// Through `rpycbench proxy --stall-timeout 1s --max-connections 2`: a stalled frame is
/// dropped while a client keeps being served; a third connection is turned away at
/// once while two are open, and served once one left.
#[test]
fn relay_drops_stalled_frames_and_caps_its_connections() {
    let server = serve("threaded", &[]);
    let upstream = server.addr.to_string();
    let relay = Proc::start(
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--stall-timeout",
            "1s",
            "--max-connections",
            "2",
        ],
        None,
    );
    let mut good = served(relay.addr, "the client through the relay");
    let mut stalled = raw(relay.addr);
    stalled.write_all(&[0, 0, 1]).unwrap();
    let stalled_since = Instant::now();
    let mut third = raw(relay.addr);
    let refused = closed_within(&mut third, "the third client");
    assert!(refused < Duration::from_secs(1), "the client over the cap waited {refused:?}");
    closed_within(&mut stalled, "the stalled frame through the relay");
    let took = stalled_since.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}, before the stall limit");
    good.ping().expect("the good client is still served");
    // The slot comes back when the relay's thread for the stalled client ends, a moment
    // after the client sees its connection closed.
    assert!(
        eventually(BOUND, || TcpStream::connect(relay.addr).is_ok_and(|s| served_on(s).is_some())),
        "the stalled client's slot never came back"
    );
    let log = relay.stderr_text();
    assert!(log.contains("of silence mid-frame"), "{log}");
}

// ---------------------------------------------------------------------------------
// Memory of large transfers.

/// A connection keeps a large message's buffers while transfers follow one another, so
/// each reuses the memory the first one touched (no fresh pages for the kernel to fault
/// in and zero), and gives them back once it idles, still open: an idle connection does
/// not pin its largest message.
#[test]
fn an_idle_connection_gives_back_a_large_transfers_memory() {
    const MIB: u64 = 1 << 20;
    let server = serve("threaded", &[]);
    let mut c = served(server.addr, "a bulk client");
    let start = rss_bytes(server.pid());
    let payload = Value::from(vec![7u8; 64 << 20]);
    let upload = |c: &mut Connection| {
        c.call("upload", (payload.clone(),)).expect("a 64 MiB upload");
        Instant::now()
    };
    let before = minor_faults(server.pid());
    let mut done = upload(&mut c);
    let first = minor_faults(server.pid()) - before;
    let mut gaps = Duration::ZERO;
    for _ in 0..2 {
        let sent = Instant::now();
        gaps = gaps.max(sent - done);
        done = upload(&mut c);
    }
    let later = minor_faults(server.pid()) - before - first;
    // The server keeps the buffers for a quarter second of silence; a test thread held
    // up longer between two uploads would see them given back and faulted in again.
    if gaps < Duration::from_millis(100) {
        assert!(first > 64 * MIB / 4096 / 2, "the first upload touched fresh memory ({first} faults)");
        assert!(
            later < first / 4,
            "two more uploads faulted {later} pages, the first {first}: the buffer was not reused"
        );
    } else {
        eprintln!("skipped the reuse check: {gaps:?} between two uploads (more than the 100 ms it needs)");
    }
    let settled = eventually(BOUND, || rss_bytes(server.pid()) < start + 16 * MIB);
    assert!(
        settled,
        "server RSS {} MiB idle after 64 MiB uploads, {} MiB at the start",
        rss_bytes(server.pid()) / MIB,
        start / MIB
    );
    c.ping().expect("the connection is still open");
}
