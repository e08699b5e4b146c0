//! Bandwidth: upload and download per payload size.

use super::run::{size_result, Measurement, Parts, Session};
use super::{BuiltinCalls, Client, Target};
use crate::error::Result;
use crate::metrics::{BenchKind, BenchResult, LatencyHistogram, OutcomeCounter};
use crate::Value;

/// Uploads and downloads over a list of payload sizes, `iterations` each, with
/// statistics kept per size: rates of different sizes are never averaged together.
#[derive(Clone, Debug)]
pub struct Bandwidth {
    name: String,
    sizes: Vec<u64>,
    iterations: u32,
    warmup: u32,
    upload: bool,
    download: bool,
    system: bool,
}

/// The predecessor's hard-coded sizes: 1 KiB to 1 MiB.
pub const DEFAULT_SIZES: [u64; 4] = [1 << 10, 10 << 10, 100 << 10, 1 << 20];

impl Bandwidth {
    /// 1 KiB, 10 KiB, 100 KiB and 1 MiB, 10 iterations each, upload and download.
    pub fn new(name: impl Into<String>) -> Self {
        Bandwidth {
            name: name.into(),
            sizes: DEFAULT_SIZES.to_vec(),
            iterations: 10,
            warmup: 1,
            upload: true,
            download: true,
            system: true,
        }
    }

    /// Payload sizes in bytes.
    pub fn sizes(mut self, sizes: impl Into<Vec<u64>>) -> Self {
        self.sizes = sizes.into();
        self
    }

    /// Operations per size and direction.
    pub fn iterations(mut self, n: u32) -> Self {
        self.iterations = n;
        self
    }

    /// Unmeasured operations per size and direction.
    pub fn warmup(mut self, n: u32) -> Self {
        self.warmup = n;
        self
    }

    /// Which directions to measure.
    pub fn directions(mut self, upload: bool, download: bool) -> Self {
        self.upload = upload;
        self.download = download;
        self
    }

    /// Whether to sample CPU and memory during the run (default on).
    pub fn sample_system(mut self, on: bool) -> Self {
        self.system = on;
        self
    }

    /// Runs against the built-in service's `upload(data)` and `download(size)` (over
    /// RPyC, or their HTTP baseline routes).
    pub fn run_builtin<C: BuiltinCalls>(&self, target: &Target<C>) -> BenchResult {
        self.run(target, |conn, data| conn.call_upload(data), |conn, size| conn.call_download(size))
    }

    /// Runs with your upload function (given the payload, built once per size before
    /// timing) and download function (given the size).
    pub fn run<C, U, D>(&self, target: &Target<C>, mut upload: U, mut download: D) -> BenchResult
    where
        C: Client,
        U: FnMut(&mut C, &Value) -> Result<()>,
        D: FnMut(&mut C, u64) -> Result<()>,
    {
        let mut m = Measurement::start(target, self.system);
        m.param("sizes", &self.sizes);
        m.param("iterations", self.iterations);
        m.param("warmup", self.warmup);
        let mut session = Session::new(target);
        let mut parts = Parts::default();
        let before = session.counters();
        for &size in &self.sizes {
            if self.upload {
                let payload = Value::Bytes(super::payload(size));
                let (hist, outcomes) =
                    measure(&mut session, self.warmup, self.iterations, &mut |c| upload(c, &payload));
                parts.outcomes.merge(&outcomes);
                parts.sizes.push(size_result("upload", size, None, &hist, &outcomes));
            }
            if self.download {
                let (hist, outcomes) = measure(&mut session, self.warmup, self.iterations, &mut |c| download(c, size));
                parts.outcomes.merge(&outcomes);
                parts.sizes.push(size_result("download", size, None, &hist, &outcomes));
            }
        }
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        session.close();
        m.finish(&self.name, BenchKind::Bandwidth, parts)
    }
}

/// Times `iterations` operations after `warmup` untimed ones.
pub(crate) fn measure<C: Client>(
    session: &mut Session<'_, C>,
    warmup: u32,
    iterations: u32,
    f: &mut dyn FnMut(&mut C) -> Result<()>,
) -> (LatencyHistogram, OutcomeCounter) {
    let mut op = |c: &mut C| f(c);
    for _ in 0..warmup {
        let _ = session.run(&mut op);
    }
    let mut hist = LatencyHistogram::new();
    let mut outcomes = OutcomeCounter::default();
    super::run::closed_loop(
        session,
        super::run::Stop::Requests(u64::from(iterations)),
        &mut op,
        &mut hist,
        &mut outcomes,
    );
    (hist, outcomes)
}
