//! Open-order counts, positions and open quantities of every account, kept in step
//! with the engine by observing its session events (the single writer is the core).
//!
//! Each event that changes a live order comes with the engine's view of that order
//! ([`OrderView`]: instrument, side, open shares before and after), read from the order
//! line the engine has just written, so the ledger keeps no per-order table: an event
//! touches one exposure entry (per account and instrument), the account's open-order
//! count and, for a fill, the instrument's prices — small tables that stay in cache.
//!
//! NB: a per-order table (8 bytes per order, indexed by pool slot) cost one more cache
//! line per event on top of the engine's order line: on `tickgate bench engine`
//! ≈ 40% more time per command than the engine alone (bench/RESULTS.md, "Risk").

use super::limits::Exposure;
use crate::engine::{Instrument, OrderEvent, OrderView};

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

/// Open counts and positions of every account.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Per (session, instrument): `session * instruments + instrument`.
    exposure: Vec<Exposure>,
    /// Live orders per session.
    open_orders: Vec<u32>,
    /// Collar reference and band per instrument.
    prices: Vec<Prices>,
    instruments: usize,
    /// Events naming an account or instrument the ledger does not know (should stay 0).
    untracked: u64,
}

impl Ledger {
    /// A ledger for `sessions` accounts and the engine's instruments.
    pub fn new(sessions: usize, instruments: &[Instrument]) -> Self {
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
            exposure: vec![Exposure::default(); sessions * instruments],
            open_orders: vec![0; sessions],
            prices,
            instruments,
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

    /// Events that named an account or instrument the ledger did not know (0 unless
    /// out of step).
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Hints the CPU to fetch the exposure line of (`session`, `instrument`).
    #[inline]
    pub(crate) fn prefetch_exposure(&self, session: u16, instrument: u16) {
        if let Some(e) = self.exposure(session, instrument) {
            prefetch_read(e);
        }
    }

    /// Updates the books from one session event of the engine that changed a live
    /// order, with the engine's view of that order.
    ///
    /// NB: the branches stay: inlined at each emit site, the event's kind and often
    /// `leaves_before` are known there and fold away; a branch-free open-order count
    /// (`saturating_add_signed`) saved 2 instructions per command but measured
    /// `risk_overhead` ≈ 0.02 higher (interleaved runs, 2026-11-22).
    #[inline(always)]
    pub fn observe(&mut self, event: &OrderEvent, order: OrderView) {
        let (s, i) = (usize::from(event.session()), usize::from(order.instrument));
        if s >= self.open_orders.len() || i >= self.instruments {
            self.untracked += 1;
            return;
        }
        let e = &mut self.exposure[s * self.instruments + i];
        let (before, after) = (order.leaves_before, order.leaves_after);
        *open_side(e, order.buy) += i64::from(after) - i64::from(before);
        if let OrderEvent::Executed(x) = event {
            let qty = i64::from(x.qty);
            e.net += if order.buy { qty } else { -qty };
            let p = &mut self.prices[i];
            p.reference = x.price;
            p.traded = true;
        }
        let open = &mut self.open_orders[s];
        if before == 0 && after != 0 {
            *open += 1;
        } else if before != 0 && after == 0 {
            *open = open.saturating_sub(1);
        }
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
