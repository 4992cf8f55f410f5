//! The gateway-thread checks: message throttles (reject, then logout, recovery after the
//! window) and overload protection (past the high-water mark new orders are
//! busy-rejected, cancels pass, every order is answered exactly once).

use std::collections::VecDeque;

use tickgate::config::AccountRiskConfig;
use tickgate::risk::throttle::{Bucket, ClassLimits};
use tickgate::risk::{MessageClass, Overload, RiskReject, SessionThrottle, Verdict};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

const THROTTLED: Verdict = Verdict::Reject(RiskReject::PortMessageRateRestriction);

fn limits(rate_per_s: u32, burst: u32, logout_after: u32) -> ClassLimits {
    ClassLimits {
        rate_per_s,
        burst,
        window_ns: S,
        logout_after,
    }
}

#[test]
fn throttle_rejects_above_the_burst_then_logs_out_above_the_logout_threshold() {
    let l = limits(1_000, 10, 5);
    let mut t = SessionThrottle::new(l, l);
    let order = MessageClass::NewOrReplace;
    for i in 0..10 {
        assert_eq!(
            t.check(order, 0),
            Verdict::Accept,
            "message {i} within the burst"
        );
    }
    for i in 0..5 {
        assert_eq!(
            t.check(order, 0),
            THROTTLED,
            "rejection {i} within the threshold"
        );
    }
    assert_eq!(t.check(order, 0), Verdict::Logout);
    assert_eq!(t.rejected(order), 6);
    // The other class has its own bucket.
    assert_eq!(t.check(MessageClass::Cancel, 0), Verdict::Accept);
    assert_eq!(t.rejected(MessageClass::Cancel), 0);
}

#[test]
fn throttle_recovers_after_the_window() {
    let l = limits(1_000, 10, 5);
    let mut t = SessionThrottle::new(l, l);
    let order = MessageClass::NewOrReplace;
    for _ in 0..16 {
        t.check(order, 0);
    }
    assert_eq!(t.check(order, 0), Verdict::Logout);
    // One second later the bucket is full and the rejection count starts again.
    for _ in 0..10 {
        assert_eq!(t.check(order, S), Verdict::Accept);
    }
    assert_eq!(t.check(order, S), THROTTLED);
}

#[test]
fn throttle_accepts_exactly_its_sustained_rate() {
    let mut b = Bucket::new(1_000, 1);
    for i in 0..10_000 {
        assert!(b.take(i * MS), "message {i} at exactly the rate");
    }
    // One nanosecond early is over the rate (burst 1: no slack).
    assert!(!b.take(10_000 * MS - 1));
    assert!(b.take(10_000 * MS));
    // Time going backwards is no time passing.
    assert!(!b.take(0));
}

#[test]
fn throttle_burst_allows_catching_up_after_silence() {
    let mut b = Bucket::new(100, 5); // 10 ms per token
    for _ in 0..5 {
        assert!(b.take(0));
    }
    assert!(!b.take(0));
    assert!(b.take(10 * MS));
    assert!(!b.take(10 * MS));
    // After a long silence the bucket holds `burst` tokens, no more.
    for _ in 0..5 {
        assert!(b.take(10 * S));
    }
    assert!(!b.take(10 * S));
}

#[test]
fn throttle_off_and_from_config() {
    let off = limits(0, 0, 0);
    let mut t = SessionThrottle::new(off, off);
    for _ in 0..100_000 {
        assert_eq!(t.check(MessageClass::NewOrReplace, 0), Verdict::Accept);
    }
    let cfg = AccountRiskConfig {
        order_rate_per_s: 10,
        order_burst: 2,
        throttle_logout_after: 1,
        ..AccountRiskConfig::default()
    };
    let mut t = SessionThrottle::from_config(&cfg);
    let order = MessageClass::NewOrReplace;
    assert_eq!(t.check(order, 0), Verdict::Accept);
    assert_eq!(t.check(order, 0), Verdict::Accept);
    assert_eq!(t.check(order, 0), THROTTLED);
    assert_eq!(t.check(order, 0), Verdict::Logout);
    assert_eq!(t.check(MessageClass::Cancel, 0), Verdict::Accept);
}

#[test]
fn overload_marks_are_exact_with_hysteresis() {
    let mut o = Overload::new(1024, 75, 50);
    assert_eq!((o.high_water_slots(), o.low_water_slots()), (768, 512));
    let new = MessageClass::NewOrReplace;
    assert_eq!(o.admit(new, 1024 - 767), Ok(()));
    assert_eq!(o.admit(new, 1024 - 768), Err(RiskReject::ProcessingError));
    assert!(o.is_busy());
    assert_eq!(
        o.admit(MessageClass::Cancel, 0),
        Ok(()),
        "cancels pass even when full"
    );
    assert_eq!(o.admit(new, 1024 - 513), Err(RiskReject::ProcessingError));
    assert_eq!(o.admit(new, 1024 - 512), Ok(()));
    assert!(!o.is_busy());
    assert_eq!(o.rejected(), 2);
}

/// A session layer in front of a slow core: a flood of new orders and cancels into a
/// bounded ring that the core drains a few records per round.
#[test]
fn overload_flood_busy_rejects_new_orders_passes_cancels_and_answers_each_once() {
    const CAPACITY: usize = 256;
    let mut ring: VecDeque<(u64, MessageClass)> = VecDeque::with_capacity(CAPACITY);
    let mut overload = Overload::new(CAPACITY, 75, 50);
    let mut answers = vec![0u8; 100_000];
    let (mut busy, mut cancels_passed, mut max_len) = (0, 0, 0);
    for id in 0..answers.len() as u64 {
        let class = if id % 5 == 4 {
            MessageClass::Cancel
        } else {
            MessageClass::NewOrReplace
        };
        let free = CAPACITY - ring.len();
        match overload.admit(class, free) {
            Ok(()) => {
                assert!(ring.len() < CAPACITY, "a cancel must always find room");
                ring.push_back((id, class));
                if class == MessageClass::Cancel && overload.is_busy() {
                    cancels_passed += 1;
                }
            }
            Err(r) => {
                assert_eq!(r, RiskReject::ProcessingError);
                assert_eq!(class, MessageClass::NewOrReplace);
                answers[id as usize] += 1; // the session answers at once
                busy += 1;
            }
        }
        max_len = max_len.max(ring.len());
        // The core drains 1 record for every 2 offered: the ring fills.
        if id % 2 == 0
            && let Some((done, _)) = ring.pop_front()
        {
            answers[done as usize] += 1;
        }
    }
    while let Some((done, _)) = ring.pop_front() {
        answers[done as usize] += 1;
    }
    assert!(
        answers.iter().all(|&a| a == 1),
        "every message answered exactly once"
    );
    assert!(busy > 10_000, "{busy}");
    assert!(cancels_passed > 1_000, "{cancels_passed}");
    assert!(max_len < CAPACITY, "bounded: {max_len}");
    assert_eq!(overload.rejected(), busy);
}
