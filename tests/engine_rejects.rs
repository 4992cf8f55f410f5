//! Every reject reason, every STP mode, capacities, and the record codecs.

mod engine_support;

use engine_support::*;
use proptest::prelude::*;
use tickgate::engine::command::{Enter, INHERIT, SetTradingState};
use tickgate::engine::event::OrderEvent;
use tickgate::engine::types::MARKET_PRICE;
use tickgate::engine::{
    AnyEvent, Command, Display, Liquidity, MdEvent, OrderEvent as Ev, RECORD_BYTES, RejectReason,
    Side, StpMode, Tif, TradingState,
};

fn rejected(ev: &[AnyEvent]) -> Option<RejectReason> {
    order_events(ev).iter().find_map(|e| match e {
        OrderEvent::Rejected(r) => Some(r.reason),
        _ => None,
    })
}

fn reject_of(b: &mut Bench, e: Enter) -> Option<RejectReason> {
    let (ev, _) = b.enter(e);
    rejected(&ev)
}

fn buy() -> Enter {
    limit(Side::Buy, 100, P100)
}

#[test]
fn reject_destination_closed_when_the_instrument_is_closed() {
    let mut b = Bench::new();
    b.set_state(T, TradingState::Closed);
    assert_eq!(
        reject_of(&mut b, buy()),
        Some(RejectReason::DestinationClosed)
    );
}

#[test]
fn reject_invalid_display_for_a_hidden_reserve_order() {
    let e = Enter {
        display: Display::Hidden,
        max_floor: 10,
        ..buy()
    };
    assert_eq!(
        reject_of(&mut Bench::new(), e),
        Some(RejectReason::InvalidDisplay)
    );
}

#[test]
fn reject_invalid_max_floor_above_quantity_or_off_lot() {
    let mut b = Bench::new();
    let e = Enter {
        max_floor: 101,
        ..buy()
    };
    assert_eq!(reject_of(&mut b, e), Some(RejectReason::InvalidMaxFloor));
    let e = Enter {
        instrument: LOT,
        max_floor: 150,
        qty: 300,
        ..buy()
    };
    assert_eq!(reject_of(&mut b, e), Some(RejectReason::InvalidMaxFloor));
}

#[test]
fn reject_fat_finger_outside_the_price_band() {
    let mut b = Bench::new();
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 1, px(11_001))),
        Some(RejectReason::FatFinger)
    );
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 1, px(8_999))),
        Some(RejectReason::FatFinger)
    );
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 1, px(11_000))),
        None,
        "band edge ok"
    );
}

#[test]
fn reject_halted_for_orders_and_replaces_on_a_halted_instrument() {
    let mut b = Bench::new();
    let p = b.place(buy());
    b.set_state(T, TradingState::Halted);
    assert_eq!(reject_of(&mut b, buy()), Some(RejectReason::Halted));
    let r = b.replace_cmd(&p, Side::Buy, 50, P100);
    let (ev, _) = b.replace(&p, r);
    assert_eq!(rejected(&ev), Some(RejectReason::Halted));
    assert_eq!(b.leaves(&p), Some(100), "order intact");
}

#[test]
fn reject_processing_error_when_the_order_pool_is_full() {
    let mut b = Bench::with_engine(engine_with(2));
    b.place(buy());
    b.place(buy());
    assert_eq!(
        reject_of(&mut b, buy()),
        Some(RejectReason::ProcessingError)
    );
    assert_eq!(b.engine.live_orders(), 2);
}

#[test]
fn reject_invalid_min_quantity() {
    let mut b = Bench::new();
    let ioc = |min_qty| Enter {
        tif: Tif::Ioc,
        min_qty,
        ..buy()
    };
    assert_eq!(
        reject_of(&mut b, ioc(101)),
        Some(RejectReason::InvalidMinQuantity)
    );
    let day = Enter {
        min_qty: 10,
        ..buy()
    };
    assert_eq!(
        reject_of(&mut b, day),
        Some(RejectReason::InvalidMinQuantity)
    );
    let off_lot = Enter {
        instrument: LOT,
        qty: 300,
        tif: Tif::Ioc,
        min_qty: 150,
        ..buy()
    };
    assert_eq!(
        reject_of(&mut b, off_lot),
        Some(RejectReason::InvalidMinQuantity)
    );
}

#[test]
fn reject_other_for_gtt_without_a_valid_expire_time() {
    let mut b = Bench::new();
    for s in [0, 86_400] {
        let e = Enter {
            tif: Tif::Gtt,
            expire_time_s: s,
            ..buy()
        };
        assert_eq!(reject_of(&mut b, e), Some(RejectReason::Other));
    }
}

#[test]
fn reject_invalid_quantity() {
    let mut b = Bench::new();
    for (instrument, qty) in [(T, 0), (T, 1_000_000), (LOT, 150), (LOT, 50)] {
        let e = Enter {
            instrument,
            qty,
            ..buy()
        };
        assert_eq!(
            reject_of(&mut b, e),
            Some(RejectReason::InvalidQuantity),
            "{qty}"
        );
    }
}

#[test]
fn reject_invalid_symbol_for_unknown_or_expired_instruments() {
    let mut b = Bench::new();
    assert_eq!(
        reject_of(
            &mut b,
            Enter {
                instrument: 7,
                ..buy()
            }
        ),
        Some(RejectReason::InvalidSymbol)
    );
    b.set_state(T, TradingState::Expired);
    assert_eq!(reject_of(&mut b, buy()), Some(RejectReason::InvalidSymbol));
}

#[test]
fn reject_invalid_price_off_tick_or_zero() {
    let mut b = Bench::new();
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 1, P100 + 1)),
        Some(RejectReason::InvalidPrice)
    );
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 1, 0)),
        Some(RejectReason::InvalidPrice)
    );
}

#[test]
fn reject_crossed_market_when_post_only_cannot_be_repriced_inside_the_band() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, px(9_000)));
    let e = Enter {
        post_only: true,
        ..limit(Side::Buy, 1, px(9_000))
    };
    assert_eq!(reject_of(&mut b, e), Some(RejectReason::CrossedMarket));
}

#[test]
fn reject_max_quantity_exceeded_above_the_instrument_maximum() {
    let mut text = String::from("symbol = \"SMALL\"\ntick_size = 100\nmax_qty = 500\n");
    text.push_str("reference_price = 1000000\nband_bps = 1000\n");
    let small: tickgate::config::InstrumentConfig = toml::from_str(&text).unwrap();
    let engine = tickgate::engine::Engine::new(&config(16), &[small]).unwrap();
    let mut b = Bench::with_engine(engine);
    assert_eq!(
        reject_of(&mut b, limit(Side::Buy, 501, P100)),
        Some(RejectReason::MaxQuantityExceeded)
    );
}

#[test]
fn reject_reasons_map_one_to_one_onto_ouch_codes() {
    let mut codes: Vec<u16> = RejectReason::ALL.iter().map(|r| r.ouch_code()).collect();
    for r in RejectReason::ALL {
        assert_eq!(RejectReason::from_ouch_code(r.ouch_code()), Some(r));
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), RejectReason::ALL.len());
}

#[test]
fn a_rejected_user_ref_num_is_consumed() {
    let mut b = Bench::new();
    let (ev, p) = b.enter(limit(Side::Buy, 0, P100));
    assert!(rejected(&ev).is_some());
    assert_eq!(b.engine.next_user_ref_num(0, 0), Some(p.user_ref_num + 1));
}

// ---- self-match prevention ------------------------------------------------------

fn stp_taker(stp: StpMode, qty: u32) -> Enter {
    Enter {
        stp,
        ..limit(Side::Buy, qty, P100)
    }
}

fn aiq(ev: &[AnyEvent]) -> Vec<(tickgate::engine::OrderRef, u32, u32, Liquidity)> {
    order_events(ev)
        .iter()
        .filter_map(|e| match e {
            Ev::AiqCanceled(a) => Some((a.order, a.decrement, a.prevented, a.liquidity)),
            _ => None,
        })
        .collect()
}

#[test]
fn stp_cancel_oldest_cancels_the_resting_order_and_keeps_matching() {
    let mut b = Bench::new();
    let own = b.place(limit(Side::Sell, 10, P100));
    let other = b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Sell, 10, P100)
    });
    let (ev, taker) = b.enter(stp_taker(StpMode::CancelOldest, 5));
    assert_eq!(aiq(&ev), [(own.order, 10, 5, Liquidity::Added)]);
    assert_eq!(kinds(&ev), ["A", "D", "md:D", "E", "E", "md:E"]);
    assert_eq!(b.leaves(&own), None);
    assert_eq!(b.leaves(&other), Some(5));
    assert_eq!(b.leaves(&taker), None);
}

#[test]
fn stp_cancel_newest_cancels_the_incoming_order() {
    let mut b = Bench::new();
    let own = b.place(limit(Side::Sell, 10, P100));
    let (ev, taker) = b.enter(stp_taker(StpMode::CancelNewest, 4));
    assert_eq!(aiq(&ev), [(taker.order, 4, 4, Liquidity::Removed)]);
    assert_eq!(kinds(&ev), ["A", "D"]);
    assert_eq!(b.leaves(&own), Some(10));
    assert_eq!(b.engine.live_orders(), 1);
}

#[test]
fn stp_decrement_both_decrements_both_by_the_smaller_quantity() {
    let mut b = Bench::new();
    let own = b.place(limit(Side::Sell, 10, P100));
    let (ev, taker) = b.enter(stp_taker(StpMode::DecrementBoth, 4));
    assert_eq!(
        aiq(&ev),
        [
            (own.order, 4, 4, Liquidity::Added),
            (taker.order, 4, 4, Liquidity::Removed)
        ]
    );
    assert_eq!(kinds(&ev), ["A", "D", "D", "md:X"]);
    assert_eq!(b.leaves(&own), Some(6));
    assert_eq!(b.leaves(&taker), None);
    // The decremented shares count as done: intended size 10 leaves nothing to reduce.
    let ev = b.cancel(&own, 10);
    assert_eq!(kinds(&ev), ["?"]);
}

#[test]
fn stp_decrement_both_continues_past_a_smaller_resting_order() {
    let mut b = Bench::new();
    let own = b.place(limit(Side::Sell, 3, P100));
    b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Sell, 10, P100)
    });
    let (ev, _) = b.enter(stp_taker(StpMode::DecrementBoth, 8));
    assert_eq!(
        kinds(&ev),
        ["A", "D", "D", "md:D", "E", "E", "md:E"],
        "3 decremented, 5 traded"
    );
    assert_eq!(b.leaves(&own), None);
}

#[test]
fn stp_none_lets_the_same_firm_trade() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    let (ev, _) = b.enter(stp_taker(StpMode::None, 4));
    assert!(aiq(&ev).is_empty());
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:E"]);
}

#[test]
fn stp_does_not_apply_across_firms() {
    let mut b = Bench::new();
    b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Sell, 10, P100)
    });
    let (ev, _) = b.enter(stp_taker(StpMode::CancelNewest, 4));
    assert!(aiq(&ev).is_empty());
}

#[test]
fn min_qty_counts_no_liquidity_at_or_beyond_a_self_match() {
    let mut b = Bench::new();
    b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Sell, 5, P100)
    });
    b.place(limit(Side::Sell, 5, P100 + TICK));
    b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Sell, 5, P100 + TICK)
    });
    let e = Enter {
        tif: Tif::Ioc,
        min_qty: 10,
        ..stp_taker(StpMode::CancelOldest, 10)
    };
    let (ev, _) = b.enter(Enter {
        price: P100 + TICK,
        ..e
    });
    assert_eq!(
        kinds(&ev),
        ["A", "C"],
        "own order in the second level: not enough"
    );
}

// ---- codecs -----------------------------------------------------------------------

#[test]
fn every_event_of_a_busy_session_round_trips_through_its_record() {
    let mut b = Bench::new();
    let mut all = vec![];
    let p = b.place(Enter {
        max_floor: 10,
        ..limit(Side::Sell, 30, P100)
    });
    all.extend(
        b.enter(Enter {
            stp: StpMode::DecrementBoth,
            firm: firm_b(),
            ..limit(Side::Buy, 15, P100)
        })
        .0,
    );
    all.extend(
        b.enter(Enter {
            display: Display::Hidden,
            ..limit(Side::Buy, 5, P100 - TICK)
        })
        .0,
    );
    all.extend(b.enter(stp_taker(StpMode::DecrementBoth, 3)).0);
    all.extend(b.modify(&p, Side::SellShort, 20));
    let r = b.replace_cmd(&p, Side::SellShort, 25, P100 + TICK);
    all.extend(b.replace(&p, r).0);
    all.extend(b.set_state(T, TradingState::Halted));
    all.extend(b.enter(buy()).0);
    all.extend(b.mass_cancel(0, firm_a(), T));
    for e in &all {
        let mut buf = [0u8; RECORD_BYTES];
        match e {
            AnyEvent::Order(o) => {
                o.encode(&mut buf);
                assert_eq!(Ev::decode(&buf), Ok(*o));
            }
            AnyEvent::Market(m) => {
                let mut md = [0u8; tickgate::engine::MD_RECORD_BYTES];
                m.encode(&mut md);
                assert_eq!(MdEvent::decode(&md), Ok(*m));
            }
        }
    }
    assert!(all.len() > 20);
}

#[test]
fn every_command_kind_round_trips_through_its_record() {
    let mut b = Bench::new();
    let p = Placed {
        order: tickgate::engine::OrderRef::new(3, 9),
        session: 1,
        user_ref_idx: 2,
        user_ref_num: 77,
    };
    let cmds = [
        Command::Enter(Enter {
            tif: Tif::Gtt,
            expire_time_s: 30,
            min_qty: 5,
            ..buy()
        }),
        Command::Replace(Replace {
            min_qty: INHERIT,
            ..b.replace_cmd(&p, Side::Sell, 4, MARKET_PRICE)
        }),
        Command::SetTradingState(SetTradingState {
            ts_ns: 1,
            instrument: 3,
            state: TradingState::Halted,
        }),
        Command::Tick(tickgate::engine::command::Tick { ts_ns: u64::MAX }),
    ];
    for c in cmds {
        let mut buf = [0u8; 64];
        assert_eq!(c.encode_into(&mut buf), Some(RECORD_BYTES));
        assert_eq!(Command::decode(&buf), Ok(c));
        assert_eq!(c.encode_into(&mut buf[..RECORD_BYTES - 1]), None);
    }
}

use tickgate::engine::command::Replace;

proptest! {
    #[test]
    fn arbitrary_decoded_commands_never_panic_and_keep_the_book_sound(
        records in proptest::collection::vec(
            (prop::sample::select(b"OUXMCHST".to_vec()), proptest::collection::vec(any::<u8>(), RECORD_BYTES - 1)),
            1..200,
        )
    ) {
        let mut b = Bench::with_engine(engine_with(32));
        let mut live = vec![];
        for (kind, body) in records {
            let mut buf = vec![kind];
            buf.extend(body);
            let Ok(mut cmd) = Command::decode(&buf) else { continue };
            // Point some amendments at real orders so they reach the deep paths.
            if let (Command::Cancel(c), Some(p)) = (&mut cmd, live.last()) {
                let p: &Placed = p;
                (c.order, c.session, c.user_ref_idx, c.user_ref_num) = (p.order, p.session, p.user_ref_idx, p.user_ref_num);
            }
            for e in order_events(&b.run(cmd)) {
                if let Ev::Accepted(a) = e {
                    live.push(Placed { order: a.order, session: a.session, user_ref_idx: a.user_ref_idx, user_ref_num: a.user_ref_num });
                }
            }
        }
        let _ = b.engine.state_hash();
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Command::decode(&bytes);
        let _ = Ev::decode(&bytes);
        let _ = MdEvent::decode(&bytes);
    }

    #[test]
    fn decoded_commands_re_encode_to_the_same_record(kind in prop::sample::select(b"OUXMCHST".to_vec()),
                                                      body in proptest::collection::vec(any::<u8>(), RECORD_BYTES - 1)) {
        let mut buf = vec![kind];
        buf.extend(body);
        if let Ok(c) = Command::decode(&buf) {
            let mut out = [0u8; RECORD_BYTES];
            c.encode(&mut out);
            prop_assert_eq!(Command::decode(&out), Ok(c));
        }
    }
}
