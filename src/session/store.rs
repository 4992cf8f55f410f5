//! The replay store: one session's sequenced stream for the day.
//!
//! Every Sequenced Data packet a session produces is appended here, already framed
//! (`u16 length`, `S`, OUCH message), and numbered 1, 2, 3 … by its position. A
//! reconnect that asks for sequence number N is served from `packet(N)` onwards. All
//! memory is reserved at start-up and its pages populated then
//! ([`crate::ring::shm::populate_write`]), so appending never allocates and never takes
//! a page fault (untouched capacity faulted a page in every ≈ 60 Accepted messages, on
//! the serving thread, inside the order → ack path). A packet is encoded straight
//! into the store ([`ReplayStore::append_with`]) and sent from there, so the lines it
//! goes to are asked for ahead ([`ReplayStore::prefetch_tail`]: after every append,
//! and by the idle warm pass): a populated page is still not in the caches, and the
//! packet is read right back for the send (≈ 100 ns more at a tick on the AMD host,
//! docs/LATENCY.md § The AMD host).

use crate::proto::wire::BufferTooSmall;

/// Why [`ReplayStore::append`] did not store a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFull;

/// Why [`ReplayStore::append_with`] did not store a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The packet would fit a packet buffer but not what is left of the store.
    Full,
    /// The packet does not fit the largest room offered (`max_bytes`): not stored.
    TooLarge,
}

/// One session's framed Sequenced Data packets, in order.
#[derive(Debug)]
pub struct ReplayStore {
    /// Framed packets, back to back, in `bytes[..used]`; the rest is room.
    bytes: Box<[u8]>,
    /// Bytes of `bytes` holding packets.
    used: usize,
    /// `ends[i]` is the end offset in `bytes` of message `i + 1`.
    ends: Vec<u32>,
}

/// Smallest framed Sequenced Data packet (header + the shortest OUCH outbound message).
const MIN_PACKET_BYTES: usize = 3 + 10;

/// Bytes after the last packet prefetched for the next one: two lines, enough for an
/// Order Accepted without appendages (3 + 64 bytes framed) wherever it starts.
const TAIL_BYTES: usize = 128;

impl ReplayStore {
    /// A store of at most `capacity_bytes` (clamped to `u32::MAX`).
    pub fn new(capacity_bytes: usize) -> Self {
        let capacity_bytes = capacity_bytes.min(u32::MAX as usize);
        // Zeroed (calloc: fresh pages, not written here), so packets are encoded in
        // place into initialised room; the pages are populated just below.
        let mut bytes = vec![0u8; capacity_bytes].into_boxed_slice();
        let mut ends: Vec<u32> = Vec::with_capacity(capacity_bytes / MIN_PACKET_BYTES + 1);
        crate::ring::shm::populate_write(bytes.as_mut_ptr(), bytes.len());
        let ends_bytes = ends.capacity() * std::mem::size_of::<u32>();
        crate::ring::shm::populate_write(ends.as_mut_ptr().cast(), ends_bytes);
        Self {
            bytes,
            used: 0,
            ends,
        }
    }

    /// Messages stored; the last one's sequence number.
    #[inline]
    pub fn len(&self) -> u64 {
        self.ends.len() as u64
    }

    /// Whether nothing is stored yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Sequence number the next appended message gets.
    #[inline]
    pub fn next_sequence_number(&self) -> u64 {
        self.len() + 1
    }

    /// Appends one framed packet; returns its sequence number. Never allocates: a
    /// packet that does not fit is refused.
    pub fn append(&mut self, packet: &[u8]) -> Result<u64, StoreFull> {
        let copy = |room: &mut [u8]| {
            let available_bytes = room.len();
            let Some(dst) = room.get_mut(..packet.len()) else {
                return Err(BufferTooSmall {
                    needed_bytes: packet.len(),
                    available_bytes,
                });
            };
            dst.copy_from_slice(packet);
            Ok(packet.len())
        };
        match self.append_with(packet.len(), copy) {
            Ok(_) => Ok(self.len()),
            Err(_) => Err(StoreFull),
        }
    }

    /// Appends the framed packet `write` encodes in place into the room it is given
    /// (at most `max_bytes`) and returns its bytes: no copy through a stack buffer.
    /// Nothing is stored if `write` fails.
    #[inline]
    pub fn append_with(
        &mut self,
        max_bytes: usize,
        write: impl FnOnce(&mut [u8]) -> Result<usize, BufferTooSmall>,
    ) -> Result<&[u8], AppendError> {
        if self.ends.len() == self.ends.capacity() {
            return Err(AppendError::Full);
        }
        let start = self.used;
        let end = start.saturating_add(max_bytes).min(self.bytes.len());
        let n = match write(&mut self.bytes[start..end]) {
            Ok(n) => n.min(end - start),
            Err(e) if e.needed_bytes <= max_bytes => return Err(AppendError::Full),
            Err(_) => return Err(AppendError::TooLarge),
        };
        self.used = start + n;
        self.ends.push(self.used as u32);
        self.prefetch_tail();
        Ok(&self.bytes[start..self.used])
    }

    /// Hints the CPU to fetch the lines the next packet will be encoded into, the
    /// [`TAIL_BYTES`] after the last one (a hint: nothing is written, nothing read).
    ///
    /// NB: a read prefetch (`prefetcht0`): the write-intent hint compiles to the same
    /// instruction without the `prfchw` target feature, and a line no other core holds
    /// arrives exclusive anyway.
    #[inline]
    pub fn prefetch_tail(&self) {
        let end = self.bytes.len().min(self.used + TAIL_BYTES);
        for line in self.bytes[self.used..end].chunks(crate::ring::CACHE_LINE_BYTES) {
            crate::ring::prefetch_read(line.as_ptr());
        }
    }

    /// The framed packets of messages `from..` (1-based), at most `max_bytes` of them
    /// but always at least one if any is left, and the sequence number after the last
    /// one returned.
    pub fn packets_from(&self, from: u64, max_bytes: usize) -> (&[u8], u64) {
        if from == 0 || from > self.len() {
            return (&[], from.max(1));
        }
        let first = (from - 1) as usize;
        let start = if first == 0 {
            0
        } else {
            self.ends[first - 1] as usize
        };
        let limit = start.saturating_add(max_bytes);
        let mut last = first;
        while last + 1 < self.ends.len() && self.ends[last + 1] as usize <= limit {
            last += 1;
        }
        let end = self.ends[last] as usize;
        (&self.bytes[start..end], last as u64 + 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_numbered_from_one_and_replayed_from_any_number() {
        let mut s = ReplayStore::new(1024);
        for i in 0..5u8 {
            assert_eq!(s.append(&[i; 13]).unwrap(), u64::from(i) + 1);
        }
        let (bytes, next) = s.packets_from(3, 1 << 20);
        assert_eq!(bytes.len(), 39);
        assert_eq!(bytes[0], 2);
        assert_eq!(next, 6);
        let (bytes, next) = s.packets_from(2, 20);
        assert_eq!((bytes.len(), next), (13, 3));
        assert_eq!(s.packets_from(6, 100).0.len(), 0);
    }

    #[test]
    fn append_with_encodes_in_place_and_refuses_what_does_not_fit() {
        let mut s = ReplayStore::new(40);
        let packet = s.append_with(20, |room| {
            room[..13].fill(7);
            Ok(13)
        });
        assert_eq!(packet, Ok(&[7u8; 13][..]));
        let too_large = |room: &mut [u8]| {
            Err(BufferTooSmall {
                needed_bytes: 30,
                available_bytes: room.len(),
            })
        };
        assert_eq!(s.append_with(20, too_large), Err(AppendError::TooLarge));
        assert_eq!(s.append_with(30, too_large), Err(AppendError::Full));
        assert_eq!(s.len(), 1);
        s.append(&[1; 13]).unwrap();
        assert_eq!(
            s.packets_from(1, 100),
            (&[[7u8; 13], [1; 13]].concat()[..], 3)
        );
    }

    #[test]
    fn a_full_store_refuses_without_growing() {
        let mut s = ReplayStore::new(26);
        s.append(&[0; 13]).unwrap();
        s.append(&[0; 13]).unwrap();
        assert_eq!(s.append(&[0; 13]), Err(StoreFull));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn the_tail_prefetch_changes_nothing_even_at_the_end() {
        // 26 bytes: the prefetch after the second append has no room left to name.
        let mut s = ReplayStore::new(26);
        s.append(&[5; 13]).unwrap();
        s.prefetch_tail();
        s.append(&[6; 13]).unwrap();
        s.prefetch_tail();
        assert_eq!(
            s.packets_from(1, 100),
            (&[[5u8; 13], [6; 13]].concat()[..], 3)
        );
    }
}
