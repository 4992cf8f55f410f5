//! The vocabulary of the matching core: sides, time in force, reasons, order refs.
//!
//! Each enum is one byte on the core's records and uses the OUCH 5.0 character where
//! OUCH has one, so the session layer translates by copying bytes.

/// Declares a one-byte enum with `to_byte` / `from_byte` (decoding never panics).
macro_rules! byte_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $var = $val),+ }

        impl $name {
            /// The byte this value is encoded as.
            #[inline]
            pub const fn to_byte(self) -> u8 {
                self as u8
            }

            /// Decodes a byte; `None` when it names no value.
            #[inline]
            pub const fn from_byte(byte: u8) -> Option<Self> {
                match byte {
                    $(x if x == $val => Some(Self::$var),)+
                    _ => None,
                }
            }
        }
    };
}

byte_enum! {
    /// Side of an order as OUCH enters it. The three sell flavours rest on the sell side.
    pub enum Side {
        /// Buy.
        Buy = b'B',
        /// Sell long.
        Sell = b'S',
        /// Sell short.
        SellShort = b'T',
        /// Sell short exempt.
        SellShortExempt = b'E',
    }
}

impl Side {
    /// True for [`Side::Buy`]; every other side rests on the ask side of the book.
    #[inline]
    pub const fn is_buy(self) -> bool {
        matches!(self, Side::Buy)
    }

    /// The ITCH side character (`B` or `S`).
    #[inline]
    pub const fn itch(self) -> u8 {
        if self.is_buy() { b'B' } else { b'S' }
    }
}

byte_enum! {
    /// Time in force (OUCH characters).
    pub enum Tif {
        /// Day: rests until the instrument closes.
        Day = b'0',
        /// Immediate or cancel: never rests.
        Ioc = b'3',
        /// Good till extended hours; treated as Day here.
        Gtx = b'5',
        /// Good till time: rests until `expire_time_s` after entry.
        Gtt = b'6',
        /// After hours; treated as Day here.
        AfterHours = b'E',
    }
}

byte_enum! {
    /// Whether an order is shown on market data.
    pub enum Display {
        /// Shown (ITCH `A` carries it).
        Visible = b'Y',
        /// Not shown; its executions print as ITCH `P`.
        Hidden = b'N',
        /// Attributable: shown, treated like `Visible`.
        Attributable = b'A',
    }
}

byte_enum! {
    /// Self-match prevention (OUCH AIQ) strategy of the incoming order's firm.
    pub enum StpMode {
        /// Same-firm orders trade with each other.
        None = b' ',
        /// Cancel the resting (oldest) order and keep matching.
        CancelOldest = b'O',
        /// Cancel the incoming (newest) order's remaining quantity.
        CancelNewest = b'N',
        /// Decrement both by the smaller quantity; neither trades.
        DecrementBoth = b'D',
    }
}

byte_enum! {
    /// Trading state of an instrument.
    pub enum TradingState {
        /// Orders are accepted and matched.
        Trading = b'T',
        /// New orders and replaces are rejected; resting orders stay and may be cancelled.
        Halted = b'H',
        /// Closed for the day: resting orders were cancelled, new orders are rejected.
        Closed = b'C',
        /// Past its last trading day: resting orders were cancelled, the symbol is invalid.
        Expired = b'X',
    }
}

byte_enum! {
    /// What a [`Control`](super::command::Control) command asks pre-trade risk to do.
    pub enum ControlAction {
        /// Block new orders and replaces of the account (OUCH `D`, Disable Order Entry).
        Disable = b'D',
        /// Lift a block or a kill switch (OUCH `E`, or the operator).
        Enable = b'E',
        /// Kill switch (operator): block the account and cancel every open order of it.
        Kill = b'K',
        /// Report the account's state (operator); changes nothing.
        Status = b'S',
    }
}

/// The session id of the operator (the local control channel): answers to its
/// [`Control`](super::command::Control) commands are `Echoed` events for this session,
/// which the core hands to its control replies rather than to a session output.
pub const CONTROL_SESSION: u16 = u16::MAX;

byte_enum! {
    /// Why quantity left an order (OUCH Appendix B characters).
    pub enum CancelReason {
        /// The owner asked (Cancel, Modify, Mass Cancel).
        UserRequested = b'U',
        /// The unfilled part of an IOC order, or a MinQty order that could not fill.
        ImmediateOrCancel = b'I',
        /// A GTT order reached its expire time.
        Timeout = b'T',
        /// Self-match prevention (also reported by `AiqCanceled`).
        SelfMatch = b'Q',
        /// The instrument closed for the day.
        Closed = b'E',
        /// The system removed it: an invalid Replace, or the instrument expired.
        System = b'Z',
    }
}

byte_enum! {
    /// OUCH liquidity flag of an execution.
    pub enum Liquidity {
        /// Resting displayed (or reserve) order added liquidity.
        Added = b'A',
        /// Resting hidden order added liquidity.
        AddedHidden = b'J',
        /// Incoming order removed liquidity.
        Removed = b'R',
    }
}

byte_enum! {
    /// Why the core ignored a command without an OUCH response (the session layer drops
    /// these; they exist so every command leaves a trace in tests and counters).
    pub enum IgnoreReason {
        /// UserRefNum not above the channel's high-water mark: a retransmission.
        UserRefNumNotIncreasing = 1,
        /// The order is not live, or does not belong to this session/channel/UserRefNum.
        UnknownOrder = 2,
        /// The session id is outside `0..max_sessions`.
        UnknownSession = 3,
        /// A Cancel or Modify that would not reduce the order (superfluous).
        QuantityNotReduced = 4,
        /// A Modify that changes buy to sell or back (only S/T/E swaps are allowed).
        InvalidSideChange = 5,
        /// The instrument index is unknown (trading-state command).
        UnknownInstrument = 6,
        /// A trading-state change out of `Expired`, which is final.
        StateFinal = 7,
    }
}

/// Why an Enter or Replace was rejected; each maps 1:1 to an OUCH 5.0 reject code
/// (Appendix C) via [`RejectReason::ouch_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RejectReason {
    /// 0x0002: the instrument is closed for the day.
    DestinationClosed = 0x0002,
    /// 0x0003: hidden display combined with a MaxFloor (reserve orders must display).
    InvalidDisplay = 0x0003,
    /// 0x0004: MaxFloor above the quantity or not a multiple of the lot size.
    InvalidMaxFloor = 0x0004,
    /// 0x0006: limit price outside the instrument's price band.
    FatFinger = 0x0006,
    /// 0x0007: the instrument is halted.
    Halted = 0x0007,
    /// 0x000A: a capacity is exhausted (the order pool is full).
    ProcessingError = 0x000A,
    /// 0x000D: MinQty above the quantity, not a lot multiple, or not on an IOC order.
    InvalidMinQuantity = 0x000D,
    /// 0x000F: GTT without a valid ExpireTime (1..86399 s).
    Other = 0x000F,
    /// 0x0013: quantity zero, ≥ 1 000 000, below the instrument minimum or not a lot multiple.
    InvalidQuantity = 0x0013,
    /// 0x0017: unknown instrument index, or the instrument has expired.
    InvalidSymbol = 0x0017,
    /// 0x001D: price zero or not a multiple of the tick size.
    InvalidPrice = 0x001D,
    /// 0x0012: a post-only order would take and cannot be repriced inside the band.
    CrossedMarket = 0x0012,
    /// 0x0031: quantity above the instrument's (or the account's) maximum.
    MaxQuantityExceeded = 0x0031,
    /// 0x000C: the account is blocked (kill switch, Disable Order Entry).
    FirmNotAuthorized = 0x000C,
    /// 0x0020: max open orders or max net position.
    RiskAggregateExposureExceeded = 0x0020,
    /// 0x0026: outside the risk price collar.
    RiskFatFinger = 0x0026,
    /// 0x0030: order notional above the account's limit.
    RiskSingleOrderNotionalExceeded = 0x0030,
}

impl RejectReason {
    /// Every reason, for exhaustive tests and docs.
    pub const ALL: [RejectReason; 17] = [
        Self::DestinationClosed,
        Self::InvalidDisplay,
        Self::InvalidMaxFloor,
        Self::FatFinger,
        Self::Halted,
        Self::ProcessingError,
        Self::InvalidMinQuantity,
        Self::Other,
        Self::InvalidQuantity,
        Self::InvalidSymbol,
        Self::InvalidPrice,
        Self::CrossedMarket,
        Self::MaxQuantityExceeded,
        Self::FirmNotAuthorized,
        Self::RiskAggregateExposureExceeded,
        Self::RiskFatFinger,
        Self::RiskSingleOrderNotionalExceeded,
    ];

    /// The OUCH 5.0 reject code.
    #[inline]
    pub const fn ouch_code(self) -> u16 {
        self as u16
    }

    /// The reason for an OUCH reject code this core produces.
    pub fn from_ouch_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.ouch_code() == code)
    }
}

/// The core's handle of a live order: pool index (low 32 bits) and the slot's generation
/// (high 32 bits, never 0). Stable for the life of the order, across Replace; a stale
/// handle never matches a reused slot. `OrderRef(0)` is no order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OrderRef(pub u64);

impl OrderRef {
    /// No order.
    pub const NONE: OrderRef = OrderRef(0);

    /// Builds a handle from a pool index and a generation.
    #[inline]
    pub const fn new(index: u32, generation: u32) -> Self {
        OrderRef(((generation as u64) << 32) | index as u64)
    }

    /// The pool index.
    #[inline]
    pub const fn index(self) -> u32 {
        self.0 as u32
    }

    /// The slot generation.
    #[inline]
    pub const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// OUCH prices at or above $200,000.0000 mean "market order".
pub const MARKET_PRICE: u64 = 2_000_000_000;

/// OUCH quantities must be below this.
pub const MAX_OUCH_QTY: u32 = 1_000_000;

/// ExpireTime must be below this many seconds.
pub const MAX_EXPIRE_TIME_S: u32 = 86_400;

/// Instrument index meaning "every instrument" in a Mass Cancel.
pub const ALL_INSTRUMENTS: u16 = u16::MAX;

/// Packs up to four ASCII characters, space padded, into a firm id (`"ABCD"` → big-endian).
pub fn firm_id(name: &str) -> u32 {
    let mut b = [b' '; 4];
    for (dst, src) in b.iter_mut().zip(name.bytes()) {
        *dst = src;
    }
    u32::from_be_bytes(b)
}

/// Packs up to eight ASCII characters, space padded, into an ITCH/OUCH symbol.
pub fn symbol8(name: &str) -> [u8; 8] {
    let mut b = [b' '; 8];
    for (dst, src) in b.iter_mut().zip(name.bytes()) {
        *dst = src;
    }
    b
}
