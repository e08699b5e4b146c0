//! Bandwidth per payload size: one chart per benchmark and direction, one line per
//! server (and chunking), both axes logarithmic.

use super::latency::error_svg;
use super::{binary_range, draw_svg, style_mesh, tick_bps, Figure, Key, Palette, PlotError};
use super::{HEIGHT, WIDTH};
use crate::metrics::{BenchResult, ResultSet};
use crate::report::sweep::{is_sweep, name_prefix};
use crate::table::format_bytes;
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

fn draw(lines: &[Line]) -> Result<String, PlotError> {
    let all = || lines.iter().flat_map(|l| l.points.iter().copied());
    let (xmin, xmax) = all().fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (ylo, yhi) = all().fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (ylo, yhi) = binary_range(ylo, yhi);
    // Half a step of margin either side so end points are not on the frame.
    let (xlo, xhi) = (xmin / 1.5, (xmax * 1.5).max(xmin * 2.0));
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d((xlo..xhi).log_scale().base(2.0), (ylo..yhi).log_scale().base(2.0))?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(6)
            .y_labels(7)
            .x_label_formatter(&|x| format_bytes(x.round() as u64))
            .y_label_formatter(&|y| tick_bps(*y))
            .x_desc("payload size (log scale)")
            .y_desc("bandwidth (log scale)")
            .draw()?;
        for l in lines {
            let style = l.colour.stroke_width(2);
            if l.dashed {
                chart.draw_series(DashedLineSeries::new(l.points.iter().copied(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(l.points.iter().copied(), style))?;
            }
            chart.draw_series(l.points.iter().map(|p| Circle::new(*p, 3, l.colour.filled())))?;
        }
        Ok(())
    })
}
