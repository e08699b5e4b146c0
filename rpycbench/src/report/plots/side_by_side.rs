//! Baseline versus current, absolute: each compared distribution's p50 and p99 in the
//! baseline (hollow) and now (filled, coloured by the verdict), on one log latency axis.

use super::comparison::{row_label, row_name_formatter, verdict_colour, verdict_keys};
use super::latency::error_svg;
use super::{decade_range, draw_svg, log_labels, style_mesh, tick_ns, Figure, Key, PlotError, MUTED};
use crate::report::comparison::{ComparedSeries, Comparison};
use plotters::prelude::*;

/// Drawn at about the width it is shown (the page's full column).
const WIDE: u32 = 1160;
/// How far p50 and p99 of one row sit above and below its line.
const OFFSET: f64 = 0.17;

/// The side-by-side plot, when anything was compared.
pub fn side_by_side_figure(comparison: &Comparison) -> Option<Figure> {
    let rows: Vec<&ComparedSeries> = comparison.series.iter().filter(|s| s.old.count > 0 && s.new.count > 0).collect();
    if rows.is_empty() {
        return None;
    }
    Some(Figure {
        title: "p50 and p99: baseline and current".into(),
        caption:
            "Grey: baseline; coloured: current, by the median's verdict. Circles p50, triangles p99. Left is faster."
                .into(),
        svg: draw(&rows).unwrap_or_else(|e| error_svg(&e)),
        legend: std::iter::once(Key::solid("baseline", MUTED)).chain(verdict_keys(&rows)).collect(),
    })
}

fn draw(rows: &[&ComparedSeries]) -> Result<String, PlotError> {
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|s| row_label(&s.bench, &s.label)).collect();
    let values = rows.iter().flat_map(|s| [s.old.p50_ns, s.new.p50_ns, s.old.p99_ns, s.new.p99_ns]);
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v as f64), hi.max(v as f64)));
    let (lo, hi) = decade_range(lo, hi);
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(10) as u32;
    let height = (110 + 34 * n as u32).max(220);
    draw_svg((WIDE, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size((longest * 7 + 16).clamp(90, 320))
            .build_cartesian_2d((lo..hi).log_scale(), -0.5f64..n as f64 - 0.5)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let row_name = row_name_formatter(&names);
        mesh.y_labels(n)
            .disable_y_mesh()
            .x_labels(log_labels(lo, hi))
            .y_label_formatter(&row_name)
            .x_label_formatter(&|x| tick_ns(*x))
            .x_desc("latency (log scale)")
            .draw()?;
        for (i, s) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = verdict_colour(s.change);
            let pairs =
                [(s.old.p50_ns, s.new.p50_ns, y + OFFSET, true), (s.old.p99_ns, s.new.p99_ns, y - OFFSET, false)];
            for (old, new, y, circle) in pairs {
                let (old, new) = (old.max(1) as f64, new.max(1) as f64);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(old, y), (new, y)],
                    MUTED.mix(0.6).stroke_width(2),
                )))?;
                if circle {
                    chart.draw_series([
                        Circle::new((old, y), 5, MUTED.stroke_width(2)),
                        Circle::new((new, y), 5, colour.filled()),
                    ])?;
                } else {
                    chart.draw_series([
                        TriangleMarker::new((old, y), 6, MUTED.stroke_width(2)),
                        TriangleMarker::new((new, y), 6, colour.filled()),
                    ])?;
                }
            }
        }
        Ok(())
    })
}
