//! One writer, many readers: the market-data ring. The writer never waits for anyone.
//!
//! ```text
//! region: [RingDescriptor 128 B][tail line 128 B][slot 0]…[slot capacity-1]
//! slot:   [seq: u64][len: u32][pad: u32][payload: slot_bytes - 16, as u64 words]
//! ```
//!
//! Each slot is a seqlock. Writing position `p` stores `seq = 2p + 1` (odd: being
//! written), the length and payload, then `seq = 2(p + 1)` (even: committed). A reader
//! that expects position `p` copies the slot and accepts the copy only if `seq` read
//! `2(p + 1)` both before and after the copy. A `seq` beyond that means the writer has
//! lapped the reader: the reader reports how many records it lost and jumps to the
//! newest position. Payload words are copied with relaxed atomic loads and stores, so a
//! racing read is well-defined and a torn copy is always detected and discarded.
//!
//! Readers write nothing to the ring, so any number of them, in any number of
//! processes, cost the writer nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use super::shm::{Layout, LayoutError, REGION_ALIGN, Region, RingKind, ShmError, data_offset};

/// Bytes of per-slot header: the sequence word, the length and padding.
pub const SLOT_HEADER_BYTES: usize = 16;
const POSITION_LINES: usize = 1;

/// Why [`Reader::read`] returned no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing new has been written.
    Empty,
    /// The writer overwrote records this reader had not read. The reader now stands at
    /// the newest position; `lost` records were skipped.
    Lapped {
        /// Records skipped.
        lost: u64,
    },
}

/// The record is longer than a slot's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// The record's length.
    pub len: usize,
    /// The largest record a slot holds.
    pub max: usize,
}

struct Ring {
    region: Arc<Region>,
    slots: *mut u8,
    mask: u64,
    slot_bytes: usize,
}

// SAFETY: pointers into a region kept alive by `region`; all shared accesses are atomic.
unsafe impl Send for Ring {}

impl Ring {
    fn new(region: Arc<Region>, layout: Layout) -> Self {
        // SAFETY: the region holds descriptor, one position line and the slots.
        let slots = unsafe { region.base().add(data_offset(POSITION_LINES)) };
        Self {
            region,
            slots,
            mask: layout.capacity as u64 - 1,
            slot_bytes: layout.slot_bytes,
        }
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: the tail line follows the descriptor; aligned and in bounds.
        unsafe { &*(self.region.base().add(REGION_ALIGN) as *const AtomicU64) }
    }

    fn slot(&self, pos: u64) -> *mut u8 {
        // SAFETY: the masked index is below capacity.
        unsafe { self.slots.add((pos & self.mask) as usize * self.slot_bytes) }
    }

    fn seq(&self, pos: u64) -> &AtomicU64 {
        // SAFETY: a slot starts 64-byte aligned with its u64 sequence word.
        unsafe { &*(self.slot(pos) as *const AtomicU64) }
    }

    fn len_word(&self, pos: u64) -> &AtomicU32 {
        // SAFETY: the u32 length follows the sequence word.
        unsafe { &*(self.slot(pos).add(8) as *const AtomicU32) }
    }

    fn payload_words(&self, pos: u64) -> &[AtomicU64] {
        let words = self.max_record_bytes() / 8;
        // SAFETY: the payload follows the 16-byte header, 8-byte aligned, inside the slot.
        unsafe { std::slice::from_raw_parts(self.slot(pos).add(16) as *const AtomicU64, words) }
    }

    fn max_record_bytes(&self) -> usize {
        self.slot_bytes - SLOT_HEADER_BYTES
    }
}

/// The one writer. `Send`, not `Sync`, not `Clone`.
pub struct Writer {
    ring: Ring,
    /// Next position to write; positions below it are committed.
    tail: u64,
    /// Staging area for in-place writes, as words.
    scratch: Box<[u64]>,
    /// Each record's first line goes to the shared cache once stored
    /// ([`Self::set_demote`]).
    demote: bool,
}

/// One reader. Create as many as needed; each keeps its own position.
pub struct Reader {
    ring: Ring,
    /// Next position to read.
    pos: u64,
    /// The last record copied out, as words.
    scratch: Box<[u64]>,
    /// Records lost to laps, over the reader's life.
    lost: u64,
}

/// Creates a broadcast ring in private memory.
pub fn new(layout: Layout) -> Result<Writer, LayoutError> {
    let region = Region::heap(RingKind::Broadcast, layout, POSITION_LINES)?;
    Ok(Writer::from_region(Arc::new(region), layout))
}

impl Writer {
    fn from_region(region: Arc<Region>, layout: Layout) -> Self {
        let words = (layout.slot_bytes - SLOT_HEADER_BYTES) / 8;
        Self {
            ring: Ring::new(region, layout),
            tail: 0,
            scratch: vec![0; words].into_boxed_slice(),
            demote: false,
        }
    }

    /// With `on`, each record's first line (its sequence word, which readers poll) is
    /// moved to the shared cache once the record is stored ([`super::demote`]): for a
    /// ring read from other cores (the market-data ring in `/dev/shm`). A hint: what
    /// readers see and when do not change.
    pub fn set_demote(&mut self, on: bool) {
        self.demote = on;
    }

    /// Creates a ring file at `path` (0600, must not exist) and returns its writer.
    pub fn create(path: &Path, layout: Layout) -> Result<Self, ShmError> {
        let region = Region::create(path, RingKind::Broadcast, layout, POSITION_LINES)?;
        Ok(Self::from_region(Arc::new(region), layout))
    }

    /// A reader of this ring in the same process, starting at the newest position.
    pub fn reader(&self) -> Reader {
        Reader::new(self.ring.region.clone(), self.layout())
    }

    fn layout(&self) -> Layout {
        Layout {
            capacity: (self.ring.mask + 1) as usize,
            slot_bytes: self.ring.slot_bytes,
        }
    }

    /// The largest record a slot holds.
    pub fn max_record_bytes(&self) -> usize {
        self.ring.max_record_bytes()
    }

    /// Records written so far; the position the next record gets.
    pub fn position(&self) -> u64 {
        self.tail
    }

    /// Asks the CPU to fetch, for reading, the first line of the slot the next record
    /// goes to, so that its page's translation is in this CPU's TLB when the record
    /// is written (a read: readers polling that line keep their copy). A hint: no
    /// effect on what the ring holds.
    #[inline]
    pub fn touch_next(&self) {
        super::prefetch_read(self.ring.slot(self.tail));
    }

    /// Writes a record of `len` bytes built in place by `write`. Never waits.
    #[inline]
    pub fn publish_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<u64, TooLong> {
        let max = self.max_record_bytes();
        if len > max {
            return Err(TooLong { len, max });
        }
        let words = len.div_ceil(8);
        self.scratch[..words].fill(0);
        write(&mut words_as_bytes_mut(&mut self.scratch)[..len]);
        Ok(self.store(len, words))
    }

    /// Copies `record` into the ring. Never waits.
    #[inline]
    pub fn publish(&mut self, record: &[u8]) -> Result<u64, TooLong> {
        self.publish_with(record.len(), |buf| buf.copy_from_slice(record))
    }

    /// Writes a record of `len` bytes held as words: the bytes of `words` in memory
    /// order, as [`Self::publish_with`] would have built them in its scratch (bytes past
    /// `len` should be zero; readers never look at them). Never waits. For a writer
    /// that keeps its records as words already (the ITCH output's staging): no zeroing
    /// and no copy through the scratch.
    #[inline]
    pub fn publish_words(&mut self, len: usize, words: &[u64]) -> Result<u64, TooLong> {
        let max = self.max_record_bytes();
        let n = len.div_ceil(8);
        if len > max || n > words.len() {
            return Err(TooLong { len, max });
        }
        let pos = self.tail;
        store_record(&self.ring, pos, len, &words[..n]);
        self.demote_record(pos);
        self.tail = pos + 1;
        Ok(pos)
    }

    fn store(&mut self, len: usize, words: usize) -> u64 {
        let pos = self.tail;
        store_record(&self.ring, pos, len, &self.scratch[..words]);
        self.demote_record(pos);
        self.tail = pos + 1;
        pos
    }

    #[inline(always)]
    fn demote_record(&self, pos: u64) {
        if self.demote {
            super::demote(self.ring.slot(pos));
        }
    }
}

/// The writer's seqlock protocol for the record at `pos`: `len` bytes, `words` of
/// payload (at most the slot's).
#[inline]
fn store_record(ring: &Ring, pos: u64, len: usize, words: &[u64]) {
    ring.seq(pos).store(2 * pos + 1, Ordering::Relaxed);
    // Orders the odd marker before the payload stores: a reader whose copy saw
    // any new word then sees an odd or newer seq on its re-check (Boehm's seqlock).
    fence(Ordering::Release);
    ring.len_word(pos).store(len as u32, Ordering::Relaxed);
    for (dst, src) in ring.payload_words(pos).iter().zip(words) {
        dst.store(*src, Ordering::Relaxed);
    }
    // Pairs with the reader's Acquire load of seq: payload before commit.
    ring.seq(pos).store(2 * (pos + 1), Ordering::Release);
    // Pairs with the Acquire load in `Reader::newest`.
    ring.tail().store(pos + 1, Ordering::Release);
}

impl Reader {
    fn new(region: Arc<Region>, layout: Layout) -> Self {
        let ring = Ring::new(region, layout);
        let words = ring.max_record_bytes() / 8;
        let mut reader = Self {
            ring,
            pos: 0,
            scratch: vec![0; words].into_boxed_slice(),
            lost: 0,
        };
        reader.pos = reader.newest();
        reader
    }

    /// Maps the ring file at `path` as a reader, starting at the newest position.
    pub fn attach(path: &Path, expected: Option<Layout>) -> Result<Self, ShmError> {
        let (region, layout) = Region::open(path, RingKind::Broadcast, expected, POSITION_LINES)?;
        Ok(Self::new(Arc::new(region), layout))
    }

    fn newest(&self) -> u64 {
        // Pairs with the Release store at the end of `Writer::store`.
        self.ring.tail().load(Ordering::Acquire)
    }

    /// Moves to the oldest record still in the ring (e.g. right after attaching).
    pub fn rewind_to_oldest(&mut self) {
        let newest = self.newest();
        self.pos = newest.saturating_sub(self.ring.mask + 1);
    }

    /// Position of the next record to read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Records lost to laps so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Records written that this reader has not read yet.
    pub fn lag(&self) -> u64 {
        self.newest().saturating_sub(self.pos)
    }

    /// Copies the next record out and hands it to `f` once it is known to be whole.
    #[inline]
    pub fn read<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<R, ReadError> {
        let len = self.copy_next()?;
        self.pos += 1;
        Ok(f(&words_as_bytes(&self.scratch)[..len]))
    }

    /// Copies the record at `pos` into `scratch`, validated; returns its length.
    fn copy_next(&mut self) -> Result<usize, ReadError> {
        let pos = self.pos;
        let committed = 2 * (pos + 1);
        // Pairs with the writer's Release store of the even seq.
        let before = self.ring.seq(pos).load(Ordering::Acquire);
        if before < committed {
            return Err(ReadError::Empty);
        }
        if before == committed {
            let len = (self.ring.len_word(pos).load(Ordering::Relaxed) as usize)
                .min(self.ring.max_record_bytes());
            let words = len.div_ceil(8);
            for (dst, src) in self.scratch[..words]
                .iter_mut()
                .zip(self.ring.payload_words(pos))
            {
                *dst = src.load(Ordering::Relaxed);
            }
            // Pairs with the writer's Release fence: if the copy saw a newer word,
            // the re-check sees the newer seq.
            fence(Ordering::Acquire);
            if self.ring.seq(pos).load(Ordering::Relaxed) == committed {
                return Ok(len);
            }
        }
        Err(self.skip_to_newest())
    }

    fn skip_to_newest(&mut self) -> ReadError {
        let newest = self.newest();
        let lost = newest.saturating_sub(self.pos);
        self.pos = newest;
        self.lost += lost;
        ReadError::Lapped { lost }
    }
}

fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: any u64 is 8 valid bytes; the length is in bytes of the same memory.
    unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, words.len() * 8) }
}

fn words_as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as above, and any byte pattern is a valid u64.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 8) }
}
