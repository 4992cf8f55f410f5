//! `ack_echo` (`--transport shm`): the order → ack *transport* alone, measured in the
//! same run as the floor and the real order path, as `bench rtt` measures an io_uring
//! echo next to its order path.
//!
//! ```text
//!  algo CPU:   AlgoSession::enter_order (the bench's IOC) ──► slot order ring ──┐
//!  server CPU: SlotEcho: has_record → read (copy out) → OrderHeader::decode  ◄──┘
//!              └─► response ring: try_write(encode_response(seq, Order Accepted)) ─┐
//!  algo CPU:   await_accepted (poll_responses, as the bench's algo process)   ◄──┘
//! ```
//!
//! Each round makes a real session directory ([`Directory::create`], one slot, the
//! server's ring layout) in `/dev/shm` under a name of its own, removed when the
//! round ends; the algo claims the slot through the directory as any algo does. The
//! echo thread reads each order-ring record as the session layer's drain does (the
//! commit-word check, the copy out of the slot, the header decode) and answers with
//! the bytes of the Order Accepted the server sends for the bench's IOC — encoded
//! once, by the server's own encoder, so the record is the real answer's size
//! (stream number + 64 bytes: with the ring's slot header, two lines) — through the
//! same ring write as `AlgoSlots::write_live`. It idles as the server does (`pause`
//! per idle turn; yielding with `--ci`). What it leaves out is everything the server
//! does with an order: the OUCH decode, the checks, the core, the Accepted's encode.
//! So `ack_rtt ÷ ack_echo` is the server's work and `ack_echo ÷ floor` the transport's
//! own cost over two bare lines.
//!
//! Two phases per round after a warm-up of `--algo-warmup` trips (as the algo process
//! warms its server, cycling the rings more than once): `--echo-iters / rounds`
//! round trips back to back (`ack_echo`, closed loop like the floor), then
//! `--sparse-iters / rounds` trips one every `--sparse-interval-us` on average (gaps
//! at random: `pingpong::Schedule`), both sides spinning in between (`ack_echo_sparse`, sampled as the ticks are; each sample
//! recorded as the tick stages are, with `record_correct(value, tick interval)`,
//! and uncorrected).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::shm::await_accepted;
use super::{Error, T2tArgs, pin};
use crate::affinity::{BusySpin, Idle, SpinThenYield};
use crate::bench::pingpong::Schedule;
use crate::clock::{Clock, rdtsc};
use crate::config::Config;
use crate::engine::event::Accepted;
use crate::engine::types::{self, OrderRef};
use crate::ipc::algo::{AlgoSession, SendError};
use crate::ipc::directory::{Directory, SlotEvent};
use crate::ipc::wire::{
    ORDER_HEADER_BYTES, OrderHeader, RESPONSE_HEADER_BYTES, SLOT_RING_SLOT_BYTES, encode_response,
};
use crate::proto::ouch::{EnterOrder, MAX_OUTBOUND_LEN, Price, Side, Symbol, TimeInForce};
use crate::ring::shm::Layout;
use crate::session::translate::encode::{Entered, accepted};

/// The echo's histograms, filled round by round (ns).
pub(super) struct EchoHists {
    /// Back to back (`ack_echo`).
    pub closed: Histogram<u64>,
    /// One trip every `--sparse-interval-us` (`ack_echo_sparse`).
    pub sparse: super::Sampled,
}

/// The records of one trip, bytes with the ring's slot header excluded.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct RecordBytes {
    /// The order-ring record: order header + Enter Order.
    pub order: usize,
    /// The response-ring record: stream number + Order Accepted.
    pub answer: usize,
}

/// The bench algo's order: an IOC buy of AAPL far below the market (`shm::run_algo`'s).
fn bench_order() -> EnterOrder {
    EnterOrder {
        time_in_force: TimeInForce::Ioc,
        ..EnterOrder::new(0, Side::Buy, 100, Symbol::padded("AAPL"), Price(1_800_000))
    }
}

/// The Order Accepted the server answers `order` with, from the server's own encoder
/// (`translate::encode::accepted`, the one `emit_with` uses): its bytes and size.
fn accepted_answer(order: &EnterOrder) -> Result<Vec<u8>, Error> {
    let event = Accepted {
        ts_ns: 34_200_000_000_000,
        session: 0,
        // The bench's orders carry no UserRefIdx appendage.
        user_ref_idx: 0,
        user_ref_num: order.user_ref_num,
        order: OrderRef(1),
        order_number: 1,
        instrument: 0,
        side: types::Side::Buy,
        qty: order.quantity,
        price: order.price.0,
        tif: types::Tif::Ioc,
        display: types::Display::Visible,
    };
    let mut buf = [0u8; MAX_OUTBOUND_LEN];
    let n = accepted(&event, &Entered::BLANK, order.symbol, &mut buf)
        .map_err(|e| format!("encoding the echo's Order Accepted: {e:?}"))?;
    Ok(buf[..n].to_vec())
}

/// The sizes of the echo's two records.
pub(super) fn record_bytes() -> Result<RecordBytes, Error> {
    let order = bench_order();
    Ok(RecordBytes {
        order: ORDER_HEADER_BYTES + order.encoded_len(),
        answer: RESPONSE_HEADER_BYTES + accepted_answer(&order)?.len(),
    })
}

/// One round of the slot echo: a fresh one-slot directory, the echo on the server's
/// CPU, the algo's trips from this thread on the algo's CPU; the samples go to `h`.
pub(super) fn round(
    args: &T2tArgs,
    round: u64,
    rounds: u64,
    clock: &Clock,
    h: &mut EchoHists,
) -> Result<(), Error> {
    let path = PathBuf::from(format!(
        "/dev/shm/tickgate-t2t-echo-{}-{round}",
        std::process::id()
    ));
    let ring = Layout {
        capacity: Config::embedded().ipc.ring_records,
        slot_bytes: SLOT_RING_SLOT_BYTES,
    };
    // No liveness check runs: the echo lives as long as the round.
    let dir = Directory::create(&path, 1, ring, Duration::from_secs(60))?;
    let echo = SlotEcho::new(dir, accepted_answer(&bench_order())?);
    let stop = Arc::new(AtomicBool::new(false));
    let pinned = Arc::new(Barrier::new(2));
    let (ci, server_cpu) = (args.ci, args.server_cpu);
    let thread = {
        let (stop, pinned) = (stop.clone(), pinned.clone());
        std::thread::spawn(move || {
            pin(server_cpu, "slot echo");
            pinned.wait();
            if ci {
                echo.serve(SpinThenYield::new(10_000), &stop)
            } else {
                echo.serve(BusySpin, &stop)
            }
        })
    };
    // Block (not spin) until the echo has moved to its CPU: it starts on this one,
    // and a spinning real-time thread here would never let it run.
    pinned.wait();
    let trips = Trips {
        warmup: args.algo_warmup,
        closed: args.echo_iters.div_ceil(rounds),
        sparse: args.sparse_iters.div_ceil(rounds),
        interval_ticks: (clock.ticks_per_s() * args.sparse_interval_us as f64 / 1e6) as u64,
        tick_interval_ns: 1_000_000_000 / args.rate.max(1),
    };
    let result = algo_trips(&path, args, &trips, clock, h);
    // Pairs with the Acquire load of the echo's loop.
    stop.store(true, Ordering::Release);
    let served = thread.join().map_err(|_| "the slot echo thread panicked")?;
    result?;
    if served.bad_records != 0 || served.ring_full != 0 {
        return Err(format!(
            "slot echo: {} bad order records, {} answers refused by a full ring",
            served.bad_records, served.ring_full
        )
        .into());
    }
    Ok(())
}

/// How many trips of each kind one round makes.
struct Trips {
    warmup: u64,
    closed: u64,
    sparse: u64,
    interval_ticks: u64,
    /// The ticks' interval: the sparse samples are CO-corrected as the stages are.
    tick_interval_ns: u64,
}

/// The algo's side: claims the slot, pins, makes the round's trips, detaches.
fn algo_trips(
    path: &Path,
    args: &T2tArgs,
    trips: &Trips,
    clock: &Clock,
    h: &mut EchoHists,
) -> Result<(), Error> {
    let mut s = AlgoSession::connect(path, "ECHO", "echo", 1, Duration::from_secs(5))?;
    pin(args.algo_cpu, "slot echo's algo");
    let limit = clock.ticks_per_s() as u64 * 3;
    let mut order = super::shm::PreparedOrder::new(&bench_order());
    for i in 0..trips.warmup + trips.closed {
        let ticks = trip(&mut s, &mut order, args.ci, limit)?;
        if i >= trips.warmup {
            h.closed.saturating_record(clock.ticks_to_ns(ticks).max(1));
        }
    }
    let mut schedule = Schedule::start(clock, trips.interval_ticks, args.ci);
    for _ in 0..trips.sparse {
        schedule.wait_next(clock);
        let ns = clock.ticks_to_ns(trip(&mut s, &mut order, args.ci, limit)?);
        h.sparse.record(ns, trips.tick_interval_ns);
    }
    s.detach();
    Ok(())
}

/// One order → answer trip, TSC ticks from just before the order is written to the
/// answer read: the stamps of `order_send` and `algo_ack`.
#[inline]
fn trip(
    s: &mut AlgoSession,
    order: &mut super::shm::PreparedOrder,
    ci: bool,
    limit: u64,
) -> Result<u64, Error> {
    order.user_ref_num += 1;
    let send = rdtsc();
    loop {
        match order.send(s) {
            Ok(()) => break,
            Err(SendError::Full) => std::hint::spin_loop(),
            Err(e) => return Err(format!("slot echo: order refused by the ring: {e:?}").into()),
        }
    }
    match await_accepted(s, ci, limit) {
        0 => Err("slot echo: no answer within 3 s".into()),
        ack => Ok(ack.saturating_sub(send)),
    }
}

/// The echo agent: serves slot 0 of its directory.
struct SlotEcho {
    dir: Directory,
    /// The Order Accepted's bytes (see [`accepted_answer`]).
    answer: Vec<u8>,
    /// Stream number of the next answer.
    seq: u64,
    /// What went wrong (the round fails if either is not 0).
    stats: EchoStats,
}

#[derive(Debug, Default, Clone, Copy)]
struct EchoStats {
    /// Records shorter than the order header.
    bad_records: u64,
    /// Answers the response ring had no room for (the algo stopped reading).
    ring_full: u64,
}

impl SlotEcho {
    fn new(dir: Directory, answer: Vec<u8>) -> Self {
        Self {
            dir,
            answer,
            seq: 1,
            stats: EchoStats::default(),
        }
    }

    /// Accepts the slot's claim, then answers orders until `stop`; drops (removes)
    /// the directory.
    fn serve(mut self, mut idle: impl Idle, stop: &AtomicBool) -> EchoStats {
        // The claim is decided within a millisecond; waiting for it sleeps.
        let mut active = false;
        while !active && !stop.load(Ordering::Acquire) {
            self.dir.poll_claims(
                |_, _| Ok(0),
                |e| active |= matches!(e, SlotEvent::Activated { .. }),
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        // Pairs with the Release store of the round once the algo is done.
        while !stop.load(Ordering::Acquire) {
            let work = self.do_work();
            idle.idle(work, || false);
        }
        self.stats
    }

    /// One turn: reads the order ring's next record as the session layer's drain
    /// does and answers it. Returns the records read (0 or 1).
    #[inline]
    fn do_work(&mut self) -> usize {
        let (orders, responses) = self.dir.rings_mut(0);
        // The idle turn: one load of the next slot's commit word.
        if !orders.has_record() {
            return 0;
        }
        let mut record = [0u8; SLOT_RING_SLOT_BYTES];
        let Some(len) = orders.read(|r| {
            record[..r.len()].copy_from_slice(r);
            r.len()
        }) else {
            return 0;
        };
        if OrderHeader::decode(&record[..len]).is_none() {
            self.stats.bad_records += 1;
            return 1;
        }
        let (seq, msg) = (self.seq, &self.answer);
        match responses.try_write(RESPONSE_HEADER_BYTES + msg.len(), |buf| {
            encode_response(seq, msg, buf)
        }) {
            Ok(()) => self.seq += 1,
            Err(_) => self.stats.ring_full += 1,
        }
        1
    }
}
