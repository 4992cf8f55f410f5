//! The always-on tick-to-trade board of a real `serve`: an algo order tagged with the
//! tick it reacted to is recorded for its account; an untagged one is not.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::ipc::algo::AlgoSession;
use tickgate::ipc::latency::{BoardReader, board_path};
use tickgate::proto::ouch::{EnterOrder, Price, Side, Symbol};

const PATIENCE: Duration = Duration::from_secs(30);

fn await_accepted(s: &mut AlgoSession) {
    let deadline = Instant::now() + PATIENCE;
    let mut accepted = false;
    while !accepted {
        assert!(Instant::now() < deadline, "no Order Accepted");
        s.poll_responses(16, |_, msg| accepted |= msg.first() == Some(&b'A'));
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn algo_orders_that_name_their_tick_are_recorded_for_their_account() {
    let c = config(0);
    let dir = c.ipc.directory_path();
    let server = server(c);
    let board = BoardReader::open(&board_path(&dir)).expect("serve creates the board");
    assert_eq!(board.session(0).username, "DEMO1");
    let mut algo = AlgoSession::connect(&dir, "DEMO1", "secret", 1, PATIENCE).unwrap();

    // No market data read yet: the order carries no trigger and is not recorded.
    let m = |urn| {
        EnterOrder::new(
            urn,
            Side::Buy,
            100,
            Symbol::padded("AAPL"),
            Price(1_800_000),
        )
    };
    algo.enter_order(&m(1)).unwrap();
    await_accepted(&mut algo);
    assert_eq!(board.session(0).hist.len(), 0);

    // A tick: another account's order on MSFT, published as ITCH.
    let mut tcp = login(&server, "DEMO2");
    tcp.enter_order(Side::Buy, 100, Symbol::padded("MSFT"), Price(4_100_000))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut tick = None;
    while tick.is_none() {
        assert!(Instant::now() < deadline, "no ITCH Add Order");
        let _ = algo.poll_market_data(64, |seq, itch| {
            if itch.first() == Some(&b'A') {
                tick = Some(seq);
            }
        });
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(Some(algo.md_seq()), tick);
    algo.enter_order(&m(2)).unwrap();
    await_accepted(&mut algo);

    // The server records the order once its poll has written the answers: maybe a
    // moment after the Accepted was read.
    let deadline = Instant::now() + PATIENCE;
    while board.session(0).hist.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = board.session(0);
    assert_eq!((s.hist.len(), s.unknown_trigger), (1, 0));
    let (publish, arrival) = board.last_order(0);
    assert!(publish != 0 && arrival >= publish, "{publish} {arrival}");
    assert!(s.max_ns > 0);
    assert_eq!(board.session(1).hist.len(), 0);

    // `tickgate latency` reads the same board from another process.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["latency", "--json", "--board"])
        .arg(board_path(&dir))
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(v["sessions"][0]["username"], "DEMO1");
    assert_eq!(v["sessions"][0]["count"], 1);
    drop(algo);
    server.stop_and_join().unwrap();
    assert!(!board_path(&dir).exists(), "a clean stop removes the board");
}
