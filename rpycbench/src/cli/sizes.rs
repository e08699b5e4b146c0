//! Byte sizes on the command line: `1048576`, `64k`, `64KiB`, `1.5MiB`, `10MB`.
//!
//! Binary multiples (`k`, `KiB`, `M`, `MiB`, `G`, `GiB`, in any case: `64kib`, `1GIB`)
//! are what payloads and chunks are usually written in; the SI ones, written exactly
//! `kB`/`KB`, `MB`, `GB` (powers of 1000), are accepted because people type them, and
//! mean what they say. A fraction must come to whole bytes.

/// A size in bytes, as [the module](self) describes; the error says what is accepted.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim();
    let binary = |names: &[&str]| names.iter().any(|n| unit.eq_ignore_ascii_case(n));
    let multiple: u64 = match unit {
        // SI multiples are told apart by their case (kB, KB, MB, GB), so they come first.
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "" => 1,
        _ if binary(&["b"]) => 1,
        _ if binary(&["k", "ki", "kib"]) => 1 << 10,
        _ if binary(&["m", "mi", "mib"]) => 1 << 20,
        _ if binary(&["g", "gi", "gib"]) => 1 << 30,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (bytes, or k/KiB, M/MiB, G/GiB for 1024s, kB/MB/GB for 1000s)"
            ))
        }
    };
    let number = number.replace('_', "");
    let bad = || format!("{text:?} is not a size such as 65536, 64k or 1MiB");
    let too_large = || format!("{text:?} is too large");
    if number.is_empty() {
        return Err(bad());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    // Exact, in 128 bits: 1.5MiB is 1572864 bytes, 1.1k is not a whole number of bytes,
    // and trailing zeros of a fraction change nothing.
    let fraction = fraction.trim_end_matches('0');
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || fraction.len() > 30 {
        return Err(bad());
    }
    let scale = 10u128.pow(fraction.len() as u32);
    let mantissa: u128 = format!("{whole}{fraction}").parse().map_err(|_| bad())?;
    let scaled = mantissa.checked_mul(u128::from(multiple)).ok_or_else(too_large)?;
    if scaled % scale != 0 {
        return Err(format!("{text:?} is not a whole number of bytes"));
    }
    let bytes = u64::try_from(scaled / scale).ok();
    bytes.ok_or_else(too_large)
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
            ("512mib", 512 << 20),
            ("1GIB", 1 << 30),
            ("64KIB", 64 << 10),
            ("1.50000000000000MiB", 3 << 19),
            (".5k", 512),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "k", "1.1k", "12 parsecs", "-1", "1..5M", "99999999999999999999", "18446744073709551615G"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_size("1.1k").unwrap_err().contains("whole number of bytes"));
        assert!(parse_size("3 furlongs").unwrap_err().contains("unknown unit"));
        assert!(parse_size("99999999999G").unwrap_err().contains("too large"));
        assert!(parse_size("1.").is_ok() && parse_size(".").is_err());
    }
}
