//! The journal in `serve`: a restart replays the day's journal into the core and the
//! session layer, so clients log in again with the number they expect next and get
//! exactly what they missed; the books, open orders and UserRefNum high-water marks are
//! as they were. Also: `sync` durability, a journal from another configuration, a
//! corrupt record (refused, or truncated when asked) and a torn tail.

mod serve_support;

use serve_support::*;
use tickgate::client::Client;
use tickgate::config::Config;
use tickgate::journal::{self, Durability};
use tickgate::proto::ouch::{Outbound, Price, Side, Symbol};
use tickgate::server::{Running, StartOptions};

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

fn px(dollars_cents: u64) -> Price {
    Price(dollars_cents * 100)
}

fn start(c: &Config, dir: &std::path::Path) -> Running {
    server_at(c.clone(), dir, StartOptions::default()).expect("server starts")
}

/// The journal directory of the running day.
fn day_dir(s: &Running, base: &std::path::Path) -> std::path::PathBuf {
    base.join(String::from_utf8_lossy(s.session_name.trimmed()).as_ref())
}

/// Reads `n` sequenced messages, checking their numbers run on from `first`.
fn read_n(c: &mut Client, first: u64, n: usize) -> Vec<Outbound> {
    (0..n)
        .map(|i| {
            let (seq, m) = next(c);
            assert_eq!(seq, first + i as u64, "gap or duplicate at {m:?}");
            m
        })
        .collect()
}

fn user_ref_num(m: &Outbound) -> u32 {
    match m {
        Outbound::OrderAccepted(x) => x.user_ref_num,
        Outbound::OrderRejected(x) => x.user_ref_num,
        Outbound::OrderCanceled(x) => x.user_ref_num,
        Outbound::OrderExecuted(x) => x.user_ref_num,
        Outbound::OrderReplaced(x) => x.user_ref_num,
        other => panic!("no UserRefNum in {other:?}"),
    }
}

/// A day of trading with every kind of answer: core events and session-layer answers
/// (unknown symbol, account query) interleaved. Returns each client's stream and the
/// clients: keep them connected until the server has stopped (End of Session), or
/// their disconnection would race the stop with cancel-on-disconnect.
fn trade_a_little(s: &Running) -> (Vec<Outbound>, Vec<Outbound>, [Client; 2]) {
    let mut a = login(s, "DEMO1");
    let mut b = login(s, "DEMO2");
    let buy = a.enter_order(Side::Buy, 100, aapl(), px(19000)).unwrap();
    let bad = a
        .enter_order(Side::Buy, 100, Symbol::padded("ZZZZ"), px(100))
        .unwrap();
    a.account_query().unwrap();
    let mut sa = read_n(&mut a, 1, 3);
    assert_eq!(user_ref_num(&sa[1]), bad);
    assert_eq!(sa[1].message_type(), b'J');
    assert_eq!(sa[2].message_type(), b'Q');
    b.enter_order(Side::Sell, 40, aapl(), px(19000)).unwrap();
    let mut sb = read_n(&mut b, 1, 2);
    sa.extend(read_n(&mut a, 4, 1));
    a.replace(buy, 80, px(18999)).unwrap();
    sa.extend(read_n(&mut a, 5, 1));
    assert_eq!(sa[4].message_type(), b'U');
    b.enter_order(Side::Buy, 10, aapl(), px(18000)).unwrap();
    sb.extend(read_n(&mut b, 3, 1));
    (sa, sb, [a, b])
}

fn restart_round_trip(durability: Durability) {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let mut cfg = config(0);
    cfg.journal.durability = durability;
    // The day trades 5.3% below its last trade: no price collar.
    cfg.risk.defaults.collar_bps = 0;
    let s1 = start(&cfg, &base);
    let (sa, sb, clients) = trade_a_little(&s1);
    let f = s1.stop_and_join().unwrap();
    drop(clients);
    assert_eq!(f.core.journaled, f.core.commands);
    assert!(f.core.journaled >= 6, "{:?}", f.core);
    assert_eq!(f.sessions.unjournaled_answers, 0);

    let s2 = start(&cfg, &base);
    let mut a = login_from(&s2, "DEMO1", 1);
    let mut b = login_from(&s2, "DEMO2", 1);
    a.set_next_user_ref_num(4); // 1 buy, 2 bad symbol, 3 replacement
    assert_eq!(
        read_n(&mut a, 1, sa.len()),
        sa,
        "DEMO1's stream replayed exactly"
    );
    assert_eq!(
        read_n(&mut b, 1, sb.len()),
        sb,
        "DEMO2's stream replayed exactly"
    );

    // The books and open orders survived: DEMO1's replacement (80 - 40 filled) cancels
    // for its 40 open shares, DEMO2's resting buy trades.
    let replacement = user_ref_num(&sa[4]);
    a.cancel(replacement, 0).unwrap();
    let Outbound::OrderCanceled(c) = read_n(&mut a, 6, 1)[0] else {
        panic!("expected a cancel")
    };
    assert_eq!(c.quantity, 40);
    let sell = a.enter_order(Side::Sell, 10, aapl(), px(18000)).unwrap();
    let m = read_n(&mut a, 7, 2);
    assert_eq!(
        (m[0].message_type(), m[1].message_type()),
        (b'A', b'E'),
        "{m:?}"
    );
    assert_eq!(read_n(&mut b, 4, 1)[0].message_type(), b'E');

    // UserRefNum high-water marks survived: a replayed number is ignored.
    a.set_next_user_ref_num(sell);
    a.enter_order(Side::Buy, 1, aapl(), px(17000)).unwrap();
    let fresh = a.enter_order(Side::Buy, 1, aapl(), px(17000)).unwrap();
    assert_eq!(user_ref_num(&read_n(&mut a, 9, 1)[0]), fresh);
    let f = s2.stop_and_join().unwrap();
    assert_eq!(f.sessions.resends_ignored, 1);
}

#[test]
fn a_restart_replays_every_stream_exactly_and_the_day_goes_on() {
    restart_round_trip(Durability::Process);
}

#[test]
fn sync_durability_answers_once_durable_and_replays_the_same() {
    restart_round_trip(Durability::Sync);
}

#[test]
fn a_journal_from_another_configuration_is_refused() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let cfg = config(0);
    let s = start(&cfg, &base);
    let (_, _, clients) = trade_a_little(&s);
    s.stop_and_join().unwrap();
    drop(clients);
    let mut other = cfg.clone();
    other.instruments[0].tick_size *= 2;
    let err =
        server_at(other, &base, StartOptions::default()).expect_err("another config is refused");
    assert!(err.to_string().contains("fingerprint"), "{err}");
    // The same configuration still starts.
    start(&cfg, &base).stop_and_join().unwrap();
}

/// Enters `n` orders on DEMO1 (each an Accepted) and stops; returns the day's dir.
fn journal_of_enters(cfg: &Config, base: &std::path::Path, n: u32) -> std::path::PathBuf {
    let s = start(cfg, base);
    let mut a = login(&s, "DEMO1");
    for i in 0..n {
        a.enter_order(Side::Buy, 1, aapl(), px(18000 + u64::from(i)))
            .unwrap();
    }
    read_n(&mut a, 1, n as usize);
    let dir = day_dir(&s, base);
    s.stop_and_join().unwrap();
    drop(a);
    dir
}

fn patch(path: &std::path::Path, offset: usize, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset as u64).unwrap();
}

fn frame() -> usize {
    journal::frame_bytes(tickgate::session::INPUT_RECORD_BYTES)
}

#[test]
fn a_corrupt_record_refuses_to_start_unless_truncation_is_asked() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let cfg = config(0);
    let dir = journal_of_enters(&cfg, &base, 3);
    let seg = journal::segment_path(&dir, 0);
    patch(&seg, journal::HEADER_BYTES + frame() + 40, &[0xff]);
    let err =
        server_at(cfg.clone(), &base, StartOptions::default()).expect_err("corruption refused");
    assert!(err.to_string().contains("truncate"), "{err}");

    let opts = StartOptions {
        truncate_journal_at_corruption: true,
        ..StartOptions::default()
    };
    let s = server_at(cfg, &base, opts).expect("starts when truncation is asked");
    let mut a = login_from(&s, "DEMO1", 1);
    let m = read_n(&mut a, 1, 1);
    assert_eq!(m[0].message_type(), b'A');
    // Only the first record survived: UserRefNum 2 is fresh again, the next message new.
    a.set_next_user_ref_num(2);
    let urn = a.enter_order(Side::Buy, 1, aapl(), px(17000)).unwrap();
    assert_eq!(user_ref_num(&read_n(&mut a, 2, 1)[0]), urn);
    s.stop_and_join().unwrap();
}

#[test]
fn a_torn_tail_is_cut_and_everything_before_it_recovered() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let cfg = config(0);
    let dir = journal_of_enters(&cfg, &base, 3);
    let seg = journal::segment_path(&dir, 0);
    // A fourth record whose payload never fully arrived: a length, a wrong CRC, its
    // sequence number and half a payload.
    let mut half = Vec::new();
    half.extend_from_slice(&(tickgate::session::INPUT_RECORD_BYTES as u32).to_le_bytes());
    half.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    half.extend_from_slice(&3u64.to_le_bytes());
    half.extend_from_slice(&1u64.to_le_bytes());
    half.extend_from_slice(&[b'O'; 20]);
    patch(&seg, journal::HEADER_BYTES + 3 * frame(), &half);
    let s = start(&cfg, &base);
    let mut a = login_from(&s, "DEMO1", 1);
    assert_eq!(read_n(&mut a, 1, 3).len(), 3);
    a.set_next_user_ref_num(4);
    let urn = a.enter_order(Side::Buy, 1, aapl(), px(17000)).unwrap();
    assert_eq!(user_ref_num(&read_n(&mut a, 4, 1)[0]), urn);
    s.stop_and_join().unwrap();
}

#[test]
fn an_empty_or_missing_journal_starts_the_day_empty() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let cfg = config(0);
    let s = start(&cfg, &base);
    let dir = day_dir(&s, &base);
    s.stop_and_join().unwrap();
    assert!(
        journal::segment_path(&dir, 0).exists(),
        "the first segment is made"
    );
    let s = start(&cfg, &base);
    let a = login(&s, "DEMO1");
    assert_eq!(a.next_sequence_number(), 1);
    drop(a);
    s.stop_and_join().unwrap();
}

#[test]
fn answers_wait_in_order_for_a_full_command_ring_and_are_journaled() {
    use tickgate::proto::ouch::{EnterOrder, Inbound};
    const N: u32 = 300;
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let mut cfg = config(0);
    cfg.gateway.command_ring_records = 8;
    let s = start(&cfg, &base);
    let mut a = login(&s, "DEMO1");
    // N Enter Orders for an unknown symbol in one write: each gets a session-layer
    // Rejected, far more than the ring holds at once.
    let mut bytes = Vec::new();
    for urn in 1..=N {
        let m = Inbound::EnterOrder(EnterOrder::new(
            urn,
            Side::Buy,
            1,
            Symbol::padded("ZZZZ"),
            px(100),
        ));
        let mut buf = [0u8; 512];
        let n =
            tickgate::proto::soupbin::encode_unsequenced_with(&mut buf, |b| m.encode(b)).unwrap();
        bytes.extend_from_slice(&buf[..n]);
    }
    a.send_raw(&bytes).unwrap();
    let stream = read_n(&mut a, 1, N as usize);
    for (i, m) in stream.iter().enumerate() {
        assert_eq!(m.message_type(), b'J');
        assert_eq!(user_ref_num(m), i as u32 + 1, "answers in order");
    }
    let f = s.stop_and_join().unwrap();
    drop(a);
    assert!(
        f.sessions.command_ring_full > 0,
        "the ring was full: {:?}",
        f.sessions
    );
    assert_eq!(f.sessions.unjournaled_answers, 0);
    let s = start(&cfg, &base);
    let mut a = login_from(&s, "DEMO1", 1);
    assert_eq!(read_n(&mut a, 1, N as usize), stream, "replayed exactly");
    s.stop_and_join().unwrap();
}
