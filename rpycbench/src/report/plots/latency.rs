//! Latency percentile distributions: one chart per benchmark, one curve per server, on
//! a "nines" axis (90 %, 99 %, 99.9 % equally spaced) and a log latency axis, read from
//! the stored HdrHistograms.

use super::{
    draw_svg, font, log_ticks, nice_log_range, style_mesh, tick_ns, Figure, Key, Overlay, Palette, PlotError, Shape,
};
use super::{HEIGHT, WIDTH};
use crate::metrics::{format_ns, BenchResult, LatencyStats, ResultSet};
use crate::report::comparison::Comparison;
use crate::report::sweep::{is_sweep, name_prefix};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Points per curve: smooth at this width, small in the page.
const POINTS: usize = 240;
/// The deepest percentile drawn: 99.999 %.
const MAX_NINES: f64 = 5.0;

/// The percentiles people quote, on the nines axis (p50, p90, p99, …): each curve has
/// a point with its value there.
const QUOTED: [f64; 6] = [std::f64::consts::LOG10_2, 1.0, 2.0, 3.0, 4.0, 5.0];

/// One curve.
struct Curve {
    label: String,
    colour: RGBColor,
    /// The baseline's curve: dashed, hollow points.
    baseline: bool,
    points: Vec<(f64, f64)>,
}

/// `x` on the nines axis as a percentile: 1 → `p90`, 2 → `p99`, 0.301 → `p50`.
fn nines_label(x: f64) -> String {
    if x <= 0.0 {
        return "min".to_owned();
    }
    let pct = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{pct:.3}");
    format!("p{}", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The curve of one distribution: latency at quantile `1 − 10^−x` for `x` up to the
/// depth its sample count supports (beyond it every quantile is the maximum).
fn curve(stats: &LatencyStats, label: String, colour: RGBColor, baseline: bool) -> Option<Curve> {
    let stats = Some(stats).filter(|l| l.count > 0)?;
    let hist = stats.histogram().ok()?;
    let depth = (stats.count as f64).log10().clamp(1.0, MAX_NINES);
    // The grid, plus the quoted percentiles exactly, where the points with values go.
    let mut xs: Vec<f64> = (0..=POINTS).map(|i| depth * i as f64 / POINTS as f64).collect();
    xs.extend(QUOTED.iter().copied().filter(|x| *x < depth));
    xs.sort_by(f64::total_cmp);
    xs.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let points = xs
        .into_iter()
        .map(|x| {
            let q = (1.0 - 10f64.powf(-x)).clamp(0.0, 1.0);
            (x, hist.quantile_ns(q).max(1) as f64)
        })
        .collect();
    Some(Curve { label, colour, baseline, points })
}

/// The baseline of result `r` in `comparison`: its whole-run latency, when compared.
fn baseline_of<'c>(comparison: Option<&'c Comparison>, r: &BenchResult) -> Option<&'c LatencyStats> {
    comparison?.series.iter().find(|s| s.bench == r.name && s.label == "p50" && s.old.count > 0).map(|s| &s.old)
}

/// One figure per benchmark (name before `[`) with a latency distribution, each
/// result's baseline (from `comparison`) dashed beside it; sweeps are plotted by
/// [`sweep_figures`](super::sweep_figures) instead.
pub fn percentile_figures(results: &ResultSet, palette: &Palette, comparison: Option<&Comparison>) -> Vec<Figure> {
    let mut groups: Vec<(&str, Vec<&BenchResult>)> = Vec::new();
    let measured =
        |r: &&BenchResult| !is_sweep(r) && r.sizes.is_empty() && r.latency.as_ref().is_some_and(|l| l.count > 0);
    for r in results.results.iter().filter(measured) {
        let prefix = name_prefix(&r.name);
        match groups.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, members)) => members.push(r),
            None => groups.push((prefix, vec![r])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(prefix, members)| {
            let mut curves: Vec<Curve> = Vec::new();
            for r in &members {
                let same_mode = members.iter().filter(|m| m.server.mode == r.server.mode).count();
                let label = if same_mode > 1 { r.name.clone() } else { r.server.mode.clone() };
                let colour = palette.colour(&r.server.mode);
                let Some(now) = r.latency.as_ref().and_then(|l| curve(l, label.clone(), colour, false)) else {
                    continue;
                };
                curves.push(now);
                curves.extend(baseline_of(comparison, r).and_then(|old| curve(old, format!("{label} (baseline)"), colour, true)));
            }
            if curves.is_empty() {
                return None;
            }
            let svg = draw(&curves).unwrap_or_else(|e| error_svg(&e));
            let legend = curves.iter().map(|c| Key { label: c.label.clone(), colour: c.colour, dashed: c.baseline }).collect();
            let baseline = if curves.iter().any(|c| c.baseline) { " Dashed: the baseline." } else { "" };
            Some(Figure {
                title: format!("{prefix}: latency distribution"),
                caption: format!("Latency at each percentile, tail to the right; curves end where the sample runs out. Lower is better.{baseline}"),
                svg,
                legend,
            })
        })
        .collect()
}

fn draw(curves: &[Curve]) -> Result<String, PlotError> {
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = nice_log_range(lo, hi);
    let y_ticks = log_ticks(lo, hi, 8, tick_ns);
    let depth = curves.iter().filter_map(|c| c.points.last()).map(|p| p.0).fold(1.0, f64::max).ceil();
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..depth, (lo..hi).log_scale().with_key_points(y_ticks.clone()))?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(depth as usize + 1)
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&|y| tick_ns(*y))
            .x_desc("percentile")
            .y_desc("latency (log scale)")
            .draw()?;
        // The median has no tick of its own on the nines axis: mark it.
        let median_x = std::f64::consts::LOG10_2;
        chart.draw_series(DashedLineSeries::new(
            [(median_x, lo), (median_x, hi)],
            4,
            4,
            super::AXIS.stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            " p50",
            (median_x, hi),
            font(12).color(&super::MUTED).pos(Pos::new(HPos::Left, VPos::Top)),
        )))?;
        let mut overlay = Overlay::default();
        for c in curves {
            let style = c.colour.stroke_width(2);
            if c.baseline {
                chart.draw_series(DashedLineSeries::new(c.points.iter().copied(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(c.points.iter().copied(), style))?;
            }
            // Points at the percentiles people quote, and at the curve's end (its maximum).
            let last = c.points.len().saturating_sub(1);
            for (i, &(x, y)) in c.points.iter().enumerate() {
                let what = if i == last {
                    "max".to_owned()
                } else if QUOTED.contains(&x) {
                    nines_label(x)
                } else {
                    continue;
                };
                let title = format!("{} {what}: {}", c.label, format_ns(y as u64));
                overlay.point(chart.backend_coord(&(x, y)), Shape::Circle, 3, c.colour, !c.baseline, &title);
            }
        }
        Ok(overlay)
    })
}

/// A placeholder saying why a plot is missing, so the page never silently drops one.
pub(crate) fn error_svg(e: &PlotError) -> String {
    let text = crate::report::html::escape(&e.to_string());
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60" viewBox="0 0 {WIDTH} 60"><text x="10" y="35" fill="#dc2626" font-family="sans-serif" font-size="14">{text}</text></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::overlay::read;
    use crate::report::plots::NEUTRAL;

    #[test]
    fn the_nines_axis_reads_as_percentiles() {
        assert_eq!(nines_label(0.0), "min");
        assert_eq!(nines_label(1.0), "p90");
        assert_eq!(nines_label(2.0), "p99");
        assert_eq!(nines_label(3.0), "p99.9");
        assert_eq!(nines_label(2f64.log10()), "p50");
    }

    fn stats(scale: u64) -> LatencyStats {
        let mut h = crate::metrics::LatencyHistogram::new();
        for v in 1..=1000u64 {
            h.record_ns(v * scale);
        }
        h.stats()
    }

    #[test]
    fn the_baseline_is_drawn_dashed_beside_the_current_curve_and_every_point_says_its_value() {
        let now = curve(&stats(1000), "threaded".into(), NEUTRAL, false).expect("a curve");
        let old = curve(&stats(2000), "threaded (baseline)".into(), NEUTRAL, true).expect("a curve");
        let svg = draw(&[now, old]).expect("draws");
        let marks = read::marks(&svg, "circle");
        // p50, p90, p99 and the maximum of 1000 samples, for each curve.
        assert_eq!(marks.len(), 8, "{marks:?}");
        assert!(marks.iter().all(|(_, t)| t.is_some()), "a point without hover text: {marks:?}");
        let baseline: Vec<_> =
            marks.iter().filter(|(_, t)| t.as_deref().is_some_and(|t| t.contains("(baseline)"))).collect();
        assert_eq!(baseline.len(), 4, "{marks:?}");
        assert!(
            baseline.iter().all(|(tag, _)| read::attr(tag, "fill") == Some("#ffffff")),
            "baseline points are hollow"
        );
        assert!(marks.iter().any(|(_, t)| t.as_deref() == Some("threaded (baseline) p50: 1.00 ms")), "{marks:?}");
        let (_, y) = read::ticks(&svg);
        let mut unique = y.clone();
        unique.dedup();
        assert_eq!(unique, y, "two latency ticks read alike");
    }
}
