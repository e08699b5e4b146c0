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
