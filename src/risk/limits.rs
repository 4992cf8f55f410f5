//! Per-account pre-trade limits and the pure check of one order against them.
//!
//! Everything here is plain arithmetic on values the caller gathered: no state, no
//! allocation. [`RiskCore`](super::RiskCore) owns the state and calls [`check`].

use super::Limit;
use crate::config::AccountRiskConfig;

/// One account's limits, ready for the hot path: a limit that is off holds the largest
/// value of its type, so every check is one compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// Largest quantity of one order.
    pub max_order_qty: u32,
    /// Largest quantity × price of one order, in price units (4 implied decimals).
    pub max_order_notional: u64,
    /// Orders open at once.
    pub max_open_orders: u32,
    /// Largest worst-case net position per instrument, shares.
    pub max_position: i64,
    /// Collar in basis points of the reference price; 0 = off.
    pub collar_bps: u32,
    /// Collar in ticks; 0 = off.
    pub collar_ticks: u32,
}

/// Price units per whole currency unit (prices carry 4 implied decimals).
pub const PRICE_UNITS_PER_CURRENCY_UNIT: u64 = 10_000;

impl AccountLimits {
    /// No limit at all.
    pub const UNLIMITED: AccountLimits = AccountLimits {
        max_order_qty: u32::MAX,
        max_order_notional: u64::MAX,
        max_open_orders: u32::MAX,
        max_position: i64::MAX,
        collar_bps: 0,
        collar_ticks: 0,
    };

    /// The limits of an account's risk settings (0 = off).
    pub fn from_config(c: &AccountRiskConfig) -> Self {
        let or = |v: u64, off: u64| if v == 0 { off } else { v };
        AccountLimits {
            max_order_qty: if c.max_order_qty == 0 {
                u32::MAX
            } else {
                c.max_order_qty
            },
            max_order_notional: or(
                c.max_order_notional
                    .saturating_mul(PRICE_UNITS_PER_CURRENCY_UNIT),
                u64::MAX,
            ),
            max_open_orders: if c.max_open_orders == 0 {
                u32::MAX
            } else {
                c.max_open_orders
            },
            max_position: or(c.max_position, i64::MAX as u64).min(i64::MAX as u64) as i64,
            collar_bps: c.collar_bps,
            collar_ticks: c.collar_ticks,
        }
    }

    /// The collar's half-width in price units around `reference` (`u64::MAX` if off).
    #[inline]
    pub fn collar_width(&self, reference: u64, tick: u64) -> u64 {
        let mut width = u64::MAX;
        if self.collar_bps != 0 {
            width = reference.saturating_mul(u64::from(self.collar_bps)) / 10_000;
        }
        if self.collar_ticks != 0 {
            width = width.min(tick.saturating_mul(u64::from(self.collar_ticks)));
        }
        width
    }
}

impl Default for AccountLimits {
    fn default() -> Self {
        Self::from_config(&AccountRiskConfig::default())
    }
}

/// An account's exposure in one instrument, in shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Net position from fills: bought − sold.
    pub net: i64,
    /// Open (leaves) quantity of live buy orders.
    pub open_buy: i64,
    /// Open quantity of live sell orders (all sell flavours).
    pub open_sell: i64,
}

impl Exposure {
    /// The largest |position| reachable if every open order on the `buy` side filled and
    /// `add` more shares on that side did too.
    #[inline]
    pub fn worst_case(&self, buy: bool, add: i64) -> i64 {
        if buy {
            self.net + self.open_buy + add
        } else {
            self.open_sell + add - self.net
        }
    }
}

/// The order facts a check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts {
    /// Buy side (every sell flavour is `false`).
    pub buy: bool,
    /// Quantity as entered (for a Replace: the total liable, as OUCH states it).
    pub qty: u32,
    /// Limit price, or the band edge for a market order (notional only).
    pub price: u64,
    /// A market order: no collar (the engine's band bounds it).
    pub market: bool,
    /// Change of open same-side quantity if accepted (negative: a reducing Replace).
    pub exposure_add: i64,
    /// An Enter (counts against max open orders); a Replace does not add an order.
    pub new_order: bool,
}

/// The instrument's prices a check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRef {
    /// Collar reference: last trade, else the configured reference price.
    pub reference: u64,
    /// Tick size.
    pub tick: u64,
}

/// Checks one order; limits are tried in a fixed order (quantity, collar, notional,
/// open orders, position), so an order gets one deterministic reason.
#[inline]
pub fn check(
    l: &AccountLimits,
    o: &OrderFacts,
    open_orders: u32,
    exposure: &Exposure,
    px: &PriceRef,
) -> Result<(), Limit> {
    if o.qty > l.max_order_qty {
        return Err(Limit::OrderQty);
    }
    if !o.market && (l.collar_bps | l.collar_ticks) != 0 {
        let width = l.collar_width(px.reference, px.tick);
        let outside = if o.buy {
            o.price > px.reference.saturating_add(width)
        } else {
            o.price < px.reference.saturating_sub(width)
        };
        if outside {
            return Err(Limit::Collar);
        }
    }
    if u64::from(o.qty).saturating_mul(o.price) > l.max_order_notional {
        return Err(Limit::OrderNotional);
    }
    if o.new_order && open_orders >= l.max_open_orders {
        return Err(Limit::OpenOrders);
    }
    if o.exposure_add > 0 && exposure.worst_case(o.buy, o.exposure_add) > l.max_position {
        return Err(Limit::Position);
    }
    Ok(())
}
