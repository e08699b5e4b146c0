//! Sweeps: latency (p50 solid, p99 dashed) and throughput against the swept value, one
//! line per server, the step where a limit was crossed marked; a swept label (a server
//! mode) becomes grouped bars ([`sweep_bars`](super::sweep_bars)).

use super::latency::error_svg;
use super::sweep_bars::{draw_bars, Chart};
use super::{data_ticks, draw_svg, log_ticks, nice_log_range, style_mesh, tick_bps, tick_count, tick_ns};
use super::{Figure, Key, Overlay, Palette, PlotError, Shape, Ticked, BAD, HEIGHT, WIDTH};
use crate::metrics::{format_ns, BenchResult, ResultSet, SWEEP_LIMIT};
use crate::report::format_bps;
use crate::report::sweep::{families, limit_note, sweeps, Sweep};
use crate::table::format_bytes;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;

/// What a sweep point is measured by on the throughput chart.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Throughput {
    RequestsPerSecond,
    BytesPerSecond,
}

impl Throughput {
    pub(super) fn of(self, r: &BenchResult) -> Option<f64> {
        match self {
            Throughput::RequestsPerSecond => r.throughput_rps,
            Throughput::BytesPerSecond => r.sizes.iter().map(|s| s.mean_bps).reduce(f64::max),
        }
    }

    fn show(self, v: f64) -> String {
        match self {
            Throughput::RequestsPerSecond => format!("{v:.0} req/s"),
            Throughput::BytesPerSecond => format_bps(v),
        }
    }
}

/// The latency a sweep point is shown with: its own, else its first payload size's.
pub(super) fn latency(r: &BenchResult) -> Option<(f64, f64)> {
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
        let mut legend: Vec<Key> = if numeric {
            family.iter().map(|s| Key::solid(s.mode.clone(), palette.colour(&s.mode))).collect()
        } else {
            Vec::new() // bars are named on their axis
        };
        if numeric && !limits(&family).is_empty() {
            legend.push(Key { label: "limit reached".into(), colour: BAD, dashed: true });
        }
        let mut latency_legend = legend.clone();
        if numeric {
            latency_legend.push(Key { label: "p99".into(), colour: super::MUTED, dashed: true });
            if metric == Throughput::BytesPerSecond {
                legend.push(Key { label: "download".into(), colour: super::MUTED, dashed: true });
            }
        }
        let what = if metric == Throughput::RequestsPerSecond { "throughput" } else { "bandwidth" };
        let limit = limit_note(&family);
        out.push(Figure {
            title: format!("{prefix}: latency by {parameter}"),
            caption: format!(
                "{}{limit}",
                if numeric && metric == Throughput::BytesPerSecond {
                    // `latency` reads a payload point's first size: its upload.
                    "p50 (solid) and p99 (dashed) of each sweep point's uploads. Lower is better."
                } else if numeric {
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
                match (what, numeric) {
                    ("throughput", _) => "Successful requests per second",
                    (_, true) => "Mean bandwidth of upload (solid) and download (dashed)",
                    (_, false) => "Best mean bandwidth",
                }
            ),
            svg: thr.unwrap_or_else(|e| error_svg(&e)),
            legend,
        });
    }
    out
}

/// The x axis of a numeric sweep: log₂ when the values span a factor of 4 or more
/// (clients and sizes scale by multiples), ticked at the swept values themselves.
struct XAxis {
    log: bool,
    bytes: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl XAxis {
    fn of(family: &[&Sweep<'_>], parameter: &str) -> XAxis {
        let values: Vec<f64> = family.iter().flat_map(|s| s.points.iter().filter_map(|(v, _)| v.number())).collect();
        let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let log = lo > 0.0 && hi / lo >= 4.0;
        let mut axis = XAxis { log, bytes: parameter.contains("bytes"), lo: 0.0, hi: 0.0, ticks: Vec::new() };
        let (lo, hi) = (axis.map(lo), axis.map(hi));
        let pad = ((hi - lo) * 0.06).max(0.25);
        (axis.lo, axis.hi) = (lo - pad, hi + pad);
        axis.ticks = data_ticks(values.iter().map(|v| axis.map(*v)), |x| x, 8, |x| axis.label(x));
        axis
    }

    /// Where value `v` sits on the axis.
    fn map(&self, v: f64) -> f64 {
        if self.log {
            v.log2()
        } else {
            v
        }
    }

    /// The label of axis position `x`.
    fn label(&self, x: f64) -> String {
        let v = if self.log { 2f64.powf(x) } else { x };
        if self.bytes {
            format_bytes(v.round() as u64)
        } else {
            tick_count(v)
        }
    }

    fn desc(&self, parameter: &str) -> String {
        if self.log {
            format!("{parameter} (log scale)")
        } else {
            parameter.to_owned()
        }
    }
}

/// Where each sweep of the family crossed its limit: (mode, swept value, what was crossed).
fn limits(family: &[&Sweep<'_>]) -> Vec<(String, f64, String)> {
    family
        .iter()
        .flat_map(|s| {
            s.points.iter().filter_map(|(v, r)| {
                let limit = r.params.get(SWEEP_LIMIT)?.as_str()?;
                Some((s.mode.clone(), v.number()?, limit.to_owned()))
            })
        })
        .collect()
}

type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, WithKeyPoints<LogCoord<f64>>>>;

/// Where a limit line's label goes: the top of the plot, or its bottom where the
/// data climb towards the top (throughput).
#[derive(Clone, Copy, PartialEq)]
enum LabelAt {
    Top,
    Bottom,
}

/// A dashed red line across the plot at each limit's step, labelled with what was
/// crossed, on the side of the line with more room.
fn draw_limits(
    chart: &Plot<'_, '_>,
    overlay: &mut Overlay,
    (axis, parameter): (&XAxis, &str),
    family: &[&Sweep<'_>],
    (lo, hi): (f64, f64),
    label_at: LabelAt,
) {
    let (left, right) = (chart.backend_coord(&(axis.lo, lo)).0, chart.backend_coord(&(axis.hi, lo)).0);
    for (i, (mode, value, what)) in limits(family).into_iter().enumerate() {
        let x = axis.map(value);
        let (top, bottom) = (chart.backend_coord(&(x, hi)), chart.backend_coord(&(x, lo)));
        overlay.line(top, bottom, BAD, 2, true, "limit");
        let (anchor, dx) = if top.0 - left > right - top.0 { ("end", -6) } else { ("start", 6) };
        let text = format!("limit ({mode}, {parameter}={}): {what}", axis.label(x));
        let y = match label_at {
            LabelAt::Top => top.1 + 12 + 16 * i as i32,
            LabelAt::Bottom => bottom.1 - 12 - 16 * i as i32,
        };
        overlay.text((top.0 + dx, y), anchor, 12, BAD, &text);
    }
}

/// A plot with the sweep's x axis and a log y axis over `lo..hi`, ticked at `y_ticks`.
fn plot<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    axis: &XAxis,
    (lo, hi): (f64, f64),
    y_ticks: Vec<f64>,
) -> Result<Plot<'a, 'b>, PlotError> {
    Ok(ChartBuilder::on(root).margin(16).x_label_area_size(44).y_label_area_size(76).build_cartesian_2d(
        Ticked::new(axis.lo..axis.hi, axis.ticks.clone()),
        (lo..hi).log_scale().with_key_points(y_ticks),
    )?)
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
    let range = nice_log_range(lo / 1.1, hi * 1.1);
    let ticks = log_ticks(range.0, range.1, 8, tick_ns);
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = plot(root, &axis, range, ticks)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_label_formatter(&|x| axis.label(*x))
            .y_label_formatter(&|y| tick_ns(*y))
            .x_desc(axis.desc(parameter))
            .y_desc("latency (log scale)")
            .draw()?;
        let mut overlay = Overlay::default();
        for (sweep, pts) in &series {
            let colour = palette.colour(&sweep.mode);
            chart.draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), colour.stroke_width(2)))?;
            chart.draw_series(DashedLineSeries::new(pts.iter().map(|p| (p.0, p.2)), 6, 4, colour.stroke_width(2)))?;
            for &(x, p50, p99) in pts {
                let at = format!("{}, {parameter}={}", sweep.mode, axis.label(x));
                // p50 filled, p99 hollow, as the lines are solid and dashed.
                for (y, filled, what) in [(p50, true, "p50"), (p99, false, "p99")] {
                    let title = format!("{at}: {what} {}", format_ns(y as u64));
                    overlay.point(chart.backend_coord(&(x, y)), Shape::Circle, 4, colour, filled, &title);
                }
            }
        }
        draw_limits(&chart, &mut overlay, (&axis, parameter), family, range, LabelAt::Top);
        Ok(overlay)
    })
}

/// One line of a throughput chart: its sweep, the direction it shows (bandwidth only),
/// and its points.
type Series<'a> = (&'a Sweep<'a>, Option<&'static str>, Vec<(f64, f64)>);

fn draw_numeric_throughput(
    family: &[&Sweep<'_>],
    parameter: &str,
    metric: Throughput,
    palette: &Palette,
) -> Result<String, PlotError> {
    let axis = XAxis::of(family, parameter);
    // Bandwidth is drawn per direction (upload solid, download dashed): an upload and a
    // download are different measurements, and their best would hide the slower one.
    let parts: &[Option<&str>] =
        if metric == Throughput::BytesPerSecond { &[Some("upload"), Some("download")] } else { &[None] };
    let series: Vec<Series<'_>> = family
        .iter()
        .flat_map(|s| parts.iter().map(move |part| (*s, *part)))
        .map(|(s, part)| {
            let y = |r: &BenchResult| match part {
                Some(direction) => {
                    r.sizes.iter().filter(|z| z.direction == direction).map(|z| z.mean_bps).reduce(f64::min)
                }
                None => metric.of(r),
            };
            let pts = s.points.iter().filter_map(|(v, r)| Some((axis.map(v.number()?), y(r).filter(|y| *y > 0.0)?)));
            (s, part, pts.collect::<Vec<_>>())
        })
        .filter(|(_, _, pts)| !pts.is_empty())
        .collect();
    let ys = || series.iter().flat_map(|(_, _, p)| p.iter().map(|p| p.1));
    let (lo, hi) = (ys().fold(f64::MAX, f64::min), ys().fold(0f64, f64::max));
    if hi <= 0.0 {
        return Err(PlotError("no throughput to plot".into()));
    }
    // Log–log: rates scale by multiples as clients or sizes do, so equal steps read as
    // equal factors. Ticks on 1-2-5 steps (decimal, as MB/s is).
    let bytes = metric == Throughput::BytesPerSecond;
    let range = nice_log_range(lo / 1.1, hi * 1.1);
    let ticks =
        if bytes { log_ticks(range.0, range.1, 8, tick_bps) } else { log_ticks(range.0, range.1, 8, tick_count) };
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = plot(root, &axis, range, ticks)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let y_desc = if bytes { "bandwidth (log scale)" } else { "requests per second (log scale)" };
        mesh.x_label_formatter(&|x| axis.label(*x))
            .y_label_formatter(&|y| if bytes { tick_bps(*y) } else { tick_count(*y) })
            .x_desc(axis.desc(parameter))
            .y_desc(y_desc)
            .draw()?;
        let mut overlay = Overlay::default();
        for (sweep, part, pts) in &series {
            let colour = palette.colour(&sweep.mode);
            let download = *part == Some("download");
            if download {
                chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 6, 4, colour.stroke_width(2)))?;
            } else {
                chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?;
            }
            let name = part.map_or_else(|| sweep.mode.clone(), |d| format!("{} {d}", sweep.mode));
            for p in pts {
                let title = format!("{name}, {parameter}={}: {}", axis.label(p.0), metric.show(p.1));
                overlay.point(chart.backend_coord(p), Shape::Circle, 4, colour, !download, &title);
            }
        }
        draw_limits(&chart, &mut overlay, (&axis, parameter), family, range, LabelAt::Bottom);
        Ok(overlay)
    })
}
