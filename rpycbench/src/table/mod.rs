//! The table model every text output renders: columns of typed values, turned into
//! text with one unit per column so a column reads aligned. Its renderers: Markdown
//! ([`markdown_table`], the reports and the harness's step summary), plain aligned text
//! ([`plain_table`], the profiler's report), and, with the `report` feature, the
//! terminal tables and the HTML report.
//!
//! A layer of its own, below the harness, the profiler and the reports, using nothing
//! but the standard library and `metrics`' number formatting, so each can render
//! through it.

// Tones, rates and figures are what the reports (feature `report`) show; without them
// the harness and the profiler use the rest.
#![cfg_attr(not(feature = "report"), allow(dead_code))]

mod markdown;
mod plain;
mod units;

// The reports (feature `report`) use all of it; the harness and the profiler a part.
#[cfg_attr(not(feature = "report"), allow(unused_imports))]
pub(crate) use markdown::{escape, markdown_table};
pub(crate) use plain::plain_table;
#[cfg_attr(not(feature = "report"), allow(unused_imports))]
pub(crate) use units::{format_bps, ColumnUnit};

/// How a cell should stand out; each renderer maps it to colour or emphasis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tone {
    /// Ordinary.
    #[default]
    Plain,
    /// Better than before, or all good (improved, 100 % success).
    Good,
    /// Worse: regressed, or requests failed.
    Bad,
    /// Worth a look: a warning, not a failure.
    Warn,
    /// Secondary information.
    Muted,
}

/// A cell's value before formatting: times and rates are formatted only once the whole
/// column is known, so the column shares one unit.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text, shown as is.
    Text(String),
    /// A duration in nanoseconds.
    Ns(f64),
    /// A byte rate in bytes per second.
    Bps(f64),
    /// A count.
    Int(u64),
    /// A size in bytes, written in binary units (`1 KiB`, `5.51 MiB`).
    Bytes(u64),
    /// A number with the given decimals.
    Num(f64, usize),
    /// A percentage (0–100) with one decimal.
    Pct(f64),
    /// A number already written out (`+4.8%`, `-3.1% … +9.0%`): right-aligned, as is.
    Figure(String),
    /// Nothing measured.
    Missing,
}

/// A formatted cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// What is shown.
    pub text: String,
    /// How it stands out.
    pub tone: Tone,
}

/// A column: its header (with the unit, once known) and whether it holds numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Header text, e.g. `p50 (µs)`.
    pub header: String,
    /// Numbers are right-aligned.
    pub numeric: bool,
}

/// A finished table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// A short identifier, usable as an HTML anchor.
    pub id: String,
    /// Its title.
    pub title: String,
    /// One sentence on how to read it.
    pub caption: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
    /// What a reader must know to read these rows right (why a cell is empty, say),
    /// shown under the table by every renderer, the terminal included, which leaves
    /// captions out.
    pub notes: Vec<String>,
}

/// Collects typed rows, then formats each column with one unit.
#[derive(Debug)]
pub struct TableBuilder {
    id: String,
    title: String,
    caption: String,
    headers: Vec<String>,
    rows: Vec<Vec<(Value, Tone)>>,
    /// Columns that must share one unit (baseline next to current).
    unit_groups: Vec<Vec<usize>>,
}

impl TableBuilder {
    /// A table with these column headers (units are appended when known).
    pub fn new(id: &str, title: &str, caption: &str, headers: &[&str]) -> TableBuilder {
        TableBuilder {
            id: id.into(),
            title: title.into(),
            caption: caption.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            unit_groups: Vec::new(),
        }
    }

    /// Makes these columns share one unit, so values side by side compare directly.
    pub fn same_unit(mut self, columns: &[usize]) -> TableBuilder {
        self.unit_groups.push(columns.to_vec());
        self
    }

    /// Adds a row of plain cells.
    pub fn row(&mut self, values: Vec<Value>) {
        self.toned_row(values.into_iter().map(|v| (v, Tone::Plain)).collect());
    }

    /// Adds a row whose cells carry tones. Short rows are padded with missing cells.
    pub fn toned_row(&mut self, mut cells: Vec<(Value, Tone)>) {
        cells.resize(self.headers.len(), (Value::Missing, Tone::Plain));
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Formats every column: one unit per time or rate column, shown in its header.
    pub fn build(self) -> Table {
        let width = self.headers.len();
        let mut columns = Vec::with_capacity(width);
        let mut formatters: Vec<ColumnFormat> = Vec::with_capacity(width);
        for (i, header) in self.headers.iter().enumerate() {
            let column: Vec<&Value> = self.rows.iter().map(|r| &r[i].0).collect();
            let group = self.unit_groups.iter().find(|g| g.contains(&i)).cloned().unwrap_or_else(|| vec![i]);
            let unit_values: Vec<&Value> =
                group.iter().flat_map(|&j| self.rows.iter().filter_map(move |r| r.get(j).map(|c| &c.0))).collect();
            let times: Vec<f64> =
                unit_values.iter().filter_map(|v| if let Value::Ns(x) = v { Some(*x) } else { None }).collect();
            let rates: Vec<f64> =
                unit_values.iter().filter_map(|v| if let Value::Bps(x) = v { Some(*x) } else { None }).collect();
            let numeric = column.iter().any(|v| !matches!(v, Value::Text(_) | Value::Missing));
            let time_unit = ColumnUnit::time(&times);
            let rate_unit = ColumnUnit::rate(&rates);
            let mut header = header.clone();
            if !times.is_empty() {
                header = format!("{header} ({})", time_unit.symbol);
            } else if !rates.is_empty() {
                header = format!("{header} ({})", rate_unit.symbol);
            }
            columns.push(Column { header, numeric });
            formatters.push(ColumnFormat { time: time_unit, rate: rate_unit });
        }
        let rows = self
            .rows
            .iter()
            .map(|r| r.iter().zip(&formatters).map(|((v, tone), f)| Cell { text: f.format(v), tone: *tone }).collect())
            .collect();
        Table { id: self.id, title: self.title, caption: self.caption, columns, rows, notes: Vec::new() }
    }
}

/// How one column's values are written.
struct ColumnFormat {
    time: ColumnUnit,
    rate: ColumnUnit,
}

impl ColumnFormat {
    fn format(&self, v: &Value) -> String {
        match v {
            Value::Text(t) | Value::Figure(t) => t.clone(),
            Value::Ns(x) => self.time.format(*x),
            Value::Bps(x) => self.rate.format(*x),
            Value::Int(n) => group_thousands(*n),
            Value::Bytes(b) => format_bytes(*b),
            Value::Num(x, d) => format!("{x:.*}", *d),
            Value::Pct(p) => format!("{p:.1}%"),
            Value::Missing => "–".to_owned(),
        }
    }
}

/// How wide text output may be off a terminal (logs, CI, pipes): what an ordinary
/// terminal window and a code review show without wrapping.
pub const WIDTH_OFF_TERMINAL: u16 = 100;

/// `text` in lines of at most `width` characters, broken at spaces (a word longer than
/// the width keeps a line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// `1234567` as `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg_attr(not(feature = "report"), allow(unused_imports))]
pub(crate) use crate::metrics::format_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_share_a_unit_and_say_it_in_the_header() {
        let mut b = TableBuilder::new("t", "T", "", &["name", "p50", "rate"]);
        b.row(vec![Value::Text("a".into()), Value::Ns(250_000.0), Value::Bps(2e6)]);
        b.row(vec![Value::Text("b".into()), Value::Ns(3_100_000.0), Value::Missing]);
        let t = b.build();
        let headers: Vec<&str> = t.columns.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(headers, ["name", "p50 (ms)", "rate (MB/s)"]);
        assert_eq!(t.rows[0][1].text, "0.250");
        assert_eq!(t.rows[1][1].text, "3.10");
        assert_eq!(t.rows[1][2].text, "–");
        assert!(!t.columns[0].numeric && t.columns[1].numeric);
    }

    #[test]
    fn grouped_columns_share_a_unit() {
        let mut b = TableBuilder::new("t", "T", "", &["base", "now"]).same_unit(&[0, 1]);
        b.row(vec![Value::Ns(90_000.0), Value::Ns(3_000_000.0)]);
        b.row(vec![Value::Ns(80_000.0), Value::Ns(2_000_000.0)]);
        let t = b.build();
        assert_eq!((t.columns[0].header.as_str(), t.columns[1].header.as_str()), ("base (ms)", "now (ms)"));
        assert_eq!(t.rows[0][0].text, "0.090");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(10 * 1048576), "10 MiB");
        assert_eq!(format_bytes(1000), "1000 B");
        assert_eq!(format_bytes(1536), "1.50 KiB");
        assert_eq!(format_bytes(5_773_308), "5.51 MiB");
    }
}
