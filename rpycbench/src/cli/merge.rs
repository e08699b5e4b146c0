//! `rpycbench merge W0.json W1.json … [--json OUT]`: one result from the results of
//! workers that loaded one server together (each `rpycbench bench … --json`, usually
//! with a shared `--start-at`). How figures are added: [`crate::metrics::merge()`].

use crate::harness::EXIT_USAGE;
use crate::metrics::{merge, MergeError, MergeOptions, ResultFileError, ResultSet};
use crate::report::{colour_enabled, tables_except};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Shown by `rpycbench merge --help`.
pub(crate) const MERGE_AFTER_HELP: &str = "\
Latency histograms are added exactly (the merged percentiles are those of every
worker's requests together); counts, outcomes and errors add up; throughput is all
successful requests over the span from the earliest worker's start to the latest
worker's end. Workers that started late (or whose clocks disagree) are flagged.

Exit status:
  0   merged (warnings, such as late workers, are printed and recorded)
  2   a file is missing, unreadable or not a result file, holds other than one
      result, or the results are of different benchmarks, methods or servers

Example:
  rpycbench merge w0.json w1.json w2.json --json merged.json";

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The workers' result files (from `rpycbench bench … --json`), one result each.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the merged results JSON (schema rpycbench/results/v1) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The merged result's name (default: the first worker's).
    #[arg(long)]
    name: Option<String>,
    /// Flag a worker that started more than this after the workers' median start, e.g.
    /// 500ms [default: 10% of the median worker's run, at least 100ms].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    late_after: Option<Duration>,
    /// Print nothing but errors and warnings.
    #[arg(long, short)]
    quiet: bool,
}

/// Why `merge` could not produce a result (each exits 2).
#[derive(Debug, thiserror::Error)]
enum MergeCliError {
    #[error(transparent)]
    File(#[from] ResultFileError),
    #[error("{file} holds {count} results; merge takes one result per file, as `rpycbench bench --json` writes")]
    NotOne { file: String, count: usize },
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Output(#[from] super::external::SetupError),
}

/// Merges the files; see [`MERGE_AFTER_HELP`] for the exit statuses.
pub(crate) fn run(args: MergeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match merged(&args) {
        Ok(set) => {
            if !args.quiet {
                println!("{}", tables_except(&set, &[], colour_enabled()));
            }
            for result in &set.results {
                for w in result.merged.iter().flat_map(|m| &m.warnings) {
                    eprintln!("rpycbench merge: warning: {w}");
                }
            }
            if let Some(path) = &args.json {
                set.save(path)?;
                if !args.quiet {
                    println!("results written to {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("rpycbench merge: {e}");
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// The merged collection: loads every file, checks each holds one result, merges.
fn merged(args: &MergeArgs) -> Result<ResultSet, MergeCliError> {
    // An unwritable output fails before the inputs are read.
    if let Some(json) = &args.json {
        super::outputs::check_file("--json", json)?;
    }
    let mut workers = Vec::with_capacity(args.files.len());
    let mut partial = Vec::new();
    for path in &args.files {
        let shown = path.display().to_string();
        let set = ResultSet::load(path)?;
        if let Some(why) = &set.partial {
            partial.push(format!("{shown}: {why}"));
        }
        let count = set.results.len();
        let Ok([result]) = <[_; 1]>::try_from(set.results) else {
            return Err(MergeCliError::NotOne { file: shown, count });
        };
        workers.push((shown, result));
    }
    let options = MergeOptions { name: args.name.clone(), late_threshold: args.late_after };
    let mut set = ResultSet::new();
    set.push(merge(&workers, &options)?);
    set.partial = (!partial.is_empty()).then(|| partial.join("; "));
    Ok(set)
}
