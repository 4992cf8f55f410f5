//! The engine never allocates after warm-up: a counting global allocator sees zero
//! allocations over 1M+ commands of every order type (hidden, reserve, post-only, GTT
//! expiries, STP, IOC, market, cancels, replaces, mass cancels).

mod alloc_support;

use std::sync::atomic::Ordering;

use alloc_support::{ALLOCATIONS, COUNTING};

use tickgate::engine::bench::harness::Venue;
use tickgate::engine::bench::ours::{TickgateVenue, bench_instruments};
use tickgate::engine::bench::stream::{GenCmd, Stream, StreamConfig};

#[global_allocator]
static GLOBAL: alloc_support::Counting = alloc_support::Counting;

fn run(venue: &mut TickgateVenue, stream: &mut Stream, chunk: &mut [GenCmd], commands: usize) {
    for _ in 0..commands.div_ceil(chunk.len()) {
        stream.fill(chunk);
        for c in chunk.iter() {
            venue.apply(c);
        }
    }
}

#[test]
fn engine_makes_no_allocation_over_a_million_commands_after_warm_up() {
    let instruments = bench_instruments(20, 100, 1_000_000);
    let mut venue = TickgateVenue::new(&instruments, 1 << 20, 20 * 1024).expect("engine builds");
    let mut stream = Stream::new(StreamConfig {
        instruments: 20,
        exotic: true,
        ts_step_ns: 10_000, // GTT orders (1 s) expire within ~100k commands
        ..StreamConfig::default()
    });
    let mut chunk = vec![GenCmd::default(); 4096];
    run(&mut venue, &mut stream, &mut chunk, 200_000);
    let warm_events = venue.sink.order_events;

    COUNTING.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(&mut venue, &mut stream, &mut chunk, 1_000_000);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));

    assert_eq!(allocations, 0, "allocations on the hot path");
    assert!(venue.sink.order_events - warm_events > 1_000_000);
    assert!(venue.sink.executions > 10_000, "{}", venue.sink.executions);
    assert!(venue.engine.live_orders() > 100);
}
