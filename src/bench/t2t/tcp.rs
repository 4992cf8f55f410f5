//! `--transport tcp`: the tick is an execution on the algo's own SoupBinTCP session.
//!
//! The algo (account B0, a thread spinning on the algo CPU, reading its socket
//! non-blocking) keeps one sell order of 100 AAPL @ 190.00 resting. At every tick the
//! tick source (account B1, a thread on `--tick-cpu`, default the server CPU, sleeping
//! between ticks, blocking reads) sends an IOC buy of 100 @ 190.00 that trades with
//! it: the core's Order Executed on the algo's session *is* the tick. The algo
//! answers by entering its sell again (the order of the tick) and reads the Order
//! Accepted (the ack).
//!
//! Stamps: `publish` = the tick source's TSC just before it writes the IOC buy (the
//! market moves from outside: over TCP there is no earlier point an algo could know
//! of), `algo_recv` = the algo has the whole Order Executed packet, `order_send` = just
//! before the algo writes its Enter Order, `algo_ack` = the algo has the whole Order
//! Accepted packet. The server's own points (core receive, ack publish) are not
//! stamped over TCP: `t2t_algo` (publish → order send) and `ack_rtt` are the TCP
//! figures; `t2t` (to the server's read) is a shared-memory figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{Error, RoundOutput, T2tArgs, TickStamps, fifo_priority, pin, server_config, set_fifo};
use crate::bench::rtt::RawSession;
use crate::client::{Client, Event, LoginParams};
use crate::clock::Clock;
use crate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, Side, Symbol, TimeInForce};
use crate::proto::soupbin::encode_unsequenced_with;
use crate::server::spawn;

const PRICE: Price = Price(1_900_000);
const QTY: u32 = 100;

fn packet(urn: u32, side: Side, tif: TimeInForce, buf: &mut [u8; 64]) -> Result<usize, Error> {
    let m = EnterOrder {
        time_in_force: tif,
        ..EnterOrder::new(urn, side, QTY, Symbol::padded("AAPL"), PRICE)
    };
    Ok(encode_unsequenced_with(buf, |b| {
        Inbound::EnterOrder(m).encode(b)
    })?)
}

/// The algo's record of one tick: (tick read, order sent, ack read).
type AlgoStamps = (u64, u64, u64);

/// One round: a fresh server, the algo thread, `warmup + ticks` ticks.
pub(super) fn round(
    args: &T2tArgs,
    round: u64,
    ticks: u64,
    clock: &Clock,
) -> Result<RoundOutput, Error> {
    let journal = args.journal.then(|| {
        std::env::temp_dir().join(format!(
            "tickgate-t2t-journal-{}-{round}",
            std::process::id()
        ))
    });
    if let Some(j) = &journal {
        let _ = std::fs::remove_dir_all(j);
    }
    // Under `chrt -f`: the server's spinning thread inherits this thread's priority
    // p; this thread (waiting, then the tick source) runs at p + 1 until the server
    // has stopped, so that no spinner at its priority can starve it.
    let base = fifo_priority();
    let server = spawn(server_config(args, journal.as_deref()), true).map_err(|e| e.to_string())?;
    if let Some(p) = base {
        set_fifo(p + 1);
    }
    let threads = server.threads.clone();
    let total = args.warmup + ticks;
    let algo = RawSession::new(&server, 0)?;
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let (cpu, ci, clk) = (args.algo_cpu, args.ci, *clock);
    let flags = (ready.clone(), stop.clone(), answered.clone());
    let algo = std::thread::Builder::new()
        .name("t2t-algo".into())
        .spawn(move || algo_loop(algo, (cpu, base), ci, &clk, total, flags))?;
    while !ready.load(Ordering::Acquire) && !algo.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    pin(args.tick_cpu(), "tick source");
    let source = tick_source(&server, args, total, clock);
    // Wait (bounded) for the algo to answer the last fill, then stop it.
    let filled = source
        .as_ref()
        .map_or(0, |s| s.iter().filter(|t| t.1).count() as u64);
    for _ in 0..2_000 {
        if answered.load(Ordering::Acquire) >= filled {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Release);
    let algo_stamps = algo.join().map_err(|_| "the algo thread panicked")??;
    server.stop_and_join().map_err(|e| e.to_string())?;
    if let Some(p) = base {
        set_fifo(p);
    }
    if let Some(j) = &journal {
        let _ = std::fs::remove_dir_all(j);
    }
    let source = source?;
    Ok(assemble(&source, &algo_stamps, args, clock, threads))
}

/// Zips the tick source's filled ticks with the algo's answers, in order (one fill
/// per tick, one answer per fill), dropping the warm-up ticks.
fn assemble(
    source: &[(u64, bool, u64)],
    algo: &[AlgoStamps],
    args: &T2tArgs,
    clock: &Clock,
    threads: String,
) -> RoundOutput {
    let interval_ns = 1_000_000_000 / args.rate.max(1);
    let mut out = RoundOutput {
        threads,
        ..RoundOutput::default()
    };
    let mut answers = algo.iter();
    for (i, &(publish, filled, lateness_ns)) in source.iter().enumerate() {
        let answer = if filled { answers.next() } else { None };
        if (i as u64) < args.warmup {
            continue;
        }
        out.late += u64::from(lateness_ns > interval_ns);
        match answer {
            Some(&(algo_recv, order_send, algo_ack)) => out.ticks.push(TickStamps {
                publish,
                algo_recv,
                order_send,
                algo_ack,
                ..TickStamps::default()
            }),
            None => out.missed += 1,
        }
    }
    let _ = clock;
    out
}

/// The tick source: `total` IOC buys on a fixed schedule, sleeping in between; per
/// tick (publish TSC, whether it traded, how late it was sent in ns). It reads the
/// outcomes of earlier ticks (non-blocking) just before each send, so that it never
/// wakes up in the middle of the core's answer to the tick it just sent.
fn tick_source(
    server: &crate::server::Running,
    args: &T2tArgs,
    total: u64,
    clock: &Clock,
) -> Result<Vec<(u64, bool, u64)>, Error> {
    let mut c = Client::connect(
        server.addr,
        &LoginParams::new("B1", "bench").from_sequence(0),
    )?;
    c.set_spin(true)?;
    let interval_ticks = (clock.ticks_per_s() / args.rate.max(1) as f64) as u64;
    let start = clock.now() + interval_ticks;
    let mut sent = Vec::with_capacity(total as usize);
    let mut outcome = vec![None; total as usize];
    let mut buf = [0u8; 64];
    for i in 0..total {
        let scheduled = start + i * interval_ticks;
        let now = clock.now();
        if now < scheduled {
            std::thread::sleep(Duration::from_nanos(clock.ticks_to_ns(scheduled - now)));
        }
        drain_outcomes(&mut c, &mut outcome)?;
        let urn = i as u32 + 1;
        let n = packet(urn, Side::Buy, TimeInForce::Ioc, &mut buf)?;
        let publish = clock.now();
        c.send_raw(&buf[..n])?;
        sent.push((
            publish,
            clock.ticks_to_ns(publish.saturating_sub(scheduled)),
        ));
    }
    for _ in 0..2_000 {
        drain_outcomes(&mut c, &mut outcome)?;
        if outcome.iter().all(Option::is_some) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(sent
        .into_iter()
        .zip(outcome)
        .map(|((publish, late), o)| (publish, o == Some(true), late))
        .collect())
}

/// Reads what has arrived: per tick order, whether it traded (Order Executed) or was
/// cancelled unfilled.
fn drain_outcomes(c: &mut Client, outcome: &mut [Option<bool>]) -> Result<(), Error> {
    while let Some(ev) = c.try_recv()? {
        let Event::Sequenced { message, .. } = ev else {
            continue;
        };
        let (urn, traded) = match message {
            Outbound::OrderExecuted(e) => (e.user_ref_num, true),
            Outbound::OrderCanceled(e) => (e.user_ref_num, false),
            Outbound::OrderRejected(e) => {
                return Err(format!("tick order rejected: {:?}", e.reason).into());
            }
            _ => continue,
        };
        if let Some(o) = outcome.get_mut((urn as usize).wrapping_sub(1)) {
            // A fill decides; a cancel after a partial fill does not undo it.
            *o = Some(traded || *o == Some(true));
        }
    }
    Ok(())
}

/// Spins (yields with `--ci`) until a packet of `message_type` is in; `None` once
/// `stop` is raised.
fn wait(
    s: &mut RawSession,
    message_type: u8,
    ci: bool,
    stop: &AtomicBool,
) -> Result<Option<()>, Error> {
    let mut polls = 0u32;
    loop {
        if s.poll_for(message_type)?.is_some() {
            return Ok(Some(()));
        }
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(1024) && stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        if ci {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The reacting algo: rests a sell, and at every execution enters it again.
fn algo_loop(
    mut s: RawSession,
    (cpu, priority): (usize, Option<i32>),
    ci: bool,
    clock: &Clock,
    total: u64,
    (ready, stop, answered): (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicU64>),
) -> Result<Vec<AlgoStamps>, String> {
    let mut run = || -> Result<Vec<AlgoStamps>, Error> {
        if let Some(p) = priority {
            set_fifo(p);
        }
        pin(cpu, "algo");
        let mut buf = [0u8; 64];
        let n = packet(1, Side::Sell, TimeInForce::Day, &mut buf)?;
        s.send(&buf[..n])?;
        if wait(&mut s, b'A', ci, &stop)?.is_none() {
            return Ok(Vec::new());
        }
        ready.store(true, Ordering::Release);
        let mut out = Vec::with_capacity(total as usize);
        for urn in 2.. {
            if wait(&mut s, b'E', ci, &stop)?.is_none() {
                break;
            }
            let algo_recv = clock.now();
            let n = packet(urn, Side::Sell, TimeInForce::Day, &mut buf)?;
            let order_send = clock.now();
            s.send(&buf[..n])?;
            if wait(&mut s, b'A', ci, &stop)?.is_none() {
                break;
            }
            out.push((algo_recv, order_send, clock.now()));
            answered.fetch_add(1, Ordering::Release);
        }
        Ok(out)
    };
    let r = run().map_err(|e| e.to_string());
    ready.store(true, Ordering::Release);
    r
}
