//! Paired A/B: two servers measured in one loop, so the machine's noise falls on both.
//!
//! Runs of one server after the other see different moments of a shared machine (other
//! jobs' load, frequency, where the scheduler put things), and on a CI runner those
//! moments differ by more than the change being looked for. Here short blocks of
//! requests alternate between the two servers, `A B B A A B …` (each pair in the other
//! order than the last, so a drift during a pair favours neither), and each pair gives
//! one ratio of block medians: what the machine did during the pair is in both blocks
//! and divides out. The interval is the t interval of the mean log ratio over the
//! pairs ([`RatioInterval::paired`]).

use super::run::{closed_loop, RoundTiming, RoundedSeries, Session, Stop};
use super::{Client, Target};
use crate::error::Result;
use crate::metrics::compare::RatioInterval;
use crate::metrics::{now_rfc3339, BenchKind, BenchResult, LatencyHistogram, OutcomeCounter, WireStats};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Block pairs unless told otherwise: 40 ratios give a t interval with 39 degrees of
/// freedom.
pub const DEFAULT_PAIRS: u32 = 40;
/// Requests per block unless told otherwise: enough for a stable block median, short
/// enough that the machine changes little during a pair.
pub const DEFAULT_BLOCK_REQUESTS: u64 = 50;

/// A paired comparison of server B (the candidate) with server A (the reference), the
/// same request on both.
///
/// ```no_run
/// use rpycbench::bench::{Paired, Target};
/// # let (a, b) = ("127.0.0.1:18861".parse().unwrap(), "127.0.0.1:18862".parse().unwrap());
/// let ab = Paired::new("ping").run(&Target::address(a), &Target::address(b), |conn| {
///     conn.call("ping", ())?;
///     Ok(())
/// });
/// if let Some(ci) = ab.interval {
///     println!("B/A = {:.3} ({:.3} to {:.3})", ci.ratio, ci.lower, ci.upper);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Paired {
    name: String,
    pairs: u32,
    block_requests: u64,
    warmup: u64,
}

/// What a paired run measured.
#[derive(Clone, Debug)]
pub struct PairedResult {
    /// Server A's figures, its blocks as rounds.
    pub a: BenchResult,
    /// Server B's figures, its blocks as rounds.
    pub b: BenchResult,
    /// `ln(median_B / median_A)` of each pair in which both blocks had a success.
    pub log_ratios: Vec<f64>,
    /// B/A with its interval; `None` with fewer than two usable pairs.
    pub interval: Option<RatioInterval>,
}

impl Paired {
    /// [`DEFAULT_PAIRS`] pairs of [`DEFAULT_BLOCK_REQUESTS`]-request blocks, after 10
    /// warm-up requests on each server.
    pub fn new(name: impl Into<String>) -> Self {
        Paired { name: name.into(), pairs: DEFAULT_PAIRS, block_requests: DEFAULT_BLOCK_REQUESTS, warmup: 10 }
    }

    /// Block pairs (at least 2: an interval needs two ratios).
    pub fn pairs(mut self, n: u32) -> Self {
        self.pairs = n.max(2);
        self
    }

    /// Requests per block (at least 1).
    pub fn block_requests(mut self, n: u64) -> Self {
        self.block_requests = n.max(1);
        self
    }

    /// Unmeasured requests on each server first.
    pub fn warmup(mut self, n: u64) -> Self {
        self.warmup = n;
        self
    }

    /// Runs `f` against A and B in alternating blocks.
    pub fn run<C: Client, F: FnMut(&mut C) -> Result<()>>(
        &self,
        a: &Target<C>,
        b: &Target<C>,
        mut f: F,
    ) -> PairedResult {
        let mut sides = [Side::new(a), Side::new(b)];
        for side in &mut sides {
            side.session.ready();
            let mut ignored = (LatencyHistogram::new(), OutcomeCounter::default());
            closed_loop(&mut side.session, Stop::Requests(self.warmup), &mut f, &mut ignored.0, &mut ignored.1);
            side.before = side.session.counters();
        }
        let begin = Instant::now();
        let mut log_ratios = Vec::with_capacity(self.pairs as usize);
        for pair in 0..self.pairs {
            let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut medians = [0u64; 2];
            for i in order {
                medians[i] = sides[i].block(self.block_requests, begin, &mut f);
            }
            if medians.iter().all(|m| *m > 0) {
                log_ratios.push((medians[1] as f64 / medians[0] as f64).ln());
            }
        }
        let interval = RatioInterval::paired(&log_ratios);
        let [a, b] = sides.map(|side| side.finish(&self.name, self));
        PairedResult { a, b, log_ratios, interval }
    }
}

/// One server's half of a paired run.
struct Side<'t, C> {
    target: &'t Target<C>,
    session: Session<'t, C>,
    series: RoundedSeries,
    outcomes: OutcomeCounter,
    measured: Duration,
    before: crate::client::WireCounters,
    started_at: String,
}

impl<'t, C: Client> Side<'t, C> {
    fn new(target: &'t Target<C>) -> Self {
        Side {
            target,
            // No deadline: `ab` runs its blocks to the end, but a dead or stopped
            // server, or an interrupt, still ends them early.
            session: Session::new(target, &super::guard::Guard::new(target, None)),
            series: RoundedSeries::default(),
            outcomes: OutcomeCounter::default(),
            measured: Duration::ZERO,
            before: Default::default(),
            started_at: now_rfc3339(),
        }
    }

    /// Runs one block; returns its median (0 when nothing succeeded).
    fn block<F: FnMut(&mut C) -> Result<()>>(&mut self, requests: u64, begin: Instant, f: &mut F) -> u64 {
        let (mut hist, failed) = (LatencyHistogram::new(), self.outcomes.failures());
        let start = Instant::now();
        closed_loop(&mut self.session, Stop::Requests(requests), f, &mut hist, &mut self.outcomes);
        let wall = start.elapsed();
        self.measured += wall;
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.series.add(&hist, RoundTiming::new(nanos(start - begin), nanos(wall)), self.outcomes.failures() - failed);
        if hist.is_empty() {
            0
        } else {
            hist.stats().p50_ns
        }
    }

    fn finish(mut self, name: &str, paired: &Paired) -> BenchResult {
        let wire = self.session.wire_since(self.before, self.outcomes.attempts());
        self.session.close();
        let outcomes = self.outcomes.outcomes();
        let wall = self.measured.as_secs_f64();
        let mut params = BTreeMap::new();
        params.insert("paired_blocks".to_owned(), paired.pairs.into());
        params.insert("block_requests".to_owned(), paired.block_requests.into());
        BenchResult {
            name: name.to_owned(),
            kind: BenchKind::Latency,
            server: self.target.info().clone(),
            params,
            environment: self.target.environment(),
            started_at: self.started_at,
            wall_time_ns: u64::try_from(self.measured.as_nanos()).unwrap_or(u64::MAX),
            load_model: None,
            latency: Some(self.series.stats()),
            throughput_rps: Some(if wall > 0.0 { outcomes.successes as f64 / wall } else { 0.0 }),
            outcomes,
            sizes: Vec::new(),
            clients: None,
            system: None,
            wire: wire.map(|(c, n)| WireStats::from_counters(&c, n)),
            machine: None,
            ended_early: self.session.guard().ended(),
            wall_clock: None,
            merged: None,
        }
    }
}
