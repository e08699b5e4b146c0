//! Transfer: large binary transfers, whole and chunked, per size and chunk size.

use super::bandwidth::measure;
use super::run::{size_result, Measurement, Parts, Session};
use super::Target;
use crate::client::{Connection, Object, RemoteRef};
use crate::error::{Error, Result};
use crate::metrics::{BenchKind, BenchResult};
use crate::Value;

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
    system: bool,
}

impl Transfer {
    /// 1 MiB and 10 MiB files, 64 KiB chunks, 3 iterations, every combination.
    pub fn new(name: impl Into<String>) -> Self {
        Transfer {
            name: name.into(),
            sizes: vec![1 << 20, 10 << 20],
            chunk_size: 64 << 10,
            iterations: 3,
            upload: true,
            download: true,
            whole: true,
            chunked: true,
            system: true,
        }
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

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs against the built-in service.
    pub fn run_builtin(&self, target: &Target) -> BenchResult {
        self.run(target, &mut BuiltinTransfer)
    }

    /// Runs with your transfer operations.
    pub fn run(&self, target: &Target, ops: &mut dyn TransferOps) -> BenchResult {
        let mut m = Measurement::start(target, self.system);
        m.param("sizes", &self.sizes);
        m.param("chunk_size", self.chunk_size);
        m.param("iterations", self.iterations);
        let mut session = Session::new(target);
        let mut parts = Parts::default();
        let before = session.counters();
        let chunk = self.chunk_size;
        for &size in &self.sizes {
            if self.upload {
                let data = super::payload(size);
                if self.whole {
                    let value = Value::Bytes(data.clone());
                    let (h, o) = measure(&mut session, 0, self.iterations, &mut |c| ops.upload(c, &value));
                    parts.outcomes.merge(&o);
                    parts.sizes.push(size_result("upload", size, None, &h, &o));
                }
                if self.chunked {
                    let chunks = Object::list(
                        data.chunks(chunk as usize).map(|c| Object::from(Value::Bytes(c.to_vec()))).collect(),
                    );
                    drop(data);
                    let (h, o) = measure(&mut session, 0, self.iterations, &mut |c| ops.upload_chunked(c, &chunks));
                    parts.outcomes.merge(&o);
                    parts.sizes.push(size_result("upload", size, Some(chunk), &h, &o));
                }
            }
            if self.download {
                if self.whole {
                    let (h, o) = measure(&mut session, 0, self.iterations, &mut |c| ops.download(c, size));
                    parts.outcomes.merge(&o);
                    parts.sizes.push(size_result("download", size, None, &h, &o));
                }
                if self.chunked {
                    let (h, o) =
                        measure(&mut session, 0, self.iterations, &mut |c| ops.download_chunked(c, size, chunk));
                    parts.outcomes.merge(&o);
                    parts.sizes.push(size_result("download", size, Some(chunk), &h, &o));
                }
            }
        }
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        session.close();
        m.finish(&self.name, BenchKind::Transfer, parts)
    }
}
