//! Two pinned threads passing 64-byte messages: round-trip latency and throughput for
//! any transport that implements [`Link`], plus the cache-line floor every ring is
//! measured against.
//!
//! Every transport moves one 64-byte cache line per message. The floor and tickgate's
//! ring carry their sequence word inside that line (56 payload bytes); the peers move a
//! 64-byte, line-aligned value and keep their indices apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::affinity::pin_current_thread;
use crate::clock::Clock;
use crate::ring::shm::Layout;
use crate::ring::spsc;

/// The message: one cache line. Word 0 carries the sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Msg(pub [u64; 8]);

/// One end of a two-way link between two threads: it sends on one queue and receives
/// on the other. Neither call blocks.
pub trait Link: Send + 'static {
    /// Sends `msg` if there is room.
    fn try_send(&mut self, msg: &Msg) -> bool;
    /// Takes the next message, if any.
    fn try_recv(&mut self) -> Option<Msg>;
    /// Takes up to `max` waiting messages with the transport's batch API; by default
    /// one at a time.
    fn recv_batch(&mut self, max: usize, mut f: impl FnMut(&Msg)) -> usize {
        let mut n = 0;
        while n < max {
            let Some(m) = self.try_recv() else { break };
            f(&m);
            n += 1;
        }
        n
    }
}

/// Spins until `msg` is sent.
#[inline]
pub fn send<L: Link>(link: &mut L, msg: &Msg) {
    while !link.try_send(msg) {
        std::hint::spin_loop();
    }
}

/// Spins until a message arrives.
#[inline]
pub fn recv<L: Link>(link: &mut L) -> Msg {
    loop {
        if let Some(m) = link.try_recv() {
            return m;
        }
        std::hint::spin_loop();
    }
}

/// Which CPU each of the two spinning threads is pinned to.
#[derive(Debug, Clone, Copy)]
pub struct Cpus {
    /// The measuring thread (the caller's).
    pub pinger: usize,
    /// The echoing / producing thread.
    pub echoer: usize,
}

/// How the measuring side spaces its round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Each message as soon as the previous echo is back: a dense closed loop, where
    /// a pause of the machine lands in one sample out of millions.
    BackToBack,
    /// One message on average every `ticks` ticks of the clock ([`Schedule`]: open
    /// loop, gaps drawn at random), the caller spinning on the clock in between
    /// (yielding with `yield_between`) and the echo spinning on its line: sampled as
    /// an open-loop event (a tick) is, so a pause lands in a sample in proportion to
    /// the time it is in flight *and* its own length.
    Every {
        /// Mean clock ticks between two sends.
        ticks: u64,
        /// Yield instead of spinning while waiting for the next send (smoke tests).
        yield_between: bool,
    },
}

/// Round trips: the caller, pinned to `cpus.pinger`, sends message `i`, spins for the
/// echo, and records the round trip in `hist` (ns); an echo thread on `cpus.echoer`
/// sends each message back. The first `warmup` round trips are not recorded.
pub fn rtt<A: Link, B: Link>(
    pair: (A, B),
    warmup: u64,
    iters: u64,
    cpus: Cpus,
    clock: &Clock,
    hist: &mut Histogram<u64>,
) {
    rtt_paced(pair, warmup, iters, cpus, clock, Pace::BackToBack, |ns| {
        hist.saturating_record(ns)
    });
}

/// [`rtt`] with the round trips spaced by `pace`, each recorded round trip (ns, ≥ 1)
/// handed to `record` (which may, say, correct for coordinated omission).
pub fn rtt_paced<A: Link, B: Link>(
    (mut a, mut b): (A, B),
    warmup: u64,
    iters: u64,
    cpus: Cpus,
    clock: &Clock,
    pace: Pace,
    mut record: impl FnMut(u64),
) {
    let total = warmup + iters;
    let pinned = Arc::new(Barrier::new(2));
    let echo_pinned = pinned.clone();
    let echo = std::thread::spawn(move || {
        pin_current_thread(cpus.echoer).expect("pin echo thread");
        echo_pinned.wait();
        for _ in 0..total {
            let m = recv(&mut b);
            send(&mut b, &m);
        }
    });
    // Block (not spin) until the echo thread has moved to its CPU: it starts on this
    // thread's CPU, and a spinning real-time parent would never let it run.
    pinned.wait();
    pin_current_thread(cpus.pinger).expect("pin measuring thread");
    let mut schedule = match pace {
        Pace::BackToBack => None,
        Pace::Every {
            ticks,
            yield_between,
        } => Some(Schedule::start(clock, ticks, yield_between)),
    };
    let mut msg = Msg([0; 8]);
    for i in 0..total {
        if let Some(s) = schedule.as_mut() {
            s.wait_next(clock);
        }
        msg.0[0] = i;
        let t0 = clock.now();
        send(&mut a, &msg);
        let back = recv(&mut a);
        let t1 = clock.now();
        assert_eq!(back.0[0], i, "echo out of order");
        if i >= warmup {
            record(clock.ticks_to_ns(t1 - t0).max(1));
        }
    }
    echo.join().expect("echo thread");
}

/// The send times of a sparse, open-loop sender: gaps drawn uniformly from
/// `[mean/2, 3·mean/2)` clock ticks, so that the samples do not alias with a periodic
/// disturbance — this guest's 250 Hz timer interrupt: a fixed 50 µs grid samples only
/// 80 phases of its 4 ms period, a 500 µs grid (the ticks') only 8 per start. A late
/// send does not move the schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    next: u64,
    mean: u64,
    /// xorshift64 state (never 0).
    rng: u64,
    yield_between: bool,
}

impl Schedule {
    /// A schedule starting now, one send every `mean_ticks` on average; the waits
    /// spin on the clock, or yield with `yield_between`.
    pub fn start(clock: &Clock, mean_ticks: u64, yield_between: bool) -> Self {
        let now = clock.now();
        Self {
            next: now,
            mean: mean_ticks.max(2),
            rng: now | 1,
            yield_between,
        }
    }

    /// Waits until the next send time, spinning on the clock (or yielding).
    #[inline]
    pub fn wait_next(&mut self, clock: &Clock) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.next += self.mean / 2 + self.rng % self.mean;
        while clock.now() < self.next {
            if self.yield_between {
                std::thread::yield_now();
            }
        }
    }
}

/// One-way throughput in messages per second: a producer on `cpus.echoer` sends `n`
/// messages through `a`; the caller, on `cpus.pinger`, receives them through `b` with
/// the transport's batch API and checks their order.
pub fn throughput<A: Link, B: Link>((mut a, mut b): (A, B), n: u64, cpus: Cpus) -> f64 {
    let pinned = Arc::new(Barrier::new(2));
    let producer_pinned = pinned.clone();
    let producer = std::thread::spawn(move || {
        pin_current_thread(cpus.echoer).expect("pin producer thread");
        producer_pinned.wait();
        let mut msg = Msg([0; 8]);
        for i in 0..n {
            msg.0[0] = i;
            send(&mut a, &msg);
        }
        a
    });
    pinned.wait();
    pin_current_thread(cpus.pinger).expect("pin consumer thread");
    let mut next = 0u64;
    let mut start = None;
    while next < n {
        let got = b.recv_batch(256, |m| {
            assert_eq!(m.0[0], next, "message out of order");
            next += 1;
        });
        if got > 0 && start.is_none() {
            start = Some(Instant::now());
        }
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    drop(producer.join().expect("producer thread"));
    // The first batch started the clock, so it is not counted.
    n.saturating_sub(1) as f64 / secs.max(1e-9)
}

/// One line of the floor: the sequence word and 56 payload bytes.
#[repr(C, align(64))]
struct Line {
    seq: AtomicU64,
    words: [AtomicU64; 7],
}

/// The shared-memory floor (MEASURING.md rule 2): message `i` travels in line
/// `i mod N` of a block of `N` lines per direction, with the sequence inside the line.
pub struct MailboxLink {
    out: Arc<[Line]>,
    inp: Arc<[Line]>,
    sent: u64,
    received: u64,
    /// Each line sent is handed to the shared cache after its sequence store
    /// ([`floor_pair_demoting`]).
    demote: bool,
}

fn lines(n: usize) -> Arc<[Line]> {
    (0..n)
        .map(|_| Line {
            seq: AtomicU64::new(0),
            words: Default::default(),
        })
        .collect()
}

/// The two ends of the floor, each direction swept over `n_lines` lines.
pub fn floor_pair(n_lines: usize) -> (MailboxLink, MailboxLink) {
    mailbox_pair(n_lines, false)
}

/// The floor's sweep with each line sent demoted to the shared cache after its
/// sequence store (`cldemote`), as tickgate's cross-core rings do with their commit
/// lines: the floor for a transport that uses the hint (docs/LATENCY.md § Commit
/// lines demoted).
pub fn floor_pair_demoting(n_lines: usize) -> (MailboxLink, MailboxLink) {
    mailbox_pair(n_lines, true)
}

fn mailbox_pair(n_lines: usize, demote: bool) -> (MailboxLink, MailboxLink) {
    let (ab, ba) = (lines(n_lines), lines(n_lines));
    let end = |out: &Arc<[Line]>, inp: &Arc<[Line]>| MailboxLink {
        out: out.clone(),
        inp: inp.clone(),
        sent: 0,
        received: 0,
        demote,
    };
    (end(&ab, &ba), end(&ba, &ab))
}

impl Link for MailboxLink {
    #[inline]
    fn try_send(&mut self, msg: &Msg) -> bool {
        // A mailbox line is overwritten without back-pressure; ping-pong never laps.
        let line = &self.out[(self.sent % self.out.len() as u64) as usize];
        for (w, v) in line.words.iter().zip(&msg.0[1..]) {
            w.store(*v, Ordering::Relaxed);
        }
        self.sent += 1;
        // Pairs with the Acquire load in try_recv: words before the sequence.
        line.seq.store(self.sent, Ordering::Release);
        if self.demote {
            crate::ring::demote((line as *const Line).cast());
        }
        true
    }

    #[inline]
    fn try_recv(&mut self) -> Option<Msg> {
        let line = &self.inp[(self.received % self.inp.len() as u64) as usize];
        // Pairs with the Release store in try_send.
        if line.seq.load(Ordering::Acquire) != self.received + 1 {
            return None;
        }
        self.received += 1;
        let mut m = Msg([0; 8]);
        for (v, w) in m.0[1..].iter_mut().zip(&line.words) {
            *v = w.load(Ordering::Relaxed);
        }
        // Word 0 of the message is its sequence; the sender's seq was i + 1.
        m.0[0] = self.received - 1;
        Some(m)
    }
}

/// One end of a pair of tickgate SPSC rings.
pub struct SpscLink {
    tx: spsc::Producer,
    rx: spsc::Consumer,
}

const PAYLOAD_WORDS: usize = 7;

fn write_msg(buf: &mut [u8], msg: &Msg) {
    // Word 0 (the sequence) and six payload words: 56 bytes, the slot's payload.
    for (chunk, w) in buf.chunks_exact_mut(8).zip(&msg.0[..PAYLOAD_WORDS]) {
        chunk.copy_from_slice(&w.to_ne_bytes());
    }
}

fn read_msg(r: &[u8]) -> Msg {
    let mut m = Msg([0; 8]);
    for (w, chunk) in m.0.iter_mut().zip(r.chunks_exact(8)) {
        *w = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk"));
    }
    m
}

/// The two ends of a pair of tickgate SPSC rings of `capacity` 64-byte slots.
pub fn spsc_pair(capacity: usize) -> (SpscLink, SpscLink) {
    let layout = Layout {
        capacity,
        slot_bytes: 64,
    };
    let (tx_ab, rx_ab) = spsc::channel(layout).expect("valid ring layout");
    let (tx_ba, rx_ba) = spsc::channel(layout).expect("valid ring layout");
    (
        SpscLink {
            tx: tx_ab,
            rx: rx_ba,
        },
        SpscLink {
            tx: tx_ba,
            rx: rx_ab,
        },
    )
}

impl Link for SpscLink {
    #[inline]
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx
            .try_write(PAYLOAD_WORDS * 8, |buf| write_msg(buf, msg))
            .is_ok()
    }

    #[inline]
    fn try_recv(&mut self) -> Option<Msg> {
        self.rx.read(read_msg)
    }

    #[inline]
    fn recv_batch(&mut self, max: usize, mut f: impl FnMut(&Msg)) -> usize {
        self.rx.drain(max, |r| f(&read_msg(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_cpus() -> Cpus {
        let cpus = crate::affinity::available_cpus();
        Cpus {
            pinger: cpus[0],
            echoer: *cpus.last().unwrap(),
        }
    }

    #[test]
    fn floor_and_ring_links_deliver_every_message_in_order() {
        // Correctness of the harness only; the spin loops need a second CPU.
        if crate::affinity::available_cpus().len() < 2 {
            eprintln!("skipped: needs two CPUs");
            return;
        }
        let clock = Clock::monotonic();
        let mut h = crate::bench::report::latency_histogram();
        rtt(floor_pair(16), 10, 200, two_cpus(), &clock, &mut h);
        rtt(spsc_pair(16), 10, 200, two_cpus(), &clock, &mut h);
        assert_eq!(h.len(), 400);
        let pace = Pace::Every {
            ticks: 20_000,
            yield_between: true,
        };
        let mut sparse = crate::bench::report::latency_histogram();
        rtt_paced(floor_pair(16), 10, 200, two_cpus(), &clock, pace, |ns| {
            sparse.saturating_record(ns)
        });
        // Every sparse round trip after the warm-up is recorded once, in order.
        assert_eq!(sparse.len(), 200);
        assert!(throughput(spsc_pair(16), 2_000, two_cpus()) > 0.0);
    }
}
