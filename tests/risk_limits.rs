//! Pre-trade limits in the core: each limit accepts exactly at its boundary and rejects
//! one step beyond; the kill switch blocks and cancels; rejected UserRefNums are
//! consumed.

use tickgate::config::{AccountRiskConfig, Config};
use tickgate::engine::command::{Cancel, Enter, Replace};
use tickgate::engine::types::{MARKET_PRICE, firm_id};
use tickgate::engine::{
    AnyEvent, Command, Display, Engine, IgnoreReason, OrderEvent, OrderRef, RejectReason, Side,
    StpMode, Tif, VecSink,
};
use tickgate::proto::ouch;
use tickgate::risk::{AccountLimits, AccountRisk, Limit, RiskCore, RiskReject, Screen};

/// AAPL in the embedded config: tick $0.01, reference $190.00, band ±10%.
const AAPL: u16 = 0;
const TICK: u64 = 100;
const REF: u64 = 1_900_000;

struct Venue {
    core: RiskCore,
    urn: [u32; 4],
    ts_ns: u64,
}

impl Venue {
    /// DEMO1 (session 0) has `limits`; DEMO2 (session 1) none.
    fn new(limits: AccountLimits) -> Self {
        let mut config = Config::embedded();
        config.engine.max_orders = 4096;
        config.engine.max_sessions = 4;
        let engine = Engine::from_config(&config).expect("engine");
        let accounts = [
            AccountRisk {
                firm: firm_id("DEM1"),
                limits,
            },
            AccountRisk {
                firm: firm_id("DEM2"),
                limits: AccountLimits::UNLIMITED,
            },
        ];
        Venue {
            core: RiskCore::new(engine, 4096, 4, &accounts),
            urn: [0; 4],
            ts_ns: 1_000,
        }
    }

    fn run(&mut self, cmd: &Command) -> Vec<OrderEvent> {
        let mut sink = VecSink::default();
        self.core.process(cmd, &mut sink);
        self.ts_ns += 1_000;
        sink.events
            .into_iter()
            .filter_map(|e| match e {
                AnyEvent::Order(o) => Some(o),
                AnyEvent::Market(_) => None,
            })
            .collect()
    }

    fn enter_cmd(&mut self, session: u16, side: Side, qty: u32, price: u64, tif: Tif) -> Enter {
        self.urn[usize::from(session)] += 1;
        Enter {
            ts_ns: self.ts_ns,
            session,
            user_ref_idx: 0,
            user_ref_num: self.urn[usize::from(session)],
            instrument: AAPL,
            side,
            qty,
            price,
            tif,
            display: Display::Visible,
            post_only: false,
            stp: StpMode::None,
            firm: firm_id(if session == 0 { "DEM1" } else { "DEM2" }),
            min_qty: 0,
            max_floor: 0,
            expire_time_s: 0,
        }
    }

    fn enter(&mut self, session: u16, side: Side, qty: u32, price: u64) -> Vec<OrderEvent> {
        let e = self.enter_cmd(session, side, qty, price, Tif::Day);
        self.run(&Command::Enter(e))
    }

    fn cancel(&mut self, session: u16, order: OrderRef, user_ref_num: u32) -> Vec<OrderEvent> {
        let c = Cancel {
            ts_ns: self.ts_ns,
            session,
            user_ref_idx: 0,
            user_ref_num,
            order,
            qty: 0,
        };
        self.run(&Command::Cancel(c))
    }
}

fn accepted(events: &[OrderEvent]) -> Option<(OrderRef, u32)> {
    events.iter().find_map(|e| match e {
        OrderEvent::Accepted(a) => Some((a.order, a.user_ref_num)),
        _ => None,
    })
}

fn rejected(events: &[OrderEvent]) -> Option<RejectReason> {
    events.iter().find_map(|e| match e {
        OrderEvent::Rejected(j) => Some(j.reason),
        _ => None,
    })
}

fn assert_accepted(events: &[OrderEvent]) -> (OrderRef, u32) {
    accepted(events).unwrap_or_else(|| panic!("not accepted: {events:?}"))
}

fn assert_risk_rejected(events: &[OrderEvent], why: RiskReject) {
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(rejected(events), Some(why.engine_reason()), "{events:?}");
}

fn limits(f: impl FnOnce(&mut AccountLimits)) -> AccountLimits {
    let mut l = AccountLimits::UNLIMITED;
    f(&mut l);
    l
}

#[test]
fn max_order_qty_accepts_the_limit_and_rejects_one_share_more() {
    let mut v = Venue::new(limits(|l| l.max_order_qty = 500));
    assert_accepted(&v.enter(0, Side::Buy, 500, REF));
    assert_risk_rejected(
        &v.enter(0, Side::Buy, 501, REF),
        RiskReject::MaxQuantityExceeded,
    );
    assert_risk_rejected(
        &v.enter(0, Side::Sell, 501, REF),
        RiskReject::MaxQuantityExceeded,
    );
    assert_eq!(v.core.counters().rejects[Limit::OrderQty as usize], 2);
    assert_eq!(v.core.open_orders(0), Some(1));
}

#[test]
fn max_order_notional_from_config_accepts_the_limit_and_rejects_one_step_more() {
    // $19,000 = 100 shares at $190.00.
    let cfg = AccountRiskConfig {
        max_order_notional: 19_000,
        max_order_qty: 0,
        max_open_orders: 0,
        max_position: 0,
        collar_bps: 0,
        ..AccountRiskConfig::default()
    };
    let mut v = Venue::new(AccountLimits::from_config(&cfg));
    assert_accepted(&v.enter(0, Side::Buy, 100, REF));
    assert_accepted(&v.enter(0, Side::Sell, 95, REF + 10 * TICK));
    let why = RiskReject::SingleOrderNotionalExceeded;
    assert_risk_rejected(&v.enter(0, Side::Buy, 101, REF), why);
    assert_risk_rejected(&v.enter(0, Side::Buy, 100, REF + TICK), why);
    assert_eq!(v.core.counters().rejects[Limit::OrderNotional as usize], 2);
}

#[test]
fn market_order_notional_is_taken_at_the_band_edge() {
    let band_high = 2_090_000;
    let mut v = Venue::new(limits(|l| l.max_order_notional = 10 * band_high));
    let ok = v.enter_cmd(0, Side::Buy, 10, MARKET_PRICE, Tif::Ioc);
    assert!(rejected(&v.run(&Command::Enter(ok))).is_none());
    let over = v.enter_cmd(0, Side::Buy, 11, MARKET_PRICE, Tif::Ioc);
    assert_risk_rejected(
        &v.run(&Command::Enter(over)),
        RiskReject::SingleOrderNotionalExceeded,
    );
}

#[test]
fn max_open_orders_accepts_the_limit_and_frees_a_place_when_one_dies() {
    let mut v = Venue::new(limits(|l| l.max_open_orders = 3));
    let first = assert_accepted(&v.enter(0, Side::Buy, 100, REF - TICK));
    assert_accepted(&v.enter(0, Side::Buy, 100, REF - 2 * TICK));
    assert_accepted(&v.enter(0, Side::Sell, 100, REF + TICK));
    assert_eq!(v.core.open_orders(0), Some(3));
    let why = RiskReject::AggregateExposureExceeded;
    assert_risk_rejected(&v.enter(0, Side::Buy, 100, REF - 3 * TICK), why);
    // Another account is not affected.
    assert_accepted(&v.enter(1, Side::Buy, 100, REF - 3 * TICK));
    v.cancel(0, first.0, first.1);
    assert_eq!(v.core.open_orders(0), Some(2));
    assert_accepted(&v.enter(0, Side::Buy, 100, REF - 3 * TICK));
    // An order that fills completely is not open: a 4th order trades against DEMO2.
    let fill = v.enter_cmd(0, Side::Sell, 100, REF - 3 * TICK, Tif::Ioc);
    assert_risk_rejected(&v.run(&Command::Enter(fill)), why);
    assert_eq!(v.core.counters().rejects[Limit::OpenOrders as usize], 2);
}

#[test]
fn max_position_counts_fills_plus_open_same_side_quantity() {
    let mut v = Venue::new(limits(|l| l.max_position = 1_000));
    let why = RiskReject::AggregateExposureExceeded;
    // Open quantity: 600 + 400 resting bids reach the limit exactly.
    assert_accepted(&v.enter(0, Side::Buy, 600, REF));
    assert_accepted(&v.enter(0, Side::Buy, 400, REF));
    assert_risk_rejected(&v.enter(0, Side::Buy, 1, REF - TICK), why);
    // DEMO2 sells 1000 into them: position +1000, nothing open.
    v.enter(1, Side::Sell, 1_000, REF);
    assert_eq!(v.core.position(0, AAPL), Some(1_000));
    assert_eq!(v.core.position(1, AAPL), Some(-1_000));
    let e = v.core.exposure(0, AAPL).expect("exposure");
    assert_eq!((e.open_buy, e.open_sell), (0, 0));
    assert_risk_rejected(&v.enter(0, Side::Buy, 1, REF - TICK), why);
    // Selling reduces the position: up to 2000 may be offered (−1000 worst case).
    assert_accepted(&v.enter(0, Side::Sell, 2_000, REF + TICK));
    assert_risk_rejected(&v.enter(0, Side::Sell, 1, REF + TICK), why);
    assert_risk_rejected(&v.enter(0, Side::SellShort, 1, REF + TICK), why);
    assert_eq!(v.core.counters().rejects[Limit::Position as usize], 4);
}

#[test]
fn collar_in_bps_accepts_its_edge_and_rejects_one_tick_beyond_on_the_aggressive_side() {
    // 1% of $190.00 = $1.90.
    let mut v = Venue::new(limits(|l| l.collar_bps = 100));
    let why = RiskReject::FatFinger;
    assert_accepted(&v.enter(0, Side::Buy, 1, REF + 19_000));
    assert_risk_rejected(&v.enter(0, Side::Buy, 1, REF + 19_000 + TICK), why);
    assert_accepted(&v.enter(0, Side::Sell, 1, REF - 19_000));
    assert_risk_rejected(&v.enter(0, Side::Sell, 1, REF - 19_000 - TICK), why);
    // Passive prices far away are not collared (the band still applies).
    assert_accepted(&v.enter(0, Side::Buy, 1, REF - 100_000));
    assert_accepted(&v.enter(0, Side::Sell, 1, REF + 100_000));
    // Outside the band the engine's own reject (0x0006) applies, not the collar.
    let band = v.enter(0, Side::Buy, 1, 2_090_000 + TICK);
    assert_eq!(rejected(&band), Some(RejectReason::FatFinger));
    assert_eq!(v.core.counters().rejects[Limit::Collar as usize], 2);
    // Market orders are bounded by the band, not the collar.
    let mkt = v.enter_cmd(0, Side::Buy, 1, MARKET_PRICE, Tif::Ioc);
    assert!(rejected(&v.run(&Command::Enter(mkt))).is_none());
}

#[test]
fn collar_follows_the_last_trade_and_the_tighter_of_bps_and_ticks_applies() {
    let mut v = Venue::new(limits(|l| {
        l.collar_bps = 100;
        l.collar_ticks = 5;
    }));
    let why = RiskReject::FatFinger;
    assert_accepted(&v.enter(0, Side::Buy, 1, REF + 5 * TICK));
    assert_risk_rejected(&v.enter(0, Side::Buy, 1, REF + 6 * TICK), why);
    // A trade at $189.00 moves the reference.
    let traded = REF - 100 * TICK;
    v.enter(1, Side::Buy, 10, traded);
    v.enter(1, Side::Sell, 10, traded);
    assert_eq!(v.core.reference_price(AAPL), Some(traded));
    assert_risk_rejected(&v.enter(0, Side::Sell, 1, traded - 6 * TICK), why);
    assert_accepted(&v.enter(0, Side::Sell, 1, traded - 5 * TICK));
}

#[test]
fn a_risk_rejected_user_ref_num_is_consumed() {
    let mut v = Venue::new(limits(|l| l.max_order_qty = 10));
    let e = v.enter_cmd(0, Side::Buy, 11, REF, Tif::Day);
    assert_risk_rejected(&v.run(&Command::Enter(e)), RiskReject::MaxQuantityExceeded);
    assert_eq!(
        v.core.engine().next_user_ref_num(0, 0),
        Some(e.user_ref_num + 1)
    );
    // The same UserRefNum again (now within limits) is a retransmission.
    let again = v.run(&Command::Enter(Enter { qty: 10, ..e }));
    assert!(
        matches!(again[..], [OrderEvent::Ignored(i)] if i.reason == IgnoreReason::UserRefNumNotIncreasing),
        "{again:?}"
    );
    assert_accepted(&v.enter(0, Side::Buy, 10, REF));
}

#[test]
fn a_replace_over_a_limit_is_rejected_keeps_the_order_and_consumes_its_number() {
    let mut v = Venue::new(limits(|l| l.max_position = 1_000));
    let (order, urn) = assert_accepted(&v.enter(0, Side::Buy, 600, REF - TICK));
    let replace = |v: &mut Venue, qty: u32| {
        v.urn[0] += 1;
        Replace {
            ts_ns: v.ts_ns,
            session: 0,
            user_ref_idx: 0,
            user_ref_num: v.urn[0],
            orig_user_ref_num: urn,
            order,
            qty,
            price: REF - TICK,
            tif: Tif::Day,
            display: Display::Visible,
            post_only: false,
            side: Side::Buy,
            min_qty: u32::MAX,
            max_floor: u32::MAX,
            expire_time_s: u32::MAX,
        }
    };
    let r = replace(&mut v, 1_001);
    assert_risk_rejected(
        &v.run(&Command::Replace(r)),
        RiskReject::AggregateExposureExceeded,
    );
    assert_eq!(v.core.engine().order_leaves(order), Some(600));
    assert_eq!(v.core.exposure(0, AAPL).map(|e| e.open_buy), Some(600));
    let again = v.run(&Command::Replace(Replace { qty: 900, ..r }));
    assert!(
        matches!(again[..], [OrderEvent::Ignored(i)] if i.reason == IgnoreReason::UserRefNumNotIncreasing),
        "{again:?}"
    );
    // At the limit exactly it goes through.
    let ok = replace(&mut v, 1_000);
    let events = v.run(&Command::Replace(ok));
    assert!(
        matches!(events[..], [OrderEvent::Replaced(_)]),
        "{events:?}"
    );
    assert_eq!(v.core.exposure(0, AAPL).map(|e| e.open_buy), Some(1_000));
}

#[test]
fn kill_switch_blocks_and_cancels_then_enable_restores() {
    let mut v = Venue::new(AccountLimits::UNLIMITED);
    for i in 1..=3 {
        assert_accepted(&v.enter(0, Side::Buy, 100, REF - i * TICK));
    }
    assert_accepted(&v.enter(1, Side::Sell, 100, REF + TICK));
    let mut sink = VecSink::default();
    assert_eq!(v.core.kill(0, v.ts_ns, &mut sink), 3);
    let canceled = sink
        .events
        .iter()
        .filter(|e| matches!(e, AnyEvent::Order(OrderEvent::Canceled(c)) if c.session == 0))
        .count();
    assert_eq!(canceled, 3);
    assert_eq!(v.core.open_orders(0), Some(0));
    assert_eq!(v.core.engine().live_orders(), 1, "DEMO2's order stays");
    assert!(v.core.is_blocked(0));
    assert_risk_rejected(
        &v.enter(0, Side::Buy, 100, REF),
        RiskReject::FirmNotAuthorized,
    );
    assert_accepted(&v.enter(1, Side::Buy, 100, REF - TICK));
    v.core.enable(0);
    assert!(!v.core.is_blocked(0));
    assert_accepted(&v.enter(0, Side::Buy, 100, REF - TICK));
    assert_eq!(v.core.counters().kill_cancels, 3);
    assert_eq!(v.core.counters().rejects[Limit::Blocked as usize], 1);
}

#[test]
fn kill_by_firm_and_disable_without_cancel() {
    let mut v = Venue::new(AccountLimits::UNLIMITED);
    let (order, urn) = assert_accepted(&v.enter(1, Side::Buy, 100, REF - TICK));
    v.core.disable(1);
    assert_risk_rejected(
        &v.enter(1, Side::Buy, 1, REF - TICK),
        RiskReject::FirmNotAuthorized,
    );
    assert_eq!(
        v.core.engine().order_leaves(order),
        Some(100),
        "disable keeps orders"
    );
    // Cancels still work while blocked.
    let events = v.cancel(1, order, urn);
    assert!(
        matches!(events[..], [OrderEvent::Canceled(_)]),
        "{events:?}"
    );
    v.core.enable(1);
    assert_accepted(&v.enter(1, Side::Buy, 100, REF - TICK));
    assert_eq!(
        v.core
            .kill_firm(firm_id("DEM2"), v.ts_ns, &mut VecSink::default()),
        1
    );
    assert!(v.core.is_blocked(1) && !v.core.is_blocked(0));
}

#[test]
fn malformed_orders_get_the_engines_reject_not_a_risk_reject() {
    let mut v = Venue::new(limits(|l| l.max_order_qty = 10));
    let e = v.enter_cmd(0, Side::Buy, 1_000_000, REF, Tif::Day);
    assert_eq!(v.core.screen(&Command::Enter(e)), Screen::Pass);
    assert_eq!(
        rejected(&v.run(&Command::Enter(e))),
        Some(RejectReason::InvalidQuantity)
    );
    let mut bad = v.enter_cmd(0, Side::Buy, 1, REF, Tif::Day);
    bad.instrument = 999;
    assert_eq!(
        rejected(&v.run(&Command::Enter(bad))),
        Some(RejectReason::InvalidSymbol)
    );
    assert_eq!(v.core.counters().rejects.iter().sum::<u64>(), 0);
}

#[test]
fn each_reason_has_one_ouch_code() {
    for r in RiskReject::ALL {
        assert_eq!(r.ouch().code(), r.ouch_code());
        assert_eq!(ouch::RejectReason::from_code(r.ouch_code()), Some(r.ouch()));
    }
    let mut codes: Vec<u16> = RiskReject::ALL.iter().map(|r| r.ouch_code()).collect();
    codes.dedup();
    assert_eq!(codes.len(), RiskReject::ALL.len());
    assert_eq!(RiskReject::MaxQuantityExceeded.ouch_code(), 0x0031);
    assert_eq!(RiskReject::SingleOrderNotionalExceeded.ouch_code(), 0x0030);
    assert_eq!(RiskReject::AggregateExposureExceeded.ouch_code(), 0x0020);
    assert_eq!(RiskReject::FatFinger.ouch_code(), 0x0026);
    assert_eq!(RiskReject::FirmNotAuthorized.ouch_code(), 0x000C);
    assert_eq!(RiskReject::PortMessageRateRestriction.ouch_code(), 0x0029);
    assert_eq!(RiskReject::ProcessingError.ouch_code(), 0x000A);
    for l in Limit::ALL {
        assert!(RiskReject::ALL.contains(&l.reject()));
        // What the core rejects with carries exactly the limit's OUCH code.
        assert_eq!(
            l.reject().engine_reason().ouch_code(),
            l.reject().ouch_code()
        );
    }
}
