//! Replay and timers: a reconnect with requested sequence number N receives exactly
//! N.. then live messages, nothing twice; a silent client is disconnected.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::client::{Client, ClientError, Event, LoginParams};
use tickgate::proto::ouch::{Price, Side, Symbol};

fn quiet_for(c: &mut Client, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        match c.try_recv().expect("recv") {
            None | Some(Event::Heartbeat) => {}
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn reconnect_with_requested_sequence_replays_exactly_the_missed_messages() {
    let s = server(config(0));
    let mut a = login(&s, "DEMO1");
    for i in 0..5 {
        a.enter_order(
            Side::Buy,
            100,
            Symbol::padded("AAPL"),
            Price(1_850_000 + i * 100),
        )
        .unwrap();
    }
    for want in 1..=5 {
        assert_eq!(next(&mut a).0, want);
    }
    drop(a); // cancel on disconnect: 5 Canceled + 1 Mass Cancel Response = 6..11
    std::thread::sleep(Duration::from_millis(100));
    let params = LoginParams::new("DEMO1", "secret").from_sequence(3);
    let mut b = Client::connect(s.addr, &params).unwrap();
    assert_eq!(b.next_sequence_number(), 3);
    let mut seen = Vec::new();
    for _ in 3..=11 {
        let (seq, m) = next(&mut b);
        seen.push((seq, m.message_type()));
    }
    let seqs: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(seqs, (3..=11).collect::<Vec<_>>());
    let types: Vec<u8> = seen.iter().map(|s| s.1).collect();
    assert_eq!(&types, b"AAACCCCCX");
    quiet_for(&mut b, Duration::from_millis(150));
    b.set_next_user_ref_num(6);
    b.enter_order(Side::Sell, 100, Symbol::padded("AAPL"), Price(1_950_000))
        .unwrap();
    let (seq, m) = next(&mut b);
    assert_eq!((seq, m.message_type()), (12, b'A'));
    drop(b);
    std::thread::sleep(Duration::from_millis(50));
    let live = LoginParams::new("DEMO1", "secret").from_sequence(0);
    let mut c = Client::connect(s.addr, &live).unwrap();
    // 12 Accepted, then COD: 13 Canceled, 14 Mass Cancel Response.
    assert_eq!(c.next_sequence_number(), 15);
    quiet_for(&mut c, Duration::from_millis(150));
    drop(c);
    s.stop_and_join().unwrap();
}

#[test]
fn silent_client_is_disconnected_after_its_requested_timeout() {
    let mut cfg = config(0);
    cfg.gateway.heartbeat_interval_ms = 100;
    let s = server(cfg);
    let params = LoginParams {
        heartbeat_timeout_ms: 400,
        ..LoginParams::new("DEMO2", "secret")
    };
    let mut c = Client::connect(s.addr, &params).unwrap();
    c.set_heartbeat_interval(Duration::from_secs(3600));
    let start = Instant::now();
    let mut heartbeats = 0;
    let err = loop {
        match c.recv_event() {
            Ok(Event::Heartbeat) => heartbeats += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, ClientError::Closed | ClientError::Io(_)),
        "{err:?}"
    );
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // Every 100 ms for ≈ 400 ms: normally 3–4. At least one proves the server kept its
    // side alive while the client was silent; more would assert this machine's timing
    // (under load the server thread can be descheduled for a few 100 ms turns).
    assert!(heartbeats >= 1, "server heartbeats: {heartbeats}");
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.heartbeat_timeouts, 1);
}
