//! Tables as GitHub-flavoured Markdown: the reports' `summary.md` and the harness's
//! `$GITHUB_STEP_SUMMARY`.

use super::{Table, Tone};
use std::fmt::Write;

/// One table: a `###` title, its caption in italics, then the pipe table with numeric
/// columns right-aligned.
pub fn markdown_table(t: &Table) -> String {
    let mut out = format!("### {}\n\n", escape(&t.title));
    if !t.caption.is_empty() {
        let _ = writeln!(out, "_{}_\n", escape(&t.caption));
    }
    let headers: Vec<String> = t.columns.iter().map(|c| escape(&c.header)).collect();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let rules: Vec<&str> = t.columns.iter().map(|c| if c.numeric { "---:" } else { ":---" }).collect();
    let _ = writeln!(out, "|{}|", rules.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c.tone {
                Tone::Bad if c.text != "–" => format!("**{}**", escape(&c.text)),
                _ => escape(&c.text),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    for note in &t.notes {
        let _ = write!(out, "\n_{}_\n", escape(note));
    }
    out
}

/// Escapes what would break a table cell or start Markdown/HTML markup.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{TableBuilder, Value};

    #[test]
    fn tables_are_github_pipe_tables() {
        let mut b = TableBuilder::new("t", "Latency", "How to read it.", &["benchmark", "p50"]);
        b.row(vec![Value::Text("ping[a|b]".into()), Value::Ns(53_000.0)]);
        let md = markdown_table(&b.build());
        assert_eq!(
            md,
            "### Latency\n\n_How to read it._\n\n| benchmark | p50 (µs) |\n|:---|---:|\n| ping\\[a\\|b\\] | 53.0 |\n"
        );
    }
}
