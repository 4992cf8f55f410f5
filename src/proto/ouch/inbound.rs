//! Inbound messages (client → host, spec §2), carried in SoupBinTCP Unsequenced Data.

use super::message::ouch_message;
use super::types::{
    Capacity, ClOrdId, CrossType, Display, Firm, IntermarketSweepEligibility, Price, Side, Symbol,
    TimeInForce,
};
use super::{Appendage, OptionValues, Options, OuchError};
use crate::proto::wire::{Alpha, BufferTooSmall};

ouch_message! {
    /// `O` Enter Order (§2.1).
    pub struct EnterOrder = b'O', Required, [
        Firm, MinQty, CustomerType, MaxFloor, PriceType, PegOffset, DiscretionPrice,
        DiscretionPriceType, DiscretionPegOffset, PostOnly, RandomReserves, ExpireTime,
        TradeNow, HandleInst, GroupId, SharesLocated, LocateBroker, UserRefIdx
    ] {
        /// Day-unique, strictly increasing per account (per UserRefIdx channel).
        pub user_ref_num: u32,
        /// Side.
        pub side: Side,
        /// Shares; greater than zero and less than 1,000,000.
        pub quantity: u32,
        /// Stock symbol.
        pub symbol: Symbol,
        /// Limit price (4 implied decimals), or a market price.
        pub price: Price,
        /// Time In Force.
        pub time_in_force: TimeInForce,
        /// Display.
        pub display: Display,
        /// Capacity.
        pub capacity: Capacity,
        /// InterMarket Sweep Eligibility.
        pub intermarket_sweep_eligibility: IntermarketSweepEligibility,
        /// CrossType.
        pub cross_type: CrossType,
        /// Customer order identifier.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `U` Replace Order Request (§2.2).
    pub struct ReplaceOrder = b'U', Required, [
        MinQty, MaxFloor, PriceType, PostOnly, ExpireTime, TradeNow, HandleInst,
        RandomReserves, PegOffset, DiscretionPrice, DiscretionPriceType, DiscretionPegOffset,
        SharesLocated, LocateBroker, UserRefIdx, Side
    ] {
        /// UserRefNum of the order being replaced (Enter or last Replace).
        pub orig_user_ref_num: u32,
        /// The replacement's new UserRefNum.
        pub user_ref_num: u32,
        /// Total shares liable for the whole chain, executions included.
        pub quantity: u32,
        /// Price of the replacement.
        pub price: Price,
        /// Time In Force.
        pub time_in_force: TimeInForce,
        /// Display.
        pub display: Display,
        /// InterMarket Sweep Eligibility.
        pub intermarket_sweep_eligibility: IntermarketSweepEligibility,
        /// Customer order identifier of the replacement.
        pub cl_ord_id: ClOrdId,
    }
}

ouch_message! {
    /// `X` Cancel Order Request (§2.3): reduce to a new intended order size.
    pub struct CancelOrder = b'X', Optional, [UserRefIdx] {
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// New intended order size; 0 cancels all open shares.
        pub quantity: u32,
    }
}

ouch_message! {
    /// `M` Modify Order Request (§2.4): change side (S↔E/T only) or reduce, keeping priority.
    pub struct ModifyOrder = b'M', Optional, [UserRefIdx, SharesLocated, LocateBroker] {
        /// UserRefNum of the order.
        pub user_ref_num: u32,
        /// New side.
        pub side: Side,
        /// New intended order size.
        pub quantity: u32,
    }
}

ouch_message! {
    /// `C` Mass Cancel Request (§2.5).
    pub struct MassCancel = b'C', Required, [Side, GroupId, UserRefIdx] {
        /// Day-unique, strictly increasing.
        pub user_ref_num: u32,
        /// Firm whose orders to cancel.
        pub firm: Firm,
        /// Symbol to cancel on; spaces = every symbol.
        pub symbol: Symbol,
    }
}

ouch_message! {
    /// `D` Disable Order Entry Request (§2.6).
    pub struct DisableOrderEntry = b'D', Required, [UserRefIdx] {
        /// Day-unique, strictly increasing.
        pub user_ref_num: u32,
        /// Firm to block.
        pub firm: Firm,
    }
}

ouch_message! {
    /// `E` Enable Order Entry Request (§2.7).
    pub struct EnableOrderEntry = b'E', Required, [UserRefIdx] {
        /// Day-unique, strictly increasing.
        pub user_ref_num: u32,
        /// Firm to unblock.
        pub firm: Firm,
    }
}

ouch_message! {
    /// `Q` Account Query Request (§2.8): asks for the next available UserRefNum.
    pub struct AccountQuery = b'Q', Optional, [UserRefIdx] {}
}

// The Appendage Length offsets of the spec's tables.
const _: () = assert!(EnterOrder::FIELDS_LEN + 1 == 45);
const _: () = assert!(ReplaceOrder::FIELDS_LEN + 1 == 38);
const _: () = assert!(CancelOrder::FIELDS_LEN + 1 == 9);
const _: () = assert!(ModifyOrder::FIELDS_LEN + 1 == 10);
const _: () = assert!(MassCancel::FIELDS_LEN + 1 == 17);
const _: () = assert!(DisableOrderEntry::FIELDS_LEN + 1 == 9);
const _: () = assert!(EnableOrderEntry::FIELDS_LEN + 1 == 9);
const _: () = assert!(AccountQuery::FIELDS_LEN + 1 == 1);

/// Any inbound OUCH message, its options decoded (`O` = [`Options`], the default) or
/// kept as checked appendage bytes ([`InboundView`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound<O = Options> {
    /// `O`.
    EnterOrder(EnterOrder<O>),
    /// `U`.
    ReplaceOrder(ReplaceOrder<O>),
    /// `X`.
    CancelOrder(CancelOrder<O>),
    /// `M`.
    ModifyOrder(ModifyOrder<O>),
    /// `C`.
    MassCancel(MassCancel<O>),
    /// `D`.
    DisableOrderEntry(DisableOrderEntry<O>),
    /// `E`.
    EnableOrderEntry(EnableOrderEntry<O>),
    /// `Q`.
    AccountQuery(AccountQuery<O>),
}

/// An inbound message whose appendage is kept as its checked bytes: what the session
/// layer decodes each received message into ([`Inbound::view`]).
pub type InboundView<'a> = Inbound<Appendage<'a>>;

macro_rules! each_inbound {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            Inbound::EnterOrder($m) => $body,
            Inbound::ReplaceOrder($m) => $body,
            Inbound::CancelOrder($m) => $body,
            Inbound::ModifyOrder($m) => $body,
            Inbound::MassCancel($m) => $body,
            Inbound::DisableOrderEntry($m) => $body,
            Inbound::EnableOrderEntry($m) => $body,
            Inbound::AccountQuery($m) => $body,
        }
    };
}

impl Inbound {
    /// Decodes one inbound message (the payload of an Unsequenced Data packet).
    pub fn decode(msg: &[u8]) -> Result<Inbound, OuchError> {
        let message_type = *msg.first().ok_or(OuchError::Empty)?;
        match message_type {
            EnterOrder::TYPE => EnterOrder::decode_with(msg, Inbound::EnterOrder),
            ReplaceOrder::TYPE => ReplaceOrder::decode_with(msg, Inbound::ReplaceOrder),
            CancelOrder::TYPE => CancelOrder::decode_with(msg, Inbound::CancelOrder),
            ModifyOrder::TYPE => ModifyOrder::decode_with(msg, Inbound::ModifyOrder),
            MassCancel::TYPE => MassCancel::decode_with(msg, Inbound::MassCancel),
            DisableOrderEntry::TYPE => {
                DisableOrderEntry::decode_with(msg, Inbound::DisableOrderEntry)
            }
            EnableOrderEntry::TYPE => EnableOrderEntry::decode_with(msg, Inbound::EnableOrderEntry),
            AccountQuery::TYPE => AccountQuery::decode_with(msg, Inbound::AccountQuery),
            other => Err(OuchError::UnknownType(other)),
        }
    }

    /// Encodes the message into the front of `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        each_inbound!(self, m => m.encode(out))
    }

    /// Bytes the encoded message takes.
    pub fn encoded_len(&self) -> usize {
        each_inbound!(self, m => m.encoded_len())
    }
}

impl<'a> InboundView<'a> {
    /// Decodes one inbound message as [`Inbound::decode`] does (same errors), keeping
    /// its appendage as the checked bytes.
    ///
    /// NB: inlined so that the caller's match on the message type follows this one's
    /// and the message's fields need not go through memory (callgrind, `on_ouch`).
    #[inline(always)]
    pub fn view(msg: &'a [u8]) -> Result<Self, OuchError> {
        let message_type = *msg.first().ok_or(OuchError::Empty)?;
        match message_type {
            EnterOrder::TYPE => EnterOrder::view_with(msg, Inbound::EnterOrder),
            ReplaceOrder::TYPE => ReplaceOrder::view_with(msg, Inbound::ReplaceOrder),
            CancelOrder::TYPE => CancelOrder::view_with(msg, Inbound::CancelOrder),
            ModifyOrder::TYPE => ModifyOrder::view_with(msg, Inbound::ModifyOrder),
            MassCancel::TYPE => MassCancel::view_with(msg, Inbound::MassCancel),
            DisableOrderEntry::TYPE => {
                DisableOrderEntry::view_with(msg, Inbound::DisableOrderEntry)
            }
            EnableOrderEntry::TYPE => EnableOrderEntry::view_with(msg, Inbound::EnableOrderEntry),
            AccountQuery::TYPE => AccountQuery::view_with(msg, Inbound::AccountQuery),
            other => Err(OuchError::UnknownType(other)),
        }
    }
}

impl<O: OptionValues> Inbound<O> {
    /// The message with its options decoded.
    pub fn to_decoded(&self) -> Inbound {
        match self {
            Inbound::EnterOrder(m) => Inbound::EnterOrder(m.to_decoded()),
            Inbound::ReplaceOrder(m) => Inbound::ReplaceOrder(m.to_decoded()),
            Inbound::CancelOrder(m) => Inbound::CancelOrder(m.to_decoded()),
            Inbound::ModifyOrder(m) => Inbound::ModifyOrder(m.to_decoded()),
            Inbound::MassCancel(m) => Inbound::MassCancel(m.to_decoded()),
            Inbound::DisableOrderEntry(m) => Inbound::DisableOrderEntry(m.to_decoded()),
            Inbound::EnableOrderEntry(m) => Inbound::EnableOrderEntry(m.to_decoded()),
            Inbound::AccountQuery(m) => Inbound::AccountQuery(m.to_decoded()),
        }
    }

    /// The options appendage.
    pub fn options(&self) -> &O {
        each_inbound!(self, m => &m.options)
    }

    /// The UserRefIdx channel (0 when the tag is absent).
    #[inline]
    pub fn user_ref_idx(&self) -> u8 {
        each_inbound!(self, m => m.options.user_ref_idx()).unwrap_or(0)
    }

    /// The *new* UserRefNum this message consumes, which must be strictly greater than
    /// the last one on its channel; `None` for messages that name an existing order
    /// (Cancel, Modify) or none (Account Query).
    pub fn new_user_ref_num(&self) -> Option<u32> {
        match self {
            Inbound::EnterOrder(m) => Some(m.user_ref_num),
            Inbound::ReplaceOrder(m) => Some(m.user_ref_num),
            Inbound::MassCancel(m) => Some(m.user_ref_num),
            Inbound::DisableOrderEntry(m) => Some(m.user_ref_num),
            Inbound::EnableOrderEntry(m) => Some(m.user_ref_num),
            Inbound::CancelOrder(_) | Inbound::ModifyOrder(_) | Inbound::AccountQuery(_) => None,
        }
    }
}

/// Best-effort UserRefNum of a message that failed to decode, so that the answer (a
/// Rejected `J`) can name it: the field at its table offset when the message is long
/// enough, whatever else is wrong with it.
pub fn peek_user_ref_num(msg: &[u8]) -> Option<u32> {
    let offset = match *msg.first()? {
        ReplaceOrder::TYPE => 5,
        b'O' | b'X' | b'M' | b'C' | b'D' | b'E' => 1,
        _ => return None,
    };
    let bytes = msg.get(offset..offset + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Best-effort ClOrdID of an Enter or Replace Order that failed to decode.
pub fn peek_cl_ord_id(msg: &[u8]) -> Option<ClOrdId> {
    let offset = match *msg.first()? {
        EnterOrder::TYPE => 31,
        ReplaceOrder::TYPE => 24,
        _ => return None,
    };
    let bytes = msg.get(offset..offset + 14)?;
    let mut cl_ord_id = [0; 14];
    cl_ord_id.copy_from_slice(bytes);
    Some(Alpha(cl_ord_id))
}

impl EnterOrder {
    /// A day limit order with the common defaults: visible, agency, not an ISO,
    /// continuous market, blank ClOrdID, no options. Change fields with struct update
    /// syntax: `EnterOrder { time_in_force: TimeInForce::Ioc, ..EnterOrder::new(..) }`.
    pub const fn new(
        user_ref_num: u32,
        side: Side,
        quantity: u32,
        symbol: Symbol,
        price: Price,
    ) -> Self {
        Self {
            user_ref_num,
            side,
            quantity,
            symbol,
            price,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            capacity: Capacity::Agency,
            intermarket_sweep_eligibility: IntermarketSweepEligibility::NotEligible,
            cross_type: CrossType::ContinuousMarket,
            cl_ord_id: Alpha::SPACES,
            options: Options::NONE,
        }
    }
}

impl ReplaceOrder {
    /// A replace keeping the defaults of [`EnterOrder::new`] (day, visible, not ISO).
    pub const fn new(
        orig_user_ref_num: u32,
        user_ref_num: u32,
        quantity: u32,
        price: Price,
    ) -> Self {
        Self {
            orig_user_ref_num,
            user_ref_num,
            quantity,
            price,
            time_in_force: TimeInForce::Day,
            display: Display::Visible,
            intermarket_sweep_eligibility: IntermarketSweepEligibility::NotEligible,
            cl_ord_id: Alpha::SPACES,
            options: Options::NONE,
        }
    }
}
