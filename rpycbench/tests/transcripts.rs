//! Conformance with the captured rpyc 6.0.2 sessions in `transcripts/*.jsonl`: every
//! frame is parsed, decoded, re-encoded and re-framed, and whole sessions are replayed
//! as byte streams split at random points.

mod common;

use common::{assert_repr_matches, field, hex_field, int_field, protocol_dir, read_jsonl, Rng};
use rpycbench::wire::{brine, Boxed, Compression, ExceptionPayload, FrameDecoder, FrameEncoder, Handler, IdPack};
use rpycbench::wire::{Limits, Message};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// Every transcript file, sorted, each with its frames.
fn transcripts() -> Vec<(String, Vec<Json>)> {
    let dir = protocol_dir().join("transcripts");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    // README.md documents 13 scenarios; fewer means a broken copy of shared/.
    assert!(paths.len() >= 13, "only {} transcripts in {}", paths.len(), dir.display());
    paths
        .into_iter()
        .map(|p| {
            let frames = read_jsonl(&p);
            let name = p.file_stem().expect("file name").to_string_lossy().into_owned();
            assert!(!frames.is_empty(), "{name}: no frames");
            (name, frames)
        })
        .collect()
}

/// Decodes a frame on its own and checks it against the recorded header and payload.
/// Returns the payload.
fn parse_frame(rec: &Json, what: &str) -> Vec<u8> {
    let wire = hex_field(rec, "frame_hex");
    assert_eq!(wire.len() as i64, int_field(rec, "frame_len"), "{what}: frame_len");
    assert_eq!(hex::encode(&wire[wire.len() - 1..]), field(rec, "trailer_hex"), "{what}: trailer");
    let compressed = int_field(&rec["header"], "compressed") != 0;

    let mut dec = FrameDecoder::new(Limits::DEFAULT);
    dec.push(&wire);
    let frame = dec.next_frame().unwrap_or_else(|e| panic!("{what}: {e}")).expect("a whole frame was pushed");
    assert_eq!(frame.wire_len, wire.len(), "{what}: wire_len");
    assert_eq!(frame.compressed, compressed, "{what}: compressed flag");
    let payload = frame.payload.to_vec();
    assert!(dec.next_frame().expect("no error").is_none() && dec.buffered() == 0, "{what}: bytes left over");

    if let Some(len) = rec.get("payload_len") {
        assert_eq!(Some(payload.len() as u64), len.as_u64(), "{what}: payload_len");
    }
    if rec.get("payload_hex").is_some() {
        assert!(payload == hex_field(rec, "payload_hex"), "{what}: payload differs");
    } else {
        // Payloads over 8 KiB are recorded as a prefix and a digest.
        assert!(payload.starts_with(&hex_field(rec, "payload_head_hex")), "{what}: payload head differs");
        assert_eq!(hex::encode(Sha256::digest(&payload)), field(rec, "payload_sha256"), "{what}: payload sha256");
    }
    payload
}

/// Checks the box tree against the recorded labelled form (`{"VALUE": …}`, `{"TUPLE":
/// […]}`, `{"LOCAL_REF": [name, class_id, object_id]}`, …). Values themselves are
/// checked through `python_repr`.
fn check_boxes(ours: &Boxed, recorded: &Json, what: &str) {
    let (label, inner) = recorded.as_object().and_then(|o| o.iter().next()).expect("a labelled box");
    let id_pack = |id: &IdPack| serde_json::json!([&*id.name, id.class_id, id.object_id]);
    match (ours, label.as_str()) {
        (Boxed::Value(_), "VALUE") => {}
        (Boxed::Tuple(items), "TUPLE") => {
            let rec = inner.as_array().expect("TUPLE holds a list");
            assert_eq!(items.len(), rec.len(), "{what}: TUPLE box length");
            items.iter().zip(rec).for_each(|(b, r)| check_boxes(b, r, what));
        }
        (Boxed::LocalRef(id), "LOCAL_REF") | (Boxed::RemoteRef(id), "REMOTE_REF") => {
            assert_eq!(&id_pack(id), inner, "{what}: id_pack");
        }
        _ => panic!("{what}: decoded {ours:?}, recorded {label}"),
    }
}

/// Checks the decoded message against the recorded `decoded` view. `requests` maps
/// (direction, seq) to the handler name of every request seen so far, so replies can be
/// matched to what they answer.
fn check_message(msg: &Message, rec: &Json, requests: &mut HashMap<(String, i64), String>, what: &str) {
    let d = &rec["decoded"];
    assert_eq!(msg.seq(), int_field(d, "seq"), "{what}: seq");
    let dir = field(rec, "dir").to_owned();
    let answers = |seq: i64| {
        let peer = if dir == "c2s" { "s2c" } else { "c2s" };
        requests.get(&(peer.to_owned(), seq)).cloned().unwrap_or_else(|| panic!("{what}: reply to unknown seq"))
    };
    match msg {
        Message::Request { seq, handler, args } => {
            assert_eq!(field(d, "msg"), "REQUEST", "{what}");
            assert_eq!(*handler, int_field(d, "handler_id"), "{what}: handler id");
            let name = Handler::from_id(*handler).unwrap_or_else(|| panic!("{what}: unknown handler {handler}")).name();
            assert_eq!(name, field(d, "handler"), "{what}: handler name");
            check_boxes(args, &d["args"], what);
            requests.insert((dir, *seq), name.to_owned());
        }
        Message::Reply { seq, value } => {
            assert_eq!(field(d, "msg"), "REPLY", "{what}");
            assert_eq!(answers(*seq), field(d, "reply_to"), "{what}: reply_to");
            check_boxes(value, &d["value"], what);
        }
        Message::Exception { seq, payload } => {
            assert_eq!(field(d, "msg"), "EXCEPTION", "{what}");
            assert_eq!(answers(*seq), field(d, "reply_to"), "{what}: reply_to");
            let e = &d["exception"];
            match payload {
                ExceptionPayload::StopIteration => assert_eq!(e["stop_iteration_shortcut"], 1, "{what}"),
                ExceptionPayload::Raised(ex) => {
                    assert_eq!(ex.module, field(e, "module"), "{what}: module");
                    assert_eq!(ex.class, field(e, "class"), "{what}: class");
                    assert_eq!(ex.traceback, field(e, "traceback"), "{what}: traceback");
                    let names: Vec<&str> = ex.attrs.iter().map(|(k, _)| k.as_str()).collect();
                    let recorded: Vec<&str> =
                        e["attrs"].as_array().expect("attrs").iter().map(|p| p[0].as_str().expect("name")).collect();
                    assert_eq!(names, recorded, "{what}: attr names");
                }
            }
        }
    }
}

/// Re-frames the payload as a Python sender would and checks the result.
fn reframe(payload: &[u8], wire: &[u8], compressed: bool, what: &str) {
    // Uncompressed frames must come out byte for byte (Python's filler is always 0x0a).
    if !compressed {
        let mut enc = FrameEncoder::new(Compression::Off);
        enc.payload().extend_from_slice(payload);
        assert!(enc.finish().expect("non-empty payload") == wire, "{what}: re-framed bytes differ");
    }
    // With Python's policy we must compress exactly the frames Python compressed, into
    // the very bytes CPython's zlib made: the crate deflates with the C zlib, as CPython
    // does (PROTOCOL.md §3.3 allows other deflaters; `--compression python` promises a
    // wire identical to a Python sender's).
    let mut enc = FrameEncoder::new(Compression::Python);
    enc.payload().extend_from_slice(payload);
    let ours = enc.finish().expect("non-empty payload").to_vec();
    assert!(ours == wire, "{what}: our frame differs from Python's ({} bytes against {})", ours.len(), wire.len());
    let mut dec = FrameDecoder::new(Limits::DEFAULT);
    dec.push(&ours);
    let frame = dec.next_frame().expect("our own frame decodes").expect("complete");
    assert_eq!(frame.compressed, compressed, "{what}: compression decision differs from Python's");
    assert!(frame.payload == payload, "{what}: our frame does not inflate back to the payload");
}

#[test]
fn every_frame_parses_decodes_and_reencodes() {
    let mut total = 0;
    for (name, frames) in transcripts() {
        let mut requests = HashMap::new();
        for rec in &frames {
            let what = format!("{name}#{} ({})", int_field(rec, "i"), field(rec, "dir"));
            let payload = parse_frame(rec, &what);
            let msg = Message::decode(&payload, &Limits::DEFAULT).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_message(&msg, rec, &mut requests, &what);

            // The whole payload as Python printed it: (msg_type, (seq, body)).
            let body = brine::decode(&payload[1..], &Limits::DEFAULT).unwrap_or_else(|e| panic!("{what}: {e}"));
            let ours = format!("({}, {})", payload[0], body.repr());
            assert_repr_matches(&ours, field(&rec["decoded"], "python_repr"), &what);

            let mut again = Vec::new();
            msg.encode(&mut again).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(again == payload, "{what}: re-encoded message differs");
            let compressed = int_field(&rec["header"], "compressed") != 0;
            reframe(&payload, &hex_field(rec, "frame_hex"), compressed, &what);
            total += 1;
        }
    }
    // README.md: 467 captured frames. Fewer means frames were lost from the copy.
    assert!(total >= 467, "only {total} frames checked");
}

/// A reader that returns at most a pseudo-random number of bytes per `read`, the way
/// a socket delivers a stream.
struct Trickle<'a> {
    data: &'a [u8],
    rng: Rng,
    max: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.rng.chunk(self.max).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Each direction of each session, concatenated and delivered in random pieces (from one
/// byte to larger than a frame), must split into the same frames as one-by-one parsing.
#[test]
fn whole_sessions_split_into_the_same_frames() {
    for (name, frames) in transcripts() {
        for dir in ["c2s", "s2c"] {
            let recs: Vec<&Json> = frames.iter().filter(|r| field(r, "dir") == dir).collect();
            let stream: Vec<u8> = recs.iter().flat_map(|r| hex_field(r, "frame_hex")).collect();
            let expected: Vec<(Vec<u8>, usize)> = recs
                .iter()
                .map(|r| (parse_frame(r, &format!("{name} {dir}")), int_field(r, "frame_len") as usize))
                .collect();
            for (seed, max) in [(1, 1), (2, 7), (3, 100), (4, 5000), (5, 70_000)] {
                let mut src = Trickle { data: &stream, rng: Rng(seed), max };
                let mut dec = FrameDecoder::new(Limits::DEFAULT);
                let mut got = Vec::new();
                loop {
                    while let Some(f) = dec.next_frame().unwrap_or_else(|e| panic!("{name} {dir}: {e}")) {
                        got.push((f.payload.to_vec(), f.wire_len));
                    }
                    if dec.read_from(&mut src).expect("in-memory read") == 0 {
                        break;
                    }
                }
                assert_eq!(dec.buffered(), 0, "{name} {dir} (max chunk {max}): bytes left over");
                assert!(got == expected, "{name} {dir} (max chunk {max}): frames differ");
            }
        }
    }
}
