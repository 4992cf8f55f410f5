//! Reading ITCH 5.0 messages off the broadcast ring (algos, the publisher).

use std::path::Path;

use crate::ring::broadcast::{self, ReadError};
use crate::ring::shm::{Layout, ShmError};

/// Reads the ITCH messages an [`ItchMarketOutput`](super::ItchMarketOutput) writes,
/// one per ring slot, with their MoldUDP64 sequence numbers (ring position + 1).
///
/// A message is handed out only once the seqlock proved the copy whole. When the
/// writer laps the reader, [`read`](Self::read) / [`poll`](Self::poll) report
/// [`ReadError::Lapped`] once with the number of messages lost, and the reader has
/// already resynced to the newest message: the next call reads on from there.
///
/// ```
/// use tickgate::md::ItchReader;
/// use tickgate::ring::{broadcast, shm::Layout};
/// let mut writer = broadcast::new(Layout { capacity: 4, slot_bytes: 64 }).unwrap();
/// let mut reader = ItchReader::new(writer.reader());
/// writer.publish(b"D-some-itch").unwrap();
/// let got = reader.read(|seq, msg| (seq, msg.to_vec())).unwrap();
/// assert_eq!(got, (1, b"D-some-itch".to_vec()));
/// ```
pub struct ItchReader {
    inner: broadcast::Reader,
}

impl ItchReader {
    /// Wraps a broadcast reader (it keeps its position).
    pub fn new(inner: broadcast::Reader) -> Self {
        Self { inner }
    }

    /// Maps a broadcast ring file (e.g. in `/dev/shm`), starting at the newest message.
    pub fn attach(path: &Path, expected: Option<Layout>) -> Result<Self, ShmError> {
        broadcast::Reader::attach(path, expected).map(Self::new)
    }

    /// The sequence number of the next message to read (ring position + 1).
    pub fn next_sequence_number(&self) -> u64 {
        self.inner.position() + 1
    }

    /// Moves to the oldest message still in the ring (e.g. just after attaching).
    pub fn rewind_to_oldest(&mut self) {
        self.inner.rewind_to_oldest();
    }

    /// Messages lost to laps over the reader's life.
    pub fn lost(&self) -> u64 {
        self.inner.lost()
    }

    /// Messages written that this reader has not read yet.
    pub fn lag(&self) -> u64 {
        self.inner.lag()
    }

    /// Hands the next message and its sequence number to `f`.
    #[inline]
    pub fn read<R>(&mut self, f: impl FnOnce(u64, &[u8]) -> R) -> Result<R, ReadError> {
        let seq = self.next_sequence_number();
        self.inner.read(|msg| f(seq, msg))
    }

    /// Hands up to `max` messages, in order, to `f`; returns how many. Stops early at
    /// the newest message (`Ok`, possibly 0) or at a lap (`Err(Lapped)`, after the
    /// messages before it were handed out; the reader has resynced).
    #[inline]
    pub fn poll(&mut self, max: usize, mut f: impl FnMut(u64, &[u8])) -> Result<usize, ReadError> {
        for n in 0..max {
            match self.read(&mut f) {
                Ok(()) => {}
                Err(ReadError::Empty) => return Ok(n),
                Err(lapped) => return Err(lapped),
            }
        }
        Ok(max)
    }

    /// The underlying broadcast reader.
    pub fn inner(&self) -> &broadcast::Reader {
        &self.inner
    }
}
