//! The diagnosis engine's findings in the Markdown and HTML reports: the conclusions a
//! reader wants before the tables, each with what was measured and what to do.

use super::html::escape as html_escape;
use super::markdown::escape as md_escape;
use crate::metrics::ResultSet;
use crate::profile::diagnosis::{diagnose, Finding, Severity, Thresholds};
use std::fmt::Write;

/// Findings on `results` with the default thresholds (a report is a reading of the
/// results, so it makes no choices of its own; `rpycbench diagnose`-style tuning
/// belongs to the engine's callers).
pub(crate) fn findings_of(results: &ResultSet) -> Vec<Finding> {
    diagnose(&results.results, &Thresholds::default())
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "bad",
        Severity::Warning => "warn",
        Severity::Info => "muted",
    }
}

/// A `Findings` section of cards; nothing when there are no findings.
pub(crate) fn findings_html(page: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    page.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n<div class=\"findings\">\n");
    for f in findings {
        let _ = write!(
            page,
            "<div class=\"card finding {}\">\n<h3><span class=\"badge\">{}</span> {} <span class=\"subject\">{}</span></h3>\n<ul>",
            severity_class(f.severity),
            f.severity,
            html_escape(&f.title),
            html_escape(&f.subject)
        );
        for e in &f.evidence {
            let _ = write!(page, "<li>measured: {}</li>", html_escape(&e.to_string()));
        }
        for d in &f.details {
            let _ = write!(page, "<li>{}</li>", html_escape(d));
        }
        let _ = write!(
            page,
            "</ul>\n<p>{}</p>\n<p class=\"action\"><strong>Action:</strong> {}</p>\n</div>\n",
            html_escape(&f.explanation),
            html_escape(&f.action)
        );
    }
    page.push_str("</div>\n</section>\n");
}

/// A `### Findings` list; nothing when there are no findings.
pub(crate) fn findings_markdown(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    out.push_str("### Findings\n\n");
    for f in findings {
        let _ = writeln!(out, "- **{}** {} — {}", f.severity, md_escape(&f.title), md_escape(&f.subject));
        for e in &f.evidence {
            let _ = writeln!(out, "  - measured: {}", md_escape(&e.to_string()));
        }
        let _ = writeln!(out, "  - action: {}", md_escape(&f.action));
    }
    out.push('\n');
}
