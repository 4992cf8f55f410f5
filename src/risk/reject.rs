//! Why a risk check refused a message: one variant per OUCH 5.0 reject code (Appendix C).

use crate::engine;
use crate::proto::ouch;

/// Why a risk check refused an Enter or Replace. Each variant is exactly one OUCH 5.0
/// reject code ([`RiskReject::ouch`]); which limit tripped is counted separately
/// ([`Limit`]), so two limits may share a code without the code losing meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RiskReject {
    /// 0x000C Firm Not Authorized: the account is killed or its order entry disabled.
    FirmNotAuthorized = 0x000C,
    /// 0x000A Processing Error: the core's input ring is past its high-water mark
    /// ("system busy"; the order never reached the core).
    ProcessingError = 0x000A,
    /// 0x0020 Risk: Aggregate Exposure Exceeded: max open orders or max net position.
    AggregateExposureExceeded = 0x0020,
    /// 0x0026 Risk: Fat Finger: the limit price is outside the price collar.
    FatFinger = 0x0026,
    /// 0x0029 Risk: Port Message Rate Restriction: the session's message throttle.
    PortMessageRateRestriction = 0x0029,
    /// 0x0030 Risk: Single Order Notional Exceeded.
    SingleOrderNotionalExceeded = 0x0030,
    /// 0x0031 Risk: Max Quantity Exceeded (the account's max order quantity).
    MaxQuantityExceeded = 0x0031,
}

impl RiskReject {
    /// Every reason, for exhaustive tests and docs.
    pub const ALL: [RiskReject; 7] = [
        Self::FirmNotAuthorized,
        Self::ProcessingError,
        Self::AggregateExposureExceeded,
        Self::FatFinger,
        Self::PortMessageRateRestriction,
        Self::SingleOrderNotionalExceeded,
        Self::MaxQuantityExceeded,
    ];

    /// The OUCH 5.0 reject code.
    #[inline]
    pub const fn ouch_code(self) -> u16 {
        self as u16
    }

    /// The OUCH reject reason (what the session layer sends in a Rejected `J`).
    #[inline]
    pub const fn ouch(self) -> ouch::RejectReason {
        match self {
            Self::FirmNotAuthorized => ouch::RejectReason::FirmNotAuthorized,
            Self::ProcessingError => ouch::RejectReason::ProcessingError,
            Self::AggregateExposureExceeded => ouch::RejectReason::RiskAggregateExposureExceeded,
            Self::FatFinger => ouch::RejectReason::RiskFatFinger,
            Self::PortMessageRateRestriction => ouch::RejectReason::RiskPortMessageRateRestriction,
            Self::SingleOrderNotionalExceeded => {
                ouch::RejectReason::RiskSingleOrderNotionalExceeded
            }
            Self::MaxQuantityExceeded => ouch::RejectReason::RiskMaxQuantityExceeded,
        }
    }

    /// The core's reject reason that carries this rejection in an
    /// [`OrderEvent::Rejected`](engine::OrderEvent::Rejected): the same OUCH code.
    /// The throttle's 0x0029 is answered by the session layer and never reaches the
    /// core; it maps to 0x000F Other should it ever be carried.
    #[inline]
    pub const fn engine_reason(self) -> engine::RejectReason {
        match self {
            Self::MaxQuantityExceeded => engine::RejectReason::MaxQuantityExceeded,
            Self::ProcessingError => engine::RejectReason::ProcessingError,
            Self::FatFinger => engine::RejectReason::RiskFatFinger,
            Self::FirmNotAuthorized => engine::RejectReason::FirmNotAuthorized,
            Self::AggregateExposureExceeded => engine::RejectReason::RiskAggregateExposureExceeded,
            Self::SingleOrderNotionalExceeded => {
                engine::RejectReason::RiskSingleOrderNotionalExceeded
            }
            Self::PortMessageRateRestriction => engine::RejectReason::Other,
        }
    }
}

/// Which account limit refused an order (counters and logs; the wire sees
/// [`Limit::reject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Limit {
    /// The account is killed or has order entry disabled.
    Blocked = 0,
    /// `max_order_qty`.
    OrderQty = 1,
    /// `max_order_notional`.
    OrderNotional = 2,
    /// `max_open_orders`.
    OpenOrders = 3,
    /// `max_position`.
    Position = 4,
    /// `collar_bps` / `collar_ticks`.
    Collar = 5,
}

impl Limit {
    /// Number of limits (size of a counter array indexed by `limit as usize`).
    pub const COUNT: usize = 6;

    /// Every limit.
    pub const ALL: [Limit; Limit::COUNT] = [
        Self::Blocked,
        Self::OrderQty,
        Self::OrderNotional,
        Self::OpenOrders,
        Self::Position,
        Self::Collar,
    ];

    /// The reject reason (and so OUCH code) this limit answers with.
    #[inline]
    pub const fn reject(self) -> RiskReject {
        match self {
            Self::Blocked => RiskReject::FirmNotAuthorized,
            Self::OrderQty => RiskReject::MaxQuantityExceeded,
            Self::OrderNotional => RiskReject::SingleOrderNotionalExceeded,
            Self::OpenOrders | Self::Position => RiskReject::AggregateExposureExceeded,
            Self::Collar => RiskReject::FatFinger,
        }
    }
}
