//! Engine market-data events → ITCH 5.0 on the broadcast ring → decoded back.

mod engine_support;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use engine_support::*;
use tickgate::engine::command::{Enter, SystemEvent as SystemEventCmd};
use tickgate::engine::core::{Core, MarketOutput, VecInput, VecOutput};
use tickgate::engine::event::*;
use tickgate::engine::{Command, Display, Side, TradingState as EngineState};
use tickgate::md::ItchMarketOutput;
use tickgate::md::itch::{Symbols, encode};
use tickgate::proto::itch::{self, BuySell, EventCode, Message, Price4, TradingState};
use tickgate::ring::broadcast::{self, ReadError};
use tickgate::ring::shm::Layout;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only an atomic and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn ring(capacity: usize) -> broadcast::Writer {
    broadcast::new(Layout {
        capacity,
        slot_bytes: 64,
    })
    .unwrap()
}

fn symbols() -> Symbols {
    Symbols::from_symbols(["TEST", "LOT"])
}

fn stock(s: &str) -> itch::Stock {
    itch::Stock::padded(s)
}

fn hdr(locate: u16, ts: u64) -> itch::Header {
    itch::Header {
        stock_locate: locate,
        tracking_number: 0,
        timestamp_ns: ts,
    }
}

/// One event of every kind and the message it must become.
fn every_kind() -> Vec<(MdEvent, Message)> {
    vec![
        (
            MdEvent::SystemEvent(MdSystemEvent {
                ts_ns: 1,
                code: b'Q',
            }),
            Message::SystemEvent(itch::SystemEvent {
                header: hdr(0, 1),
                event_code: EventCode::StartOfMarketHours,
            }),
        ),
        (
            MdEvent::StockDirectory(MdStockDirectory {
                ts_ns: 2,
                locate: 1,
                symbol: *b"LOT     ",
                lot_size: 100,
            }),
            Message::StockDirectory(tickgate::md::itch::directory_message(
                hdr(1, 2),
                stock("LOT"),
                100,
            )),
        ),
        (
            MdEvent::TradingAction(MdTradingAction {
                ts_ns: 3,
                locate: 0,
                state: EngineState::Halted,
            }),
            Message::StockTradingAction(itch::StockTradingAction {
                header: hdr(0, 3),
                stock: stock("TEST"),
                trading_state: TradingState::Halted,
                reserved: b' ',
                reason: tickgate::proto::wire::Alpha::SPACES,
            }),
        ),
        (
            MdEvent::AddOrder(MdAddOrder {
                ts_ns: 4,
                locate: 1,
                order_number: 77,
                side: b'S',
                shares: 300,
                price: 1_000_100,
            }),
            Message::AddOrder(itch::AddOrder {
                header: hdr(1, 4),
                order_reference_number: 77,
                buy_sell_indicator: BuySell::Sell,
                shares: 300,
                stock: stock("LOT"),
                price: Price4(1_000_100),
            }),
        ),
        (
            MdEvent::OrderExecuted(MdOrderExecuted {
                ts_ns: 5,
                locate: 0,
                order_number: 77,
                shares: 10,
                match_number: 9,
            }),
            Message::OrderExecuted(itch::OrderExecuted {
                header: hdr(0, 5),
                order_reference_number: 77,
                executed_shares: 10,
                match_number: 9,
            }),
        ),
        (
            MdEvent::OrderExecutedWithPrice(MdOrderExecutedWithPrice {
                ts_ns: 6,
                locate: 0,
                order_number: 78,
                shares: 11,
                match_number: 10,
                price: 999_900,
            }),
            Message::OrderExecutedWithPrice(itch::OrderExecutedWithPrice {
                header: hdr(0, 6),
                order_reference_number: 78,
                executed_shares: 11,
                match_number: 10,
                printable: itch::Printable::Printable,
                execution_price: Price4(999_900),
            }),
        ),
        (
            MdEvent::OrderCancel(MdOrderCancel {
                ts_ns: 7,
                locate: 0,
                order_number: 78,
                shares: 5,
            }),
            Message::OrderCancel(itch::OrderCancel {
                header: hdr(0, 7),
                order_reference_number: 78,
                cancelled_shares: 5,
            }),
        ),
        (
            MdEvent::OrderDelete(MdOrderDelete {
                ts_ns: 8,
                locate: 0,
                order_number: 78,
            }),
            Message::OrderDelete(itch::OrderDelete {
                header: hdr(0, 8),
                order_reference_number: 78,
            }),
        ),
        (
            MdEvent::OrderReplace(MdOrderReplace {
                ts_ns: 9,
                locate: 0,
                orig_order_number: 77,
                order_number: 80,
                shares: 12,
                price: 1_000_000,
            }),
            Message::OrderReplace(itch::OrderReplace {
                header: hdr(0, 9),
                original_order_reference_number: 77,
                new_order_reference_number: 80,
                shares: 12,
                price: Price4(1_000_000),
            }),
        ),
        (
            MdEvent::Trade(MdTrade {
                ts_ns: (1 << 47) + 10,
                locate: 0,
                order_number: 0,
                side: b'B',
                shares: 13,
                price: 1_000_000,
                match_number: 11,
            }),
            Message::Trade(itch::Trade {
                header: hdr(0, (1 << 47) + 10),
                order_reference_number: 0,
                buy_sell_indicator: BuySell::Buy,
                shares: 13,
                stock: stock("TEST"),
                price: Price4(1_000_000),
                match_number: 11,
            }),
        ),
    ]
}

#[test]
fn every_md_event_kind_encodes_to_its_itch_message_and_decodes_back() {
    let symbols = symbols();
    for (event, expected) in every_kind() {
        let mut buf = [0u8; Message::MAX_LEN];
        let len = encode(&event, &symbols, &mut buf).expect("encodes");
        assert_eq!(Message::len_of(buf[0]), Some(len), "{event:?}");
        assert_eq!(Message::decode(&buf[..len]), Ok(expected), "{event:?}");
    }
}

#[test]
fn closed_and_expired_states_print_as_halted_and_trading_as_trading() {
    let symbols = symbols();
    for (state, itch_state) in [
        (EngineState::Trading, TradingState::Trading),
        (EngineState::Closed, TradingState::Halted),
        (EngineState::Expired, TradingState::Halted),
    ] {
        let event = MdEvent::TradingAction(MdTradingAction {
            ts_ns: 1,
            locate: 0,
            state,
        });
        let mut buf = [0u8; Message::MAX_LEN];
        let len = encode(&event, &symbols, &mut buf).unwrap();
        let Ok(Message::StockTradingAction(m)) = Message::decode(&buf[..len]) else {
            panic!("not an H");
        };
        assert_eq!(m.trading_state, itch_state);
    }
}

#[test]
fn a_buffer_too_small_or_a_byte_itch_cannot_carry_gives_none() {
    let symbols = symbols();
    let (event, _) = every_kind()[3];
    assert_eq!(encode(&event, &symbols, &mut [0u8; 10]), None);
    let bad_side = MdEvent::AddOrder(MdAddOrder {
        ts_ns: 1,
        locate: 0,
        order_number: 1,
        side: b'Z',
        shares: 1,
        price: 1,
    });
    assert_eq!(encode(&bad_side, &symbols, &mut [0u8; 64]), None);
    let bad_code = MdEvent::SystemEvent(MdSystemEvent {
        ts_ns: 1,
        code: b'?',
    });
    assert_eq!(encode(&bad_code, &symbols, &mut [0u8; 64]), None);
}

#[test]
fn the_output_writes_one_itch_message_per_slot_numbered_from_one() {
    let mut out = ItchMarketOutput::new(ring(64), symbols());
    let mut reader = out.reader();
    let kinds = every_kind();
    for (event, _) in &kinds {
        assert_eq!(out.try_publish(event), Ok(()));
    }
    assert_eq!(out.commit(), kinds.len());
    for (i, (_, expected)) in kinds.iter().enumerate() {
        let (seq, message) = reader
            .read(|seq, msg| (seq, Message::decode(msg)))
            .expect("a message");
        assert_eq!(seq, i as u64 + 1);
        assert_eq!(message, Ok(*expected));
    }
    assert_eq!(reader.read(|_, _| ()), Err(ReadError::Empty));
    assert_eq!(out.stats.published, kinds.len() as u64);
}

#[test]
fn an_unencodable_event_is_counted_and_never_back_pressures_the_core() {
    let mut out = ItchMarketOutput::new(ring(8), symbols());
    let bad = MdEvent::SystemEvent(MdSystemEvent { ts_ns: 1, code: 0 });
    assert_eq!(out.try_publish(&bad), Ok(()));
    assert_eq!(out.stats.unencodable, 1);
    assert_eq!(out.writer.position(), 0);
}

#[test]
fn the_output_learns_symbols_from_stock_directory_events() {
    let mut out = ItchMarketOutput::new(ring(8), Symbols::from_symbols(["OLD"]));
    let mut reader = out.reader();
    let directory = MdEvent::StockDirectory(MdStockDirectory {
        ts_ns: 1,
        locate: 0,
        symbol: *b"NEW     ",
        lot_size: 1,
    });
    let (add, _) = every_kind()[3];
    let MdEvent::AddOrder(mut add) = add else {
        unreachable!()
    };
    add.locate = 0;
    out.try_publish(&directory).unwrap();
    out.try_publish(&MdEvent::AddOrder(add)).unwrap();
    out.commit();
    reader.read(|_, _| ()).unwrap();
    let got = reader.read(|_, msg| Message::decode(msg)).unwrap();
    let Ok(Message::AddOrder(a)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(a.stock, stock("NEW"));
}

/// Every MdEvent kind the engine emits, produced by a real engine, arrives on the ring as the matching ITCH message.
#[test]
fn engine_events_arrive_on_the_ring_as_itch_in_the_same_order() {
    let mut bench = Bench::new();
    let mut events = Vec::new();
    let mut keep = |ev: Vec<tickgate::engine::AnyEvent>| events.extend(md_events(&ev));
    keep(bench.run(Command::SystemEvent(SystemEventCmd {
        ts_ns: 500,
        code: b'O',
    })));
    let (ev, shown) = bench.enter(limit(Side::Sell, 10, P100));
    keep(ev);
    let hidden = Enter {
        display: Display::Hidden,
        ..limit(Side::Sell, 10, P100 + TICK)
    };
    keep(bench.enter(hidden).0);
    keep(bench.enter(limit(Side::Buy, 3, P100)).0); // E on the shown order
    keep(bench.cancel(&shown, 5)); // X: 7 → 5
    let r = bench.replace_cmd(&shown, Side::Sell, 4, P100 + 2 * TICK);
    let (ev, shown) = bench.replace(&shown, r);
    keep(ev); // U
    keep(bench.enter(limit(Side::Buy, 2, P100 + TICK)).0); // P on the hidden order
    keep(bench.cancel(&shown, 0)); // D
    keep(bench.set_state(T, EngineState::Halted)); // H

    let symbols = Symbols::from_instruments(bench.engine.instruments());
    let mut out = ItchMarketOutput::new(ring(256), symbols.clone());
    let mut reader = out.reader();
    for e in &events {
        out.try_publish(e).unwrap();
    }
    out.commit();
    let mut types = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let mut expected = [0u8; Message::MAX_LEN];
        let len = encode(e, &symbols, &mut expected).unwrap();
        reader
            .read(|seq, msg| {
                assert_eq!(seq, i as u64 + 1);
                assert_eq!(msg, &expected[..len]);
                assert!(Message::decode(msg).is_ok());
                types.push(msg[0]);
            })
            .unwrap();
    }
    for t in *b"SRHAEXUPD" {
        assert!(types.contains(&t), "no {} in {:?}", t as char, types);
    }
    assert_eq!(out.stats.unencodable, 0);
}

#[test]
fn the_core_with_an_itch_output_publishes_itch() {
    let mut input = VecInput::default();
    input.push(&Command::SystemEvent(SystemEventCmd {
        ts_ns: 1,
        code: b'O',
    }));
    let engine = engine_with(64);
    let symbols = Symbols::from_instruments(engine.instruments());
    let market = ItchMarketOutput::new(ring(64), symbols);
    let mut reader = market.reader();
    let outputs: Vec<VecOutput<OrderEvent>> = vec![VecOutput::default()];
    let mut core = Core::new(engine, vec![input], outputs, market, 8).unwrap();
    assert!(core.do_work() > 0);
    // S, then R and H for each of the two instruments.
    let mut got = Vec::new();
    while let Ok(t) = reader.read(|_, msg| msg[0]) {
        got.push(t);
    }
    assert_eq!(got, b"SRHRH");
}

#[test]
fn a_lapped_itch_reader_reports_the_lap_and_resyncs() {
    let mut out = ItchMarketOutput::new(ring(8), symbols());
    let mut reader = out.reader();
    let (event, _) = every_kind()[7];
    for _ in 0..20 {
        out.try_publish(&event).unwrap();
    }
    out.commit();
    let mut seen = 0;
    let result = reader.poll(100, |_, _| seen += 1);
    assert_eq!(result, Err(ReadError::Lapped { lost: 20 }));
    assert_eq!(seen, 0);
    assert_eq!(reader.lost(), 20);
    assert_eq!(reader.next_sequence_number(), 21);
    out.try_publish(&event).unwrap();
    out.commit();
    let seq = reader.read(|seq, msg| {
        assert_eq!(msg[0], b'D');
        seq
    });
    assert_eq!(seq, Ok(21));
}

#[test]
fn publishing_itch_allocates_nothing() {
    let mut out = ItchMarketOutput::new(ring(1024), symbols());
    let kinds = every_kind();
    let mut buf = [0u8; Message::MAX_LEN];
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for i in 0..100_000 {
        let (event, _) = &kinds[i % kinds.len()];
        out.try_publish(event).unwrap();
        let _ = encode(event, &out.symbols, &mut buf);
        if i % 3 == 0 {
            out.commit();
        }
    }
    out.commit();
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0);
    assert_eq!(out.stats.published, 100_000);
}

/// An algo maps the ring file and reads the core's ITCH in place.
#[test]
fn a_reader_attached_to_a_ring_file_reads_the_itch_the_output_writes() {
    let path = std::path::PathBuf::from(format!(
        "/dev/shm/tickgate-test-{}-md-itch",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let layout = Layout {
        capacity: 64,
        slot_bytes: 64,
    };
    let writer = broadcast::Writer::create(&path, layout).unwrap();
    let mut out = ItchMarketOutput::new(writer, symbols());
    let mut reader = tickgate::md::ItchReader::attach(&path, Some(layout)).unwrap();
    let kinds = every_kind();
    for (event, _) in &kinds {
        out.try_publish(event).unwrap();
    }
    out.commit();
    let mut got = Vec::new();
    let polled = reader.poll(64, |seq, msg| got.push((seq, Message::decode(msg))));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(polled, Ok(kinds.len()));
    for (i, (seq, message)) in got.into_iter().enumerate() {
        assert_eq!(seq, i as u64 + 1);
        assert_eq!(message, Ok(kinds[i].1));
    }
}

/// The publish rdtsc of each recent message, by market-data sequence number; none for
/// 0, a number not written yet, or one older than the table.
#[test]
fn publish_tsc_is_kept_for_recent_messages_only() {
    use tickgate::md::itch::PUBLISH_TSC_KEPT;
    let mut out = ItchMarketOutput::new(ring(64), symbols());
    let event = MdEvent::OrderDelete(MdOrderDelete {
        ts_ns: 1,
        locate: 0,
        order_number: 7,
    });
    assert_eq!(out.publish_tsc(0), None);
    assert_eq!(out.publish_tsc(1), None);
    let before = tickgate::clock::rdtsc();
    out.try_publish(&event).unwrap();
    assert_eq!(out.publish_tsc(1), None, "staged, not yet committed");
    out.commit();
    let first = out.publish_tsc(1).expect("message 1 was committed");
    assert!(first >= before);
    for _ in 0..PUBLISH_TSC_KEPT {
        out.try_publish(&event).unwrap();
    }
    out.commit();
    let last = PUBLISH_TSC_KEPT as u64 + 1;
    assert_eq!(out.publish_tsc(1), None, "overwritten");
    assert!(out.publish_tsc(2).is_some());
    assert!(out.publish_tsc(last).unwrap() >= first);
    assert_eq!(out.publish_tsc(last + 1), None);
}

/// Private before public: `try_publish` stages, `commit` makes the messages visible
/// in order with one stamp; a full staging area commits early and drops nothing.
#[test]
fn staged_itch_is_invisible_until_committed_and_a_full_area_commits_early() {
    let mut out = ItchMarketOutput::new(ring(64), symbols()).with_staging(4);
    let mut reader = out.reader();
    let (event, _) = every_kind()[7];
    for _ in 0..3 {
        out.try_publish(&event).unwrap();
    }
    assert_eq!(out.staged(), 3);
    assert_eq!(out.writer.position(), 0);
    assert_eq!(reader.read(|_, _| ()), Err(ReadError::Empty));
    assert_eq!(out.commit(), 3);
    assert_eq!(out.commit(), 0, "nothing left staged");
    assert_eq!(
        out.publish_tsc(1),
        out.publish_tsc(3),
        "one stamp per commit"
    );
    for _ in 0..6 {
        out.try_publish(&event).unwrap();
    }
    assert_eq!(
        out.writer.position(),
        7,
        "the fifth staged message committed four"
    );
    assert_eq!(out.staged(), 2);
    assert_eq!(out.commit(), 2);
    let mut seqs = Vec::new();
    while let Ok(seq) = reader.read(|seq, _| seq) {
        seqs.push(seq);
    }
    assert_eq!(seqs, (1..=9).collect::<Vec<u64>>());
    assert_eq!(out.stats.published, 9);
}
