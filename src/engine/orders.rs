//! The order pool: a preallocated array of orders with a free list threaded through it.

use super::types::{OrderRef, Side, StpMode, Tif};

/// "No order" in the intrusive links.
pub(crate) const NIL: u32 = u32::MAX;

/// Order flag: not shown on market data.
pub(crate) const HIDDEN: u8 = 1;
/// Order flag: must not take liquidity.
pub(crate) const POST_ONLY: u8 = 2;
/// Order flag: the slot holds a live order.
pub(crate) const LIVE: u8 = 4;
/// Order flag: the order is linked into a price level.
pub(crate) const RESTING: u8 = 8;
/// Order flag: the order is linked into its session's list.
pub(crate) const IN_SESSION: u8 = 16;
/// Order flag: the order has a GTT timer armed.
pub(crate) const TIMED: u8 = 32;

/// One order, exactly one cache line. Links are pool indices: `next`/`prev` thread the
/// price level's FIFO (or the free list through `next`).
///
/// NB: the session-list links live in [`OrderPool::sess`], not here: a cancel then
/// touches its session neighbours in a dense 8-byte-per-order array instead of two more
/// order lines, and the order fits 64 bytes. Measured on the engine bench stream: this
/// and skipping the timer heap for orders without a timer cut cancel p90 noticeably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
pub(crate) struct Order {
    pub next: u32,
    pub prev: u32,
    /// Bumped when the slot is freed; part of [`OrderRef`].
    pub generation: u32,
    pub user_ref_num: u32,
    /// Price level index within the instrument's band.
    pub level: u32,
    /// Open shares (displayed + reserve, or hidden).
    pub leaves: u32,
    /// Displayed shares of a visible order (== leaves unless reserve); 0 when hidden.
    pub display: u32,
    /// Reserve order: shares shown per refresh; 0 = not a reserve order.
    pub max_floor: u32,
    /// Shares executed or STP-decremented over the order/replace chain.
    pub done: u32,
    pub firm: u32,
    /// Day-unique order number; also the time priority (strictly increasing per level).
    pub order_number: u64,
    pub instrument: u16,
    pub session: u16,
    pub user_ref_idx: u8,
    pub side: Side,
    pub tif: Tif,
    pub flags: u8,
    pub stp: StpMode,
}

impl Order {
    const EMPTY: Order = Order {
        next: NIL,
        prev: NIL,
        generation: 1,
        user_ref_num: 0,
        level: 0,
        leaves: 0,
        display: 0,
        max_floor: 0,
        done: 0,
        firm: 0,
        order_number: 0,
        instrument: 0,
        session: 0,
        user_ref_idx: 0,
        side: Side::Buy,
        tif: Tif::Day,
        flags: 0,
        stp: StpMode::None,
    };

    /// The view of this order an event carries to observers: open shares `before` →
    /// `after` the event.
    #[inline(always)]
    pub fn view(&self, before: u32, after: u32) -> super::event::OrderView {
        super::event::OrderView {
            instrument: self.instrument,
            buy: self.side.is_buy(),
            leaves_before: before,
            leaves_after: after,
        }
    }

    /// True when the order prints on market data.
    #[inline]
    pub fn visible(&self) -> bool {
        self.flags & HIDDEN == 0
    }
}

const _: () = assert!(std::mem::size_of::<Order>() == 64);

/// Links of an order in its session's list (pool indices, `NIL` at the ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessLink {
    pub next: u32,
    pub prev: u32,
}

/// Fixed-capacity order storage; allocation is a free-list pop, never a heap allocation.
#[derive(Debug, Clone)]
pub(crate) struct OrderPool {
    pub orders: Vec<Order>,
    /// Session-list links, indexed like `orders`.
    pub sess: Vec<SessLink>,
    free_head: u32,
    live: u32,
}

impl OrderPool {
    /// A pool of `capacity` orders, all free.
    pub fn new(capacity: u32) -> Self {
        let mut orders = vec![Order::EMPTY; capacity as usize];
        for (i, o) in orders.iter_mut().enumerate() {
            o.next = if i + 1 < capacity as usize {
                i as u32 + 1
            } else {
                NIL
            };
        }
        let link = SessLink {
            next: NIL,
            prev: NIL,
        };
        OrderPool {
            orders,
            sess: vec![link; capacity as usize],
            free_head: if capacity > 0 { 0 } else { NIL },
            live: 0,
        }
    }

    /// Takes a free slot, or `None` when the pool is exhausted.
    #[inline]
    #[unsafe(link_section = "tg_hot")]
    pub fn alloc(&mut self) -> Option<u32> {
        let idx = self.free_head;
        let o = self.orders.get_mut(idx as usize)?;
        self.free_head = o.next;
        let generation = o.generation;
        *o = Order::EMPTY;
        o.generation = generation;
        o.flags = LIVE;
        self.live += 1;
        Some(idx)
    }

    /// Returns a slot to the free list; outstanding handles to it become stale.
    #[inline]
    pub fn free(&mut self, idx: u32) {
        let head = self.free_head;
        let o = &mut self.orders[idx as usize];
        debug_assert!(o.flags & LIVE != 0, "double free of order {idx}");
        o.generation = o.generation.wrapping_add(1).max(1);
        o.flags = 0;
        o.next = head;
        self.free_head = idx;
        self.live -= 1;
    }

    /// The slot of a live order named by `r`, or `None` for a stale or invalid handle.
    #[inline]
    pub fn lookup(&self, r: OrderRef) -> Option<u32> {
        let o = self.orders.get(r.index() as usize)?;
        (o.flags & LIVE != 0 && o.generation == r.generation()).then_some(r.index())
    }

    /// The handle of slot `idx`.
    #[inline]
    pub fn handle(&self, idx: u32) -> OrderRef {
        OrderRef::new(idx, self.orders[idx as usize].generation)
    }

    /// Live orders.
    #[inline]
    pub fn live(&self) -> u32 {
        self.live
    }

    /// The slot the next [`Self::alloc`] takes (`NIL` when exhausted): the warm pass.
    #[inline]
    pub fn next_free(&self) -> u32 {
        self.free_head
    }
}

/// Hints the CPU to start loading `*p`'s cache line (never faults, never blocks).
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `p` is a valid reference; a prefetch only moves a cache line, and SSE
        // is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
