//! The idle warm pass allocates nothing: a server with a pass on every idle turn and
//! two algo sessions logged in idles for a while after some trading, then trades with
//! idle gaps, and a counting allocator sees no allocation by any thread of the process
//! in either window (the test's own thread only sleeps, or sends and reads through
//! the algo API), while passes run (thousands on an idle machine).

mod serve_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::affinity::IdleKind;
use tickgate::ipc::algo::AlgoSession;
use tickgate::proto::ouch::{EnterOrder, Inbound, Price, Side, Symbol, TimeInForce};

/// Counts every allocation of every thread.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PATIENCE: Duration = Duration::from_secs(30);

fn ioc(urn: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        time_in_force: TimeInForce::Ioc,
        ..EnterOrder::new(
            urn,
            Side::Buy,
            100,
            Symbol::padded("AAPL"),
            Price(1_800_000),
        )
    })
}

/// Sends an IOC and waits for its two answers.
fn round_trip(s: &mut AlgoSession, urn: u32) {
    while s.send_message(&ioc(urn)).is_err() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (mut got, deadline) = (0, Instant::now() + PATIENCE);
    while got < 2 {
        assert!(Instant::now() < deadline, "no answer to order {urn}");
        got += s.poll_responses(2 - got, |_, _| ());
    }
}

#[test]
fn idling_and_trading_with_the_warm_pass_on_do_not_allocate() {
    let mut c = config(0);
    c.ipc.slots = 4;
    c.threads.idle = IdleKind::SpinYield;
    c.threads.warm_interval_us = 1;
    // No multicast publisher and no operator socket: threads that are not under test.
    c.marketdata.enabled = false;
    c.admin.enabled = false;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut a = AlgoSession::connect(&dir, "DEMO1", "secret", 1, PATIENCE).expect("claim");
    let mut b = AlgoSession::connect(&dir, "DEMO2", "secret", 1, PATIENCE).expect("claim");
    for urn in 1..=200 {
        round_trip(&mut a, urn);
        round_trip(&mut b, urn);
    }
    // Settle: the last answers' housekeeping, the first warm passes.
    std::thread::sleep(Duration::from_millis(50));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // Shorter than the algo liveness timeout (no heartbeat is sent meanwhile).
    std::thread::sleep(Duration::from_millis(300));
    let idle = ALLOCATIONS.load(Ordering::Relaxed) - before;
    // Orders between passes (with 1 ms gaps, so that passes run between them).
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for urn in 201..=300 {
        round_trip(&mut a, urn);
        std::thread::sleep(Duration::from_millis(1));
    }
    let trading = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop((a, b));
    let finished = s.stop_and_join().expect("clean stop");
    assert!(
        finished.sessions.warm_passes >= 10,
        "only {} warm passes",
        finished.sessions.warm_passes
    );
    assert_eq!(idle, 0, "allocations while idling with warm passes");
    assert_eq!(
        trading, 0,
        "allocations while trading with warm passes between orders"
    );
}
