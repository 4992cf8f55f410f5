//! Instruments: static reference data from config plus the trading state.

use std::fmt;

use super::types::{MARKET_PRICE, MAX_OUCH_QTY, RejectReason, TradingState, symbol8};
use crate::config::{InstrumentConfig, InstrumentKindConfig, PutCallConfig, TradingStateConfig};

/// Put or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCall {
    /// Put.
    Put,
    /// Call.
    Call,
}

/// What an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// Shares.
    Spot,
    /// A future expiring on `expiry` (YYYYMMDD).
    Future {
        /// Expiry date.
        expiry: u32,
    },
    /// An option.
    Option {
        /// Symbol of the underlying.
        underlying: [u8; 8],
        /// Strike price.
        strike: u64,
        /// Put or call.
        put_call: PutCall,
        /// Expiry date (YYYYMMDD).
        expiry: u32,
    },
}

/// One tradable instrument. Its price band `[band_low, band_high]` is fixed for the day
/// and backs a dense array of price levels, one per tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// Symbol, space padded.
    pub symbol: [u8; 8],
    /// Dense index = ITCH stock locate.
    pub locate: u16,
    /// Spot, future or option.
    pub kind: InstrumentKind,
    /// Price increment.
    pub tick_size: u64,
    /// Quantity increment.
    pub lot_size: u32,
    /// Smallest order.
    pub min_qty: u32,
    /// Largest order.
    pub max_qty: u32,
    /// Centre of the band.
    pub reference_price: u64,
    /// Lowest accepted price (a multiple of the tick).
    pub band_low: u64,
    /// Highest accepted price (a multiple of the tick).
    pub band_high: u64,
    /// Last trading day (YYYYMMDD), if any.
    pub last_trading_day: Option<u32>,
    /// Current trading state.
    pub state: TradingState,
    /// `tick_size` as a precomputed divisor (the level of a price without a `div`).
    tick_div: Divisor,
    /// `lot_size` as a precomputed divisor.
    lot_div: Divisor,
    /// Number of price levels in the band.
    levels: u32,
}

/// A 32-bit divisor with its reciprocal, so that quotients and divisibility tests are
/// multiplications (Lemire, Kaser, Kurz: "Faster remainder by direct computation").
/// Exact for every 32-bit dividend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Divisor {
    /// `ceil(2^64 / d)`, or 0 when `d == 1` (the identity).
    m: u64,
}

impl Divisor {
    /// The divisor `d` (positive).
    pub(crate) fn new(d: u32) -> Self {
        debug_assert!(d > 0);
        Divisor {
            m: if d <= 1 {
                0
            } else {
                u64::MAX / u64::from(d) + 1
            },
        }
    }

    /// `n / d`.
    #[inline]
    pub(crate) fn div(self, n: u32) -> u32 {
        if self.m == 0 {
            return n;
        }
        ((u128::from(self.m) * u128::from(n)) >> 64) as u32
    }

    /// `n % d == 0`.
    #[inline]
    pub(crate) fn divides(self, n: u32) -> bool {
        self.m == 0 || u64::from(n).wrapping_mul(self.m) < self.m
    }
}

/// Why the instruments in a config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentError {
    /// The symbol concerned.
    pub symbol: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl fmt::Display for InstrumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instrument {:?}: {}", self.symbol, self.problem)
    }
}

impl std::error::Error for InstrumentError {}

impl Instrument {
    /// Builds instrument `locate` from its config table.
    pub fn from_config(
        locate: u16,
        c: &InstrumentConfig,
        max_levels: u32,
    ) -> Result<Self, InstrumentError> {
        let err = |problem: String| InstrumentError {
            symbol: c.symbol.clone(),
            problem,
        };
        check_static(c).map_err(err)?;
        let kind = kind_of(c).map_err(err)?;
        let half = c.reference_price.saturating_mul(u64::from(c.band_bps)) / 10_000;
        let tick = c.tick_size;
        let band_low = (c.reference_price.saturating_sub(half))
            .div_ceil(tick)
            .max(1)
            * tick;
        let band_high = c.reference_price.saturating_add(half) / tick * tick;
        if band_high >= MARKET_PRICE
            || band_high > u64::from(u32::MAX)
            || tick > u64::from(u32::MAX)
        {
            return Err(err(format!(
                "band high {band_high} exceeds the ITCH price range"
            )));
        }
        let levels = (band_high - band_low) / tick + 1;
        if levels > u64::from(max_levels) {
            return Err(err(format!(
                "band has {levels} ticks, more than engine.max_levels_per_instrument = \
                 {max_levels}; raise it, narrow band_bps or enlarge tick_size"
            )));
        }
        Ok(Instrument {
            symbol: symbol8(&c.symbol),
            locate,
            kind,
            tick_size: tick,
            lot_size: c.lot_size,
            min_qty: c.min_qty,
            max_qty: c.max_qty,
            reference_price: c.reference_price,
            band_low,
            band_high,
            last_trading_day: c.last_trading_day,
            state: match c.state {
                TradingStateConfig::Trading => TradingState::Trading,
                TradingStateConfig::Halted => TradingState::Halted,
                TradingStateConfig::Closed => TradingState::Closed,
                TradingStateConfig::Expired => TradingState::Expired,
            },
            tick_div: Divisor::new(tick as u32),
            lot_div: Divisor::new(c.lot_size),
            levels: levels as u32,
        })
    }

    /// Number of price levels in the band.
    #[inline]
    pub fn level_count(&self) -> u32 {
        self.levels
    }

    /// The price of level `level`.
    #[inline]
    pub fn level_price(&self, level: u32) -> u64 {
        self.band_low + u64::from(level) * self.tick_size
    }

    /// The level of a limit price, or why the price is not accepted.
    ///
    /// NB: inside the band this is one multiplication by the tick's reciprocal (the
    /// band span fits `u32`, checked at start-up); the 64-bit modulo runs only for
    /// rejected prices.
    #[inline(always)]
    pub fn level_of(&self, price: u64) -> Result<u32, RejectReason> {
        if price >= self.band_low && price <= self.band_high {
            let offset = (price - self.band_low) as u32;
            let tick = self.tick_size as u32;
            let level = self.tick_div.div(offset);
            return if level.wrapping_mul(tick) == offset {
                Ok(level)
            } else {
                Err(RejectReason::InvalidPrice)
            };
        }
        if price == 0 || !price.is_multiple_of(self.tick_size) {
            return Err(RejectReason::InvalidPrice);
        }
        Err(RejectReason::FatFinger)
    }

    /// Checks an order quantity against OUCH and instrument limits.
    #[inline]
    pub fn check_qty(&self, qty: u32) -> Result<(), RejectReason> {
        if qty == 0 || qty >= MAX_OUCH_QTY || !self.lot_div.divides(qty) || qty < self.min_qty {
            return Err(RejectReason::InvalidQuantity);
        }
        if qty > self.max_qty {
            return Err(RejectReason::MaxQuantityExceeded);
        }
        Ok(())
    }

    /// Whether `qty` is a whole number of lots.
    #[inline]
    pub(crate) fn whole_lots(&self, qty: u32) -> bool {
        self.lot_div.divides(qty)
    }

    /// Rejects orders unless the instrument is trading.
    #[inline]
    pub fn check_state(&self) -> Result<(), RejectReason> {
        match self.state {
            TradingState::Trading => Ok(()),
            TradingState::Halted => Err(RejectReason::Halted),
            TradingState::Closed => Err(RejectReason::DestinationClosed),
            TradingState::Expired => Err(RejectReason::InvalidSymbol),
        }
    }
}

fn check_static(c: &InstrumentConfig) -> Result<(), String> {
    if c.symbol.is_empty() || c.symbol.len() > 8 || !c.symbol.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err("symbol must be 1 to 8 printable ASCII characters".into());
    }
    if c.tick_size == 0 || c.lot_size == 0 {
        return Err("tick_size and lot_size must be positive".into());
    }
    if c.min_qty == 0 || c.min_qty > c.max_qty || c.max_qty >= MAX_OUCH_QTY {
        return Err("need 1 <= min_qty <= max_qty <= 999999".into());
    }
    if c.reference_price == 0 || c.band_bps == 0 || c.band_bps > 10_000 {
        return Err("need reference_price > 0 and 1 <= band_bps <= 10000".into());
    }
    Ok(())
}

fn kind_of(c: &InstrumentConfig) -> Result<InstrumentKind, String> {
    match c.kind {
        InstrumentKindConfig::Spot => Ok(InstrumentKind::Spot),
        InstrumentKindConfig::Future => Ok(InstrumentKind::Future {
            expiry: c.expiry.ok_or("a future needs `expiry = YYYYMMDD`")?,
        }),
        InstrumentKindConfig::Option => {
            let missing = "an option needs underlying, strike, put_call and expiry";
            Ok(InstrumentKind::Option {
                underlying: symbol8(c.underlying.as_deref().ok_or(missing)?),
                strike: c.strike.ok_or(missing)?,
                put_call: match c.put_call.ok_or(missing)? {
                    PutCallConfig::Put => PutCall::Put,
                    PutCallConfig::Call => PutCall::Call,
                },
                expiry: c.expiry.ok_or(missing)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Divisor;
    use proptest::prelude::*;

    #[test]
    fn divisor_matches_real_division_at_the_edges() {
        for d in [
            1,
            2,
            3,
            7,
            100,
            2500,
            65_535,
            65_536,
            u32::MAX - 1,
            u32::MAX,
        ] {
            let div = Divisor::new(d);
            for n in [0, 1, d - 1, d, d.saturating_add(1), u32::MAX - 1, u32::MAX] {
                assert_eq!(div.div(n), n / d, "{n} / {d}");
                assert_eq!(div.divides(n), n % d == 0, "{n} % {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn divisor_matches_real_division(d in 1u32.., n in any::<u32>()) {
            let div = Divisor::new(d);
            prop_assert_eq!(div.div(n), n / d);
            prop_assert_eq!(div.divides(n), n % d == 0);
            // Multiples, which random dividends rarely hit.
            let m = (n / d) * d;
            prop_assert!(div.divides(m));
            prop_assert_eq!(div.div(m), n / d);
        }
    }
}
