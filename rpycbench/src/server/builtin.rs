//! The built-in benchmark service, natively. Its Python twin is
//! `rpycbench/python/rpycbench_service.py`; both follow the contract in
//! ARCHITECTURE.md, and the same tests run against both.

use super::objects::{lend, AttrObject, LocalDict};
use super::service::Service;
use crate::client::{Args, Connection, Object, RemoteRef};
use crate::error::{Error, Result};
use crate::wire::Value;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;

/// The built-in benchmark service (`rpycbench_service.BenchmarkService`).
#[derive(Debug, Default, Clone, Copy)]
pub struct BenchmarkService;

const METHODS: &[&str] = &[
    "ping",
    "echo",
    "upload",
    "download",
    "upload_chunked",
    "download_chunked",
    "download_chunked_tuple",
    "cpu_work",
    "io_work",
    "get_user",
    "get_users",
    "get_user_dict",
    "get_user_tuple",
    "get_users_batch",
    "nested",
    "raise_error",
];

/// Exceptions that would end the server rather than travel to the client.
const REFUSED: &[&str] = &["SystemExit", "KeyboardInterrupt", "GeneratorExit"];

/// Built-in exception classes `raise_error` raises (those constructible from a message).
const RAISABLE: &[&str] = &[
    "BaseException",
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BufferError",
    "ConnectionError",
    "EOFError",
    "FileNotFoundError",
    "FloatingPointError",
    "ImportError",
    "IndexError",
    "IOError",
    "KeyError",
    "LookupError",
    "MemoryError",
    "NameError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PermissionError",
    "RecursionError",
    "ReferenceError",
    "RuntimeError",
    "StopIteration",
    "TimeoutError",
    "TypeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
];

impl Service for BenchmarkService {
    fn type_name(&self) -> &str {
        "rpycbench_service.BenchmarkService"
    }

    fn methods(&self) -> &[&'static str] {
        METHODS
    }

    fn call(&self, conn: &mut Connection, method: &str, args: Args) -> Result<Object> {
        match method {
            "ping" => Ok("pong".into()),
            "echo" => args.positional.first().cloned().ok_or_else(|| missing("echo", "x")),
            "upload" => upload(conn, required(&args, 0, "data", "upload")?),
            "download" => {
                Ok(Value::Bytes(payload(not_negative("size", required(&args, 0, "size", "download")?)?)?).into())
            }
            "upload_chunked" => upload_chunked(conn, required(&args, 0, "chunks", "upload_chunked")?),
            "download_chunked" => Ok(Object::list(chunks(&args)?.into_iter().map(Object::from).collect())),
            "download_chunked_tuple" => Ok(Value::Tuple(chunks(&args)?.into_iter().map(Value::Bytes).collect()).into()),
            "cpu_work" => {
                let iterations = not_negative("iterations", args.param(0, "iterations")?.unwrap_or(100_000))?;
                Ok(cpu_work(iterations as u64).into())
            }
            "io_work" => {
                let delay: f64 = args.param(0, "delay")?.unwrap_or(0.01);
                if delay < 0.0 {
                    return Err(Error::raise("ValueError", "delay must not be negative"));
                }
                // Past a day it is a mistake, not a benchmark; from_secs_f64 would panic on inf.
                std::thread::sleep(Duration::from_secs_f64(delay.min(86_400.0)));
                Ok("data".into())
            }
            "get_user" => Ok(user(required(&args, 0, "id", "get_user")?)),
            "get_users" => {
                let n = not_negative("n", required(&args, 0, "n", "get_users")?)?;
                let mut users = with_capacity(n)?;
                users.extend((0..n).map(user));
                Ok(Object::list(users))
            }
            "get_user_dict" => {
                let id: i64 = required(&args, 0, "id", "get_user_dict")?;
                let (id, name, email, status) = user_fields(id);
                Ok(lend(LocalDict::new(vec![
                    ("id".into(), id.into()),
                    ("name".into(), name.into()),
                    ("email".into(), email.into()),
                    ("status".into(), status.into()),
                ])))
            }
            "get_user_tuple" => Ok(Value::from(user_fields(required(&args, 0, "id", "get_user_tuple")?)).into()),
            "get_users_batch" => {
                let ids = items(conn, required(&args, 0, "ids", "get_users_batch")?)?;
                let users =
                    ids.into_iter().map(|id| Ok(Value::from(user_fields(id.extract()?)))).collect::<Result<_>>()?;
                Ok(Value::Tuple(users).into())
            }
            "nested" => {
                let depth: i64 = required(&args, 0, "depth", "nested")?;
                if depth == 0 {
                    return Ok(0.into());
                }
                let callback: RemoteRef = required(&args, 1, "callback", "nested")?;
                // Checked: a client's i64::MIN (or a callback's i64::MAX) must fail the
                // call, not panic the connection in a debug build.
                let overflow = || Error::raise("OverflowError", "nested depth out of the 64-bit range");
                let below: i64 =
                    conn.call_ref(&callback, (depth.checked_sub(1).ok_or_else(overflow)?,), Vec::new())?.extract()?;
                Ok(below.checked_add(1).ok_or_else(overflow)?.into())
            }
            "raise_error" => {
                let kind: String = required(&args, 0, "kind", "raise_error")?;
                let message: String = required(&args, 1, "message", "raise_error")?;
                Err(if RAISABLE.contains(&kind.as_str()) {
                    Error::raise(&kind, message)
                } else if REFUSED.contains(&kind.as_str()) {
                    Error::raise("ValueError", format!("refused exception kind: {kind}"))
                } else {
                    Error::raise("ValueError", format!("unknown exception kind: {kind}"))
                })
            }
            other => Err(Error::raise("AttributeError", format!("cannot access '{other}'"))),
        }
    }
}

fn missing(method: &str, param: &str) -> Error {
    Error::raise("TypeError", format!("{method}() missing required argument: '{param}'"))
}

fn required<T: crate::client::FromObject>(args: &Args, i: usize, name: &str, method: &str) -> Result<T> {
    args.param(i, name)?.ok_or_else(|| missing(method, name))
}

/// The download content: the [`payload_block`] repeated, cut to `size`.
///
/// A size no frame can carry is refused before allocating, and an allocation the
/// system refuses is a MemoryError: Rust aborts the whole process when an allocation
/// fails, and one client's absurd `download(2**62)` must not end everyone's server.
fn payload(size: i64) -> Result<Vec<u8>> {
    let size = size.max(0) as u64;
    if size > MAX_PAYLOAD {
        return Err(Error::raise(
            "ValueError",
            format!("size {size} is more than an RPyC frame can carry ({MAX_PAYLOAD} bytes)"),
        ));
    }
    let mut data = with_capacity(size as i64)?;
    extend_payload(&mut data, size as usize);
    Ok(data)
}

/// The bytes `download` repeats: 64 KiB of SHA-256 in counter mode (32-byte block `i`
/// is `sha256(b"rpycbench payload" + i as 4 big-endian bytes)`), built the same way by
/// the Python twin.
///
/// Why not `0, 1, …, 255` repeated: Python's rpyc compresses frames over 3000 bytes with
/// zlib, which squeezed that pattern to almost nothing, so a Python server's downloads
/// measured zlib rather than the transfer. A period of 64 KiB is twice zlib's 32 KiB
/// window, so nothing repeats where zlib can see it: the payload is incompressible, as
/// most real binary data is, and both servers put the same bytes on the wire.
pub fn payload_block() -> &'static [u8] {
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    BLOCK.get_or_init(|| {
        (0..2048u32)
            .flat_map(|i| {
                let mut h = Sha256::new();
                h.update(b"rpycbench payload");
                h.update(i.to_be_bytes());
                h.finalize()
            })
            .collect()
    })
}

/// Appends `size` bytes of the [`payload_block`] repeated.
pub(crate) fn extend_payload(out: &mut Vec<u8>, size: usize) {
    let block = payload_block();
    out.reserve(size);
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        out.extend_from_slice(&block[..n]);
        left -= n;
    }
}

/// The largest payload a reply frame can carry: its length is a u32, and the message
/// envelope around the bytes takes a few of them.
const MAX_PAYLOAD: u64 = u32::MAX as u64 - 64;

/// An empty vector with room for `n` items, or the MemoryError Python would raise
/// (see [`payload`]).
fn with_capacity<T>(n: i64) -> Result<Vec<T>> {
    let mut v = Vec::new();
    usize::try_from(n)
        .ok()
        .and_then(|n| v.try_reserve_exact(n).ok())
        .ok_or_else(|| Error::raise("MemoryError", format!("cannot allocate room for {n} items")))?;
    Ok(v)
}

fn not_negative(name: &str, value: i64) -> Result<i64> {
    if value < 0 {
        return Err(Error::raise("ValueError", format!("{name} must not be negative")));
    }
    Ok(value)
}

fn chunks(args: &Args) -> Result<Vec<Vec<u8>>> {
    let size = not_negative("size", required(args, 0, "size", "download_chunked")?)?;
    let chunk: i64 = required(args, 1, "chunk_size", "download_chunked")?;
    if chunk < 1 {
        return Err(Error::raise("ValueError", "chunk_size must be positive"));
    }
    let mut chunks = with_capacity(size / chunk + i64::from(size % chunk != 0))?;
    let data = payload(size)?;
    chunks.extend(data.chunks(chunk as usize).map(<[u8]>::to_vec));
    Ok(chunks)
}

/// `len(data)` for bytes, str (in code points) and tuples by value, or `len()` of a
/// client object by reference.
fn upload(conn: &mut Connection, data: Object) -> Result<Object> {
    Ok(match data {
        Object::Value(Value::Bytes(b)) => b.len(),
        Object::Value(Value::Str(s)) => s.chars().count(),
        Object::Value(Value::Tuple(t)) => t.len(),
        Object::Remote(r) => conn.len(&r)?,
        other => return Err(Error::raise("TypeError", format!("object of type {} has no len()", other.describe()))),
    }
    .into())
}

/// Iterates the client's iterable (one callback per chunk), summing the lengths.
fn upload_chunked(conn: &mut Connection, chunks: Object) -> Result<Object> {
    let mut total = 0usize;
    for c in items(conn, chunks)? {
        match c {
            Object::Value(Value::Bytes(b)) => total += b.len(),
            Object::Value(Value::Str(s)) => total += s.chars().count(),
            other => return Err(Error::raise("TypeError", format!("chunk {} has no len()", other.describe()))),
        }
    }
    Ok(total.into())
}

/// The elements of a tuple by value, or of a client's iterable by reference.
fn items(conn: &mut Connection, seq: Object) -> Result<Vec<Object>> {
    match seq {
        Object::Value(Value::Tuple(t)) => Ok(t.into_iter().map(Object::Value).collect()),
        Object::Tuple(t) => Ok(t),
        Object::Remote(r) => conn.collect(&r),
        other => Err(Error::raise("TypeError", format!("'{}' object is not iterable", other.describe()))),
    }
}

/// SHA-256 applied `iterations` times starting from `b"start"`; the first 16 hex digits.
pub fn cpu_work(iterations: u64) -> String {
    let hex = |bytes: &[u8]| bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
    if iterations == 0 {
        return hex(b"start");
    }
    let mut digest: [u8; 32] = Sha256::digest(b"start").into();
    for _ in 1..iterations {
        digest = Sha256::digest(digest).into();
    }
    hex(&digest)
}

fn user_fields(id: i64) -> (i64, String, String, &'static str) {
    (id, format!("user{id}"), format!("user{id}@example.com"), "active")
}

fn user(id: i64) -> Object {
    let (id, name, email, status) = user_fields(id);
    lend(AttrObject::new(
        "rpycbench_service.User",
        format!("User({id})"),
        vec![("id", id.into()), ("name", name.into()), ("email", email.into()), ("status", status.into())],
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_work_matches_the_contract() {
        assert_eq!(super::cpu_work(0), "7374617274");
        // Expected values computed with Python's hashlib.
        assert_eq!(super::cpu_work(1), "cced28c6dc3f99c2");
        assert_eq!(super::cpu_work(1000), "3595323d0c762e0f");
    }

    #[test]
    fn the_payload_is_the_python_twins_and_zlib_cannot_shrink_it() {
        use sha2::{Digest, Sha256};
        use std::io::Write;
        let block = super::payload_block();
        assert_eq!(block.len(), 64 << 10);
        // Expected values computed with Python's hashlib from the twin's definition.
        assert_eq!(hex::encode(&block[..8]), "f8611b6949fa7e1b");
        assert_eq!(hex::encode(&Sha256::digest(block)[..8]), "d7151243d6654304");
        let data = crate::bench::payload(300_000);
        assert_eq!((&data[..block.len()], &data[block.len()..2 * block.len()]), (block, block));
        // At rpyc's level (1), as Python compresses frames over 3000 bytes.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        z.write_all(&data).unwrap();
        let compressed = z.finish().unwrap().len();
        assert!(compressed as f64 > 0.99 * data.len() as f64, "{} bytes compressed to {compressed}", data.len());
    }
}
