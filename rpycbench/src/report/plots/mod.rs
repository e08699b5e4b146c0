//! SVG plots for the HTML report, drawn with plotters' SVG backend: text stays `<text>`
//! for the browser to lay out, so no font files are needed anywhere.

mod bandwidth;
mod comparison;
mod latency;
mod overlay;
mod side_by_side;
mod sweep;
mod sweep_bars;
mod ticks;

pub use bandwidth::bandwidth_figures;
pub use comparison::comparison_figure;
pub use latency::percentile_figures;
pub use side_by_side::side_by_side_figure;
pub use sweep::sweep_figures;

pub(crate) use overlay::{Overlay, Shape};
pub(crate) use ticks::{data_ticks, log_ticks, nice_log_range, Ticked};

use crate::metrics::{format_ns, significant};
use crate::table::format_bps;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One plot, ready to inline.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The plot's title, shown above it.
    pub title: String,
    /// One sentence on how to read it.
    pub caption: String,
    /// The `<svg>` element.
    pub svg: String,
    /// What each colour means, shown above the plot (outside it, so it never hides data).
    pub legend: Vec<Key>,
}

/// One legend entry: a line sample and what it stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// What the line stands for.
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// Whether the line is dashed.
    pub dashed: bool,
}

impl Key {
    /// A solid line entry.
    pub fn solid(label: impl Into<String>, colour: RGBColor) -> Key {
        Key { label: label.into(), colour, dashed: false }
    }

    /// The colour as `#rrggbb`.
    pub fn hex(&self) -> String {
        hex(self.colour)
    }
}

/// `colour` as `#rrggbb`, for SVG and CSS.
pub(crate) fn hex(colour: RGBColor) -> String {
    let RGBColor(r, g, b) = colour;
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Why a plot could not be drawn (the report shows the reason instead of the plot).
#[derive(Debug, thiserror::Error)]
#[error("plot failed: {0}")]
pub struct PlotError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// Plot size in SVG pixels; the page scales plots to its column width.
pub(crate) const WIDTH: u32 = 640;
pub(crate) const HEIGHT: u32 = 380;

pub(crate) const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
pub(crate) const AXIS: RGBColor = RGBColor(0x9c, 0xa3, 0xaf);
pub(crate) const GRID: RGBColor = RGBColor(0xf1, 0xf3, 0xf5);
pub(crate) const GRID_BOLD: RGBColor = RGBColor(0xdd, 0xe1, 0xe6);
pub(crate) const MUTED: RGBColor = RGBColor(0x6b, 0x72, 0x80);
pub(crate) const BAD: RGBColor = RGBColor(0xdc, 0x26, 0x26);
pub(crate) const GOOD: RGBColor = RGBColor(0x16, 0xa3, 0x4a);
pub(crate) const NEUTRAL: RGBColor = RGBColor(0x25, 0x63, 0xeb);
pub(crate) const WARN: RGBColor = RGBColor(0xd9, 0x77, 0x06);

/// Colours by server mode, the same in every plot of a report: the usual modes have
/// fixed colours, others take the rest in order.
#[derive(Clone, Debug)]
pub struct Palette(Vec<(String, RGBColor)>);

const KNOWN: [(&str, RGBColor); 6] = [
    ("threaded", RGBColor(0x25, 0x63, 0xeb)),
    ("forking", RGBColor(0xea, 0x58, 0x0c)),
    ("python-threaded", RGBColor(0x05, 0x96, 0x69)),
    ("python-forking", RGBColor(0xc0, 0x26, 0xd3)),
    ("http", RGBColor(0x64, 0x74, 0x8b)),
    ("external", RGBColor(0x0e, 0x74, 0x90)),
];
const SPARE: [RGBColor; 5] = [
    RGBColor(0xca, 0x8a, 0x04),
    RGBColor(0xe1, 0x1d, 0x48),
    RGBColor(0x4f, 0x46, 0xe5),
    RGBColor(0x65, 0xa3, 0x0d),
    RGBColor(0x78, 0x35, 0x0f),
];

impl Palette {
    /// Colours for these modes.
    pub fn new(modes: &[String]) -> Palette {
        let mut spare = SPARE.iter().cycle();
        Palette(
            modes
                .iter()
                .map(|m| {
                    let known = KNOWN.iter().find(|(k, _)| k == m).map(|(_, c)| *c);
                    // `spare` cycles forever, so next() always has a value.
                    (m.clone(), known.unwrap_or_else(|| *spare.next().unwrap_or(&MUTED)))
                })
                .collect(),
        )
    }

    /// The colour of `mode`.
    pub fn colour(&self, mode: &str) -> RGBColor {
        self.0.iter().find(|(m, _)| m == mode).map_or(MUTED, |(_, c)| *c)
    }
}

/// Draws on a fresh SVG canvas of `size` and returns the `<svg>` text, with the
/// [`Overlay`] the drawing returns (its data points) on top.
pub(crate) fn draw_svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<Overlay, PlotError>,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    let overlay = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let overlay = draw(&root)?;
        root.present()?;
        overlay
    };
    overlay.lay_over(svg)
}

/// The text style of axis labels and legends.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

/// Standard mesh styling: light grid, grey axes, readable labels.
pub(crate) fn style_mesh<X: Ranged, Y: Ranged>(mesh: &mut MeshStyle<'_, '_, X, Y, SVGBackend<'_>>) {
    mesh.axis_style(AXIS)
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID)
        .label_style(font(14))
        .axis_desc_style(font(14))
        .x_label_offset(0);
}

/// A short latency label for axis ticks: `250µs`, `1ms`, `2.5ms` — the tables' unit
/// choice ([`format_ns`]), without the space and trailing zeros.
pub(crate) fn tick_ns(ns: f64) -> String {
    compact(&format_ns(ns.round().max(0.0) as u64))
}

/// A short rate label, decimal like every rate: `12MB/s` ([`format_bps`], compacted).
pub(crate) fn tick_bps(bps: f64) -> String {
    compact(&format_bps(bps))
}

/// `12.0 MB/s` as `12MB/s`: a number and its unit, for the little room beside an axis.
fn compact(label: &str) -> String {
    match label.split_once(' ') {
        Some((number, unit)) => format!("{}{unit}", without_trailing_zeros(number)),
        None => label.to_owned(),
    }
}

fn without_trailing_zeros(number: &str) -> String {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        number.to_owned()
    }
}

/// A short count label: `950`, `12k`, `1.5M`.
pub(crate) fn tick_count(x: f64) -> String {
    if x >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x >= 1e4 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

/// At most three significant digits, no trailing zeros.
pub(crate) fn trim(x: f64) -> String {
    without_trailing_zeros(&significant(x, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_ns(250_000.0), "250µs");
        assert_eq!(tick_ns(2_500_000.0), "2.5ms");
        assert_eq!(tick_bps(12e6), "12MB/s");
        assert_eq!(tick_bps(1.5e9), "1.5GB/s");
        assert_eq!(tick_count(12_000.0), "12k");
    }

    #[test]
    fn modes_keep_their_colours() {
        let p = Palette::new(&["forking".into(), "mine".into(), "threaded".into()]);
        assert_eq!(p.colour("threaded"), KNOWN[0].1);
        assert_eq!(p.colour("mine"), SPARE[0]);
    }
}
