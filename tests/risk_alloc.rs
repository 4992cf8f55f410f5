//! The risk chain never allocates after construction: a counting global allocator sees
//! zero allocations over 1M commands through RiskCore (passes, risk rejects, a kill
//! switch and its mass cancel) and the gateway-side throttle and overload checks.

mod alloc_support;

use std::sync::atomic::Ordering;

use alloc_support::{ALLOCATIONS, COUNTING};

use tickgate::engine::NullSink;
use tickgate::engine::bench::harness::Venue;
use tickgate::engine::bench::ours::{TickgateVenue, bench_instruments};
use tickgate::engine::bench::stream::{GenCmd, Stream, StreamConfig};
use tickgate::risk::throttle::ClassLimits;
use tickgate::risk::{AccountLimits, MessageClass, Overload, RiskCore, SessionThrottle};

#[global_allocator]
static GLOBAL: alloc_support::Counting = alloc_support::Counting;

struct Gateway {
    throttle: SessionThrottle,
    overload: Overload,
    verdicts: u64,
}

fn run(
    venue: &mut TickgateVenue<RiskCore>,
    gw: &mut Gateway,
    stream: &mut Stream,
    chunk: &mut [GenCmd],
    commands: usize,
) {
    for round in 0..commands.div_ceil(chunk.len()) {
        stream.fill(chunk);
        for (i, c) in chunk.iter().enumerate() {
            let cmd = venue.command(c);
            let class = MessageClass::of(&cmd).unwrap_or(MessageClass::Cancel);
            let v = gw.throttle.check(class, c.ts_ns);
            let o = gw.overload.admit(class, (1 << 16) - (i % 4096) * 16);
            gw.verdicts += u64::from(v != tickgate::risk::Verdict::Accept) + u64::from(o.is_err());
            venue.apply_command(c, &cmd);
        }
        if round % 50 == 49 {
            venue.engine.kill(0, stream_ts(chunk), &mut NullSink);
            venue.engine.enable(0);
        }
    }
}

fn stream_ts(chunk: &[GenCmd]) -> u64 {
    chunk.last().map_or(0, |c| c.ts_ns)
}

#[test]
fn risk_chain_makes_no_allocation_over_a_million_commands_after_warm_up() {
    let instruments = bench_instruments(20, 100, 1_000_000);
    // Tight enough that some orders are rejected (sizes are 100..500, prices wander).
    let limits = AccountLimits {
        max_order_qty: 400,
        max_open_orders: 15_000,
        max_position: 200_000,
        collar_bps: 200,
        ..AccountLimits::default()
    };
    let mut venue =
        TickgateVenue::with_risk(&instruments, 1 << 20, 20 * 1024, limits).expect("builds");
    let l = ClassLimits {
        rate_per_s: 50_000,
        burst: 100,
        window_ns: 1_000_000_000,
        logout_after: 0,
    };
    let mut gw = Gateway {
        throttle: SessionThrottle::new(l, l),
        overload: Overload::new(1 << 16, 75, 50),
        verdicts: 0,
    };
    let mut stream = Stream::new(StreamConfig {
        instruments: 20,
        exotic: true,
        ts_step_ns: 10_000,
        ..StreamConfig::default()
    });
    let mut chunk = vec![GenCmd::default(); 4096];
    run(&mut venue, &mut gw, &mut stream, &mut chunk, 200_000);
    let rejects_before: u64 = venue.engine.counters().rejects.iter().sum();
    let events_before = venue.sink.order_events;

    COUNTING.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(&mut venue, &mut gw, &mut stream, &mut chunk, 1_000_000);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));

    assert_eq!(allocations, 0, "allocations on the hot path");
    let rejects: u64 = venue.engine.counters().rejects.iter().sum::<u64>() - rejects_before;
    assert!(rejects > 1_000, "the reject path ran: {rejects}");
    assert!(venue.engine.counters().kill_cancels > 0);
    assert!(venue.sink.order_events - events_before > 1_000_000);
    assert!(gw.verdicts > 0, "throttle and overload rejected some");
    assert_eq!(venue.engine.untracked_events(), 0);
    assert!(venue.summary().contains("risk rejects"));
}
