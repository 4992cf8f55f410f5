//! OUCH ↔ core translation: inbound Enter/Replace fields into the core's commands, and
//! the core's [`OrderEvent`]s into OUCH outbound messages.
//!
//! Both directions copy bytes: the core's enums use the OUCH characters. The common
//! answers (Accepted, Replaced, Executed, Canceled, Rejected) are encoded straight from
//! the event ([`encode`]); [`outbound`] builds the message for the others.

pub mod encode;

use crate::engine::command::{Enter, INHERIT, Replace};
use crate::engine::types::{MARKET_PRICE, StpMode, firm_id};
use crate::engine::{self, OrderEvent, OrderRef};
use crate::proto::ouch::{
    self, EnterOrder, LiquidityFlag, OptionValues, OrderState, Outbound, Price, PriceType,
    RejectReason, ReplaceOrder, Symbol, Tag, TagSet,
};

use super::orders::OrderInfo;
use crate::proto::wire::Alpha;

/// Who is entering: the fields of a command the session supplies.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// Core time (ns since midnight).
    pub ts_ns: u64,
    /// Session (account) id.
    pub session: u16,
    /// The account's firm id.
    pub firm: u32,
}

/// Symbol → instrument id, built once from the instrument table: open addressing
/// on the symbol's eight bytes as one word, a multiplicative hash and linear probing,
/// at most half full.
///
/// NB: a SipHash `HashMap` lookup cost ≈ 360 instructions per Enter Order here
/// (callgrind); this is one multiply and, for the usual first-probe hit, one compare.
/// Keys are fixed at start-up (a client can only look up), so no random seed is
/// needed: the worst lookup is the longest probe run of the configured symbols.
#[derive(Debug)]
pub struct SymbolIndex {
    /// `(symbol word, instrument)`; `EMPTY_SLOT` in the instrument marks a free slot.
    slots: Box<[(u64, u16)]>,
    shift: u32,
}

const EMPTY_SLOT: u16 = u16::MAX;

impl SymbolIndex {
    /// The index of `symbols` (instrument id = position). Ids at or past `u16::MAX`
    /// are not indexed (the core numbers instruments with `u16`s below it).
    pub fn new(symbols: &[Symbol]) -> Self {
        let cap = (symbols.len() * 2).next_power_of_two().max(8);
        let mut index = Self {
            slots: vec![(0, EMPTY_SLOT); cap].into_boxed_slice(),
            shift: 64 - cap.trailing_zeros(),
        };
        for (id, s) in symbols.iter().enumerate().take(usize::from(EMPTY_SLOT)) {
            index.insert(word(&s.0), id as u16);
        }
        index
    }

    fn insert(&mut self, key: u64, id: u16) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i].1 != EMPTY_SLOT && self.slots[i].0 != key {
            i = (i + 1) & mask;
        }
        self.slots[i] = (key, id);
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The instrument of `symbol` (8 bytes, space padded as on the wire).
    #[inline]
    pub fn get(&self, symbol: &[u8; 8]) -> Option<u16> {
        let key = word(symbol);
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let (k, id) = self.slots[i];
            if id == EMPTY_SLOT {
                return None;
            }
            if k == key {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }
}

#[inline]
fn word(symbol: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*symbol)
}

fn side(s: ouch::Side) -> engine::Side {
    match s {
        ouch::Side::Buy => engine::Side::Buy,
        ouch::Side::Sell => engine::Side::Sell,
        ouch::Side::SellShort => engine::Side::SellShort,
        ouch::Side::SellShortExempt => engine::Side::SellShortExempt,
    }
}

fn tif(t: ouch::TimeInForce) -> engine::Tif {
    engine::Tif::from_byte(t.to_byte()).unwrap_or(engine::Tif::Day)
}

fn display(d: ouch::Display) -> Result<engine::Display, RejectReason> {
    engine::Display::from_byte(d.to_byte()).ok_or(RejectReason::InvalidDisplay)
}

fn price(p: Price) -> u64 {
    if p.is_market() { MARKET_PRICE } else { p.0 }
}

/// Options the server does not implement, shared by Enter and Replace: only limit
/// prices (no pegs).
fn check_price_type(pt: Option<PriceType>) -> Result<(), RejectReason> {
    match pt {
        None | Some(PriceType::Limit) => Ok(()),
        Some(_) => Err(RejectReason::InvalidPegType),
    }
}

/// An Enter Order as the core's command, or the Rejected reason the session answers
/// with. `instrument` is the resolved symbol.
#[inline(always)]
pub fn enter<O: OptionValues>(
    m: &EnterOrder<O>,
    o: Origin,
    instrument: u16,
) -> Result<Enter, RejectReason> {
    // NB: one test for the usual empty appendage rather than one per option read
    // (callgrind, `Sessions::on_ouch`).
    let opts = if m.options.is_empty() {
        EnterOptions::NONE
    } else {
        EnterOptions::of(&m.options, o.firm)?
    };
    if m.cross_type != ouch::CrossType::ContinuousMarket {
        return Err(RejectReason::InvalidCrossOrder);
    }
    Ok(Enter {
        ts_ns: o.ts_ns,
        session: o.session,
        user_ref_idx: opts.user_ref_idx,
        user_ref_num: m.user_ref_num,
        instrument,
        side: side(m.side),
        qty: m.quantity,
        price: price(m.price),
        tif: tif(m.time_in_force),
        display: display(m.display)?,
        post_only: opts.post_only,
        stp: StpMode::None,
        firm: o.firm,
        min_qty: opts.min_qty,
        max_floor: opts.max_floor,
        expire_time_s: opts.expire_time_s,
    })
}

/// What an Enter Order's options give its command.
#[derive(Debug, Clone, Copy)]
struct EnterOptions {
    user_ref_idx: u8,
    post_only: bool,
    min_qty: u32,
    max_floor: u32,
    expire_time_s: u32,
}

impl EnterOptions {
    /// No options (every tag absent).
    const NONE: EnterOptions = EnterOptions {
        user_ref_idx: 0,
        post_only: false,
        min_qty: 0,
        max_floor: 0,
        expire_time_s: 0,
    };

    /// Checks `opts` (PriceType, then Firm against the account's `firm`) and reads them.
    fn of<O: OptionValues>(opts: &O, firm: u32) -> Result<Self, RejectReason> {
        check_price_type(opts.price_type())?;
        if let Some(f) = opts.firm()
            && !f.is_blank()
            && firm_id(std::str::from_utf8(f.trimmed()).unwrap_or("")) != firm
        {
            return Err(RejectReason::FirmNotAuthorized);
        }
        Ok(EnterOptions {
            user_ref_idx: opts.user_ref_idx().unwrap_or(0),
            post_only: opts.post_only() == Some(ouch::PostOnly::PostOnly),
            min_qty: opts.min_qty().unwrap_or(0),
            max_floor: opts.max_floor().unwrap_or(0),
            expire_time_s: opts.expire_time().unwrap_or(0),
        })
    }
}

/// A Replace Order as the core's command for the order `orig`.
pub fn replace<O: OptionValues>(
    m: &ReplaceOrder<O>,
    o: Origin,
    order: OrderRef,
    orig: &OrderInfo,
) -> Result<Replace, RejectReason> {
    let opts = &m.options;
    check_price_type(opts.price_type())?;
    Ok(Replace {
        ts_ns: o.ts_ns,
        session: o.session,
        user_ref_idx: opts.user_ref_idx().unwrap_or(0),
        user_ref_num: m.user_ref_num,
        orig_user_ref_num: m.orig_user_ref_num,
        order,
        qty: m.quantity,
        price: price(m.price),
        tif: tif(m.time_in_force),
        display: display(m.display)?,
        post_only: opts.post_only() == Some(ouch::PostOnly::PostOnly),
        side: side(opts.side().unwrap_or(orig.side)),
        min_qty: opts.min_qty().unwrap_or(INHERIT),
        max_floor: opts.max_floor().unwrap_or(INHERIT),
        expire_time_s: opts.expire_time().unwrap_or(INHERIT),
    })
}

fn ouch_side(s: engine::Side) -> ouch::Side {
    ouch::Side::from_byte(s.to_byte()).unwrap_or(ouch::Side::Buy)
}

fn ouch_tif(t: engine::Tif) -> ouch::TimeInForce {
    ouch::TimeInForce::from_byte(t.to_byte()).unwrap_or(ouch::TimeInForce::Day)
}

fn ouch_display(d: engine::Display) -> ouch::Display {
    ouch::Display::from_byte(d.to_byte()).unwrap_or(ouch::Display::Visible)
}

fn echo(user_ref_idx: u8) -> ouch::Options {
    if user_ref_idx == 0 {
        ouch::Options::NONE
    } else {
        ouch::Options::user_ref_idx_only(user_ref_idx)
    }
}

/// The tags of [`echo`]`(user_ref_idx)`.
fn echo_tags(user_ref_idx: u8) -> TagSet {
    if user_ref_idx == 0 {
        TagSet::EMPTY
    } else {
        TagSet::EMPTY.with(Tag::UserRefIdx)
    }
}

/// A Rejected (`J`) message.
pub fn rejected(
    ts_ns: u64,
    user_ref_idx: u8,
    user_ref_num: u32,
    reason: RejectReason,
    cl_ord_id: ouch::ClOrdId,
) -> Outbound {
    Outbound::OrderRejected(ouch::OrderRejected {
        timestamp: ts_ns,
        user_ref_num,
        reason,
        cl_ord_id,
        options: echo(user_ref_idx),
    })
}

/// The OUCH message for a core event and the tags of its options appendage (for
/// [`Outbound::encode_tagged`]). `info` is the order's entry (for the fields the core
/// does not carry); `symbol` the instrument's symbol. `None` for events with no OUCH
/// answer (`Ignored`).
pub fn outbound(
    ev: &OrderEvent,
    info: Option<&OrderInfo>,
    symbol: Symbol,
) -> Option<(Outbound, TagSet)> {
    let msg = message(ev, info, symbol)?;
    let idx = ev.user_ref_idx();
    let tags = match ev {
        OrderEvent::Restated(_) => echo_tags(idx)
            .with(Tag::DisplayQuantity)
            .with(Tag::SecondaryOrdRefNum),
        _ => echo_tags(idx),
    };
    Some((msg, tags))
}

fn message(ev: &OrderEvent, info: Option<&OrderInfo>, symbol: Symbol) -> Option<Outbound> {
    let blank = OrderInfo {
        order: OrderRef::NONE,
        leaves: 0,
        side: ouch::Side::Buy,
        cl_ord_id: Alpha::SPACES,
        capacity: ouch::Capacity::Agency,
        iso: ouch::IntermarketSweepEligibility::NotEligible,
        cross_type: ouch::CrossType::ContinuousMarket,
    };
    let info = info.unwrap_or(&blank);
    Some(match ev {
        OrderEvent::Accepted(e) => accepted(e, info, symbol),
        OrderEvent::Replaced(e) => replaced(e, info, symbol),
        OrderEvent::Rejected(e) => rejected(
            e.ts_ns,
            e.user_ref_idx,
            e.user_ref_num,
            reject_reason(e.reason),
            info.cl_ord_id,
        ),
        OrderEvent::Executed(e) => Outbound::OrderExecuted(ouch::OrderExecuted {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            quantity: e.qty,
            price: Price(e.price),
            liquidity_flag: LiquidityFlag(e.liquidity.to_byte()),
            match_number: e.match_number,
            options: echo(e.user_ref_idx),
        }),
        OrderEvent::Canceled(e) => Outbound::OrderCanceled(ouch::OrderCanceled {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            quantity: e.qty,
            reason: cancel_reason(e.reason),
            options: echo(e.user_ref_idx),
        }),
        OrderEvent::AiqCanceled(e) => Outbound::AiqCanceled(ouch::AiqCanceled {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            decrement_shares: e.decrement,
            reason: ouch::CancelReason::SelfMatchPrevention,
            quantity_prevented_from_trading: e.prevented,
            execution_price: Price(e.price),
            liquidity_flag: LiquidityFlag(e.liquidity.to_byte()),
            aiq_strategy: e.strategy.to_byte(),
            options: echo(e.user_ref_idx),
        }),
        OrderEvent::Modified(e) => Outbound::OrderModified(ouch::OrderModified {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            side: ouch_side(e.side),
            quantity: e.qty,
            options: echo(e.user_ref_idx),
        }),
        OrderEvent::CancelRejected(e) => Outbound::CancelReject(ouch::CancelReject {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            options: echo(e.user_ref_idx),
        }),
        OrderEvent::MassCancelResponse(e) => mass_cancel_response(e, symbol),
        OrderEvent::Restated(e) => Outbound::OrderRestated(ouch::OrderRestated {
            timestamp: e.ts_ns,
            user_ref_num: e.user_ref_num,
            reason: ouch::RestateReason::Refresh,
            options: ouch::Options {
                display_quantity: Some(e.display_qty),
                secondary_ord_ref_num: Some(e.order_number),
                ..echo(e.user_ref_idx)
            },
        }),
        OrderEvent::Ignored(_) | OrderEvent::Echoed(_) => return None,
    })
}

fn reject_reason(r: engine::RejectReason) -> RejectReason {
    RejectReason::from_code(r.ouch_code()).unwrap_or(RejectReason::Other)
}

fn cancel_reason(r: engine::CancelReason) -> ouch::CancelReason {
    ouch::CancelReason::from_byte(r.to_byte()).unwrap_or(ouch::CancelReason::System)
}

fn accepted(e: &engine::event::Accepted, info: &OrderInfo, symbol: Symbol) -> Outbound {
    Outbound::OrderAccepted(ouch::OrderAccepted {
        timestamp: e.ts_ns,
        user_ref_num: e.user_ref_num,
        side: ouch_side(e.side),
        quantity: e.qty,
        symbol,
        price: Price(e.price),
        time_in_force: ouch_tif(e.tif),
        display: ouch_display(e.display),
        order_reference_number: e.order_number,
        capacity: info.capacity,
        intermarket_sweep_eligibility: info.iso,
        cross_type: info.cross_type,
        order_state: OrderState::Live,
        cl_ord_id: info.cl_ord_id,
        options: echo(e.user_ref_idx),
    })
}

fn replaced(e: &engine::event::Replaced, info: &OrderInfo, symbol: Symbol) -> Outbound {
    Outbound::OrderReplaced(ouch::OrderReplaced {
        timestamp: e.ts_ns,
        orig_user_ref_num: e.orig_user_ref_num,
        user_ref_num: e.user_ref_num,
        side: ouch_side(e.side),
        quantity: e.qty,
        symbol,
        price: Price(e.price),
        time_in_force: ouch_tif(e.tif),
        display: ouch_display(e.display),
        order_reference_number: e.order_number,
        capacity: info.capacity,
        intermarket_sweep_eligibility: info.iso,
        cross_type: info.cross_type,
        order_state: OrderState::Live,
        cl_ord_id: info.cl_ord_id,
        options: echo(e.user_ref_idx),
    })
}

fn mass_cancel_response(e: &engine::event::MassCancelResponse, symbol: Symbol) -> Outbound {
    Outbound::MassCancelResponse(ouch::MassCancelResponse {
        timestamp: e.ts_ns,
        user_ref_num: e.user_ref_num,
        firm: Alpha(e.firm.to_be_bytes()),
        symbol,
        options: echo(e.user_ref_idx),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{Accepted, Canceled, Restated};

    /// The tags `outbound` hands to `encode_tagged` are the options' own, for
    /// events with and without a UserRefIdx and the one with extra options.
    #[test]
    fn outbound_tags_are_the_options_tags() {
        for idx in [0u8, 1, 255] {
            let accepted = OrderEvent::Accepted(Accepted {
                ts_ns: 1,
                session: 0,
                user_ref_idx: idx,
                user_ref_num: 7,
                order: OrderRef(3),
                order_number: 9,
                instrument: 0,
                side: engine::Side::Buy,
                qty: 100,
                price: 1_000_000,
                tif: engine::Tif::Day,
                display: engine::Display::Visible,
            });
            let canceled = OrderEvent::Canceled(Canceled {
                ts_ns: 1,
                session: 0,
                user_ref_idx: idx,
                user_ref_num: 7,
                order: OrderRef(3),
                qty: 100,
                reason: engine::CancelReason::UserRequested,
            });
            let restated = OrderEvent::Restated(Restated {
                ts_ns: 1,
                session: 0,
                user_ref_idx: idx,
                user_ref_num: 7,
                order: OrderRef(3),
                display_qty: 100,
                order_number: 9,
            });
            for ev in [accepted, canceled, restated] {
                let (msg, tags) = outbound(&ev, None, Alpha::padded("AAPL")).unwrap();
                assert_eq!(tags, msg.options().unwrap().tags(), "{ev:?}");
                let (mut a, mut b) = ([0u8; 128], [0u8; 128]);
                assert_eq!(msg.encode_tagged(tags, &mut a), msg.encode(&mut b));
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn symbol_index_finds_every_symbol_and_nothing_else() {
        let symbols: Vec<Symbol> = (0..300).map(|i| Alpha::padded(&format!("S{i}"))).collect();
        let index = SymbolIndex::new(&symbols);
        for (id, s) in symbols.iter().enumerate() {
            assert_eq!(index.get(&s.0), Some(id as u16));
        }
        for probe in ["S300", "AAPL", "", "S1 X"] {
            assert_eq!(index.get(&Alpha::<8>::padded(probe).0), None);
        }
        assert_eq!(SymbolIndex::new(&[]).get(&[b' '; 8]), None);
    }
}
