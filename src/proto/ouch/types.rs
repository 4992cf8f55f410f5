//! OUCH 5.0 field types (spec §1.2 Data Types and the per-message value tables).

use crate::proto::wire::{Alpha, InvalidValue, Reader, WireField, Writer, byte_enum};

/// Stock symbol, 8 bytes alpha.
pub type Symbol = Alpha<8>;
/// Customer order identifier, 14 bytes alpha (not checked for uniqueness).
pub type ClOrdId = Alpha<14>;
/// Firm identifier, 4 bytes alpha, all caps.
pub type Firm = Alpha<4>;

/// A price: unsigned, 8 bytes on the wire, 4 implied decimal places
/// (`Price(1_234_500)` is $123.45).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub u64);

impl Price {
    /// Implied decimal places.
    pub const DECIMALS: u32 = 4;
    /// The highest limit price the spec supports: $199,999.9900.
    pub const MAX_LIMIT: Price = Price(0x7735_939C);
    /// The special price flagging a market order for a cross: $214,748.3647.
    pub const MARKET: Price = Price(0x7FFF_FFFF);
    /// $200,000.00: also treated as a market order by the spec.
    pub const MARKET_ALT: Price = Price(2_000_000_000);

    /// True for the prices the spec treats as market orders.
    pub const fn is_market(self) -> bool {
        self.0 == Self::MARKET.0 || self.0 == Self::MARKET_ALT.0
    }
}

impl WireField for Price {
    const LEN: usize = 8;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        u64::read(r).map(Price)
    }
    fn write(&self, w: &mut Writer<'_>) {
        self.0.write(w);
    }
}

/// Quantities must be greater than zero and less than this (Enter/Replace Order).
pub const QUANTITY_LIMIT: u32 = 1_000_000;

/// The liquidity flag of an execution (Appendix D). Kept as the raw byte: the set of
/// flags is venue-specific and a receiver must not fail on a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiquidityFlag(pub u8);

impl LiquidityFlag {
    /// `A`: added liquidity.
    pub const ADDED: Self = Self(b'A');
    /// `R`: removed liquidity.
    pub const REMOVED: Self = Self(b'R');
    /// `J`: non-displayed, adding liquidity.
    pub const NON_DISPLAYED_ADDED: Self = Self(b'J');
    /// `u`: added non-displayed liquidity via a reserve order.
    pub const RESERVE_ADDED: Self = Self(b'u');
}

impl WireField for LiquidityFlag {
    const LEN: usize = 1;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        Ok(Self(r.u8()))
    }
    fn write(&self, w: &mut Writer<'_>) {
        w.u8(self.0);
    }
}

byte_enum! {
    /// Side of an order.
    pub enum Side: Side {
        /// `B`: buy.
        Buy = b'B',
        /// `S`: sell.
        Sell = b'S',
        /// `T`: sell short.
        SellShort = b'T',
        /// `E`: sell short exempt.
        SellShortExempt = b'E',
    }
}

impl Side {
    /// True for the three sell sides.
    pub const fn is_sell(self) -> bool {
        !matches!(self, Side::Buy)
    }
}

byte_enum! {
    /// Time In Force (FIX tag 59).
    pub enum TimeInForce: TimeInForce {
        /// `0`: day (market hours).
        Day = b'0',
        /// `3`: immediate or cancel.
        Ioc = b'3',
        /// `5`: GTX (extended hours).
        Gtx = b'5',
        /// `6`: GTT (needs ExpireTime).
        Gtt = b'6',
        /// `E`: after hours (Enter Order only).
        AfterHours = b'E',
    }
}

byte_enum! {
    /// Display.
    pub enum Display: Display {
        /// `Y`: visible.
        Visible = b'Y',
        /// `N`: hidden.
        Hidden = b'N',
        /// `A`: attributable.
        Attributable = b'A',
        /// `Z`: conformant (outbound only).
        Conformant = b'Z',
    }
}

byte_enum! {
    /// Capacity.
    pub enum Capacity: Capacity {
        /// `A`: agency.
        Agency = b'A',
        /// `P`: principal.
        Principal = b'P',
        /// `R`: riskless.
        Riskless = b'R',
        /// `O`: other.
        Other = b'O',
    }
}

byte_enum! {
    /// InterMarket Sweep Eligibility.
    pub enum IntermarketSweepEligibility: IntermarketSweepEligibility {
        /// `Y`: eligible.
        Eligible = b'Y',
        /// `N`: not eligible.
        NotEligible = b'N',
    }
}

byte_enum! {
    /// CrossType.
    pub enum CrossType: CrossType {
        /// `N`: continuous market.
        ContinuousMarket = b'N',
        /// `O`: opening cross.
        Opening = b'O',
        /// `C`: closing cross.
        Closing = b'C',
        /// `H`: halt/IPO cross.
        HaltIpo = b'H',
        /// `S`: supplemental.
        Supplemental = b'S',
        /// `R`: retail.
        Retail = b'R',
        /// `E`: extended life.
        ExtendedLife = b'E',
        /// `A`: after hours close.
        AfterHoursClose = b'A',
    }
}

byte_enum! {
    /// Order State on Accepted and Replaced.
    pub enum OrderState: OrderState {
        /// `L`: live.
        Live = b'L',
        /// `D`: dead (accepted and automatically canceled).
        Dead = b'D',
    }
}

byte_enum! {
    /// System Event code.
    pub enum SystemEventCode: SystemEventCode {
        /// `S`: start of day, orders accepted.
        StartOfDay = b'S',
        /// `E`: end of day, no new orders.
        EndOfDay = b'E',
    }
}

byte_enum! {
    /// Broken Trade reason.
    pub enum BrokenTradeReason: BrokenTradeReason {
        /// `E`: erroneous.
        Erroneous = b'E',
        /// `C`: consent.
        Consent = b'C',
        /// `S`: supervisory.
        Supervisory = b'S',
        /// `X`: external.
        External = b'X',
    }
}

byte_enum! {
    /// Order Restated reason.
    pub enum RestateReason: RestateReason {
        /// `R`: refresh of display (reserve order).
        Refresh = b'R',
        /// `P`: update of displayed price.
        DisplayedPrice = b'P',
    }
}

byte_enum! {
    /// PostOnly option value.
    pub enum PostOnly: PostOnly {
        /// `P`: post only.
        PostOnly = b'P',
        /// `N`: no (default).
        No = b'N',
    }
}

byte_enum! {
    /// PriceType / DiscretionPriceType option value.
    pub enum PriceType: PriceType {
        /// `L`: limit (default).
        Limit = b'L',
        /// `P`: market peg.
        MarketPeg = b'P',
        /// `M`: midpoint peg.
        MidpointPeg = b'M',
        /// `R`: primary peg.
        PrimaryPeg = b'R',
        /// `Q`: market maker peg.
        MarketMakerPeg = b'Q',
        /// `m`: midpoint.
        Midpoint = b'm',
    }
}
