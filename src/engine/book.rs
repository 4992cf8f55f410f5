//! One instrument's book: a dense array of price levels (one per tick of the band), each
//! an intrusive FIFO through the order pool, plus occupancy bitmaps that keep the best
//! bid and ask cheap to maintain.
//!
//! A level holds orders of one side only (the book is never crossed), so bids and asks
//! share the array and differ by bitmap.

use super::bitset::LevelBits;
use super::orders::{NIL, Order, RESTING};

/// A price level: FIFO head/tail and the sum of its orders' open shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub head: u32,
    pub tail: u32,
    pub total: u64,
}

impl Level {
    const EMPTY: Level = Level {
        head: NIL,
        tail: NIL,
        total: 0,
    };
}

/// The book of one instrument.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub levels: Vec<Level>,
    pub bids: LevelBits,
    pub asks: LevelBits,
    /// Highest occupied bid level, or `NIL`.
    pub best_bid: u32,
    /// Lowest occupied ask level, or `NIL`.
    pub best_ask: u32,
}

impl Book {
    /// An empty book of `levels` price levels.
    pub fn new(levels: u32) -> Self {
        Book {
            levels: vec![Level::EMPTY; levels as usize],
            bids: LevelBits::new(levels),
            asks: LevelBits::new(levels),
            best_bid: NIL,
            best_ask: NIL,
        }
    }

    /// Appends order `idx` (its `level`, `side`, `leaves` set) at the back of its level.
    #[inline(always)]
    pub fn push_back(&mut self, orders: &mut [Order], idx: u32) {
        let o = &mut orders[idx as usize];
        let (lvl, buy, leaves) = (o.level, o.side.is_buy(), o.leaves);
        o.flags |= RESTING;
        let level = &mut self.levels[lvl as usize];
        o.next = NIL;
        o.prev = level.tail;
        let old_tail = level.tail;
        level.tail = idx;
        level.total += u64::from(leaves);
        if old_tail == NIL {
            level.head = idx;
            self.mark(lvl, buy);
        } else {
            orders[old_tail as usize].next = idx;
        }
    }

    /// Unlinks order `idx` from its level (its `leaves` must still be counted there).
    #[inline(always)]
    pub fn unlink(&mut self, orders: &mut [Order], idx: u32) {
        let o = orders[idx as usize];
        orders[idx as usize].flags &= !RESTING;
        let level = &mut self.levels[o.level as usize];
        level.total -= u64::from(o.leaves);
        match o.prev {
            NIL => level.head = o.next,
            p => orders[p as usize].next = o.next,
        }
        match o.next {
            NIL => level.tail = o.prev,
            n => orders[n as usize].prev = o.prev,
        }
        if self.levels[o.level as usize].head == NIL {
            self.unmark(o.level, o.side.is_buy());
        }
    }

    /// Records that a resting order at `level` lost `qty` open shares.
    #[inline]
    pub fn reduce(&mut self, level: u32, qty: u32) {
        self.levels[level as usize].total -= u64::from(qty);
    }

    #[inline]
    fn mark(&mut self, lvl: u32, buy: bool) {
        if buy {
            self.bids.set(lvl);
            if self.best_bid == NIL || lvl > self.best_bid {
                self.best_bid = lvl;
            }
        } else {
            self.asks.set(lvl);
            if self.best_ask == NIL || lvl < self.best_ask {
                self.best_ask = lvl;
            }
        }
    }

    #[inline]
    fn unmark(&mut self, lvl: u32, buy: bool) {
        if buy {
            self.bids.clear(lvl);
            if lvl == self.best_bid {
                self.best_bid = self.bids.prev_at_or_before(lvl).unwrap_or(NIL);
            }
        } else {
            self.asks.clear(lvl);
            if lvl == self.best_ask {
                self.best_ask = self.asks.next_at_or_after(lvl).unwrap_or(NIL);
            }
        }
    }

    /// Best contra level for an incoming order on `buy` side, if it crosses `limit`.
    #[inline]
    pub fn crossing_level(&self, buy: bool, limit: u32) -> Option<u32> {
        if buy {
            (self.best_ask != NIL && self.best_ask <= limit).then_some(self.best_ask)
        } else {
            (self.best_bid != NIL && self.best_bid >= limit).then_some(self.best_bid)
        }
    }

    /// Next contra level after `lvl` (worse for the taker), if it still crosses `limit`.
    pub fn next_crossing(&self, buy: bool, lvl: u32, limit: u32) -> Option<u32> {
        if buy {
            let n = self.asks.next_at_or_after(lvl.checked_add(1)?)?;
            (n <= limit).then_some(n)
        } else {
            let n = self.bids.prev_at_or_before(lvl.checked_sub(1)?)?;
            (n >= limit).then_some(n)
        }
    }

    /// Checks the book's invariants: never crossed, bitmaps and best prices agree with
    /// the levels, level totals equal their orders, FIFO links consistent, and time
    /// priority (order number) strictly increasing along each level.
    pub fn check(&self, orders: &[Order], instrument: u16) -> Result<usize, String> {
        if self.best_bid != NIL && self.best_ask != NIL && self.best_bid >= self.best_ask {
            return Err(format!(
                "crossed: bid {} ask {}",
                self.best_bid, self.best_ask
            ));
        }
        let top_bid = self.bids.prev_at_or_before(u32::MAX).unwrap_or(NIL);
        let top_ask = self.asks.next_at_or_after(0).unwrap_or(NIL);
        if top_bid != self.best_bid || top_ask != self.best_ask {
            return Err("best prices disagree with the bitmaps".into());
        }
        let mut count = 0;
        for (lvl, level) in self.levels.iter().enumerate() {
            let lvl = lvl as u32;
            let (bid, ask) = (self.bids.get(lvl), self.asks.get(lvl));
            if level.head == NIL {
                if bid || ask || level.total != 0 || level.tail != NIL {
                    return Err(format!("empty level {lvl} marked or non-zero"));
                }
                continue;
            }
            if bid == ask {
                return Err(format!("level {lvl} marked on both or no side"));
            }
            count += self.check_level(orders, instrument, lvl, bid)?;
        }
        Ok(count)
    }

    fn check_level(
        &self,
        orders: &[Order],
        instrument: u16,
        lvl: u32,
        bid: bool,
    ) -> Result<usize, String> {
        let level = &self.levels[lvl as usize];
        let (mut idx, mut prev, mut sum, mut n, mut last_no) = (level.head, NIL, 0u64, 0, 0u64);
        while idx != NIL {
            let o = orders
                .get(idx as usize)
                .ok_or_else(|| format!("level {lvl}: bad link {idx}"))?;
            let ok = o.prev == prev
                && o.level == lvl
                && o.instrument == instrument
                && o.side.is_buy() == bid
                && o.leaves > 0
                && o.display <= o.leaves
                && o.flags & RESTING != 0
                && o.order_number > last_no;
            if !ok {
                return Err(format!("level {lvl}: order {idx} inconsistent: {o:?}"));
            }
            sum += u64::from(o.leaves);
            last_no = o.order_number;
            prev = idx;
            idx = o.next;
            n += 1;
        }
        if prev != level.tail || sum != level.total {
            return Err(format!(
                "level {lvl}: tail or total wrong ({sum} vs {})",
                level.total
            ));
        }
        Ok(n)
    }
}
