//! Shared set-up of the serve/session tests: a server on a free 127.0.0.1 port with
//! backoff idling, and helpers over the blocking client.
#![allow(dead_code)]

use std::time::Duration;

use tickgate::client::{Client, Event, LoginParams};
use tickgate::config::{AccountConfig, Config, DEFAULT_TOML};
use tickgate::proto::ouch::Outbound;
use tickgate::server::{Running, spawn};

/// The embedded config on a free port, spin-park idling, small stores, `accounts`
/// extra generated accounts (`U0001`…) besides DEMO1/DEMO2.
pub fn config(extra_accounts: usize) -> Config {
    let mut c = Config::parse(DEFAULT_TOML).unwrap();
    c.gateway.listen = "127.0.0.1:0".parse().unwrap();
    c.gateway.replay_bytes_per_session = 1 << 20;
    c.gateway.max_open_orders_per_session = 1024;
    c.gateway.log_events = std::env::var_os("TICKGATE_TEST_LOG").is_some();
    c.threads.idle = tickgate::affinity::IdleKind::SpinPark;
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

/// A running server (not pinned: tests share the CPUs).
pub fn server(c: Config) -> Running {
    spawn(c, false).expect("server starts")
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
