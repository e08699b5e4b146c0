//! `rpycbench report RESULTS.json [--baseline BASE.json] [--out DIR]`: the report files
//! of a result file (or baseline file), and its tables on the terminal.

use crate::harness::{load_file, regression_pct_arg, DEFAULT_REGRESSION_PCT};
use crate::report::{colour_enabled, terminal_report, write_reports, Comparison};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A result file (results.json, target/rpycbench/…) or a baseline file.
    results: PathBuf,
    /// Compare with these earlier results (a result or baseline file).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Where to write report.html and summary.md (default: the results file's directory).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Slowdown in percent that counts as a regression when comparing, for benchmarks
    /// that did not declare their own (default: $RPYCBENCH_REGRESSION_PCT, else 10).
    #[arg(long, value_name = "PCT", alias = "regression-threshold")]
    regression_pct: Option<String>,
}

/// Writes the reports and prints the tables and the paths. Unreadable input is an
/// error (exit 1); a regression is shown, not an exit status: `rpycbench compare`
/// is the gate.
pub(crate) fn run(args: ReportArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let results = load_file(&args.results)?.results;
    let comparison = match &args.baseline {
        Some(path) => {
            let baseline = load_file(path)?.results;
            let threshold = regression_pct_arg(args.regression_pct.clone(), DEFAULT_REGRESSION_PCT)?;
            Some(Comparison::new(&baseline, &results, threshold, &path.display().to_string()))
        }
        None => None,
    };
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => args.results.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
    };
    let files = write_reports(&dir, &results, comparison.as_ref())?;
    if let Some(c) = &comparison {
        for w in &c.warnings {
            eprintln!("rpycbench report: {w}");
        }
    }
    let text = format!(
        "{}\n\nMarkdown summary: {}\nHTML report:      {}\n",
        terminal_report(&results, comparison.as_ref(), colour_enabled()),
        files.markdown.display(),
        files.html.display()
    );
    // A closed pipe (`| head`) is not an error worth a panic: the files are written.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}
