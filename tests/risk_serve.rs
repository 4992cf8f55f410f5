//! Pre-trade risk through `tickgate serve`, over real TCP: every wired account limit
//! accepts at its boundary and rejects one step beyond; OUCH Disable / Enable Order
//! Entry; the message throttle's reject, then logout and cancel-on-disconnect; overload
//! (a flood past the command ring's high-water mark: new orders busy-rejected, cancels
//! pass, every order answered exactly once); a restart rebuilds positions and blocks
//! from the journal, and other limits refuse the journal.
//!
//! The operator kill switch through the real binary is in `tests/risk_admin.rs`.

mod serve_support;

use std::time::Duration;

use serve_support::*;
use tickgate::client::{Client, LoginParams};
use tickgate::config::Config;
use tickgate::proto::ouch::{
    self, DisableOrderEntry, EnableOrderEntry, Inbound, Options, Outbound, Price, RejectReason,
    Side, Symbol,
};
use tickgate::server::{Running, StartOptions};

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

/// Dollars and cents as an OUCH price (4 implied decimals): `px(19000)` = $190.00.
fn px(cents: u64) -> Price {
    Price(cents * 100)
}

/// Sets `[risk.account.USER] key = value`.
fn limit(c: &mut Config, user: &str, key: &str, value: i64) {
    c.risk
        .account
        .entry(user.to_string())
        .or_default()
        .insert(key.into(), toml::Value::Integer(value));
}

/// Logs in a generated account (`U0000`…, password `pw`).
fn login_pw(s: &Running, user: &str) -> Client {
    let params = LoginParams::new(user, "pw").from_sequence(0);
    let mut c = Client::connect(s.addr, &params).expect("login");
    c.set_heartbeat_interval(Duration::from_millis(500));
    c
}

/// Enters a buy and returns (its UserRefNum, the answer).
fn buy(c: &mut Client, qty: u32, price: Price) -> (u32, Outbound) {
    let urn = c.enter_order(Side::Buy, qty, aapl(), price).unwrap();
    let (_, m) = next(c);
    (urn, m)
}

fn assert_accepted(m: &Outbound, urn: u32) {
    match m {
        Outbound::OrderAccepted(a) => assert_eq!(a.user_ref_num, urn),
        other => panic!("expected Accepted for {urn}, got {other:?}"),
    }
}

fn assert_rejected(m: &Outbound, urn: u32, reason: RejectReason) {
    match m {
        Outbound::OrderRejected(j) => {
            assert_eq!((j.user_ref_num, j.reason), (urn, reason), "{m:?}");
        }
        other => panic!("expected Rejected {reason:?} for {urn}, got {other:?}"),
    }
}

/// Accepted at `ok`, rejected with `reason` at `beyond` (both buys of AAPL).
fn boundary(c: &mut Client, ok: (u32, Price), beyond: (u32, Price), reason: RejectReason) {
    let (urn, m) = buy(c, ok.0, ok.1);
    assert_accepted(&m, urn);
    let (urn, m) = buy(c, beyond.0, beyond.1);
    assert_rejected(&m, urn, reason);
}

#[test]
fn each_limit_accepts_at_its_boundary_and_rejects_one_step_beyond() {
    let mut cfg = config(4);
    limit(&mut cfg, "DEMO1", "collar_bps", 100); // AAPL reference $190.00: ±$1.90
    limit(&mut cfg, "U0000", "max_order_qty", 500);
    limit(&mut cfg, "U0001", "max_order_notional", 95_000); // 500 × $190.00
    limit(&mut cfg, "U0002", "max_open_orders", 2);
    limit(&mut cfg, "U0003", "max_position", 300);
    let s = server(cfg);

    let mut a = login(&s, "DEMO1");
    let collar = RejectReason::RiskFatFinger;
    boundary(&mut a, (1, px(19190)), (1, px(19191)), collar);

    let mut q = login_pw(&s, "U0000");
    boundary(
        &mut q,
        (500, px(19000)),
        (501, px(19000)),
        RejectReason::RiskMaxQuantityExceeded,
    );

    let mut n = login_pw(&s, "U0001");
    let notional = RejectReason::RiskSingleOrderNotionalExceeded;
    boundary(&mut n, (500, px(19000)), (501, px(19000)), notional);

    let mut o = login_pw(&s, "U0002");
    let (urn, m) = buy(&mut o, 1, px(18000));
    assert_accepted(&m, urn);
    let exposure = RejectReason::RiskAggregateExposureExceeded;
    boundary(&mut o, (1, px(18000)), (1, px(18000)), exposure);

    let mut p = login_pw(&s, "U0003");
    let (urn, m) = buy(&mut p, 200, px(18000));
    assert_accepted(&m, urn);
    boundary(&mut p, (100, px(18000)), (1, px(18000)), exposure);
    // A cancel lowers the open quantity: the order fits again.
    p.cancel(urn, 0).unwrap();
    expect(&mut p, b'C');
    let (urn, m) = buy(&mut p, 200, px(18000));
    assert_accepted(&m, urn);

    let f = s.stop_and_join().unwrap();
    assert_eq!(f.core.unrouted_events, 0, "{:?}", f.core);
}

fn switch(c: &mut Client, disable: bool) -> Outbound {
    let urn = c.next_user_ref_num();
    c.set_next_user_ref_num(urn + 1);
    let firm = ouch::Firm::padded("DEM1");
    let m = if disable {
        Inbound::DisableOrderEntry(DisableOrderEntry {
            user_ref_num: urn,
            firm,
            options: Options::NONE,
        })
    } else {
        Inbound::EnableOrderEntry(EnableOrderEntry {
            user_ref_num: urn,
            firm,
            options: Options::NONE,
        })
    };
    c.send(&m).unwrap();
    let (_, reply) = next(c);
    let expected = if disable { b'G' } else { b'K' };
    assert_eq!(reply.message_type(), expected, "{reply:?}");
    reply
}

#[test]
fn disable_order_entry_blocks_enters_and_replaces_until_enable() {
    let s = server(config(0));
    let mut a = login(&s, "DEMO1");
    let (resting, m) = buy(&mut a, 100, px(18000));
    assert_accepted(&m, resting);

    switch(&mut a, true);
    let (urn, m) = buy(&mut a, 100, px(18000));
    assert_rejected(&m, urn, RejectReason::FirmNotAuthorized);
    let urn = a.replace(resting, 50, px(18000)).unwrap();
    assert_rejected(&next(&mut a).1, urn, RejectReason::FirmNotAuthorized);
    // Another account trades on.
    let mut b = login(&s, "DEMO2");
    let (urn, m) = buy(&mut b, 10, px(18000));
    assert_accepted(&m, urn);
    // Cancels still work, and Disable does not cancel.
    a.cancel(resting, 40).unwrap();
    assert_eq!(expect(&mut a, b'C').message_type(), b'C');

    switch(&mut a, false);
    let (urn, m) = buy(&mut a, 100, px(18000));
    assert_accepted(&m, urn);
    s.stop_and_join().unwrap();
}

#[test]
fn throttle_rejects_then_logs_out_and_cancels_on_disconnect() {
    let mut cfg = config(0);
    limit(&mut cfg, "DEMO1", "order_rate_per_s", 1);
    limit(&mut cfg, "DEMO1", "order_burst", 3);
    limit(&mut cfg, "DEMO1", "throttle_window_ms", 60_000);
    limit(&mut cfg, "DEMO1", "throttle_logout_after", 2);
    let s = server(cfg);
    let mut a = login(&s, "DEMO1");
    // Three at once fit the burst; the next two are rejected; the sixth passes the
    // logout threshold: rejected, and the session is logged out.
    let urns: Vec<u32> = (0..6)
        .map(|_| a.enter_order(Side::Buy, 10, aapl(), px(18000)).unwrap())
        .collect();
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut a = login_from(&s, "DEMO1", 1);
    for &urn in &urns[..3] {
        assert_accepted(&next(&mut a).1, urn);
    }
    for &urn in &urns[3..] {
        assert_rejected(
            &next(&mut a).1,
            urn,
            RejectReason::RiskPortMessageRateRestriction,
        );
    }
    // Cancel-on-disconnect: each accepted order cancelled.
    let mut canceled: Vec<u32> = (0..3)
        .map(|_| match next(&mut a).1 {
            Outbound::OrderCanceled(c) => c.user_ref_num,
            other => panic!("expected a cancel, got {other:?}"),
        })
        .collect();
    canceled.sort_unstable();
    assert_eq!(canceled, urns[..3]);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.throttled, 3, "{:?}", f.sessions);
    assert_eq!(f.sessions.throttle_logouts, 1);
    assert_eq!(f.sessions.cancel_on_disconnect, 1);
}

#[test]
fn overload_flood_busy_rejects_new_orders_passes_cancels_and_answers_each_once() {
    let mut cfg = config(0);
    cfg.gateway.command_ring_records = 64; // high-water mark: 48 records in use
    cfg.gateway.max_open_orders_per_session = 4096;
    limit(&mut cfg, "DEMO1", "order_burst", 100_000);
    limit(&mut cfg, "DEMO1", "order_rate_per_s", 1_000_000);
    limit(&mut cfg, "DEMO1", "max_open_orders", 100_000);
    limit(&mut cfg, "DEMO1", "max_position", 0);
    let s = server(cfg);
    let mut a = login(&s, "DEMO1");
    let resting: Vec<u32> = (0..20)
        .map(|_| {
            let (urn, m) = buy(&mut a, 1, px(18000));
            assert_accepted(&m, urn);
            urn
        })
        .collect();
    // One write: 1000 new orders, a cancel of a resting order after every 50th.
    let mut bytes = Vec::new();
    let first = a.next_user_ref_num();
    let n = 1000u32;
    for i in 0..n {
        let e = ouch::EnterOrder::new(first + i, Side::Buy, 1, aapl(), px(17900));
        append_packet(&mut bytes, &Inbound::EnterOrder(e));
        if i % 50 == 49 {
            let c = ouch::CancelOrder {
                user_ref_num: resting[(i / 50) as usize],
                quantity: 0,
                options: Options::NONE,
            };
            append_packet(&mut bytes, &Inbound::CancelOrder(c));
        }
    }
    a.send_raw(&bytes).unwrap();
    let mut answers = vec![0u8; n as usize];
    let (mut busy, mut canceled) = (0, Vec::new());
    while answers.contains(&0) || canceled.len() < resting.len() {
        match next(&mut a).1 {
            Outbound::OrderAccepted(x) => answers[(x.user_ref_num - first) as usize] += 1,
            Outbound::OrderRejected(j) => {
                assert_eq!(j.reason, RejectReason::ProcessingError, "{j:?}");
                answers[(j.user_ref_num - first) as usize] += 1;
                busy += 1;
            }
            Outbound::OrderCanceled(c) => canceled.push(c.user_ref_num),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(answers.iter().all(|&k| k == 1), "every order answered once");
    assert!(busy > 0, "the flood passed the high-water mark");
    canceled.sort_unstable();
    assert_eq!(canceled, resting, "every cancel passed");
    // Nothing more is coming: an account query is the next message.
    a.account_query().unwrap();
    assert_eq!(expect(&mut a, b'Q').message_type(), b'Q');
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.busy_rejects, busy);
    assert_eq!(f.sessions.unjournaled_answers, 0, "{:?}", f.sessions);
    assert_eq!(f.core.journaled, f.core.commands);
}

/// Appends `m` as an Unsequenced Data packet.
fn append_packet(bytes: &mut Vec<u8>, m: &Inbound) {
    let mut buf = [0u8; 256];
    let len = tickgate::proto::soupbin::encode_unsequenced_with(&mut buf, |b| m.encode(b)).unwrap();
    bytes.extend_from_slice(&buf[..len]);
}

#[test]
fn restart_rebuilds_positions_and_blocks_and_refuses_other_limits() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let mut cfg = config(0);
    limit(&mut cfg, "DEMO1", "max_position", 300);
    let start = |c: &Config| server_at(c.clone(), &base, StartOptions::default()).unwrap();

    let s1 = start(&cfg);
    let mut a = login(&s1, "DEMO1");
    let mut b = login(&s1, "DEMO2");
    let (urn, m) = buy(&mut a, 200, px(19000));
    assert_accepted(&m, urn);
    b.enter_order(Side::Sell, 200, aapl(), px(19000)).unwrap();
    expect(&mut b, b'A');
    expect(&mut b, b'E');
    expect(&mut a, b'E');
    switch(&mut b, true);
    let f = s1.stop_and_join().unwrap();
    drop((a, b));
    assert_eq!(f.core.journaled, f.core.commands);

    let mut other = cfg.clone();
    limit(&mut other, "DEMO1", "max_position", 301);
    let refused = server_at(other, &base, StartOptions::default()).unwrap_err();
    assert!(refused.to_string().contains("fingerprint"), "{refused}");

    let s2 = start(&cfg);
    let mut a = login(&s2, "DEMO1");
    let mut b = login(&s2, "DEMO2");
    a.set_next_user_ref_num(2);
    b.set_next_user_ref_num(3);
    // Position +200 from the fill came back: 101 more would pass 300.
    let exposure = RejectReason::RiskAggregateExposureExceeded;
    boundary(&mut a, (100, px(18000)), (1, px(18000)), exposure);
    // DEMO2 is still disabled.
    let (urn, m) = buy(&mut b, 1, px(18000));
    assert_rejected(&m, urn, RejectReason::FirmNotAuthorized);
    s2.stop_and_join().unwrap();
}
