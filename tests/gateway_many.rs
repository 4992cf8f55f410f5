//! ≥ 500 concurrent connections echo through one gateway with bounded memory.

mod gateway_support;

use std::io::{Read, Write};

use gateway_support::*;
use tickgate::gateway::GatewayOptions;
use tickgate::gateway::echo::Echo;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn five_hundred_concurrent_connections_echo_with_bounded_memory() {
    const CONNS: usize = 500;
    const ROUNDS: usize = 20;
    let o = GatewayOptions {
        max_connections: 512,
        recv_buffers: 1024,
        max_outbound_bytes_per_conn: 16 * 1024,
        ..opts()
    };
    let rss_start = rss_bytes();
    let gw = Running::start(o, Echo);
    let mut conns: Vec<_> = (0..CONNS).map(|_| connect(gw.addr)).collect();
    let mut rss_after_first_round = 0;
    let mut back = [0u8; 100];
    for round in 0..ROUNDS {
        for (i, c) in conns.iter_mut().enumerate() {
            let msg = [(i + round) as u8; 100];
            c.write_all(&msg).unwrap();
        }
        for (i, c) in conns.iter_mut().enumerate() {
            c.read_exact(&mut back).unwrap();
            assert!(
                back.iter().all(|&b| b == (i + round) as u8),
                "conn {i} round {round}"
            );
        }
        if round == 0 {
            rss_after_first_round = rss_bytes();
        }
    }
    assert_eq!(get(&gw.counters.accepted), CONNS as u64);
    assert_eq!(get(&gw.counters.bytes_in), (CONNS * ROUNDS * 100) as u64);
    let (total, steady) = (
        rss_bytes().saturating_sub(rss_start),
        rss_bytes().saturating_sub(rss_after_first_round),
    );
    // Reserved: 512 × 16 KiB outbound (touched only as used) + 1024 × 4 KiB buffers.
    assert!(
        total < 48 << 20,
        "gateway + clients grew RSS by {total} bytes"
    );
    assert!(steady < 4 << 20, "steady state grew RSS by {steady} bytes");
    drop(conns);
    wait_until("all closed", || {
        get(&gw.counters.closed_peer) == CONNS as u64
    });
}
