//! Baseline versus current: each compared distribution's median change with its 95 %
//! bootstrap interval, against the shaded no-change band of the threshold.

use super::latency::error_svg;
use super::{draw_svg, font, style_mesh, trim, Figure, Key, PlotError, BAD, GOOD, NEUTRAL, WARN};
use crate::metrics::compare::Change;
use crate::report::comparison::Comparison;
use plotters::prelude::*;

/// The change plot spans the page, drawn at about the size it is shown.
const WIDE: u32 = 1160;
/// The no-change band's fill.
const BAND: RGBColor = RGBColor(0xe2, 0xe8, 0xf0);

/// Intervals are cut at 1/8× and 8×: beyond, the plot would only show noise.
const MAX_LOG2: f64 = 3.0;

/// `2.0` as `+100%`, `0.5` as `-50%`, `1.0` as `0%`.
fn percent_change(ratio: f64) -> String {
    let pct = (ratio - 1.0) * 100.0;
    if pct.abs() < 0.5 {
        "0%".to_owned()
    } else if pct > 0.0 {
        format!("+{}%", trim(pct))
    } else {
        format!("-{}%", trim(-pct))
    }
}

/// Labels longer than this are cut, so the plot keeps room for the data.
const MAX_LABEL: usize = 44;

/// The change plot, when anything was compared.
pub fn comparison_figure(comparison: &Comparison) -> Option<Figure> {
    let rows: Vec<_> = comparison.series.iter().filter(|s| s.interval.is_some()).collect();
    if rows.is_empty() {
        return None;
    }
    let svg = draw(&rows).unwrap_or_else(|e| error_svg(&e));
    Some(Figure {
        title: "Change of the median against the baseline".into(),
        caption: "Dot: change of the median; bar: its 95% interval (from the spread of the rounds); grey band: within the threshold. Red regressed, green improved, blue no change, amber inconclusive. Left is faster.".into(),
        svg,
        legend: verdict_keys(&rows),
    })
}

/// A row's label: the benchmark, and the payload size when it is one distribution of several.
pub(super) fn row_label(bench: &str, series: &str) -> String {
    let text = if series == "p50" { bench.to_owned() } else { format!("{bench} {}", series.trim_end_matches(" p50")) };
    if text.chars().count() > MAX_LABEL {
        format!("{}…", text.chars().take(MAX_LABEL - 1).collect::<String>())
    } else {
        text
    }
}

fn draw(rows: &[&crate::report::ComparedSeries]) -> Result<String, PlotError> {
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|s| row_label(&s.bench, &s.label)).collect();
    // The x axis is log₂ of the ratio, so halving and doubling are equally far from 0
    // and one wide interval cannot squash the rest; labels read as percent change.
    let ratio_x = |r: f64| r.max(1e-6).log2();
    let threshold = rows.iter().map(|s| s.threshold_pct).fold(0f64, f64::max);
    let band = (ratio_x(1.0 - threshold / 100.0), ratio_x(1.0 + threshold / 100.0));
    let (mut lo, mut hi) = band;
    for s in rows {
        if let Some(i) = s.interval {
            lo = lo.min(ratio_x(i.lower));
            hi = hi.max(ratio_x(i.upper));
        }
    }
    let (lo, hi) = ((lo - 0.15).max(-MAX_LOG2), (hi + 0.15).min(MAX_LOG2));
    let clip = |x: f64| x.clamp(lo, hi);
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(10) as u32;
    let height = (90 + 30 * n as u32).max(200);
    draw_svg((WIDE, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .margin_right(80)
            .x_label_area_size(44)
            .y_label_area_size((longest * 7 + 16).clamp(90, 320))
            .build_cartesian_2d(lo..hi, -0.5f64..n as f64 - 0.5)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let row_name = row_name_formatter(&names);
        mesh.y_labels(n)
            .disable_y_mesh()
            .x_labels(8)
            .y_label_formatter(&row_name)
            .x_label_formatter(&|x| percent_change(2f64.powf(*x)))
            .light_line_style(WHITE)
            .x_desc("change of the median (log scale of new / baseline)")
            .draw()?;
        chart
            .draw_series(std::iter::once(Rectangle::new([(band.0, -0.5), (band.1, n as f64 - 0.5)], BAND.filled())))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
            super::AXIS.stroke_width(1),
        )))?;
        for (i, s) in rows.iter().enumerate() {
            let Some(ci) = s.interval else { continue };
            let y = (n - 1 - i) as f64;
            let colour = verdict_colour(s.change);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(clip(ratio_x(ci.lower)), y), (clip(ratio_x(ci.upper)), y)],
                colour.stroke_width(3),
            )))?;
            chart.draw_series(std::iter::once(Circle::new((clip(ratio_x(ci.ratio)), y), 5, colour.filled())))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("  {:+.1}%", (ci.ratio - 1.0) * 100.0),
                (hi, y),
                font(11).color(&colour).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                )),
            )))?;
        }
        Ok(())
    })
}

/// The colour of a verdict: red regressed, green improved, blue no change, amber
/// inconclusive or unknown.
pub(super) fn verdict_colour(change: Option<Change>) -> RGBColor {
    match change {
        Some(Change::Regressed) => BAD,
        Some(Change::Improved) => GOOD,
        Some(Change::NoChange) => NEUTRAL,
        Some(Change::Inconclusive) | None => WARN,
    }
}

/// Labels for a row axis: rows top to bottom in table order, row `i` at `y = n - 1 - i`.
pub(super) fn row_name_formatter(names: &[String]) -> impl Fn(&f64) -> String + '_ {
    let n = names.len();
    move |y: &f64| {
        let i = y.round();
        if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            names[n - 1 - i as usize].clone()
        } else {
            String::new()
        }
    }
}

/// Legend entries for the verdicts present in `rows`, in a fixed order.
pub(super) fn verdict_keys(rows: &[&crate::report::ComparedSeries]) -> Vec<Key> {
    [
        (Some(Change::Regressed), "regressed"),
        (Some(Change::Improved), "improved"),
        (Some(Change::NoChange), "no change"),
        (Some(Change::Inconclusive), "inconclusive"),
        (None, "not comparable"),
    ]
    .into_iter()
    .filter(|(change, _)| rows.iter().any(|s| s.change == *change))
    .map(|(change, label)| Key::solid(label, verdict_colour(change)))
    .collect()
}
