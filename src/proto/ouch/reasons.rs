//! Order cancel reasons (spec Appendix B) and order reject reasons (Appendix C).
//!
//! The message tables call them "Appendix C" and "Appendix D"; the appendices were
//! renumbered in the published text. The codes here are the appendix tables.

use crate::proto::wire::{FieldKind, InvalidValue, Reader, WireField, Writer, byte_enum};

byte_enum! {
    /// Why an order was reduced or canceled (Canceled `C`, AIQ Canceled `D`).
    pub enum CancelReason: CancelReason {
        /// `D`: regulatory restriction (e.g. trade-through).
        Regulatory = b'D',
        /// `E`: closed; a DAY order arrived after the closing cross.
        Closed = b'E',
        /// `F`: Post Only order would have been price slid for NMS.
        PostOnlyNms = b'F',
        /// `G`: Post Only order would have been price slid by a contra displayed order.
        PostOnlyContra = b'G',
        /// `H`: halted; symbol stayed halted after the opening cross.
        Halted = b'H',
        /// `I`: immediate or cancel.
        ImmediateOrCancel = b'I',
        /// `K`: market collars.
        MarketCollars = b'K',
        /// `Q`: self match prevention.
        SelfMatchPrevention = b'Q',
        /// `S`: supervisory.
        Supervisory = b'S',
        /// `T`: time in force expired.
        Timeout = b'T',
        /// `U`: user requested (answer to a Cancel Order request).
        UserRequested = b'U',
        /// `X`: open protection.
        OpenProtection = b'X',
        /// `Z`: system cancel.
        System = b'Z',
        /// `e`: direct listing capital raise order exceeds allowable shares.
        DirectListingExceeded = b'e',
    }
}

macro_rules! reject_reasons {
    ($($(#[$m:meta])* $variant:ident = $code:literal,)+) => {
        /// Why an Enter or Replace Order was rejected (Rejected `J`, 2-byte code).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum RejectReason {
            $($(#[$m])* $variant = $code,)+
        }

        impl RejectReason {
            /// Every defined reason, in code order.
            pub const ALL: &[RejectReason] = &[$(RejectReason::$variant,)+];

            /// The code for `code`, or `None` if it is not defined.
            pub const fn from_code(code: u16) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

reject_reasons! {
    /// 0x0001 Quote Unavailable.
    QuoteUnavailable = 0x0001,
    /// 0x0002 Destination Closed.
    DestinationClosed = 0x0002,
    /// 0x0003 Invalid Display.
    InvalidDisplay = 0x0003,
    /// 0x0004 Invalid Max Floor.
    InvalidMaxFloor = 0x0004,
    /// 0x0005 Invalid Peg Type.
    InvalidPegType = 0x0005,
    /// 0x0006 Fat Finger.
    FatFinger = 0x0006,
    /// 0x0007 Halted.
    Halted = 0x0007,
    /// 0x0008 ISO Not Allowed.
    IsoNotAllowed = 0x0008,
    /// 0x0009 Invalid Side.
    InvalidSide = 0x0009,
    /// 0x000A Processing Error.
    ProcessingError = 0x000A,
    /// 0x000B Cancel Pending.
    CancelPending = 0x000B,
    /// 0x000C Firm Not Authorized.
    FirmNotAuthorized = 0x000C,
    /// 0x000D Invalid Min Quantity.
    InvalidMinQuantity = 0x000D,
    /// 0x000E No Closing Reference Price.
    NoClosingReferencePrice = 0x000E,
    /// 0x000F Other.
    Other = 0x000F,
    /// 0x0010 Cancel Not Allowed.
    CancelNotAllowed = 0x0010,
    /// 0x0011 Pegging Not Allowed.
    PeggingNotAllowed = 0x0011,
    /// 0x0012 Crossed Market.
    CrossedMarket = 0x0012,
    /// 0x0013 Invalid Quantity.
    InvalidQuantity = 0x0013,
    /// 0x0014 Invalid Cross Order.
    InvalidCrossOrder = 0x0014,
    /// 0x0015 Replace Not Allowed.
    ReplaceNotAllowed = 0x0015,
    /// 0x0016 Routing Not Allowed.
    RoutingNotAllowed = 0x0016,
    /// 0x0017 Invalid Symbol.
    InvalidSymbol = 0x0017,
    /// 0x0018 Test.
    Test = 0x0018,
    /// 0x0019 Late LOC Too Aggressive.
    LateLocTooAggressive = 0x0019,
    /// 0x001A Retail Not Allowed.
    RetailNotAllowed = 0x001A,
    /// 0x001B Invalid Midpoint Post Only Price.
    InvalidMidpointPostOnlyPrice = 0x001B,
    /// 0x001C Invalid Destination.
    InvalidDestination = 0x001C,
    /// 0x001D Invalid Price.
    InvalidPrice = 0x001D,
    /// 0x001E Shares Exceed Threshold.
    SharesExceedThreshold = 0x001E,
    /// 0x001F Exceeds Maximum Allowed Notional Value.
    ExceedsMaximumAllowedNotionalValue = 0x001F,
    /// 0x0020 Risk: Aggregate Exposure Exceeded.
    RiskAggregateExposureExceeded = 0x0020,
    /// 0x0021 Risk: Market Impact.
    RiskMarketImpact = 0x0021,
    /// 0x0022 Risk: Restricted Stock.
    RiskRestrictedStock = 0x0022,
    /// 0x0023 Risk: Short Sell Restricted.
    RiskShortSellRestricted = 0x0023,
    /// 0x0024 Risk: ISO Not Allowed.
    RiskIsoNotAllowed = 0x0024,
    /// 0x0025 Risk: Exceeds ADV Limit.
    RiskExceedsAdvLimit = 0x0025,
    /// 0x0026 Risk: Fat Finger.
    RiskFatFinger = 0x0026,
    /// 0x0027 Risk: Locate Required.
    RiskLocateRequired = 0x0027,
    /// 0x0028 Risk: Symbol Message Rate Restriction.
    RiskSymbolMessageRateRestriction = 0x0028,
    /// 0x0029 Risk: Port Message Rate Restriction.
    RiskPortMessageRateRestriction = 0x0029,
    /// 0x002A Risk: Duplicate Message Rate Restriction.
    RiskDuplicateMessageRateRestriction = 0x002A,
    /// 0x002B Risk: Short Sell Not Allowed.
    RiskShortSellNotAllowed = 0x002B,
    /// 0x002C Risk: Market Order Not Allowed.
    RiskMarketOrderNotAllowed = 0x002C,
    /// 0x002D Risk: Pre-Market Not Allowed.
    RiskPreMarketNotAllowed = 0x002D,
    /// 0x002E Risk: Post-Market Not Allowed.
    RiskPostMarketNotAllowed = 0x002E,
    /// 0x002F Risk: Short Sell Exempt Not Allowed.
    RiskShortSellExemptNotAllowed = 0x002F,
    /// 0x0030 Risk: Single Order Notional Exceeded.
    RiskSingleOrderNotionalExceeded = 0x0030,
    /// 0x0031 Risk: Max Quantity Exceeded.
    RiskMaxQuantityExceeded = 0x0031,
    /// 0x0032 Reg SHO State Not Available.
    RegShoStateNotAvailable = 0x0032,
    /// 0x0033 Risk: IPO Market Buy Not Allowed.
    RiskIpoMarketBuyNotAllowed = 0x0033,
}

impl RejectReason {
    /// The 2-byte code on the wire.
    pub const fn code(self) -> u16 {
        self as u16
    }
}

impl WireField for RejectReason {
    const LEN: usize = 2;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        let code = u16::read(r)?;
        Self::from_code(code).ok_or(InvalidValue {
            kind: FieldKind::RejectReason,
            value: code,
        })
    }
    fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.code());
    }
}
