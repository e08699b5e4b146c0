//! Data points, limit lines and labels drawn as plain SVG on top of a plotters chart.
//!
//! plotters' SVG backend has no way to attach a `<title>` (the browser's hover text) to
//! what it draws, so plotters draws only the frame, axes, grid and lines, and every data
//! point is written here as its own element with a `<title>` child. Positions come from
//! the chart's own `backend_coord`, so points sit exactly where plotters would have put
//! them; the elements are spliced in before the closing `</svg>`, on top of the rest.

use super::{hex, PlotError};
use crate::report::html::escape;
use plotters::prelude::RGBColor;
use std::fmt::Write;

/// A position in SVG pixels, as plotters' `backend_coord` gives it.
pub(crate) type BackendCoord = (i32, i32);

/// The shape of a data point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    /// A dot.
    Circle,
    /// A triangle pointing up.
    Triangle,
    /// A triangle pointing right: a value beyond the right edge of the axis.
    Right,
    /// A triangle pointing left: a value beyond the left edge of the axis.
    Left,
}

/// SVG elements to lay over a chart.
#[derive(Debug, Default)]
pub(crate) struct Overlay(String);

impl Overlay {
    /// A data point of `shape` at `at`, `size` pixels from its centre to its edge,
    /// filled or hollow, with `title` as its hover text.
    pub fn point(&mut self, at: BackendCoord, shape: Shape, size: i32, colour: RGBColor, filled: bool, title: &str) {
        let paint = if filled {
            format!("fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"", hex(colour))
        } else {
            format!("fill=\"#ffffff\" stroke=\"{}\" stroke-width=\"2\"", hex(colour))
        };
        let (x, y, s) = (at.0, at.1, size);
        let title = escape(title);
        let _ = match shape {
            Shape::Circle => {
                writeln!(self.0, "<circle cx=\"{x}\" cy=\"{y}\" r=\"{s}\" {paint}><title>{title}</title></circle>")
            }
            _ => {
                let (class, points) = match shape {
                    Shape::Right => (" class=\"off-scale\"", [(x + s, y), (x - s, y - s), (x - s, y + s)]),
                    Shape::Left => (" class=\"off-scale\"", [(x - s, y), (x + s, y - s), (x + s, y + s)]),
                    _ => ("", [(x, y - s), (x - s, y + s), (x + s, y + s)]),
                };
                let points: Vec<String> = points.iter().map(|(px, py)| format!("{px},{py}")).collect();
                writeln!(
                    self.0,
                    "<polygon{class} points=\"{}\" {paint}><title>{title}</title></polygon>",
                    points.join(" ")
                )
            }
        };
    }

    /// A bar from `top_left` to `bottom_right` with `title` as its hover text.
    pub fn bar(
        &mut self,
        top_left: BackendCoord,
        bottom_right: BackendCoord,
        colour: RGBColor,
        opacity: f64,
        title: &str,
    ) {
        let (x, y) = (top_left.0.min(bottom_right.0), top_left.1.min(bottom_right.1));
        let (w, h) = ((bottom_right.0 - top_left.0).abs(), (bottom_right.1 - top_left.1).abs());
        let _ = writeln!(
            self.0,
            "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{}\" fill-opacity=\"{opacity}\"><title>{}</title></rect>",
            hex(colour),
            escape(title)
        );
    }

    /// A straight line; `class` names what it is (`limit`, `interval`) for the page and tests.
    pub fn line(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        colour: RGBColor,
        width: u32,
        dashed: bool,
        class: &str,
    ) {
        let dash = if dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let _ = writeln!(
            self.0,
            "<line class=\"{class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{width}\"{dash}/>",
            from.0,
            from.1,
            to.0,
            to.1,
            hex(colour)
        );
    }

    /// Text starting (`anchor` `start`), centred (`middle`) or ending (`end`) at `at`,
    /// vertically centred on it, with a white halo so it stays readable over lines.
    pub fn text(&mut self, at: BackendCoord, anchor: &str, size: u32, colour: RGBColor, text: &str) {
        let _ = writeln!(
            self.0,
            "<text x=\"{}\" y=\"{}\" dy=\"0.35em\" text-anchor=\"{anchor}\" font-family=\"sans-serif\" font-size=\"{size}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            at.0,
            at.1,
            hex(colour),
            escape(text)
        );
    }

    /// `svg` with these elements on top of what it holds.
    pub fn lay_over(&self, mut svg: String) -> Result<String, PlotError> {
        let end = svg.rfind("</svg>").ok_or_else(|| PlotError("the SVG backend wrote no </svg>".into()))?;
        svg.insert_str(end, &self.0);
        Ok(svg)
    }
}

/// Reading the SVG text back, for tests of what a plot shows.
#[cfg(test)]
pub(crate) mod read {
    /// The value of attribute `name` in the tag text `tag`.
    pub fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(&tag[at..at + tag[at..].find('"')?])
    }

    /// Every `<text>` element: its attributes' text and its content.
    pub fn texts(svg: &str) -> Vec<(&str, String)> {
        svg.match_indices("<text")
            .filter_map(|(at, _)| {
                let open_end = at + svg[at..].find('>')?;
                let close = open_end + svg[open_end..].find("</text>")?;
                Some((&svg[at..open_end], svg[open_end + 1..close].trim().to_owned()))
            })
            .collect()
    }

    /// The tick labels of the x axis below the plot (centred, hanging from the axis:
    /// an axis above the plot writes its labels again, standing on it) and of the y axis
    /// (ending left of it, centred on the tick), as plotters writes them.
    pub fn ticks(svg: &str) -> (Vec<String>, Vec<String>) {
        let all = texts(svg);
        let with = |anchor: &str, dy: &str| {
            all.iter()
                .filter(|(tag, _)| attr(tag, "text-anchor") == Some(anchor) && attr(tag, "dy") == Some(dy))
                .filter(|(tag, _)| !tag.contains("transform"))
                .map(|(_, t)| t.clone())
                .collect::<Vec<_>>()
        };
        (with("middle", "0.76em"), with("end", "0.5ex"))
    }

    /// Every element named `name` (`circle`, `polygon`, `rect`) with whether it holds a `<title>`.
    pub fn marks<'a>(svg: &'a str, name: &str) -> Vec<(&'a str, Option<String>)> {
        svg.match_indices(&format!("<{name} "))
            .map(|(at, _)| {
                let end = at + svg[at..].find('>').unwrap_or(svg.len() - at);
                let tag = &svg[at..end];
                let title = (!tag.ends_with('/') && svg[end + 1..].starts_with("<title>")).then(|| {
                    let body = &svg[end + 1 + "<title>".len()..];
                    body[..body.find("</title>").unwrap_or(0)].to_owned()
                });
                (tag, title)
            })
            .collect()
    }
}
