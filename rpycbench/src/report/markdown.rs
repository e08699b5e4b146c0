//! GitHub-flavoured Markdown: the report's tables for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`.

use super::comparison::Comparison;
use super::findings::{findings_markdown, findings_of, unchecked_note};
use super::sections::result_tables;
use crate::metrics::ResultSet;
use crate::table::{escape, markdown_table};
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
    let headline = super::headline::headline(results);
    if !headline.is_empty() {
        out.push_str("### Headline\n\n");
        for pair in &headline {
            let _ = writeln!(out, "- {}", escape(&pair.to_string()));
        }
        let _ = writeln!(out, "\n{}\n", escape(super::headline::HEADLINE_KEY));
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
