//! Transfer: large binary transfers, whole and chunked, per size and chunk size.

use super::bandwidth::{run_sizes, SizeSeries};
use super::guard::Guard;
use super::run::{size_result, Measurement, Parts, Rounds, Session};
use super::Target;
use crate::client::{Connection, Object, RemoteRef};
use crate::error::{Error, Result};
use crate::metrics::{BenchKind, BenchResult, DEFAULT_ROUNDS};
use crate::server::PayloadKind;
use crate::Value;
use std::cell::RefCell;
use std::time::Duration;

/// The four transfer operations; [`Transfer::run_builtin`] uses the built-in service's.
pub trait TransferOps {
    /// Sends `data` in one call.
    fn upload(&mut self, conn: &mut Connection, data: &Value) -> Result<()>;
    /// Sends `chunks`, lent to the server as a list it iterates with callbacks.
    fn upload_chunked(&mut self, conn: &mut Connection, chunks: &Object) -> Result<()>;
    /// Receives `size` bytes in one reply.
    fn download(&mut self, conn: &mut Connection, size: u64) -> Result<()>;
    /// Receives `size` bytes as chunks of `chunk` bytes.
    fn download_chunked(&mut self, conn: &mut Connection, size: u64, chunk: u64) -> Result<()>;
}

/// The built-in service's transfer methods.
pub struct BuiltinTransfer;

impl TransferOps for BuiltinTransfer {
    fn upload(&mut self, conn: &mut Connection, data: &Value) -> Result<()> {
        conn.call("upload", (data.clone(),)).map(drop)
    }
    fn upload_chunked(&mut self, conn: &mut Connection, chunks: &Object) -> Result<()> {
        conn.call("upload_chunked", (chunks.clone(),)).map(drop)
    }
    fn download(&mut self, conn: &mut Connection, size: u64) -> Result<()> {
        let got = conn.call("download", (size,))?;
        check_len(got.as_value().and_then(Value::as_bytes).map_or(0, <[u8]>::len) as u64, size)
    }
    fn download_chunked(&mut self, conn: &mut Connection, size: u64, chunk: u64) -> Result<()> {
        // The service returns a list: a reference, iterated one round trip per chunk.
        let list: RemoteRef = conn.call("download_chunked", (size, chunk))?.extract()?;
        let mut total = 0u64;
        for item in conn.iter(&list)? {
            total += item?.as_value().and_then(Value::as_bytes).map_or(0, <[u8]>::len) as u64;
        }
        check_len(total, size)
    }
}

fn check_len(got: u64, want: u64) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Type { expected: "the requested number of bytes", got: format!("{got} bytes instead of {want}") })
    }
}

/// Large transfers, upload and download, whole (one call) and chunked (`chunk_size`
/// pieces), per size: each size's payload is made once and chunks are slices of it.
#[derive(Clone, Debug)]
pub struct Transfer {
    name: String,
    sizes: Vec<u64>,
    chunk_size: u64,
    iterations: u32,
    upload: bool,
    download: bool,
    whole: bool,
    chunked: bool,
    rounds: u32,
    reference: bool,
    system: bool,
    deadline: Option<Duration>,
    payload: PayloadKind,
}

impl Transfer {
    /// File sizes unless [`sizes`](Self::sizes) says otherwise: 1 MiB and 10 MiB.
    pub const DEFAULT_SIZES: [u64; 2] = [1 << 20, 10 << 20];
    /// Chunk size of chunked transfers unless [`chunk_size`](Self::chunk_size) says otherwise.
    pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 10;
    /// Transfers per size and mode unless [`iterations`](Self::iterations) says otherwise.
    pub const DEFAULT_ITERATIONS: u32 = 3;

    /// 1 MiB and 10 MiB files, 64 KiB chunks, 3 iterations, every combination.
    pub fn new(name: impl Into<String>) -> Self {
        Transfer {
            name: name.into(),
            sizes: Self::DEFAULT_SIZES.to_vec(),
            chunk_size: Self::DEFAULT_CHUNK_SIZE,
            iterations: Self::DEFAULT_ITERATIONS,
            upload: true,
            download: true,
            whole: true,
            chunked: true,
            rounds: DEFAULT_ROUNDS,
            reference: true,
            system: true,
            deadline: None,
            payload: PayloadKind::default(),
        }
    }

    /// Rounds to spread the iterations over (at most one per iteration): each round a
    /// pass over every size, direction and mode.
    pub fn rounds(mut self, n: u32) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Whether to time the machine reference before, between and after the rounds.
    pub fn machine_reference(mut self, on: bool) -> Self {
        self.reference = on;
        self
    }

    /// File sizes in bytes.
    pub fn sizes(mut self, sizes: impl Into<Vec<u64>>) -> Self {
        self.sizes = sizes.into();
        self
    }

    /// Chunk size for chunked transfers.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Transfers per size, direction and mode.
    pub fn iterations(mut self, n: u32) -> Self {
        self.iterations = n;
        self
    }

    /// Which directions to measure.
    pub fn directions(mut self, upload: bool, download: bool) -> Self {
        self.upload = upload;
        self.download = download;
        self
    }

    /// Which modes to measure.
    pub fn modes(mut self, whole: bool, chunked: bool) -> Self {
        self.whole = whole;
        self.chunked = chunked;
        self
    }

    /// Ends the run this long after it starts, keeping what it measured (marked
    /// [`Deadline`](crate::metrics::StopReason::Deadline)); none by default. A stopped or
    /// dead server ends it sooner (see [`BREAKER_TIMEOUTS`](super::BREAKER_TIMEOUTS)).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// What the uploaded payloads are made of (default incompressible); recorded as
    /// the `payload` parameter, with the clients' compression as `client_compression`.
    /// Downloads are what the server sends: start the built-in server with the same
    /// kind ([`ServerSpec::payload`](crate::server::ServerSpec::payload)).
    pub fn payload(mut self, kind: PayloadKind) -> Self {
        self.payload = kind;
        self
    }

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs against the built-in service.
    pub fn run_builtin(&self, target: &Target) -> BenchResult {
        let mut r = self.run(target, &mut BuiltinTransfer);
        r.params.insert(crate::metrics::BUILTIN_METHODS_PARAM.into(), true.into());
        r
    }

    /// Runs with your transfer operations.
    pub fn run(&self, target: &Target, ops: &mut dyn TransferOps) -> BenchResult {
        let mut m = Measurement::start(target, self.system);
        m.param("sizes", &self.sizes);
        m.param("chunk_size", self.chunk_size);
        m.param("iterations", self.iterations);
        m.param("rounds", self.rounds);
        m.param("payload", self.payload);
        m.param("client_compression", target.compression());
        let guard = Guard::new(target, self.deadline);
        let mut session = Session::new(target, &guard);
        let before = session.counters();
        let chunk = self.chunk_size;
        // Every operation is made before the rounds, which pass over all of them; the
        // payloads of every size are held at once for that.
        let ops = RefCell::new(ops);
        let ops = &ops;
        let mut payloads: Vec<(u64, Value, Object)> = Vec::new();
        if self.upload {
            for &size in &self.sizes {
                // The chunks are slices of the whole payload, not copies of it.
                let data = crate::wire::Bytes::from(self.payload.bytes(size));
                let step = usize::try_from(chunk).unwrap_or(usize::MAX).max(1);
                let chunks = Object::list(
                    (0..data.len())
                        .step_by(step)
                        .map(|at| Object::from(Value::Bytes(data.slice(at..data.len().min(at.saturating_add(step))))))
                        .collect(),
                );
                payloads.push((size, Value::Bytes(data), chunks));
            }
        }
        let mut series: Vec<SizeSeries<'_, Connection>> = Vec::new();
        for &size in &self.sizes {
            if let Some((_, whole, chunks)) = payloads.iter().find(|p| p.0 == size) {
                if self.whole {
                    series.push(SizeSeries::new(
                        "upload",
                        size,
                        None,
                        Box::new(move |c| ops.borrow_mut().upload(c, whole)),
                    ));
                }
                if self.chunked {
                    series.push(SizeSeries::new(
                        "upload",
                        size,
                        Some(chunk),
                        Box::new(move |c| ops.borrow_mut().upload_chunked(c, chunks)),
                    ));
                }
            }
            if self.download {
                if self.whole {
                    series.push(SizeSeries::new(
                        "download",
                        size,
                        None,
                        Box::new(move |c| ops.borrow_mut().download(c, size)),
                    ));
                }
                if self.chunked {
                    series.push(SizeSeries::new(
                        "download",
                        size,
                        Some(chunk),
                        Box::new(move |c| ops.borrow_mut().download_chunked(c, size, chunk)),
                    ));
                }
            }
        }
        let mut parts = Parts::default();
        let mut rounds = Rounds::start(self.rounds, self.reference, target.reply_poll()).watched_by(&guard);
        run_sizes(&mut session, &mut series, 0, self.iterations, &mut rounds);
        let (wall, machine) = rounds.finish();
        (parts.wall, parts.machine) = (Some(wall), machine);
        for s in &series {
            parts.outcomes.merge(&s.outcomes);
            parts.sizes.push(size_result(s.direction, s.size, s.chunk, &s.series, &s.outcomes));
        }
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        parts.ended_early = guard.ended();
        session.close();
        m.finish(&self.name, BenchKind::Transfer, parts)
    }
}
