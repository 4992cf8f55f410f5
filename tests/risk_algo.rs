//! The kill switch over shared memory: a co-located algo (an `AlgoSession` on a
//! `/dev/shm` slot) meets the same pre-trade risk as a TCP session — the operator's
//! kill (through the control socket) cancels its orders, each Canceled reaching the algo,
//! and blocks its new orders (Rejected 0x000C); OUCH Enable / Disable Order Entry sent
//! by the algo lift and set the block, answered in its stream.

mod serve_support;

use std::path::Path;
use std::time::{Duration, Instant};

use serve_support::*;
use tickgate::ipc::algo::AlgoSession;
use tickgate::proto::ouch::{
    DisableOrderEntry, EnableOrderEntry, EnterOrder, Firm, Inbound, Options, Outbound, Price,
    RejectReason, Side, Symbol,
};

const PATIENCE: Duration = Duration::from_secs(30);

fn buy(urn: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder::new(
        urn,
        Side::Buy,
        100,
        Symbol::padded("AAPL"),
        Price(1_800_000),
    ))
}

fn send(s: &mut AlgoSession, m: &Inbound) {
    let deadline = Instant::now() + PATIENCE;
    while s.send_message(m).is_err() {
        assert!(Instant::now() < deadline, "order ring stayed full");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The next response of the algo's stream.
fn next_response(s: &mut AlgoSession) -> Outbound {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut got = None;
        s.poll_responses(1, |_, msg| got = Some(Outbound::decode(msg).expect("OUCH")));
        if let Some(m) = got {
            return m;
        }
        assert!(Instant::now() < deadline, "no response");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rejected(m: &Outbound) -> RejectReason {
    match m {
        Outbound::OrderRejected(j) => j.reason,
        other => panic!("expected a reject, got {other:?}"),
    }
}

fn admin(socket: &Path, line: &str) -> String {
    tickgate::server::control::request(socket, line).expect("control socket answers")
}

#[test]
fn kill_switch_and_order_entry_control_over_shared_memory() {
    let mut c = config(0);
    c.ipc.slots = 2;
    let dir = c.ipc.directory_path();
    let s = server(c);
    let socket = s.journal_dir.join("admin.sock");
    let mut algo = AlgoSession::connect(&dir, "DEMO2", "secret", 1, PATIENCE).expect("claim");
    send(&mut algo, &buy(1));
    send(&mut algo, &buy(2));
    assert_eq!(next_response(&mut algo).message_type(), b'A');
    assert_eq!(next_response(&mut algo).message_type(), b'A');

    assert_eq!(
        admin(&socket, "kill DEMO2"),
        "ok kill DEMO2 canceled=2 blocked=1"
    );
    for _ in 0..2 {
        assert_eq!(next_response(&mut algo).message_type(), b'C');
    }
    send(&mut algo, &buy(3));
    assert_eq!(
        rejected(&next_response(&mut algo)),
        RejectReason::FirmNotAuthorized
    );

    // The algo lifts the block itself (OUCH E), then sets one (OUCH D).
    let firm = Firm::padded("DEM2");
    let enable = EnableOrderEntry {
        user_ref_num: 4,
        firm,
        options: Options::NONE,
    };
    send(&mut algo, &Inbound::EnableOrderEntry(enable));
    assert_eq!(next_response(&mut algo).message_type(), b'K');
    send(&mut algo, &buy(5));
    assert_eq!(next_response(&mut algo).message_type(), b'A');
    let disable = DisableOrderEntry {
        user_ref_num: 6,
        firm,
        options: Options::NONE,
    };
    send(&mut algo, &Inbound::DisableOrderEntry(disable));
    assert_eq!(next_response(&mut algo).message_type(), b'G');
    send(&mut algo, &buy(7));
    assert_eq!(
        rejected(&next_response(&mut algo)),
        RejectReason::FirmNotAuthorized
    );
    assert_eq!(
        admin(&socket, "status DEMO2"),
        "ok status DEMO2 open=1 blocked=1"
    );
    drop(algo);
    s.stop_and_join().unwrap();
}

#[test]
fn an_algo_over_its_message_rate_is_rejected_then_ended_with_cancel_on_disconnect() {
    let mut c = config(0);
    c.ipc.slots = 2;
    let over: toml::Table = toml::from_str(
        "order_rate_per_s = 1\norder_burst = 1\nthrottle_window_ms = 60000\nthrottle_logout_after = 1",
    )
    .unwrap();
    c.risk.account.insert("DEMO2".into(), over);
    let dir = c.ipc.directory_path();
    let s = server(c);
    let mut algo = AlgoSession::connect(&dir, "DEMO2", "secret", 1, PATIENCE).expect("claim");
    send(&mut algo, &buy(1));
    assert_eq!(next_response(&mut algo).message_type(), b'A');
    send(&mut algo, &buy(2));
    assert_eq!(
        rejected(&next_response(&mut algo)),
        RejectReason::RiskPortMessageRateRestriction
    );
    // The second rejection in the window passes the logout threshold: the session ends
    // (its Rejected is in the stream for the next claim).
    send(&mut algo, &buy(3));
    let deadline = Instant::now() + PATIENCE;
    while algo.is_active() {
        assert!(Instant::now() < deadline, "the algo session was not ended");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(algo);
    // Cancel-on-disconnect cancelled the resting order.
    let mut again = AlgoSession::connect(&dir, "DEMO2", "secret", 3, PATIENCE).expect("claim");
    assert_eq!(
        rejected(&next_response(&mut again)),
        RejectReason::RiskPortMessageRateRestriction
    );
    assert_eq!(next_response(&mut again).message_type(), b'C');
    drop(again);
    let f = s.stop_and_join().unwrap();
    assert_eq!(f.sessions.throttle_logouts, 1);
    assert_eq!(f.sessions.throttled, 2);
}
