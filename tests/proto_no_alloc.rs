//! The decode and encode paths never allocate: a counting global allocator watches
//! this thread while a stream of SoupBinTCP/OUCH traffic is framed, decoded and
//! re-encoded, and while ITCH and MoldUDP64 packets are built and parsed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ops::ControlFlow;

use tickgate::proto::itch::{self, Header, Message};
use tickgate::proto::moldudp::{DownstreamPacket, PacketBuilder};
use tickgate::proto::ouch::*;
use tickgate::proto::soupbin::{
    Direction, Packet, Reassembler, encode_sequenced_with, encode_unsequenced_with,
};
use tickgate::proto::wire::Alpha;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call unchanged to the system allocator; the thread-local
// counters are const-initialised `Cell`s, so touching them never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: the caller's contract for `alloc` is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

fn order(user_ref_num: u32) -> Inbound {
    let options = Options {
        min_qty: Some(100),
        user_ref_idx: Some(1),
        ..Options::NONE
    };
    Inbound::EnterOrder(EnterOrder {
        options,
        ..EnterOrder::new(
            user_ref_num,
            Side::Buy,
            500,
            Alpha::padded("AAPL"),
            Price(1_000_000),
        )
    })
}

fn accepted(user_ref_num: u32) -> Outbound {
    Outbound::OrderExecuted(OrderExecuted {
        timestamp: 1,
        user_ref_num,
        quantity: 100,
        price: Price(1_000_000),
        liquidity_flag: LiquidityFlag::ADDED,
        match_number: 7,
        options: Options::NONE,
    })
}

/// Frames `stream` in 7-byte chunks, decodes every OUCH message and answers each with
/// a Sequenced Data packet in `out`. Returns the messages handled.
fn gateway_turn(framer: &mut Reassembler, stream: &[u8], out: &mut [u8]) -> usize {
    let mut handled = 0;
    for chunk in stream.chunks(7) {
        framer
            .feed(chunk, |packet| {
                if let Packet::UnsequencedData(bytes) = packet {
                    let Ok(Inbound::EnterOrder(o)) = Inbound::decode(bytes) else {
                        panic!("bad order")
                    };
                    encode_sequenced_with(out, |buf| accepted(o.user_ref_num).encode(buf)).unwrap();
                    handled += 1;
                }
                ControlFlow::Continue(())
            })
            .unwrap();
    }
    handled
}

#[test]
fn framing_decoding_and_encoding_ouch_do_not_allocate() {
    let mut stream = vec![0u8; 64 * 100];
    let mut len = 0;
    for n in 1..=100 {
        len += encode_unsequenced_with(&mut stream[len..], |buf| order(n).encode(buf)).unwrap();
    }
    let mut framer = Reassembler::new(Direction::ClientToServer);
    let mut out = [0u8; 256];
    let mut handled = 0;
    let allocations =
        allocations_during(|| handled = gateway_turn(&mut framer, &stream[..len], &mut out));
    assert_eq!(handled, 100);
    assert_eq!(allocations, 0);
}

#[test]
fn building_and_parsing_itch_over_moldudp_do_not_allocate() {
    let add = Message::AddOrder(itch::AddOrder {
        header: Header {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: 9,
        },
        order_reference_number: 1,
        buy_sell_indicator: itch::BuySell::Buy,
        shares: 100,
        stock: Alpha::padded("AAPL"),
        price: itch::Price4(1_000_000),
    });
    let mut buf = [0u8; 1400];
    let mut decoded = 0;
    let allocations = allocations_during(|| {
        let mut packet = PacketBuilder::new(&mut buf, Alpha::padded("SESSION1"), 1).unwrap();
        while packet
            .push_with(36, |out| assert_eq!(add.encode(out), Ok(36)))
            .is_ok()
        {}
        let len = packet.finish();
        let parsed = DownstreamPacket::parse(&buf[..len]).unwrap();
        decoded = parsed
            .messages()
            .filter(|m| Message::decode(m) == Ok(add))
            .count();
    });
    assert_eq!(decoded, (1400 - 20) / 38);
    assert_eq!(allocations, 0);
}

#[test]
fn counting_allocator_sees_an_allocation() {
    let allocations = allocations_during(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!(allocations, 1);
}
