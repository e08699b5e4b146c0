//! Latency percentile distributions: one chart per benchmark, one curve per server, on
//! a "nines" axis (90 %, 99 %, 99.9 % equally spaced) and a log latency axis, read from
//! the stored HdrHistograms.

use super::{decade_range, draw_svg, font, log_labels, style_mesh, tick_ns, Figure, Key, Palette, PlotError};
use super::{HEIGHT, WIDTH};
use crate::metrics::{BenchResult, ResultSet};
use crate::report::sweep::{is_sweep, name_prefix};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Points per curve: smooth at this width, small in the page.
const POINTS: usize = 240;
/// The deepest percentile drawn: 99.999 %.
const MAX_NINES: f64 = 5.0;

/// One curve.
struct Curve {
    label: String,
    colour: RGBColor,
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

/// The curve of one result: latency at quantile `1 − 10^−x` for `x` up to the depth its
/// sample count supports (beyond it every quantile is the maximum).
fn curve(r: &BenchResult, label: String, colour: RGBColor) -> Option<Curve> {
    let stats = r.latency.as_ref().filter(|l| l.count > 0)?;
    let hist = stats.histogram().ok()?;
    let depth = (stats.count as f64).log10().clamp(1.0, MAX_NINES);
    let points = (0..=POINTS)
        .map(|i| {
            let x = depth * i as f64 / POINTS as f64;
            let q = (1.0 - 10f64.powf(-x)).clamp(0.0, 1.0);
            (x, hist.quantile_ns(q).max(1) as f64)
        })
        .collect();
    Some(Curve { label, colour, points })
}

/// One figure per benchmark (name before `[`) with a latency distribution; sweeps are
/// plotted by [`sweep_figures`](super::sweep_figures) instead.
pub fn percentile_figures(results: &ResultSet, palette: &Palette) -> Vec<Figure> {
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
            let curves: Vec<Curve> = members
                .iter()
                .filter_map(|r| {
                    let same_mode = members.iter().filter(|m| m.server.mode == r.server.mode).count();
                    let label = if same_mode > 1 { r.name.clone() } else { r.server.mode.clone() };
                    curve(r, label, palette.colour(&r.server.mode))
                })
                .collect();
            if curves.is_empty() {
                return None;
            }
            let svg = draw(&curves).unwrap_or_else(|e| error_svg(&e));
            let legend = curves.iter().map(|c| Key::solid(c.label.clone(), c.colour)).collect();
            Some(Figure {
                title: format!("{prefix}: latency distribution"),
                caption: "Latency at each percentile, tail to the right; curves end where the sample runs out. Lower is better.".into(),
                svg,
                legend,
            })
        })
        .collect()
}

fn draw(curves: &[Curve]) -> Result<String, PlotError> {
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = decade_range(lo, hi);
    let depth = curves.iter().filter_map(|c| c.points.last()).map(|p| p.0).fold(1.0, f64::max).ceil();
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..depth, (lo..hi).log_scale())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(depth as usize + 1)
            .y_labels(log_labels(lo, hi))
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&|y| tick_ns(*y))
            .x_desc("percentile")
            .y_desc("latency (log scale)")
            .draw()?;
        // The median has no tick of its own on the nines axis: mark it.
        let median_x = 2f64.log10();
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
        for c in curves {
            chart.draw_series(LineSeries::new(c.points.iter().copied(), c.colour.stroke_width(2)))?;
            if let Some(&last) = c.points.last() {
                chart.draw_series(std::iter::once(Circle::new(last, 3, c.colour.filled())))?;
            }
        }
        Ok(())
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

    #[test]
    fn the_nines_axis_reads_as_percentiles() {
        assert_eq!(nines_label(0.0), "min");
        assert_eq!(nines_label(1.0), "p90");
        assert_eq!(nines_label(2.0), "p99");
        assert_eq!(nines_label(3.0), "p99.9");
        assert_eq!(nines_label(2f64.log10()), "p50");
    }
}
