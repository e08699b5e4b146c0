//! The built-in benchmark service, natively. Its Python twin is
//! `rpycbench/python/rpycbench_service.py`; both follow the contract in
//! ARCHITECTURE.md, and the same tests run against both.

use super::objects::User;
use super::payload::PayloadKind;
use crate::client::python::ops::{self, BinOp};
use crate::client::python::{Dict, List};
use crate::client::{Args, CmpOp, Connection, Object};
use crate::error::{Error, Result};
use crate::wire::exceptions::{BuiltinException, Family};
use crate::wire::{Bytes, RemoteException, Value};
use num_bigint::BigInt;
use num_traits::{ToPrimitive, Zero};
use rpycbench_macros::rpyc_service;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// The built-in benchmark service (`rpycbench_service.BenchmarkService`).
///
/// Each method runs its Python twin's code step by step with Python's semantics
/// (`client::python::ops`): the same arguments are accepted and converted (`get_user("a")`,
/// `cpu_work(True)`, `nested(1.5, cb)`), the same errors raised with the same texts, in
/// the same order.
///
/// [`payload`](Self::payload) says what `download` and the chunked downloads return
/// (the twin's launcher takes it as `--payload`).
#[derive(Debug, Default, Clone, Copy)]
pub struct BenchmarkService {
    /// What the downloaded bytes are made of (default: incompressible).
    pub payload: PayloadKind,
}

impl BenchmarkService {
    /// The service, downloading bytes of `payload`.
    pub fn with_payload(payload: PayloadKind) -> Self {
        BenchmarkService { payload }
    }
}

/// The exposed methods, in the twin's definition order: `#[rpyc_service]` binds each
/// call as CPython binds the twin's (the same `TypeError` texts, qualified
/// `BenchmarkService.exposed_NAME`), and every parameter is an [`Object`], converted
/// step by step with Python's semantics below.
#[rpyc_service(name = "rpycbench_service.BenchmarkService", doc = super::python_classes::BENCHMARK_SERVICE_DOC)]
impl BenchmarkService {
    fn ping(&self) -> &'static str {
        "pong"
    }

    fn echo(&self, x: Object) -> Object {
        x
    }

    fn upload(&self, conn: &mut Connection, data: Object) -> Result<Value> {
        Ok(Value::from(ops::len(conn, &data)?))
    }

    fn download(&self, conn: &mut Connection, size: Object) -> Result<Value> {
        pattern(conn, &size, self.payload).map(Value::from)
    }

    fn upload_chunked(&self, conn: &mut Connection, chunks: Object) -> Result<Value> {
        let mut total = BigInt::zero();
        let mut chunks = ops::iterate(conn, &chunks)?;
        while let Some(c) = chunks.next(conn)? {
            total += ops::len(conn, &c)?;
        }
        Ok(Value::from(total))
    }

    fn download_chunked(&self, conn: &mut Connection, size: Object, chunk_size: Object) -> Result<Object> {
        Ok(List::lend(chunks(conn, &size, &chunk_size, self.payload)?.into_iter().map(Object::from).collect()))
    }

    fn download_chunked_tuple(&self, conn: &mut Connection, size: Object, chunk_size: Object) -> Result<Value> {
        Ok(Value::Tuple(chunks(conn, &size, &chunk_size, self.payload)?.into_iter().map(Value::from).collect()))
    }

    fn cpu_work(&self, conn: &mut Connection, #[rpyc(default = 100_000)] iterations: Object) -> Result<String> {
        not_negative(conn, "iterations", &iterations)?;
        let n = ops::index(conn, &iterations)?;
        Ok(cpu_work_until(n.to_u64().unwrap_or(u64::MAX), || conn.peer_gone()))
    }

    fn io_work(&self, conn: &mut Connection, #[rpyc(default = 0.01)] delay: Object) -> Result<&'static str> {
        not_negative(conn, "delay", &delay)?;
        sleep(conn, &delay)?;
        Ok("data")
    }

    fn get_user(&self, conn: &mut Connection, id: Object) -> Result<Object> {
        Ok(User::new(conn, id)?.lend())
    }

    fn get_users(&self, conn: &mut Connection, n: Object) -> Result<Object> {
        not_negative(conn, "n", &n)?;
        let n = ops::index(conn, &n)?;
        let n = n.to_usize().unwrap_or(usize::MAX);
        within_budget(conn, "the users", (n as u64).saturating_mul(USER_BYTES))?;
        let mut users = with_capacity(n)?;
        for i in 0..n {
            users.push(User::new(conn, Object::from(i as i64))?.lend());
        }
        Ok(List::lend(users))
    }

    fn get_user_dict(&self, conn: &mut Connection, id: Object) -> Result<Object> {
        let [id, name, email, status] = user_tuple(conn, &id)?;
        let keys = ["id", "name", "email", "status"].map(Object::from);
        Ok(Dict::lend(keys.into_iter().zip([id, name, email, status]).collect()))
    }

    fn get_user_tuple(&self, conn: &mut Connection, id: Object) -> Result<Object> {
        Ok(Object::tuple(user_tuple(conn, &id)?.into()))
    }

    fn get_users_batch(&self, conn: &mut Connection, ids: Object) -> Result<Object> {
        let mut users = Vec::new();
        let mut ids = ops::iterate(conn, &ids)?;
        while let Some(id) = ids.next(conn)? {
            // A one-byte id becomes a 4-tuple with two strings: checked as it grows,
            // since the ids may come one by one from the client.
            within_budget(conn, "the user tuples", (users.len() as u64 + 1).saturating_mul(USER_TUPLE_BYTES))?;
            users.push(Object::tuple(user_tuple(conn, &id)?.into()));
        }
        Ok(Object::tuple(users))
    }

    fn nested(&self, conn: &mut Connection, depth: Object, callback: Object) -> Result<Object> {
        if ops::compare_bool(conn, &depth, &0.into(), CmpOp::Eq)? {
            return Ok(0.into());
        }
        let below = ops::binary(conn, &depth, &1.into(), BinOp::Sub)?;
        let answer = ops::call(conn, &callback, Args { positional: [below].into(), kwargs: Vec::new() })?;
        ops::binary(conn, &answer, &1.into(), BinOp::Add)
    }

    fn raise_error(&self, conn: &mut Connection, kind: Object, message: Object) -> Result<Object> {
        Err(raise_error(conn, &kind, &message))
    }
}

/// Exceptions that would end the server rather than travel to the client.
const REFUSED: &[&str] = &["SystemExit", "KeyboardInterrupt", "GeneratorExit"];

/// `_not_negative(name, value)`: `value < 0` as Python compares it.
fn not_negative(conn: &mut Connection, name: &str, value: &Object) -> Result<()> {
    if ops::compare_bool(conn, value, &0.into(), CmpOp::Lt)? {
        return Err(Error::raise("ValueError", format!("{name} must not be negative")));
    }
    Ok(())
}

/// `_user_tuple(id)`: `(id, f"user{id}", f"user{id}@example.com", "active")`.
fn user_tuple(conn: &mut Connection, id: &Object) -> Result<[Object; 4]> {
    let text = ops::format(conn, id)?;
    Ok([id.clone(), format!("user{text}").into(), format!("user{text}@example.com").into(), "active".into()])
}

/// `_pattern(size)`: `(block * (size // len(block) + 1))[:size]` with the block of
/// `kind`, each step with Python's conversions and errors, without building the
/// repeated block.
fn pattern(conn: &mut Connection, size: &Object, kind: PayloadKind) -> Result<Vec<u8>> {
    not_negative(conn, "size", size)?;
    let block = Object::from(kind.block().len() as i64);
    let blocks = ops::binary(conn, size, &block, BinOp::FloorDiv)?;
    let blocks = ops::binary(conn, &blocks, &1.into(), BinOp::Add)?;
    let blocks = match ops::int_of(&blocks) {
        Some(n) => n,
        None => {
            return Err(Error::raise(
                "TypeError",
                format!("can't multiply sequence by non-int of type '{}'", ops::type_name(&blocks)),
            ))
        }
    };
    let repeated = blocks.to_u64().and_then(|n| n.checked_mul(kind.block().len() as u64));
    let repeated = repeated
        .filter(|n| *n <= isize::MAX as u64)
        .ok_or_else(|| Error::raise("OverflowError", "repeated bytes are too long"))?;
    // `[:size]`: the stop of a slice, clamped to the length.
    let stop = ops::index(conn, size)?.to_u64().unwrap_or(u64::MAX).min(repeated);
    if stop > MAX_PAYLOAD {
        // Python would try to build it and fail to send it; this side stops first.
        return Err(Error::Remote(Box::new(RemoteException::builtin_args("MemoryError", Vec::new()))));
    }
    // Checked before the bytes are made: a client that asks for many large downloads
    // and reads none would otherwise hold the server's memory with 20 bytes a request.
    within_budget(conn, "the requested bytes", stop)?;
    let mut data = with_capacity(stop as usize)?;
    crate::wire::pages::advise_huge_pages(data.as_ptr(), data.capacity());
    kind.extend(&mut data, stop as usize);
    Ok(data)
}

/// `_chunks(size, chunk_size)`.
/// The chunks are slices of one payload: made once, never copied.
fn chunks(conn: &mut Connection, size: &Object, chunk_size: &Object, kind: PayloadKind) -> Result<Vec<Bytes>> {
    not_negative(conn, "size", size)?;
    if ops::compare_bool(conn, chunk_size, &1.into(), CmpOp::Lt)? {
        return Err(Error::raise("ValueError", "chunk_size must be positive"));
    }
    let data = Bytes::from(pattern(conn, size, kind)?);
    // `range(0, size, chunk_size)`: both must be integers.
    let (end, step) = (ops::index(conn, size)?, ops::index(conn, chunk_size)?);
    let step = step.to_usize().unwrap_or(usize::MAX).max(1);
    let end = end.to_usize().unwrap_or(usize::MAX).min(data.len());
    // A chunk of one byte costs a handle, a value and an object: 100 MiB in 1-byte
    // chunks would take gigabytes.
    let per_chunk = (std::mem::size_of::<Bytes>() + std::mem::size_of::<Value>() + 32) as u64;
    within_budget(conn, "the chunks", (end.div_ceil(step) as u64).saturating_mul(per_chunk) + end as u64)?;
    let mut out = with_capacity(end.div_ceil(step))?;
    out.extend((0..end).step_by(step).map(|at| data.slice(at..end.min(at.saturating_add(step)))));
    Ok(out)
}

/// `time.sleep(delay)`, with its conversions and errors; it ends early when the client
/// has gone, as nobody is left to answer.
fn sleep(conn: &mut Connection, delay: &Object) -> Result<()> {
    // Nanoseconds must fit a signed 64-bit count (CPython's _PyTime_t).
    const MAX_SECONDS: f64 = i64::MAX as f64 / 1e9;
    let seconds = match delay {
        Object::Value(Value::Float(x)) if x.is_nan() => {
            return Err(Error::raise("ValueError", "Invalid value NaN (not a number)"))
        }
        Object::Value(Value::Float(x)) if *x >= MAX_SECONDS => {
            return Err(Error::raise("OverflowError", "timestamp out of range for platform time_t"))
        }
        Object::Value(Value::Float(x)) => *x,
        other => {
            let n = ops::index(conn, other)?;
            match n.to_f64().filter(|n| *n < MAX_SECONDS) {
                Some(n) => n,
                None => return Err(Error::raise("OverflowError", "timestamp too large to convert to C _PyTime_t")),
            }
        }
    };
    let end = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        if conn.peer_gone() {
            return Err(Error::Closed { peer: conn.peer().to_owned(), doing: "sleeping in io_work" });
        }
        std::thread::sleep(left.min(PEER_CHECK));
    }
    Ok(())
}

/// How often long operations look whether their client is still there.
const PEER_CHECK: Duration = Duration::from_millis(100);

/// `raise_error(kind, message)`: the error to raise, as the twin picks it.
fn raise_error(conn: &mut Connection, kind: &Object, message: &Object) -> Error {
    let class = match kind {
        Object::Value(Value::Str(name)) => BuiltinException::named(name),
        _ => None,
    };
    let Some(class) = class else {
        return match ops::format(conn, kind) {
            Ok(text) => Error::raise("ValueError", format!("unknown exception kind: {text}")),
            Err(e) => e,
        };
    };
    let kind = kind.as_str().unwrap_or_default();
    if REFUSED.iter().any(|r| class.is_subclass_of(r)) {
        return Error::raise("ValueError", format!("refused exception kind: {kind}"));
    }
    if let Family::NoSingleArgument(text) = class.family {
        return Error::raise("TypeError", text);
    }
    // Vinegar sends a simple argument as it is and anything else as its repr.
    let arg = match message {
        Object::Value(v) => v.clone(),
        other => match ops::repr(conn, other) {
            Ok(text) => Value::Str(text),
            Err(e) => return e,
        },
    };
    Error::Remote(Box::new(RemoteException::builtin_args(class.name, vec![arg])))
}

/// The bytes `download` repeats by default: the [`PayloadKind::Incompressible`] block,
/// 64 KiB of SHA-256 in counter mode (32-byte block `i` is `sha256(b"rpycbench payload"
/// + i as 4 big-endian bytes)`), built the same way by the Python twin.
pub fn payload_block() -> &'static [u8] {
    PayloadKind::Incompressible.block()
}

/// The payload of `size` bytes the built-in service's `download` returns by default:
/// the incompressible [`payload_block`] repeated ([`PayloadKind::bytes`] for the others).
pub fn payload(size: u64) -> Vec<u8> {
    PayloadKind::Incompressible.bytes(size)
}

/// The largest payload a reply frame can carry: its length is a u32, and the message
/// envelope around the bytes takes a few of them.
const MAX_PAYLOAD: u64 = u32::MAX as u64 - 64;

/// What one lent `User` of `get_users` takes: its slot in the list, the object behind
/// its reference count, its type name's and its text's heap blocks.
const USER_BYTES: u64 = (std::mem::size_of::<Object>() + std::mem::size_of::<User>() + 16 + 2 * 32) as u64;

/// What one `(id, name, email, "active")` of `get_users_batch` takes: the tuple's four
/// values, the two strings' heap blocks and the tuple's own.
const USER_TUPLE_BYTES: u64 = (5 * std::mem::size_of::<Value>() + 3 * 32) as u64;

/// Fails with the `MemoryError` a client gets when what it asks for, `bytes` large,
/// would not fit the connection's memory budget ([`crate::wire::Limits`]).
fn within_budget(conn: &Connection, what: &'static str, bytes: u64) -> Result<()> {
    let budget = conn.config().limits.max_connection_memory;
    if bytes > budget as u64 {
        return Err(Error::MemoryBudget { what, needed: bytes, budget });
    }
    Ok(())
}

/// An empty vector with room for `n` items, or the MemoryError Python would raise:
/// Rust aborts the whole process when an allocation fails, and one client's absurd
/// `get_users(2**62)` must not end everyone's server.
fn with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::Remote(Box::new(RemoteException::builtin_args("MemoryError", Vec::new()))))?;
    Ok(v)
}

/// SHA-256 applied `iterations` times starting from `b"start"`; the first 16 hex digits.
pub fn cpu_work(iterations: u64) -> String {
    cpu_work_until(iterations, || false)
}

/// [`cpu_work`], given up (with an empty answer nobody reads) once `gone()` says the
/// client has left; it is asked every 2^16 rounds, a few milliseconds apart.
fn cpu_work_until(iterations: u64, mut gone: impl FnMut() -> bool) -> String {
    let hex = |bytes: &[u8]| bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
    if iterations == 0 {
        return hex(b"start");
    }
    let mut digest: [u8; 32] = Sha256::digest(b"start").into();
    for i in 1..iterations {
        digest = Sha256::digest(digest).into();
        if i & 0xffff == 0 && gone() {
            return String::new();
        }
    }
    hex(&digest)
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
        let data = super::payload(300_000);
        assert_eq!((&data[..block.len()], &data[block.len()..2 * block.len()]), (block, block));
        // At rpyc's level (1), as Python compresses frames over 3000 bytes.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        z.write_all(&data).unwrap();
        let compressed = z.finish().unwrap().len();
        assert!(compressed as f64 > 0.99 * data.len() as f64, "{} bytes compressed to {compressed}", data.len());
    }
}
