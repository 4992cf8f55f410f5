//! Per-connection state: the slot table, connection ids with generations, and each
//! connection's bounded outbound byte queue.
//!
//! A slot is `Free` → `Open` (accepted) → `Closing` (shutdown issued, SQEs still in
//! flight) → `Free`. Its generation is bumped when it becomes free again, so a CQE
//! whose user_data carries an older generation is stale and ignored. A slot is only
//! reused once the kernel holds no SQE naming it: its outbound queue memory is never
//! rewritten under an in-flight send.

use std::os::fd::RawFd;

use super::mem::Region;
use super::{CloseReason, ConnId};

/// Lifecycle of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Unused; on the free list.
    Free,
    /// Accepted; data flows.
    Open,
    /// Shut down; waiting for the kernel to finish the SQEs that name the slot.
    Closing,
}

/// A circular byte queue over a fixed region of `cap` bytes. Positions are monotonic
/// byte counts, so `tail - head` is the queued length and never wraps in practice.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutQueue {
    /// Bytes sent (acknowledged by a send CQE).
    head: u64,
    /// Bytes queued; `head <= tail <= head + cap`.
    tail: u64,
}

impl OutQueue {
    /// Queued bytes not yet confirmed sent.
    #[inline]
    pub fn queued_bytes(&self) -> usize {
        (self.tail - self.head) as usize
    }

    /// Copies `bytes` in at the tail, or returns false (and copies nothing) if they
    /// do not fit in `cap`.
    ///
    /// # Safety
    /// `base..base + cap` must be this queue's writable region, and no in-flight send
    /// may read outside `[head, tail)` of it.
    #[inline]
    pub unsafe fn push(&mut self, base: *mut u8, cap: usize, bytes: &[u8]) -> bool {
        if self.queued_bytes() + bytes.len() > cap {
            return false;
        }
        let at = (self.tail % cap as u64) as usize;
        let first = bytes.len().min(cap - at);
        // SAFETY: `at + first <= cap` and `bytes.len() - first <= at` (the queue fits),
        // so both copies stay inside the caller's region; they write [tail, tail + len),
        // which no in-flight send reads (the caller's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), base, bytes.len() - first);
        }
        self.tail += bytes.len() as u64;
        true
    }

    /// The contiguous run of queued bytes starting at the head (up to the region's
    /// end), as an offset into the region and a length.
    #[inline]
    pub fn segment(&self, cap: usize) -> (usize, usize) {
        let at = (self.head % cap as u64) as usize;
        (at, self.queued_bytes().min(cap - at))
    }

    /// Marks `n` bytes at the head as sent.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.queued_bytes());
        self.head += n as u64;
    }
}

/// One connection slot.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// The socket, or -1 when free.
    pub fd: RawFd,
    /// Bumped each time the slot is freed.
    pub generation: u32,
    /// Lifecycle.
    pub state: SlotState,
    /// A multishot recv SQE is armed (its final CQE not yet seen).
    pub recv_armed: bool,
    /// Length of the send SQE in flight, 0 if none.
    pub send_inflight_bytes: u32,
    /// Outbound bytes.
    pub out: OutQueue,
    /// On the table's `dirty` list (needs a send SQE).
    pub dirty: bool,
    /// On the table's `to_close` list, with the reason.
    pub close_request: Option<CloseReason>,
    /// Close once the outbound queue has drained (graceful close).
    pub close_after_flush: Option<CloseReason>,
    /// Recv ended with ENOBUFS: re-arm after buffers were recycled.
    pub recv_rearm: bool,
}

impl Conn {
    const FREE: Conn = Conn {
        fd: -1,
        generation: 0,
        state: SlotState::Free,
        recv_armed: false,
        send_inflight_bytes: 0,
        out: OutQueue { head: 0, tail: 0 },
        dirty: false,
        close_request: None,
        close_after_flush: None,
        recv_rearm: false,
    };

    /// Whether the kernel still holds an SQE naming this slot.
    #[inline]
    pub fn has_sqes_in_flight(&self) -> bool {
        self.recv_armed || self.send_inflight_bytes > 0
    }
}

/// Why [`ConnTable::queue_send`] refused bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The id is stale or the connection is closing.
    NotOpen,
    /// The bytes would exceed the connection's outbound bound.
    OverBound,
}

/// All connection slots, their outbound queue memory, and the work lists the agent
/// drains each loop turn. Every list is pre-allocated to `max_connections` and a slot
/// is on each list at most once (guarded by its flags), so pushes never allocate.
#[derive(Debug)]
pub struct ConnTable {
    conns: Vec<Conn>,
    /// `max_connections * out_cap` bytes; slot `i` owns `[i * out_cap, (i+1) * out_cap)`.
    out_mem: Region,
    out_cap: usize,
    free: Vec<u32>,
    /// Slots with bytes to send and no send in flight (or newly queued bytes).
    pub dirty: Vec<u32>,
    /// Slots with a close request.
    pub to_close: Vec<u32>,
    /// Slots whose multishot recv must be re-armed.
    pub rearm: Vec<u32>,
    open: usize,
}

impl ConnTable {
    /// A table of `max_connections` free slots, each with `out_cap` outbound bytes
    /// (address space only until used).
    pub fn new(max_connections: usize, out_cap: usize) -> std::io::Result<Self> {
        Ok(Self {
            conns: vec![Conn::FREE; max_connections],
            out_mem: Region::new(max_connections * out_cap)?,
            out_cap,
            free: (0..max_connections as u32).rev().collect(),
            dirty: Vec::with_capacity(max_connections),
            to_close: Vec::with_capacity(max_connections),
            rearm: Vec::with_capacity(max_connections),
            open: 0,
        })
    }

    /// Connections not free (open or closing).
    #[inline]
    pub fn in_use(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    /// Open connections.
    #[inline]
    pub fn open_count(&self) -> usize {
        self.open
    }

    /// Takes a free slot for `fd`, or `None` when all are in use.
    pub fn open(&mut self, fd: RawFd) -> Option<ConnId> {
        let slot = self.free.pop()?;
        let c = &mut self.conns[slot as usize];
        debug_assert_eq!(c.state, SlotState::Free);
        let generation = c.generation;
        *c = Conn {
            fd,
            generation,
            state: SlotState::Open,
            ..Conn::FREE
        };
        self.open += 1;
        Some(ConnId::new(slot, generation))
    }

    /// The slot of `id` if its generation is current, whatever its state.
    #[inline]
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        let c = self.conns.get_mut(id.slot() as usize)?;
        (c.generation == id.generation() && c.state != SlotState::Free).then_some(c)
    }

    /// The slot of `id` if it is open and no close was requested.
    #[inline]
    pub fn get(&self, id: ConnId) -> Option<&Conn> {
        let c = self.conns.get(id.slot() as usize)?;
        let closing = c.close_request.is_some() || c.close_after_flush.is_some();
        (c.generation == id.generation() && c.state == SlotState::Open && !closing).then_some(c)
    }

    /// Slot by index.
    #[inline]
    pub fn slot_mut(&mut self, slot: u32) -> &mut Conn {
        &mut self.conns[slot as usize]
    }

    /// The id of slot `slot` at its current generation.
    #[inline]
    pub fn id_of(&self, slot: u32) -> ConnId {
        ConnId::new(slot, self.conns[slot as usize].generation)
    }

    /// All slot indices (for shutdown).
    pub fn slots(&self) -> std::ops::Range<u32> {
        0..self.conns.len() as u32
    }

    /// Copies `bytes` into `id`'s outbound queue and puts it on the dirty list.
    #[inline]
    pub fn queue_send(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), QueueError> {
        let (cap, base) = (self.out_cap, self.out_base(id.slot()));
        let c = self
            .conns
            .get_mut(id.slot() as usize)
            .ok_or(QueueError::NotOpen)?;
        let closing = c.close_request.is_some() || c.close_after_flush.is_some();
        if c.generation != id.generation() || c.state != SlotState::Open || closing {
            return Err(QueueError::NotOpen);
        }
        // SAFETY: `base..base + cap` is this slot's region of `out_mem`; its sends
        // only read [head, tail) (see `Gateway::flush`).
        if !unsafe { c.out.push(base, cap, bytes) } {
            return Err(QueueError::OverBound);
        }
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(id.slot());
        }
        Ok(())
    }

    /// Records a close request for `id` (first reason wins). `graceful` closes once
    /// the outbound queue has drained; otherwise at once.
    pub fn request_close(&mut self, id: ConnId, reason: CloseReason, graceful: bool) {
        let Some(c) = self.get_mut(id) else { return };
        if c.state != SlotState::Open || c.close_request.is_some() {
            return;
        }
        if graceful && (c.out.queued_bytes() > 0 || c.send_inflight_bytes > 0) {
            c.close_after_flush.get_or_insert(reason);
            return;
        }
        c.close_request = Some(reason);
        self.to_close.push(id.slot());
    }

    /// Never unmaps the outbound regions (in-flight sends may still read them).
    pub fn leak(&mut self) {
        self.out_mem.leak();
    }

    /// Start of slot `slot`'s outbound region.
    #[inline]
    pub fn out_base(&self, slot: u32) -> *mut u8 {
        debug_assert!((slot as usize) < self.conns.len());
        // SAFETY: slot < max_connections, so the offset is inside `out_mem`.
        unsafe { self.out_mem.as_ptr().add(slot as usize * self.out_cap) }
    }

    /// Bytes of outbound queue per connection.
    #[inline]
    pub fn out_cap(&self) -> usize {
        self.out_cap
    }

    /// Marks an open slot closing (the caller has shut its socket down).
    pub fn mark_closing(&mut self, slot: u32) {
        let c = &mut self.conns[slot as usize];
        debug_assert_eq!(c.state, SlotState::Open);
        c.state = SlotState::Closing;
        self.open -= 1;
    }

    /// Frees a closing slot whose SQEs have all completed: bumps the generation so
    /// late CQEs are recognised as stale. Returns the fd to close.
    pub fn release(&mut self, slot: u32) -> RawFd {
        let c = &mut self.conns[slot as usize];
        debug_assert!(c.state == SlotState::Closing && !c.has_sqes_in_flight());
        let fd = c.fd;
        *c = Conn {
            generation: c.generation.wrapping_add(1),
            ..Conn::FREE
        };
        self.free.push(slot);
        fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_out_queue_wraps_and_refuses_past_its_bound() {
        let mut mem = [0u8; 8];
        let base = mem.as_mut_ptr();
        let mut q = OutQueue::default();
        // SAFETY: `mem` is the 8-byte region and nothing else reads it.
        let push = |q: &mut OutQueue, b: &[u8]| unsafe { q.push(base, 8, b) };
        assert!(push(&mut q, b"abcdef"));
        assert_eq!(q.segment(8), (0, 6));
        q.consume(4);
        assert!(push(&mut q, b"ghijkl"));
        assert!(!push(&mut q, b"x"));
        assert_eq!(q.segment(8), (4, 4));
        q.consume(4);
        assert_eq!(q.segment(8), (0, 4));
        assert_eq!(&mem[..4], b"ijkl");
    }

    #[test]
    fn a_freed_slot_comes_back_with_the_next_generation() {
        let mut t = ConnTable::new(1, 64).unwrap();
        let a = t.open(10).unwrap();
        assert!(t.open(11).is_none());
        t.mark_closing(a.slot());
        assert_eq!(t.release(a.slot()), 10);
        let b = t.open(12).unwrap();
        assert_eq!(b.slot(), a.slot());
        assert_ne!(b.generation(), a.generation());
        assert!(t.get(a).is_none());
        assert_eq!(t.queue_send(a, b"x"), Err(QueueError::NotOpen));
        assert_eq!(t.queue_send(b, &[0; 65]), Err(QueueError::OverBound));
        assert_eq!(t.queue_send(b, &[0; 64]), Ok(()));
    }
}
