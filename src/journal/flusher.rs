//! The housekeeping agent of `sync` mode: `fdatasync` with group commit, then publish the
//! durable position the core releases acks up to.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::JournalError;
use super::segment::{Segment, segment_path};
use super::writer::Shared;

/// Makes written records durable. Each [`Self::do_work`] syncs everything written so far
/// with one `fdatasync` per touched segment (group commit: all records appended while the
/// previous sync ran share the next one) and advances
/// [`super::JournalWriter::durable_position`].
pub struct Flusher {
    shared: Arc<Shared>,
    /// The segment file kept open for syncing.
    current: Option<Segment>,
    /// Every segment below this index is fully synced.
    synced_segment: u64,
    durable: u64,
    last_error: Option<JournalError>,
}

impl Flusher {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let durable = shared.durable.load(Ordering::Relaxed);
        let synced_segment = shared.segment.load(Ordering::Relaxed);
        Self {
            shared,
            current: None,
            synced_segment,
            durable,
            last_error: None,
        }
    }

    /// One duty cycle: if records were written since the last sync, syncs them and
    /// publishes the new durable position. Returns 1 after a sync, 0 when idle. On an
    /// I/O error the durable position stops advancing, the failure is flagged
    /// ([`super::JournalWriter::flush_failed`]) and kept for [`Self::take_error`].
    pub fn do_work(&mut self) -> usize {
        // Acquire pairs with the Release in `JournalWriter::append`.
        let target = self.shared.written.load(Ordering::Acquire);
        if target == self.durable {
            return 0;
        }
        // Loaded after `written`: at least the segment of record `target - 1`.
        let last = self.shared.segment.load(Ordering::Acquire);
        match self.sync_through(last) {
            Ok(()) => {
                self.durable = target;
                self.shared.flushes.fetch_add(1, Ordering::Relaxed);
                // Release pairs with the Acquire in `JournalWriter::durable_position`.
                self.shared.durable.store(target, Ordering::Release);
            }
            Err(e) => {
                self.shared.flush_failed.store(1, Ordering::Relaxed);
                self.last_error = Some(e);
            }
        }
        1
    }

    fn sync_through(&mut self, last: u64) -> Result<(), JournalError> {
        for index in self.synced_segment..=last {
            if self.current.as_ref().is_none_or(|s| s.index != index) {
                let path = segment_path(&self.shared.config.dir, index);
                self.current = Some(Segment::open(&path, index, false)?);
            }
            if let Some(seg) = &self.current {
                seg.sync_data()?;
            }
        }
        self.synced_segment = last;
        Ok(())
    }

    /// The last sync failure, if any, for the housekeeping thread to log.
    pub fn take_error(&mut self) -> Option<JournalError> {
        self.last_error.take()
    }
}
