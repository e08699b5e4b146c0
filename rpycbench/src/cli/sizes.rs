//! Byte sizes on the command line: `1048576`, `64k`, `64KiB`, `1.5MiB`, `10MB`.
//!
//! Binary multiples (`k`, `K`, `KiB`, `M`, `MiB`, `G`, `GiB`; the case of the first
//! letter does not matter) are what payloads and chunks are usually written in; the
//! SI ones (`kB`, `KB`, `MB`, `GB`, powers of 1000) are accepted because people type
//! them, and mean what they say. A fraction must come to whole bytes.

/// A size in bytes, as [the module](self) describes; the error says what is accepted.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim();
    let multiple: u64 = match unit {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "kiB" | "Ki" => 1 << 10,
        "m" | "M" | "MiB" | "Mi" => 1 << 20,
        "g" | "G" | "GiB" | "Gi" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (bytes, or k/KiB, M/MiB, G/GiB for 1024s, kB/MB/GB for 1000s)"
            ))
        }
    };
    let number = number.replace('_', "");
    let bad = || format!("{text:?} is not a size such as 65536, 64k or 1MiB");
    if number.is_empty() {
        return Err(bad());
    }
    let bytes = match number.split_once('.') {
        None => number.parse::<u64>().map_err(|_| bad())?.checked_mul(multiple),
        Some((whole, fraction)) => {
            // Exact: 1.5MiB is 1572864 bytes, 1.1k is not a whole number of bytes.
            let digits = fraction.len() as u32;
            let scale = 10u64.checked_pow(digits).ok_or_else(bad)?;
            let mantissa: u64 = format!("{whole}{fraction}").parse().map_err(|_| bad())?;
            mantissa
                .checked_mul(multiple)
                .filter(|n| n % scale == 0)
                .map(|n| n / scale)
                .ok_or_else(|| format!("{text:?} is not a whole number of bytes"))
                .map(Some)?
        }
    };
    bytes.ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_people_write_them() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("64KiB", 64 << 10),
            ("1MiB", 1 << 20),
            ("1M", 1 << 20),
            ("2GiB", 2 << 30),
            ("1.5MiB", 3 << 19),
            ("10MB", 10_000_000),
            ("1kB", 1000),
            ("1_000", 1000),
            (" 512 B ", 512),
            ("0", 0),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "k", "1.1k", "12 parsecs", "-1", "1..5M", "99999999999999999999", "18446744073709551615G"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_size("1.1k").unwrap_err().contains("whole number of bytes"));
        assert!(parse_size("3 furlongs").unwrap_err().contains("unknown unit"));
    }
}
