//! Every bad input gets its defined answer (docs/PROTOCOL.md, session rules) while a
//! second, well-behaved session keeps trading.

mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serve_support::*;
use tickgate::client::{Client, ClientError, Event};
use tickgate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, RejectReason, Side, Symbol};
use tickgate::server::Running;

fn u_packet(payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 1) as u16).to_be_bytes().to_vec();
    v.push(b'U');
    v.extend_from_slice(payload);
    v
}

fn enter_bytes(urn: u32, symbol: &str, qty: u32, price: u64) -> Vec<u8> {
    let m = EnterOrder::new(urn, Side::Buy, qty, Symbol::padded(symbol), Price(price));
    let mut buf = [0u8; 256];
    let n = Inbound::EnterOrder(m).encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// The well-behaved session enters one order and sees it accepted.
fn good_trades(good: &mut Client) {
    good.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_400_000))
        .unwrap();
    expect(good, b'A');
}

fn assert_closed(c: &mut Client) {
    loop {
        match c.recv_event() {
            Ok(Event::Heartbeat | Event::Debug) => {}
            Ok(other) => panic!("expected a close, got {other:?}"),
            Err(ClientError::Closed | ClientError::Io(_)) => return,
            Err(e) => panic!("expected a close, got {e:?}"),
        }
    }
}

fn framing_error_closes(s: &Running, good: &mut Client, bytes: &[u8]) {
    let mut bad = login(s, "DEMO1");
    bad.send_raw(bytes).unwrap();
    assert_closed(&mut bad);
    good_trades(good);
    std::thread::sleep(Duration::from_millis(30)); // the session is free again
}

fn rejected(c: &mut Client) -> (u32, RejectReason) {
    match expect(c, b'J') {
        Outbound::OrderRejected(j) => (j.user_ref_num, j.reason),
        _ => unreachable!(),
    }
}

#[test]
fn bad_input_gets_its_answer_and_the_other_session_keeps_trading() {
    let s = server(config(0));
    let mut good = login(&s, "DEMO2");
    framing_error_closes(&s, &mut good, &[0, 0]);
    framing_error_closes(&s, &mut good, &[0xFF, 0xFF, b'U']);
    framing_error_closes(&s, &mut good, &[0, 1, b'Q']);
    framing_error_closes(&s, &mut good, &[0, 1, b'L']);

    // Data before login: closed without an answer.
    let mut raw = TcpStream::connect(s.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(&u_packet(&enter_bytes(1, "AAPL", 100, 1_900_000)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(raw.read(&mut buf), Ok(0) | Err(_)));
    good_trades(&mut good);

    let mut bad = login(&s, "DEMO1");
    // OUCH of wrong length: Rejected naming its UserRefNum.
    let mut short = enter_bytes(1, "AAPL", 100, 1_900_000);
    short.pop();
    bad.send_raw(&u_packet(&short)).unwrap();
    assert_eq!(rejected(&mut bad), (1, RejectReason::Other));
    // Unknown OUCH type: a Debug packet, the session goes on.
    bad.send_raw(&u_packet(b"Zxyz")).unwrap();
    assert!(matches!(bad.recv_event().unwrap(), Event::Debug));
    // Bad appendage (unknown tag 99).
    let mut app = enter_bytes(2, "AAPL", 100, 1_900_000);
    let n = app.len();
    app[n - 2..].copy_from_slice(&3u16.to_be_bytes());
    app.extend_from_slice(&[2, 99, 0]);
    bad.send_raw(&u_packet(&app)).unwrap();
    assert_eq!(rejected(&mut bad), (2, RejectReason::Other));
    good_trades(&mut good);
    // Unknown symbol, out-of-band price, bad size.
    bad.set_next_user_ref_num(3);
    bad.enter_order(Side::Buy, 100, Symbol::padded("NOPE"), Price(1_900_000))
        .unwrap();
    assert_eq!(rejected(&mut bad), (3, RejectReason::InvalidSymbol));
    bad.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_000_000))
        .unwrap();
    assert_eq!(rejected(&mut bad), (4, RejectReason::FatFinger));
    bad.enter_order(Side::Buy, 0, Symbol::padded("AAPL"), Price(1_900_000))
        .unwrap();
    assert_eq!(rejected(&mut bad), (5, RejectReason::InvalidQuantity));
    // A resend (UserRefNum not increasing) is ignored; the next number works.
    bad.set_next_user_ref_num(5);
    bad.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_900_000))
        .unwrap();
    bad.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_900_000))
        .unwrap();
    let Outbound::OrderAccepted(a) = expect(&mut bad, b'A') else {
        unreachable!()
    };
    assert_eq!(a.user_ref_num, 6);
    good_trades(&mut good);
    drop((bad, good));
    let f = s.stop_and_join().unwrap();
    let c = f.sessions;
    assert_eq!(c.frame_errors, 4);
    assert_eq!(c.protocol_violations, 1);
    assert_eq!(c.ouch_decode_errors, 3);
    assert_eq!(c.resends_ignored, 1);
}
