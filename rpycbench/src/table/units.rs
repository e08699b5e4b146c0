//! Human units for report cells.

/// Bytes per second in binary units: `512 B/s`, `12.3 KiB/s`, `181 MiB/s`, `1.20 GiB/s`.
pub fn format_bps(bps: f64) -> String {
    const KIB: f64 = 1024.0;
    match bps {
        b if b < KIB => format!("{b:.0} B/s"),
        b if b < KIB * KIB => format!("{:.1} KiB/s", b / KIB),
        b if b < KIB * KIB * KIB => format!("{:.1} MiB/s", b / KIB / KIB),
        b => format!("{:.2} GiB/s", b / KIB / KIB / KIB),
    }
}

/// One unit for a whole table column, so that its numbers line up and compare at a
/// glance (`0.253` and `12.4` both in ms, never `253 µs` above `12.4 ms`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnUnit {
    /// The unit's symbol, for the column header: `µs`, `MiB/s`.
    pub symbol: &'static str,
    /// How many base units (ns, B/s) one of this unit is.
    pub scale: f64,
    /// Decimals shown: enough for three significant digits of the column's median.
    pub decimals: usize,
}

const TIME_UNITS: [(&str, f64); 4] = [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)];
const RATE_UNITS: [(&str, f64); 4] =
    [("B/s", 1.0), ("KiB/s", 1024.0), ("MiB/s", 1024.0 * 1024.0), ("GiB/s", 1024.0 * 1024.0 * 1024.0)];

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
        let shown = median / scale;
        let smallest = sorted.first().map_or(0.0, |v| v / scale);
        let decimals = if scale == 1.0 {
            0 // whole ns and B/s: no fractions to show
        } else if smallest < 1.0 {
            2 // small values keep two significant digits
        } else if shown >= 100.0 {
            0
        } else if shown >= 10.0 {
            1
        } else {
            2
        };
        ColumnUnit { symbol, scale, decimals }
    }

    /// `value` (in base units) in this unit, without the symbol.
    pub fn format(&self, value: f64) -> String {
        format!("{:.*}", self.decimals, value / self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::format_ns;

    #[test]
    fn one_unit_per_column_from_its_median() {
        let unit = ColumnUnit::time(&[250_000.0, 4_800_000.0, 12_500_000.0]);
        assert_eq!((unit.symbol, unit.decimals), ("ms", 2));
        assert_eq!(unit.format(250_000.0), "0.25");
        assert_eq!(unit.format(12_500_000.0), "12.50");
        let unit = ColumnUnit::time(&[53_000.0, 61_000.0, 0.0]);
        assert_eq!((unit.symbol, unit.format(53_000.0)), ("µs", "53.0".to_owned()));
        assert_eq!(ColumnUnit::time(&[]).symbol, "ns");
        let rate = ColumnUnit::rate(&[150.0 * 1048576.0, 900.0 * 1048576.0]);
        assert_eq!((rate.symbol, rate.format(150.0 * 1048576.0)), ("MiB/s", "150".to_owned()));
    }

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_ns(812), "812 ns");
        assert_eq!(format_ns(53_240), "53.2 µs");
        assert_eq!(format_ns(4_810_000), "4.81 ms");
        assert_eq!(format_ns(2_050_000_000), "2.05 s");
        assert_eq!(format_bps(181.0 * 1024.0 * 1024.0), "181.0 MiB/s");
    }
}
