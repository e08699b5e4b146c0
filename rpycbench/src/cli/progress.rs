//! Progress of long runs: a bar on a terminal, plain lines otherwise, nothing when quiet.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub(crate) enum Progress {
    Quiet,
    Lines { done: u64, total: u64 },
    Bar(ProgressBar),
}

impl Progress {
    pub(crate) fn new(total: u64, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { done: 0, total };
        }
        let bar = ProgressBar::new(total);
        // The template is a constant known to be valid.
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}").expect("valid template");
        bar.set_style(style);
        Progress::Bar(bar)
    }

    /// A new phase begins.
    pub(crate) fn step(&mut self, what: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines { done, total } => {
                *done += 1;
                eprintln!("[{done}/{total}] {what}");
            }
            Progress::Bar(bar) => {
                bar.inc(1);
                bar.set_message(what.to_owned());
            }
        }
    }

    /// Something worth saying that is not a phase.
    pub(crate) fn message(&mut self, what: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines { .. } => eprintln!("{what}"),
            Progress::Bar(bar) => bar.set_message(what.to_owned()),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
