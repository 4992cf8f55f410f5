//! The replay store: one session's sequenced stream for the day.
//!
//! Every Sequenced Data packet a session produces is appended here, already framed
//! (`u16 length`, `S`, OUCH message), and numbered 1, 2, 3 … by its position. A
//! reconnect that asks for sequence number N is served from `packet(N)` onwards. All
//! memory is reserved at start-up and its pages populated then
//! ([`crate::ring::shm::populate_write`]), so appending never allocates and never takes
//! a page fault (untouched capacity faulted a page in every ≈ 60 Accepted messages, on
//! the serving thread, inside the order → ack path).

/// Why [`ReplayStore::append`] did not store a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFull;

/// One session's framed Sequenced Data packets, in order.
#[derive(Debug)]
pub struct ReplayStore {
    /// Framed packets, back to back.
    bytes: Vec<u8>,
    /// `ends[i]` is the end offset in `bytes` of message `i + 1`.
    ends: Vec<u32>,
}

/// Smallest framed Sequenced Data packet (header + the shortest OUCH outbound message).
const MIN_PACKET_BYTES: usize = 3 + 10;

impl ReplayStore {
    /// A store of at most `capacity_bytes` (clamped to `u32::MAX`).
    pub fn new(capacity_bytes: usize) -> Self {
        let capacity_bytes = capacity_bytes.min(u32::MAX as usize);
        let mut bytes: Vec<u8> = Vec::with_capacity(capacity_bytes);
        let mut ends: Vec<u32> = Vec::with_capacity(capacity_bytes / MIN_PACKET_BYTES + 1);
        crate::ring::shm::populate_write(bytes.as_mut_ptr(), bytes.capacity());
        let ends_bytes = ends.capacity() * std::mem::size_of::<u32>();
        crate::ring::shm::populate_write(ends.as_mut_ptr().cast(), ends_bytes);
        Self { bytes, ends }
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
        let fits_bytes = self.bytes.capacity() - self.bytes.len() >= packet.len();
        if !fits_bytes || self.ends.len() == self.ends.capacity() {
            return Err(StoreFull);
        }
        self.bytes.extend_from_slice(packet);
        self.ends.push(self.bytes.len() as u32);
        Ok(self.len())
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
    fn a_full_store_refuses_without_growing() {
        let mut s = ReplayStore::new(26);
        s.append(&[0; 13]).unwrap();
        s.append(&[0; 13]).unwrap();
        assert_eq!(s.append(&[0; 13]), Err(StoreFull));
        assert_eq!(s.len(), 2);
    }
}
