//! Comparing results: is the new run slower than the old one, beyond a threshold, with
//! confidence? And did the wire traffic per request grow?
//!
//! # The method, precisely
//!
//! Every benchmark runs as rounds (see [`rounds`](super::rounds)), and each round keeps
//! its median latency. For a distribution (a latency, or one payload size), with
//! `m₁ … mₐ` the old run's round medians and `n₁ … n_b` the new run's:
//!
//! 1. Take logarithms, `xᵢ = ln mᵢ` and `yⱼ = ln nⱼ`: the comparison is relative, and a
//!    ratio's interval symmetric.
//! 2. The estimate is `R = exp(ȳ − x̄)`, the ratio of the geometric means of the round
//!    medians.
//! 3. The 95 % interval is Welch's t interval of `ȳ − x̄`, exponentiated:
//!    `exp(ȳ − x̄ ± t₀.₉₇₅(ν) · √(s²ₓ/a + s²ᵧ/b))`, with the Welch–Satterthwaite degrees of
//!    freedom `ν`. The spread of the rounds carries the noise of the machine (other jobs'
//!    load, frequency, scheduling), so a noisy run gets a wide interval.
//! 4. With threshold `t` (10 % by default): **regressed** when the interval's lower bound
//!    exceeds `1 + t`; **improved** when its upper bound is below `1 − t`;
//!    **inconclusive** when it straddles `1 + t` (the data can neither show nor rule out
//!    a regression; the report gives the noise as `±X %`); otherwise **no change**.
//!
//! The statistics' own tests check, over thousands of seeded trials of synthetic rounds
//! whose between-round variance is known, that the interval covers the true ratio 93–97 %
//! of the time, and that the within-run bootstrap the tool used before (kept for results
//! without rounds, see [`bootstrap`]) does not.
//!
//! **Paired** comparisons (`rpycbench ab`) alternate short blocks of requests between
//! two servers, so the machine's noise falls on both alike; the interval is the t
//! interval of the mean of `ln(bᵢ / aᵢ)` over the block pairs.
//!
//! **Wire counts** are exact: round trips and references received per request must not
//! rise at all, bytes per request not beyond the threshold; each change is its own line.
//!
//! **The machine.** Results carry a [`MachineReference`](super::MachineReference): a
//! raw loopback round trip and a CPU loop timed beside the rounds. A comparison warns
//! when the machine moved by more than the threshold, and when the rest of the machine
//! was busier in one run by half a core or more ([`REGIME_LOAD_POINTS`]): the scheduler
//! then places client and server differently (on one CPU or on two). In that case a
//! verdict is withheld (inconclusive) where the price of that placement change, once per
//! round trip of a request, is half the threshold of the request's median or more
//! (`machine_effect`). An idle and a busy run of a 20 µs `ping` are thus never
//! compared, while a 1 ms request still is. With `--normalize` each latency ratio is
//! divided by the machine's own instead (for a baseline from another machine).

mod bench;
pub mod bootstrap;
#[cfg(test)]
mod coverage;
mod interval;
mod rng;
mod student_t;
#[cfg(test)]
mod tests;

pub use bench::{
    compare, compare_sets, compare_sets_with, compare_with, BenchComparison, Counts, Options, SeriesComparison,
    SetComparison, WireComparison, THRESHOLD_PARAM,
};
pub(crate) use bench::{environment_warnings, signed_pct};
pub use interval::{Change, Method, RatioInterval, CONFIDENCE};

use super::BenchResult;

/// What an inconclusive verdict (too noisy to tell) does to a CI gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InconclusivePolicy {
    /// Fails the gate with its own exit status: a noisy runner never passes silently.
    #[default]
    Fail,
    /// Prints the verdict loudly and passes.
    Warn,
}

impl std::str::FromStr for InconclusivePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "fail" => Ok(InconclusivePolicy::Fail),
            "warn" => Ok(InconclusivePolicy::Warn),
            other => Err(format!("'{other}': expected fail or warn")),
        }
    }
}

/// `new / old` of the two runs' reference round trips, when both have one.
pub(crate) fn machine_shift(old: &BenchResult, new: &BenchResult) -> Option<f64> {
    let rtt = |r: &BenchResult| r.machine.as_ref().and_then(|m| m.loopback_rtt());
    let (o, n) = (rtt(old)?, rtt(new)?);
    (o > 0).then(|| n as f64 / o as f64)
}

/// Other load (percent of one core) that marks two runs as made in different
/// placement regimes: half a core. Another job's busy loop is a whole one.
pub const REGIME_LOAD_POINTS: f64 = 50.0;

/// How far the machine alone could move one request between the runs, in ns, when the
/// runs were made under different loads (see [`REGIME_LOAD_POINTS`]): the price of a
/// change of placement (a round trip across CPUs against one on a CPU), once per round
/// trip of a request (from the wire counts; one when unknown). `None` when the loads
/// were alike or either run lacks the figures.
pub(crate) fn machine_effect(old: &BenchResult, new: &BenchResult) -> Option<u64> {
    let (o, n) = (old.machine.as_ref()?, new.machine.as_ref()?);
    if (o.other_load_pct? - n.other_load_pct?).abs() < REGIME_LOAD_POINTS {
        return None;
    }
    let cost = o.placement_cost()?.max(n.placement_cost()?);
    let trips = new.wire.as_ref().map_or(1.0, |w| w.round_trips_per_request.max(1.0));
    Some((cost as f64 * trips) as u64)
}

/// A warning when the machine itself moved between the runs: its round trip by more
/// than the threshold, or the rest of its load by half a core or more.
fn machine_warning(old: &BenchResult, new: &BenchResult, threshold_pct: f64) -> Option<String> {
    let (o, n) = (old.machine.as_ref()?, new.machine.as_ref()?);
    let mut moved = Vec::new();
    if let Some(shift) = machine_shift(old, new).filter(|s| (s - 1.0).abs() * 100.0 > threshold_pct) {
        moved.push(format!(
            "its reference round trip across CPUs was {}, now {} ({})",
            super::format_ns(o.loopback_rtt().unwrap_or(0)),
            super::format_ns(n.loopback_rtt().unwrap_or(0)),
            signed_pct(shift)
        ));
    }
    if let (Some(lo), Some(ln)) = (o.other_load_pct, n.other_load_pct) {
        if (lo - ln).abs() >= REGIME_LOAD_POINTS {
            moved.push(format!(
                "the rest of the machine used {lo:.0} % of a core, now {ln:.0} % (client and server then share \
                 CPUs differently; fast requests are not comparable)"
            ));
        }
    }
    (!moved.is_empty()).then(|| {
        format!(
            "WARNING: the machine moved between the runs: {}; compare runs made alike, or use --normalize for a \
             baseline from another machine",
            moved.join("; ")
        )
    })
}
