//! Requests finished so far in this process: what a progress display shows moving
//! inside a step that runs for seconds or minutes.
//!
//! Every benchmark loop counts its outcomes in an [`OutcomeCounter`]; each counter adds
//! to this one process-wide total every 16 outcomes (`BATCH`), and the rest when it is
//! dropped. One relaxed atomic add per 16 requests keeps the cost out of what is
//! measured (a contended cache line per request would not be), at the price of a total
//! that trails the truth by at most 16 requests per running loop.
//!
//! [`OutcomeCounter`]: super::OutcomeCounter

use std::sync::atomic::{AtomicU64, Ordering};

/// Outcomes a counter keeps before adding them to the total.
pub(crate) const BATCH: u32 = 16;

static FINISHED: AtomicU64 = AtomicU64::new(0);

/// Requests (operations, connections) finished by every benchmark of this process so
/// far, successes and failures alike. Read it before and during a step: the difference
/// is the step's progress.
pub fn requests_finished() -> u64 {
    FINISHED.load(Ordering::Relaxed)
}

/// A counter's outcomes not yet added to the total: added on drop, never twice (a
/// clone starts from none).
#[derive(Debug)]
pub(crate) struct Unpublished {
    pending: u32,
    /// Outcomes per addition: [`BATCH`] for requests, 1 for operations that each move
    /// a payload or open a connection, where a batch could take minutes.
    batch: u32,
}

impl Default for Unpublished {
    fn default() -> Self {
        Unpublished { pending: 0, batch: BATCH }
    }
}

impl Unpublished {
    /// Publishing every outcome at once.
    pub(crate) fn each() -> Self {
        Unpublished { pending: 0, batch: 1 }
    }

    /// One more outcome; every `batch`th publishes the batch.
    #[inline]
    pub(crate) fn one(&mut self) {
        self.pending += 1;
        if self.pending >= self.batch {
            FINISHED.fetch_add(u64::from(self.pending), Ordering::Relaxed);
            self.pending = 0;
        }
    }
}

impl Clone for Unpublished {
    fn clone(&self) -> Self {
        Unpublished { pending: 0, batch: self.batch }
    }
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        if self.pending > 0 {
            FINISHED.fetch_add(u64::from(self.pending), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_reach_the_total_in_batches_and_the_rest_on_drop() {
        // Other tests of this binary count too: only the growth is checked, and it
        // is at least what this test added.
        let before = requests_finished();
        let mut u = Unpublished::default();
        for _ in 0..BATCH + 3 {
            u.one();
        }
        assert!(requests_finished() >= before + u64::from(BATCH));
        let copy = u.clone();
        drop(copy);
        drop(u);
        assert!(requests_finished() >= before + u64::from(BATCH) + 3);
    }
}
