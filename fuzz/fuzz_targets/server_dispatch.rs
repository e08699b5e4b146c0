//! Decoded requests into a real server connection serving the built-in service.
//!
//! The input is a sequence of messages, each `[length: u16 little-endian][payload]`.
//! Payloads that decode to a request (`Message::decode`) are framed and sent, in order,
//! over a real loopback TCP connection, whose accepted end is served on this thread by
//! the native server's dispatcher (`server::serve_stream` with the built-in
//! `BenchmarkService`): GETROOT, GETATTR, CALLATTR, CALL, INSPECT, DEL, callbacks, ...,
//! exactly as a remote client's requests are. Anything else is skipped (the frame and
//! brine decoders have targets of their own). The client's write side is shut after
//! the requests, so the server finishes what it read, sees the end and returns; every
//! answer is read meanwhile. Exported objects are numbered from 1 on each connection,
//! so a request can name the root (id 1) and what was lent next. Everything, threads
//! included, has ended when an input is done.
//!
//! Crashes: a panic anywhere; a slow input is one libFuzzer's `-timeout` reports (the
//! service's long operations stop once the client's end is shut).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpycbench::client::Config;
use rpycbench::server::{serve_stream, BenchmarkService};
use rpycbench::wire::{Compression, FrameEncoder, Limits, Message};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};

/// The loopback listener the connections are made on.
fn listener() -> &'static TcpListener {
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    LISTENER.get_or_init(|| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
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
    let listener = listener();
    let client = TcpStream::connect(listener.local_addr().expect("a bound address")).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let mut writer = client.try_clone().expect("clone the socket");
    let mut reader = client;
    // Written and read on threads of their own: the server answers while the requests
    // still arrive, and no side may wait for another to read.
    let write = std::thread::spawn(move || {
        // The server may close first (a CLOSE request, a protocol error): fine.
        let _ = writer.write_all(&stream);
        let _ = writer.shutdown(Shutdown::Write);
    });
    let read = std::thread::spawn(move || {
        let mut sink = vec![0u8; 64 << 10];
        // Until the server's end closes (or resets, with requests unread).
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    });
    // Errors are the connection's end, as in a server: only a panic is a finding.
    let _ = serve_stream(accepted, Arc::new(BenchmarkService), Config::default());
    // Joined, not left to a scope: a scope does not wait for its threads' own exit
    // (their thread-local destructors), which LeakSanitizer would report as leaks.
    for thread in [write, read] {
        thread.join().expect("the client's threads do not panic");
    }
});
