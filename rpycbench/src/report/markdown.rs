//! GitHub-flavoured Markdown: the report's tables for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`.

use super::comparison::Comparison;
use super::findings::{findings_markdown, findings_of, unchecked_note};
use super::sections::result_tables;
use super::table::{Table, Tone};
use crate::metrics::ResultSet;
use std::fmt::Write;

/// The whole report as Markdown: verdict first (when comparing), then the environment
/// and every table.
pub fn markdown_report(results: &ResultSet, comparison: Option<&Comparison>) -> String {
    let mut out = String::from("## rpycbench results\n\n");
    if let Some(c) = comparison {
        let mark = if c.regressed() { "**Regression**" } else { "No regression" };
        let _ = writeln!(out, "{mark} against baseline `{}`: {}.\n", escape(&c.baseline_label), c.verdict_line());
        for w in &c.warnings {
            let _ = writeln!(out, "> {}\n", escape(w));
        }
    }
    if let Some(env) = results.results.first().map(|r| &r.environment) {
        let mut line = format!(
            "{} results of {} on {} ({} cores), {}, {}, {} build",
            results.results.len(),
            results.created_at,
            env.cpu_model,
            env.cores,
            env.os,
            env.rustc,
            env.build_profile
        );
        if let (Some(py), Some(rpyc)) = (&env.python, &env.rpyc) {
            let _ = write!(line, ", Python {py} with rpyc {rpyc}");
        }
        let _ = writeln!(out, "{}.\n", escape(&line));
    } else {
        out.push_str("No results.\n\n");
    }
    findings_markdown(&mut out, &findings_of(results), unchecked_note(results).as_deref());
    let mut tables = result_tables(results);
    if let Some(c) = comparison {
        tables.insert(0, c.table());
    }
    for t in &tables {
        out.push_str(&markdown_table(t));
        out.push('\n');
    }
    out
}

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
    use crate::report::table::{TableBuilder, Value};

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
