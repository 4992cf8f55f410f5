//! The shared-memory session directory with real processes: claim, refuse, liveness
//! after SIGKILL, reclaim, detach, server restart.
//!
//! Child processes are this test binary re-run on an `#[ignore]`d test with the
//! directory path in the environment; without it the child test does nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tickgate::ipc::algo::{AlgoSession, ConnectError};
use tickgate::ipc::directory::{ClaimReject, Directory, EndReason, SlotEvent, SlotState};
use tickgate::ipc::wire::{OrderHeader, encode_response};
use tickgate::ring::shm::Layout;

const DIR_ENV: &str = "TICKGATE_TEST_DIRECTORY";
const RING: Layout = Layout {
    capacity: 64,
    slot_bytes: 64,
};

fn dir_path(tag: &str) -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/tickgate-test-{}-{tag}",
        std::process::id()
    ))
}

fn directory(tag: &str, slots: usize, liveness: Duration) -> Directory {
    Directory::create(&dir_path(tag), slots, RING, liveness).expect("create directory")
}

/// Accounts: ALGO01/secret is session 7; everyone else is refused.
fn authenticate(user: &str, pass: &str) -> Result<u32, ClaimReject> {
    match (user, pass) {
        ("ALGO01", "secret") => Ok(7),
        _ => Err(ClaimReject::NotAuthorized),
    }
}

/// Runs the server's side until `done` says stop, collecting events.
fn serve_until(
    dir: &mut Directory,
    deadline: Duration,
    mut done: impl FnMut(&[SlotEvent]) -> bool,
) -> Vec<SlotEvent> {
    let mut events = Vec::new();
    let end = Instant::now() + deadline;
    while !done(&events) {
        assert!(Instant::now() < end, "timed out; events so far: {events:?}");
        dir.poll_claims(authenticate, |e| events.push(e));
        dir.check_liveness(|e| events.push(e));
        std::thread::sleep(Duration::from_millis(1));
    }
    events
}

fn spawn_algo(path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_algo", "--exact", "--ignored", "--test-threads=1"])
        .env(DIR_ENV, path)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child algo")
}

/// Child: connects, sends one message, then keeps heartbeating until killed.
#[test]
#[ignore = "child side of the process tests"]
fn child_algo() {
    let Ok(path) = std::env::var(DIR_ENV) else {
        return;
    };
    let mut s = AlgoSession::connect(
        Path::new(&path),
        "ALGO01",
        "secret",
        1,
        Duration::from_secs(30),
    )
    .expect("child connects");
    s.send(b"from the child").unwrap();
    loop {
        s.poll_responses(16, |_, _| {});
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_algo_claims_a_slot_and_exchanges_messages_with_the_core() {
    let mut dir = directory("claim", 2, Duration::from_secs(30));
    let path = dir.path().to_path_buf();
    let algo = std::thread::spawn(move || {
        let mut s =
            AlgoSession::connect(&path, "ALGO01", "secret", 1, Duration::from_secs(30)).unwrap();
        s.send(b"enter order").unwrap();
        let mut got = Vec::new();
        while got.is_empty() {
            s.poll_responses(8, |seq, r| got.push((seq, r.to_vec())));
            std::thread::sleep(Duration::from_millis(1));
        }
        (s.session(), got)
    });
    let events = serve_until(&mut dir, Duration::from_secs(30), |e| !e.is_empty());
    assert_eq!(
        events,
        vec![SlotEvent::Activated {
            slot: 0,
            session: 7,
            next_seq: 1
        }]
    );
    let (orders, responses) = dir.rings_mut(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    // An order record is the header (trigger tag 0: no market data read) + the message.
    let order = |r: &[u8]| {
        let (header, msg) = OrderHeader::decode(r).expect("a header");
        assert_eq!(header.trigger_md_seq, 0);
        assert_eq!(msg, b"enter order");
    };
    while orders.read(order).is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut record = [0u8; 16];
    encode_response(1, b"accepted", &mut record);
    responses.try_push(&record).unwrap();
    let (session, got) = algo.join().unwrap();
    assert_eq!(session, 7);
    assert_eq!(got, vec![(1, b"accepted".to_vec())]);
    // The algo's session was dropped: the server sees it detach.
    let ended = serve_until(&mut dir, Duration::from_secs(30), |e| !e.is_empty());
    assert_eq!(
        ended,
        vec![SlotEvent::Ended {
            slot: 0,
            session: 7,
            why: EndReason::Detached
        }]
    );
    assert_eq!(dir.state(0), Some(SlotState::Free));
}

#[test]
fn wrong_credentials_are_refused_and_the_slot_is_freed() {
    let mut dir = directory("refuse", 1, Duration::from_secs(30));
    let path = dir.path().to_path_buf();
    let algo = std::thread::spawn(move || {
        AlgoSession::connect(&path, "ALGO01", "wrong", 1, Duration::from_secs(30)).err()
    });
    let events = serve_until(&mut dir, Duration::from_secs(30), |e| !e.is_empty());
    assert_eq!(
        events,
        vec![SlotEvent::Refused {
            slot: 0,
            reason: ClaimReject::NotAuthorized
        }]
    );
    assert!(matches!(
        algo.join().unwrap(),
        Some(ConnectError::Refused(ClaimReject::NotAuthorized))
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while dir.state(0) != Some(SlotState::Free) {
        assert!(Instant::now() < deadline, "slot not freed");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn credentials_longer_than_their_fields_are_refused_locally() {
    let dir = directory("long", 1, Duration::from_secs(30));
    let err = AlgoSession::connect(
        dir.path(),
        "ALGO01",
        "a password far too long",
        1,
        Duration::from_millis(10),
    );
    assert!(matches!(err, Err(ConnectError::CredentialTooLong)));
}

#[test]
fn a_killed_algo_is_detected_and_its_slot_is_claimed_by_a_new_process() {
    let mut dir = directory("killed", 1, Duration::from_secs(30));
    let mut child = spawn_algo(dir.path());
    let activated = serve_until(&mut dir, Duration::from_secs(60), |e| !e.is_empty());
    assert!(matches!(
        activated[0],
        SlotEvent::Activated {
            slot: 0,
            session: 7,
            ..
        }
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    let ended = serve_until(&mut dir, Duration::from_secs(30), |e| !e.is_empty());
    assert_eq!(
        ended,
        vec![SlotEvent::Ended {
            slot: 0,
            session: 7,
            why: EndReason::ProcessGone
        }]
    );
    // A new process claims the same (only) slot.
    let mut second = spawn_algo(dir.path());
    let again = serve_until(&mut dir, Duration::from_secs(60), |e| !e.is_empty());
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(matches!(
        again[0],
        SlotEvent::Activated {
            slot: 0,
            session: 7,
            ..
        }
    ));
}

#[test]
fn a_silent_algo_is_freed_after_the_liveness_timeout() {
    let mut dir = directory("silent", 1, Duration::from_millis(200));
    let path = dir.path().to_path_buf();
    let algo = std::thread::spawn(move || {
        let s =
            AlgoSession::connect(&path, "ALGO01", "secret", 1, Duration::from_secs(30)).unwrap();
        // Never polls: no heartbeat. Wait until the server frees the slot.
        let deadline = Instant::now() + Duration::from_secs(30);
        while s.is_active() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        s
    });
    let events = serve_until(&mut dir, Duration::from_secs(30), |e| e.len() >= 2);
    assert_eq!(
        events[1],
        SlotEvent::Ended {
            slot: 0,
            session: 7,
            why: EndReason::Silent
        }
    );
    drop(algo.join().unwrap());
}

#[test]
fn an_algo_sees_a_server_restart() {
    let mut dir = directory("restart", 1, Duration::from_secs(30));
    let path = dir.path().to_path_buf();
    let p = path.clone();
    let algo = std::thread::spawn(move || {
        AlgoSession::connect(&p, "ALGO01", "secret", 1, Duration::from_secs(30)).unwrap()
    });
    serve_until(&mut dir, Duration::from_secs(30), |e| !e.is_empty());
    let session = algo.join().unwrap();
    assert!(!session.server_restarted());
    drop(dir);
    let _new_server = Directory::create(&path, 1, RING, Duration::from_secs(30)).unwrap();
    assert!(session.server_restarted());
}

#[test]
fn a_file_that_is_not_a_directory_is_a_clear_error() {
    let path = dir_path("garbage");
    std::fs::write(&path, vec![7u8; 4096]).unwrap();
    let err = AlgoSession::connect(&path, "ALGO01", "secret", 1, Duration::from_millis(10));
    std::fs::remove_file(&path).unwrap();
    let msg = err.err().unwrap().to_string();
    assert!(msg.contains("not a usable session directory"), "{msg}");
}
