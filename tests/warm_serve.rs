//! The idle warm pass (`threads.warm_interval_us`, docs/LATENCY.md § The warm pass)
//! changes nothing anyone can observe: the same scripted algo trading with the pass off
//! and with a pass on every idle turn leaves the same journal, the same account
//! streams and the same ITCH, byte for byte once timestamps are blanked; and with it
//! on, passes really run.

mod serve_support;

use std::path::Path;
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::affinity::IdleKind;
use tickgate::config::Config;
use tickgate::ipc::algo::AlgoSession;
use tickgate::journal::{JournalReader, ReadOptions};
use tickgate::proto::ouch::TimeInForce;
use tickgate::proto::ouch::{CancelOrder, EnterOrder, Inbound, Options, Price, Side, Symbol};

const PATIENCE: Duration = Duration::from_secs(30);

/// What a run leaves behind, timestamps blanked.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    /// (sequence, input record) of every journal record.
    journal: Vec<(u64, Vec<u8>)>,
    /// (stream number, OUCH message) of each account's stream, buyer then seller.
    streams: [Vec<(u64, Vec<u8>)>; 2],
    /// Every ITCH message, in ring order.
    itch: Vec<Vec<u8>>,
}

/// The test config with algo slots, yielding (a parked thread runs no pass), and the
/// warm pass every `warm_us` µs.
fn warm_config(warm_us: u64) -> Config {
    let mut c = config(0);
    c.ipc.slots = 4;
    c.threads.idle = IdleKind::SpinYield;
    c.threads.warm_interval_us = warm_us;
    c
}

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

fn order(urn: u32, side: Side, price: u64, tif: TimeInForce) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        time_in_force: tif,
        ..EnterOrder::new(urn, side, 100, aapl(), Price(price))
    })
}

fn send(s: &mut AlgoSession, m: &Inbound) {
    let deadline = Instant::now() + PATIENCE;
    while s.send_message(m).is_err() {
        assert!(Instant::now() < deadline, "order ring stayed full");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads `n` more responses into `into` (stream number, message with its timestamp
/// blanked).
fn take(s: &mut AlgoSession, n: usize, into: &mut Vec<(u64, Vec<u8>)>) {
    let want = into.len() + n;
    let deadline = Instant::now() + PATIENCE;
    while into.len() < want {
        assert!(Instant::now() < deadline, "only {} responses", into.len());
        s.poll_responses(want - into.len(), |seq, msg| {
            into.push((seq, blank(msg, 1..9)));
        });
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn blank(bytes: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if let Some(b) = v.get_mut(range) {
        b.fill(0);
    }
    v
}

/// Idle time between steps: with the pass on, many passes run in each.
fn pause() {
    std::thread::sleep(Duration::from_millis(2));
}

/// The script: resting sells taken by buys (trades, ITCH adds and executions), IOCs
/// far below the market (accepted, cancelled) and a resting buy cancelled by request.
fn run(warm_us: u64) -> (Observed, u64) {
    let c = warm_config(warm_us);
    let dir = c.ipc.directory_path();
    let s = server(c.clone());
    let mut buyer = AlgoSession::connect(&dir, "DEMO1", "secret", 1, PATIENCE).expect("claim");
    let mut seller = AlgoSession::connect(&dir, "DEMO2", "secret", 1, PATIENCE).expect("claim");
    let (mut bought, mut sold) = (Vec::new(), Vec::new());
    let mut urn = 0;
    for i in 1..=10u64 {
        let price = 1_900_000 + i * 100;
        urn += 1;
        send(
            &mut seller,
            &order(urn, Side::Sell, price, TimeInForce::Day),
        );
        take(&mut seller, 1, &mut sold);
        pause();
        send(&mut buyer, &order(urn, Side::Buy, price, TimeInForce::Day));
        take(&mut buyer, 2, &mut bought);
        take(&mut seller, 1, &mut sold);
        pause();
        urn += 1;
        send(
            &mut buyer,
            &order(urn, Side::Buy, 1_800_000, TimeInForce::Ioc),
        );
        take(&mut buyer, 2, &mut bought);
        pause();
        urn += 1;
        send(
            &mut buyer,
            &order(urn, Side::Buy, 1_850_000, TimeInForce::Day),
        );
        take(&mut buyer, 1, &mut bought);
        pause();
        let cancel = CancelOrder {
            user_ref_num: urn,
            quantity: 0,
            options: Options::NONE,
        };
        send(&mut buyer, &Inbound::CancelOrder(cancel));
        take(&mut buyer, 1, &mut bought);
        pause();
    }
    let mut itch = Vec::new();
    // Stock locate, tracking number, then the 6-byte timestamp.
    while buyer.poll_market_data(1024, |_, m| itch.push(blank(m, 5..11))) != Ok(0) {}
    // Read while the server runs: stopping removes the test server's journal.
    let session = String::from_utf8_lossy(s.session_name.trimmed()).into_owned();
    let journal = read_journal(&s.journal_dir.join(session));
    drop((buyer, seller));
    let finished = s.stop_and_join().expect("clean stop");
    let observed = Observed {
        journal,
        streams: [bought, sold],
        itch,
    };
    (observed, finished.sessions.warm_passes)
}

/// Every journal record's sequence number and input record, its command's timestamp
/// (the 8 bytes after the kind byte) blanked.
fn read_journal(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let opts = ReadOptions {
        fingerprint: None,
        truncate_at_corruption: false,
        repair: false,
    };
    let mut records = Vec::new();
    JournalReader::open(dir, opts)
        .expect("journal opens")
        .for_each(|seq, _ts_ns, payload| records.push((seq, blank(payload, 1..9))))
        .expect("journal reads");
    records
}

#[test]
fn the_warm_pass_changes_no_journal_stream_or_itch_byte_and_runs_while_idle() {
    let (off, off_passes) = run(0);
    let (on, on_passes) = run(1);
    assert_eq!(off_passes, 0, "warm_interval_us = 0 runs no pass");
    assert!(
        on_passes > 50,
        "only {on_passes} warm passes in ≈ 100 ms of idling"
    );
    assert_eq!(off.streams[0].len(), 10 * 6, "the buyer's answers");
    assert_eq!(off.streams[1].len(), 10 * 2, "the seller's answers");
    assert!(
        off.journal.len() >= 50,
        "{} journal records",
        off.journal.len()
    );
    assert!(!off.itch.is_empty());
    assert_eq!(on.journal, off.journal, "journal records");
    assert_eq!(on.streams, off.streams, "account streams");
    assert_eq!(on.itch, off.itch, "ITCH messages");
}
