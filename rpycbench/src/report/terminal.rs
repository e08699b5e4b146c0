//! Terminal tables: aligned, one unit per column, coloured only on a terminal and
//! never when `NO_COLOR` is set.

use super::comparison::Comparison;
use super::sections;
use crate::metrics::ResultSet;
use crate::table::{Table, Tone};
use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement};
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

/// One table as aligned text, headed by its title; ANSI colour only when `colour`.
pub fn render_table(t: &Table, colour: bool) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(presets::UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Disabled);
    if colour {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table.set_header(t.columns.iter().map(|c| {
        let cell = Cell::new(&c.header);
        if colour {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for row in &t.rows {
        table.add_row(row.iter().map(|c| {
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
    for (i, c) in t.columns.iter().enumerate() {
        if let (true, Some(col)) = (c.numeric, table.column_mut(i)) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let title = if colour { format!("\x1b[1m{}\x1b[0m", t.title) } else { t.title.clone() };
    let mut out = format!("{title}\n{table}");
    for note in &t.notes {
        out.push_str("\n  ");
        out.push_str(note);
    }
    out
}

/// Every table of a report, separated by blank lines.
pub fn terminal_report(results: &ResultSet, comparison: Option<&Comparison>, colour: bool) -> String {
    let Some(c) = comparison else { return tables_except(results, &[], colour) };
    let tables = [tables_except(results, &[], colour), render_table(&c.table(), colour)];
    let shown: Vec<&str> = tables.iter().map(String::as_str).filter(|t| *t != NO_RESULTS).collect();
    format!("{}\n\nbaseline {}: {}", shown.join("\n\n"), c.baseline_label, c.verdict_line())
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
}
