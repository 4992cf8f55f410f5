//! Shared set-up of the serve/session tests: a server on a free 127.0.0.1 port with
//! backoff idling, and helpers over the blocking client.
#![allow(dead_code)]

pub mod binary;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tickgate::client::{Client, Event, LoginParams};
use tickgate::config::{AccountConfig, Config, DEFAULT_TOML};
use tickgate::proto::ouch::{Outbound, SystemEventCode};
use tickgate::server::{Finished, Running, spawn};

/// The embedded config on a free port, spin-park idling, small stores, `accounts`
/// extra generated accounts (`U0001`…) besides DEMO1/DEMO2.
pub fn config(extra_accounts: usize) -> Config {
    let mut c = Config::parse(DEFAULT_TOML).unwrap();
    c.gateway.listen = "127.0.0.1:0".parse().unwrap();
    c.gateway.replay_bytes_per_session = 1 << 20;
    c.gateway.max_open_orders_per_session = 1024;
    c.gateway.log_events = std::env::var_os("TICKGATE_TEST_LOG").is_some();
    // Streams start with the test's own messages (tests/serve_system_events.rs and
    // the real-binary tests cover Start/End of Day).
    c.gateway.system_events = false;
    c.threads.idle = tickgate::affinity::IdleKind::SpinPark;
    // Servers run in parallel: no fixed retransmission port, one ipc name each.
    c.marketdata.retransmit_port = 0;
    c.ipc.name = ipc_name();
    c.engine.max_orders = 1 << 16;
    c.engine.max_sessions = (2 + extra_accounts).max(64) as u16;
    for i in 0..extra_accounts {
        c.accounts.push(AccountConfig {
            username: format!("U{i:04}"),
            password: "pw".into(),
            firm: format!("F{:03}", i % 1000),
            cancel_on_disconnect: true,
        });
    }
    c
}

/// A `/dev/shm` name no other test server uses (its server removes the files).
pub fn ipc_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("tickgate-test-{}-{n}", std::process::id())
}

/// A running server whose journal lives in its own temporary directory, removed
/// when the server is dropped.
pub struct TestServer {
    running: Option<Running>,
    /// The journal base directory.
    pub journal_dir: PathBuf,
}

impl std::ops::Deref for TestServer {
    type Target = Running;
    fn deref(&self) -> &Running {
        self.running.as_ref().expect("running")
    }
}

impl TestServer {
    /// Stops the server (End of Session, drain) and reports its counters.
    pub fn stop_and_join(mut self) -> Result<Finished, Box<dyn std::error::Error + Send + Sync>> {
        self.running.take().expect("running").stop_and_join()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.running.take());
        let _ = std::fs::remove_dir_all(&self.journal_dir);
    }
}

/// A fresh journal base directory for one test server.
pub fn journal_base() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("tickgate-test-journal-{}-{n}", std::process::id()))
}

/// A running server (not pinned: tests share the CPUs), journaling into a fresh
/// temporary directory (2 MiB segments, so tests also cross segment boundaries).
pub fn server(mut c: Config) -> TestServer {
    let dir = journal_base();
    c.journal.dir = dir.clone();
    c.journal.segment_mib = 2;
    TestServer {
        running: Some(spawn(c, false).expect("server starts")),
        journal_dir: dir,
    }
}

/// Logs in as `user` / `secret`, receiving live messages only (sequence 0).
pub fn login(s: &Running, user: &str) -> Client {
    let params = LoginParams::new(user, "secret").from_sequence(0);
    let mut c = Client::connect(s.addr, &params).expect("login");
    c.set_heartbeat_interval(Duration::from_millis(500));
    c
}

/// The next sequenced message.
pub fn next(c: &mut Client) -> (u64, Outbound) {
    match c.recv().expect("recv") {
        Event::Sequenced {
            sequence_number,
            message,
        } => (sequence_number, message),
        other => panic!("expected a sequenced message, got {other:?}"),
    }
}

/// The next sequenced message, which must be of type `t`.
pub fn expect(c: &mut Client, t: u8) -> Outbound {
    let (_, m) = next(c);
    assert_eq!(m.message_type(), t, "expected {:?}, got {m:?}", t as char);
    m
}

/// Removes a directory when dropped.
pub struct DirGuard(pub PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server journaling into `dir` (2 MiB segments), which outlives it: for restarts.
pub fn server_at(
    mut c: Config,
    dir: &std::path::Path,
    opts: tickgate::server::StartOptions,
) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    c.journal.dir = dir.to_path_buf();
    c.journal.segment_mib = 2;
    tickgate::server::spawn_with(c, opts)
}

/// Logs in as `user` / `secret` asking for the stream from `from` (1 = everything).
pub fn login_from(s: &Running, user: &str, from: u64) -> Client {
    let params = LoginParams::new(user, "secret").from_sequence(from);
    let mut c = Client::connect(s.addr, &params).expect("login");
    c.set_heartbeat_interval(Duration::from_millis(500));
    c
}

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Stops `s` on another thread while `clients` read to End of Session; returns what
/// each read after its last message.
pub fn stop_reading(s: Running, clients: &mut [&mut Client]) -> Vec<Vec<(u64, Outbound)>> {
    let stopper = std::thread::spawn(move || s.stop_and_join().expect("stops"));
    let got = clients
        .iter_mut()
        .map(|c| {
            let mut msgs = Vec::new();
            loop {
                match c.recv().expect("read to End of Session") {
                    Event::Sequenced {
                        sequence_number,
                        message,
                    } => msgs.push((sequence_number, message)),
                    Event::EndOfSession => break msgs,
                    _ => {}
                }
            }
        })
        .collect();
    stopper.join().expect("stop thread");
    got
}

/// The code of a System Event message, `None` for any other message.
pub fn system_event(m: &Outbound) -> Option<SystemEventCode> {
    match m {
        Outbound::SystemEvent(e) => Some(e.event_code),
        _ => None,
    }
}

/// Asserts that, after the stop, client *i*'s stream held exactly one more message:
/// End of Day, numbered `seqs[i]`.
pub fn assert_only_end_of_day(ends: &[Vec<(u64, Outbound)>], seqs: &[u64]) {
    assert_eq!(ends.len(), seqs.len());
    for (end, &seq) in ends.iter().zip(seqs) {
        assert_eq!(end.len(), 1, "{end:?}");
        assert_eq!(end[0].0, seq);
        assert_eq!(system_event(&end[0].1), Some(SystemEventCode::EndOfDay));
    }
}

/// The client's next `n` messages as (sequence number, message type).
pub fn next_types(c: &mut Client, n: usize) -> Vec<(u64, u8)> {
    (0..n)
        .map(|_| {
            let (seq, m) = next(c);
            (seq, m.message_type())
        })
        .collect()
}
