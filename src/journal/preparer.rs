//! The housekeeping agent that keeps the next segment ready, so the core thread never
//! creates, allocates, maps or unmaps a file in steady state.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::JournalError;
use super::segment::Segment;
use super::writer::Shared;

/// Prepares segment *n + 1* while the writer fills segment *n*, and unmaps the segments
/// the writer has finished. Run its [`Self::do_work`] on a housekeeping thread (with the
/// [`super::Flusher`], or alone); never on the core thread.
pub struct SegmentPreparer {
    shared: Arc<Shared>,
    last_error: Option<JournalError>,
}

impl SegmentPreparer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            last_error: None,
        }
    }

    /// One duty cycle: unmaps a retired segment, prepares the next one if none is
    /// waiting. Returns the work done (0 when idle). A failure is counted in
    /// [`super::JournalStats::prepare_failures`], kept for [`Self::take_error`] and
    /// retried on the next call.
    pub fn do_work(&mut self) -> usize {
        let mut work = 0;
        if let Some(old) = self.shared.take_retired() {
            drop(old);
            work += 1;
        }
        // Acquire pairs with the Release in `JournalWriter::roll`.
        let want = self.shared.segment.load(Ordering::Acquire) + 1;
        if let Some(seg) = self.stale_or_waiting(want) {
            // A refused offer means the slot filled meanwhile: drop ours.
            let _ = self.shared.offer(seg);
            return work;
        }
        if self.shared.has_prepared() {
            return work;
        }
        match Segment::prepare(&self.shared.config, want) {
            Ok(seg) => {
                let _ = self.shared.offer(Box::new(seg));
            }
            Err(e) => {
                self.shared.prepare_failures.fetch_add(1, Ordering::Relaxed);
                self.last_error = Some(e);
            }
        }
        work += 1;
        work
    }

    /// Takes back a waiting segment that is not `want` (the writer moved on while it was
    /// being prepared) and drops it; returns a waiting segment that is `want`, taken
    /// back only when the slot's index was stale.
    fn stale_or_waiting(&mut self, want: u64) -> Option<Box<Segment>> {
        if !self.shared.has_prepared() || self.shared.prepared_index.load(Ordering::Relaxed) == want
        {
            return None;
        }
        self.shared.take_prepared().filter(|s| s.index == want)
    }

    /// The last preparation failure, if any, for the housekeeping thread to log.
    pub fn take_error(&mut self) -> Option<JournalError> {
        self.last_error.take()
    }
}
