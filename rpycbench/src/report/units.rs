//! Human units for report cells.

/// Nanoseconds with a unit chosen for the magnitude: `812 ns`, `53.2 µs`, `4.81 ms`, `2.05 s`.
pub fn format_ns(ns: u64) -> String {
    let x = ns as f64;
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.1} µs", x / 1e3),
        1_000_000..=999_999_999 => format!("{:.2} ms", x / 1e6),
        _ => format!("{:.2} s", x / 1e9),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_ns(812), "812 ns");
        assert_eq!(format_ns(53_240), "53.2 µs");
        assert_eq!(format_ns(4_810_000), "4.81 ms");
        assert_eq!(format_ns(2_050_000_000), "2.05 s");
        assert_eq!(format_bps(181.0 * 1024.0 * 1024.0), "181.0 MiB/s");
    }
}
