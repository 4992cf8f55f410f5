//! A bounded store of the most recent messages sent, by sequence number, for
//! MoldUDP64 retransmission. Allocated once; recording overwrites the oldest.

/// The last `capacity` messages, each at most `max_message_bytes` long.
#[derive(Debug)]
pub struct RecentMessages {
    /// `capacity * max_message_bytes`; message `seq` lives at slot `seq % capacity`.
    bytes: Box<[u8]>,
    /// Length of the message in each slot.
    lens: Box<[u16]>,
    /// Sequence number held by each slot (0: none; sequence numbers start at 1).
    seqs: Box<[u64]>,
    max_message_bytes: usize,
    /// The sequence number after the newest recorded message.
    next: u64,
}

impl RecentMessages {
    /// A store of `capacity` (≥ 1) messages of at most `max_message_bytes` each.
    pub fn new(capacity: usize, max_message_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            bytes: vec![0; capacity * max_message_bytes].into_boxed_slice(),
            lens: vec![0; capacity].into_boxed_slice(),
            seqs: vec![0; capacity].into_boxed_slice(),
            max_message_bytes,
            next: 1,
        }
    }

    fn slot(&self, seq: u64) -> usize {
        (seq % self.seqs.len() as u64) as usize
    }

    /// Records message `seq`. Returns false (and records nothing) if it is longer
    /// than a slot. Sequence numbers may jump forward (a lap upstream).
    pub fn record(&mut self, seq: u64, message: &[u8]) -> bool {
        if message.len() > self.max_message_bytes || seq == 0 {
            return false;
        }
        let slot = self.slot(seq);
        let start = slot * self.max_message_bytes;
        self.bytes[start..start + message.len()].copy_from_slice(message);
        self.lens[slot] = message.len() as u16;
        self.seqs[slot] = seq;
        self.next = self.next.max(seq + 1);
        true
    }

    /// Message `seq`, if still held.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        let slot = self.slot(seq);
        if seq == 0 || self.seqs[slot] != seq {
            return None;
        }
        let start = slot * self.max_message_bytes;
        Some(&self.bytes[start..start + usize::from(self.lens[slot])])
    }

    /// The sequence number after the newest message recorded.
    pub fn next_sequence_number(&self) -> u64 {
        self.next
    }

    /// Messages the store holds at most.
    pub fn capacity(&self) -> usize {
        self.seqs.len()
    }
}
