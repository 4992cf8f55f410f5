//! The raw TCP floor and the io_uring echo, as a smoke test (backoff servers, one
//! spinning client) and as an ignored benchmark:
//! `cargo test --release --test gateway_floor -- --ignored --nocapture`.

use std::time::Duration;

use tickgate::bench::report::{Percentiles, latency_histogram, ratio, table_header, table_row};
use tickgate::clock::Clock;
use tickgate::gateway::GatewayOptions;
use tickgate::gateway::tcp_floor::*;

#[test]
fn floor_and_uring_echo_both_bounce_and_pipeline_messages() {
    let clock = Clock::calibrate(Duration::from_millis(5));
    let quiet = GatewayOptions {
        log_connections: false,
        ..Default::default()
    };
    let servers = [
        spawn_raw_echo(None, ServerIdle::Backoff).unwrap(),
        spawn_uring_echo(None, ServerIdle::Backoff, quiet).unwrap(),
    ];
    for server in &servers {
        let mut s = connect_spinning(server.addr()).unwrap();
        let mut h = latency_histogram();
        ping_pong(&mut s, 64, 10, 200, &clock, &mut h).unwrap();
        assert_eq!(h.len(), 200);
        assert!(throughput(&mut s, 64, 20_000, 32 * 1024).unwrap() > 0.0);
    }
}

#[test]
fn raw_and_uring_responders_answer_requests_of_one_size_with_another() {
    let clock = Clock::calibrate(Duration::from_millis(5));
    let quiet = GatewayOptions {
        log_connections: false,
        ..Default::default()
    };
    let ex = Exchange {
        request_bytes: 50,
        response_bytes: 71,
    };
    for clients in [1, 3] {
        let servers = [
            spawn_raw_responder(None, ServerIdle::Backoff, ex, clients).unwrap(),
            spawn_uring_responder(None, ServerIdle::Backoff, ex, quiet.clone()).unwrap(),
        ];
        for server in &servers {
            let mut streams: Vec<_> = (0..clients)
                .map(|_| connect_spinning(server.addr()).unwrap())
                .collect();
            let mut h = latency_histogram();
            ping_pong_exchange(&mut streams[0], ex, 10, 200, &clock, &mut h).unwrap();
            assert_eq!(h.len(), 200);
            let msgs_per_s = pipelined_exchange(&mut streams, ex, 30_000, 64).unwrap();
            assert!(msgs_per_s > 0.0);
        }
    }
}

#[test]
fn an_exchange_answers_whole_requests_only() {
    let ex = Exchange {
        request_bytes: 10,
        response_bytes: 12,
    };
    let requests: Vec<u8> = (0..25).collect();
    let mut out = Vec::new();
    assert_eq!(ex.answer(&requests, &mut out), 20);
    assert_eq!(out.len(), 24);
    assert_eq!(&out[..8], &requests[..8]);
    assert_eq!(&out[12..20], &requests[10..18]);
}

#[test]
#[ignore = "benchmark: two pinned spinners; run alone with --release"]
fn bench_uring_echo_against_the_raw_tcp_floor() {
    let cpus = tickgate::affinity::available_cpus();
    let (client, server) = (cpus[0], *cpus.last().unwrap());
    let args = CompareArgs {
        msg_bytes: 64,
        warmup: 20_000,
        iters: 100_000,
        rounds: 4,
        throughput_msgs: 2_000_000,
        window_bytes: 32 * 1024,
        client_cpu: Some(client),
        server_cpu: Some(server),
        server_idle: ServerIdle::Spin,
    };
    let clock = Clock::calibrate(Duration::from_millis(20));
    let r = compare(&args, &clock).unwrap();
    let (f, u) = (Percentiles::of(&r.floor_rtt), Percentiles::of(&r.uring_rtt));
    println!(
        "client cpu {client}, server cpu {server}, {} B messages",
        args.msg_bytes
    );
    println!("{}", table_header("msgs/s (pipelined)"));
    println!(
        "{}",
        table_row("raw-tcp-floor", &f, &format!("{:.0}", r.floor_msgs_per_s))
    );
    println!(
        "{}",
        table_row("uring-echo", &u, &format!("{:.0}", r.uring_msgs_per_s))
    );
    println!(
        "ratios: p50 {} p99 {} p99.9 {} max {} throughput {}",
        ratio(u.p50_ns as f64, f.p50_ns as f64),
        ratio(u.p99_ns as f64, f.p99_ns as f64),
        ratio(u.p999_ns as f64, f.p999_ns as f64),
        ratio(u.max_ns as f64, f.max_ns as f64),
        ratio(r.uring_msgs_per_s, r.floor_msgs_per_s),
    );
}
