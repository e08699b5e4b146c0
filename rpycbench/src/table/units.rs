//! Human units for report cells.
//!
//! Rates are decimal (`MB/s`, 10^6 bytes per second) everywhere: the bandwidth SLA is
//! written in MB/s (`min_bandwidth_mbps`, `--min-bandwidth-mbps`), and a table that
//! showed MiB/s beside it would make a reader convert before comparing. Sizes stay
//! binary (`64 KiB`, `1 MiB`), as payload sizes are chosen and typed.

use crate::metrics::in_units;
use crate::metrics::significant;

/// Bytes per second in decimal units with three significant figures: `512 B/s`,
/// `12.3 kB/s`, `181 MB/s`, `1.20 GB/s`.
pub fn format_bps(bps: f64) -> String {
    in_units(bps, &RATE_UNITS)
}

/// One unit for a whole table column, so that its numbers compare at a glance (`0.253`
/// and `12.4` both in ms, never `253 µs` above `12.4 ms`), each value with three
/// significant figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnUnit {
    /// The unit's symbol, for the column header: `µs`, `MB/s`.
    pub symbol: &'static str,
    /// How many base units (ns, B/s) one of this unit is.
    pub scale: f64,
}

const TIME_UNITS: [(&str, f64); 4] = [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)];
const RATE_UNITS: [(&str, f64); 4] = [("B/s", 1.0), ("kB/s", 1e3), ("MB/s", 1e6), ("GB/s", 1e9)];

impl ColumnUnit {
    /// The time unit for a column of nanosecond values.
    pub fn time(values: &[f64]) -> ColumnUnit {
        Self::pick(values, &TIME_UNITS)
    }

    /// The rate unit for a column of bytes-per-second values.
    pub fn rate(values: &[f64]) -> ColumnUnit {
        Self::pick(values, &RATE_UNITS)
    }

    /// The unit that puts the column's median between 1 and 1000 (the median, not the
    /// largest value, so one outlier does not turn the rest into `0.00`).
    fn pick(values: &[f64], units: &[(&'static str, f64)]) -> ColumnUnit {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let (symbol, scale) = units.iter().rev().find(|(_, scale)| median >= *scale).copied().unwrap_or(units[0]);
        ColumnUnit { symbol, scale }
    }

    /// `value` (in base units) in this unit with three significant figures, without
    /// the symbol. Base units (ns, B/s) are whole: there is nothing finer to show.
    pub fn format(&self, value: f64) -> String {
        if self.scale == 1.0 {
            return format!("{value:.0}");
        }
        significant(value / self.scale, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::format_ns;

    #[test]
    fn one_unit_per_column_from_its_median_three_figures_each() {
        let unit = ColumnUnit::time(&[250_000.0, 4_800_000.0, 12_500_000.0]);
        assert_eq!(unit.symbol, "ms");
        assert_eq!(unit.format(250_000.0), "0.250");
        assert_eq!(unit.format(4_812_000.0), "4.81");
        assert_eq!(unit.format(12_540_000.0), "12.5");
        assert_eq!(unit.format(1_278_400_000.0), "1278");
        let unit = ColumnUnit::time(&[53_000.0, 61_000.0, 0.0]);
        assert_eq!((unit.symbol, unit.format(53_000.0)), ("µs", "53.0".to_owned()));
        assert_eq!(ColumnUnit::time(&[]).symbol, "ns");
        assert_eq!(ColumnUnit::time(&[]).format(812.4), "812");
        let rate = ColumnUnit::rate(&[150e6, 900e6]);
        assert_eq!(
            (rate.symbol, rate.format(150e6), rate.format(9.12e6)),
            ("MB/s", "150".to_owned(), "9.12".to_owned())
        );
    }

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_ns(812), "812 ns");
        assert_eq!(format_ns(53_240), "53.2 µs");
        assert_eq!(format_ns(4_810_000), "4.81 ms");
        assert_eq!(format_ns(2_050_000_000), "2.05 s");
        assert_eq!(format_bps(181e6), "181 MB/s");
        assert_eq!(format_bps(1.2e9), "1.20 GB/s");
        assert_eq!(format_bps(512.0), "512 B/s");
        assert_eq!(format_bps(12_340.0), "12.3 kB/s");
        // A value that rounds up to the next unit is written in it.
        assert_eq!(format_ns(999_999), "1.00 ms");
        assert_eq!(format_ns(999_499), "999 µs");
        assert_eq!(format_bps(999_999.0), "1.00 MB/s");
    }
}
