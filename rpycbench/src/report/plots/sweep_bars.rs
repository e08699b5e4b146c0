//! A sweep over labels (server modes): grouped bars, one group per label, p50 and p99
//! bars (or one throughput bar) coloured by the label's server mode when it is one.

use super::sweep::{latency, Throughput};
use super::{draw_svg, style_mesh, tick_bps, tick_count, tick_ns, Overlay, Palette, PlotError, Ticked, HEIGHT, WIDTH};
use crate::metrics::format_ns;
use crate::report::format_bps;
use crate::report::sweep::Sweep;
use plotters::prelude::*;

/// Which chart of a sweep the bars are for.
#[derive(Clone, Copy)]
pub(super) enum Chart {
    Latency,
    Throughput(Throughput),
}

/// The bars of a sweep over labels.
pub(super) fn draw_bars(family: &[&Sweep<'_>], palette: &Palette, chart_kind: Chart) -> Result<String, PlotError> {
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
    let positions: Vec<f64> = (0..n).map(|i| i as f64).collect();
    draw_svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d(Ticked::new(-0.5f64..n as f64 - 0.5, positions), 0f64..top * 1.12)?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let label_of = |x: &f64| names.get(x.round().max(0.0) as usize).cloned().unwrap_or_default();
        mesh.disable_x_mesh().y_labels(6).x_label_formatter(&label_of);
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
        let mut overlay = Overlay::default();
        for (i, (name, colour, values)) in bars.iter().enumerate() {
            let width = 0.7 / values.len() as f64;
            for (j, v) in values.iter().enumerate() {
                let left = i as f64 - 0.35 + j as f64 * width;
                let title = match chart_kind {
                    Chart::Latency => format!("{name} {}: {}", ["p50", "p99"][j.min(1)], format_ns(*v as u64)),
                    Chart::Throughput(Throughput::RequestsPerSecond) => format!("{name}: {v:.0} req/s"),
                    Chart::Throughput(Throughput::BytesPerSecond) => format!("{name}: {}", format_bps(*v)),
                };
                let (from, to) =
                    (chart.backend_coord(&(left + 0.02, *v)), chart.backend_coord(&(left + width - 0.02, 0.0)));
                overlay.bar(from, to, *colour, if j == 0 { 1.0 } else { 0.45 }, &title);
            }
        }
        Ok(overlay)
    })
}
