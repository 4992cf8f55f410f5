//! Rings in `/dev/shm` files mapped by two processes: header validation, a million
//! records each way, and a producer killed mid-write.
//!
//! The child side is this same test binary re-run on one `#[ignore]`d test with the
//! ring paths in the environment; run without them, the child tests do nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tickgate::ring::shm::{Layout, ShmError};
use tickgate::ring::spsc::{self, Consumer, Producer};

const ROLE: &str = "TICKGATE_TEST_ROLE";
const RING_A: &str = "TICKGATE_TEST_RING_A";
const RING_B: &str = "TICKGATE_TEST_RING_B";

/// A `/dev/shm` path removed when dropped.
struct ShmFile(PathBuf);

impl ShmFile {
    fn new(tag: &str) -> Self {
        let p = PathBuf::from(format!(
            "/dev/shm/tickgate-test-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&p);
        Self(p)
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spawn_child(test: &str, role: &str, a: &Path, b: Option<&Path>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--ignored", "--test-threads=1"])
        .stdout(Stdio::null())
        .env(ROLE, role)
        .env(RING_A, a);
    if let Some(b) = b {
        cmd.env(RING_B, b);
    }
    cmd.spawn().expect("spawn child test process")
}

fn child_env() -> Option<(String, PathBuf, Option<PathBuf>)> {
    let role = std::env::var(ROLE).ok()?;
    let a = PathBuf::from(std::env::var(RING_A).ok()?);
    let b = std::env::var(RING_B).ok().map(PathBuf::from);
    Some((role, a, b))
}

/// A 64-slot record: index, its complement and a fill derived from it.
fn write_record(buf: &mut [u8], i: u64) {
    buf[..8].copy_from_slice(&i.to_le_bytes());
    buf[8..16].copy_from_slice(&(!i).to_le_bytes());
    for (k, b) in buf[16..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(k as u8);
    }
}

fn check_record(r: &[u8], i: u64) {
    let mut want = vec![0u8; r.len()];
    write_record(&mut want, i);
    assert_eq!(r, &want[..], "record {i} is not what was written");
}

fn push_all(p: &mut Producer, n: u64, len: usize) {
    let mut i = 0;
    while i < n {
        match p.try_write(len, |buf| write_record(buf, i)) {
            Ok(()) => i += 1,
            Err(_) => std::thread::yield_now(),
        }
    }
}

fn read_all(c: &mut Consumer, n: u64, len: usize) {
    let mut i = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while i < n {
        let got = c.drain(256, |r| {
            assert_eq!(r.len(), len);
            check_record(r, i);
            i += 1;
        });
        if got == 0 {
            assert!(Instant::now() < deadline, "stalled at record {i}");
            std::thread::yield_now();
        }
    }
}

const LAYOUT: Layout = Layout {
    capacity: 1024,
    slot_bytes: 64,
};
const MILLION: u64 = 1_000_000;

#[test]
fn two_processes_move_a_million_records_each_way() {
    let (a, b) = (ShmFile::new("to-child"), ShmFile::new("to-parent"));
    spsc::create(&a.0, LAYOUT).unwrap();
    spsc::create(&b.0, LAYOUT).unwrap();
    let mut to_child = Producer::attach(&a.0, Some(LAYOUT)).unwrap();
    let mut from_child = Consumer::attach(&b.0, Some(LAYOUT)).unwrap();
    let mut child = spawn_child("child_echo_side", "echo", &a.0, Some(&b.0));
    let sender = std::thread::spawn(move || push_all(&mut to_child, MILLION, 56));
    read_all(&mut from_child, MILLION, 40);
    sender.join().unwrap();
    assert!(child.wait().unwrap().success(), "child failed");
}

#[test]
#[ignore = "child side of two_processes_move_a_million_records_each_way"]
fn child_echo_side() {
    let Some((role, a, Some(b))) = child_env() else {
        return;
    };
    assert_eq!(role, "echo");
    let mut inbound = Consumer::attach(&a, Some(LAYOUT)).unwrap();
    let mut outbound = Producer::attach(&b, Some(LAYOUT)).unwrap();
    let sender = std::thread::spawn(move || push_all(&mut outbound, MILLION, 40));
    read_all(&mut inbound, MILLION, 56);
    sender.join().unwrap();
}

const SLOW: Layout = Layout {
    capacity: 64,
    slot_bytes: 4096,
};

/// Writes records byte by byte into a ring of 4 KiB slots, so the child spends most of
/// its time mid-write when it is killed.
#[test]
#[ignore = "child side of a_producer_killed_mid_write_exposes_no_torn_record"]
fn child_slow_producer() {
    let Some((role, a, _)) = child_env() else {
        return;
    };
    assert_eq!(role, "slow-producer");
    let mut p = Producer::attach(&a, Some(SLOW)).unwrap();
    let max = p.max_record_bytes();
    let mut i = 0u64;
    loop {
        let Ok(mut claim) = p.try_claim(1) else {
            std::thread::yield_now();
            continue;
        };
        let mut record = vec![0u8; max];
        write_record(&mut record, i);
        let payload = claim.payload(0);
        for (dst, src) in payload.iter_mut().zip(&record) {
            // SAFETY: `dst` is a valid &mut u8; volatile keeps the byte-wise write.
            unsafe { std::ptr::write_volatile(dst, *src) };
        }
        claim.set_len(0, max);
        claim.commit();
        i += 1;
    }
}

#[test]
fn a_producer_killed_mid_write_exposes_no_torn_record() {
    for round in 0..3 {
        let a = ShmFile::new(&format!("killed-{round}"));
        spsc::create(&a.0, SLOW).unwrap();
        let mut c = Consumer::attach(&a.0, Some(SLOW)).unwrap();
        let len = c.max_record_bytes();
        let mut child = spawn_child("child_slow_producer", "slow-producer", &a.0, None);
        let mut i = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while i < 2_000 + round * 1_000 {
            assert!(Instant::now() < deadline, "child produced too little");
            if c.drain(16, |r| {
                assert_eq!(r.len(), len);
                check_record(r, i);
                i += 1;
            }) == 0
            {
                std::thread::yield_now();
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Everything committed before the kill is whole; nothing after it appears.
        c.drain(usize::MAX, |r| {
            check_record(r, i);
            i += 1;
        });
        assert!(!c.has_record());
        // A new producer re-attaches where the dead one left off and is read on.
        let mut p = Producer::attach(&a.0, Some(SLOW)).unwrap();
        p.try_write(len, |buf| write_record(buf, i)).unwrap();
        assert_eq!(c.read(|r| check_record(r, i)), Some(()));
    }
}

#[test]
fn mapping_a_ring_with_another_layout_names_the_mismatch() {
    let a = ShmFile::new("mismatch");
    spsc::create(&a.0, LAYOUT).unwrap();
    let other = Layout {
        capacity: 2048,
        slot_bytes: 64,
    };
    let err = Consumer::attach(&a.0, Some(other)).err().unwrap();
    assert!(matches!(
        err,
        ShmError::Mismatch {
            field: "capacity",
            found: 1024,
            expected: 2048,
            ..
        }
    ));
    assert!(err.to_string().contains("capacity"));
    // Without an expectation it maps with the file's own layout.
    assert!(Consumer::attach(&a.0, None).is_ok());
}

#[test]
fn mapping_a_file_that_is_not_a_ring_is_a_clear_error() {
    let a = ShmFile::new("garbage");
    std::fs::write(&a.0, vec![0xAB; 4096]).unwrap();
    assert!(matches!(
        Consumer::attach(&a.0, None),
        Err(ShmError::BadMagic { .. })
    ));
    std::fs::write(&a.0, vec![0; 4096]).unwrap();
    assert!(matches!(
        Consumer::attach(&a.0, None),
        Err(ShmError::NotInitialised(_))
    ));
    std::fs::write(&a.0, b"short").unwrap();
    assert!(matches!(
        Consumer::attach(&a.0, None),
        Err(ShmError::TooSmall { .. })
    ));
}

#[test]
fn a_truncated_ring_file_is_refused() {
    let a = ShmFile::new("truncated");
    spsc::create(&a.0, LAYOUT).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&a.0).unwrap();
    f.set_len(4096).unwrap();
    assert!(matches!(
        Producer::attach(&a.0, None),
        Err(ShmError::TooSmall { .. })
    ));
}

#[test]
fn creating_over_an_existing_file_fails_instead_of_clobbering_it() {
    let a = ShmFile::new("exists");
    spsc::create(&a.0, LAYOUT).unwrap();
    assert!(matches!(
        spsc::create(&a.0, LAYOUT),
        Err(ShmError::Io { op: "create", .. })
    ));
}
