//! The operator kill switch end to end, against the real `tickgate` binary:
//! `tickgate admin kill --account DEMO1` reaches `tickgate serve` through its control
//! socket, cancels every open order of the account (the client gets each Canceled),
//! blocks new orders (Rejected 0x000C) until `tickgate admin enable`; the kill is
//! journaled, so after a restart the account is still blocked and the state hash the
//! server logs equals `tickgate journal replay`'s.

mod serve_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serve_support::binary::{ServeProcess, offline_state_hash};
use serve_support::{DirGuard, expect, next};
use tickgate::client::{Client, LoginParams};
use tickgate::config::DEFAULT_TOML;
use tickgate::proto::ouch::{Outbound, Price, RejectReason, Side, Symbol};

/// Runs `tickgate admin VERB --account A` and returns its stdout line.
fn admin(verb: &str, account: &str, config: &Path, journal: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["admin", verb, "--account", account, "--config"])
        .arg(config)
        .arg("--journal-dir")
        .arg(journal)
        .output()
        .expect("admin runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{verb}: {text} {out:?}");
    text
}

fn login(addr: SocketAddr, user: &str, from: u64) -> Client {
    let params = LoginParams::new(user, "secret").from_sequence(from);
    let mut c = Client::connect(addr, &params).expect("login");
    c.set_heartbeat_interval(Duration::from_millis(500));
    c
}

fn buy(c: &mut Client, cents: u64) -> (u32, Outbound) {
    let urn = c
        .enter_order(Side::Buy, 10, Symbol::padded("AAPL"), Price(cents * 100))
        .unwrap();
    (urn, next(c).1)
}

#[test]
fn admin_kill_cancels_blocks_and_survives_a_restart() {
    let scratch =
        DirGuard(std::env::temp_dir().join(format!("tickgate-admin-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let config: PathBuf = scratch.0.join("serve.toml");
    let text = DEFAULT_TOML
        .replace("listen = \"127.0.0.1:15000\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "replay_bytes_per_session = 67108864",
            "replay_bytes_per_session = 1048576",
        )
        .replace("max_orders = 1048576", "max_orders = 65536")
        .replace("retransmit_port = 15002", "retransmit_port = 0")
        .replace("log_events = true", "log_events = false")
        .replace("segment_mib = 64", "segment_mib = 2")
        // The stream holds only the test's messages (no Start/End of Day).
        .replace("system_events = true", "system_events = false");
    std::fs::write(&config, text).unwrap();
    let journal = scratch.0.join("journal");
    let socket = journal.join("admin.sock");

    let server = ServeProcess::start(&config, &journal);
    let mode = std::fs::metadata(&socket)
        .expect("control socket")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let mut a = login(server.addr, "DEMO1", 0);
    let mut open: Vec<u32> = (0..3)
        .map(|i| {
            let (urn, m) = buy(&mut a, 18000 + i);
            assert_eq!(m.message_type(), b'A', "{m:?}");
            urn
        })
        .collect();
    let mut b = login(server.addr, "DEMO2", 0);
    assert_eq!(buy(&mut b, 18000).1.message_type(), b'A');

    assert_eq!(
        admin("kill", "DEMO1", &config, &journal),
        "ok kill DEMO1 canceled=3 blocked=1"
    );
    let mut canceled: Vec<u32> = (0..3)
        .map(|_| match expect(&mut a, b'C') {
            Outbound::OrderCanceled(c) => c.user_ref_num,
            _ => unreachable!(),
        })
        .collect();
    canceled.sort_unstable();
    open.sort_unstable();
    assert_eq!(canceled, open);
    let (urn, m) = buy(&mut a, 18000);
    match m {
        Outbound::OrderRejected(j) => {
            assert_eq!(
                (j.user_ref_num, j.reason),
                (urn, RejectReason::FirmNotAuthorized)
            )
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    // Other accounts are untouched.
    assert_eq!(buy(&mut b, 18000).1.message_type(), b'A');
    assert_eq!(
        admin("status", "DEMO2", &config, &journal),
        "ok status DEMO2 open=2 blocked=0"
    );
    assert_eq!(
        admin("enable", "DEMO1", &config, &journal),
        "ok enable DEMO1 open=0 blocked=0"
    );
    assert_eq!(buy(&mut a, 18000).1.message_type(), b'A');
    assert_eq!(
        admin("kill", "DEMO1", &config, &journal),
        "ok kill DEMO1 canceled=1 blocked=1"
    );
    expect(&mut a, b'C');
    let seen = a.next_sequence_number();
    server.stop();
    drop((a, b));
    assert!(!socket.exists(), "the control socket is removed at exit");

    let server = ServeProcess::start(&config, &journal);
    let day = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("the day's journal");
    assert_eq!(server.state_hash, offline_state_hash(&config, &day));
    assert_eq!(
        admin("status", "DEMO1", &config, &journal),
        "ok status DEMO1 open=0 blocked=1"
    );
    let mut a = login(server.addr, "DEMO1", seen);
    a.set_next_user_ref_num(7);
    let (urn, m) = buy(&mut a, 18000);
    match m {
        Outbound::OrderRejected(j) => {
            assert_eq!(
                (j.user_ref_num, j.reason),
                (urn, RejectReason::FirmNotAuthorized)
            )
        }
        other => panic!("expected a reject after the restart, got {other:?}"),
    }
    server.stop();
}
