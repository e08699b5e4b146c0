//! The diagnosis engine's findings in the Markdown and HTML reports: the conclusions a
//! reader wants before the tables, each with what was measured and what to do.

use super::html::escape as html_escape;
use crate::metrics::{BenchKind, ResultSet};
use crate::profile::diagnosis::{diagnose, Finding, Severity, Thresholds};
use crate::table::escape as md_escape;
use std::fmt::Write;

/// Findings on `results` with the default thresholds (a report is a reading of the
/// results, so it makes no choices of its own; `rpycbench diagnose`-style tuning
/// belongs to the engine's callers).
pub(crate) fn findings_of(results: &ResultSet) -> Vec<Finding> {
    diagnose(&results.results, &Thresholds::default())
}

/// What the diagnosis could not check, when it matters: the CPU rules (I/O bound read
/// from CPU, server at capacity, machine saturated, GIL contention) need the server's
/// CPU, which is sampled for the built-in servers and for a server given `--server-pid`,
/// but not for a bare address.
pub(crate) fn unchecked_note(results: &ResultSet) -> Option<String> {
    let blind: Vec<&str> = results
        .results
        .iter()
        .filter(|r| matches!(r.kind, BenchKind::Latency | BenchKind::Concurrent))
        .filter(|r| r.system.as_ref().is_none_or(|s| s.server.is_none()))
        .map(|r| r.name.as_str())
        .collect();
    if blind.is_empty() {
        return None;
    }
    Some(format!(
        "Not checked for {}: the rules that read the server's CPU (I/O bound, server at capacity, machine saturated, \
         GIL contention), as its CPU was not sampled. When the server runs on this machine, give `--server-pid PID` \
         to `rpycbench bench` or `sweep`; the latency and throughput rules (concurrency limit, I/O bound by overlap, \
         delayed-ACK stall) did run.",
        blind.join(", ")
    ))
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "bad",
        Severity::Warning => "warn",
        Severity::Info => "muted",
    }
}

/// A `Findings` section of cards, and what could not be checked; nothing when there is
/// neither.
pub(crate) fn findings_html(page: &mut String, findings: &[Finding], unchecked: Option<&str>) {
    if findings.is_empty() && unchecked.is_none() {
        return;
    }
    page.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
    if let Some(note) = unchecked {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", html_escape(note));
    }
    page.push_str("<div class=\"findings\">\n");
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

/// A `### Findings` list, and what could not be checked; nothing when there is neither.
pub(crate) fn findings_markdown(out: &mut String, findings: &[Finding], unchecked: Option<&str>) {
    if findings.is_empty() && unchecked.is_none() {
        return;
    }
    out.push_str("### Findings\n\n");
    if let Some(note) = unchecked {
        let _ = writeln!(out, "_{}_\n", md_escape(note));
    }
    for f in findings {
        let _ = writeln!(out, "- **{}** {} — {}", f.severity, md_escape(&f.title), md_escape(&f.subject));
        for e in &f.evidence {
            let _ = writeln!(out, "  - measured: {}", md_escape(&e.to_string()));
        }
        let _ = writeln!(out, "  - action: {}", md_escape(&f.action));
    }
    out.push('\n');
}
