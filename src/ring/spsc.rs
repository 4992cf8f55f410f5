//! Single-producer single-consumer ring of fixed-size slots, in private memory or in a
//! `/dev/shm` file mapped by two processes.
//!
//! ```text
//! region: [RingDescriptor 128 B][head line 128 B][slot 0][slot 1]…[slot capacity-1]
//! slot:   [commit: u32][len: u32][payload: slot_bytes - 8]
//! ```
//!
//! - The producer writes a record in place (claim → write → [`Claim::commit`]); a record
//!   becomes visible only when its slot's commit word is stored, so a producer that dies
//!   mid-write never exposes a torn record: the consumer simply sees nothing new.
//! - The consumer reads records in place ([`Consumer::read`], [`Consumer::drain`]) and
//!   publishes its position (`head`) on a line of its own; the producer caches it and
//!   re-reads it only when the cached value says the ring is full.
//! - There is no shared tail: the consumer learns that slot `p` holds the record at
//!   position `p` from the slot's commit word, which equals `(p + 1) mod 2^32`. Zeroed
//!   memory therefore reads as empty, and a stale slot from the previous lap never
//!   matches because the capacity is at most 2^31.
//!
//! ```
//! use tickgate::ring::{shm::Layout, spsc};
//!
//! let (mut tx, mut rx) = spsc::channel(Layout { capacity: 1024, slot_bytes: 64 }).unwrap();
//! tx.try_write(5, |buf| buf.copy_from_slice(b"hello")).unwrap(); // claim → write → commit
//! assert_eq!(rx.read(|record| record.to_vec()), Some(b"hello".to_vec())); // in place
//! ```
//!
//! NB: the commit word travels in the slot's own cache line, so a hand-off moves one
//! line instead of two (payload + a separate tail index). Measured here
//! (`cargo bench --bench ring`, 2026-11-22, see bench/RESULTS.md): the
//! sequence-in-slot ring's RTT p50 sat at ≈1.0× the swept cache-line floor, while rtrb,
//! which publishes a separate tail index, measured ≈1.3× in the same run.
//!
//! Crash semantics: a dead producer leaves at most an uncommitted claim behind, which a
//! new producer overwrites ([`Producer::attach`] recovers the tail by scanning commit
//! words). A dead consumer leaves `head` at its last publication: records it read but
//! had not yet released in a [`Consumer::drain`] batch are delivered again to the next
//! consumer (at-least-once across a consumer crash).

#[cfg(not(loom))]
use std::path::Path;
use std::sync::Arc;

pub use super::shm::{Layout, LayoutError};
#[cfg(not(loom))]
use super::shm::{Region, RingKind, ShmError};
use super::sync::{AtomicU32, AtomicU64, Ordering};

/// Bytes of per-slot header before the payload: the commit word and the length.
pub const SLOT_HEADER_BYTES: usize = 8;
/// Position lines after the descriptor: the consumer's `head`.
#[cfg(not(loom))]
const POSITION_LINES: usize = 1;

/// The ring is full: the consumer has not released enough slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// Free slots at the time of the call.
    pub free: usize,
}

/// Why [`Producer::try_push`] or [`Producer::try_write`] did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// No free slot: back-pressure. Retry later or shed load.
    Full,
    /// The record is longer than a slot's payload.
    TooLong {
        /// The record's length.
        len: usize,
        /// The largest record a slot holds.
        max: usize,
    },
}

/// The shared part of both handles: where the ring's words live.
struct Ring {
    /// Keeps the memory alive; every pointer below points into it.
    #[cfg(not(loom))]
    _region: Arc<Region>,
    #[cfg(loom)]
    model: Arc<loom_model::Storage>,
    /// The consumer's published position, on its own 128-byte line.
    #[cfg(not(loom))]
    head: *const AtomicU64,
    /// Slot 0.
    slots: *mut u8,
    /// `capacity - 1`; capacity is a power of two.
    mask: u64,
    slot_bytes: usize,
}

// SAFETY: the pointers point into memory kept alive by `_region`; which side may touch
// which slot is decided by the ring protocol, not by thread identity.
unsafe impl Send for Ring {}

impl Ring {
    #[cfg(not(loom))]
    fn new(region: Arc<Region>, layout: Layout) -> Self {
        let base = region.base();
        let offset = super::shm::data_offset(POSITION_LINES);
        // SAFETY: the region holds the descriptor, one position line and the slots
        // (Region's invariant), so both offsets are in bounds.
        let (head, slots) = unsafe { (base.add(super::shm::REGION_ALIGN), base.add(offset)) };
        Self {
            head: head as *const AtomicU64,
            slots,
            mask: layout.capacity as u64 - 1,
            slot_bytes: layout.slot_bytes,
            _region: region,
        }
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    #[cfg(not(loom))]
    fn head(&self) -> &AtomicU64 {
        // SAFETY: `head` points at an aligned u64 inside the live region.
        unsafe { &*self.head }
    }

    /// Start of the slot that holds position `pos`.
    fn slot(&self, pos: u64) -> *mut u8 {
        let index = (pos & self.mask) as usize;
        // SAFETY: index < capacity, and the region holds `capacity` slots.
        unsafe { self.slots.add(index * self.slot_bytes) }
    }

    /// The commit word of the slot holding `pos`.
    #[cfg(not(loom))]
    fn commit_word(&self, pos: u64) -> &AtomicU32 {
        // SAFETY: a slot starts 64-byte aligned with its u32 commit word.
        unsafe { &*(self.slot(pos) as *const AtomicU32) }
    }

    fn len_ptr(&self, pos: u64) -> *mut u32 {
        // SAFETY: the length follows the commit word inside the slot.
        unsafe { self.slot(pos).add(4) as *mut u32 }
    }

    fn payload_ptr(&self, pos: u64) -> *mut u8 {
        // SAFETY: the payload follows the 8-byte slot header inside the slot.
        unsafe { self.slot(pos).add(SLOT_HEADER_BYTES) }
    }

    fn max_record_bytes(&self) -> usize {
        self.slot_bytes - SLOT_HEADER_BYTES
    }
}

/// The commit word that marks position `pos` as written.
#[inline]
fn commit_value(pos: u64) -> u32 {
    (pos as u32).wrapping_add(1)
}

/// The writing half. `Send`, not `Sync`, not `Clone`: exactly one producer.
pub struct Producer {
    ring: Ring,
    /// Next position to claim; every position below it is committed.
    tail: u64,
    /// The consumer's `head` as last read; never ahead of the real one, and
    /// `tail - cached_head <= capacity`.
    cached_head: u64,
    /// Each commit line goes to the shared cache once committed ([`Self::set_demote`]).
    demote: bool,
}

/// The reading half. `Send`, not `Sync`, not `Clone`: exactly one consumer.
pub struct Consumer {
    ring: Ring,
    /// Next position to read; every position below it has been read.
    head: u64,
    /// Records whose stored length exceeded the slot and was clamped.
    corrupt: u64,
}

/// Creates a ring in private memory and returns its two halves.
#[cfg(not(loom))]
pub fn channel(layout: Layout) -> Result<(Producer, Consumer), LayoutError> {
    let region = Arc::new(Region::heap(RingKind::Spsc, layout, POSITION_LINES)?);
    let producer = Producer {
        ring: Ring::new(region.clone(), layout),
        tail: 0,
        cached_head: 0,
        demote: false,
    };
    let consumer = Consumer {
        ring: Ring::new(region, layout),
        head: 0,
        corrupt: 0,
    };
    Ok((producer, consumer))
}

/// Creates a ring file at `path` (0600, must not exist). Map its halves with
/// [`Producer::attach`] and [`Consumer::attach`], in this or another process.
#[cfg(not(loom))]
pub fn create(path: &Path, layout: Layout) -> Result<(), ShmError> {
    Region::create(path, RingKind::Spsc, layout, POSITION_LINES).map(drop)
}

#[cfg(not(loom))]
fn open(path: &Path, expected: Option<Layout>) -> Result<Ring, ShmError> {
    let (region, layout) = Region::open(path, RingKind::Spsc, expected, POSITION_LINES)?;
    Ok(Ring::new(Arc::new(region), layout))
}

impl Producer {
    /// Maps the ring file at `path` as its producer. The tail is recovered by scanning
    /// committed slots from the consumer's position, so a producer may re-attach after
    /// its predecessor died. Only one producer may be attached at a time; the caller
    /// (the session directory) enforces that.
    #[cfg(not(loom))]
    pub fn attach(path: &Path, expected: Option<Layout>) -> Result<Self, ShmError> {
        let ring = open(path, expected)?;
        // Pairs with the consumer's Release store of `head`.
        let head = ring.head().load(Ordering::Acquire);
        let mut tail = head;
        while tail - head < ring.capacity()
            && ring.commit_word(tail).load(Ordering::Acquire) == commit_value(tail)
        {
            tail += 1;
        }
        Ok(Self {
            ring,
            tail,
            cached_head: head,
            demote: false,
        })
    }

    /// With `on`, each record's first line (its commit word, which the consumer
    /// polls) is moved to the shared cache as it is committed ([`super::demote`]): for
    /// a ring whose consumer polls it from another core (an algo's order ring, the
    /// server's response rings to algos). Not for a ring read on this core. A hint:
    /// what the ring holds and when it is visible do not change.
    pub fn set_demote(&mut self, on: bool) {
        self.demote = on;
    }

    /// The largest record a slot holds.
    pub fn max_record_bytes(&self) -> usize {
        self.ring.max_record_bytes()
    }

    /// Slots that can be claimed now without waiting for the consumer.
    pub fn free_slots(&mut self) -> usize {
        self.refresh_head();
        (self.ring.capacity() - (self.tail - self.cached_head)) as usize
    }

    /// Records written but not yet released by the consumer, as of the last look at
    /// its position (a cheap upper bound for high-water checks).
    pub fn queued(&self) -> usize {
        (self.tail - self.cached_head) as usize
    }

    fn refresh_head(&mut self) {
        // Pairs with the consumer's Release store: its reads of the released slots
        // happen before this producer overwrites them.
        let head = self.ring.head().load(Ordering::Acquire);
        // A consumer in another process is not trusted: a head behind the cache or
        // ahead of the tail is ignored, which reads as "full" until it is sane again.
        if head >= self.cached_head && head <= self.tail {
            self.cached_head = head;
        }
    }

    /// Claims `n` consecutive slots for writing in place. Nothing is visible to the
    /// consumer until [`Claim::commit`]; dropping the claim releases the slots.
    #[inline]
    pub fn try_claim(&mut self, n: usize) -> Result<Claim<'_>, Full> {
        let capacity = self.ring.capacity();
        let n64 = n as u64;
        if self.tail + n64 - self.cached_head > capacity {
            self.refresh_head();
            let free = capacity - (self.tail - self.cached_head);
            if n64 > free {
                return Err(Full {
                    free: free as usize,
                });
            }
        }
        debug_assert!(self.tail + n64 - self.cached_head <= capacity);
        Ok(Claim { producer: self, n })
    }

    /// Writes one record of `len` bytes in place with `write`, then commits it.
    #[inline]
    pub fn try_write(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), PushError> {
        let max = self.max_record_bytes();
        if len > max {
            return Err(PushError::TooLong { len, max });
        }
        let mut claim = self.try_claim(1).map_err(|_| PushError::Full)?;
        write(&mut claim.payload(0)[..len]);
        claim.set_len(0, len);
        claim.commit();
        Ok(())
    }

    /// Copies `record` into the next slot and commits it.
    #[inline]
    pub fn try_push(&mut self, record: &[u8]) -> Result<(), PushError> {
        self.try_write(record.len(), |buf| buf.copy_from_slice(record))
    }

    /// Asks the CPU to fetch, for writing, the slot the next record will go to.
    ///
    /// A ring larger than the caches (the gateway's are megabytes) is written to a
    /// line not touched for a whole lap: without this the next record pays that miss
    /// while a client waits (≈ 150 ns on this VM). A producer that writes one record
    /// per request calls it after each write, when the fetch overlaps the wait for
    /// the next request. A hint: no effect on what the ring holds.
    #[inline]
    pub fn prefetch_next(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
            let slot = self.ring.slot(self.tail);
            let mut offset = 0;
            while offset < self.ring.slot_bytes {
                // SAFETY: prefetch never faults, and `slot + offset` is inside the slot.
                unsafe { _mm_prefetch::<_MM_HINT_ET0>(slot.add(offset) as *const i8) };
                offset += 64;
            }
        }
    }

    /// Asks the CPU to fetch, for reading, the first line of the slot the next record
    /// will go to: its page's translation is then in this CPU's TLB when the record is
    /// written. Unlike [`Self::prefetch_next`] it leaves the consumer's copy of the
    /// line (the commit word it polls) in place, so a producer can call it from its
    /// idle loop. A hint: no effect on what the ring holds.
    ///
    /// NB: the first record written on a page not touched for a lap took ≈ 300–600 ns
    /// longer to reach the consumer in about half the cases on this VM (`bench
    /// tick-to-trade`, `order_to_core` by slot position, docs/ALGOS.md).
    #[inline]
    pub fn touch_next(&self) {
        super::prefetch_read(self.ring.slot(self.tail));
    }
}

/// Slots claimed by the producer: write each payload, set each length, then commit.
pub struct Claim<'a> {
    producer: &'a mut Producer,
    n: usize,
}

impl Claim<'_> {
    /// Number of claimed slots.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no slot was claimed.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The whole payload area of claimed slot `i`.
    ///
    /// # Panics
    /// If `i >= self.len()` (programmer error).
    #[inline(always)]
    pub fn payload(&mut self, i: usize) -> &mut [u8] {
        assert!(i < self.n, "slot {i} outside a claim of {}", self.n);
        let ring = &self.producer.ring;
        let pos = self.producer.tail + i as u64;
        // SAFETY: positions tail..tail+n are claimed: the consumer released them
        // (checked in try_claim) and will not read them before their commit word is
        // stored, so this handle has exclusive access to their payloads.
        unsafe { std::slice::from_raw_parts_mut(ring.payload_ptr(pos), ring.max_record_bytes()) }
    }

    /// Sets the record length of claimed slot `i`.
    ///
    /// # Panics
    /// If `i >= self.len()` or `len` exceeds the payload (programmer error).
    #[inline(always)]
    pub fn set_len(&mut self, i: usize, len: usize) {
        assert!(i < self.n && len <= self.producer.max_record_bytes());
        let pos = self.producer.tail + i as u64;
        // SAFETY: as in `payload`: the slot is exclusively ours until committed.
        unsafe { self.producer.ring.len_ptr(pos).write(len as u32) };
    }

    /// Makes all claimed records visible, in order.
    #[inline(always)]
    pub fn commit(self) {
        let n = self.n;
        self.commit_first(n);
    }

    /// Makes the first `k` claimed records visible and releases the rest.
    ///
    /// # Panics
    /// If `k > self.len()` (programmer error).
    #[inline(always)]
    pub fn commit_first(self, k: usize) {
        assert!(k <= self.n);
        let p = self.producer;
        for pos in p.tail..p.tail + k as u64 {
            // Pairs with the consumer's Acquire load of the commit word: the payload
            // and length written above are visible before the record is.
            p.ring
                .commit_word(pos)
                .store(commit_value(pos), Ordering::Release);
            #[cfg(not(loom))]
            if p.demote {
                super::demote(p.ring.slot(pos));
            }
        }
        p.tail += k as u64;
    }
}

impl Consumer {
    /// Maps the ring file at `path` as its consumer, starting at the published head.
    #[cfg(not(loom))]
    pub fn attach(path: &Path, expected: Option<Layout>) -> Result<Self, ShmError> {
        let ring = open(path, expected)?;
        // Pairs with the previous consumer's Release store (if any).
        let head = ring.head().load(Ordering::Acquire);
        Ok(Self {
            ring,
            head,
            corrupt: 0,
        })
    }

    /// The largest record a slot holds.
    pub fn max_record_bytes(&self) -> usize {
        self.ring.max_record_bytes()
    }

    /// Records whose length word was larger than a slot (written by a faulty or
    /// hostile producer) and was clamped to the slot.
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt
    }

    /// Position of the next record to read (records read so far, over the ring's life).
    pub fn position(&self) -> u64 {
        self.head
    }

    /// The committed record at `pos`, in place, if there is one.
    #[inline]
    fn record_at(&mut self, pos: u64) -> Option<&[u8]> {
        // Pairs with the Release store in `Claim::commit_first`.
        if self.ring.commit_word(pos).load(Ordering::Acquire) != commit_value(pos) {
            return None;
        }
        let max = self.ring.max_record_bytes();
        // SAFETY: the record is committed and not yet released, so the producer
        // does not write this slot until `head` passes it.
        let mut len = unsafe { self.ring.len_ptr(pos).read() } as usize;
        if len > max {
            self.corrupt += 1;
            len = max;
        }
        // SAFETY: as above; the payload holds at least `max >= len` bytes.
        Some(unsafe { std::slice::from_raw_parts(self.ring.payload_ptr(pos), len) })
    }

    fn release_to(&mut self, head: u64) {
        debug_assert!(head >= self.head);
        self.head = head;
        // Pairs with the producer's Acquire load in `refresh_head`.
        self.ring.head().store(head, Ordering::Release);
    }

    /// Whether a committed record is waiting.
    #[inline]
    pub fn has_record(&self) -> bool {
        self.ring.commit_word(self.head).load(Ordering::Acquire) == commit_value(self.head)
    }

    /// Reads the next record in place with `f`, then releases its slot.
    #[inline]
    pub fn read<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let head = self.head;
        let r = f(self.record_at(head)?);
        self.release_to(head + 1);
        Some(r)
    }

    /// Reads up to `max` records in place with `f` and releases them all with one
    /// store. Returns how many were read.
    #[inline]
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let start = self.head;
        let mut pos = start;
        while pos - start < max as u64 {
            let Some(record) = self.record_at(pos) else {
                break;
            };
            f(record);
            pos += 1;
        }
        if pos != start {
            self.release_to(pos);
        }
        (pos - start) as usize
    }
}

#[cfg(loom)]
mod loom_model {
    //! Under loom the commit words and the head are loom atomics kept beside a plain
    //! byte area for lengths and payloads; the protocol code above is unchanged.
    //! Loom cannot model a `MAP_SHARED` file or plain bytes, so the payload's ordering
    //! rests on the commit/head Release-Acquire pairs that loom does check.

    use super::{AtomicU32, AtomicU64};

    pub(super) struct Storage {
        pub head: AtomicU64,
        pub commits: Vec<AtomicU32>,
        pub bytes: *mut u64,
        pub words: usize,
    }

    // SAFETY: the byte area is shared by protocol, as in the mapped ring.
    unsafe impl Send for Storage {}
    // SAFETY: as above.
    unsafe impl Sync for Storage {}

    impl Storage {
        pub fn new(capacity: usize, slot_bytes: usize) -> Self {
            let words = capacity * slot_bytes / 8;
            let bytes = Box::into_raw(vec![0u64; words].into_boxed_slice()) as *mut u64;
            Self {
                head: AtomicU64::new(0),
                commits: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
                bytes,
                words,
            }
        }
    }

    impl Drop for Storage {
        fn drop(&mut self) {
            let slice = std::ptr::slice_from_raw_parts_mut(self.bytes, self.words);
            // SAFETY: `bytes` came from `Box::into_raw` of a slice of `words` words.
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

#[cfg(loom)]
impl Ring {
    fn head(&self) -> &AtomicU64 {
        &self.model.head
    }

    fn commit_word(&self, pos: u64) -> &AtomicU32 {
        &self.model.commits[(pos & self.mask) as usize]
    }
}

/// Creates a ring whose words loom tracks (for the model-checking tests only).
#[cfg(loom)]
pub fn channel(layout: Layout) -> Result<(Producer, Consumer), LayoutError> {
    layout.validate()?;
    let model = Arc::new(loom_model::Storage::new(layout.capacity, layout.slot_bytes));
    let ring = |model: Arc<loom_model::Storage>| Ring {
        slots: model.bytes as *mut u8,
        model,
        mask: layout.capacity as u64 - 1,
        slot_bytes: layout.slot_bytes,
    };
    let producer = Producer {
        ring: ring(model.clone()),
        tail: 0,
        cached_head: 0,
        demote: false,
    };
    let consumer = Consumer {
        ring: ring(model),
        head: 0,
        corrupt: 0,
    };
    Ok((producer, consumer))
}
