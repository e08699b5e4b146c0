//! SLA bounds from the command line, checked with the harness's own evaluation so a
//! bound means the same in `#[rpyc_bench(p99_ms = …)]` and in `--p99-ms`.

use crate::metrics::sla::{evaluate, Sla, SlaCheck, Stat, STATS};
use crate::metrics::BenchResult;

/// `--p99-ms 100 --min-success-rate 0.99 …`: every bound is optional. One flag per
/// row of the harness's statistics table ([`STATS`]): a statistic added there is a flag
/// here, spelled as its `#[rpyc_bench]` option with dashes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SlaFlags {
    /// The bounds given, in the table's order.
    bounds: Vec<(Stat, f64)>,
}

const HEADING: &str = "SLA (exit 10 when violated)";

/// Flags kept working under an older spelling (not shown in `--help`).
const OLD_SPELLINGS: [(Stat, &str); 1] = [(Stat::MinThroughputRps, "min-throughput")];

impl clap::FromArgMatches for SlaFlags {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let bounds = STATS.iter().filter_map(|row| m.get_one::<f64>(row.key).map(|v| (row.stat, *v))).collect();
        Ok(SlaFlags { bounds })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = SlaFlags::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for SlaFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        STATS.iter().fold(cmd, |cmd, row| {
            let mut arg = clap::Arg::new(row.key)
                .long(row.flag)
                .value_name(row.value_name)
                .value_parser(clap::value_parser!(f64))
                .help(format!("SLA: {}", row.help))
                .help_heading(HEADING);
            for (_, old) in OLD_SPELLINGS.iter().filter(|(stat, _)| *stat == row.stat) {
                arg = arg.alias(*old);
            }
            cmd.arg(arg)
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        SlaFlags::augment_args(cmd)
    }
}

impl SlaFlags {
    /// The declared bounds, checked for sense.
    pub(crate) fn slas(&self) -> Result<Vec<Sla>, String> {
        let mut out = Vec::new();
        for &(stat, bound) in &self.bounds {
            check_bound(&format!("--{}", stat.info().flag), stat, bound)?;
            out.push(Sla { stat, bound });
        }
        Ok(out)
    }
}

/// A bound must be a finite, non-negative number; a success rate a fraction.
pub(crate) fn check_bound(flag: &str, stat: Stat, bound: f64) -> Result<(), String> {
    if !bound.is_finite() || bound < 0.0 {
        return Err(format!("{flag} must be a number ≥ 0, got {bound}"));
    }
    if stat == Stat::MinSuccessRate && bound > 1.0 {
        return Err(format!("{flag} is a fraction from 0 to 1 (0.99 for 99 %), got {bound}"));
    }
    Ok(())
}

/// Every bound checked against `result` (plus "every request succeeds" without
/// `--min-success-rate`, as in the harness).
pub(crate) fn check(slas: &[Sla], result: &BenchResult) -> Vec<SlaCheck> {
    evaluate(slas, result)
}

/// One line per check to show: `SLA met: …` for declared bounds that hold, the
/// harness's message for violations. The implicit success check shows only when it
/// fails.
pub(crate) fn verdict_lines(checks: &[SlaCheck], name: &str) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.declared || !c.passed())
        .map(|c| {
            if c.passed() {
                format!("SLA met: {}", c.relation())
            } else {
                c.message(name).replace("without min_success_rate", "without --min-success-rate")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags as the command parses them.
    fn parse(args: &[&str]) -> Result<SlaFlags, clap::Error> {
        use clap::{Args, FromArgMatches};
        let cmd = SlaFlags::augment_args(clap::Command::new("bench").no_binary_name(true));
        SlaFlags::from_arg_matches(&cmd.try_get_matches_from(args)?)
    }

    #[test]
    fn bounds_are_checked() {
        let flags = parse(&["--p99-ms", "5", "--min-success-rate", "0.99"]).unwrap();
        assert_eq!(
            flags.slas().unwrap(),
            vec![Sla { stat: Stat::P99Ms, bound: 5.0 }, Sla { stat: Stat::MinSuccessRate, bound: 0.99 }]
        );
        assert!(parse(&["--min-success-rate", "95"]).unwrap().slas().unwrap_err().contains("fraction"));
        assert!(parse(&["--p50-ms=-1"]).unwrap().slas().unwrap_err().starts_with("--p50-ms must be"));
        assert!(parse(&["--max-ms", "NaN"]).unwrap().slas().is_err());
        assert!(parse(&["--p99-ms", "fast"]).is_err(), "not a number");
    }

    #[test]
    fn every_statistic_is_a_flag_spelled_as_its_option() {
        for row in STATS {
            let flags = parse(&[&format!("--{}", row.flag), "1"]).unwrap();
            assert_eq!(flags.slas().unwrap(), vec![Sla { stat: row.stat, bound: 1.0 }], "--{}", row.flag);
        }
        // The older spelling still works.
        let old = parse(&["--min-throughput", "100"]).unwrap();
        assert_eq!(old.slas().unwrap(), vec![Sla { stat: Stat::MinThroughputRps, bound: 100.0 }]);
    }

    #[test]
    fn relations_point_the_right_way() {
        let c = |stat, bound, measured| SlaCheck {
            sla: Sla { stat, bound },
            measured: Some(measured),
            declared: true,
            sample: (10, "requests"),
        };
        assert_eq!(c(Stat::P99Ms, 100.0, 120.0).relation(), "p99 = 120 ms > 100 ms");
        assert_eq!(c(Stat::P99Ms, 100.0, 0.5).relation(), "p99 = 0.500 ms ≤ 100 ms");
        assert_eq!(c(Stat::MinSuccessRate, 0.95, 0.5).relation(), "success rate = 50.00 % < 95.00 %");
        let lines = verdict_lines(&[c(Stat::P99Ms, 100.0, 120.0)], "x");
        assert_eq!(lines, vec!["SLA violated: p99 = 120 ms > 100 ms (x, 10 requests)"]);
    }
}
