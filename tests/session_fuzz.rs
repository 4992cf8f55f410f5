//! Random bytes in random TCP splits, before and after a valid login, on many
//! connections: the server never panics, every connection ends in a defined way, and
//! a well-behaved session keeps trading throughout.

mod serve_support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};

use serve_support::*;
use tickgate::proto::ouch::{Price, Side, Symbol};
use tickgate::proto::soupbin::{LoginRequest, Packet};
use tickgate::proto::wire::Alpha;

fn login_bytes() -> Vec<u8> {
    let req = LoginRequest {
        username: Alpha::padded("DEMO1"),
        password: Alpha::padded("secret"),
        requested_session: Alpha::SPACES,
        requested_sequence_number: 0,
        requested_heartbeat_timeout_ms: 0,
    };
    let mut buf = [0u8; 64];
    let n = Packet::LoginRequest(req).encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Random bytes, or a run of `U` packets with a valid type byte and random body.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..1 + rng.below(8) {
        if rng.below(2) == 0 {
            let len = 1 + rng.below(60) as usize;
            let mut body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            body[0] = b"OUXMCDEQZ"[rng.below(9) as usize];
            v.extend_from_slice(&((len + 1) as u16).to_be_bytes());
            v.push(b'U');
            v.extend_from_slice(&body);
        } else {
            v.extend((0..rng.below(80)).map(|_| rng.next() as u8));
        }
    }
    v
}

fn send_split(s: &mut TcpStream, bytes: &[u8], rng: &mut Rng) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (1 + rng.below(rest.len() as u64)) as usize;
        if s.write_all(&rest[..n]).is_err() {
            return; // the server already closed it: a defined outcome
        }
        rest = &rest[n..];
    }
}

#[test]
fn random_bytes_in_random_splits_never_disturb_a_good_session() {
    let s = server(config(0));
    let mut good = login(&s, "DEMO2");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let login = login_bytes();
    for case in 0..400 {
        let mut bytes = if rng.below(2) == 0 {
            login.clone()
        } else {
            Vec::new()
        };
        bytes.extend(garbage(&mut rng));
        let mut sock = TcpStream::connect(s.addr).unwrap();
        send_split(&mut sock, &bytes, &mut rng);
        let _ = sock.shutdown(Shutdown::Both);
        if case % 50 == 0 {
            good.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_400_000))
                .unwrap();
            expect(&mut good, b'A');
        }
    }
    good.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_400_000))
        .unwrap();
    expect(&mut good, b'A');
    drop(good);
    let f = s.stop_and_join().expect("the server survived");
    assert!(f.sessions.frame_errors + f.sessions.protocol_violations > 0);
}
