//! The risk view of every live order, open-order counts and positions, kept in step
//! with the engine by observing its session events (the single writer is the core).
//!
//! Orders are found by the pool index of their [`OrderRef`] (dense, below
//! `engine.max_orders`), so no event hashes. What every event needs (open shares, side,
//! instrument, session) is 8 bytes per order in one table that stays cache-resident
//! for ~200k live orders; what identifies an order to the engine (generation, channel,
//! UserRefNum: the kill switch's cancels) is read from the engine's own order
//! ([`Engine::order_at`](crate::engine::Engine::order_at)). An order dies when its open
//! quantity reaches 0, whichever event did it.
//!
//! NB: a single 24-byte slot per order (with the identifiers) missed the cache on most
//! cancels and fills and cost ≈70 ns per command on `tickgate bench engine`; 8 bytes
//! keep the event path cache-resident (bench/RESULTS.md, "Risk").

use super::limits::Exposure;
use crate::engine::{Instrument, OrderEvent, OrderRef};

/// An instrument's prices as the collar sees them (one line per instrument, kept next
/// to the other risk state instead of reading the engine's instrument table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    /// Collar reference: the last trade price once it traded, else the configured
    /// reference price.
    pub reference: u64,
    /// Whether `reference` is a trade price.
    pub traded: bool,
    /// Tick size.
    pub tick: u64,
    /// Lowest price in the band.
    pub band_low: u64,
    /// Highest price in the band.
    pub band_high: u64,
}

/// Open-shares bit that marks a buy order (quantities are below 2^20).
const BUY: u32 = 1 << 31;

/// What every event of a live order needs (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Hot {
    /// Open shares, with [`BUY`] set for a buy order; 0 = no live order.
    leaves_side: u32,
    pub instrument: u16,
    pub session: u16,
}

impl Hot {
    #[inline]
    pub fn leaves(self) -> u32 {
        self.leaves_side & !BUY
    }

    #[inline]
    pub fn buy(self) -> bool {
        self.leaves_side & BUY != 0
    }
}

/// Orders, open counts and positions of every account.
#[derive(Debug, Clone)]
pub struct Ledger {
    hot: Vec<Hot>,
    /// Per (session, instrument): `session * instruments + instrument`.
    exposure: Vec<Exposure>,
    /// Live orders per session.
    open_orders: Vec<u32>,
    /// Collar reference and band per instrument.
    prices: Vec<Prices>,
    instruments: usize,
    /// One past the highest slot index ever used (bounds the kill-switch scan).
    high_index: u32,
    /// Events naming an order the ledger does not track (should stay 0).
    untracked: u64,
}

impl Ledger {
    /// A ledger for `max_orders` live orders, `sessions` accounts and the engine's
    /// instruments.
    pub fn new(max_orders: u32, sessions: usize, instruments: &[Instrument]) -> Self {
        let prices: Vec<Prices> = instruments
            .iter()
            .map(|i| Prices {
                reference: i.reference_price,
                traded: false,
                tick: i.tick_size,
                band_low: i.band_low,
                band_high: i.band_high,
            })
            .collect();
        let instruments = prices.len();
        Ledger {
            hot: huge_vec(max_orders as usize),
            exposure: vec![Exposure::default(); sessions * instruments],
            open_orders: vec![0; sessions],
            prices,
            instruments,
            high_index: 0,
            untracked: 0,
        }
    }

    /// Exposure of `session` in `instrument`.
    #[inline]
    pub fn exposure(&self, session: u16, instrument: u16) -> Option<&Exposure> {
        if usize::from(instrument) >= self.instruments {
            return None;
        }
        self.exposure
            .get(usize::from(session) * self.instruments + usize::from(instrument))
    }

    /// Live orders of `session`.
    #[inline]
    pub fn open_orders(&self, session: u16) -> Option<u32> {
        self.open_orders.get(usize::from(session)).copied()
    }

    /// Collar reference (last trade, else configured) and band of `instrument`.
    #[inline]
    pub fn prices(&self, instrument: u16) -> Option<&Prices> {
        self.prices.get(usize::from(instrument))
    }

    /// Feeds every position, open quantity, open-order count and collar reference to
    /// `f` in a fixed order (for [`RiskCore::state_hash`](super::RiskCore::state_hash)).
    pub fn state_words(&self, mut f: impl FnMut(u64)) {
        for e in &self.exposure {
            f(e.net as u64);
            f(e.open_buy as u64);
            f(e.open_sell as u64);
        }
        self.open_orders.iter().for_each(|&n| f(u64::from(n)));
        for p in &self.prices {
            f(p.reference);
            f(u64::from(p.traded));
        }
    }

    /// Events that named an order the ledger did not know (0 unless out of step).
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Hints the CPU to fetch the hot entry of `order` (a Cancel's, before the engine
    /// runs it).
    #[inline]
    pub(crate) fn prefetch(&self, order: OrderRef) {
        if let Some(h) = self.hot.get(order.index() as usize) {
            prefetch_read(h);
        }
    }

    /// Hints the CPU to fetch the exposure line of (`session`, `instrument`).
    #[inline]
    pub(crate) fn prefetch_exposure(&self, session: u16, instrument: u16) {
        if let Some(e) = self.exposure(session, instrument) {
            prefetch_read(e);
        }
    }

    /// The pool index of the first live order of `session` at `from` or above.
    pub(crate) fn next_order_of(&self, session: u16, from: u32) -> Option<u32> {
        let end = self.high_index as usize;
        let start = (from as usize).min(end);
        let offset = self.hot[start..end]
            .iter()
            .position(|h| h.leaves() != 0 && h.session == session)?;
        Some((start + offset) as u32)
    }

    /// Updates the books from one session event of the engine.
    #[inline(always)]
    pub fn observe(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Accepted(a) => self.accepted(a),
            OrderEvent::Executed(e) => self.reduce(e.order, e.qty, Some(e.price)),
            OrderEvent::Canceled(c) => self.reduce(c.order, c.qty, None),
            OrderEvent::AiqCanceled(d) => self.reduce(d.order, d.decrement, None),
            OrderEvent::Replaced(r) => self.set_leaves(r.order, r.qty),
            OrderEvent::Modified(m) => self.set_leaves(m.order, m.qty),
            OrderEvent::Rejected(_)
            | OrderEvent::CancelRejected(_)
            | OrderEvent::MassCancelResponse(_)
            | OrderEvent::Restated(_)
            | OrderEvent::Ignored(_)
            | OrderEvent::Echoed(_) => {}
        }
    }

    #[inline(always)]
    fn accepted(&mut self, a: &crate::engine::event::Accepted) {
        let i = a.order.index() as usize;
        let ok = i < self.hot.len()
            && usize::from(a.instrument) < self.instruments
            && usize::from(a.session) < self.open_orders.len()
            && a.qty != 0
            && a.qty & BUY == 0;
        if !ok {
            self.untracked += 1;
            return;
        }
        let buy = a.side.is_buy();
        self.hot[i] = Hot {
            leaves_side: a.qty | if buy { BUY } else { 0 },
            instrument: a.instrument,
            session: a.session,
        };
        self.high_index = self.high_index.max(i as u32 + 1);
        self.open_orders[usize::from(a.session)] += 1;
        let e = self.exposure_mut(a.session, a.instrument);
        *open_side(e, buy) += i64::from(a.qty);
    }

    /// `qty` shares left the order; a fill (`fill_price`) also moves the position and
    /// the instrument's last trade price.
    #[inline(always)]
    fn reduce(&mut self, order: OrderRef, qty: u32, fill_price: Option<u64>) {
        let Some(h) = self
            .hot
            .get_mut(order.index() as usize)
            .filter(|h| h.leaves() != 0)
        else {
            self.untracked += 1;
            return;
        };
        let qty = qty.min(h.leaves());
        h.leaves_side -= qty;
        let h = *h;
        if h.leaves() == 0 {
            self.hot[order.index() as usize].leaves_side = 0;
            self.open_orders[usize::from(h.session)] -= 1;
        }
        if let Some(price) = fill_price {
            let p = &mut self.prices[usize::from(h.instrument)];
            p.reference = price;
            p.traded = true;
        }
        let e = self.exposure_mut(h.session, h.instrument);
        *open_side(e, h.buy()) -= i64::from(qty);
        if fill_price.is_some() {
            e.net += if h.buy() {
                i64::from(qty)
            } else {
                -i64::from(qty)
            };
        }
    }

    /// The order's open shares are now `leaves` (Replace, Modify).
    #[inline(always)]
    fn set_leaves(&mut self, order: OrderRef, leaves: u32) {
        let i = order.index() as usize;
        let Some(h) = self.hot.get_mut(i).filter(|h| h.leaves() != 0) else {
            self.untracked += 1;
            return;
        };
        let leaves = leaves & !BUY;
        let before = *h;
        h.leaves_side = if leaves == 0 {
            0
        } else {
            leaves | (before.leaves_side & BUY)
        };
        let (h, old) = (before, before.leaves());
        if leaves == 0 {
            self.open_orders[usize::from(h.session)] -= 1;
        }
        let e = self.exposure_mut(h.session, h.instrument);
        *open_side(e, h.buy()) += i64::from(leaves) - i64::from(old);
    }

    #[inline]
    fn exposure_mut(&mut self, session: u16, instrument: u16) -> &mut Exposure {
        &mut self.exposure[usize::from(session) * self.instruments + usize::from(instrument)]
    }
}

#[inline]
fn prefetch_read<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and has no architectural effect;
    // `p` is a valid reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (p as *const T).cast(),
        );
    }
}

#[inline]
fn open_side(e: &mut Exposure, buy: bool) -> &mut i64 {
    if buy {
        &mut e.open_buy
    } else {
        &mut e.open_sell
    }
}

/// A vector of `n` default entries whose pages the kernel is asked to back with
/// transparent huge pages (the table is indexed at random by order-pool index).
///
/// NB: with 4 KiB pages every event of an order far from its neighbours missed the TLB;
/// measured on `tickgate bench engine`, huge pages cut the with-risk time per command
/// (see bench/RESULTS.md, "Risk").
fn huge_vec<T: Clone + Default>(n: usize) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    let (ptr, len) = (v.as_mut_ptr() as usize, n * std::mem::size_of::<T>());
    let start = ptr.next_multiple_of(4096);
    let end = (ptr + len) & !4095;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation just made (its page-aligned
        // interior); MADV_HUGEPAGE changes only how pages are backed, never contents or
        // validity, and failure (THP off) is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    v.resize(n, T::default());
    v
}
