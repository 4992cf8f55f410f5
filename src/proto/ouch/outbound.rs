//! Outbound messages (host → client, spec §3), carried in SoupBinTCP Sequenced Data.
//!
//! Timestamps are nanoseconds since midnight.

use super::message::ouch_message;
use super::reasons::{CancelReason, RejectReason};
use super::types::{
    BrokenTradeReason, Capacity, ClOrdId, CrossType, Display, Firm, IntermarketSweepEligibility,
    LiquidityFlag, OrderState, Price, RestateReason, Side, Symbol, SystemEventCode, TimeInForce,
};
use super::{Options, OuchError, TagSet};
use crate::proto::wire::{BufferTooSmall, Reader, WireField, Writer, room};

/// `S` System Event (§3.1). The only outbound message without an appendage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemEvent {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// Start or end of day.
    pub event_code: SystemEventCode,
}

impl SystemEvent {
    /// The message type byte.
    pub const TYPE: u8 = b'S';
    /// Total length of the message.
    pub const LEN: usize = 10;

    /// Decodes one whole message (type byte first).
    pub fn decode(msg: &[u8]) -> Result<Self, OuchError> {
        let found = *msg.first().ok_or(OuchError::Empty)?;
        if found != Self::TYPE {
            return Err(OuchError::UnexpectedType {
                expected: Self::TYPE,
                found,
            });
        }
        if msg.len() != Self::LEN {
            return Err(OuchError::WrongLength {
                message_type: found,
                len: msg.len(),
            });
        }
        let mut r = Reader::new(&msg[1..]);
        let timestamp = u64::read(&mut r).map_err(OuchError::InvalidValue)?;
        let event_code = SystemEventCode::read(&mut r).map_err(OuchError::InvalidValue)?;
        Ok(Self {
            timestamp,
            event_code,
        })
    }

    /// Bytes the encoded message takes.
    pub fn encoded_len(&self) -> usize {
        Self::LEN
    }

    /// Encodes the message into the front of `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        self.encode_tagged(TagSet::EMPTY, out)
    }

    /// [`Self::encode`]; a System Event has no appendage (`tags` is empty).
    pub(crate) fn encode_tagged(
        &self,
        tags: TagSet,
        out: &mut [u8],
    ) -> Result<usize, BufferTooSmall> {
        debug_assert!(tags.is_empty());
        let mut w = Writer::new(room(out, Self::LEN)?);
        w.u8(Self::TYPE);
        self.timestamp.write(&mut w);
        self.event_code.write(&mut w);
        Ok(Self::LEN)
    }
}

ouch_message! {
    /// `A` Order Accepted (§3.2): echoes the Enter Order as accepted.
    pub struct OrderAccepted = b'A', Required, [
        Firm, MinQty, CustomerType, MaxFloor, PriceType, PegOffset, DiscretionPrice,
        DiscretionPriceType, DiscretionPegOffset, PostOnly, RandomReserves, Route, ExpireTime,
        TradeNow, HandleInst, BboWeightIndicator, GroupId, SharesLocated, UserRefIdx
    ] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// The order's UserRefNum as entered.
        pub user_ref_num: u32,
        /// Side as entered.
        pub side: Side,
        /// Shares accepted.
        pub quantity: u32,
        /// Symbol as entered.
        pub symbol: Symbol,
        /// Accepted price (equal to or better than entered).
        pub price: Price,
        /// Accepted Time In Force.
        pub time_in_force: TimeInForce,
        /// Accepted Display.
        pub display: Display,
        /// Day-unique Order Reference Number (the ITCH order reference).
        pub order_reference_number: u64,
        /// Capacity.
        pub capacity: Capacity,
        /// InterMarket Sweep Eligibility.
        pub intermarket_sweep_eligibility: IntermarketSweepEligibility,
        /// CrossType.
        pub cross_type: CrossType,
        /// Live, or dead (accepted and canceled at once).
        pub order_state: OrderState,
        /// Customer order identifier.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `U` Order Replaced (§3.3).
    pub struct OrderReplaced = b'U', Required, [
        Firm, MinQty, MaxFloor, PriceType, PostOnly, ExpireTime, TradeNow, HandleInst,
        BboWeightIndicator, UserRefIdx
    ] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the replaced order.
        pub orig_user_ref_num: u32,
        /// UserRefNum of the replacement.
        pub user_ref_num: u32,
        /// Side.
        pub side: Side,
        /// Shares outstanding on the book after the replace.
        pub quantity: u32,
        /// Symbol.
        pub symbol: Symbol,
        /// Accepted price.
        pub price: Price,
        /// Accepted Time In Force.
        pub time_in_force: TimeInForce,
        /// Accepted Display.
        pub display: Display,
        /// Order Reference Number of the replacement.
        pub order_reference_number: u64,
        /// Capacity.
        pub capacity: Capacity,
        /// InterMarket Sweep Eligibility.
        pub intermarket_sweep_eligibility: IntermarketSweepEligibility,
        /// CrossType.
        pub cross_type: CrossType,
        /// Live or dead.
        pub order_state: OrderState,
        /// Customer order identifier of the replacement.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `C` Order Canceled (§3.4).
    pub struct OrderCanceled = b'C', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Shares just decremented (incremental).
        pub quantity: u32,
        /// Why.
        pub reason: CancelReason,
    }
}

ouch_message! {
    /// `D` AIQ Canceled (§3.5): self-match prevention.
    pub struct AiqCanceled = b'D', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order reduced.
        pub user_ref_num: u32,
        /// Shares just decremented (incremental).
        pub decrement_shares: u32,
        /// Always `Q` (self match prevention) per the spec.
        pub reason: CancelReason,
        /// Shares that would have executed.
        pub quantity_prevented_from_trading: u32,
        /// Price the trade would have happened at.
        pub execution_price: Price,
        /// Liquidity flag the order would have received.
        pub liquidity_flag: LiquidityFlag,
        /// AIQ strategy used (raw byte).
        pub aiq_strategy: u8,
    }
}

ouch_message! {
    /// `E` Order Executed (§3.6).
    pub struct OrderExecuted = b'E', Required, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Shares just executed (incremental).
        pub quantity: u32,
        /// Execution price.
        pub price: Price,
        /// Liquidity flag.
        pub liquidity_flag: LiquidityFlag,
        /// Match number, shared by both sides of the trade.
        pub match_number: u64,
    }
}

ouch_message! {
    /// `B` Broken Trade (§3.7).
    pub struct BrokenTrade = b'B', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Match number of the broken execution.
        pub match_number: u64,
        /// Why.
        pub reason: BrokenTradeReason,
        /// Customer order identifier.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `J` Rejected (§3.8): an Enter or Replace Order was not accepted.
    pub struct OrderRejected = b'J', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the rejected order (consumed; cannot be reused).
        pub user_ref_num: u32,
        /// Why.
        pub reason: RejectReason,
        /// Customer order identifier.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `P` Cancel Pending (§3.9).
    pub struct CancelPending = b'P', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
    }
}

ouch_message! {
    /// `I` Cancel Reject (§3.10).
    pub struct CancelReject = b'I', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
    }
}

ouch_message! {
    /// `T` Order Priority Update (§3.11).
    pub struct PriorityUpdate = b'T', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Limit price.
        pub price: Price,
        /// New display.
        pub display: Display,
        /// The new Order Reference Number.
        pub order_reference_number: u64,
    }
}

ouch_message! {
    /// `M` Order Modified (§3.12).
    pub struct OrderModified = b'M', Optional, [UserRefIdx, SharesLocated, LocateBroker] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Side as requested.
        pub side: Side,
        /// Shares outstanding.
        pub quantity: u32,
    }
}

ouch_message! {
    /// `R` Order Restated (§3.13).
    pub struct OrderRestated = b'R', Required, [
        DisplayQuantity, DisplayPrice, SecondaryOrdRefNum, UserRefIdx
    ] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// Why.
        pub reason: RestateReason,
    }
}

ouch_message! {
    /// `X` Mass Cancel Response (§3.14).
    pub struct MassCancelResponse = b'X', Required, [Side, GroupId, UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the request.
        pub user_ref_num: u32,
        /// Firm.
        pub firm: Firm,
        /// Symbol, spaces = all.
        pub symbol: Symbol,
    }
}

ouch_message! {
    /// `G` Disable Order Entry Response (§3.15).
    pub struct DisableOrderEntryResponse = b'G', Required, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the request.
        pub user_ref_num: u32,
        /// Firm.
        pub firm: Firm,
    }
}

ouch_message! {
    /// `K` Enable Order Entry Response (§3.16).
    pub struct EnableOrderEntryResponse = b'K', Required, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// UserRefNum of the request.
        pub user_ref_num: u32,
        /// Firm.
        pub firm: Firm,
    }
}

ouch_message! {
    /// `Q` Account Query Response (§3.17).
    pub struct AccountQueryResponse = b'Q', Optional, [UserRefIdx] {
        /// Nanoseconds since midnight.
        pub timestamp: u64,
        /// The next available UserRefNum.
        pub next_user_ref_num: u32,
    }
}

// The Appendage Length offsets of the spec's tables.
const _: () = assert!(OrderAccepted::FIELDS_LEN + 1 == 62);
const _: () = assert!(OrderReplaced::FIELDS_LEN + 1 == 66);
const _: () = assert!(OrderCanceled::FIELDS_LEN + 1 == 18);
const _: () = assert!(AiqCanceled::FIELDS_LEN + 1 == 32);
const _: () = assert!(OrderExecuted::FIELDS_LEN + 1 == 34);
const _: () = assert!(BrokenTrade::FIELDS_LEN + 1 == 36);
const _: () = assert!(OrderRejected::FIELDS_LEN + 1 == 29);
const _: () = assert!(CancelPending::FIELDS_LEN + 1 == 13);
const _: () = assert!(CancelReject::FIELDS_LEN + 1 == 13);
const _: () = assert!(PriorityUpdate::FIELDS_LEN + 1 == 30);
const _: () = assert!(OrderModified::FIELDS_LEN + 1 == 18);
const _: () = assert!(OrderRestated::FIELDS_LEN + 1 == 14);
const _: () = assert!(MassCancelResponse::FIELDS_LEN + 1 == 25);
const _: () = assert!(DisableOrderEntryResponse::FIELDS_LEN + 1 == 17);
const _: () = assert!(EnableOrderEntryResponse::FIELDS_LEN + 1 == 17);
const _: () = assert!(AccountQueryResponse::FIELDS_LEN + 1 == 13);

/// Defines the `Outbound` enum and its dispatch from one list of message types.
macro_rules! outbound_enum {
    ($($variant:ident),+ $(,)?) => {
        /// Any outbound OUCH message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Outbound {
            $(
                #[doc = concat!("See [`", stringify!($variant), "`].")]
                $variant($variant),
            )+
        }

        impl Outbound {
            /// Decodes one outbound message (the payload of a Sequenced Data packet).
            pub fn decode(msg: &[u8]) -> Result<Outbound, OuchError> {
                let message_type = *msg.first().ok_or(OuchError::Empty)?;
                match message_type {
                    $($variant::TYPE => $variant::decode(msg).map(Outbound::$variant),)+
                    other => Err(OuchError::UnknownType(other)),
                }
            }

            /// Encodes the message into the front of `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
                match self {
                    $(Outbound::$variant(m) => m.encode(out),)+
                }
            }

            /// [`Outbound::encode`] for a caller that knows the options' tags:
            /// `tags` must be `self.options().map_or(TagSet::EMPTY, Options::tags)`.
            pub(crate) fn encode_tagged(
                &self,
                tags: TagSet,
                out: &mut [u8],
            ) -> Result<usize, BufferTooSmall> {
                match self {
                    $(Outbound::$variant(m) => m.encode_tagged(tags, out),)+
                }
            }

            /// Bytes the encoded message takes.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $(Outbound::$variant(m) => m.encoded_len(),)+
                }
            }

            /// The message type byte.
            pub fn message_type(&self) -> u8 {
                match self {
                    $(Outbound::$variant(_) => $variant::TYPE,)+
                }
            }
        }
    };
}

outbound_enum!(
    SystemEvent,
    OrderAccepted,
    OrderReplaced,
    OrderCanceled,
    AiqCanceled,
    OrderExecuted,
    BrokenTrade,
    OrderRejected,
    CancelPending,
    CancelReject,
    PriorityUpdate,
    OrderModified,
    OrderRestated,
    MassCancelResponse,
    DisableOrderEntryResponse,
    EnableOrderEntryResponse,
    AccountQueryResponse,
);

impl Outbound {
    /// The options appendage (`None` for System Event).
    pub fn options(&self) -> Option<&Options> {
        match self {
            Outbound::SystemEvent(_) => None,
            Outbound::OrderAccepted(m) => Some(&m.options),
            Outbound::OrderReplaced(m) => Some(&m.options),
            Outbound::OrderCanceled(m) => Some(&m.options),
            Outbound::AiqCanceled(m) => Some(&m.options),
            Outbound::OrderExecuted(m) => Some(&m.options),
            Outbound::BrokenTrade(m) => Some(&m.options),
            Outbound::OrderRejected(m) => Some(&m.options),
            Outbound::CancelPending(m) => Some(&m.options),
            Outbound::CancelReject(m) => Some(&m.options),
            Outbound::PriorityUpdate(m) => Some(&m.options),
            Outbound::OrderModified(m) => Some(&m.options),
            Outbound::OrderRestated(m) => Some(&m.options),
            Outbound::MassCancelResponse(m) => Some(&m.options),
            Outbound::DisableOrderEntryResponse(m) => Some(&m.options),
            Outbound::EnableOrderEntryResponse(m) => Some(&m.options),
            Outbound::AccountQueryResponse(m) => Some(&m.options),
        }
    }
}
