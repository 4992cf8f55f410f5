//! kill -9: the real `tickgate serve` binary is SIGKILLed at a random moment while two
//! clients trade; it restarts on its journal, the clients log in again with the
//! sequence number they expect next, and:
//! - no client sees a gap or a duplicate (every sequence number follows the last);
//! - every order a client was told about is in the state it was told (a mass cancel
//!   cancels exactly the orders the client believes open, each for its open shares);
//! - the state hash the restarted server logs equals a fresh offline replay of the
//!   journal (`tickgate journal replay`).
//!
//! The CI test runs 3 kill/restart rounds; the ignored one runs 20.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod serve_support;

use serve_support::Rng;
use serve_support::binary::{ServeProcess, offline_state_hash};
use tickgate::client::{Client, ClientError, Event, LoginParams};
use tickgate::config::DEFAULT_TOML;
use tickgate::proto::ouch::{Outbound, Price, Side, Symbol};

/// A `tickgate serve` child process.
/// What one client was told, and what it needs to go on.
#[derive(Debug)]
struct Trader {
    user: &'static str,
    /// The sequence number it expects next.
    next_seq: u64,
    next_user_ref_num: u32,
    /// Open orders as the client was told: UserRefNum → open shares.
    open: HashMap<u32, u32>,
    /// Orders it was told were accepted.
    accepted: u64,
}

impl Trader {
    fn new(user: &'static str) -> Self {
        Self {
            user,
            next_seq: 1,
            next_user_ref_num: 1,
            open: HashMap::new(),
            accepted: 0,
        }
    }

    fn connect(&self, addr: SocketAddr) -> Client {
        let params = LoginParams::new(self.user, "secret").from_sequence(self.next_seq);
        let mut c = Client::connect(addr, &params).expect("login");
        assert_eq!(c.next_sequence_number(), self.next_seq, "{}", self.user);
        c.set_next_user_ref_num(self.next_user_ref_num);
        c
    }

    /// Applies one sequenced message: numbers must run on without a gap or repeat.
    fn apply(&mut self, seq: u64, m: &Outbound) {
        assert_eq!(
            seq, self.next_seq,
            "{}: gap or duplicate at {m:?}",
            self.user
        );
        self.next_seq += 1;
        match m {
            Outbound::OrderAccepted(x) => {
                self.accepted += 1;
                if x.quantity > 0 {
                    self.open.insert(x.user_ref_num, x.quantity);
                }
            }
            Outbound::OrderExecuted(x) => self.reduce(x.user_ref_num, x.quantity),
            Outbound::OrderCanceled(x) => self.reduce(x.user_ref_num, x.quantity),
            _ => {}
        }
    }

    fn reduce(&mut self, urn: u32, qty: u32) {
        let open = self
            .open
            .get_mut(&urn)
            .expect("an execution or cancel of an open order");
        *open = open.checked_sub(qty).expect("no more than the open shares");
        if *open == 0 {
            self.open.remove(&urn);
        }
    }

    /// Trades until the server goes away: enters crossing limit orders and cancels
    /// open ones, pipelined, applying whatever arrives.
    fn trade(mut self, addr: SocketAddr, seed: u64) -> Self {
        let mut c = self.connect(addr);
        // Non-blocking reads (the loop sleeps between orders, so it does not spin).
        c.set_spin(true).expect("non-blocking");
        let mut rng = Rng(seed | 1);
        let aapl = Symbol::padded("AAPL");
        loop {
            let sent = if rng.below(3) > 0 || self.open.is_empty() {
                let side = if rng.below(2) == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let price = Price(1_899_000 + rng.below(21) * 100);
                c.enter_order(side, 1 + rng.below(100) as u32, aapl, price)
                    .map(|_| ())
            } else {
                let k = rng.below(self.open.len() as u64) as usize;
                let urn = *self.open.keys().nth(k).expect("an open order");
                c.cancel(urn, 0)
            };
            self.next_user_ref_num = c.next_user_ref_num();
            if sent.is_err() {
                break;
            }
            match self.drain(&mut c, Duration::ZERO) {
                Ok(()) => {}
                Err(_) => break,
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // The connection died with the server: whatever was read is what it was told.
        self
    }

    /// Applies messages until none came for `quiet` (at least one read attempt).
    fn drain(&mut self, c: &mut Client, quiet: Duration) -> Result<(), ClientError> {
        let mut last = Instant::now();
        loop {
            match c.try_recv()? {
                Some(Event::Sequenced {
                    sequence_number,
                    message,
                }) => {
                    self.apply(sequence_number, &message);
                    last = Instant::now();
                }
                Some(Event::EndOfSession) => return Err(ClientError::Closed),
                Some(_) => {}
                None if last.elapsed() >= quiet => return Ok(()),
                None => {}
            }
        }
    }

    /// After a restart: catches up on what it missed, then checks that the server
    /// holds exactly the open orders the client was told about (a mass cancel answers
    /// with one cancel per open order, for its open shares). Returns orders checked.
    fn verify(&mut self, addr: SocketAddr) -> usize {
        let mut c = self.connect(addr);
        self.drain(&mut c, Duration::from_millis(300))
            .expect("catch up");
        let expected = self.open.clone();
        let urn = c
            .mass_cancel(tickgate::proto::wire::Alpha::SPACES, Symbol::SPACES)
            .expect("mass cancel");
        self.next_user_ref_num = c.next_user_ref_num();
        let mut canceled = HashMap::new();
        loop {
            let Event::Sequenced {
                sequence_number,
                message,
            } = c.recv().expect("mass cancel answers")
            else {
                panic!("{}: unexpected end", self.user);
            };
            if let Outbound::OrderCanceled(x) = &message {
                canceled.insert(x.user_ref_num, x.quantity);
            }
            self.apply(sequence_number, &message);
            if let Outbound::MassCancelResponse(x) = &message {
                assert_eq!(x.user_ref_num, urn);
                break;
            }
        }
        assert_eq!(
            canceled, expected,
            "{}: the server's open orders differ from what the client was told",
            self.user
        );
        assert!(self.open.is_empty());
        c.logout().ok();
        expected.len()
    }
}

struct Scratch(PathBuf);

impl Scratch {
    /// The servers' `/dev/shm` name (a SIGKILLed server leaves its files there).
    fn ipc_name(&self) -> String {
        let dir = self.0.file_name().expect("named");
        format!("{}-ipc", dir.to_string_lossy())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let prefix = self.ipc_name();
        for e in std::fs::read_dir("/dev/shm")
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn kill_and_recover(rounds: usize) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    eprintln!("kill -9 test: seed {seed:#x}, {rounds} rounds");
    let mut rng = Rng(seed | 1);
    let scratch = Scratch(
        std::env::temp_dir().join(format!("tickgate-kill-{}-{rounds}", std::process::id())),
    );
    std::fs::create_dir_all(&scratch.0).unwrap();
    let config = scratch.0.join("serve.toml");
    let text = DEFAULT_TOML
        .replace("listen = \"127.0.0.1:15000\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "replay_bytes_per_session = 67108864",
            "replay_bytes_per_session = 16777216",
        )
        .replace("max_orders = 1048576", "max_orders = 65536")
        .replace("retransmit_port = 15002", "retransmit_port = 0")
        .replace("log_events = true", "log_events = false")
        .replace("segment_mib = 64", "segment_mib = 2")
        .replace(
            "name = \"tickgate\"",
            &format!("name = \"{}\"", scratch.ipc_name()),
        );
    std::fs::write(&config, text).unwrap();
    let journal = scratch.0.join("journal");
    let mut traders = [Trader::new("DEMO1"), Trader::new("DEMO2")];
    let mut server = ServeProcess::start(&config, &journal);
    for round in 0..rounds {
        let addr = server.addr;
        let handles: Vec<_> = std::mem::replace(&mut traders, [Trader::new("-"), Trader::new("-")])
            .into_iter()
            .map(|t| {
                let s = rng.next();
                std::thread::spawn(move || t.trade(addr, s))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(400)));
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        for (slot, h) in traders.iter_mut().zip(handles) {
            *slot = h.join().expect("trader");
        }
        let day = journal.join(&server.session);
        let offline = offline_state_hash(&config, &day);
        server = ServeProcess::start(&config, &journal);
        assert_eq!(
            server.state_hash, offline,
            "round {round}: recovered state differs from a fresh replay"
        );
        let checked: usize = traders.iter_mut().map(|t| t.verify(server.addr)).sum();
        eprintln!(
            "round {round}: {} + {} orders accepted so far, {checked} open orders checked, state {offline}",
            traders[0].accepted, traders[1].accepted
        );
    }
    assert!(traders.iter().all(|t| t.accepted > 0), "the clients traded");
}

#[test]
fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    kill_and_recover(3);
}

#[test]
#[ignore = "long: 20 kill/restart rounds"]
fn kill_9_twenty_times() {
    kill_and_recover(20);
}
