//! The gateway's steady-state loop does not allocate: a counting allocator watches
//! the thread that runs both the gateway and a non-blocking client.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use tickgate::gateway::echo::Echo;
use tickgate::gateway::{Gateway, GatewayOptions};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is System's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn round_trip(gw: &mut Gateway<Echo>, c: &mut TcpStream, msg: &[u8], back: &mut [u8]) {
    c.write_all(msg).unwrap();
    let mut got = 0;
    let mut turns = 0u64;
    while got < msg.len() {
        gw.do_work();
        match c.read(&mut back[got..]) {
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        turns += 1;
        assert!(turns < 10_000_000, "no echo");
    }
}

#[test]
fn steady_state_echo_does_not_allocate() {
    let opts = GatewayOptions {
        log_connections: false,
        max_connections: 4,
        ..Default::default()
    };
    let mut gw = Gateway::new(opts, Echo).unwrap();
    let mut c = TcpStream::connect(gw.local_addr()).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_nonblocking(true).unwrap();
    let (mut msg, mut back) = ([0u8; 64], [0u8; 64]);
    for i in 0..1000u32 {
        msg[..4].copy_from_slice(&i.to_le_bytes());
        round_trip(&mut gw, &mut c, &msg, &mut back);
    }
    let probe = ALLOCS.with(Cell::get);
    drop(std::hint::black_box(vec![1u8; 10]));
    assert_eq!(
        ALLOCS.with(Cell::get),
        probe + 1,
        "the counting allocator counts"
    );
    let before = ALLOCS.with(Cell::get);
    for i in 0..10_000u32 {
        msg[..4].copy_from_slice(&i.to_le_bytes());
        round_trip(&mut gw, &mut c, &msg, &mut back);
        assert_eq!(back, msg);
    }
    let allocs = ALLOCS.with(Cell::get) - before;
    assert_eq!(
        allocs, 0,
        "{allocs} allocations in 10 000 steady-state round trips"
    );
}
