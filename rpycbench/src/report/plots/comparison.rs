//! Baseline versus current: each compared distribution's median change with its 95 %
//! bootstrap interval, against the shaded no-change band of the threshold.

use super::latency::error_svg;
use super::{draw_svg, style_mesh, trim, Figure, Key, Overlay, PlotError, Shape, Ticked, BAD, GOOD, NEUTRAL, WARN};
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

/// The ratios the change axis may tick at: halvings and doublings, and the small
/// steps around no change when the axis is narrow enough to show them apart.
const COARSE: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
const FINE: [f64; 8] = [2.0 / 3.0, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5];

/// Ticks of the change axis over `lo..hi` (log₂ of the ratio), one per distinct label.
fn change_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ratios: Vec<f64> = COARSE.to_vec();
    if hi - lo < 2.5 {
        ratios.extend(FINE);
    }
    ratios.sort_by(f64::total_cmp);
    let mut seen = Vec::new();
    ratios
        .into_iter()
        .map(f64::log2)
        .filter(|x| *x >= lo && *x <= hi)
        .filter(|x| {
            let label = percent_change(2f64.powf(*x));
            let fresh = !seen.contains(&label);
            seen.push(label);
            fresh
        })
        .collect()
}

/// `+12.3%`: a ratio as the exact change the labels and hover texts show.
fn signed(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

/// Rows of the change plot: its own distributions, top to bottom.
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
    let ticks = change_ticks(lo, hi);
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(10) as u32;
    let height = (140 + 30 * n as u32).max(250);
    draw_svg((WIDE, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .margin_right(96)
            .x_label_area_size(44)
            .top_x_label_area_size(50)
            .y_label_area_size((longest * 7 + 16).clamp(90, 320))
            .build_cartesian_2d(Ticked::new(lo..hi, ticks.clone()), -0.5f64..n as f64 - 0.5)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let row_name = row_name_formatter(&names);
        mesh.y_labels(n)
            .disable_y_mesh()
            .y_label_formatter(&row_name)
            .x_label_formatter(&|x| percent_change(2f64.powf(*x)))
            .light_line_style(WHITE)
            .x_desc("change of the median (log scale of new / baseline)")
            .draw()?;
        chart
            .draw_series(std::iter::once(Rectangle::new([(band.0, -0.5), (band.1, n as f64 - 0.5)], BAND.filled())))?;
        if lo < 0.0 && hi > 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
                super::AXIS.stroke_width(1),
            )))?;
        }
        let mut overlay = Overlay::default();
        // Labels go right of the plot, clear of any dot pinned to its edge.
        let label_x = chart.backend_coord(&(hi, 0.0)).0 + 12;
        for (i, s) in rows.iter().enumerate() {
            let Some(ci) = s.interval else { continue };
            let y = (n - 1 - i) as f64;
            let colour = verdict_colour(s.change);
            let at = |r: f64| chart.backend_coord(&(ratio_x(r).clamp(lo, hi), y));
            let (verdict, _) = crate::report::comparison::verdict(s.change);
            let title = format!(
                "{}: {} (95% interval {} … {}), {verdict}",
                names[i],
                signed(ci.ratio),
                signed(ci.lower),
                signed(ci.upper)
            );
            overlay.line(at(ci.lower), at(ci.upper), colour, 3, false, "interval");
            // A value beyond the axis sits on its edge as an arrow pointing the way it went.
            for (bound, what) in [(ci.lower, "lower"), (ci.upper, "upper")] {
                if let Some(shape) = off_scale(ratio_x(bound), lo, hi) {
                    let t = format!("{}: {what} end of the interval {} is off the scale", names[i], signed(bound));
                    overlay.point(at(bound), shape, 5, colour, false, &t);
                }
            }
            let shape = off_scale(ratio_x(ci.ratio), lo, hi).unwrap_or(Shape::Circle);
            let size = if shape == Shape::Circle { 5 } else { 8 };
            overlay.point(at(ci.ratio), shape, size, colour, true, &title);
            let off = if shape == Shape::Circle { "" } else { " (off scale)" };
            overlay.text((label_x, at(ci.ratio).1), "start", 12, colour, &format!("{}{off}", signed(ci.ratio)));
        }
        Ok(overlay)
    })
}

/// The arrow for a value at `x` beyond `lo..hi`, if it is beyond.
fn off_scale(x: f64, lo: f64, hi: f64) -> Option<Shape> {
    if x > hi + 1e-9 {
        Some(Shape::Right)
    } else if x < lo - 1e-9 {
        Some(Shape::Left)
    } else {
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::{Method, RatioInterval};
    use crate::metrics::LatencyHistogram;
    use crate::report::plots::overlay::read;
    use crate::report::ComparedSeries;

    fn row(bench: &str, ratio: f64, lower: f64, upper: f64, change: Change) -> ComparedSeries {
        let mut h = LatencyHistogram::new();
        h.record_ns(1000);
        ComparedSeries {
            bench: bench.into(),
            label: "p50".into(),
            old: h.stats(),
            new: h.stats(),
            interval: Some(RatioInterval { ratio, lower, upper, method: Method::Rounds { old: 5, new: 5 } }),
            change: Some(change),
            threshold_pct: 10.0,
            note: None,
        }
    }

    #[test]
    fn a_change_beyond_the_axis_gets_an_arrow_and_its_true_value_clear_of_the_dots() {
        let rows =
            [row("steady", 1.02, 0.98, 1.05, Change::NoChange), row("slow", 20.0, 15.0, 26.0, Change::Regressed)];
        let svg = draw(&rows.iter().collect::<Vec<_>>()).expect("draws");
        let arrows: Vec<_> =
            read::marks(&svg, "polygon").into_iter().filter(|(t, _)| t.contains("off-scale")).collect();
        // The point and both ends of its interval are beyond +700%.
        assert_eq!(arrows.len(), 3, "{svg}");
        assert!(
            arrows
                .iter()
                .any(|(_, t)| t.as_deref() == Some("slow: +1900.0% (95% interval +1400.0% … +2500.0%), regressed")),
            "{arrows:?}"
        );
        let labels = read::texts(&svg);
        let label = labels.iter().find(|(_, t)| t.starts_with("+1900.0%")).expect("the true value is written");
        let label_x: i32 = read::attr(label.0, "x").and_then(|x| x.parse().ok()).expect("an x");
        // Nothing drawn for the data reaches into the labels.
        for (tag, _) in read::marks(&svg, "circle").into_iter().chain(read::marks(&svg, "polygon")) {
            let right = match read::attr(tag, "cx") {
                Some(cx) => {
                    cx.parse::<i32>().unwrap_or(0) + read::attr(tag, "r").and_then(|r| r.parse().ok()).unwrap_or(0)
                }
                None => read::attr(tag, "points")
                    .into_iter()
                    .flat_map(|p| p.split([' ', ',']))
                    .step_by(2)
                    .filter_map(|x| x.parse::<i32>().ok())
                    .max()
                    .unwrap_or(0),
            };
            assert!(right < label_x, "{tag} covers the label at x = {label_x}");
        }
        let (x, _) = read::ticks(&svg);
        let mut unique = x.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), x.len(), "two change ticks read alike: {x:?}");
        assert!(x.contains(&"+700%".to_owned()), "{x:?}");
    }
}
