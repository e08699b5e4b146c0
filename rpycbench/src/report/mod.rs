//! Reports of result collections: terminal tables, Markdown summaries and a
//! self-contained HTML page with SVG plots, all rendering the same tables.

mod comparison;
mod findings;
mod headline;
mod html;
mod markdown;
mod plots;
mod sections;
mod sweep;
mod terminal;
mod workers;

// The public surface is the renderings and how they are written; the tables, cells and
// units behind them are how they are made, free to change.
pub use comparison::{ComparedSeries, Comparison};
pub use files::{write_reports, ReportFiles};
pub use html::html_report;
pub use markdown::markdown_report;
pub use terminal::{colour_enabled, colour_wanted, terminal_report};

mod files;
pub(crate) use crate::table::format_bps;
pub(crate) use terminal::tables_except;
