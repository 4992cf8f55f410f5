//! The core thread's side: [`JournalWriter::append`] stores a record into the mapped
//! segment and publishes the written position; no syscall, no allocation.

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::segment::{HEADER_BYTES, Segment, frame_bytes};
use super::{Durability, JournalConfig, JournalError, Recovery};

/// Why an append was refused. Nothing was written.
#[derive(Debug)]
pub enum AppendError {
    /// `seq` is not the one after the last record: a gap or a repeat is corruption.
    OutOfSequence {
        /// The sequence number the journal expects.
        expected: u64,
        /// The one given.
        got: u64,
    },
    /// The payload is larger than [`JournalConfig::max_payload_bytes`].
    TooLarge {
        /// Payload bytes given.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// The segment was full and the next one could not be created (disk full, …).
    Roll(Box<JournalError>),
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfSequence { expected, got } => write!(
                f,
                "journal append of seq {got} refused: expected seq {expected} (no gaps, no repeats)"
            ),
            Self::TooLarge { len, max } => write!(
                f,
                "journal payload of {len} bytes exceeds max_payload_bytes {max}"
            ),
            Self::Roll(e) => write!(f, "journal segment full and the next one failed: {e}"),
        }
    }
}

impl std::error::Error for AppendError {}

/// Counters of the rare events on the writer's path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Segments the writer switched to that the preparer had ready.
    pub prepared_segments: u64,
    /// Segments the writer had to create itself (the preparer was late): each one is a
    /// latency spike of a file creation, `fallocate` and pre-fault.
    pub inline_prepares: u64,
    /// Full segments the writer had to unmap itself (the preparer had not collected the
    /// previous one).
    pub inline_unmaps: u64,
    /// `fdatasync` rounds the flusher completed.
    pub flushes: u64,
    /// Times the preparer failed to create a segment (it retries).
    pub prepare_failures: u64,
}

/// State the writer, the preparer and the flusher share.
pub(crate) struct Shared {
    /// Every record with a lower sequence number is written (in the page cache).
    pub(crate) written: CachePadded<AtomicU64>,
    /// Every record with a lower sequence number is on disk (sync mode).
    pub(crate) durable: CachePadded<AtomicU64>,
    /// Index of the segment the writer appends to. Stored before any record in it is
    /// published through `written`.
    pub(crate) segment: CachePadded<AtomicU64>,
    /// A segment the preparer made for the writer (null when none).
    prepared: AtomicPtr<Segment>,
    /// A full segment the writer left for the preparer to unmap (null when none).
    retired: AtomicPtr<Segment>,
    /// Index of the segment last put in `prepared` (written by the preparer only).
    pub(crate) prepared_index: AtomicU64,
    pub(crate) prepared_segments: AtomicU64,
    pub(crate) inline_prepares: AtomicU64,
    pub(crate) inline_unmaps: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) prepare_failures: AtomicU64,
    /// Set by the flusher when an `fdatasync` failed: durability is no longer promised.
    pub(crate) flush_failed: AtomicU32,
    pub(crate) config: JournalConfig,
}

impl Shared {
    /// Offers a prepared segment; gives it back if one is already waiting.
    pub(crate) fn offer(&self, seg: Box<Segment>) -> Result<(), Box<Segment>> {
        self.prepared_index.store(seg.index, Ordering::Relaxed);
        let p = Box::into_raw(seg);
        // AcqRel: Release publishes the mapped segment to the writer's Acquire in
        // `take_prepared`.
        match self.prepared.compare_exchange(
            ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => Ok(()),
            // SAFETY: `p` came from Box::into_raw above and was not published.
            Err(_) => Err(unsafe { Box::from_raw(p) }),
        }
    }

    pub(crate) fn has_prepared(&self) -> bool {
        !self.prepared.load(Ordering::Relaxed).is_null()
    }

    pub(crate) fn take_prepared(&self) -> Option<Box<Segment>> {
        // Acquire pairs with the Release in `offer`.
        let p = NonNull::new(self.prepared.swap(ptr::null_mut(), Ordering::Acquire))?;
        // SAFETY: every non-null pointer in the slot came from Box::into_raw and the swap
        // made this thread its only owner.
        Some(unsafe { Box::from_raw(p.as_ptr()) })
    }

    /// Leaves a full segment for the preparer to unmap; gives it back if the slot is full.
    fn retire(&self, seg: Box<Segment>) -> Result<(), Box<Segment>> {
        let p = Box::into_raw(seg);
        match self
            .retired
            .compare_exchange(ptr::null_mut(), p, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            // SAFETY: `p` came from Box::into_raw above and was not published.
            Err(_) => Err(unsafe { Box::from_raw(p) }),
        }
    }

    pub(crate) fn take_retired(&self) -> Option<Box<Segment>> {
        // Acquire pairs with the Release in `retire`.
        let p = NonNull::new(self.retired.swap(ptr::null_mut(), Ordering::Acquire))?;
        // SAFETY: as in `take_prepared`.
        Some(unsafe { Box::from_raw(p.as_ptr()) })
    }

    pub(crate) fn stats(&self) -> JournalStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        JournalStats {
            prepared_segments: r(&self.prepared_segments),
            inline_prepares: r(&self.inline_prepares),
            inline_unmaps: r(&self.inline_unmaps),
            flushes: r(&self.flushes),
            prepare_failures: r(&self.prepare_failures),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        drop(self.take_prepared());
        drop(self.take_retired());
    }
}

/// Appends records; owned by the matching core's thread. `Send`, not `Sync`.
pub struct JournalWriter {
    seg: Box<Segment>,
    /// Start of `seg`'s mapping (cached).
    base: *mut u8,
    /// Bytes of `seg`.
    seg_bytes: usize,
    /// Where the next record goes; invariant: `HEADER_BYTES ≤ offset ≤ seg_bytes`.
    offset: usize,
    /// The sequence number the next record must carry (any, while `!seq_known`).
    next_seq: u64,
    seq_known: bool,
    max_payload: u32,
    durability: Durability,
    shared: Arc<Shared>,
}

impl fmt::Debug for JournalWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalWriter")
            .field("segment", &self.seg.index)
            .field("offset", &self.offset)
            .field("next_seq", &self.next_seq)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

// SAFETY: `base` points into `seg`'s mapping, which the writer owns and moves with it;
// only the writer writes records.
unsafe impl Send for JournalWriter {}

impl JournalWriter {
    pub(crate) fn open(config: &JournalConfig, recovery: &Recovery) -> Result<Self, JournalError> {
        let index = recovery.tail_segment.unwrap_or(0);
        let seg = Box::new(Segment::prepare(config, index)?);
        let offset = match recovery.tail_segment {
            Some(_) => recovery.tail_offset,
            None => HEADER_BYTES,
        };
        let next_seq = recovery.next_seq.unwrap_or(0);
        if config.durability == Durability::Sync {
            sync_all(config, index)?;
        }
        let shared = Arc::new(new_shared(config, next_seq, index));
        Ok(Self {
            base: seg.base(),
            seg_bytes: seg.len(),
            seg,
            offset,
            next_seq,
            seq_known: recovery.next_seq.is_some(),
            max_payload: config.max_payload_bytes,
            durability: config.durability,
            shared,
        })
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Appends one record: `seq` must follow the previous record's. When it returns
    /// `Ok`, the record is in the page cache (a crash of this process loses nothing);
    /// see [`Self::ack_position`] for when its response may be published.
    ///
    /// Steady state: stores and one CRC, no syscall, no allocation. When the segment is
    /// full it switches to the one the [`super::SegmentPreparer`] made (or creates it,
    /// counted in [`JournalStats::inline_prepares`]).
    ///
    /// NB: always inlined into the core's loop: left to LLVM it went out of line once
    /// the CRC shrank (≈ 20 instructions of call and register saves per record).
    #[inline(always)]
    pub fn append(&mut self, seq: u64, ts_ns: u64, payload: &[u8]) -> Result<(), AppendError> {
        if seq != self.next_seq && self.seq_known {
            return Err(AppendError::OutOfSequence {
                expected: self.next_seq,
                got: seq,
            });
        }
        if payload.len() > self.max_payload as usize {
            return Err(AppendError::TooLarge {
                len: payload.len(),
                max: self.max_payload,
            });
        }
        let frame = frame_bytes(payload.len());
        if self.offset + frame > self.seg_bytes {
            self.roll().map_err(|e| AppendError::Roll(Box::new(e)))?;
        }
        if self.offset == HEADER_BYTES {
            self.seg.activate(seq);
        }
        // SAFETY: `offset + frame ≤ seg_bytes` (checked or rolled above; a fresh segment
        // holds a largest record by `JournalConfig::validate`), the bytes there are zero
        // and only this writer touches them.
        unsafe { write_record(self.base.add(self.offset), seq, ts_ns, payload) };
        self.offset += frame;
        self.next_seq = seq.wrapping_add(1);
        self.seq_known = true;
        // Release pairs with the Acquire in `Flusher::do_work` and readers of
        // `written_position`: the record bytes are visible first.
        self.shared.written.store(self.next_seq, Ordering::Release);
        Ok(())
    }

    /// Hints the CPU to fetch, for writing, the line the next record starts on (the
    /// warm pass of `serve`; a hint: nothing is written).
    #[inline]
    pub fn prefetch_next(&self) {
        #[cfg(target_arch = "x86_64")]
        if self.offset < self.seg_bytes {
            use core::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
            // SAFETY: a prefetch never faults; `base + offset` is inside the segment.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(self.base.add(self.offset).cast::<i8>()) };
        }
    }

    /// Every record with a lower sequence number is in the page cache.
    #[inline]
    pub fn written_position(&self) -> u64 {
        self.next_seq
    }

    /// Every record with a lower sequence number is on disk (advanced by the
    /// [`super::Flusher`]; only meaningful in [`Durability::Sync`]).
    #[inline]
    pub fn durable_position(&self) -> u64 {
        // Acquire pairs with the Release in `Flusher::do_work`.
        self.shared.durable.load(Ordering::Acquire)
    }

    /// Responses to inputs with a lower sequence number may be published: the written
    /// position in [`Durability::Process`], the durable position in [`Durability::Sync`].
    #[inline]
    pub fn ack_position(&self) -> u64 {
        match self.durability {
            Durability::Process => self.next_seq,
            Durability::Sync => self.durable_position(),
        }
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Whether the next segment is already prepared (for tests and health checks).
    pub fn next_segment_ready(&self) -> bool {
        self.shared.has_prepared()
            && self.shared.prepared_index.load(Ordering::Relaxed) == self.seg.index + 1
    }

    /// Index of the segment being appended to.
    pub fn segment_index(&self) -> u64 {
        self.seg.index
    }

    /// Counters of segment switches and flushes.
    pub fn stats(&self) -> JournalStats {
        self.shared.stats()
    }

    /// Whether an `fdatasync` of the flusher failed (then the durable position stops
    /// advancing: an operator must look at the disk).
    pub fn flush_failed(&self) -> bool {
        self.shared.flush_failed.load(Ordering::Relaxed) != 0
    }

    #[cold]
    #[inline(never)]
    fn roll(&mut self) -> Result<(), JournalError> {
        let want = self.seg.index + 1;
        let next = match self.shared.take_prepared() {
            Some(s) if s.index == want => {
                self.shared
                    .prepared_segments
                    .fetch_add(1, Ordering::Relaxed);
                s
            }
            stale => {
                if let Some(s) = stale {
                    self.retire(s);
                }
                self.shared.inline_prepares.fetch_add(1, Ordering::Relaxed);
                Box::new(Segment::prepare(&self.shared.config, want)?)
            }
        };
        let old = std::mem::replace(&mut self.seg, next);
        self.retire(old);
        self.base = self.seg.base();
        self.seg_bytes = self.seg.len();
        self.offset = HEADER_BYTES;
        // Release: the flusher sees this index no later than the first record in it.
        self.shared.segment.store(want, Ordering::Release);
        Ok(())
    }

    fn retire(&self, seg: Box<Segment>) {
        if self.shared.retire(seg).is_err() {
            self.shared.inline_unmaps.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn new_shared(config: &JournalConfig, next_seq: u64, index: u64) -> Shared {
    Shared {
        written: CachePadded::new(AtomicU64::new(next_seq)),
        durable: CachePadded::new(AtomicU64::new(next_seq)),
        segment: CachePadded::new(AtomicU64::new(index)),
        prepared: AtomicPtr::new(ptr::null_mut()),
        retired: AtomicPtr::new(ptr::null_mut()),
        prepared_index: AtomicU64::new(u64::MAX),
        prepared_segments: AtomicU64::new(0),
        inline_prepares: AtomicU64::new(0),
        inline_unmaps: AtomicU64::new(0),
        flushes: AtomicU64::new(0),
        prepare_failures: AtomicU64::new(0),
        flush_failed: AtomicU32::new(0),
        config: config.clone(),
    }
}

/// At start-up in sync mode: what recovery found may only be in the page cache.
fn sync_all(config: &JournalConfig, last: u64) -> Result<(), JournalError> {
    for index in super::segment::list(&config.dir)? {
        if index <= last {
            Segment::open(&super::segment_path(&config.dir, index), index, false)?.sync_data()?;
        }
    }
    Ok(())
}

/// Writes one record at `p`, `len` last.
///
/// # Safety
/// `p` is 8-aligned, `frame_bytes(payload.len())` bytes at `p` are writable, zero, and
/// written by no one else.
#[inline]
unsafe fn write_record(p: *mut u8, seq: u64, ts_ns: u64, payload: &[u8]) {
    let len = payload.len() as u32;
    // SAFETY: in bounds and exclusive by the caller's contract; the stores are
    // unaligned-tolerant.
    unsafe {
        let crc = super::crc::store_record_body(p.add(8), seq, ts_ns, payload);
        ptr::write_unaligned(p.add(4) as *mut u32, crc.to_le());
        // Release pairs with a reader's load of `len`: a non-zero len means the rest of
        // the record is stored (and, after a process crash, in the page cache).
        (*(p as *const AtomicU32)).store(len.to_le(), Ordering::Release);
    }
}
