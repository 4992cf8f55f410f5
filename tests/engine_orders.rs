//! One test per order type and per amendment: behaviour as seen in the events.

mod engine_support;

use engine_support::*;
use tickgate::engine::event::{MdEvent, OrderEvent};
use tickgate::engine::types::ALL_INSTRUMENTS;
use tickgate::engine::{CancelReason, Display, IgnoreReason, Liquidity, Side, Tif, TradingState};

#[test]
fn day_limit_order_rests_and_publishes_an_add() {
    let mut b = Bench::new();
    let (ev, p) = b.enter(limit(Side::Buy, 100, P100));
    assert_eq!(kinds(&ev), ["A", "md:A"]);
    let a = accepted(&ev).unwrap();
    assert_eq!((a.qty, a.price, a.tif), (100, P100, Tif::Day));
    match md_events(&ev)[0] {
        MdEvent::AddOrder(m) => {
            assert_eq!((m.side, m.shares, u64::from(m.price)), (b'B', 100, P100));
            assert_eq!(m.order_number, a.order_number);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&p), Some(100));
    assert_eq!(b.engine.best_prices(T), (Some(P100), None));
}

#[test]
fn orders_match_in_price_then_time_priority() {
    let mut b = Bench::new();
    let first = b.place(limit(Side::Sell, 10, P100 + TICK));
    let second = b.place(limit(Side::Sell, 10, P100));
    let third = b.place(limit(Side::Sell, 10, P100));
    let (ev, taker) = b.enter(limit(Side::Buy, 15, P100 + TICK));
    let execs: Vec<_> = order_events(&ev)
        .into_iter()
        .filter_map(|e| match e {
            OrderEvent::Executed(x) => Some((x.order, x.qty, x.price, x.match_number)),
            _ => None,
        })
        .collect();
    assert_eq!(
        execs,
        [
            (second.order, 10, P100, 1),
            (taker.order, 10, P100, 1),
            (third.order, 5, P100, 2),
            (taker.order, 5, P100, 2)
        ]
    );
    assert_eq!(b.leaves(&first), Some(10));
    assert_eq!(b.leaves(&third), Some(5));
    assert_eq!(b.leaves(&taker), None, "fully filled taker is gone");
}

#[test]
fn executions_print_itch_e_for_the_resting_order_only() {
    let mut b = Bench::new();
    let (ev, _) = b.enter(limit(Side::Sell, 10, P100));
    let maker_no = accepted(&ev).unwrap().order_number;
    let (ev, _) = b.enter(limit(Side::Buy, 4, P100));
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:E"]);
    match md_events(&ev)[0] {
        MdEvent::OrderExecuted(e) => assert_eq!((e.order_number, e.shares), (maker_no, 4)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn ioc_remainder_is_canceled_and_never_rests() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    let (ev, p) = b.enter(Enter {
        tif: Tif::Ioc,
        ..limit(Side::Buy, 25, P100)
    });
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:E", "C"]);
    match order_events(&ev)[3] {
        OrderEvent::Canceled(c) => {
            assert_eq!((c.qty, c.reason), (15, CancelReason::ImmediateOrCancel))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&p), None);
    assert_eq!(b.engine.live_orders(), 0);
}

use tickgate::engine::command::Enter;

#[test]
fn gtt_order_expires_at_its_expire_time() {
    let mut b = Bench::new();
    let p = b.place(Enter {
        tif: Tif::Gtt,
        expire_time_s: 2,
        ..limit(Side::Buy, 10, P100)
    });
    let entered_at = b.ts_ns;
    assert!(b.tick_to(entered_at + 1_999_999_999).is_empty());
    let ev = b.tick_to(entered_at + 2_000_000_000);
    assert_eq!(kinds(&ev), ["C", "md:D"]);
    match order_events(&ev)[0] {
        OrderEvent::Canceled(c) => assert_eq!((c.qty, c.reason), (10, CancelReason::Timeout)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&p), None);
}

#[test]
fn fill_or_kill_that_cannot_fill_completely_does_not_trade() {
    let mut b = Bench::new();
    let maker = b.place(limit(Side::Sell, 10, P100));
    let fok = |qty| Enter {
        tif: Tif::Ioc,
        min_qty: qty,
        ..limit(Side::Buy, qty, P100)
    };
    let (ev, _) = b.enter(fok(11));
    assert_eq!(kinds(&ev), ["A", "C"], "killed without trading");
    assert_eq!(b.leaves(&maker), Some(10));
    let (ev, _) = b.enter(fok(10));
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:E"], "filled completely");
}

#[test]
fn min_qty_order_trades_when_enough_crosses_across_levels() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    b.place(limit(Side::Sell, 10, P100 + TICK));
    let (ev, _) = b.enter(Enter {
        tif: Tif::Ioc,
        min_qty: 15,
        ..limit(Side::Buy, 30, P100 + TICK)
    });
    let executed: u32 = order_events(&ev)
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Executed(x) if x.liquidity == Liquidity::Removed => Some(x.qty),
            _ => None,
        })
        .sum();
    assert_eq!(executed, 20);
    assert_eq!(kinds(&ev).last().unwrap(), "C");
}

#[test]
fn post_only_that_would_take_is_repriced_one_tick_behind_the_contra_best() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    let (ev, p) = b.enter(Enter {
        post_only: true,
        ..limit(Side::Buy, 5, P100 + 5 * TICK)
    });
    assert_eq!(kinds(&ev), ["A", "md:A"], "no execution");
    assert_eq!(accepted(&ev).unwrap().price, P100 - TICK);
    assert_eq!(b.leaves(&p), Some(5));
    assert_eq!(b.engine.best_prices(T), (Some(P100 - TICK), Some(P100)));
}

#[test]
fn post_only_that_does_not_cross_keeps_its_price() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    let (ev, _) = b.enter(Enter {
        post_only: true,
        ..limit(Side::Buy, 5, P100 - 3 * TICK)
    });
    assert_eq!(accepted(&ev).unwrap().price, P100 - 3 * TICK);
}

#[test]
fn hidden_order_publishes_no_add_and_its_executions_print_as_trades() {
    let mut b = Bench::new();
    let (ev, hidden) = b.enter(Enter {
        display: Display::Hidden,
        ..limit(Side::Sell, 10, P100)
    });
    assert_eq!(kinds(&ev), ["A"], "no ITCH A for a hidden order");
    let (ev, _) = b.enter(limit(Side::Buy, 4, P100));
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:P"]);
    match md_events(&ev)[0] {
        MdEvent::Trade(t) => {
            assert_eq!(
                (t.order_number, t.side, t.shares, u64::from(t.price)),
                (0, b'S', 4, P100)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match order_events(&ev)[1] {
        OrderEvent::Executed(x) => assert_eq!(x.liquidity, Liquidity::AddedHidden),
        other => panic!("unexpected {other:?}"),
    }
    let ev = b.cancel(&hidden, 0);
    assert_eq!(kinds(&ev), ["C"], "no ITCH for cancelling a hidden order");
}

#[test]
fn reserve_order_shows_max_floor_and_refreshes_at_the_back_of_the_queue() {
    let mut b = Bench::new();
    let (ev, reserve) = b.enter(Enter {
        max_floor: 10,
        ..limit(Side::Sell, 25, P100)
    });
    match md_events(&ev)[0] {
        MdEvent::AddOrder(a) => assert_eq!(a.shares, 10),
        other => panic!("unexpected {other:?}"),
    }
    let behind = b.place(limit(Side::Sell, 7, P100));
    // Takes the displayed 10: the reserve refreshes behind `behind`.
    let (ev, _) = b.enter(limit(Side::Buy, 10, P100));
    assert_eq!(kinds(&ev), ["A", "E", "E", "md:E", "R", "md:A"]);
    match order_events(&ev)[3] {
        OrderEvent::Restated(r) => assert_eq!(r.display_qty, 10),
        other => panic!("unexpected {other:?}"),
    }
    // Next taker hits `behind` first, then the refreshed reserve.
    let (ev, _) = b.enter(limit(Side::Buy, 9, P100));
    let makers: Vec<_> = order_events(&ev)
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Executed(x) if x.liquidity == Liquidity::Added => Some((x.order, x.qty)),
            _ => None,
        })
        .collect();
    assert_eq!(makers, [(behind.order, 7), (reserve.order, 2)]);
    assert_eq!(b.leaves(&reserve), Some(13));
}

#[test]
fn reserve_order_can_fill_completely_in_one_sweep() {
    let mut b = Bench::new();
    let reserve = b.place(Enter {
        max_floor: 10,
        ..limit(Side::Sell, 25, P100)
    });
    let (ev, _) = b.enter(limit(Side::Buy, 30, P100));
    assert_eq!(b.leaves(&reserve), None);
    let restated = kinds(&ev).iter().filter(|k| *k == "R").count();
    assert_eq!(restated, 2, "refreshed twice: 10 + 10 + 5");
}

#[test]
fn market_order_sweeps_to_the_band_limit_as_ioc() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 10, P100));
    b.place(limit(Side::Sell, 10, px(10_900)));
    let (ev, p) = b.enter(limit(Side::Buy, 30, tickgate::engine::types::MARKET_PRICE));
    let a = accepted(&ev).unwrap();
    assert_eq!((a.price, a.tif), (px(11_000), Tif::Ioc));
    assert_eq!(kinds(&ev).last().unwrap(), "C", "unfilled 10 cancelled");
    assert_eq!(b.leaves(&p), None);
    assert_eq!(b.engine.best_prices(T), (None, None));
}

#[test]
fn cancel_to_an_intended_quantity_keeps_priority() {
    let mut b = Bench::new();
    let first = b.place(limit(Side::Sell, 10, P100));
    let second = b.place(limit(Side::Sell, 10, P100));
    let ev = b.cancel(&first, 4);
    assert_eq!(kinds(&ev), ["C", "md:X"]);
    match md_events(&ev)[0] {
        MdEvent::OrderCancel(x) => assert_eq!(x.shares, 6),
        other => panic!("unexpected {other:?}"),
    }
    let (ev, _) = b.enter(limit(Side::Buy, 4, P100));
    match order_events(&ev)[1] {
        OrderEvent::Executed(x) => assert_eq!(x.order, first.order, "still first in line"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&second), Some(10));
}

#[test]
fn cancel_with_zero_cancels_all_and_deletes() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let ev = b.cancel(&p, 0);
    assert_eq!(kinds(&ev), ["C", "md:D"]);
    assert_eq!(b.leaves(&p), None);
    let ev = b.cancel(&p, 0);
    assert_eq!(kinds(&ev), ["?"], "superfluous cancel is ignored");
}

#[test]
fn cancel_intended_quantity_counts_executed_shares() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Sell, 500, P100));
    b.place(limit(Side::Buy, 100, P100));
    // Intended 300 of which 100 executed: 200 stay open.
    let ev = b.cancel(&p, 300);
    match order_events(&ev)[0] {
        OrderEvent::Canceled(c) => assert_eq!(c.qty, 200),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&p), Some(200));
    let ev = b.cancel(&p, 300);
    match order_events(&ev)[0] {
        OrderEvent::Ignored(i) => assert_eq!(i.reason, IgnoreReason::QuantityNotReduced),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn replace_loses_priority_and_publishes_an_itch_replace() {
    let mut b = Bench::new();
    let (ev, first) = b.enter(limit(Side::Sell, 10, P100));
    let old_no = accepted(&ev).unwrap().order_number;
    let second = b.place(limit(Side::Sell, 10, P100));
    let r = b.replace_cmd(&first, Side::Sell, 10, P100);
    let (ev, first) = b.replace(&first, r);
    assert_eq!(kinds(&ev), ["U", "md:U"]);
    let new_no = match order_events(&ev)[0] {
        OrderEvent::Replaced(x) => {
            assert_eq!((x.qty, x.order), (10, first.order));
            x.order_number
        }
        other => panic!("unexpected {other:?}"),
    };
    match md_events(&ev)[0] {
        MdEvent::OrderReplace(u) => {
            assert_eq!((u.orig_order_number, u.order_number), (old_no, new_no))
        }
        other => panic!("unexpected {other:?}"),
    }
    let (ev, _) = b.enter(limit(Side::Buy, 10, P100));
    match order_events(&ev)[1] {
        OrderEvent::Executed(x) => {
            assert_eq!(x.order, second.order, "replaced order lost priority")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&first), Some(10));
}

#[test]
fn replace_quantity_includes_executed_shares() {
    // The spec's example: 500 entered, 100 executed, Replace with 500 → 400 exposed.
    let mut b = Bench::new();
    let p = b.place(limit(Side::Sell, 500, P100));
    b.place(limit(Side::Buy, 100, P100));
    let r = b.replace_cmd(&p, Side::Sell, 500, P100 + TICK);
    let (ev, p) = b.replace(&p, r);
    match order_events(&ev)[0] {
        OrderEvent::Replaced(x) => assert_eq!((x.qty, x.price), (400, P100 + TICK)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&p), Some(400));
    // Replace with 100 (== executed): nothing left exposed, the order is dead.
    let r = b.replace_cmd(&p, Side::Sell, 100, P100 + TICK);
    let (ev, p) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["U", "md:D"]);
    assert_eq!(b.leaves(&p), None);
}

#[test]
fn replace_that_crosses_deletes_then_trades_then_rests() {
    let mut b = Bench::new();
    b.place(limit(Side::Sell, 5, P100));
    let p = b.place(limit(Side::Buy, 10, P100 - TICK));
    let r = b.replace_cmd(&p, Side::Buy, 10, P100);
    let (ev, p) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["U", "md:D", "E", "E", "md:E", "md:A"]);
    assert_eq!(b.leaves(&p), Some(5));
}

#[test]
fn replace_with_invalid_details_cancels_the_original() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let r = b.replace_cmd(&p, Side::Buy, 1_000_000, P100);
    let urn = r.user_ref_num;
    let (ev, _) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["C", "md:D"]);
    match order_events(&ev)[0] {
        OrderEvent::Canceled(c) => assert_eq!(c.reason, CancelReason::System),
        other => panic!("unexpected {other:?}"),
    }
    // The replacement UserRefNum was not consumed.
    assert_eq!(b.engine.next_user_ref_num(0, 0), Some(urn));
}

#[test]
fn replace_of_a_dead_order_is_ignored_without_consuming_the_user_ref_num() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    b.cancel(&p, 0);
    let r = b.replace_cmd(&p, Side::Buy, 10, P100);
    let urn = r.user_ref_num;
    let (ev, _) = b.replace(&p, r);
    match order_events(&ev)[0] {
        OrderEvent::Ignored(i) => assert_eq!(i.reason, IgnoreReason::UnknownOrder),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.engine.next_user_ref_num(0, 0), Some(urn));
}

#[test]
fn replace_that_changes_the_book_side_cancels_the_original() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let r = b.replace_cmd(&p, Side::Sell, 10, P100);
    let (ev, _) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["C", "md:D"]);
}

#[test]
fn replace_can_hide_and_unhide_an_order() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let r = tickgate::engine::command::Replace {
        display: Display::Hidden,
        ..b.replace_cmd(&p, Side::Buy, 10, P100)
    };
    let (ev, p) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["U", "md:D"]);
    let r = b.replace_cmd(&p, Side::Buy, 10, P100);
    let (ev, _) = b.replace(&p, r);
    assert_eq!(kinds(&ev), ["U", "md:A"]);
}

#[test]
fn modify_swaps_among_sell_sides_and_reduces_keeping_priority() {
    let mut b = Bench::new();
    let first = b.place(limit(Side::Sell, 10, P100));
    b.place(limit(Side::Sell, 10, P100));
    let ev = b.modify(&first, Side::SellShort, 6);
    assert_eq!(kinds(&ev), ["M", "md:X"]);
    match order_events(&ev)[0] {
        OrderEvent::Modified(m) => assert_eq!((m.side, m.qty), (Side::SellShort, 6)),
        other => panic!("unexpected {other:?}"),
    }
    let (ev, _) = b.enter(limit(Side::Buy, 1, P100));
    match order_events(&ev)[1] {
        OrderEvent::Executed(x) => assert_eq!(x.order, first.order),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn modify_from_buy_to_sell_or_upwards_is_ignored() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let reasons: Vec<_> = [b.modify(&p, Side::Sell, 10), b.modify(&p, Side::Buy, 11)]
        .iter()
        .map(|ev| match order_events(ev)[0] {
            OrderEvent::Ignored(i) => i.reason,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            IgnoreReason::InvalidSideChange,
            IgnoreReason::QuantityNotReduced
        ]
    );
    assert_eq!(b.leaves(&p), Some(10));
}

#[test]
fn mass_cancel_cancels_the_firms_orders_optionally_for_one_symbol() {
    let mut b = Bench::new();
    let a1 = b.place(limit(Side::Buy, 10, P100));
    let a2 = b.place(Enter {
        instrument: LOT,
        ..limit(Side::Buy, 100, P100)
    });
    let other_firm = b.place(Enter {
        firm: firm_b(),
        ..limit(Side::Buy, 10, P100)
    });
    let other_session = b.place(Enter {
        session: 1,
        ..limit(Side::Buy, 10, P100)
    });
    let ev = b.mass_cancel(0, firm_a(), LOT);
    assert_eq!(kinds(&ev), ["C", "md:D", "X"]);
    assert_eq!(b.leaves(&a2), None);
    assert_eq!(b.leaves(&a1), Some(10));
    let ev = b.mass_cancel(0, firm_a(), ALL_INSTRUMENTS);
    match order_events(&ev).last().unwrap() {
        OrderEvent::MassCancelResponse(x) => assert_eq!(x.canceled, 1),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(b.leaves(&a1), None);
    assert_eq!(b.leaves(&other_firm), Some(10));
    assert_eq!(b.leaves(&other_session), Some(10));
}

#[test]
fn user_ref_num_must_increase_per_channel_and_retransmissions_are_ignored() {
    let mut b = Bench::new();
    let e = Enter {
        user_ref_num: 5,
        ..limit(Side::Buy, 10, P100)
    };
    let (ev, _) = b.enter(e);
    assert_eq!(kinds(&ev), ["A", "md:A"]);
    let (ev, _) = b.enter(e);
    match order_events(&ev)[0] {
        OrderEvent::Ignored(i) => assert_eq!(i.reason, IgnoreReason::UserRefNumNotIncreasing),
        other => panic!("unexpected {other:?}"),
    }
    let (ev, _) = b.enter(Enter {
        user_ref_idx: 1,
        ..e
    });
    assert_eq!(
        kinds(&ev),
        ["A", "md:A"],
        "another channel has its own sequence"
    );
    assert_eq!(b.engine.next_user_ref_num(0, 0), Some(6));
}

#[test]
fn halt_rejects_new_orders_and_partial_cancels_but_allows_full_cancels() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let ev = b.set_state(T, TradingState::Halted);
    assert_eq!(kinds(&ev), ["md:H"]);
    let ev = b.cancel(&p, 5);
    assert_eq!(kinds(&ev), ["I"]);
    let ev = b.cancel(&p, 0);
    assert_eq!(kinds(&ev), ["C", "md:D"]);
    b.set_state(T, TradingState::Trading);
    let (ev, _) = b.enter(limit(Side::Buy, 10, P100));
    assert_eq!(kinds(&ev), ["A", "md:A"]);
}

#[test]
fn close_cancels_every_resting_order_best_first() {
    let mut b = Bench::new();
    let low = b.place(limit(Side::Buy, 10, P100 - TICK));
    let high = b.place(limit(Side::Buy, 10, P100));
    let ask = b.place(limit(Side::Sell, 10, P100 + TICK));
    let ev = b.set_state(T, TradingState::Closed);
    let order: Vec<_> = order_events(&ev)
        .iter()
        .map(|e| match e {
            OrderEvent::Canceled(c) => (c.order, c.reason),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let closed = CancelReason::Closed;
    assert_eq!(
        order,
        [
            (high.order, closed),
            (low.order, closed),
            (ask.order, closed)
        ]
    );
    assert_eq!(b.engine.live_orders(), 0);
}

#[test]
fn expiry_cancels_every_resting_order_and_is_final() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let ev = b.set_state(T, TradingState::Expired);
    assert_eq!(kinds(&ev), ["md:H", "C", "md:D"]);
    assert_eq!(b.leaves(&p), None);
    let ev = b.set_state(T, TradingState::Trading);
    assert_eq!(kinds(&ev), ["?"]);
    assert_eq!(b.engine.trading_state(T), Some(TradingState::Expired));
}

#[test]
fn a_stale_order_ref_never_reaches_the_order_that_reuses_its_slot() {
    let mut b = Bench::new();
    let old = b.place(limit(Side::Buy, 10, P100));
    b.cancel(&old, 0);
    let new = b.place(limit(Side::Buy, 10, P100));
    assert_eq!(old.order.index(), new.order.index(), "slot reused");
    let forged = Placed {
        user_ref_num: new.user_ref_num,
        ..old
    };
    let ev = b.cancel(&forged, 0);
    assert_eq!(kinds(&ev), ["?"]);
    assert_eq!(b.leaves(&new), Some(10));
}

#[test]
fn an_order_ref_of_another_session_is_ignored() {
    let mut b = Bench::new();
    let p = b.place(limit(Side::Buy, 10, P100));
    let ev = b.cancel(&Placed { session: 1, ..p }, 0);
    assert_eq!(kinds(&ev), ["?"]);
    assert_eq!(b.leaves(&p), Some(10));
}

#[test]
fn start_of_messages_publishes_the_directory_and_trading_states() {
    let mut b = Bench::new();
    let ev = b.run(tickgate::engine::Command::SystemEvent(
        tickgate::engine::command::SystemEvent {
            ts_ns: 5,
            code: b'O',
        },
    ));
    assert_eq!(kinds(&ev), ["md:S", "md:R", "md:H", "md:R", "md:H"]);
}

#[test]
fn unknown_session_is_ignored() {
    let mut b = Bench::new();
    let (ev, _) = b.enter(Enter {
        session: 9,
        user_ref_num: 1,
        ..limit(Side::Buy, 10, P100)
    });
    match order_events(&ev)[0] {
        OrderEvent::Ignored(i) => assert_eq!(i.reason, IgnoreReason::UnknownSession),
        other => panic!("unexpected {other:?}"),
    }
}
