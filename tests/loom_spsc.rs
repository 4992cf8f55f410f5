//! The SPSC ring's commit and head protocols under loom, which explores every
//! interleaving (and weak-memory outcome) of the atomics.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_spsc`
//! (`.ci/run` does). Loom tracks the commit words and `head`; payload bytes are plain
//! memory it cannot model, so their ordering rests on those Release/Acquire pairs.
#![cfg(loom)]

use loom::thread;
use tickgate::ring::spsc::{self, Layout, PushError};

const LAYOUT: Layout = Layout {
    capacity: 2,
    slot_bytes: 64,
};

/// Three records through two slots: the producer must wrap and wait for the consumer,
/// and the consumer must see each record exactly once, in order, never early.
#[test]
fn records_cross_a_wrapping_ring_exactly_once_in_order() {
    loom::model(|| {
        let (mut p, mut c) = spsc::channel(LAYOUT).unwrap();
        let producer = thread::spawn(move || {
            for i in 1..=3u8 {
                while let Err(e) = p.try_push(&[i; 3]) {
                    assert_eq!(e, PushError::Full);
                    thread::yield_now();
                }
            }
        });
        let mut expect = 1u8;
        while expect <= 3 {
            match c.read(|r| r.to_vec()) {
                Some(r) => {
                    assert_eq!(r, vec![expect; 3]);
                    expect += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(!c.has_record());
    });
}

/// A batch claim made visible with one commit call is read in order by a batched drain.
#[test]
fn a_batch_commit_is_drained_in_order() {
    loom::model(|| {
        let (mut p, mut c) = spsc::channel(LAYOUT).unwrap();
        let producer = thread::spawn(move || {
            let mut claim = p.try_claim(2).unwrap();
            for i in 0..2 {
                claim.payload(i)[0] = i as u8 + 10;
                claim.set_len(i, 1);
            }
            claim.commit();
        });
        let mut seen = vec![];
        while seen.len() < 2 {
            if c.drain(2, |r| seen.push(r[0])) == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(seen, vec![10, 11]);
    });
}
