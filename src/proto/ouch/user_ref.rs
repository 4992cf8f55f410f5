//! UserRefNum bookkeeping (spec §1.2): per account, and per UserRefIdx "order flow
//! channel" when the tag is used, every new transaction's UserRefNum must be strictly
//! greater than the last one processed. Lower or equal numbers are retransmissions and
//! are ignored — that is what makes a benign resend after a reconnect safe.

/// The last UserRefNum processed on each of the 256 UserRefIdx channels of one account
/// (channel 0 = no UserRefIdx tag). 1 KiB, no allocation.
#[derive(Debug, Clone)]
pub struct UserRefNums {
    last: [u32; 256],
}

impl Default for UserRefNums {
    fn default() -> Self {
        Self::new()
    }
}

impl UserRefNums {
    /// Nothing processed yet: the first valid UserRefNum on every channel is 1.
    pub const fn new() -> Self {
        Self { last: [0; 256] }
    }

    /// True if `user_ref_num` is new on the channel (strictly greater than the last);
    /// false means a retransmission to ignore.
    pub fn is_fresh(&self, user_ref_idx: u8, user_ref_num: u32) -> bool {
        user_ref_num > self.last[usize::from(user_ref_idx)]
    }

    /// Records `user_ref_num` as processed. Call only for a fresh number and only when
    /// the spec says it is consumed (e.g. a Replace silently ignored does not consume).
    pub fn consume(&mut self, user_ref_idx: u8, user_ref_num: u32) {
        let last = &mut self.last[usize::from(user_ref_idx)];
        *last = (*last).max(user_ref_num);
    }

    /// The next available UserRefNum on the channel (Account Query Response).
    pub fn next(&self, user_ref_idx: u8) -> u32 {
        self.last[usize::from(user_ref_idx)].saturating_add(1)
    }

    /// Checks and consumes in one step: true if fresh (and now consumed).
    ///
    /// ```
    /// # use tickgate::proto::ouch::UserRefNums;
    /// let mut seen = UserRefNums::new();
    /// assert!(seen.check_and_consume(0, 1));
    /// assert!(!seen.check_and_consume(0, 1), "equal = retransmission");
    /// assert!(seen.check_and_consume(3, 1), "channels are independent");
    /// ```
    pub fn check_and_consume(&mut self, user_ref_idx: u8, user_ref_num: u32) -> bool {
        let fresh = self.is_fresh(user_ref_idx, user_ref_num);
        if fresh {
            self.consume(user_ref_idx, user_ref_num);
        }
        fresh
    }
}
