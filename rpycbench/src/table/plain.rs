//! Tables as plain aligned text, with no colour and no box drawing: what the profiler's
//! report prints on stderr and into logs, where a terminal table's borders and escape
//! codes would only get in the way.

use super::Table;
use std::fmt::Write;

/// The table's header and rows in aligned columns (numbers right-aligned, text left),
/// each line indented by `indent` spaces, then its notes. The title and caption are the
/// caller's to print: a plain table sits inside a section that already says what it is.
pub fn plain_table(t: &Table, indent: usize) -> String {
    let widths: Vec<usize> = (0..t.columns.len())
        .map(|i| {
            let cells = t.rows.iter().filter_map(|r| r.get(i)).map(|c| c.text.chars().count());
            cells.chain([t.columns[i].header.chars().count()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = " ".repeat(indent);
        for (i, (text, width)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            // Text pads right, numbers pad left; the last column carries no trailing blanks.
            let pad = width - text.chars().count();
            if t.columns[i].numeric {
                out.push_str(&" ".repeat(pad));
                out.push_str(text);
            } else {
                out.push_str(text);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(t.columns.iter().map(|c| c.header.as_str()).collect()));
    for row in &t.rows {
        let _ = writeln!(out, "{}", line(row.iter().map(|c| c.text.as_str()).collect()));
    }
    for note in &t.notes {
        let _ = writeln!(out, "{}{note}", " ".repeat(indent));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{TableBuilder, Value};

    #[test]
    fn columns_align_and_numbers_share_a_unit() {
        let mut b = TableBuilder::new("m", "Methods", "", &["label", "count", "total"]);
        b.row(vec![Value::Text("CALLATTR ping".into()), Value::Int(12), Value::Ns(1_500_000.0)]);
        b.row(vec![Value::Text("GETATTR".into()), Value::Int(3), Value::Ns(250_000.0)]);
        let text = plain_table(&b.build(), 2);
        assert_eq!(
            text,
            "  label          count  total (ms)\n  \
               CALLATTR ping     12        1.50\n  \
               GETATTR            3       0.250\n"
        );
    }
}
