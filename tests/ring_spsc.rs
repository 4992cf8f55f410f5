//! SPSC ring: unit, property and two-thread stress tests on private memory.

use proptest::prelude::*;
use tickgate::ring::spsc::{self, Full, Layout, PushError};

fn layout(capacity: usize, slot_bytes: usize) -> Layout {
    Layout {
        capacity,
        slot_bytes,
    }
}

#[test]
fn a_record_pushed_is_read_back_in_place() {
    let (mut p, mut c) = spsc::channel(layout(4, 64)).unwrap();
    assert_eq!(p.max_record_bytes(), 56);
    p.try_push(b"hello").unwrap();
    assert_eq!(c.read(|r| r.to_vec()), Some(b"hello".to_vec()));
    assert_eq!(c.read(|r| r.len()), None);
}

#[test]
fn an_empty_ring_reads_nothing() {
    let (_p, mut c) = spsc::channel(layout(8, 64)).unwrap();
    assert!(!c.has_record());
    assert_eq!(c.drain(10, |_| panic!("no record")), 0);
}

#[test]
fn a_full_ring_returns_full_and_recovers_after_a_read() {
    let (mut p, mut c) = spsc::channel(layout(4, 64)).unwrap();
    for i in 0..4u8 {
        p.try_push(&[i]).unwrap();
    }
    assert_eq!(p.try_push(&[9]), Err(PushError::Full));
    assert_eq!(p.try_claim(1).err(), Some(Full { free: 0 }));
    assert_eq!(c.read(|r| r[0]), Some(0));
    p.try_push(&[4]).unwrap();
    let mut seen = vec![];
    c.drain(usize::MAX, |r| seen.push(r[0]));
    assert_eq!(seen, vec![1, 2, 3, 4]);
}

#[test]
fn a_record_longer_than_a_slot_is_refused() {
    let (mut p, _c) = spsc::channel(layout(4, 64)).unwrap();
    assert_eq!(
        p.try_push(&[0; 57]),
        Err(PushError::TooLong { len: 57, max: 56 })
    );
    p.try_push(&[0; 56]).unwrap();
}

#[test]
fn layouts_that_break_the_rules_are_refused() {
    assert!(spsc::channel(layout(3, 64)).is_err());
    assert!(spsc::channel(layout(4, 65)).is_err());
    assert!(spsc::channel(layout(4, 0)).is_err());
}

#[test]
fn a_claim_is_invisible_until_committed_and_dropping_it_releases_the_slots() {
    let (mut p, mut c) = spsc::channel(layout(4, 64)).unwrap();
    {
        let mut claim = p.try_claim(2).unwrap();
        claim.payload(0)[0] = 7;
        claim.set_len(0, 1);
        assert!(!c.has_record());
        // dropped uncommitted
    }
    assert!(!c.has_record());
    assert_eq!(p.free_slots(), 4);
    let mut claim = p.try_claim(3).unwrap();
    for i in 0..3 {
        claim.payload(i)[0] = i as u8;
        claim.set_len(i, 1);
    }
    claim.commit_first(2);
    let mut seen = vec![];
    c.drain(8, |r| seen.push(r[0]));
    assert_eq!(seen, vec![0, 1]);
}

#[test]
fn batch_claim_commits_in_order_across_the_wrap() {
    let (mut p, mut c) = spsc::channel(layout(8, 64)).unwrap();
    let mut next = 0u32;
    let mut expect = 0u32;
    for round in 0..100 {
        let n = 1 + round % 8;
        let mut claim = p.try_claim(n).unwrap();
        for i in 0..n {
            claim.payload(i)[..4].copy_from_slice(&next.to_le_bytes());
            claim.set_len(i, 4);
            next += 1;
        }
        claim.commit();
        let read = c.drain(usize::MAX, |r| {
            assert_eq!(u32::from_le_bytes(r.try_into().unwrap()), expect);
            expect += 1;
        });
        assert_eq!(read, n);
    }
}

#[test]
fn drain_stops_at_its_limit() {
    let (mut p, mut c) = spsc::channel(layout(16, 64)).unwrap();
    for i in 0..10u8 {
        p.try_push(&[i]).unwrap();
    }
    assert_eq!(c.drain(4, |_| {}), 4);
    assert_eq!(c.position(), 4);
    assert_eq!(c.drain(100, |_| {}), 6);
}

proptest! {
    /// Any interleaving of pushes (of any length) and drains keeps FIFO order and
    /// content, never loses or duplicates a record, and reports Full exactly when
    /// `capacity` records are outstanding.
    #[test]
    fn random_pushes_and_drains_behave_like_a_bounded_fifo(
        cap_log in 0u32..5,
        slot_lines in 1usize..3,
        ops in proptest::collection::vec((any::<bool>(), 0usize..120, 1usize..6), 1..200),
    ) {
        let capacity = 1usize << cap_log;
        let (mut p, mut c) = spsc::channel(layout(capacity, 64 * slot_lines)).unwrap();
        let max = p.max_record_bytes();
        let mut model = std::collections::VecDeque::new();
        let mut counter = 0u8;
        for (push, len, n) in ops {
            if push {
                let record: Vec<u8> = (0..len).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                match p.try_push(&record) {
                    Ok(()) => model.push_back(record),
                    Err(PushError::Full) => prop_assert_eq!(model.len(), capacity),
                    Err(PushError::TooLong { .. }) => prop_assert!(len > max),
                }
            } else {
                let mut got = vec![];
                c.drain(n, |r| got.push(r.to_vec()));
                for g in got {
                    prop_assert_eq!(Some(g), model.pop_front());
                }
            }
        }
    }
}

#[test]
fn two_threads_move_ten_million_records_in_order() {
    two_threads_move_in_order(10_000_000, layout(1024, 64), false);
}

/// Demoting each commit line (`cldemote`, a NOP where the CPU lacks it) changes
/// nothing the consumer sees: records of two lines, in order, none torn.
#[test]
fn a_demoting_producer_moves_records_in_order() {
    two_threads_move_in_order(1_000_000, layout(256, 192), true);
}

fn two_threads_move_in_order(n: u64, layout: Layout, demote: bool) {
    let (mut p, mut c) = spsc::channel(layout).unwrap();
    p.set_demote(demote);
    let len = p.max_record_bytes().min(120);
    let producer = std::thread::spawn(move || {
        let mut i = 0u64;
        while i < n {
            let r = p.try_write(len, |buf| {
                buf[..8].copy_from_slice(&i.to_le_bytes());
                buf[len - 8..].copy_from_slice(&(!i).to_le_bytes());
            });
            match r {
                Ok(()) => i += 1,
                Err(_) => std::thread::yield_now(),
            }
        }
    });
    let mut expect = 0u64;
    while expect < n {
        let got = c.drain(256, |r| {
            let a = u64::from_le_bytes(r[..8].try_into().unwrap());
            let b = u64::from_le_bytes(r[len - 8..len].try_into().unwrap());
            assert_eq!(
                (r.len(), a, b),
                (len, expect, !expect),
                "record {expect} corrupted"
            );
            expect += 1;
        });
        if got == 0 {
            std::thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert_eq!(c.corrupt_records(), 0);
}
