//! Reports of result collections: terminal tables, Markdown summaries and a
//! self-contained HTML page with SVG plots, all rendering the same tables.

mod comparison;
mod findings;
mod html;
mod markdown;
mod plots;
mod sections;
mod sweep;
mod table;
mod terminal;
mod units;

pub use crate::metrics::format_ns;
pub use comparison::{ComparedSeries, Comparison};
pub use html::html_report;
pub use markdown::markdown_report;
pub use sections::result_tables;
pub use sweep::{name_prefix, sweeps, Sweep, SweepValue, SWEEP_PARAMETER, SWEEP_VALUE};
pub use table::{Cell, Column, Table, Tone, Value};
pub use terminal::{colour_enabled, colour_wanted, render_table, summary_table, terminal_report, Row};
pub use units::{format_bps, ColumnUnit};
mod files;
pub use files::{write_reports, ReportFiles};
