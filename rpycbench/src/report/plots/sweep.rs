//! Sweeps: latency (p50 solid, p99 dashed) and throughput against the swept value, one
//! line per server; a swept label (a server mode) becomes grouped bars.

use super::latency::error_svg;
use super::{decade_range, draw_svg, log_labels, style_mesh, tick_bps, tick_count, tick_ns, Key};
use super::{Figure, Palette, PlotError, HEIGHT, WIDTH};
use crate::metrics::{BenchResult, ResultSet};
use crate::report::sweep::{families, limit_note, sweeps, Sweep};
use crate::table::format_bytes;
use plotters::prelude::*;

/// What a sweep point is measured by on the throughput chart.
#[derive(Clone, Copy, PartialEq)]
enum Throughput {
    RequestsPerSecond,
    BytesPerSecond,
}

impl Throughput {
    fn of(self, r: &BenchResult) -> Option<f64> {
        match self {
            Throughput::RequestsPerSecond => r.throughput_rps,
            Throughput::BytesPerSecond => r.sizes.iter().map(|s| s.mean_bps).reduce(f64::max),
        }
    }
}

/// The latency a sweep point is shown with: its own, else its first payload size's.
fn latency(r: &BenchResult) -> Option<(f64, f64)> {
    let l = r.latency.as_ref().or_else(|| r.sizes.first().map(|s| &s.latency)).filter(|l| l.count > 0)?;
    Some((l.p50_ns.max(1) as f64, l.p99_ns.max(1) as f64))
}

/// Two figures per swept parameter and benchmark: latency and throughput.
pub fn sweep_figures(results: &ResultSet, palette: &Palette) -> Vec<Figure> {
    let all = sweeps(results);
    let mut out = Vec::new();
    for family in families(&all) {
        let (parameter, prefix) = (family[0].parameter.as_str(), family[0].prefix.as_str());
        let points = || family.iter().flat_map(|s| s.points.iter());
        let metric = if points().all(|(_, r)| r.sizes.is_empty()) {
            Throughput::RequestsPerSecond
        } else {
            Throughput::BytesPerSecond
        };
        let numeric = points().all(|(v, _)| v.number().is_some());
        let (lat, thr) = if numeric {
            (
                draw_numeric_latency(&family, parameter, palette),
                draw_numeric_throughput(&family, parameter, metric, palette),
            )
        } else {
            (draw_bars(&family, palette, Chart::Latency), draw_bars(&family, palette, Chart::Throughput(metric)))
        };
        let legend: Vec<Key> = if numeric {
            family.iter().map(|s| Key::solid(s.mode.clone(), palette.colour(&s.mode))).collect()
        } else {
            Vec::new() // bars are named on their axis
        };
        let mut latency_legend = legend.clone();
        if numeric {
            latency_legend.push(Key { label: "p99".into(), colour: super::MUTED, dashed: true });
        }
        let what = if metric == Throughput::RequestsPerSecond { "throughput" } else { "bandwidth" };
        let limit = limit_note(&family);
        out.push(Figure {
            title: format!("{prefix}: latency by {parameter}"),
            caption: format!(
                "{}{limit}",
                if numeric {
                    "p50 (solid) and p99 (dashed) of successful requests at each sweep point. Lower is better."
                } else {
                    "p50 (dark bar) and p99 (light bar) of successful requests at each sweep point. Lower is better."
                }
            ),
            svg: lat.unwrap_or_else(|e| error_svg(&e)),
            legend: latency_legend,
        });
        out.push(Figure {
            title: format!("{prefix}: {what} by {parameter}"),
            caption: format!(
                "{} at each sweep point. Higher is better.{limit}",
                if what == "throughput" { "Successful requests per second" } else { "Best mean bandwidth" }
            ),
            svg: thr.unwrap_or_else(|e| error_svg(&e)),
            legend,
        });
    }
    out
}

/// The x axis of a numeric sweep: log₂ when the values span a factor of 8 or more.
struct XAxis {
    log: bool,
    bytes: bool,
    lo: f64,
    hi: f64,
}

impl XAxis {
    fn of(family: &[&Sweep<'_>], parameter: &str) -> XAxis {
        let values = family.iter().flat_map(|s| s.points.iter().filter_map(|(v, _)| v.number()));
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let log = lo > 0.0 && hi / lo >= 8.0;
        let (lo, hi) = if log { (lo.log2(), hi.log2()) } else { (lo.min(0.0), hi) };
        let pad = ((hi - lo) * 0.05).max(0.25);
        XAxis { log, bytes: parameter.contains("bytes"), lo: lo - pad, hi: hi + pad }
    }

    fn map(&self, v: f64) -> f64 {
        if self.log {
            v.log2()
        } else {
            v
        }
    }

    fn label(&self, x: f64) -> String {
        let v = if self.log { 2f64.powf(x) } else { x };
        if self.bytes {
            format_bytes(v.round() as u64)
        } else {
            tick_count(v)
        }
    }

    fn labels(&self) -> usize {
        ((self.hi - self.lo).floor() as usize + 1).clamp(2, 8)
    }
}

fn desc(parameter: &str, axis: &XAxis) -> String {
    if axis.log {
        format!("{parameter} (log scale)")
    } else {
        parameter.to_owned()
    }
}

/// A sweep and its (x, p50, p99) points.
type LatencyLine<'s, 'a> = (&'s Sweep<'a>, Vec<(f64, f64, f64)>);

fn draw_numeric_latency(family: &[&Sweep<'_>], parameter: &str, palette: &Palette) -> Result<String, PlotError> {
    let axis = XAxis::of(family, parameter);
    let series: Vec<LatencyLine<'_, '_>> = family
        .iter()
        .map(|s| {
            let pts = s
                .points
                .iter()
                .filter_map(|(v, r)| Some((axis.map(v.number()?), latency(r)?)))
                .map(|(x, (a, b))| (x, a, b));
            (*s, pts.collect())
        })
        .collect();
    let values = series.iter().flat_map(|(_, p)| p.iter().flat_map(|p| [p.1, p.2]));
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi == 0.0 {
        return Err(PlotError("no successful requests to plot".into()));
    }
    let (lo, hi) = decade_range(lo, hi);
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(axis.lo..axis.hi, (lo..hi).log_scale())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(axis.labels())
            .y_labels(log_labels(lo, hi))
            .x_label_formatter(&|x| axis.label(*x))
            .y_label_formatter(&|y| tick_ns(*y))
            .x_desc(desc(parameter, &axis))
            .y_desc("latency (log scale)")
            .draw()?;
        for (sweep, pts) in &series {
            let colour = palette.colour(&sweep.mode);
            chart.draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), colour.stroke_width(2)))?;
            chart.draw_series(DashedLineSeries::new(pts.iter().map(|p| (p.0, p.2)), 6, 4, colour.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 3, colour.filled())))?;
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.2), 3, colour.stroke_width(1))))?;
        }
        Ok(())
    })
}

fn draw_numeric_throughput(
    family: &[&Sweep<'_>],
    parameter: &str,
    metric: Throughput,
    palette: &Palette,
) -> Result<String, PlotError> {
    let axis = XAxis::of(family, parameter);
    // Bandwidth spans decades across payload sizes: it is drawn as log₂ of the rate on
    // a linear axis, so ticks fall on powers of two (1MiB/s, 4MiB/s, …).
    let bytes = metric == Throughput::BytesPerSecond;
    let y = |v: f64| if bytes { v.max(1.0).log2() } else { v };
    let series: Vec<(&Sweep<'_>, Vec<(f64, f64)>)> = family
        .iter()
        .map(|s| (*s, s.points.iter().filter_map(|(v, r)| Some((axis.map(v.number()?), y(metric.of(r)?)))).collect()))
        .collect();
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let top = ys().fold(0f64, f64::max);
    if top <= 0.0 {
        return Err(PlotError("no throughput to plot".into()));
    }
    let (bottom, top) = if bytes { (ys().fold(f64::MAX, f64::min).floor(), top.ceil()) } else { (0.0, top * 1.12) };
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d(axis.lo..axis.hi, bottom..top.max(bottom + 1.0))?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let y_desc = if bytes { "bandwidth (log scale)" } else { "requests per second" };
        mesh.x_labels(axis.labels())
            .y_labels(6)
            .x_label_formatter(&|x| axis.label(*x))
            .y_label_formatter(&|y| if bytes { tick_bps(2f64.powf(*y)) } else { tick_count(*y) })
            .x_desc(desc(parameter, &axis))
            .y_desc(y_desc)
            .draw()?;
        for (sweep, pts) in &series {
            let colour = palette.colour(&sweep.mode);
            chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        }
        Ok(())
    })
}

#[derive(Clone, Copy)]
enum Chart {
    Latency,
    Throughput(Throughput),
}

/// Grouped bars for a sweep over labels: one group per label, p50 and p99 bars (or one
/// throughput bar) coloured by the label's server mode when it is one.
fn draw_bars(family: &[&Sweep<'_>], palette: &Palette, chart_kind: Chart) -> Result<String, PlotError> {
    let bars: Vec<(String, RGBColor, Vec<f64>)> = family
        .iter()
        .flat_map(|s| {
            s.points.iter().filter_map(move |(v, r)| {
                let label = v.label();
                let colour = if palette.colour(&label) == super::MUTED {
                    palette.colour(&s.mode)
                } else {
                    palette.colour(&label)
                };
                let values = match chart_kind {
                    Chart::Latency => latency(r).map(|(a, b)| vec![a, b])?,
                    Chart::Throughput(m) => vec![m.of(r)?],
                };
                Some((label, colour, values))
            })
        })
        .collect();
    let top = bars.iter().flat_map(|b| b.2.iter().copied()).fold(0f64, f64::max);
    if bars.is_empty() || top <= 0.0 {
        return Err(PlotError("nothing to plot".into()));
    }
    let n = bars.len();
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top * 1.12)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let label_of = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        mesh.x_labels(n).disable_x_mesh().y_labels(6).x_label_formatter(&label_of);
        match chart_kind {
            Chart::Latency => mesh.y_label_formatter(&|y| tick_ns(*y)).y_desc("latency: p50 (solid), p99 (light)"),
            Chart::Throughput(Throughput::RequestsPerSecond) => {
                mesh.y_label_formatter(&|y| tick_count(*y)).y_desc("requests per second")
            }
            Chart::Throughput(Throughput::BytesPerSecond) => {
                mesh.y_label_formatter(&|y| tick_bps(*y)).y_desc("bandwidth")
            }
        };
        mesh.draw()?;
        for (i, (_, colour, values)) in bars.iter().enumerate() {
            let width = 0.7 / values.len() as f64;
            for (j, v) in values.iter().enumerate() {
                let left = i as f64 - 0.35 + j as f64 * width;
                let style = if j == 0 { colour.filled() } else { colour.mix(0.45).filled() };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(left + 0.02, 0.0), (left + width - 0.02, *v)],
                    style,
                )))?;
            }
        }
        Ok(())
    })
}
