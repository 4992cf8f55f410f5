//! The io_uring gateway over real sockets on 127.0.0.1: accept, echo, splits, close
//! detection, slow consumers, the connection limit, ring-mode fallbacks, shutdown.

mod gateway_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use gateway_support::*;
use tickgate::gateway::echo::Echo;
use tickgate::gateway::uring::RingMode;
use tickgate::gateway::{CloseReason, GatewayOptions};

#[test]
fn accepted_connection_echoes_round_trips() {
    let gw = Running::start(opts(), Echo);
    let mut c = connect(gw.addr);
    for i in 0..200u32 {
        let msg = [i as u8; 64];
        assert_eq!(round_trip(&mut c, &msg), msg);
    }
    assert_eq!(get(&gw.counters.accepted), 1);
    assert_eq!(gw.mode, RingMode::DeferTaskrun);
}

/// A deterministic byte stream (xorshift), so the echo can be checked anywhere.
fn stream_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn bytes_split_at_arbitrary_points_arrive_intact_and_in_order() {
    // Few, small receive buffers: recv runs the provided-buffer ring dry (ENOBUFS,
    // re-armed) and the echo is sent in many partial pieces.
    let o = GatewayOptions {
        recv_buffers: 8,
        recv_buffer_bytes: 512,
        max_outbound_bytes_per_conn: 1 << 20,
        ..opts()
    };
    let gw = Running::start(o, Echo);
    let data = stream_bytes(2 << 20, 7);
    let mut w = connect(gw.addr);
    let mut r = w.try_clone().unwrap();
    let expect = data.clone();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; expect.len()];
        r.read_exact(&mut got).unwrap();
        assert!(got == expect, "echoed stream differs");
    });
    let mut x = 12345u64;
    let mut at = 0;
    while at < data.len() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = (1 + (x >> 33) as usize % 3000).min(data.len() - at);
        w.write_all(&data[at..at + n]).unwrap();
        at += n;
    }
    reader.join().unwrap();
    assert_eq!(get(&gw.counters.bytes_in), data.len() as u64);
    // The last send CQE may be reaped just after the reader saw its bytes.
    wait_until("bytes_out", || {
        get(&gw.counters.bytes_out) == data.len() as u64
    });
    assert!(
        get(&gw.counters.recv_buffer_exhausted) > 0,
        "ENOBUFS path not exercised"
    );
}

#[test]
fn peer_close_is_detected_and_reported_once() {
    let h = RecordingEcho::default();
    let seen = h.seen.clone();
    let gw = Running::start(opts(), h);
    let mut c = connect(gw.addr);
    assert_eq!(round_trip(&mut c, b"hi"), b"hi");
    drop(c);
    wait_until("close", || get(&gw.counters.closed_peer) == 1);
    let s = seen.lock().unwrap();
    assert_eq!(s.closed, vec![(s.accepted[0], CloseReason::PeerClosed)]);
}

#[test]
fn slow_consumer_is_dropped_while_another_connection_keeps_working() {
    let o = GatewayOptions {
        max_outbound_bytes_per_conn: 64 * 1024,
        ..opts()
    };
    let gw = Running::start(o, Echo);
    let mut good = connect(gw.addr);
    let mut slow = connect(gw.addr);
    slow.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The slow client writes and never reads: its echo backs up through both socket
    // buffers into the gateway's bounded queue.
    let chunk = [0x5au8; 16 * 1024];
    let mut written = 0usize;
    while get(&gw.counters.closed_slow_consumer) == 0 {
        match slow.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
        assert!(written < 512 << 20, "never dropped after {written} bytes");
        if written.is_multiple_of(1 << 20) {
            assert_eq!(round_trip(&mut good, b"still here"), b"still here");
        }
    }
    wait_until("slow consumer drop", || {
        get(&gw.counters.closed_slow_consumer) == 1
    });
    for _ in 0..10 {
        assert_eq!(round_trip(&mut good, b"ping"), b"ping");
    }
    assert_eq!(get(&gw.counters.closed_error), 0);
}

#[test]
fn a_connection_past_max_connections_is_closed_cleanly() {
    let o = GatewayOptions {
        max_connections: 2,
        ..opts()
    };
    let gw = Running::start(o, Echo);
    let mut a = connect(gw.addr);
    let mut b = connect(gw.addr);
    assert_eq!(round_trip(&mut a, b"a"), b"a");
    assert_eq!(round_trip(&mut b, b"b"), b"b");
    let mut c = connect(gw.addr);
    let mut buf = [0u8; 1];
    assert_eq!(
        c.read(&mut buf).unwrap(),
        0,
        "the third connection gets EOF"
    );
    assert_eq!(get(&gw.counters.rejected_max_connections), 1);
    assert_eq!(round_trip(&mut a, b"a"), b"a");
    drop(b);
    wait_until("slot freed", || get(&gw.counters.closed_peer) == 1);
    let mut d = connect(gw.addr);
    assert_eq!(round_trip(&mut d, b"d"), b"d", "a freed slot is reused");
}

#[test]
fn without_single_issuer_the_ring_falls_back_and_still_echoes() {
    let o = GatewayOptions {
        single_issuer: false,
        ..opts()
    };
    let gw = Running::start(o, Echo);
    assert_eq!(gw.mode, RingMode::Coop);
    let mut c = connect(gw.addr);
    for _ in 0..50 {
        assert_eq!(round_trip(&mut c, b"coop"), b"coop");
    }
}

#[test]
fn sqpoll_mode_echoes() {
    let o = GatewayOptions {
        sqpoll: true,
        sqpoll_idle_ms: 5,
        ..opts()
    };
    let gw = Running::start(o, Echo);
    assert!(gw.mode.is_sqpoll(), "mode {:?}", gw.mode);
    let mut c = connect(gw.addr);
    for _ in 0..50 {
        assert_eq!(round_trip(&mut c, b"sqpoll"), b"sqpoll");
    }
}

#[test]
fn shutdown_closes_every_connection_and_stops_accepting() {
    let h = RecordingEcho::default();
    let seen = h.seen.clone();
    let gw = Running::start(opts(), h);
    let addr = gw.addr;
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    for c in &mut conns {
        assert_eq!(round_trip(c, b"x"), b"x");
    }
    let counters = gw.counters.clone();
    gw.stop();
    assert_eq!(get(&counters.closed_shutdown), 3);
    for c in &mut conns {
        let mut buf = [0u8; 1];
        assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    }
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
    assert_eq!(seen.lock().unwrap().closed.len(), 3);
}

/// Greets from `poll` (work that does not come from a socket) and answers "bye" with
/// "goodbye" and a graceful close.
#[derive(Default)]
struct Greeter {
    pending_greetings: Vec<tickgate::gateway::ConnId>,
}

impl tickgate::gateway::Handler for Greeter {
    fn on_accept(
        &mut self,
        conn: tickgate::gateway::ConnId,
        _peer: std::net::SocketAddr,
        _out: &mut tickgate::gateway::Outbox<'_>,
    ) {
        self.pending_greetings.push(conn);
    }

    fn on_data(
        &mut self,
        conn: tickgate::gateway::ConnId,
        data: &[u8],
        out: &mut tickgate::gateway::Outbox<'_>,
    ) {
        if data.ends_with(b"bye") {
            out.send(conn, b"goodbye").unwrap();
            out.close(conn, CloseReason::Local("logout"));
            let refused = Err(tickgate::gateway::SendError::Closed);
            assert_eq!(out.send(conn, b"more"), refused, "nothing after close");
        }
    }

    fn on_close(&mut self, _conn: tickgate::gateway::ConnId, _reason: CloseReason) {}

    fn poll(&mut self, out: &mut tickgate::gateway::Outbox<'_>) -> usize {
        let n = self.pending_greetings.len();
        for conn in self.pending_greetings.drain(..) {
            out.send(conn, b"hello").unwrap();
        }
        n
    }
}

#[test]
fn poll_sends_and_a_graceful_close_flushes_queued_bytes_first() {
    let gw = Running::start(opts(), Greeter::default());
    let mut c = connect(gw.addr);
    let mut hello = [0u8; 5];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    c.write_all(b"bye").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"goodbye");
    wait_until("local close", || get(&gw.counters.closed_local) == 1);
}
