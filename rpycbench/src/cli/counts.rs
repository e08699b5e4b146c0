//! Checks of the numeric flags that clap cannot make: counts that would run nothing,
//! or schedules and chunkings that would run for hours. Each is a usage error (exit 2)
//! before anything starts, naming the flag.

use super::external::SetupError;
use std::time::Duration;

/// The longest open-loop schedule accepted: a typo like `--rate 1e-9` should fail
/// now, not after a day.
pub(crate) const MAX_SCHEDULE: Duration = Duration::from_secs(3600);

/// Chunked transfers make one call per chunk: past this many per file, a tiny
/// `--chunk-size` turns a transfer into hours of round trips.
pub(crate) const MAX_CHUNKS_PER_FILE: u64 = 1 << 20;

/// `rate` must be a positive number, and `requests` at that rate must fit in
/// [`MAX_SCHEDULE`].
pub(crate) fn check_rate(flag: &str, rate: f64, requests: u64) -> Result<(), SetupError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(SetupError::Usage(format!("{flag} must be a positive number of requests/s, got {rate}")));
    }
    let seconds = requests as f64 / rate;
    if seconds > MAX_SCHEDULE.as_secs_f64() {
        // Whole seconds: the projection is what matters, not its nanoseconds.
        let projected = Duration::try_from_secs_f64(seconds.round())
            .map(|d| humantime::format_duration(d).to_string())
            .unwrap_or_else(|_| format!("{seconds:.3e} s"));
        return Err(SetupError::Usage(format!(
            "{flag} {rate}: {requests} requests at that rate would take {projected}, over the limit of {}; \
             raise the rate or lower the request count",
            humantime::format_duration(MAX_SCHEDULE)
        )));
    }
    Ok(())
}

/// A chunk size from 1 byte to the frame limit, and at most [`MAX_CHUNKS_PER_FILE`]
/// chunks for every file size.
pub(crate) fn check_chunk_size(flag: &str, chunk: u64, file_sizes: &[u64]) -> Result<(), SetupError> {
    let limit = super::json_args::MAX_BYTES;
    if chunk == 0 || chunk > limit {
        return Err(SetupError::Usage(format!(
            "{flag} must be from 1 to {limit} bytes ({}), got {chunk}",
            super::json_args::MAX_BYTES_TEXT
        )));
    }
    if let Some(size) = file_sizes.iter().find(|s| s.div_ceil(chunk) > MAX_CHUNKS_PER_FILE) {
        return Err(SetupError::Usage(format!(
            "{flag} {chunk}: a {size}-byte file would take {} chunked calls, over the limit of {MAX_CHUNKS_PER_FILE}; \
             use a larger chunk size",
            size.div_ceil(chunk)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_must_finish_within_the_hour() {
        assert!(check_rate("--rate", 100.0, 1000).is_ok());
        assert!(check_rate("--rate", 0.0, 1).is_err());
        assert!(check_rate("--rate", f64::NAN, 1).is_err());
        let e = check_rate("--rate", 1e-9, 1000).unwrap_err().to_string();
        assert!(e.contains("would take") && e.contains("years"), "{e}");
        let e = check_rate("--rate", 0.1, 1000).unwrap_err().to_string();
        assert!(e.contains("2h 46m 40s"), "{e}");
    }

    #[test]
    fn chunk_sizes_are_bounded() {
        assert!(check_chunk_size("--chunk-size", 65536, &[10 << 20]).is_ok());
        assert!(check_chunk_size("--chunk-size", 0, &[1]).unwrap_err().to_string().contains("from 1"));
        let e = check_chunk_size("--chunk-size", 1, &[10 << 20]).unwrap_err().to_string();
        assert!(e.contains("10485760 chunked calls"), "{e}");
    }
}
