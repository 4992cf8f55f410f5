//! The OUCH answers to the core's common events — Accepted, Replaced, Executed,
//! Canceled, Rejected — encoded straight from the event and the order's
//! [`OrderInfo`] into the stream's buffer: no [`Outbound`](ouch::Outbound) value, no
//! `Options`; the appendage is the UserRefIdx the event carries (none for channel 0).
//!
//! Each encoder writes the bytes [`super::outbound`] + `Outbound::encode_tagged` write
//! for the same event (tested for every kind, with and without a UserRefIdx, in
//! `tests::direct_encoders_write_the_generic_encoders_bytes`).

use crate::engine::event::{Accepted, Canceled, Executed, Rejected, Replaced};
use crate::proto::ouch::message::encode_echo;
use crate::proto::ouch::{self, LiquidityFlag, OrderState, Price, Symbol};
use crate::proto::wire::{BufferTooSmall, WireField, Writer};

use super::{OrderInfo, cancel_reason, ouch_display, ouch_side, ouch_tif};

/// The fields Accepted and Replaced take from the Enter Order (the core does not
/// carry them), as the order map holds them; blank for an order it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entered {
    /// Capacity.
    pub capacity: ouch::Capacity,
    /// InterMarket Sweep Eligibility.
    pub iso: ouch::IntermarketSweepEligibility,
    /// CrossType.
    pub cross_type: ouch::CrossType,
    /// ClOrdID of the Enter or Replace.
    pub cl_ord_id: ouch::ClOrdId,
}

impl Entered {
    /// What an answer says of an order the session does not know.
    pub const BLANK: Entered = Entered {
        capacity: ouch::Capacity::Agency,
        iso: ouch::IntermarketSweepEligibility::NotEligible,
        cross_type: ouch::CrossType::ContinuousMarket,
        cl_ord_id: crate::proto::wire::Alpha::SPACES,
    };

    /// The fields of `info`.
    #[inline]
    pub fn of(info: &OrderInfo) -> Entered {
        Entered {
            capacity: info.capacity,
            iso: info.iso,
            cross_type: info.cross_type,
            cl_ord_id: info.cl_ord_id,
        }
    }

    /// Capacity … Order State … ClOrdID: the tail Accepted and Replaced share.
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) {
        self.capacity.write(w);
        self.iso.write(w);
        self.cross_type.write(w);
        OrderState::Live.write(w);
        self.cl_ord_id.write(w);
    }
}

/// Order Accepted (`A`) for `e`.
#[inline]
pub fn accepted(
    e: &Accepted,
    order: &Entered,
    symbol: Symbol,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    encode_echo::<ouch::OrderAccepted>(e.user_ref_idx, out, |w| {
        e.ts_ns.write(w);
        e.user_ref_num.write(w);
        ouch_side(e.side).write(w);
        e.qty.write(w);
        symbol.write(w);
        e.price.write(w);
        ouch_tif(e.tif).write(w);
        ouch_display(e.display).write(w);
        e.order_number.write(w);
        order.write(w);
    })
}

/// Order Replaced (`U`) for `e`; `order` is the replacement's entry.
#[inline]
pub fn replaced(
    e: &Replaced,
    order: &Entered,
    symbol: Symbol,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    encode_echo::<ouch::OrderReplaced>(e.user_ref_idx, out, |w| {
        e.ts_ns.write(w);
        e.orig_user_ref_num.write(w);
        e.user_ref_num.write(w);
        ouch_side(e.side).write(w);
        e.qty.write(w);
        symbol.write(w);
        e.price.write(w);
        ouch_tif(e.tif).write(w);
        ouch_display(e.display).write(w);
        e.order_number.write(w);
        order.write(w);
    })
}

/// Order Executed (`E`) for `e`.
#[inline]
pub fn executed(e: &Executed, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    encode_echo::<ouch::OrderExecuted>(e.user_ref_idx, out, |w| {
        e.ts_ns.write(w);
        e.user_ref_num.write(w);
        e.qty.write(w);
        Price(e.price).write(w);
        LiquidityFlag(e.liquidity.to_byte()).write(w);
        e.match_number.write(w);
    })
}

/// Order Canceled (`C`) for `e`.
#[inline]
pub fn canceled(e: &Canceled, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    encode_echo::<ouch::OrderCanceled>(e.user_ref_idx, out, |w| {
        e.ts_ns.write(w);
        e.user_ref_num.write(w);
        e.qty.write(w);
        cancel_reason(e.reason).write(w);
    })
}

/// Rejected (`J`) for `e`; `cl_ord_id` is the rejected order's.
#[inline]
pub fn rejected(
    e: &Rejected,
    cl_ord_id: ouch::ClOrdId,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    encode_echo::<ouch::OrderRejected>(e.user_ref_idx, out, |w| {
        e.ts_ns.write(w);
        e.user_ref_num.write(w);
        super::reject_reason(e.reason).write(w);
        cl_ord_id.write(w);
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::{self, OrderEvent, OrderRef};
    use crate::proto::wire::Alpha;

    fn engine_side() -> impl Strategy<Value = engine::Side> {
        prop::sample::select(vec![
            engine::Side::Buy,
            engine::Side::Sell,
            engine::Side::SellShort,
            engine::Side::SellShortExempt,
        ])
    }

    fn tif() -> impl Strategy<Value = engine::Tif> {
        prop::sample::select(vec![
            engine::Tif::Day,
            engine::Tif::Ioc,
            engine::Tif::Gtx,
            engine::Tif::Gtt,
            engine::Tif::AfterHours,
        ])
    }

    fn display() -> impl Strategy<Value = engine::Display> {
        prop::sample::select(vec![
            engine::Display::Visible,
            engine::Display::Hidden,
            engine::Display::Attributable,
        ])
    }

    /// UserRefIdx 0 (no appendage) half the time.
    fn user_ref_idx() -> impl Strategy<Value = u8> {
        prop_oneof![Just(0u8), any::<u8>()]
    }

    /// An order map entry, or none (the answer's fields are blank).
    fn info() -> impl Strategy<Value = Option<OrderInfo>> {
        let capacity = prop::sample::select(vec![
            ouch::Capacity::Agency,
            ouch::Capacity::Principal,
            ouch::Capacity::Riskless,
            ouch::Capacity::Other,
        ]);
        let iso = prop::sample::select(vec![
            ouch::IntermarketSweepEligibility::Eligible,
            ouch::IntermarketSweepEligibility::NotEligible,
        ]);
        let cross = prop::sample::select(vec![
            ouch::CrossType::ContinuousMarket,
            ouch::CrossType::Opening,
            ouch::CrossType::Retail,
        ]);
        let entry = (
            capacity,
            iso,
            cross,
            any::<[u8; 14]>(),
            any::<u64>(),
            any::<u32>(),
        )
            .prop_map(|(capacity, iso, cross_type, cl, order, leaves)| OrderInfo {
                order: OrderRef(order),
                leaves,
                side: ouch::Side::Sell,
                cl_ord_id: Alpha(cl),
                capacity,
                iso,
                cross_type,
            });
        prop::option::of(entry)
    }

    /// Timestamp, UserRefIdx, UserRefNum and a number for the rest.
    fn head() -> impl Strategy<Value = (u64, u8, u32, u64)> {
        (any::<u64>(), user_ref_idx(), any::<u32>(), any::<u64>())
    }

    fn event() -> impl Strategy<Value = OrderEvent> {
        let accepted = (
            head(),
            engine_side(),
            any::<u32>(),
            any::<u64>(),
            tif(),
            display(),
        )
            .prop_map(|((ts_ns, idx, urn, n), side, qty, price, tif, display)| {
                OrderEvent::Accepted(Accepted {
                    ts_ns,
                    session: 0,
                    user_ref_idx: idx,
                    user_ref_num: urn,
                    order: OrderRef(n ^ 1),
                    order_number: n,
                    instrument: 0,
                    side,
                    qty,
                    price,
                    tif,
                    display,
                })
            });
        let replaced = (
            head(),
            any::<u32>(),
            engine_side(),
            any::<u32>(),
            any::<u64>(),
        )
            .prop_flat_map(move |(h, orig, side, qty, price)| {
                (tif(), display()).prop_map(move |(tif, display)| {
                    let (ts_ns, idx, urn, n) = h;
                    OrderEvent::Replaced(Replaced {
                        ts_ns,
                        session: 0,
                        user_ref_idx: idx,
                        orig_user_ref_num: orig,
                        user_ref_num: urn,
                        order: OrderRef(n ^ 1),
                        order_number: n,
                        side,
                        qty,
                        price,
                        tif,
                        display,
                        instrument: 0,
                    })
                })
            });
        let liquidity = prop::sample::select(vec![
            engine::Liquidity::Added,
            engine::Liquidity::AddedHidden,
            engine::Liquidity::Removed,
        ]);
        let executed = (head(), any::<u32>(), any::<u64>(), liquidity).prop_map(
            |((ts_ns, idx, urn, n), qty, price, liquidity)| {
                OrderEvent::Executed(Executed {
                    ts_ns,
                    session: 0,
                    user_ref_idx: idx,
                    user_ref_num: urn,
                    order: OrderRef(n ^ 1),
                    qty,
                    price,
                    match_number: n,
                    liquidity,
                })
            },
        );
        let reason = prop::sample::select(vec![
            engine::CancelReason::UserRequested,
            engine::CancelReason::ImmediateOrCancel,
            engine::CancelReason::Timeout,
            engine::CancelReason::SelfMatch,
            engine::CancelReason::Closed,
            engine::CancelReason::System,
        ]);
        let canceled =
            (head(), any::<u32>(), reason).prop_map(|((ts_ns, idx, urn, n), qty, reason)| {
                OrderEvent::Canceled(Canceled {
                    ts_ns,
                    session: 0,
                    user_ref_idx: idx,
                    user_ref_num: urn,
                    order: OrderRef(n),
                    qty,
                    reason,
                })
            });
        let rejected = (
            head(),
            prop::sample::select(engine::RejectReason::ALL.to_vec()),
        )
            .prop_map(|((ts_ns, idx, urn, _), reason)| {
                OrderEvent::Rejected(Rejected {
                    ts_ns,
                    session: 0,
                    user_ref_idx: idx,
                    user_ref_num: urn,
                    reason,
                })
            });
        prop_oneof![accepted, replaced, executed, canceled, rejected]
    }

    /// The direct encoder of `ev`'s kind.
    fn direct(
        ev: &OrderEvent,
        info: Option<&OrderInfo>,
        symbol: Symbol,
        out: &mut [u8],
    ) -> Result<usize, BufferTooSmall> {
        let entered = info.map_or(Entered::BLANK, Entered::of);
        let cl_ord_id = info.map_or(Alpha::SPACES, |i| i.cl_ord_id);
        match ev {
            OrderEvent::Accepted(e) => accepted(e, &entered, symbol, out),
            OrderEvent::Replaced(e) => replaced(e, &entered, symbol, out),
            OrderEvent::Executed(e) => executed(e, out),
            OrderEvent::Canceled(e) => canceled(e, out),
            OrderEvent::Rejected(e) => rejected(e, cl_ord_id, out),
            other => unreachable!("no direct encoder for {other:?}"),
        }
    }

    proptest! {
        /// Wire bytes are unchanged: each direct encoder writes what the generic path
        /// (`outbound` → `Outbound::encode_tagged`) writes for the same event, order
        /// entry and symbol, with and without a UserRefIdx, and refuses the same short
        /// buffers.
        #[test]
        fn direct_encoders_write_the_generic_encoders_bytes(
            ev in event(),
            info in info(),
            symbol in any::<[u8; 8]>(),
            short in 0usize..80,
        ) {
            let symbol = Alpha(symbol);
            let (msg, tags) = super::super::outbound(&ev, info.as_ref(), symbol).unwrap();
            let (mut old, mut new) = ([0xA5u8; 128], [0xA5u8; 128]);
            let old_len = msg.encode_tagged(tags, &mut old);
            let new_len = direct(&ev, info.as_ref(), symbol, &mut new);
            prop_assert_eq!(new_len, old_len);
            prop_assert_eq!(&new[..], &old[..]);
            let short = short.min(old_len.unwrap() - 1);
            let (mut old, mut new) = ([0u8; 128], [0u8; 128]);
            prop_assert_eq!(
                direct(&ev, info.as_ref(), symbol, &mut new[..short]),
                msg.encode_tagged(tags, &mut old[..short])
            );
        }
    }
}
