//! `tickgate serve` with two gateway threads (`threads.gateway_cpus = [0, 1]`): each
//! listens on its own port for its own accounts (DEMO1 on thread 0, DEMO2 on thread 1
//! by default), the core routes each event to the thread serving its account. Clients
//! on different threads trade with each other; a login on the wrong thread's port is
//! refused; thread 1 replays a reconnect and a restart from the journal; stop sends End
//! of Day and End of Session on both; algo slots stay with thread 0.

mod serve_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::client::{Client, ClientError, LoginParams};
use tickgate::config::{Config, ConfigError, DEFAULT_TOML, ThreadingMode};
use tickgate::ipc::algo::{AlgoSession, ConnectError};
use tickgate::ipc::directory::ClaimReject;
use tickgate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, Side, Symbol, SystemEventCode};
use tickgate::proto::soupbin::LoginRejectReason;
use tickgate::server::{Running, StartOptions};

const PATIENCE: Duration = Duration::from_secs(30);

fn aapl() -> Symbol {
    Symbol::padded("AAPL")
}

/// The test config with two gateway threads (not pinned: CPU numbers are labels).
fn two_threads(mode: ThreadingMode) -> Config {
    let mut c = config(0);
    c.threads.mode = mode;
    c.threads.gateway_cpus = vec![0, 1];
    c.threads.core_cpu = 2;
    c.threads.idle = tickgate::affinity::IdleKind::SpinYield;
    c
}

fn login_at(addr: SocketAddr, user: &str, from: u64) -> Result<Client, ClientError> {
    let params = LoginParams::new(user, "secret").from_sequence(from);
    let mut c = Client::connect(addr, &params)?;
    c.set_heartbeat_interval(Duration::from_millis(500));
    Ok(c)
}

/// DEMO1 on thread 0 and DEMO2 on thread 1, from sequence 1: each stream starts with
/// its Start of Day.
fn login_both_at_start_of_day(s: &Running) -> (Client, Client) {
    let mut a = login_at(s.addrs[0], "DEMO1", 1).unwrap();
    let mut b = login_at(s.addrs[1], "DEMO2", 1).unwrap();
    for c in [&mut a, &mut b] {
        let (seq, m) = next(c);
        assert_eq!(
            (seq, system_event(&m)),
            (1, Some(SystemEventCode::StartOfDay))
        );
    }
    (a, b)
}

/// DEMO1 (thread 0) sells, DEMO2 (thread 1) buys: both see their execution.
fn trade_across_threads(a: &mut Client, b: &mut Client) {
    let urn = a
        .enter_order(Side::Sell, 300, aapl(), Price(1_900_000))
        .unwrap();
    expect(a, b'A');
    let burn = b
        .enter_order(Side::Buy, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(b, b'A');
    let Outbound::OrderExecuted(eb) = expect(b, b'E') else {
        unreachable!()
    };
    let Outbound::OrderExecuted(ea) = expect(a, b'E') else {
        unreachable!()
    };
    assert_eq!((eb.user_ref_num, eb.quantity), (burn, 100));
    assert_eq!((ea.user_ref_num, ea.quantity), (urn, 100));
    assert_eq!(ea.match_number, eb.match_number);
}

#[test]
fn clients_on_different_gateway_threads_trade_and_both_see_their_fills() {
    let s = server(two_threads(ThreadingMode::Dedicated));
    assert_eq!(s.addrs.len(), 2);
    assert_eq!(s.addr, s.addrs[0]);
    assert_ne!(s.addrs[0], s.addrs[1]);
    let mut a = login_at(s.addrs[0], "DEMO1", 0).unwrap();
    let mut b = login_at(s.addrs[1], "DEMO2", 0).unwrap();
    trade_across_threads(&mut a, &mut b);
    drop((a, b));
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_accepted, 2, "summed over both threads");
    assert!(f.core.commands >= 2, "{:?}", f.core);
}

#[test]
fn shared_mode_with_two_gateway_threads_trades_and_ends_the_day_on_both() {
    let mut c = two_threads(ThreadingMode::Shared);
    c.gateway.system_events = true;
    let dir = journal_base();
    let _guard = DirGuard(dir.clone());
    let s = server_at(c, &dir, StartOptions::default()).unwrap();
    let (mut a, mut b) = login_both_at_start_of_day(&s);
    trade_across_threads(&mut a, &mut b);
    // Thread 1's End of Day passes through the core on thread 0, which waits for it.
    let ends = stop_reading(s, &mut [&mut a, &mut b]);
    assert_eq!(ends[0].len(), 1, "{:?}", ends[0]);
    assert_eq!(system_event(&ends[0][0].1), Some(SystemEventCode::EndOfDay));
    assert_eq!(ends[1].len(), 1, "{:?}", ends[1]);
    assert_eq!(system_event(&ends[1][0].1), Some(SystemEventCode::EndOfDay));
}

#[test]
fn a_login_on_another_threads_port_is_refused_as_not_authorized() {
    let s = server(two_threads(ThreadingMode::Dedicated));
    for (addr, user) in [(s.addrs[1], "DEMO1"), (s.addrs[0], "DEMO2")] {
        let refused = login_at(addr, user, 0);
        assert!(
            matches!(
                refused,
                Err(ClientError::LoginRejected(LoginRejectReason::NotAuthorized))
            ),
            "{user} at {addr}: {refused:?}"
        );
    }
    let a = login_at(s.addrs[0], "DEMO1", 0).unwrap();
    let b = login_at(s.addrs[1], "DEMO2", 0).unwrap();
    drop((a, b));
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.logins_not_authorized, 2);
    assert_eq!(f.sessions.logins_accepted, 2);
}

/// Logs in, retrying while the previous connection of the account is still held.
fn relogin_at(addr: SocketAddr, user: &str, from: u64) -> Client {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match login_at(addr, user, from) {
            Err(ClientError::LoginRejected(LoginRejectReason::SessionNotAvailable))
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.expect("login"),
        }
    }
}

#[test]
fn thread_one_replays_a_reconnect_and_a_restart_from_the_journal() {
    let dir = journal_base();
    let _guard = DirGuard(dir.clone());
    let c = two_threads(ThreadingMode::Dedicated);
    let s = server_at(c.clone(), &dir, StartOptions::default()).unwrap();
    let mut b = login_at(s.addrs[1], "DEMO2", 1).unwrap();
    for price in [1_899_000, 1_898_000, 1_897_000] {
        b.enter_order(Side::Buy, 100, aapl(), Price(price)).unwrap();
        expect(&mut b, b'A');
    }
    // Disconnected: cancel-on-disconnect adds three cancels (4..=6) and its Mass
    // Cancel Response (7) to the stream.
    drop(b);
    let mut b = relogin_at(s.addrs[1], "DEMO2", 2);
    let got = next_types(&mut b, 6);
    let want = [
        (2, b'A'),
        (3, b'A'),
        (4, b'C'),
        (5, b'C'),
        (6, b'C'),
        (7, b'X'),
    ];
    assert_eq!(got, want, "replayed from 2, nothing twice");
    b.account_query().unwrap();
    let (seq, m) = next(&mut b);
    assert_eq!((seq, m.message_type()), (8, b'Q'));
    drop(b);
    s.stop_and_join().unwrap();

    // A restart rebuilds thread 1's stream from the journal.
    let s = server_at(c, &dir, StartOptions::default()).unwrap();
    let mut b = relogin_at(s.addrs[1], "DEMO2", 1);
    let replayed = next_types(&mut b, 8);
    assert_eq!(replayed[0], (1, b'A'));
    assert_eq!(replayed[1..7], want);
    assert_eq!(replayed[7], (8, b'Q'));
    drop(b);
    s.stop_and_join().unwrap();
}

#[test]
fn stop_sends_end_of_day_and_end_of_session_on_both_threads() {
    let mut c = two_threads(ThreadingMode::Dedicated);
    c.gateway.system_events = true;
    let dir = journal_base();
    let _guard = DirGuard(dir.clone());
    let s = server_at(c.clone(), &dir, StartOptions::default()).unwrap();
    let (mut a, mut b) = login_both_at_start_of_day(&s);
    a.account_query().unwrap();
    assert_eq!(
        next(&mut a).0,
        2,
        "one Start of Day each, not one per thread"
    );
    let ends = stop_reading(s, &mut [&mut a, &mut b]);
    assert_only_end_of_day(&ends, &[3, 2]);
    drop((a, b));

    // Restarted: no second Start of Day on either thread.
    let s = server_at(c, &dir, StartOptions::default()).unwrap();
    let mut b = login_at(s.addrs[1], "DEMO2", 1).unwrap();
    let kinds: Vec<_> = (0..2).map(|_| system_event(&next(&mut b).1)).collect();
    assert_eq!(
        kinds,
        [
            Some(SystemEventCode::StartOfDay),
            Some(SystemEventCode::EndOfDay)
        ]
    );
    b.account_query().unwrap();
    assert_eq!(next(&mut b).0, 3);
    drop(b);
    s.stop_and_join().unwrap();
}

#[test]
fn algo_slots_are_served_by_thread_zero_for_its_accounts() {
    let mut c = two_threads(ThreadingMode::Dedicated);
    c.ipc.slots = 4;
    let dir = c.ipc.directory_path();
    let s = server(c);
    // DEMO2 is thread 1's: its claim is refused like its TCP login there.
    let refused = AlgoSession::connect(&dir, "DEMO2", "secret", 1, PATIENCE);
    assert!(
        matches!(
            refused,
            Err(ConnectError::Refused(ClaimReject::NotAuthorized))
        ),
        "{:?}",
        refused.err()
    );
    let mut algo = AlgoSession::connect(&dir, "DEMO1", "secret", 1, PATIENCE).unwrap();
    let buy = EnterOrder::new(1, Side::Buy, 100, aapl(), Price(1_900_000));
    algo.send_message(&Inbound::EnterOrder(buy)).unwrap();
    let mut tcp = login_at(s.addrs[1], "DEMO2", 0).unwrap();
    tcp.enter_order(Side::Sell, 100, aapl(), Price(1_900_000))
        .unwrap();
    expect(&mut tcp, b'A');
    expect(&mut tcp, b'E');
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < 2 {
        assert!(Instant::now() < deadline, "only {got:?}");
        algo.poll_responses(2, |_, msg| got.push(msg[0]));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(got, [b'A', b'E']);
    drop((algo, tcp));
    s.stop_and_join().unwrap();
}

#[test]
fn gateway_thread_settings_are_validated() {
    let dedicated = DEFAULT_TOML
        .replace("\"shared\"          #", "\"dedicated\"       #")
        .replace("core_cpu = 1", "core_cpu = 2")
        .replace("gateway_cpus = [1]", "gateway_cpus = [0, 1]");
    let with = |extra: &str| {
        Config::parse(&dedicated.replacen("[[account]]", &format!("{extra}\n\n[[account]]"), 1))
    };
    let invalid = |r: Result<Config, ConfigError>| match r {
        Err(ConfigError::Invalid(why)) => why,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let c = with("[gateway.account_thread]\nDEMO1 = 1\nDEMO2 = 1").unwrap();
    assert_eq!((c.account_gateway(0), c.account_gateway(1)), (1, 1));
    assert!(invalid(with("[gateway.account_thread]\nDEMO2 = 2")).contains("DEMO2 = 2"));
    assert!(invalid(with("[gateway.account_thread]\nNOBODY = 0")).contains("NOBODY"));
    let twice = dedicated.replace("gateway_cpus = [0, 1]", "gateway_cpus = [0, 0]");
    assert!(invalid(Config::parse(&twice)).contains("twice"));
    let core_shared = dedicated.replace("core_cpu = 2", "core_cpu = 1");
    assert!(invalid(Config::parse(&core_shared)).contains("core_cpu"));
    // A `--listen` override is checked when the server starts.
    let mut c = two_threads(ThreadingMode::Dedicated);
    c.gateway.listen = "127.0.0.1:65535".parse().unwrap();
    let err = tickgate::server::spawn(c, false).unwrap_err().to_string();
    assert!(err.contains("65535"), "{err}");
}

#[test]
fn a_gateway_threads_session_layer_knows_where_other_accounts_are_served() {
    let c = two_threads(ThreadingMode::Dedicated);
    let engine = tickgate::engine::Engine::from_config(&c).unwrap();
    let layout = tickgate::ring::shm::Layout {
        capacity: 64,
        slot_bytes: 128,
    };
    let (tx, _) = tickgate::ring::spsc::channel(layout).unwrap();
    let (_, rx) = tickgate::ring::spsc::channel(layout).unwrap();
    let s =
        tickgate::session::Sessions::for_gateway(&c, engine.instruments(), 8, tx, rx, 1).unwrap();
    let name = |n: &str| tickgate::proto::wire::Alpha::<6>::padded(n).0;
    let (thread, addr) = s.served_elsewhere(&name("DEMO1")).expect("thread 0's");
    assert_eq!((thread, addr), (0, c.gateway_listen(0)));
    assert_eq!(s.served_elsewhere(&name("DEMO2")), None, "served here");
    assert_eq!(s.accounts().len(), 2, "session ids stay config positions");
}
