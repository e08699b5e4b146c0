//! Baseline versus current, absolute: each compared distribution's p50 and p99 in the
//! baseline (hollow) and now (filled, coloured by the verdict), on one log latency axis.

use super::comparison::{row_label, row_name_formatter, verdict_colour, verdict_keys};
use super::latency::error_svg;
use super::{draw_svg, log_ticks, nice_log_range, style_mesh, tick_ns, Figure, Key, Overlay, PlotError, Shape, MUTED};
use crate::metrics::format_ns;
use crate::report::comparison::{ComparedSeries, Comparison};
use plotters::prelude::*;

/// Drawn at about the width it is shown (the page's full column).
const WIDE: u32 = 1160;
/// How far p50 and p99 of one row sit above and below its line.
const OFFSET: f64 = 0.17;
/// Rows per chart: a longer comparison is split into several charts on one shared
/// axis, so none is taller than a screen and its axis labels stay in view.
const MAX_ROWS: usize = 14;

/// The side-by-side plots, when anything was compared: one per [`MAX_ROWS`] rows.
pub fn side_by_side_figure(comparison: &Comparison) -> Vec<Figure> {
    let rows: Vec<&ComparedSeries> = comparison.series.iter().filter(|s| s.old.count > 0 && s.new.count > 0).collect();
    let values = rows.iter().flat_map(|s| [s.old.p50_ns, s.new.p50_ns, s.old.p99_ns, s.new.p99_ns]);
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v as f64), hi.max(v as f64)));
    let range = nice_log_range(lo, hi);
    let parts = rows.len().div_ceil(MAX_ROWS);
    rows.chunks(MAX_ROWS)
        .enumerate()
        .map(|(i, chunk)| {
            let first = i * MAX_ROWS + 1;
            let rows_shown = if parts > 1 {
                format!(" Rows {first}–{} of {}.", first + chunk.len() - 1, rows.len())
            } else {
                String::new()
            };
            Figure {
                title: format!("p50 and p99: baseline and current{}", if i > 0 { ", continued" } else { "" }),
                caption: format!(
                    "Grey: baseline; coloured: current, by the median's verdict. Circles p50, triangles p99. Left is faster.{rows_shown}"
                ),
                svg: draw(chunk, range).unwrap_or_else(|e| error_svg(&e)),
                legend: std::iter::once(Key::solid("baseline", MUTED)).chain(verdict_keys(chunk)).collect(),
            }
        })
        .collect()
}

fn draw(rows: &[&ComparedSeries], (lo, hi): (f64, f64)) -> Result<String, PlotError> {
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|s| row_label(&s.bench, &s.label)).collect();
    let ticks = log_ticks(lo, hi, 10, tick_ns);
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(10) as u32;
    let height = (150 + 34 * n as u32).max(250);
    draw_svg((WIDE, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .top_x_label_area_size(50)
            .y_label_area_size((longest * 7 + 16).clamp(90, 320))
            .build_cartesian_2d((lo..hi).log_scale().with_key_points(ticks.clone()), -0.5f64..n as f64 - 0.5)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let row_name = row_name_formatter(&names);
        mesh.y_labels(n)
            .disable_y_mesh()
            .y_label_formatter(&row_name)
            .x_label_formatter(&|x| tick_ns(*x))
            .x_desc("latency (log scale)")
            .draw()?;
        let mut overlay = Overlay::default();
        for (i, s) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = verdict_colour(s.change);
            let pairs = [
                ("p50", s.old.p50_ns, s.new.p50_ns, y + OFFSET, Shape::Circle),
                ("p99", s.old.p99_ns, s.new.p99_ns, y - OFFSET, Shape::Triangle),
            ];
            for (what, old, new, y, shape) in pairs {
                let (old_at, new_at) =
                    (chart.backend_coord(&(old.max(1) as f64, y)), chart.backend_coord(&(new.max(1) as f64, y)));
                overlay.line(old_at, new_at, MUTED, 2, false, "change");
                let size = if shape == Shape::Circle { 5 } else { 6 };
                overlay.point(
                    old_at,
                    shape,
                    size,
                    MUTED,
                    false,
                    &format!("{} {what}, baseline: {}", names[i], format_ns(old)),
                );
                overlay.point(
                    new_at,
                    shape,
                    size,
                    colour,
                    true,
                    &format!("{} {what}, current: {}", names[i], format_ns(new)),
                );
            }
        }
        Ok(overlay)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::Change;
    use crate::metrics::LatencyHistogram;
    use crate::report::plots::overlay::read;

    fn series(i: u64) -> ComparedSeries {
        let stats = |scale: u64| {
            let mut h = LatencyHistogram::new();
            (1..=100u64).for_each(|v| h.record_ns(v * scale));
            h.stats()
        };
        ComparedSeries {
            bench: format!("bench-{i}"),
            label: "p50".into(),
            old: stats(1000 + i),
            new: stats(1100 + i),
            interval: None,
            change: Some(Change::NoChange),
            threshold_pct: 10.0,
            note: None,
        }
    }

    #[test]
    fn many_rows_are_split_into_charts_of_bounded_height_with_the_axis_on_top_too() {
        let comparison = Comparison {
            baseline_label: "old.json".into(),
            series: (0..40).map(series).collect(),
            wire: Vec::new(),
            counts: Default::default(),
            only_baseline: Vec::new(),
            only_current: Vec::new(),
            warnings: Vec::new(),
        };
        let figures = side_by_side_figure(&comparison);
        assert_eq!(figures.len(), 3, "40 rows in charts of {MAX_ROWS}");
        assert_eq!(figures[2].title, "p50 and p99: baseline and current, continued");
        assert!(figures[2].caption.ends_with(" Rows 29–40 of 40."), "{}", figures[2].caption);
        for f in &figures {
            let height: u32 = read::attr(&f.svg, "height").and_then(|h| h.parse().ok()).expect("a height");
            assert!(height <= 150 + 34 * MAX_ROWS as u32, "{height}");
            // Tick labels above the plot as well as below: each x tick is written twice.
            let texts = read::texts(&f.svg);
            let one_ms: Vec<_> = texts.iter().filter(|(_, t)| t == "100µs").collect();
            assert_eq!(one_ms.len(), 2, "{texts:?}");
            let marks: Vec<_> =
                read::marks(&f.svg, "circle").into_iter().chain(read::marks(&f.svg, "polygon")).collect();
            assert!(!marks.is_empty() && marks.iter().all(|(_, t)| t.is_some()), "a point without hover text");
        }
    }
}
