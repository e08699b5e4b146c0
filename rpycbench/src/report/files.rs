//! Writing a report's files: `summary.md` and `report.html` beside the results.

use super::comparison::Comparison;
use super::html::html_report;
use super::markdown::markdown_report;
use crate::metrics::ResultSet;
use std::path::{Path, PathBuf};

/// The files [`write_reports`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// The Markdown summary (`summary.md`).
    pub markdown: PathBuf,
    /// The HTML page (`report.html`).
    pub html: PathBuf,
}

/// Writes `summary.md` and `report.html` for `results` into `dir` (created if needed),
/// each atomically, so a reader never sees half a file.
pub fn write_reports(dir: &Path, results: &ResultSet, comparison: Option<&Comparison>) -> std::io::Result<ReportFiles> {
    let files = ReportFiles { markdown: dir.join("summary.md"), html: dir.join("report.html") };
    let with_path = |path: &Path| {
        let shown = path.display().to_string();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot write {shown}: {e}"))
    };
    crate::metrics::write_atomically(&files.markdown, markdown_report(results, comparison).as_bytes())
        .map_err(with_path(&files.markdown))?;
    crate::metrics::write_atomically(&files.html, html_report(results, comparison).as_bytes())
        .map_err(with_path(&files.html))?;
    Ok(files)
}
