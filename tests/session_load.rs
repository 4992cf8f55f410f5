//! Load: a slow consumer is dropped while another session keeps trading; 500
//! concurrent sessions log in and trade with bounded memory.

mod serve_support;

use std::os::fd::AsRawFd;
use std::time::Duration;

use serve_support::*;
use tickgate::client::{Client, LoginParams};
use tickgate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, Side, Symbol, TimeInForce};
use tickgate::proto::soupbin::encode_unsequenced_with;

fn ioc_batch(first_urn: u32, n: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(n as usize * 50);
    let mut p = [0u8; 64];
    for urn in first_urn..first_urn + n {
        let m = EnterOrder {
            time_in_force: TimeInForce::Ioc,
            ..EnterOrder::new(
                urn,
                Side::Buy,
                100,
                Symbol::padded("AAPL"),
                Price(1_800_000),
            )
        };
        let len = encode_unsequenced_with(&mut p, |b| Inbound::EnterOrder(m).encode(b)).unwrap();
        v.extend_from_slice(&p[..len]);
    }
    v
}

fn shrink_receive_buffer(c: &Client) {
    let bytes: libc::c_int = 4096;
    // SAFETY: a valid socket fd and a pointer to a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            c.stream().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn slow_consumer_is_dropped_while_others_keep_trading() {
    let mut cfg = config(0);
    cfg.gateway.max_outbound_bytes_per_conn = 64 * 1024;
    cfg.gateway.replay_bytes_per_session = 64 << 20;
    let s = server(cfg);
    let mut good = login(&s, "DEMO2");
    let mut slow = login(&s, "DEMO1");
    shrink_receive_buffer(&slow);
    let (mut urn, mut dropped) = (1u32, false);
    while urn < 400_000 {
        if slow.send_raw(&ioc_batch(urn, 2000)).is_err() {
            dropped = true;
            break;
        }
        urn += 2000;
        if urn % 20_000 == 1 {
            good.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_400_000))
                .unwrap();
            expect(&mut good, b'A');
        }
    }
    assert!(dropped, "the slow client was never dropped");
    good.enter_order(Side::Sell, 100, Symbol::padded("MSFT"), Price(4_400_000))
        .unwrap();
    expect(&mut good, b'A');
    drop(slow);
    std::thread::sleep(Duration::from_millis(100));
    // The session and its stream are kept: the account logs in again.
    let again = Client::connect(
        s.addr,
        &LoginParams::new("DEMO1", "secret").from_sequence(0),
    )
    .unwrap();
    assert!(again.next_sequence_number() > 1000);
    drop((again, good));
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.slow_consumers, 1);
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

#[test]
fn five_hundred_sessions_log_in_and_trade_with_bounded_memory() {
    const N: usize = 500;
    let s = server(config(N));
    let rss_before = rss_bytes();
    let mut clients: Vec<Client> = (0..N)
        .map(|i| {
            let p = LoginParams::new(&format!("U{i:04}"), "pw").from_sequence(0);
            Client::connect(s.addr, &p).expect("login")
        })
        .collect();
    for c in &mut clients {
        c.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_890_000))
            .unwrap();
    }
    for c in &mut clients {
        expect(c, b'A');
    }
    let mut seller = login(&s, "DEMO1");
    seller
        .enter_order(
            Side::Sell,
            100 * N as u32,
            Symbol::padded("AAPL"),
            Price(1_890_000),
        )
        .unwrap();
    expect(&mut seller, b'A');
    for c in &mut clients {
        let Outbound::OrderExecuted(e) = expect(c, b'E') else {
            unreachable!()
        };
        assert_eq!(e.quantity, 100);
    }
    for _ in 0..N {
        expect(&mut seller, b'E');
    }
    let grown = rss_bytes().saturating_sub(rss_before);
    // 500 clients' 64 KiB receive buffers live in this process too.
    assert!(grown < 256 << 20, "RSS grew by {grown} bytes");
    drop(clients);
    drop(seller);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_accepted, N as u64 + 1);
}
