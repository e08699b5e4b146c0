//! Terminal tables: aligned, one unit per column, coloured only on a terminal and
//! never when `NO_COLOR` is set.

use super::comparison::Comparison;
use super::sections;
use crate::metrics::ResultSet;
use crate::table::{wrap, Table, Tone};
use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Width};
use std::io::IsTerminal;

/// What a report of no results says.
const NO_RESULTS: &str = "no results";

/// Every table of a result collection but those whose ids are in `leave_out`, as
/// `report` prints them: what `rpycbench bench` shows of its one result (per-size
/// bandwidth, failures with their reasons and counts, resources), so a run's terminal
/// output says what its results file and `report` would.
pub(crate) fn tables_except(results: &ResultSet, leave_out: &[&str], colour: bool) -> String {
    let tables: Vec<String> = sections::result_tables(results)
        .iter()
        .filter(|t| !leave_out.contains(&t.id.as_str()))
        .map(|t| render_table(t, colour))
        .collect();
    if tables.is_empty() {
        return NO_RESULTS.to_owned();
    }
    tables.join("\n\n")
}

/// Whether to colour output on stdout: only on a terminal, and never when `NO_COLOR`
/// is set to anything non-empty (<https://no-color.org>).
pub fn colour_enabled() -> bool {
    colour_wanted(std::env::var_os("NO_COLOR").as_deref(), std::io::stdout().is_terminal())
}

/// The decision of [`colour_enabled`], from its two inputs.
pub fn colour_wanted(no_color: Option<&std::ffi::OsStr>, is_terminal: bool) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

pub use crate::table::WIDTH_OFF_TERMINAL;

/// The width tables must fit: the terminal's when stdout is one, else
/// [`WIDTH_OFF_TERMINAL`].
fn output_width() -> u16 {
    // A fresh comfy table reports the terminal's width when stdout is a terminal.
    comfy_table::Table::new().width().unwrap_or(WIDTH_OFF_TERMINAL).max(40)
}

/// One table as aligned text, headed by its title; ANSI colour only when `colour`.
/// It fits the terminal's width (or [`WIDTH_OFF_TERMINAL`] off a terminal).
pub fn render_table(t: &Table, colour: bool) -> String {
    render_table_within(t, colour, output_width())
}

/// [`render_table`] within `width` columns: a column whose cells all say the same
/// (one server, one benchmark) moves into a line above the table, and headers wrap
/// before any value does.
pub fn render_table_within(t: &Table, colour: bool, width: u16) -> String {
    let shared = shared_columns(t, width);
    let kept: Vec<usize> = (0..t.columns.len()).filter(|i| !shared.contains(i)).collect();
    let mut table = comfy_table::Table::new();
    table.load_preset(presets::UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Disabled);
    if colour {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table.set_header(kept.iter().map(|&i| {
        let cell = Cell::new(&t.columns[i].header);
        if colour {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for row in &t.rows {
        table.add_row(kept.iter().map(|&i| {
            let c = &row[i];
            let cell = Cell::new(&c.text);
            match (colour, c.tone) {
                (true, Tone::Good) => cell.fg(Color::Green),
                (true, Tone::Bad) => cell.fg(Color::Red).add_attribute(Attribute::Bold),
                (true, Tone::Warn) => cell.fg(Color::Yellow),
                (true, Tone::Muted) => cell.fg(Color::DarkGrey),
                _ => cell,
            }
        }));
    }
    let widths = column_widths(t, &kept, width);
    for (shown, &i) in kept.iter().enumerate() {
        let Some(col) = table.column_mut(shown) else { continue };
        // One space between columns, not comfy's three: a dozen columns then fit.
        col.set_padding((0, 1));
        if t.columns[i].numeric {
            col.set_cell_alignment(CellAlignment::Right);
        }
        if let Some(w) = widths.as_ref().and_then(|w| w.get(shown)) {
            col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(u16::try_from(*w + 1).unwrap_or(u16::MAX))));
        }
    }
    let mut out = if colour { format!("\x1b[1m{}\x1b[0m", t.title) } else { t.title.clone() };
    if !shared.is_empty() {
        let said: Vec<String> =
            shared.iter().map(|&i| format!("{} {}", t.columns[i].header, t.rows[0][i].text)).collect();
        let joined = said.join(", ");
        // Beside the title when both fit the width, else on lines of their own.
        if t.title.chars().count() + joined.chars().count() + 3 <= usize::from(width) {
            out.push_str(&format!(" ({joined})"));
        } else {
            let mut line = String::new();
            for item in said {
                if !line.is_empty() && line.chars().count() + item.chars().count() + 4 > usize::from(width) {
                    out.push_str(&format!("\n  {line},"));
                    line.clear();
                }
                if !line.is_empty() {
                    line.push_str(", ");
                }
                line.push_str(&item);
            }
            out.push_str(&format!("\n  {line}"));
        }
    }
    out.push('\n');
    out.push_str(&table.to_string());
    for note in &t.notes {
        for line in wrap(note, usize::from(width).saturating_sub(2)) {
            out.push_str("\n  ");
            out.push_str(&line);
        }
    }
    out
}

/// Each kept column's width when the table would be wider than `width` at its natural
/// widths (None when it fits as it is): a column gives up only its header's length,
/// wrapping the header at spaces, never a value's, so no number is ever cut in two.
fn column_widths(t: &Table, kept: &[usize], width: u16) -> Option<Vec<usize>> {
    let chars = |s: &str| s.chars().count();
    let longest_value = |i: usize| t.rows.iter().map(|r| chars(&r[i].text)).max().unwrap_or(0);
    let natural: Vec<usize> = kept.iter().map(|&i| longest_value(i).max(chars(&t.columns[i].header))).collect();

    if total_width(&natural) <= usize::from(width) {
        return None;
    }
    let longest_word = |i: usize| t.columns[i].header.split(' ').map(chars).max().unwrap_or(0);
    // A number never wraps; text (an error message) wraps down to a readable width.
    let least_value =
        |i: usize| if t.columns[i].numeric { longest_value(i) } else { longest_value(i).min(TEXT_WRAPS_AT) };
    let least: Vec<usize> = kept.iter().map(|&i| least_value(i).max(longest_word(i))).collect();
    // Narrow the columns with the most to give first, and only until the table fits, so
    // as few headers as possible wrap.
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(natural[k] - least[k]));
    let mut widths = natural;
    for k in order {
        if total_width(&widths) <= usize::from(width) {
            break;
        }
        let excess = total_width(&widths) - usize::from(width);
        widths[k] = widths[k].saturating_sub(excess).max(least[k]);
    }
    Some(widths)
}

/// The narrowest a text column gets when the table must shrink: its longer cells wrap.
const TEXT_WRAPS_AT: usize = 30;

/// A table's width in characters with these column widths: two borders, a padding space
/// after each column and a (blank) line between two.
fn total_width(widths: &[usize]) -> usize {
    2 + widths.iter().map(|w| w + 1).sum::<usize>() + widths.len().saturating_sub(1)
}

/// The text columns whose every cell says the same, said once beside the title instead
/// of on every line: in a table of more than one row always, and in a one-row table
/// (what `bench` prints of its result) when it could not fit the width otherwise.
fn shared_columns(t: &Table, width: u16) -> Vec<usize> {
    let Some(first) = t.rows.first() else { return Vec::new() };
    let alike = (0..t.columns.len())
        .filter(|&i| !t.columns[i].numeric)
        .filter(|&i| first[i].text != "–" && !first[i].text.is_empty())
        .filter(|&i| t.rows.iter().all(|r| r[i].text == first[i].text));
    if t.rows.len() > 1 {
        return alike.collect();
    }
    let all: Vec<usize> = (0..t.columns.len()).collect();
    match column_widths(t, &all, width) {
        Some(w) if total_width(&w) > usize::from(width) => alike.collect(),
        _ => Vec::new(),
    }
}

/// Every table of a report, separated by blank lines, then the headline when servers
/// can be compared (the suite's output and `report`'s alike).
pub fn terminal_report(results: &ResultSet, comparison: Option<&Comparison>, colour: bool) -> String {
    let mut out = match comparison {
        None => tables_except(results, &[], colour),
        Some(c) => {
            let tables = [tables_except(results, &[], colour), render_table(&c.table(), colour)];
            let shown: Vec<&str> = tables.iter().map(String::as_str).filter(|t| *t != NO_RESULTS).collect();
            format!("{}\n\nbaseline {}: {}", shown.join("\n\n"), c.baseline_label, c.verdict_line())
        }
    };
    let pairs = super::headline::headline(results);
    if !pairs.is_empty() {
        // A pair per line, its ratios indented under it: each line reads in 100 columns.
        out.push_str(if colour { "\n\n\x1b[1mHeadline\x1b[0m" } else { "\n\nHeadline" });
        for pair in &pairs {
            out.push_str(&format!("\n  {}\n    {}", pair.pair, pair.ratios.join(" · ")));
        }
        out.push_str(&format!("\n  ({})", super::headline::HEADLINE_KEY.replace("; ", ";\n   ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_follows_no_color_and_the_terminal() {
        assert!(colour_wanted(None, true));
        assert!(colour_wanted(Some(OsStr::new("")), true));
        assert!(!colour_wanted(Some(OsStr::new("1")), true));
        assert!(!colour_wanted(None, false));
    }

    #[test]
    fn colour_is_ansi_and_plain_is_not() {
        let mut b = crate::table::TableBuilder::new("t", "Title", "", &["name", "ok"]);
        b.toned_row(vec![(crate::table::Value::Text("x".into()), Tone::Bad)]);
        let t = b.build();
        assert!(render_table(&t, true).contains('\x1b'));
        assert!(!render_table(&t, false).contains('\x1b'));
    }

    /// A bandwidth table as `bench` prints it: twelve columns, four of them alike on
    /// every row, whose natural width is about 140 columns.
    fn wide_table() -> Table {
        use crate::table::{TableBuilder, Value};
        let headers =
            ["benchmark", "direction", "size", "chunk", "server", "ops", "ok", "p50", "p99", "mean", "median", "worst"];
        let mut b = TableBuilder::new("bandwidth", "Bandwidth per payload size", "", &headers);
        for (direction, size, p50) in [("upload", "1 KiB", 121_000.0), ("download", "10 MiB", 11_860_000.0)] {
            b.row(vec![
                Value::Text("payload_size_benchmark".into()),
                Value::Text(direction.into()),
                Value::Text(size.into()),
                Value::Text("whole".into()),
                Value::Text("python-threaded".into()),
                Value::Int(1000),
                Value::Pct(100.0),
                Value::Ns(p50),
                Value::Ns(p50 * 3.0),
                Value::Bps(846e6),
                Value::Bps(843e6),
                Value::Bps(7.1e6),
            ]);
        }
        b.build()
    }

    #[test]
    fn tables_fit_the_width_and_say_shared_columns_once() {
        let t = wide_table();
        for width in [100, 80] {
            let text = render_table_within(&t, false, width);
            for line in text.lines() {
                assert!(line.chars().count() <= usize::from(width), "{} > {width}: {line}\n{text}", line.len());
            }
            if width == 100 {
                // Headers wrap only as far as needed: this one fits on one line at 100.
                assert_eq!(text.lines().filter(|l| l.starts_with('│')).count(), 3, "{text}");
            }
            // Values are whole: no number or direction broken over two lines.
            for value in ["download", "11.9", "35.6", "846", "7.10", "1,000", "100.0%"] {
                assert!(text.contains(value), "{value} missing or wrapped at {width}:\n{text}");
            }
            let said = "benchmark payload_size_benchmark, chunk whole, server python-threaded";
            let expected = match width {
                100 => format!("Bandwidth per payload size ({said})\n"),
                _ => format!("Bandwidth per payload size\n  {said}\n"),
            };
            assert!(text.starts_with(&expected), "{text}");
        }
    }

    #[test]
    fn long_headers_wrap_at_spaces_only_as_far_as_needed() {
        // The real resources table (eight columns, long headers) of one benchmark.
        use crate::metrics::{BenchKind, BenchResult, LatencyHistogram, WireStats};
        let mut h = LatencyHistogram::new();
        h.record_ns(50_000);
        let mut r = BenchResult::for_test("concurrent[ping]", BenchKind::Concurrent, "external", &h, 1_000_000_000);
        r.wire = Some(WireStats::from_counters(&crate::client::WireCounters::default(), 1));
        let mut set = ResultSet::new();
        set.push(r);
        let table = super::super::sections::resources(&set).expect("a resources table");
        let text = render_table_within(&table, false, 100);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= 100, "{widest} columns:\n{text}");
        // It fits once the widest headers give way; the rest stay on one line.
        assert!(text.contains("benchmark") && text.contains("bytes/req"), "{text}");
        assert!(widest >= 90, "narrowed more than needed ({widest}):\n{text}");
    }

    #[test]
    fn long_text_wraps_inside_its_cell_and_numbers_stay_whole() {
        use crate::table::{TableBuilder, Value};
        let mut b = TableBuilder::new("failures", "Failures", "", &["benchmark", "attempts", "count", "error"]);
        let message = "ConnectionResetError: [Errno 104] Connection reset by peer while reading the reply \
                       frame header of request 4711 on connection 12 of the concurrent benchmark";
        b.row(vec![
            Value::Text("concurrent".into()),
            Value::Int(1_000_000),
            Value::Int(388),
            Value::Text(message.into()),
        ]);
        b.row(vec![
            Value::Text("latency".into()),
            Value::Int(400),
            Value::Int(100),
            Value::Text("LookupError: k".into()),
        ]);
        let text = render_table_within(&b.build(), false, 100);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(text.contains("1,000,000") && text.contains(" 388 "), "{text}");
        let words: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == '│').filter(|w| !w.is_empty()).collect();
        assert!(message.split(' ').all(|w| words.contains(&w)), "every word of the message is shown:\n{text}");
    }

    #[test]
    fn notes_wrap_at_the_width() {
        let mut t = wide_table();
        t.notes.push("word ".repeat(40).trim_end().to_owned());
        let text = render_table_within(&t, false, 100);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert_eq!(text.matches("word").count(), 40, "{text}");
    }

    #[test]
    fn a_single_row_keeps_its_columns_when_they_fit() {
        let mut t = wide_table();
        t.rows.truncate(1);
        let text = render_table_within(&t, false, 120);
        assert!(text.starts_with("Bandwidth per payload size\n"), "{text}");
        assert!(text.contains("payload_size_benchmark") && text.contains("python-threaded"), "{text}");
        // Too wide for 100 columns even with every header wrapped: its text says itself
        // beside the title.
        let text = render_table_within(&t, false, 100);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(
            text.starts_with("Bandwidth per payload size\n  benchmark payload_size_benchmark, direction upload"),
            "{text}"
        );
    }
}
