//! Where axes put their ticks. plotters picks tick values by itself, which on a log
//! axis lands them on powers of the base (1/4/16/64 KiB) rather than on what was
//! measured, and can give two ticks the same short label; these pick them instead, for
//! `with_key_points`.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use std::ops::Range;

/// A linear axis ticked at given values. plotters' own `with_key_points` does this too,
/// but over a linear `f64` axis it loses the label formatter (its format option is not
/// the default one), so the mesh could not label it.
#[derive(Clone, Debug)]
pub(crate) struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    /// `range`, ticked at `ticks` (those outside it are not drawn).
    pub(crate) fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        let ticks = ticks.into_iter().filter(|t| range.contains(t) || *t == range.end).collect();
        Ticked { range, ticks }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let share = if span == 0.0 { 0.0 } else { (value - self.range.start) / span };
        limit.0 + ((limit.1 - limit.0) as f64 * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold lines only: the light grid between ticks would be noise.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
}

/// How far inside a range a tick may sit and still count as in it (rounding).
const SLACK: f64 = 1e-9;

/// The 1-2-5 steps: the round numbers a log axis reads well at.
const STEPS: [f64; 3] = [1.0, 2.0, 5.0];

/// Every `m · 10^k` for `m` in `mantissas` across the decades around `lo..hi`, ascending.
fn steps_around(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let (first, last) = (lo.max(f64::MIN_POSITIVE).log10().floor() as i32 - 1, hi.max(lo).log10().ceil() as i32 + 1);
    (first..=last).flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k))).collect()
}

/// A log-axis range around `lo..hi` whose ends are 1-2-5 steps: tight around the data
/// (no near-empty decade), yet starting and ending on a round value.
pub(crate) fn nice_log_range(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(1.0);
    let hi = hi.max(lo * 1.01);
    let steps = steps_around(lo, hi, &STEPS);
    let start = steps.iter().copied().filter(|s| *s <= lo * (1.0 + SLACK)).fold(lo, |_, s| s);
    let end = steps.iter().copied().find(|s| *s >= hi * (1.0 - SLACK)).unwrap_or(hi);
    (start, if end > start { end } else { start * 2.0 })
}

/// Ticks for a log axis over `lo..hi`: the 1-2-5 steps inside it, only powers of ten
/// when there are more than `max`, all of 1–9 when fewer than three fit; one tick per
/// distinct `label`, so no two ticks read alike.
pub(crate) fn log_ticks(lo: f64, hi: f64, max: usize, label: impl Fn(f64) -> String) -> Vec<f64> {
    let inside = |mantissas: &[f64]| -> Vec<f64> {
        steps_around(lo, hi, mantissas)
            .into_iter()
            .filter(|v| *v >= lo * (1.0 - SLACK) && *v <= hi * (1.0 + SLACK))
            .collect()
    };
    let mut ticks = inside(&STEPS);
    if ticks.len() > max {
        ticks = inside(&[1.0]);
    } else if ticks.len() < 3 {
        ticks = inside(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    }
    distinct(ticks, label)
}

/// Ticks at the data's own `values`, as they were measured: ascending, one per distinct
/// `label`, thinned to at most `max` so labels do not run into each other. `position`
/// maps a value to where it sits on the axis (its log for a log axis); thinning keeps
/// the first and last value and drops those closer than an even share of the span.
pub(crate) fn data_ticks(
    values: impl IntoIterator<Item = f64>,
    position: impl Fn(f64) -> f64,
    max: usize,
    label: impl Fn(f64) -> String,
) -> Vec<f64> {
    let mut all: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    all.sort_by(f64::total_cmp);
    let all = distinct(all, label);
    let (Some(&first), Some(&last)) = (all.first(), all.last()) else { return all };
    if all.len() <= max.max(2) {
        return all;
    }
    let gap = (position(last) - position(first)) / (max.max(2) - 1) as f64;
    let mut kept = vec![first];
    for &v in &all[1..] {
        // `kept` starts with one value and only grows.
        let previous = kept[kept.len() - 1];
        if position(v) - position(previous) >= gap * (1.0 - SLACK) && position(last) - position(v) >= gap * 0.5 {
            kept.push(v);
        }
    }
    if kept.last() != Some(&last) {
        kept.push(last);
    }
    kept
}

/// `ticks` with every tick whose label an earlier tick already has left out.
fn distinct(ticks: Vec<f64>, label: impl Fn(f64) -> String) -> Vec<f64> {
    let mut seen: Vec<String> = Vec::new();
    ticks
        .into_iter()
        .filter(|t| {
            let l = label(*t);
            let fresh = !seen.contains(&l);
            seen.push(l);
            fresh
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::tick_ns;
    use crate::table::format_bytes;

    #[test]
    fn log_ranges_end_on_round_steps_near_the_data() {
        assert_eq!(nice_log_range(250.0, 3000.0), (200.0, 5000.0));
        assert_eq!(nice_log_range(1000.0, 1000.0), (1000.0, 2000.0));
    }

    #[test]
    fn log_ticks_are_round_and_never_read_alike() {
        let ticks = log_ticks(200e3, 5e6, 8, tick_ns);
        let labels: Vec<String> = ticks.iter().map(|t| tick_ns(*t)).collect();
        assert_eq!(labels, ["200µs", "500µs", "1ms", "2ms", "5ms"]);
        // Labels that round alike count once.
        assert_eq!(log_ticks(9.999e6, 10.001e6, 8, |_| "10ms".into()).len(), 1);
        let wide = log_ticks(1.0, 1e9, 6, tick_ns);
        assert!(wide.len() <= 10 && wide.iter().all(|t| t.log10().fract().abs() < 1e-9), "{wide:?}");
    }

    #[test]
    fn data_ticks_are_the_measured_values_thinned() {
        let sizes = [1024.0, 10240.0, 102400.0, 1048576.0, 10485760.0];
        let ticks = data_ticks(sizes, f64::log2, 8, |v| format_bytes(v as u64));
        assert_eq!(ticks, sizes);
        let many: Vec<f64> = (0..20).map(|k| 2f64.powi(k)).collect();
        let thinned = data_ticks(many.clone(), f64::log2, 6, |v| format!("{v}"));
        assert!(thinned.len() <= 6 && thinned[0] == 1.0 && thinned.last() == many.last(), "{thinned:?}");
        assert!(thinned.iter().all(|t| many.contains(t)), "only measured values: {thinned:?}");
    }
}
