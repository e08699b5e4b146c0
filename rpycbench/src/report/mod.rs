//! Reports of result collections: terminal tables now; Markdown and HTML build on the
//! same rows.

mod terminal;
mod units;

pub use terminal::{summary_table, Row};
pub use units::{format_bps, format_ns};
