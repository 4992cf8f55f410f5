//! Overload protection: reject new orders "system busy" before they reach a core input
//! ring that is filling up, so cancels always find room.
//!
//! The session layer calls [`Overload::admit`] with the ring's free slots before it
//! pushes a command. While the ring holds at least the high-water mark, new orders and
//! replaces are answered with [`RiskReject::ProcessingError`] (OUCH 0x000A) by the
//! session itself — every order still gets exactly one response — and cancels pass, so
//! the space above the mark is kept for risk-reducing messages. The state clears only
//! once the ring has drained to the low-water mark (hysteresis: no flapping at the mark).
//!
//! ```
//! use tickgate::risk::overload::Overload;
//! use tickgate::risk::throttle::MessageClass;
//! let mut o = Overload::new(100, 75, 50);
//! assert!(o.admit(MessageClass::NewOrReplace, 26).is_ok()); // 74 used
//! assert!(o.admit(MessageClass::NewOrReplace, 25).is_err()); // 75 used: busy
//! assert!(o.admit(MessageClass::Cancel, 25).is_ok());
//! assert!(o.admit(MessageClass::NewOrReplace, 49).is_err()); // 51 used: still busy
//! assert!(o.admit(MessageClass::NewOrReplace, 50).is_ok()); // drained to 50
//! ```

use super::RiskReject;
use super::throttle::MessageClass;

/// High/low-water-mark check of one core input ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overload {
    capacity: usize,
    /// Used slots at or above which new orders are busy-rejected.
    high_used: usize,
    /// Used slots at or below which a busy ring clears.
    low_used: usize,
    busy: bool,
    /// New orders busy-rejected since construction.
    rejected: u64,
}

impl Overload {
    /// A check for a ring of `capacity` slots with marks in percent of the capacity
    /// (`high_pct` is clamped to 1..=100, `low_pct` to `..high_pct`).
    pub fn new(capacity: usize, high_pct: u8, low_pct: u8) -> Self {
        let high_pct = usize::from(high_pct.clamp(1, 100));
        let low_pct = usize::from(low_pct).min(high_pct - 1);
        let high_used = (capacity * high_pct).div_ceil(100).max(1);
        Overload {
            capacity,
            high_used,
            low_used: (capacity * low_pct / 100).min(high_used - 1),
            busy: false,
            rejected: 0,
        }
    }

    /// Whether a message of `class` may be pushed onto a ring with `free_slots` free.
    /// New orders get `Err(ProcessingError)` while the ring is busy; cancels always pass.
    #[inline]
    pub fn admit(&mut self, class: MessageClass, free_slots: usize) -> Result<(), RiskReject> {
        let used = self.capacity.saturating_sub(free_slots);
        if self.busy {
            self.busy = used > self.low_used;
        } else {
            self.busy = used >= self.high_used;
        }
        if self.busy && class == MessageClass::NewOrReplace {
            self.rejected += 1;
            return Err(RiskReject::ProcessingError);
        }
        Ok(())
    }

    /// Whether the ring was past its high-water mark at the last check.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// New orders rejected as busy since construction.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Used slots at which new orders start being rejected.
    pub fn high_water_slots(&self) -> usize {
        self.high_used
    }

    /// Used slots at which a busy ring clears.
    pub fn low_water_slots(&self) -> usize {
        self.low_used
    }
}
