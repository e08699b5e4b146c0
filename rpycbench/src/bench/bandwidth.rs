//! Bandwidth: upload and download per payload size.

use super::guard::Guard;
use super::run::{closed_loop, size_result, Measurement, Parts, RoundedSeries, Rounds, Session, Stop};
use super::{BuiltinCalls, Client, Target};
use crate::error::Result;
use crate::metrics::{rounds, BenchKind, BenchResult, LatencyHistogram, OutcomeCounter, DEFAULT_ROUNDS};
use crate::server::PayloadKind;
use crate::Value;
use std::cell::RefCell;
use std::time::Duration;

/// Uploads and downloads over a list of payload sizes, `iterations` each, with
/// statistics kept per size: rates of different sizes are never averaged together.
/// The iterations run in rounds, each round a pass over every size and direction, so
/// each size's samples are spread over the whole run.
#[derive(Clone, Debug)]
pub struct Bandwidth {
    name: String,
    sizes: Vec<u64>,
    iterations: u32,
    warmup: u32,
    upload: bool,
    download: bool,
    rounds: u32,
    reference: bool,
    system: bool,
    deadline: Option<Duration>,
    payload: PayloadKind,
}

/// The predecessor's hard-coded sizes: 1 KiB to 1 MiB.
pub const DEFAULT_SIZES: [u64; 4] = [1 << 10, 10 << 10, 100 << 10, 1 << 20];

impl Bandwidth {
    /// Operations per size unless [`iterations`](Self::iterations) says otherwise.
    pub const DEFAULT_ITERATIONS: u32 = 10;
    /// Unmeasured operations per size, unless [`warmup`](Self::warmup) says otherwise.
    pub const DEFAULT_WARMUP: u32 = 1;

    /// 1 KiB, 10 KiB, 100 KiB and 1 MiB, 10 iterations each, upload and download.
    pub fn new(name: impl Into<String>) -> Self {
        Bandwidth {
            name: name.into(),
            sizes: DEFAULT_SIZES.to_vec(),
            iterations: Self::DEFAULT_ITERATIONS,
            warmup: Self::DEFAULT_WARMUP,
            upload: true,
            download: true,
            rounds: DEFAULT_ROUNDS,
            reference: true,
            system: true,
            deadline: None,
            payload: PayloadKind::default(),
        }
    }

    /// Rounds to spread the iterations over (at most one per iteration).
    pub fn rounds(mut self, n: u32) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Whether to time the machine reference before, between and after the rounds.
    pub fn machine_reference(mut self, on: bool) -> Self {
        self.reference = on;
        self
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

    /// Runs against the built-in service's `upload(data)` and `download(size)` (over
    /// RPyC, or their HTTP baseline routes).
    pub fn run_builtin<C: BuiltinCalls>(&self, target: &Target<C>) -> BenchResult {
        let mut r = self.run(target, |conn, data| conn.call_upload(data), |conn, size| conn.call_download(size));
        r.params.insert(crate::metrics::BUILTIN_METHODS_PARAM.into(), true.into());
        r
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
        m.param("rounds", self.rounds);
        m.param("payload", self.payload);
        m.param("client_compression", target.compression());
        let guard = Guard::new(target, self.deadline);
        let mut session = Session::new(target, &guard);
        let before = session.counters();
        let payloads: Vec<Value> = if self.upload {
            self.sizes.iter().map(|&size| Value::from(self.payload.bytes(size))).collect()
        } else {
            Vec::new()
        };
        // Each size's operation borrows the caller's functions; the rounds call one at a time.
        let (upload, download) = (RefCell::new(&mut upload), RefCell::new(&mut download));
        let (upload, download) = (&upload, &download);
        let mut series: Vec<SizeSeries<'_, C>> = Vec::new();
        for (i, &size) in self.sizes.iter().enumerate() {
            if self.upload {
                let payload = &payloads[i];
                series.push(SizeSeries::new(
                    "upload",
                    size,
                    None,
                    Box::new(move |c| (*upload.borrow_mut())(c, payload)),
                ));
            }
            if self.download {
                series.push(SizeSeries::new(
                    "download",
                    size,
                    None,
                    Box::new(move |c| (*download.borrow_mut())(c, size)),
                ));
            }
        }
        let mut parts = Parts::default();
        let mut rounds = Rounds::start(self.rounds, self.reference, target.reply_poll()).watched_by(&guard);
        run_sizes(&mut session, &mut series, self.warmup, self.iterations, &mut rounds);
        let (wall, machine) = rounds.finish();
        (parts.wall, parts.machine) = (Some(wall), machine);
        for s in &series {
            parts.outcomes.merge(&s.outcomes);
            parts.sizes.push(size_result(s.direction, s.size, s.chunk, &s.series, &s.outcomes));
        }
        parts.wire = session.wire_since(before, parts.outcomes.attempts());
        parts.ended_early = guard.ended();
        session.close();
        m.finish(&self.name, BenchKind::Bandwidth, parts)
    }
}

/// One operation of a size, borrowing the caller's functions.
pub(crate) type SizeOp<'a, C> = Box<dyn FnMut(&mut C) -> Result<()> + 'a>;

/// One size's operation and what was measured of it.
pub(crate) struct SizeSeries<'a, C> {
    pub(crate) direction: &'static str,
    pub(crate) size: u64,
    pub(crate) chunk: Option<u64>,
    op: SizeOp<'a, C>,
    pub(crate) series: RoundedSeries,
    pub(crate) outcomes: OutcomeCounter,
}

impl<'a, C> SizeSeries<'a, C> {
    pub(crate) fn new(direction: &'static str, size: u64, chunk: Option<u64>, op: SizeOp<'a, C>) -> Self {
        SizeSeries {
            direction,
            size,
            chunk,
            op,
            series: RoundedSeries::default(),
            outcomes: OutcomeCounter::per_operation(),
        }
    }
}

/// Warms every series up (`warmup` untimed operations each), then times `iterations`
/// operations of each in rounds: every round a pass over all series.
pub(crate) fn run_sizes<C: Client>(
    session: &mut Session<'_, C>,
    series: &mut [SizeSeries<'_, C>],
    warmup: u32,
    iterations: u32,
    rounds: &mut Rounds,
) {
    for s in series.iter_mut() {
        for _ in 0..warmup {
            if session.guard().stopped() {
                break;
            }
            let _ = session.run(&mut s.op);
        }
    }
    let per_round: Vec<u64> = rounds::split(u64::from(iterations), rounds.count()).collect();
    for n in per_round {
        let (hists, timing) = rounds.round(|| {
            series
                .iter_mut()
                .map(|s| {
                    let (mut hist, failed) = (LatencyHistogram::new(), s.outcomes.failures());
                    closed_loop(session, Stop::Requests(n), &mut s.op, &mut hist, &mut s.outcomes);
                    (hist, s.outcomes.failures() - failed)
                })
                .collect::<Vec<_>>()
        });
        for (s, (hist, failed)) in series.iter_mut().zip(hists) {
            s.series.add(&hist, timing, failed);
        }
    }
}
