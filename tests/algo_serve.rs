//! Co-located algos against `tickgate serve`, over shared memory, with real
//! processes: trading with a TCP session, fills and ITCH, SIGKILL → cancel-on-disconnect
//! and a new claim, refusals, a lapped market-data reader, re-attaching after a
//! restart, malformed input, and an algo that stops reading.
//!
//! Child algos are this test binary re-run on the `#[ignore]`d `algo_child` test with
//! a role in the environment; they report on stdout in lines starting with `ALGO `.

mod serve_support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::config::Config;
use tickgate::ipc::algo::{AlgoSession, ConnectError};
use tickgate::ipc::directory::{ClaimReject, ring_path};
use tickgate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, Side, Symbol, TimeInForce};
use tickgate::proto::soupbin::{LoginRejectReason, Packet};
use tickgate::ring::spsc;

const ROLE_ENV: &str = "TICKGATE_ALGO_ROLE";
const DIR_ENV: &str = "TICKGATE_ALGO_DIR";
const NEXT_ENV: &str = "TICKGATE_ALGO_NEXT";
const EXPECT_ENV: &str = "TICKGATE_ALGO_EXPECT";
const PATIENCE: Duration = Duration::from_secs(30);

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

/// The test config: the algo slots under a fresh name, a short liveness timeout.
fn algo_config() -> Config {
    let mut c = config(0);
    c.ipc.liveness_timeout_ms = 300;
    c.ipc.slots = 4;
    c
}

fn buy(urn: u32, price: u64) -> EnterOrder {
    EnterOrder::new(urn, Side::Buy, 100, aapl(), Price(price))
}

/// Connects as `user`, retrying while the account is still held (a killed
/// predecessor not yet noticed).
fn connect(dir: &Path, user: &str, next_seq: u64) -> AlgoSession {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match AlgoSession::connect(dir, user, "secret", next_seq, PATIENCE) {
            Ok(s) => return s,
            Err(ConnectError::Refused(ClaimReject::SessionUnavailable))
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("connect {user}: {e}"),
        }
    }
}

/// Sends, retrying on back-pressure.
fn send(s: &mut AlgoSession, m: &Inbound) {
    let deadline = Instant::now() + PATIENCE;
    while s.send_message(m).is_err() {
        assert!(Instant::now() < deadline, "order ring stayed full");
        s.heartbeat();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Polls responses until `n` arrived; returns (seq, message).
fn responses(s: &mut AlgoSession, n: usize) -> Vec<(u64, Outbound)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?}");
        s.poll_responses(n - got.len(), |seq, msg| {
            got.push((seq, Outbound::decode(msg).expect("valid OUCH")));
        });
        std::thread::sleep(Duration::from_millis(1));
    }
    got
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ALGO {line}");
    let _ = out.flush();
}

/// Child: plays the role named in the environment.
#[test]
#[ignore = "child side of the process tests"]
fn algo_child() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("directory"));
    let env_u64 = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
    let mut s = connect(&dir, "DEMO2", env_u64(NEXT_ENV).unwrap_or(1));
    match role.as_str() {
        "trade" => child_trade(&mut s),
        "rest" => child_rest(&mut s),
        "partial" => child_partial(&mut s),
        "read" => child_read(&mut s, env_u64(EXPECT_ENV).unwrap_or(1) as usize),
        other => panic!("unknown role {other}"),
    }
}

/// Buys 100 AAPL at 190.00; reports every response and ITCH message until both its
/// execution and the ITCH execution were seen.
fn child_trade(s: &mut AlgoSession) {
    send(s, &Inbound::EnterOrder(buy(1, 1_900_000)));
    let (mut filled, mut printed) = (false, false);
    let deadline = Instant::now() + PATIENCE;
    while !(filled && printed) && Instant::now() < deadline {
        s.poll_responses(16, |seq, msg| {
            filled |= msg[0] == b'E';
            say(format_args!("resp {seq} {}", msg[0] as char));
        });
        let _ = s.poll_market_data(64, |seq, itch| {
            printed |= itch[0] == b'E';
            say(format_args!("md {seq} {}", itch[0] as char));
        });
        std::thread::sleep(Duration::from_millis(1));
    }
    say(format_args!("done"));
}

/// Rests a buy, reports its acceptance, then stays alive until killed.
fn child_rest(s: &mut AlgoSession) {
    send(s, &Inbound::EnterOrder(buy(1, 1_800_000)));
    let (seq, m) = responses(s, 1).remove(0);
    say(format_args!("accepted {seq} {}", m.message_type() as char));
    loop {
        s.poll_responses(16, |_, _| {});
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Rests five buys, reads two responses, reports where it stopped and dies without
/// detaching (a crash).
fn child_partial(s: &mut AlgoSession) {
    for urn in 1..=5 {
        send(
            s,
            &Inbound::EnterOrder(buy(urn, 1_800_000 + u64::from(urn) * 100)),
        );
    }
    responses(s, 2);
    say(format_args!("next {}", s.next_expected_seq()));
    std::process::exit(0);
}

/// Reads `n` responses and reports them.
fn child_read(s: &mut AlgoSession, n: usize) {
    for (seq, m) in responses(s, n) {
        say(format_args!("resp {seq} {}", m.message_type() as char));
    }
    say(format_args!("done"));
}

/// A child algo process and its `ALGO ` lines.
struct AlgoChild {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl AlgoChild {
    fn spawn(dir: &Path, role: &str, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["algo_child", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads=1"])
            .env(ROLE_ENV, role)
            .env(DIR_ENV, dir)
            .stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn child algo");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may have begun a line ("test algo_child ... ") without a newline.
                if let Some(at) = line.find("ALGO ") {
                    let _ = tx.send(line[at + 5..].to_string());
                }
            }
        });
        Self { child, lines }
    }

    /// Lines up to and including the first that starts with `last`.
    fn until(&mut self, last: &str) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(l) => {
                    let stop = l.starts_with(last);
                    got.push(l);
                    if stop {
                        return got;
                    }
                }
                Err(e) => {
                    let status = self.child.try_wait();
                    panic!("no {last:?} from the child ({e}, {status:?}); got {got:?}")
                }
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AlgoChild {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn an_algo_process_trades_with_a_tcp_session_and_sees_its_fill_and_the_itch() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = AlgoChild::spawn(&dir, "trade", &[]);
    let before = algo.until("resp 1");
    assert_eq!(before.last().unwrap(), "resp 1 A", "{before:?}");
    let mut tcp = login(&s, "DEMO1");
    tcp.enter_order(Side::Sell, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut tcp, b'A');
    expect(&mut tcp, b'E');
    let lines = algo.until("done");
    let all: Vec<&String> = before.iter().chain(&lines).collect();
    assert!(
        all.iter()
            .any(|l| l.ends_with(" E") && l.starts_with("resp 2")),
        "{all:?}"
    );
    let md: Vec<&&String> = all.iter().filter(|l| l.starts_with("md ")).collect();
    assert!(
        md.iter().any(|l| l.ends_with(" A")),
        "its order's Add Order: {md:?}"
    );
    assert!(
        md.iter().any(|l| l.ends_with(" E")),
        "the execution: {md:?}"
    );
    drop(tcp);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_accepted, 2);
    assert!(!dir.exists(), "the server removes its directory");
}

#[test]
fn a_killed_algo_has_its_orders_cancelled_and_a_new_process_claims_a_slot() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut first = AlgoChild::spawn(&dir, "rest", &[]);
    assert_eq!(first.until("accepted"), ["accepted 1 A"]);
    first.kill();
    // A new process for the same account: refused while the dead one still holds it,
    // then reads the stream from the start: the Accepted and the cancel-on-disconnect.
    let mut second = AlgoChild::spawn(&dir, "read", &[(EXPECT_ENV, "2".into())]);
    assert_eq!(second.until("done"), ["resp 1 A", "resp 2 C", "done"]);
    drop(second);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.cancel_on_disconnect, 1);
    assert!(f.sessions.algo_liveness_ends >= 1);
}

#[test]
fn wrong_credentials_and_a_held_account_are_refused() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let refused = |user: &str, pass: &str| match AlgoSession::connect(&dir, user, pass, 1, PATIENCE)
    {
        Err(ConnectError::Refused(r)) => r,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("{user}/{pass} accepted"),
    };
    assert_eq!(refused("DEMO2", "wrong"), ClaimReject::NotAuthorized);
    assert_eq!(refused("NOBODY", "secret"), ClaimReject::NotAuthorized);
    assert_eq!(refused("LONGUSER", "secret"), ClaimReject::NotAuthorized);
    let tcp = login(&s, "DEMO1");
    assert_eq!(refused("DEMO1", "secret"), ClaimReject::SessionUnavailable);
    let algo = connect(&dir, "DEMO2", 1);
    let second_login = tickgate::client::Client::connect(
        s.addr,
        &tickgate::client::LoginParams::new("DEMO2", "secret"),
    );
    assert!(matches!(
        second_login,
        Err(tickgate::client::ClientError::LoginRejected(
            LoginRejectReason::SessionNotAvailable
        ))
    ));
    assert_eq!(refused("DEMO2", "secret"), ClaimReject::SessionUnavailable);
    drop((algo, tcp));
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_not_authorized, 3);
    assert_eq!(f.sessions.logins_session_unavailable, 3);
}

#[test]
fn a_lapped_market_data_reader_reports_the_lap_and_resyncs() {
    let mut c = algo_config();
    c.ipc.md_ring_records = 64;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    let mut tcp = login(&s, "DEMO1");
    for i in 0..100 {
        tcp.enter_order(Side::Sell, 100, aapl(), Price(1_900_100 + i * 100))
            .unwrap();
        expect(&mut tcp, b'A');
    }
    let mut seen = Vec::new();
    let lap = algo.poll_market_data(1000, |seq, itch| seen.push((seq, itch[0])));
    let lost = lap.expect_err("100 messages through a 64-slot ring").lost;
    assert!(lost >= 100 - 64, "lost {lost}");
    assert!(
        seen.is_empty(),
        "nothing before the lap was still whole: {seen:?}"
    );
    let newest = algo.md_seq();
    tcp.enter_order(Side::Sell, 100, aapl(), Price(1_950_000))
        .unwrap();
    expect(&mut tcp, b'A');
    let deadline = Instant::now() + PATIENCE;
    while seen.is_empty() {
        assert!(Instant::now() < deadline);
        assert_eq!(
            algo.poll_market_data(16, |seq, itch| seen.push((seq, itch[0])))
                .ok(),
            Some(seen.len())
        );
    }
    assert_eq!(
        seen,
        [(newest + 1, b'A')],
        "reads on from the newest message"
    );
    drop((algo, tcp));
    s.stop_and_join().unwrap();
}

#[test]
fn an_algo_reattaching_after_its_restart_receives_what_it_had_not_read() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut first = AlgoChild::spawn(&dir, "partial", &[]);
    assert_eq!(first.until("next"), ["next 3"]);
    // Five Accepted (2 read), then cancel-on-disconnect of the five orders.
    let mut second = AlgoChild::spawn(
        &dir,
        "read",
        &[(NEXT_ENV, "3".into()), (EXPECT_ENV, "8".into())],
    );
    let got = second.until("done");
    let expected: Vec<String> = (3..=10)
        .map(|seq| format!("resp {seq} {}", if seq <= 5 { 'A' } else { 'C' }))
        .chain(["done".to_string()])
        .collect();
    assert_eq!(got, expected);
    drop((first, second));
    s.stop_and_join().unwrap();
}

#[test]
fn malformed_input_from_an_algo_gets_the_tcp_answer_and_others_keep_trading() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    let mut tcp = login(&s, "DEMO1");
    // An Enter Order cut short: its UserRefNum is readable, so it is Rejected.
    let mut whole = [0u8; 256];
    let n = Inbound::EnterOrder(buy(1, 1_900_000))
        .encode(&mut whole)
        .unwrap();
    let short = &whole[..n - 10];
    tcp.send_packet(&Packet::UnsequencedData(short)).unwrap();
    algo.send(short).unwrap();
    let Outbound::OrderRejected(over_tcp) = expect(&mut tcp, b'J') else {
        unreachable!()
    };
    let (seq, over_shm) = responses(&mut algo, 1).remove(0);
    let Outbound::OrderRejected(over_shm) = over_shm else {
        panic!("{over_shm:?}")
    };
    assert_eq!(seq, 1);
    assert_eq!(
        (over_shm.user_ref_num, over_shm.reason),
        (over_tcp.user_ref_num, over_tcp.reason)
    );
    // Garbage that is not even a record header: that session ends, nobody else's.
    let mut raw = spsc::Producer::attach(&ring_path(&dir, algo.slot(), "orders"), None).unwrap();
    raw.try_push(b"xyz").unwrap();
    let deadline = Instant::now() + PATIENCE;
    while algo.is_active() {
        assert!(Instant::now() < deadline, "still active");
        std::thread::sleep(Duration::from_millis(1));
    }
    tcp.set_next_user_ref_num(2);
    tcp.enter_order(Side::Buy, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut tcp, b'A');
    // The account can log in again.
    drop(algo);
    let mut again = connect(&dir, "DEMO2", 2);
    send(&mut again, &Inbound::EnterOrder(buy(2, 1_900_000)));
    assert_eq!(responses(&mut again, 1)[0].1.message_type(), b'A');
    drop((again, tcp));
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.ouch_decode_errors, 2);
    assert_eq!(f.sessions.algo_bad_records, 1);
}

#[test]
fn an_algo_that_stops_reading_is_ended_and_its_orders_cancelled() {
    let mut c = algo_config();
    c.ipc.ring_records = 8;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    let deadline = Instant::now() + PATIENCE;
    let mut urn = 1;
    // Never reads a response; stays alive (heartbeat) until the server ends it.
    while algo.is_active() {
        assert!(Instant::now() < deadline, "never ended");
        algo.heartbeat();
        if algo
            .send_message(&Inbound::EnterOrder(buy(urn, 1_800_000)))
            .is_ok()
        {
            urn += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(algo);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.algo_slow_consumers, 1);
    assert_eq!(f.sessions.cancel_on_disconnect, 1);
}

/// The name of this process's group, from /etc/group.
fn own_group() -> Option<String> {
    // SAFETY: getgid has no preconditions.
    let gid = unsafe { libc::getgid() };
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2) == Some(&gid.to_string().as_str())).then(|| f[0].to_string())
    })
}

#[test]
fn a_second_server_with_the_same_name_is_refused_and_a_dead_ones_files_are_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let mut c = algo_config();
    let Some(group) = own_group() else {
        eprintln!("skipped: no /etc/group entry for this process's gid");
        return;
    };
    c.ipc.group = group;
    let dir = c.ipc.directory_path();
    let s = server(c.clone());
    for file in [
        dir.clone(),
        ring_path(&dir, 0, "orders"),
        tickgate::ipc::directory::md_path(&dir),
    ] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "{}", file.display());
    }
    // The servers refused below must not journal into the working directory.
    let refused_journal = journal_base();
    c.journal.dir = refused_journal.clone();
    let second = tickgate::server::spawn(c.clone(), false);
    let err = second.expect_err("the name is taken").to_string();
    assert!(err.contains("another ipc.name"), "{err}");
    s.stop_and_join().unwrap();
    assert!(!dir.exists());
    // Files left by a server that is gone (here: this process, which no longer
    // serves them) are replaced.
    let layout = tickgate::ring::shm::Layout {
        capacity: 8,
        slot_bytes: 192,
    };
    let stale = tickgate::ipc::directory::Directory::create(&dir, 2, layout, PATIENCE).unwrap();
    std::mem::forget(stale);
    c.ipc.group = "no-such-group-here".into();
    let err = tickgate::server::spawn(c.clone(), false)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is not a group"), "{err}");
    let _ = std::fs::remove_dir_all(&refused_journal);
    c.ipc.group.clear();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    send(&mut algo, &Inbound::EnterOrder(buy(1, 1_800_000)));
    assert_eq!(responses(&mut algo, 1)[0].1.message_type(), b'A');
    drop(algo);
    s.stop_and_join().unwrap();
    assert!(!dir.exists());
}

#[test]
fn after_a_server_restart_an_algo_reattaches_to_its_recovered_stream_and_orders() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let journal = DirGuard(journal_base());
    let opts = tickgate::server::StartOptions::default();
    let s = server_at(c.clone(), &journal.0, opts).unwrap();
    let mut algo = connect(&dir, "DEMO2", 1);
    for urn in 1..=3 {
        send(&mut algo, &Inbound::EnterOrder(buy(urn, 1_800_000)));
    }
    let seqs: Vec<u64> = responses(&mut algo, 3).iter().map(|r| r.0).collect();
    assert_eq!(seqs, [1, 2, 3]);
    s.stop_and_join().unwrap();
    assert!(!algo.is_active());
    let s = server_at(c, &journal.0, opts).unwrap();
    assert!(algo.server_restarted());
    drop(algo);
    // The stream and the open orders were rebuilt from the journal.
    let mut algo = connect(&dir, "DEMO2", 2);
    let replayed: Vec<(u64, u8)> = responses(&mut algo, 2)
        .iter()
        .map(|(seq, m)| (*seq, m.message_type()))
        .collect();
    assert_eq!(replayed, [(2, b'A'), (3, b'A')]);
    let cancel = tickgate::proto::ouch::CancelOrder {
        user_ref_num: 1,
        quantity: 0,
        options: tickgate::proto::ouch::Options::NONE,
    };
    algo.cancel_order(&cancel).unwrap();
    let (seq, m) = responses(&mut algo, 1).remove(0);
    assert_eq!((seq, m.message_type()), (4, b'C'));
    drop(algo);
    s.stop_and_join().unwrap();
}

#[test]
fn dedicated_threading_serves_algo_slots_from_the_gateway_thread() {
    let mut c = algo_config();
    c.threads.mode = tickgate::config::ThreadingMode::Dedicated;
    c.threads.core_cpu = 0;
    c.threads.gateway_cpus = vec![1];
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    send(&mut algo, &Inbound::EnterOrder(buy(1, 1_900_000)));
    assert_eq!(responses(&mut algo, 1)[0].1.message_type(), b'A');
    let mut tcp = login(&s, "DEMO1");
    tcp.enter_order(Side::Sell, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut tcp, b'A');
    expect(&mut tcp, b'E');
    assert_eq!(responses(&mut algo, 1)[0].1.message_type(), b'E');
    drop((algo, tcp));
    s.stop_and_join().unwrap();
}

/// Random records (valid headers, random OUCH bytes) from one algo: answered or
/// counted, never a panic; the TCP session trades on.
#[test]
fn random_records_from_an_algo_never_disturb_another_session() {
    let c = algo_config();
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    let mut tcp = login(&s, "DEMO1");
    let mut rng = Rng(0x5eed_a190);
    let mut record = [0u8; 168];
    for i in 0..2000 {
        let len = rng.below(record.len() as u64) as usize;
        record[..len].iter_mut().for_each(|b| *b = rng.next() as u8);
        if let Some(first) = record.first_mut().filter(|_| i % 2 == 0) {
            // Half of them claim to be a real message type.
            *first = b"OUXMQBDE"[rng.below(8) as usize];
        }
        let deadline = Instant::now() + PATIENCE;
        while algo.send(&record[..len]).is_err() {
            assert!(Instant::now() < deadline && algo.is_active());
            algo.poll_responses(64, |_, _| {});
        }
        algo.poll_responses(64, |_, _| {});
    }
    tcp.enter_order(Side::Buy, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut tcp, b'A');
    drop((algo, tcp));
    let f = s.stop_and_join().unwrap();
    assert!(f.sessions.ouch_decode_errors > 0);
}

#[test]
fn an_algo_gets_start_and_end_of_day_and_its_session_ends_with_the_server() {
    let mut c = algo_config();
    c.gateway.system_events = true;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = connect(&dir, "DEMO2", 1);
    let (seq, first) = responses(&mut algo, 1).remove(0);
    assert_eq!(
        (seq, first.message_type()),
        (1, b'S'),
        "Start of Day: {first:?}"
    );
    let stopping = std::thread::spawn(move || s.stop_and_join().unwrap());
    let (seq, last) = responses(&mut algo, 1).remove(0);
    let Outbound::SystemEvent(e) = last else {
        panic!("{last:?}")
    };
    assert_eq!(
        (seq, e.event_code),
        (2, tickgate::proto::ouch::SystemEventCode::EndOfDay)
    );
    stopping.join().unwrap();
    assert!(!algo.is_active());
    assert!(algo.server_restarted());
}

/// Private before public: once an algo has read the ITCH Order Executed of a trade,
/// both parties' Order Executed are already on their response rings — the serving
/// loop commits a turn's market data only after it wrote that turn's answers. Read
/// in-process, at once, with no wait between the ITCH read and the ring reads.
#[test]
fn both_parties_executions_are_on_their_rings_before_the_itch_execution() {
    let mut c = config(1);
    c.ipc.slots = 4;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut buyer = connect(&dir, "DEMO2", 1);
    let mut seller = AlgoSession::connect(&dir, "U0000", "pw", 1, PATIENCE).expect("claim");
    for i in 1..=50u32 {
        let price = 1_900_000 + u64::from(i) * 100;
        let sell = EnterOrder::new(i, Side::Sell, 100, aapl(), Price(price));
        send(&mut seller, &Inbound::EnterOrder(sell));
        assert_eq!(responses(&mut seller, 1)[0].1.message_type(), b'A');
        while buyer.poll_market_data(64, |_, _| ()) != Ok(0) {}
        send(&mut buyer, &Inbound::EnterOrder(buy(i, price)));
        let deadline = Instant::now() + PATIENCE;
        let mut executed = false;
        while !executed {
            assert!(Instant::now() < deadline, "no ITCH execution for trade {i}");
            let read = buyer.poll_market_data(16, |_, itch| executed |= itch[0] == b'E');
            assert!(read.is_ok(), "the ring lapped the buyer");
        }
        let (mut bought, mut sold) = (Vec::new(), Vec::new());
        buyer.poll_responses(16, |_, m| bought.push(m[0]));
        seller.poll_responses(16, |_, m| sold.push(m[0]));
        assert_eq!(bought, b"AE", "trade {i}: the buyer's answers");
        assert_eq!(sold, b"E", "trade {i}: the seller's execution");
    }
    drop((buyer, seller));
    s.stop_and_join().unwrap();
}

/// An IOC buy that finds nothing to trade with: Accepted, then Canceled.
fn ioc_buy(urn: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder {
        time_in_force: TimeInForce::Ioc,
        ..buy(urn, 1_800_000)
    })
}

/// Asserts that `got` is the stream's messages `from..` with no gap or repeat, each an
/// IOC's Accepted then its Canceled.
fn assert_whole_ioc_stream(got: &[(u64, Outbound)], from: u64) {
    let seqs: Vec<u64> = got.iter().map(|&(seq, _)| seq).collect();
    let whole: Vec<u64> = (from..from + got.len() as u64).collect();
    assert_eq!(seqs, whole, "a gap or a repeat");
    for (seq, m) in got {
        let kind = if seq % 2 == 1 { b'A' } else { b'C' };
        assert_eq!(m.message_type(), kind, "message {seq}");
    }
}

/// The early write (an answer goes into a live slot's ring as soon as it is stored)
/// and the pump (a slot catching up) hand out one stream: an algo that reads live and
/// one that re-attaches mid-stream and keeps trading while it catches up through a
/// ring smaller than its backlog both get every number once, in order, and the same
/// messages where they overlap.
#[test]
fn live_and_reattaching_readers_get_the_whole_stream_once_in_order() {
    let mut c = algo_config();
    c.ipc.ring_records = 8;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut live = connect(&dir, "DEMO2", 1);
    let mut first = Vec::new();
    for urn in 1..=30 {
        send(&mut live, &ioc_buy(urn));
        first.extend(responses(&mut live, 2));
    }
    assert_whole_ioc_stream(&first, 1);
    live.detach();
    // From 11: 50 messages behind, with room for 8; orders keep coming meanwhile.
    let mut again = connect(&dir, "DEMO2", 11);
    let mut second = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    for urn in 31..=60 {
        send(&mut again, &ioc_buy(urn));
        assert!(Instant::now() < deadline, "only {second:?}");
        again.poll_responses(3, |seq, msg| {
            second.push((seq, Outbound::decode(msg).expect("valid OUCH")));
        });
    }
    second.extend(responses(&mut again, 110 - second.len()));
    assert_whole_ioc_stream(&second, 11);
    assert_eq!(&second[..50], &first[10..], "the replayed part differs");
    // Caught up: answers go straight to the ring again.
    for urn in 61..=70 {
        send(&mut again, &ioc_buy(urn));
        second.extend(responses(&mut again, 2));
    }
    assert_whole_ioc_stream(&second, 11);
    drop(again);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.algo_slow_consumers, 0);
}
