//! `--compression python` against its authority, CPython's `zlib.compress(data, 1)`: the
//! frames a native sender compresses must hold the very bytes a Python sender's do.

mod common;

use rpycbench::wire::frame::{HEADER_LEN, PYTHON_COMPRESSION_THRESHOLD};
use rpycbench::wire::{Compression, FrameEncoder};
use std::io::Write;
use std::process::{Command, Stdio};

/// What CPython's zlib makes of `data` at rpyc's level (`Channel.COMPRESSION_LEVEL`, 1).
fn python_zlib(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(common::python())
        .args(["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 1))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the Python interpreter ($RPYCBENCH_PYTHON)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread: a payload of megabytes fills both pipes at once otherwise.
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("Python's output");
    writer.join().expect("the writer thread").expect("write the payload to Python");
    assert!(out.status.success(), "python failed: {}", out.status);
    out.stdout
}

/// The body of the frame our encoder makes of `data` with Python's policy, and its flag.
fn our_body(data: &[u8]) -> (Vec<u8>, bool) {
    let mut enc = FrameEncoder::new(Compression::Python);
    enc.payload().extend_from_slice(data);
    let frame = enc.finish().expect("a non-empty payload frames");
    (frame[HEADER_LEN..frame.len() - 1].to_vec(), frame[4] == 1)
}

/// English-like lines (words picked by a small LCG): compressible as text is.
fn text_like(size: usize) -> Vec<u8> {
    const WORDS: [&str; 12] =
        ["the", "server", "sends", "a", "reply", "frame", "with", "bytes", "of", "text", "and", "zlib"];
    let (mut x, mut out) = (1u32, Vec::with_capacity(size + 16));
    while out.len() < size {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(WORDS[(x >> 16) as usize % WORDS.len()].as_bytes());
        out.push(if x % 7 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(size);
    out
}

#[test]
fn compressed_frames_hold_cpythons_zlib_bytes() {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for size in [3001, 3002, 4096, 65_537, 4 << 20] {
        cases.push((format!("text {size}"), text_like(size)));
        cases.push((format!("zeros {size}"), vec![0; size]));
        cases.push((format!("incompressible {size}"), rpycbench::server::payload(size as u64)));
    }
    for (what, data) in &cases {
        let (body, compressed) = our_body(data);
        assert!(compressed, "{what}: over the threshold, so compressed");
        let python = python_zlib(data);
        assert!(
            body == python,
            "{what}: {} bytes of ours, {} of CPython's, first difference at {:?}",
            body.len(),
            python.len(),
            body.iter().zip(&python).position(|(a, b)| a != b)
        );
    }
}

#[test]
fn frames_at_or_under_the_threshold_stay_plain() {
    for size in [1, 2999, PYTHON_COMPRESSION_THRESHOLD] {
        let data = text_like(size);
        assert_eq!(our_body(&data), (data, false), "{size} bytes");
    }
}

// ---- Real servers: a native one compressing as Python does, and the Python twin ----

use rpycbench::client::Connection;
use rpycbench::server::PayloadKind;
use rpycbench::Value;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// `rpycbench serve ARGS…` (Python modes with the test's interpreter), ready.
fn serve(args: &[&str]) -> common::Listening {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpycbench"));
    cmd.args(["serve", "--host", "127.0.0.1", "--port", "0"]).args(args).arg("--python").arg(common::python());
    common::Listening::start(cmd, &format!("rpycbench serve {}", args.join(" ")))
}

/// A relay to `server` on an ephemeral port that keeps every byte the server sent; it
/// serves one connection.
fn recording_relay(server: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
    let addr = listener.local_addr().expect("the relay's address");
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let keep = recorded.clone();
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else { return };
        let Ok(upstream) = TcpStream::connect(server) else { return };
        let (mut c_read, mut u_write) = (client.try_clone().expect("clone"), upstream.try_clone().expect("clone"));
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c_read, &mut u_write);
            let _ = u_write.shutdown(std::net::Shutdown::Write);
        });
        let (mut u_read, mut c_write) = (upstream, client);
        let mut buf = vec![0; 64 << 10];
        loop {
            match std::io::Read::read(&mut u_read, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    keep.lock().expect("not poisoned").extend_from_slice(&buf[..n]);
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = c_write.shutdown(std::net::Shutdown::Write);
    });
    (addr, recorded)
}

/// Splits a recorded stream into frames: (compressed flag, body as on the wire).
fn frames(mut stream: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    while stream.len() >= HEADER_LEN {
        let len = u32::from_be_bytes([stream[0], stream[1], stream[2], stream[3]]) as usize;
        assert!(stream.len() > HEADER_LEN + len, "a whole frame (and its filler) was recorded");
        out.push((stream[4] != 0, stream[HEADER_LEN..HEADER_LEN + len].to_vec()));
        stream = &stream[HEADER_LEN + len + 1..];
    }
    out
}

/// Downloads `size` bytes from `server` through a recording relay; returns the reply
/// frame that carried them (the largest the server sent).
fn download_reply(server: SocketAddr, size: u64, kind: PayloadKind) -> (bool, Vec<u8>) {
    let (relay, recorded) = recording_relay(server);
    let mut conn = Connection::connect(relay).expect("connect through the relay");
    let got = conn.call("download", (size,)).expect("download");
    assert!(got.as_value().and_then(Value::as_bytes) == Some(&kind.bytes(size)[..]), "the {kind} bytes came back");
    drop(conn);
    // The relay has forwarded the reply, so it has recorded it.
    let stream = recorded.lock().expect("not poisoned").clone();
    frames(&stream).into_iter().max_by_key(|(_, body)| body.len()).expect("the server replied")
}

#[test]
fn a_native_server_compressing_as_python_sends_the_python_servers_bytes() {
    const SIZE: u64 = 100_000;
    let native = serve(&["--mode", "threaded", "--compression", "python", "--payload", "text"]);
    let python = serve(&["--mode", "python-threaded", "--payload", "text"]);
    let (native_compressed, native_body) = download_reply(native.addr, SIZE, PayloadKind::Text);
    let (python_compressed, python_body) = download_reply(python.addr, SIZE, PayloadKind::Text);
    assert!(python_compressed, "Python compresses a reply over 3000 bytes");
    assert!(native_compressed, "--compression python compresses the reply");
    assert!(python_body.len() < SIZE as usize / 2, "text compresses: {} bytes", python_body.len());
    assert!(
        native_body == python_body,
        "reply bodies differ: {} bytes native, {} Python",
        native_body.len(),
        python_body.len()
    );

    // Without compression the native server sends the reply plain.
    let plain = serve(&["--mode", "threaded", "--compression", "off", "--payload", "text"]);
    let (compressed, body) = download_reply(plain.addr, SIZE, PayloadKind::Text);
    assert!(!compressed && body.len() > SIZE as usize, "plain reply: compressed {compressed}, {} bytes", body.len());
}

#[test]
fn a_compressible_bandwidth_run_moves_fewer_wire_bytes_and_says_why() {
    let dir = common::TempDir::new("compression-sweep");
    let json = dir.0.join("results.json");
    let out = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
        .args(["sweep", "--over", "payload", "--values", "1MiB", "--mode", "threaded", "--iterations", "3"])
        .args(["--rounds", "1", "--payload", "zeros", "--compression", "python", "--quiet", "--json"])
        .arg(&json)
        .output()
        .expect("run rpycbench sweep");
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    let set: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("results written")).expect("JSON");
    let r = &set["results"][0];
    assert_eq!(r["params"]["payload"], "zeros");
    assert_eq!(r["params"]["client_compression"], "python");
    assert_eq!(r["server"]["compression"], "python");
    assert_eq!(r["server"]["payload"], "zeros");
    // 1 MiB each way per operation, upload and download: zlib sends a thousandth of it.
    let logical = 2 * 3 * (1u64 << 20);
    let wire = r["wire"]["bytes_sent"].as_u64().expect("bytes_sent")
        + r["wire"]["bytes_received"].as_u64().expect("bytes_received");
    assert!(wire * 20 < logical, "{wire} wire bytes for {logical} logical bytes");
}

/// docs/servers.md: `--compression off` is refused for the Python modes (rpyc always
/// compresses), at once and before anything starts.
#[test]
fn compression_off_is_refused_for_a_python_server() {
    for mode in ["python-threaded", "python-forking"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rpycbench"))
            .args(["serve", "--mode", mode, "--port", "0", "--compression", "off"])
            .stdin(Stdio::null())
            .output()
            .expect("run rpycbench serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{mode}: accepted --compression off");
        assert!(stderr.contains("compress"), "{mode}: {stderr}");
        assert!(out.stdout.is_empty(), "{mode}: started anyway: {}", String::from_utf8_lossy(&out.stdout));
    }
}
