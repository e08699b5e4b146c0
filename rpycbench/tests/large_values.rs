//! Large `bytes` values over real sockets: a frame that shares a large value is written
//! from its pieces (`wire::FrameParts::write_to`, a vectored write), and a peer must read
//! exactly the bytes a copied frame holds. Each size is echoed through a real server,
//! native and Python's rpyc, which sends it back the same way (the native one sharing
//! the value it received); values just under, at and over `wire::frame::SHARED_MIN`,
//! several in one call, and one large enough that the kernel takes it in many pieces.

mod common;

use rpycbench::client::{Config, Connection, Object};
use rpycbench::server::ServerMode;
use rpycbench::wire::frame::SHARED_MIN;
use rpycbench::wire::{Bytes, Value};
use std::time::Duration;

/// `len` bytes that differ from those of every other (len, seed).
fn payload(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed).collect::<Vec<u8>>().into()
}

const SIZES: [usize; 7] = [0, 1, SHARED_MIN - 1, SHARED_MIN, SHARED_MIN + 1, 3 * SHARED_MIN + 7, (24 << 20) + 3];

fn echoed_intact(mode: ServerMode) {
    let server = common::start_server(mode);
    let config = Config::default().request_timeout(Duration::from_secs(60)).connect_timeout(Duration::from_secs(20));
    let mut conn = Connection::connect_with(server.addr(), config).expect("connecting");
    for (i, &len) in SIZES.iter().enumerate() {
        let sent = payload(len, i as u8);
        let back =
            conn.call("echo", (Value::Bytes(sent.clone()),)).unwrap_or_else(|e| panic!("{mode}: echo {len}: {e}"));
        let back: Vec<u8> = back.extract().unwrap_or_else(|e| panic!("{mode}: echo {len} came back as {e}"));
        assert!(back == sent, "{mode}: {len} bytes echoed differ (first at {:?})", first_difference(&back, &sent));
        let counted = conn.call("upload", (Value::Bytes(sent),)).expect("upload");
        assert_eq!(counted.extract::<u64>().expect("a length"), len as u64, "{mode}: upload of {len}");
    }
    // Several large values in one frame, between small ones: a tuple echoed whole.
    let parts: Vec<Object> = [SHARED_MIN, 5, 2 * SHARED_MIN + 1, 0, SHARED_MIN]
        .iter()
        .enumerate()
        .map(|(i, &len)| Object::Value(Value::Bytes(payload(len, 100 + i as u8))))
        .collect();
    let tuple = Object::tuple(parts.clone());
    let back = conn.call("echo", (tuple,)).expect("echo of a tuple");
    let back: Vec<Vec<u8>> = back.extract().expect("a tuple of bytes");
    let sent: Vec<Vec<u8>> = parts.into_iter().map(|o| o.extract::<Vec<u8>>().expect("bytes")).collect();
    assert!(back == sent, "{mode}: the tuple of bytes came back different");
    server.stop().expect("stopping the server");
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[test]
fn large_values_cross_a_native_server_intact() {
    echoed_intact(ServerMode::Threaded);
}

#[test]
fn large_values_cross_a_python_server_intact() {
    echoed_intact(ServerMode::PythonThreaded);
}
