//! Decoded requests into a real server connection serving the built-in service.
//!
//! The input is a sequence of messages, each `[length: u16 little-endian][payload]`.
//! Payloads that decode to a request (`Message::decode`) are framed and sent, in order,
//! on one connection to a native threaded server (`serve_threaded` with the built-in
//! `BenchmarkService`) running on loopback inside this process; anything else is
//! skipped (the frame and brine decoders have targets of their own). The server answers
//! them through the real dispatcher (GETROOT, GETATTR, CALLATTR, CALL, INSPECT, DEL,
//! callbacks, ...), exactly as it would a remote client's. The write side is then
//! shut, so the server finishes what it read, sees the end and closes; the target reads
//! every answer until then. Exported objects are numbered from 1 on each connection, so
//! a request can name the root (id 1) and what it lent next.
//!
//! Crashes: a panic anywhere (libFuzzer's hook aborts before the server's per-connection
//! `catch_unwind`), and a server that does not close within 20 s of the end of the
//! requests (its long operations stop when the client is gone).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpycbench::server::{serve_threaded, ServeOptions};
use rpycbench::wire::{Compression, FrameEncoder, Limits, Message};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::Duration;

/// The in-process server, started on first use and never stopped.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    static STOP: AtomicBool = AtomicBool::new(false);
    *ADDR.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        std::thread::spawn(move || serve_threaded(listener, ServeOptions::builtin(), &STOP));
        addr
    })
}

/// The frames of the input's decodable requests, back to back.
fn frames(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = FrameEncoder::new(Compression::Off);
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        let (payload, rest) = data[2..].split_at(len);
        data = rest;
        if !matches!(Message::decode(payload, &Limits::DEFAULT), Ok(Message::Request { .. })) {
            continue;
        }
        encoder.payload().extend_from_slice(payload);
        if let Ok(frame) = encoder.finish() {
            out.extend_from_slice(frame);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let stream = frames(data);
    if stream.is_empty() {
        return;
    }
    let mut conn = TcpStream::connect(server()).expect("connect to the in-process server");
    conn.set_read_timeout(Some(Duration::from_secs(20))).expect("set a read timeout");
    let mut writer = conn.try_clone().expect("clone the socket");
    // Written from a thread of its own: the server answers while the requests still
    // arrive, and neither side may wait for the other to read.
    std::thread::scope(|s| {
        s.spawn(move || {
            // The server may close first (a CLOSE request, a protocol error): fine.
            let _ = writer.write_all(&stream);
            let _ = writer.shutdown(Shutdown::Write);
        });
        let mut sink = [0u8; 64 << 10];
        loop {
            match conn.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    panic!("the server did not finish the requests within 20 s of their end")
                }
                // A reset (the server closed with requests unread) ends it too.
                Err(_) => break,
            }
        }
    });
});
