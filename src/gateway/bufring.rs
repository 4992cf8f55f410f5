//! The provided-buffer ring (`IORING_REGISTER_PBUF_RING`): a ring of buffer descriptors
//! the kernel takes from when a multishot recv has data, naming the chosen buffer id
//! (bid) in the CQE flags.
//!
//! Ownership of one buffer moves kernel → gateway with the recv CQE that names it and
//! back with [`BufRing::recycle`]; [`BufRing::publish`] makes recycled buffers visible
//! to the kernel with one release store of the ring tail per loop turn.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

use super::mem::Region;

/// Largest ring the kernel accepts.
pub const MAX_BUFFERS: u16 = 32768;

/// A registered ring of `count` receive buffers of `buf_bytes` each, in buffer group
/// `bgid`.
#[derive(Debug)]
pub struct BufRing {
    /// `count` descriptors; the tail (u16) overlays the `resv` field of descriptor 0.
    entries: Region,
    /// `count * buf_bytes` bytes; buffer `bid` starts at `bid * buf_bytes`.
    bufs: Region,
    /// Our copy of the tail: descriptors up to here are written; the kernel sees them
    /// after `publish`.
    tail: u16,
    /// Value of `tail` at the last `publish`.
    published_tail: u16,
    count: u16,
    buf_bytes: u32,
    bgid: u16,
}

impl BufRing {
    /// Maps the ring and its buffers and fills the ring with every buffer (published on
    /// [`BufRing::publish`]). `count` must be a power of two, at most [`MAX_BUFFERS`].
    pub fn new(count: u16, buf_bytes: u32, bgid: u16) -> io::Result<Self> {
        if !count.is_power_of_two() || count > MAX_BUFFERS || buf_bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "recv_buffers = {count} must be a power of two in 1..={MAX_BUFFERS} and \
                     recv_buffer_bytes = {buf_bytes} must be > 0"
                ),
            ));
        }
        let entries = Region::new(count as usize * size_of::<BufRingEntry>())?;
        let bufs = Region::new(count as usize * buf_bytes as usize)?;
        entries.prefault();
        bufs.prefault();
        let mut ring = Self {
            entries,
            bufs,
            tail: 0,
            published_tail: 0,
            count,
            buf_bytes,
            bgid,
        };
        for bid in 0..count {
            ring.recycle(bid);
        }
        Ok(ring)
    }

    /// Registers the ring with `ring`'s kernel instance under this ring's bgid.
    pub fn register(&mut self, submitter: &io_uring::Submitter<'_>) -> io::Result<()> {
        // SAFETY: the descriptor region is page-aligned, holds `count` entries and lives
        // as long as `self`; the owner (`Gateway`) drops the io_uring instance first.
        unsafe {
            submitter.register_buf_ring_with_flags(
                self.entries.as_ptr() as u64,
                self.count,
                self.bgid,
                0,
            )
        }?;
        self.publish();
        Ok(())
    }

    /// The buffer group id to name in recv SQEs.
    #[inline]
    pub fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Size of each buffer.
    #[inline]
    pub fn buf_bytes(&self) -> u32 {
        self.buf_bytes
    }

    /// The first `len` bytes of buffer `bid`, which a recv CQE has just handed to us.
    ///
    /// # Panics
    /// If `bid` or `len` is out of range (a kernel contract violation).
    #[inline]
    pub fn buf(&self, bid: u16, len: usize) -> &[u8] {
        assert!(bid < self.count && len <= self.buf_bytes as usize);
        let off = bid as usize * self.buf_bytes as usize;
        // SAFETY: in range (asserted); the CQE naming `bid` transferred the buffer to
        // us, so the kernel does not write it until `recycle(bid)` + `publish`, and the
        // returned borrow of `self` ends before `recycle` (which takes `&mut self`).
        unsafe { std::slice::from_raw_parts(self.bufs.as_ptr().add(off), len) }
    }

    /// Gives buffer `bid` back to the kernel (visible after the next `publish`).
    #[inline]
    pub fn recycle(&mut self, bid: u16) {
        debug_assert!(bid < self.count);
        let mask = self.count - 1;
        let addr = self.bufs.as_ptr() as u64 + bid as u64 * self.buf_bytes as u64;
        let slot = (self.tail & mask) as usize;
        // SAFETY: `slot < count`, inside the descriptor region. The kernel reads only
        // descriptors in [kernel head, published tail); `slot` is at or past the
        // published tail, so the kernel is not reading it. The setters write addr, len
        // and bid only, never `resv` (the tail that overlays descriptor 0).
        let entry = unsafe { &mut *self.entries.as_ptr().cast::<BufRingEntry>().add(slot) };
        entry.set_addr(addr);
        entry.set_len(self.buf_bytes);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Never unmaps the buffers (the kernel may still write into them).
    pub fn leak(&mut self) {
        self.entries.leak();
        self.bufs.leak();
    }

    /// Publishes recycled buffers to the kernel. Returns whether anything was published.
    #[inline]
    pub fn publish(&mut self) -> bool {
        if self.tail == self.published_tail {
            return false;
        }
        // SAFETY: `BufRingEntry::tail` only computes the address of descriptor 0's
        // `resv` field, inside the live region.
        let tail = unsafe { BufRingEntry::tail(self.entries.as_ptr().cast::<BufRingEntry>()) };
        // SAFETY: the tail is a naturally aligned u16 in our mapping, shared with the
        // kernel, which reads it with smp_load_acquire.
        let tail = unsafe { AtomicU16::from_ptr(tail.cast_mut()) };
        // Release pairs with the kernel's acquire load of the tail: the descriptors
        // written in `recycle` are visible before the tail that covers them.
        tail.store(self.tail, Ordering::Release);
        self.published_tail = self.tail;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ring_offers_every_buffer_once() {
        let mut r = BufRing::new(8, 64, 3).unwrap();
        assert_eq!(r.tail, 8);
        assert!(r.publish());
        assert!(!r.publish());
        assert_eq!(r.buf(7, 64).len(), 64);
    }

    #[test]
    fn bad_sizes_are_rejected_with_the_option_names() {
        let e = BufRing::new(6, 64, 0).unwrap_err();
        assert!(e.to_string().contains("recv_buffers"));
    }
}
