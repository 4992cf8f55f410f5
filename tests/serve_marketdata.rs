//! `tickgate serve`'s market data: an order entered over TCP and a trade against it
//! come out of the core as ITCH 5.0 on the broadcast ring and reach a MoldUDP64
//! listener joined to the multicast group on `lo`, in sequence, for the trading day's
//! session.

mod serve_support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::md::socket;
use tickgate::proto::itch::Message;
use tickgate::proto::moldudp::DownstreamPacket;
use tickgate::proto::ouch::{Price, Side, Symbol};

#[test]
fn a_trade_over_tcp_is_published_as_itch_over_moldudp64() {
    let group = Ipv4Addr::new(239, 0, 0, 1);
    let rx = socket::receiver(SocketAddrV4::new(group, 0), Ipv4Addr::LOCALHOST)
        .expect("join 239.0.0.1 on lo");
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut c = config(0);
    c.marketdata.group = group;
    c.marketdata.port = rx.local_addr().unwrap().port();
    let s = server(c);
    let mut a = login(&s, "DEMO1");
    let mut b = login(&s, "DEMO2");
    let aapl = Symbol::padded("AAPL");
    a.enter_order(Side::Buy, 100, aapl, Price(1_900_000))
        .unwrap();
    expect(&mut a, b'A');
    b.enter_order(Side::Sell, 40, aapl, Price(1_900_000))
        .unwrap();
    expect(&mut b, b'A');
    expect(&mut a, b'E');

    // The feed: an Add Order for the resting buy, then an execution of 40 against it.
    let mut buf = [0u8; 2048];
    let (mut next, mut add, mut exec) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while exec.is_none() && Instant::now() < deadline {
        let Ok(n) = rx.recv(&mut buf) else { continue };
        let p = DownstreamPacket::parse(&buf[..n]).expect("a MoldUDP64 packet");
        assert_eq!(p.header.session, s.session_name, "the day's session");
        let mut seq = p.header.sequence_number;
        if let Some(expected) = next {
            assert_eq!(seq, expected, "gap or repeat on the feed");
        }
        for m in p.messages() {
            match Message::decode(m).expect("ITCH 5.0") {
                Message::AddOrder(x) if x.stock.0 == *b"AAPL    " => add = Some(x),
                Message::OrderExecuted(x) => exec = Some(x),
                _ => {}
            }
            seq += 1;
        }
        next = Some(seq);
    }
    let add = add.expect("an Add Order for the resting buy");
    let exec = exec.expect("an Order Executed");
    assert_eq!((add.shares, add.price.0), (100, 1_900_000));
    assert_eq!(exec.order_reference_number, add.order_reference_number);
    assert_eq!(exec.executed_shares, 40);
    drop((a, b));
    s.stop_and_join().unwrap();
}
