//! `tickgate serve` end to end on 127.0.0.1: login, order entry, trading between two
//! accounts, cancel / reduce / replace / mass cancel.

mod serve_support;

use serve_support::*;
use tickgate::client::{ClientError, LoginParams};
use tickgate::proto::ouch::{Outbound, Price, Side, Symbol};
use tickgate::proto::soupbin::LoginRejectReason;

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

#[test]
fn login_accepted_bad_password_and_second_login() {
    let s = server(config(0));
    let c = login(&s, "DEMO1");
    assert_eq!(c.next_sequence_number(), 1);
    let bad = tickgate::client::Client::connect(s.addr, &LoginParams::new("DEMO1", "nope"));
    assert!(matches!(
        bad,
        Err(ClientError::LoginRejected(LoginRejectReason::NotAuthorized))
    ));
    let unknown = tickgate::client::Client::connect(s.addr, &LoginParams::new("NOBODY", "x"));
    assert!(matches!(
        unknown,
        Err(ClientError::LoginRejected(LoginRejectReason::NotAuthorized))
    ));
    let second = tickgate::client::Client::connect(s.addr, &LoginParams::new("DEMO1", "secret"));
    assert!(matches!(
        second,
        Err(ClientError::LoginRejected(
            LoginRejectReason::SessionNotAvailable
        ))
    ));
    drop(c);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_accepted, 1);
    assert_eq!(f.sessions.logins_not_authorized, 2);
    assert_eq!(f.sessions.logins_session_unavailable, 1);
}

#[test]
fn two_sessions_trade_and_both_see_their_executions() {
    let f = two_sessions_trade(config(0));
    // Shared threading: each Enter ran at once, not through the command ring.
    assert!(f.core.direct >= 2, "{:?}", f.core);
    let mut cfg = config(0);
    cfg.threads.direct_orders = false;
    let f = two_sessions_trade(cfg);
    assert_eq!(f.core.direct, 0, "{:?}", f.core);
    assert!(f.core.commands >= 2, "{:?}", f.core);
}

fn two_sessions_trade(cfg: tickgate::config::Config) -> tickgate::server::Finished {
    let s = server(cfg);
    let mut a = login(&s, "DEMO1");
    let mut b = login(&s, "DEMO2");
    let urn = a
        .enter_order(Side::Sell, 300, aapl(), Price(1_900_000))
        .unwrap();
    let Outbound::OrderAccepted(acc) = expect(&mut a, b'A') else {
        unreachable!()
    };
    assert_eq!(
        (acc.user_ref_num, acc.quantity, acc.symbol),
        (urn, 300, aapl())
    );
    let burn = b
        .enter_order(Side::Buy, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut b, b'A');
    let Outbound::OrderExecuted(eb) = expect(&mut b, b'E') else {
        unreachable!()
    };
    let Outbound::OrderExecuted(ea) = expect(&mut a, b'E') else {
        unreachable!()
    };
    assert_eq!(
        (eb.user_ref_num, eb.quantity, eb.price),
        (burn, 100, Price(1_900_000))
    );
    assert_eq!((ea.user_ref_num, ea.quantity), (urn, 100));
    assert_eq!(ea.match_number, eb.match_number);
    drop((a, b));
    s.stop_and_join().unwrap()
}

#[test]
fn cancel_reduce_replace_and_mass_cancel() {
    let s = server(config(0));
    let mut a = login(&s, "DEMO1");
    let o1 = a
        .enter_order(Side::Buy, 500, aapl(), Price(1_890_000))
        .unwrap();
    expect(&mut a, b'A');
    a.cancel(o1, 200).unwrap();
    let Outbound::OrderCanceled(c) = expect(&mut a, b'C') else {
        unreachable!()
    };
    assert_eq!((c.user_ref_num, c.quantity), (o1, 300));
    let o2 = a.replace(o1, 400, Price(1_880_000)).unwrap();
    let Outbound::OrderReplaced(r) = expect(&mut a, b'U') else {
        unreachable!()
    };
    assert_eq!((r.orig_user_ref_num, r.user_ref_num), (o1, o2));
    assert_eq!(r.price, Price(1_880_000));
    a.cancel(o2, 0).unwrap();
    let Outbound::OrderCanceled(c) = expect(&mut a, b'C') else {
        unreachable!()
    };
    assert_eq!(c.user_ref_num, o2);
    for _ in 0..3 {
        a.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_300_000))
            .unwrap();
        expect(&mut a, b'A');
    }
    a.mass_cancel(tickgate::proto::ouch::Firm::padded("DEM1"), Symbol::SPACES)
        .unwrap();
    for _ in 0..3 {
        expect(&mut a, b'C');
    }
    expect(&mut a, b'X');
    drop(a);
    s.stop_and_join().unwrap();
}

#[test]
fn cancel_and_replace_pipelined_behind_their_enter_wait_for_it() {
    // Shared threading runs each order at once (the direct run); dedicated threading
    // queues it on the command ring, where the Replace and the Cancel arriving
    // behind the Enter wait for its answer (the session layer's deferred list).
    pipelined_behind_enter(config(0));
    let mut cfg = config(0);
    cfg.threads.mode = tickgate::config::ThreadingMode::Dedicated;
    cfg.threads.core_cpu = 0;
    cfg.threads.gateway_cpus = vec![1];
    pipelined_behind_enter(cfg);
}

fn pipelined_behind_enter(cfg: tickgate::config::Config) {
    let s = server(cfg);
    let mut a = login(&s, "DEMO1");
    let o1 = a
        .enter_order(Side::Buy, 500, aapl(), Price(1_890_000))
        .unwrap();
    let o2 = a.replace(o1, 400, Price(1_880_000)).unwrap();
    a.cancel(o2, 100).unwrap();
    expect(&mut a, b'A');
    let Outbound::OrderReplaced(r) = expect(&mut a, b'U') else {
        unreachable!()
    };
    assert_eq!((r.orig_user_ref_num, r.user_ref_num), (o1, o2));
    let Outbound::OrderCanceled(c) = expect(&mut a, b'C') else {
        unreachable!()
    };
    assert_eq!((c.user_ref_num, c.quantity), (o2, 300));
    drop(a);
    s.stop_and_join().unwrap();
}

#[test]
fn dedicated_threading_mode_trades_too() {
    let mut cfg = config(0);
    cfg.threads.mode = tickgate::config::ThreadingMode::Dedicated;
    cfg.threads.core_cpu = 0;
    cfg.threads.gateway_cpus = vec![1];
    let s = server(cfg);
    assert!(s.threads.starts_with("dedicated"), "{}", s.threads);
    let mut a = login(&s, "DEMO1");
    let mut b = login(&s, "DEMO2");
    a.enter_order(Side::Sell, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut a, b'A');
    b.enter_order(Side::Buy, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut b, b'A');
    expect(&mut b, b'E');
    expect(&mut a, b'E');
    drop((a, b));
    s.stop_and_join().unwrap();
}
