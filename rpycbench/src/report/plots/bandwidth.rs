//! Bandwidth per payload size: one chart per benchmark and direction, one line per
//! server (and chunking), both axes logarithmic.

use super::latency::error_svg;
#[cfg(test)]
use super::NEUTRAL;
use super::{
    data_ticks, draw_svg, log_ticks, nice_log_range, style_mesh, tick_bps, Figure, Key, Overlay, Palette, PlotError,
    Shape,
};
use super::{HEIGHT, WIDTH};
use crate::metrics::{BenchResult, ResultSet};
use crate::report::sweep::{is_sweep, name_prefix};
use crate::table::{format_bps, format_bytes};
use plotters::prelude::*;

struct Line {
    label: String,
    colour: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// One figure per (benchmark, direction) of the bandwidth and transfer results.
pub fn bandwidth_figures(results: &ResultSet, palette: &Palette) -> Vec<Figure> {
    let mut groups: Vec<(&str, Vec<&BenchResult>)> = Vec::new();
    for r in results.results.iter().filter(|r| !is_sweep(r) && !r.sizes.is_empty()) {
        let prefix = name_prefix(&r.name);
        match groups.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, members)) => members.push(r),
            None => groups.push((prefix, vec![r])),
        }
    }
    let mut out = Vec::new();
    for (prefix, members) in groups {
        let mut directions: Vec<&str> = Vec::new();
        for s in members.iter().flat_map(|r| &r.sizes) {
            if !directions.contains(&s.direction.as_str()) {
                directions.push(&s.direction);
            }
        }
        for direction in directions {
            let lines = lines(&members, direction, palette);
            if lines.is_empty() {
                continue;
            }
            out.push(Figure {
                title: format!("{prefix}: {direction} bandwidth by payload size"),
                caption: "Mean bytes per second at each payload size (dashed: chunked transfers). Higher is better."
                    .into(),
                svg: draw(&lines).unwrap_or_else(|e| error_svg(&e)),
                legend: lines
                    .iter()
                    .map(|l| Key { label: l.label.clone(), colour: l.colour, dashed: l.dashed })
                    .collect(),
            });
        }
    }
    out
}

fn lines(members: &[&BenchResult], direction: &str, palette: &Palette) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for r in members {
        for s in r.sizes.iter().filter(|s| s.direction == direction && s.mean_bps > 0.0) {
            let label = match s.chunk_bytes {
                Some(c) => format!("{} ({} chunks)", r.server.mode, format_bytes(c)),
                None => r.server.mode.clone(),
            };
            let point = (s.size_bytes.max(1) as f64, s.mean_bps);
            match out.iter_mut().find(|l| l.label == label) {
                Some(line) => line.points.push(point),
                None => out.push(Line {
                    label,
                    colour: palette.colour(&r.server.mode),
                    dashed: s.chunk_bytes.is_some(),
                    points: vec![point],
                }),
            }
        }
    }
    for line in &mut out {
        line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Labels a size axis can hold side by side at the plot's width.
const MAX_SIZE_TICKS: usize = 8;

fn draw(lines: &[Line]) -> Result<String, PlotError> {
    let all = || lines.iter().flat_map(|l| l.points.iter().copied());
    let (xmin, xmax) = all().fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (ymin, ymax) = all().fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    // Round 1-2-5 ends a little beyond the data, so end points are not on the frame.
    let (ylo, yhi) = nice_log_range(ymin.max(1.0) / 1.1, ymax.max(1.0) * 1.1);
    let (xlo, xhi) = (xmin / 1.5, (xmax * 1.5).max(xmin * 2.0));
    let size_label = |x: f64| format_bytes(x.round() as u64);
    // The sizes measured, not powers of two: a point's size is read off its own tick.
    let x_ticks = data_ticks(all().map(|p| p.0), f64::log2, MAX_SIZE_TICKS, size_label);
    let y_ticks = log_ticks(ylo, yhi, 7, tick_bps);
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart =
            ChartBuilder::on(root).margin(16).x_label_area_size(44).y_label_area_size(76).build_cartesian_2d(
                (xlo..xhi).log_scale().base(2.0).with_key_points(x_ticks.clone()),
                (ylo..yhi).log_scale().with_key_points(y_ticks.clone()),
            )?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_label_formatter(&|x| size_label(*x))
            .y_label_formatter(&|y| tick_bps(*y))
            .x_desc("payload size (log scale)")
            .y_desc("bandwidth (log scale)")
            .draw()?;
        let mut overlay = Overlay::default();
        for l in lines {
            let style = l.colour.stroke_width(2);
            if l.dashed {
                chart.draw_series(DashedLineSeries::new(l.points.iter().copied(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(l.points.iter().copied(), style))?;
            }
            for p in &l.points {
                let title = format!("{}, {}: {}", l.label, size_label(p.0), format_bps(p.1));
                overlay.point(chart.backend_coord(p), Shape::Circle, 4, l.colour, true, &title);
            }
        }
        Ok(overlay)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::overlay::read;

    fn line(label: &str, points: &[(f64, f64)]) -> Line {
        Line { label: label.into(), colour: NEUTRAL, dashed: false, points: points.to_vec() }
    }

    #[test]
    fn the_size_axis_is_labelled_at_the_measured_sizes() {
        let kib = 1024.0;
        let sizes = [kib, 10.0 * kib, 100.0 * kib, 1024.0 * kib, 10240.0 * kib];
        let points: Vec<(f64, f64)> = sizes.iter().map(|s| (*s, s * 50.0)).collect();
        let svg = draw(&[line("threaded", &points)]).expect("draws");
        let (x, y) = read::ticks(&svg);
        assert_eq!(x, ["1 KiB", "10 KiB", "100 KiB", "1 MiB", "10 MiB"], "{svg}");
        let mut unique = y.clone();
        unique.dedup();
        assert!(y.len() >= 3 && unique == y, "{y:?}");
        // Every point is a circle with its value as hover text.
        let marks = read::marks(&svg, "circle");
        assert_eq!(marks.len(), sizes.len());
        assert!(marks.iter().all(|(_, t)| t.as_deref().is_some_and(|t| t.starts_with("threaded, "))), "{marks:?}");
        assert_eq!(marks[4].1.as_deref(), Some("threaded, 10 MiB: 524 MB/s"));
    }
}
