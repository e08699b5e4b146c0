//! Findings as text: a full report to paste into an issue, and a few lines for a
//! terminal summary.

use super::finding::{Finding, Severity};
use crate::table::{wrap, WIDTH_OFF_TERMINAL};
use std::fmt::Write;

/// A plain-text report: every finding with its evidence, details, explanation and
/// action. Paste-able into an issue; no colour, no terminal width assumed.
pub fn render_text(findings: &[Finding]) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        s.push_str("rpycbench diagnosis: no findings (every measured figure is within its threshold)\n");
        return s;
    }
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(
        s,
        "rpycbench diagnosis: {} finding{} ({} critical, {} warning, {} info)",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for f in findings {
        let _ = writeln!(s, "\n[{}] {} ({}) — {}", f.severity, f.title, f.id, f.subject);
        for e in &f.evidence {
            let _ = writeln!(s, "  measured: {e}");
        }
        for d in &f.details {
            let _ = writeln!(s, "  - {d}");
        }
        let _ = writeln!(s, "  why: {}", f.explanation);
        let _ = writeln!(s, "  action: {}", f.action);
    }
    s
}

/// At most `max` findings in two lines each — what was found with its first evidence
/// (`WARNING Excessive round trips per operation [n_plus_one]: round trips per operation
/// = 23 > 3 (max_round_trips_per_op)`) and the first sentence of the action — then how
/// many were left out. Empty when there is no finding.
pub fn render_compact(findings: &[Finding], max: usize) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        return s;
    }
    let _ = writeln!(s, "diagnosis ({} finding{}):", findings.len(), if findings.len() == 1 { "" } else { "s" });
    // Lines within the width a log or a terminal shows (wrapped at spaces, the
    // continuation indented under the text).
    let width = usize::from(WIDTH_OFF_TERMINAL);
    for f in findings.iter().take(max) {
        let first = f.evidence.first().map(|e| format!(": {e}")).unwrap_or_default();
        let head = format!("{} {} [{}]{first}", f.severity, f.title, f.subject);
        for (i, line) in wrap(&head, width - 4).iter().enumerate() {
            let _ = writeln!(s, "{}{line}", if i == 0 { "  " } else { "    " });
        }
        for (i, line) in wrap(first_sentence(&f.action), width - 6).iter().enumerate() {
            let _ = writeln!(s, "{}{line}", if i == 0 { "    → " } else { "      " });
        }
    }
    if findings.len() > max {
        let _ = writeln!(s, "  … and {} more", findings.len() - max);
    }
    s
}

/// Up to and including the first full stop that ends a sentence.
fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}
