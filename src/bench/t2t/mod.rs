//! `tickgate bench tick-to-trade`: a tick source moves the market at a fixed rate
//! (open loop), a reacting algo sends one order per tick, and calibrated TSC stamps
//! carried through the run mark each stage; the cache-line RTT floor between the same
//! two cores is measured in the same run, interleaved round by round.
//!
//! ```text
//!  CPU 1: serve (shared mode: gateway + session layer + core, busy-spinning)
//!  CPU 0: the reacting algo (busy-spinning): a separate process for shm
//!  the tick source: shm (default `--tick-source algo-process`): a second session
//!         of the algo process, sent from its spinning loop on a TSC schedule (no
//!         thread sleeps or wakes on either CPU during a round); shm
//!         `--tick-source thread` and tcp: a thread of this process on CPU 1
//!         (`--tick-cpu`), sleeping between ticks, one FIFO priority above the
//!         spinners
//! ```
//!
//! Stamps (TSC; every thread and process on the host reads the same invariant
//! counter, checked at start): tick publish → algo receive → order send → core receive
//! → algo ack receive (the ack's publish is not stamped: a response record carries
//! only its stream number). What each transport can stamp is in its module. Method
//! and stamping points: `docs/LATENCY.md`. Every stage histogram is corrected for coordinated omission with
//! `record_correct(value, tick interval)`: a stall longer than the tick interval adds
//! the samples the ticks queued behind it would have seen.
//!
//! Measured next to the stages, every round (the JSON's `peers`): the floor once more,
//! sampled as the ticks are — one round trip every `--sparse-interval-us`
//! (`floor_sparse`) — and, for shm, the order → ack transport alone through a real
//! slot's rings (`ack_echo`, back to back, and `ack_echo_sparse`; [`echo`]).

mod echo;
mod plot;
mod rounds;
mod shm;
#[cfg(feature = "stage-stamps")]
mod stamps;
mod tcp;

pub use shm::{T2tAlgoArgs, run_algo};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

pub use rounds::{AbChange, SAME_PLACEMENT_NS};

use crate::affinity::{IdleKind, pin_current_thread};
use crate::bench::pingpong::{self, Cpus, Pace};
use crate::bench::report::{
    Machine, Percentiles, latency_histogram, ratio, table_header, table_row, write_hgrm,
};
use crate::clock::Clock;
use crate::config::{AccountConfig, Config, ThreadingMode};

type Error = Box<dyn std::error::Error>;

/// How the tick reaches the algo and the algo's order reaches the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Shared memory: ITCH on the broadcast ring, orders on the algo's slot ring.
    Shm,
    /// TCP: the tick is an execution on the algo's own SoupBinTCP session.
    Tcp,
}

/// Where the shm tick source runs (docs/LATENCY.md § Tick source says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TickSource {
    /// A second, independent session (account B1) of the algo process, sent from its
    /// spinning loop when the TSC reaches the next tick's time: nothing sleeps or
    /// wakes on either CPU during a round (the layout a 2-vCPU host allows).
    AlgoProcess,
    /// A thread of the bench process on `--tick-cpu` (default: the server's CPU),
    /// sleeping between ticks: its wake-ups and sleeps run on that CPU (the layout
    /// before 2026-11-22; on a host with a third CPU, give it that CPU).
    Thread,
}

impl TickSource {
    fn name(self) -> &'static str {
        match self {
            Self::AlgoProcess => "algo-process",
            Self::Thread => "thread",
        }
    }
}

/// Options of `tickgate bench tick-to-trade`.
#[derive(Debug, Clone, clap::Args)]
pub struct T2tArgs {
    /// How ticks and orders travel.
    #[arg(long, value_enum, default_value_t = Transport::Shm)]
    pub transport: Transport,
    /// Ticks per second (open loop, on a fixed schedule).
    #[arg(long, default_value_t = 2_000)]
    pub rate: u64,
    /// shm: where the tick source runs (tcp: always a thread on `--tick-cpu`).
    #[arg(long, value_enum, default_value_t = TickSource::AlgoProcess)]
    pub tick_source: TickSource,
    /// CPU of the tick source's thread (`--tick-source thread`, and tcp); default the
    /// server's. On a host with a CPU to spare, give it its own.
    #[arg(long)]
    pub tick_cpu: Option<usize>,
    /// Recorded ticks, over all rounds.
    #[arg(long, default_value_t = 20_000)]
    pub ticks: u64,
    /// Unrecorded ticks at the start of each round.
    #[arg(long, default_value_t = 200)]
    pub warmup: u64,
    /// Rounds: (floor, ticks) pairs, interleaved (at least; see --max-round-ms).
    #[arg(long, default_value_t = 4)]
    pub rounds: u32,
    /// Longest stretch of ticks (warm-up included) per round, ms; more rounds are run
    /// instead, each followed by `--pause-ms` with nothing spinning. Under `chrt -f`
    /// this keeps every 1 s period under the kernel's RT budget (950 ms), so RT
    /// throttling never freezes a spinner mid-run. 0 = no limit.
    #[arg(long, default_value_t = 500)]
    pub max_round_ms: u64,
    /// shm: closed-loop order → ack round trips per round after the ticks, with no
    /// tick traffic in the server's loop (`ack_rtt_quiet`).
    #[arg(long, default_value_t = 500)]
    pub quiet: u64,
    /// shm: unrecorded closed-loop algo order → ack round trips per round before the
    /// first tick (the fresh server's first orders are cold: page faults, caches).
    #[arg(long, default_value_t = 10_000)]
    pub algo_warmup: u64,
    /// Pause after each round, ms (nothing spins).
    #[arg(long, default_value_t = 1000)]
    pub pause_ms: u64,
    /// Recorded floor round trips, over all rounds.
    #[arg(long, default_value_t = 400_000)]
    pub floor_iters: u64,
    /// Recorded round trips of the sparse floor (`floor_sparse`) and, for shm, of the
    /// sparse slot echo (`ack_echo_sparse`), each over all rounds: one every
    /// `--sparse-interval-us`. 0 = neither.
    #[arg(long, default_value_t = 20_000)]
    pub sparse_iters: u64,
    /// Mean time between two sparse round trips, µs (each gap drawn from half to
    /// one and a half of it; both sides spin in between).
    #[arg(long, default_value_t = 50)]
    pub sparse_interval_us: u64,
    /// shm: recorded back-to-back round trips of the slot echo (`ack_echo`, the
    /// order → ack transport alone), over all rounds; 0 = no slot echo.
    #[arg(long, default_value_t = 20_000)]
    pub echo_iters: u64,
    /// CPU of the reacting algo.
    #[arg(long, default_value_t = 0)]
    pub algo_cpu: usize,
    /// CPU of the server (gateway + session layer + core, shared mode).
    #[arg(long, default_value_t = 1)]
    pub server_cpu: usize,
    /// Run the server with its journal (process durability) in a temporary directory.
    #[arg(long)]
    pub journal: bool,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Write `t2t-<transport>-<stage>.hgrm`, the SVG plot and the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Short and gentle (smoke tests): few ticks, a slow rate, yielding spinners.
    #[arg(long)]
    pub ci: bool,
    /// The server's `threads.warm_interval_us` (idle warm pass; 0 = off) instead of the
    /// default configuration's.
    #[arg(long)]
    pub warm_interval_us: Option<u64>,
    /// The server with `threads.direct_orders = false`: orders through the command
    /// ring, events through the response ring (for A/B against the direct run).
    #[arg(long)]
    pub no_direct_orders: bool,
    /// The server's `threads.hot_polls` (looks at the algos' order rings between two
    /// idle turns; 0 = off) instead of the default configuration's.
    #[arg(long)]
    pub hot_polls: Option<u32>,
    /// Alternate the server round by round: even rounds as configured (A), odd rounds
    /// with this `[threads]` setting (B: `hot_polls=N`, `warm_interval_us=N` or
    /// `direct_orders=true|false`); prints the paired differences of neighbouring
    /// rounds' p50s and adds `ab` to the JSON. The table and ratios are then A's
    /// rounds only (docs/LATENCY.md § Comparing within a run).
    #[arg(long, value_name = "KEY=VALUE", value_parser = AbChange::parse)]
    pub ab: Option<AbChange>,
}

impl T2tArgs {
    /// The CPU of the tick source's thread.
    fn tick_cpu(&self) -> usize {
        self.tick_cpu.unwrap_or(self.server_cpu)
    }

    /// Where the tick source runs: tcp has a thread only.
    fn tick_source(&self) -> TickSource {
        match self.transport {
            Transport::Shm => self.tick_source,
            Transport::Tcp => TickSource::Thread,
        }
    }

    /// The tick source, as the report names it.
    fn tick_source_text(&self) -> String {
        match self.tick_source() {
            TickSource::AlgoProcess => format!("algo-process (CPU {})", self.algo_cpu),
            TickSource::Thread => format!("thread (CPU {})", self.tick_cpu()),
        }
    }
}

/// The TSC stamps of one tick; 0 = not stamped by this transport.
#[derive(Debug, Clone, Copy, Default)]
pub struct TickStamps {
    /// The market moved: the tick is published (see each transport for where).
    pub publish: u64,
    /// The algo has read the tick.
    pub algo_recv: u64,
    /// The algo writes its order.
    pub order_send: u64,
    /// The server's session layer reads the order.
    pub core_recv: u64,
    /// The algo has read the answer.
    pub algo_ack: u64,
}

/// The stages reported: (name, from, to, what).
const STAGES: [(&str, Stamp, Stamp, &str); 7] = [
    (
        "t2t",
        Stamp::Publish,
        Stamp::CoreRecv,
        "tick publish -> order read by the server",
    ),
    (
        "ack_rtt",
        Stamp::OrderSend,
        Stamp::AlgoAck,
        "order send -> ack read by the algo",
    ),
    (
        "t2t_algo",
        Stamp::Publish,
        Stamp::OrderSend,
        "tick publish -> order send",
    ),
    (
        "tick_to_algo",
        Stamp::Publish,
        Stamp::AlgoRecv,
        "tick publish -> algo read",
    ),
    (
        "algo_react",
        Stamp::AlgoRecv,
        Stamp::OrderSend,
        "algo read -> order send",
    ),
    (
        "order_to_core",
        Stamp::OrderSend,
        Stamp::CoreRecv,
        "order send -> server read",
    ),
    (
        "core_to_ack",
        Stamp::CoreRecv,
        Stamp::AlgoAck,
        "server read -> ack read by the algo",
    ),
];

#[derive(Debug, Clone, Copy)]
enum Stamp {
    Publish,
    AlgoRecv,
    OrderSend,
    CoreRecv,
    AlgoAck,
}

impl TickStamps {
    fn get(&self, s: Stamp) -> u64 {
        match s {
            Stamp::Publish => self.publish,
            Stamp::AlgoRecv => self.algo_recv,
            Stamp::OrderSend => self.order_send,
            Stamp::CoreRecv => self.core_recv,
            Stamp::AlgoAck => self.algo_ack,
        }
    }
}

/// What one round of ticks produced.
#[derive(Debug, Default)]
pub struct RoundOutput {
    /// Stamps of the recorded ticks the algo answered.
    pub ticks: Vec<TickStamps>,
    /// Ticks sent that the algo did not answer (e.g. its order was not resting yet).
    pub missed: u64,
    /// Ticks sent later than scheduled by more than one interval (the tick thread's
    /// sleep overshot, or the algo process was busy with an earlier tick).
    pub late: u64,
    /// The server's threading description.
    pub threads: String,
    /// shm: closed-loop order → ack round trips after the ticks (order send, core
    /// receive, algo ack stamps).
    pub quiet: Vec<TickStamps>,
}

/// The run's histograms, one per stage.
struct Stages {
    /// Corrected for coordinated omission (what the table and ratios use).
    hists: Vec<Histogram<u64>>,
    /// The same samples as measured, uncorrected (in the JSON, for comparison).
    raw: Vec<Histogram<u64>>,
}

impl Stages {
    fn new() -> Self {
        Self {
            hists: STAGES.iter().map(|_| latency_histogram()).collect(),
            raw: STAGES.iter().map(|_| latency_histogram()).collect(),
        }
    }

    fn record(&mut self, t: &TickStamps, clock: &Clock, interval_ns: u64) {
        let hists = self.hists.iter_mut().zip(self.raw.iter_mut());
        for ((h, raw), (_, from, to, _)) in hists.zip(STAGES) {
            let (a, b) = (t.get(from), t.get(to));
            if a != 0 && b != 0 {
                let ns = clock
                    .ticks_to_ns(b.saturating_sub(a))
                    .clamp(1, 10_000_000_000);
                // Coordinated omission: a stall of k intervals also delays the k ticks
                // queued behind it; record_correct adds them.
                let _ = h.record_correct(ns, interval_ns);
                raw.saturating_record(ns);
            }
        }
    }
}

/// A sparse peer's samples (`floor_sparse`, `ack_echo_sparse`), recorded as a tick's
/// stages are — `record_correct(value, tick interval)` — so that its percentiles
/// compare with theirs, and as measured.
struct Sampled {
    /// Corrected for coordinated omission with the tick interval.
    hist: Histogram<u64>,
    /// Uncorrected.
    raw: Histogram<u64>,
}

impl Sampled {
    fn new() -> Self {
        Self {
            hist: latency_histogram(),
            raw: latency_histogram(),
        }
    }

    fn record(&mut self, ns: u64, tick_interval_ns: u64) {
        let ns = ns.clamp(1, 10_000_000_000);
        // Cannot fail: `ns` is within a latency histogram's range.
        let _ = self.hist.record_correct(ns, tick_interval_ns);
        self.raw.saturating_record(ns);
    }
}

/// Runs the benchmark and prints the report.
pub fn run(args: &T2tArgs) -> Result<ExitCode, Error> {
    let args = &effective(args);
    if !crate::clock::tsc_is_invariant() {
        eprintln!(
            "tickgate: bench tick-to-trade: warning: no invariant TSC; stamps across cores are not comparable"
        );
    }
    let clock = Clock::calibrate(Duration::from_millis(200));
    let per_round = match args.max_round_ms {
        0 => u64::MAX,
        ms => (args.rate * ms / 1000).saturating_sub(args.warmup).max(1),
    };
    let rounds = u64::from(args.rounds.max(1)).max(args.ticks.div_ceil(per_round));
    let interval_ns = 1_000_000_000 / args.rate.max(1);
    let mut stages = Stages::new();
    let mut floor = latency_histogram();
    let mut floor_sparse = Sampled::new();
    let mut floor_demote = latency_histogram();
    let mut echo = echo::EchoHists {
        closed: latency_histogram(),
        sparse: Sampled::new(),
    };
    let with_echo = args.transport == Transport::Shm && args.echo_iters + args.sparse_iters > 0;
    let mut quiet = [(); 3].map(|_| latency_histogram());
    let (mut missed, mut late, mut threads) = (0, 0, String::new());
    let cpus = Cpus {
        pinger: args.algo_cpu,
        echoer: args.server_cpu,
    };
    if args.ab.is_some() && rounds < 2 {
        return Err("--ab needs at least two rounds (--rounds)".into());
    }
    let mut by_round = rounds::Rounds::new(args.ab);
    let args_b = args.ab.map(|change| change.apply(args));
    for round in 0..rounds {
        let side = usize::from(args.ab.is_some() && round % 2 == 1);
        let server_args = match (&args_b, side) {
            (Some(b), 1) => b,
            _ => args,
        };
        let round_floor = floor_round(args, rounds, cpus, &clock, &mut floor);
        sparse_floor_round(args, rounds, cpus, &clock, &mut floor_sparse);
        demoting_floor_round(args, rounds, cpus, &clock, &mut floor_demote);
        if with_echo {
            echo::round(args, round, rounds, &clock, &mut echo)?;
        }
        eprintln!(
            "tickgate: bench tick-to-trade: round {}/{rounds}: floor{} done",
            round + 1,
            if with_echo { ", slot echo" } else { "" }
        );
        let ticks = args.ticks.div_ceil(rounds);
        let out = match args.transport {
            Transport::Tcp => tcp::round(server_args, round, ticks, &clock)?,
            Transport::Shm => shm::round(server_args, round, ticks, &clock)?,
        };
        eprintln!(
            "tickgate: bench tick-to-trade: round {}/{rounds}: {} ticks answered, {} missed",
            round + 1,
            out.ticks.len(),
            out.missed
        );
        by_round.record(side, &out, &round_floor, &clock, interval_ns);
        (missed, late, threads) = (missed + out.missed, late + out.late, out.threads);
        std::thread::sleep(Duration::from_millis(args.pause_ms));
        if side == 1 {
            // B's rounds are in `by_round` only.
            continue;
        }
        for t in &out.ticks {
            stages.record(t, &clock, interval_ns);
        }
        for t in &out.quiet {
            let ns = |a: u64, b: u64| clock.ticks_to_ns(b.saturating_sub(a)).max(1);
            quiet[0].saturating_record(ns(t.order_send, t.algo_ack));
            if t.core_recv != 0 {
                quiet[1].saturating_record(ns(t.order_send, t.core_recv));
                quiet[2].saturating_record(ns(t.core_recv, t.algo_ack));
            }
        }
    }
    #[cfg(feature = "stage-stamps")]
    if args.transport == Transport::Shm {
        let phases = stamps::Phases {
            algo_warmup: args.algo_warmup,
            warmup_ticks: args.warmup,
            ticks: args.ticks.div_ceil(rounds),
        };
        stamps::print(&phases, &clock);
    }
    let board_ns = board_record_ns(&clock);
    let report = Report {
        stages,
        floor,
        floor_sparse,
        floor_demote,
        echo: with_echo.then_some(echo),
        missed,
        late,
        threads,
        interval_ns,
        board_record_ns: board_ns,
        rounds,
        quiet,
        by_round,
    };
    report.print(args)?;
    Ok(ExitCode::SUCCESS)
}

/// `--ci` shrinks the run: a few hundred ticks at a slow rate, a short floor.
fn effective(args: &T2tArgs) -> T2tArgs {
    let mut a = args.clone();
    if a.ci {
        a.ticks = a.ticks.min(300);
        a.warmup = a.warmup.min(20);
        a.rate = a.rate.min(1_000);
        a.rounds = a.rounds.min(2);
        a.floor_iters = a.floor_iters.min(2_000);
        a.sparse_iters = a.sparse_iters.min(200);
        a.echo_iters = a.echo_iters.min(200);
        a.max_round_ms = 0;
        a.quiet = a.quiet.min(50);
        a.algo_warmup = a.algo_warmup.min(100);
        a.pause_ms = 0;
    }
    a
}

/// One round of the cache-line floor sweep (MEASURING.md rule 2) between the algo's
/// and the server's CPUs: 1024 lines per direction, the slot count of an algo ring.
fn floor_round(
    args: &T2tArgs,
    rounds: u64,
    cpus: Cpus,
    clock: &Clock,
    h: &mut Histogram<u64>,
) -> Histogram<u64> {
    let mut round = latency_histogram();
    let iters = args.floor_iters.div_ceil(rounds);
    sweep(pingpong::floor_pair(1024), iters, cpus, clock, &mut round);
    h.add(&round).expect("histograms of the same bounds");
    round
}

/// One round of the floor's sweep with each line demoted after its store, as the
/// slot rings and the market-data ring demote their commit lines (`floor_demote`, a
/// peer: the floor for a transport that uses the hint). A tenth of the floor's trips.
fn demoting_floor_round(
    args: &T2tArgs,
    rounds: u64,
    cpus: Cpus,
    clock: &Clock,
    h: &mut Histogram<u64>,
) {
    let iters = (args.floor_iters / 10).div_ceil(rounds);
    if iters > 0 {
        sweep(pingpong::floor_pair_demoting(1024), iters, cpus, clock, h);
    }
}

/// `iters` back-to-back round trips over a sweep pair (a fifth more as warm-up)
/// into `h`, the pinger on `cpus.pinger`.
fn sweep(
    pair: (pingpong::MailboxLink, pingpong::MailboxLink),
    iters: u64,
    cpus: Cpus,
    clock: &Clock,
    h: &mut Histogram<u64>,
) {
    // Off the echo's CPU before it starts spinning there (a tick thread may have run on it):
    // under SCHED_FIFO an equal-priority spinner would never let this thread back.
    pin(cpus.pinger, "floor pinger");
    pingpong::rtt(pair, iters / 5, iters, cpus, clock, h);
}

/// One round of the sparse floor: the same sweep pair and CPUs as [`floor_round`],
/// one round trip every `--sparse-interval-us` (the pinger spinning on the clock, the
/// echo on its line in between; yielding with `--ci`): a floor sampled as the ticks
/// are (docs/LATENCY.md § Ratios).
fn sparse_floor_round(args: &T2tArgs, rounds: u64, cpus: Cpus, clock: &Clock, h: &mut Sampled) {
    let iters = args.sparse_iters.div_ceil(rounds);
    if iters == 0 {
        return;
    }
    let pace = Pace::Every {
        ticks: (clock.ticks_per_s() * args.sparse_interval_us as f64 / 1e6) as u64,
        yield_between: args.ci,
    };
    pin(cpus.pinger, "sparse floor pinger");
    let warmup = (iters / 8).max(10);
    let tick_interval_ns = 1_000_000_000 / args.rate.max(1);
    pingpong::rtt_paced(
        pingpong::floor_pair(1024),
        warmup,
        iters,
        cpus,
        clock,
        pace,
        |ns| h.record(ns, tick_interval_ns),
    );
}

/// The cost of one [`crate::ipc::latency::LatencyBoard::record_order`], ns (mean of
/// a million records spread over the buckets, measured on this thread, the board's
/// lines in cache: the core's steady state).
fn board_record_ns(clock: &Clock) -> f64 {
    let path = std::env::temp_dir().join(format!("tickgate-t2t-board-{}", std::process::id()));
    let Ok(board) = crate::ipc::latency::LatencyBoard::create(&path, &["BENCH"], *clock) else {
        return f64::NAN;
    };
    let n = 1_000_000u64;
    let t0 = clock.now();
    for i in 0..n {
        // A realistic spread of TSC intervals (≈ 100 ns – 1 µs).
        board.record_order(0, 1_000_000, std::hint::black_box(1_000_300 + (i & 2047)));
    }
    let t1 = clock.now();
    clock.ticks_to_ns(t1 - t0) as f64 / n as f64
}

/// The server's configuration: the embedded default, shared mode on the server CPU,
/// spinning (yielding with `--ci`), market-data multicast off (its thread would share
/// the algo's CPU; the core still writes ITCH to its ring), accounts B0 (the algo) and
/// B1 (the tick source).
fn server_config(args: &T2tArgs, journal: Option<&Path>) -> Config {
    let mut c = Config::embedded();
    match journal {
        Some(dir) => c.journal.dir = dir.to_path_buf(),
        None => c.journal.enabled = false,
    }
    c.marketdata.enabled = false;
    // No operator channel and (tcp) no algo slots: nothing of a running `serve`'s to
    // collide with, and runs in parallel (tests) do not share a socket.
    c.admin.enabled = false;
    c.ipc.enabled = false;
    c.gateway.listen = "127.0.0.1:0".parse().expect("address");
    c.gateway.log_events = false;
    c.threads.mode = ThreadingMode::Shared;
    c.threads.gateway_cpus = vec![args.server_cpu];
    c.threads.core_cpu = args.server_cpu;
    c.threads.idle = if args.ci {
        IdleKind::SpinYield
    } else {
        IdleKind::Spin
    };
    if let Some(us) = args.warm_interval_us {
        c.threads.warm_interval_us = us;
    }
    c.threads.direct_orders = !args.no_direct_orders;
    if let Some(n) = args.hot_polls {
        c.threads.hot_polls = n;
    }
    c.accounts = (0..2)
        .map(|i| AccountConfig {
            username: format!("B{i}"),
            password: "bench".into(),
            firm: format!("B{i}"),
            cancel_on_disconnect: true,
        })
        .collect();
    // The pre-trade checks run on every order as in production; the message throttles
    // (10,000 orders/s by default) would log the algo out during its warm-up (a few
    // hundred thousand orders/s, closed loop), so they are off, as in `bench rtt`.
    let r = &mut c.risk.defaults;
    (r.order_rate_per_s, r.cancel_rate_per_s) = (0, 0);
    (r.max_open_orders, r.max_position) = (0, 0);
    c
}

/// SCHED_FIFO priority of this thread, if it runs under a real-time policy
/// (`chrt -f`): the non-spinning threads then run one above it so that a spinner at
/// the same priority can never starve them.
fn fifo_priority() -> Option<i32> {
    // SAFETY: plain syscalls on the calling thread with a valid out-parameter.
    unsafe {
        if libc::sched_getscheduler(0) != libc::SCHED_FIFO {
            return None;
        }
        let mut p = libc::sched_param { sched_priority: 0 };
        (libc::sched_getparam(0, &mut p) == 0).then_some(p.sched_priority)
    }
}

/// Moves the calling thread to SCHED_FIFO `priority`.
fn set_fifo(priority: i32) {
    let p = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: a valid sched_param for the calling thread (tid 0).
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
        eprintln!(
            "tickgate: bench tick-to-trade: could not raise a helper thread to FIFO {priority}"
        );
    }
}

/// Pins the calling thread, saying so on failure.
fn pin(cpu: usize, what: &str) {
    if let Err(e) = pin_current_thread(cpu) {
        eprintln!("tickgate: bench tick-to-trade: {what} not pinned: {e}");
    }
}

struct Report {
    stages: Stages,
    floor: Histogram<u64>,
    /// The floor, one round trip every `--sparse-interval-us`.
    floor_sparse: Sampled,
    /// The floor's sweep with each line demoted after its store.
    floor_demote: Histogram<u64>,
    /// shm: the slot echo (`ack_echo`, `ack_echo_sparse`).
    echo: Option<echo::EchoHists>,
    missed: u64,
    late: u64,
    threads: String,
    interval_ns: u64,
    board_record_ns: f64,
    rounds: u64,
    /// Closed-loop, no ticks: order send → ack read, → server read, server read → ack.
    quiet: [Histogram<u64>; 3],
    /// Every round's p50s and p99s (with `--ab`, A's and B's).
    by_round: rounds::Rounds,
}

/// The histograms measured next to the stages, as the report names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Sparse,
    Demote,
    Echo,
    EchoSparse,
}

impl Report {
    /// (name, histogram, which) of the sparse floor and, for shm, the slot echo; the
    /// sparse ones CO-corrected as the tick stages are.
    fn peers(&self) -> Vec<(&'static str, &Histogram<u64>, Peer)> {
        let mut v = vec![
            ("floor_sparse", &self.floor_sparse.hist, Peer::Sparse),
            ("floor_demote", &self.floor_demote, Peer::Demote),
        ];
        if let Some(e) = &self.echo {
            v.push(("ack_echo", &e.closed, Peer::Echo));
            v.push(("ack_echo_sparse", &e.sparse.hist, Peer::EchoSparse));
        }
        v
    }

    /// The uncorrected samples of a sparse peer.
    fn raw(&self, which: Peer) -> Option<&Histogram<u64>> {
        match which {
            Peer::Sparse => Some(&self.floor_sparse.raw),
            Peer::EchoSparse => self.echo.as_ref().map(|e| &e.sparse.raw),
            Peer::Echo | Peer::Demote => None,
        }
    }

    /// The JSON's `peers` object.
    fn peers_json(
        &self,
        args: &T2tArgs,
        peers: &[(&str, &Histogram<u64>, Peer)],
    ) -> Result<serde_json::Value, Error> {
        let mut obj = serde_json::Map::new();
        obj.insert("sparse_interval_us".into(), json!(args.sparse_interval_us));
        if self.echo.is_some() {
            obj.insert("echo_record_bytes".into(), json!(echo::record_bytes()?));
        }
        for &(name, h, which) in peers {
            let what = match which {
                Peer::Sparse => {
                    "the floor's sweep pair and CPUs, one round trip every sparse_interval_us on average (random gaps), \
                     both sides spinning in between; record_correct(value, tick_interval_ns) as the stages"
                }
                Peer::Demote => {
                    "the floor's sweep pair and CPUs, back to back, each line demoted to the shared cache \
                     (cldemote) after its sequence store, as the slot and market-data rings demote their \
                     commit lines; a tenth of the floor's trips; not CO-corrected"
                }
                Peer::Echo => {
                    "slot echo: AlgoSession::enter_order -> a one-slot directory's order ring, \
                     read and answered with an Order Accepted's bytes through the response ring \
                     by the server's ring code, back to back; not CO-corrected"
                }
                Peer::EchoSparse => {
                    "the slot echo, one trip every sparse_interval_us on average, both sides spinning \
                     in between; record_correct(value, tick_interval_ns) as the stages"
                }
            };
            let mut peer = json!({"what": what, "ns": Percentiles::of(h)});
            if let Some(raw) = self.raw(which) {
                peer["uncorrected_ns"] = json!(Percentiles::of(raw));
            }
            obj.insert(name.into(), peer);
        }
        Ok(serde_json::Value::Object(obj))
    }

    fn print(&self, args: &T2tArgs) -> Result<(), Error> {
        let transport = match args.transport {
            Transport::Shm => "shm",
            Transport::Tcp => "tcp",
        };
        let f = Percentiles::of(&self.floor);
        let p: Vec<Percentiles> = self.stages.hists.iter().map(Percentiles::of).collect();
        let peers = self.peers();
        if let Some(dir) = &args.out {
            write_hgrm(dir, &format!("t2t-{transport}-floor"), &self.floor)?;
            for (name, h, _) in &peers {
                if !h.is_empty() {
                    write_hgrm(dir, &format!("t2t-{transport}-{name}"), h)?;
                }
            }
            if !self.quiet[0].is_empty() {
                write_hgrm(
                    dir,
                    &format!("t2t-{transport}-ack_rtt_quiet"),
                    &self.quiet[0],
                )?;
            }
            for ((name, ..), h) in STAGES.iter().zip(&self.stages.hists) {
                if !h.is_empty() {
                    write_hgrm(dir, &format!("t2t-{transport}-{name}"), h)?;
                }
            }
            let mut series: Vec<(&str, &Histogram<u64>)> =
                vec![("floor (cache-line RTT)", &self.floor)];
            for ((name, ..), h) in STAGES.iter().zip(&self.stages.hists).take(4) {
                if !h.is_empty() {
                    series.push((name, h));
                }
            }
            for (name, h, _) in &peers {
                if !h.is_empty() {
                    series.push((name, h));
                }
            }
            let title = format!(
                "tickgate tick-to-trade ({transport}), {} ticks/s",
                args.rate
            );
            plot::write_svg(&dir.join(format!("t2t-{transport}.svg")), &title, &series)?;
        }
        println!(
            "tickgate bench tick-to-trade --transport {transport}: {} ticks/s open loop, \
             algo on CPU {}, server {}, tick source {}; {} rounds (floor, ticks) interleaved",
            args.rate,
            args.algo_cpu,
            self.threads,
            args.tick_source_text(),
            self.rounds
        );
        println!(
            "{}",
            table_header("(ns; stages corrected for coordinated omission)")
        );
        println!(
            "{}",
            table_row("floor", &f, "cache-line RTT sweep, 1024 lines")
        );
        let sparse_what = format!(
            "the same, one every {} µs (CO-corrected as the stages)",
            args.sparse_interval_us
        );
        let echo_sparse_what = format!("the same, one every {} µs", args.sparse_interval_us);
        for (name, h, what) in &peers {
            let what = match *what {
                Peer::Sparse => &sparse_what,
                Peer::EchoSparse => &echo_sparse_what,
                Peer::Demote => "the floor, each line demoted after its store (cldemote)",
                Peer::Echo => "shm order -> Accepted-sized answer, slot echo, back to back",
            };
            if !h.is_empty() {
                println!("{}", table_row(name, &Percentiles::of(h), what));
            }
        }
        for ((name, _, _, what), p) in STAGES.iter().zip(&p) {
            if p.count > 0 {
                println!("{}", table_row(name, p, what));
            }
        }
        let qs = self.quiet.each_ref().map(Percentiles::of);
        let q = qs[0];
        for (name, p, what) in [
            (
                "ack_rtt_quiet",
                &qs[0],
                "closed loop, no ticks: order send -> ack read",
            ),
            (
                "order_to_core_quiet",
                &qs[1],
                "closed loop: order send -> server read",
            ),
            (
                "core_to_ack_quiet",
                &qs[2],
                "closed loop: server read -> ack read",
            ),
        ] {
            if p.count > 0 {
                println!("{}", table_row(name, p, what));
            }
        }
        println!(
            "ticks missed {} , sent late {}; latency-board record {:.1} ns",
            self.missed, self.late, self.board_record_ns
        );
        #[cfg(feature = "cg-marks")]
        println!(
            "cg-marks: {} algo Enter -> Accepted paths counted",
            crate::hot::marks::count()
        );
        let (t2t, rtt) = (&p[0], &p[1]);
        let r = |a: u64, b: u64| {
            if a == 0 {
                serde_json::Value::Null
            } else {
                json!(ratio(a as f64, b as f64))
            }
        };
        // Like-for-like percentiles: a p50 against the floor's p50, the p99.9 against
        // the floor's p99.9 (docs/LATENCY.md § Ratios says why); the p99.9 against the
        // floor's p50 is kept for comparison with earlier runs.
        let fd = Percentiles::of(&self.floor_demote);
        let (fs, e, es) = (
            Percentiles::of(&self.floor_sparse.hist),
            self.echo.as_ref().map(|e| Percentiles::of(&e.closed)),
            self.echo.as_ref().map(|e| Percentiles::of(&e.sparse.hist)),
        );
        // Null where a side is missing (no slot echo: tcp, `--echo-iters 0`).
        let rp = |a: u64, b: Option<u64>| match b {
            Some(b) if a != 0 && b != 0 => json!(ratio(a as f64, b as f64)),
            _ => serde_json::Value::Null,
        };
        let (e50, es50) = (
            e.map(|e| e.p50_ns).filter(|&v| v > 0),
            es.map(|e| e.p50_ns).filter(|&v| v > 0),
        );
        let mut ratios = json!({
            "t2t_p50_vs_floor": r(t2t.p50_ns, f.p50_ns),
            "t2t_p999_vs_floor": r(t2t.p999_ns, f.p999_ns),
            "ack_rtt_p50_vs_floor": r(rtt.p50_ns, f.p50_ns),
            "t2t_algo_p50_vs_floor": r(p[2].p50_ns, f.p50_ns),
            "t2t_p999_vs_floor_p999": r(t2t.p999_ns, f.p999_ns),
            "t2t_p999_vs_floor_p50": r(t2t.p999_ns, f.p50_ns),
            "ack_rtt_quiet_p50_vs_floor": r(q.p50_ns, f.p50_ns),
        });
        // The transport floor and the sparse floor (docs/LATENCY.md § Ratios).
        let more = json!({
            "ack_echo_p50_vs_floor": rp(e50.unwrap_or(0), Some(f.p50_ns)),
            "ack_rtt_p50_vs_ack_echo": rp(rtt.p50_ns, e50),
            "ack_rtt_quiet_p50_vs_ack_echo": rp(q.p50_ns, e50),
            "ack_rtt_p50_vs_ack_echo_sparse": rp(rtt.p50_ns, es50),
            "ack_echo_sparse_p50_vs_floor_sparse": rp(es50.unwrap_or(0), Some(fs.p50_ns)),
            "floor_sparse_p50_vs_floor": rp(fs.p50_ns, Some(f.p50_ns)),
            "floor_demote_p50_vs_floor": rp(fd.p50_ns, Some(f.p50_ns)),
            "t2t_p50_vs_floor_demote": rp(t2t.p50_ns, Some(fd.p50_ns)),
            "ack_rtt_p50_vs_floor_demote": rp(rtt.p50_ns, Some(fd.p50_ns)),
            "floor_sparse_p999_vs_floor_p999": rp(fs.p999_ns, Some(f.p999_ns)),
            "t2t_p999_vs_floor_sparse_p999": rp(t2t.p999_ns, Some(fs.p999_ns)),
        });
        if let (Some(all), serde_json::Value::Object(more)) = (ratios.as_object_mut(), more) {
            all.extend(more);
        }
        // Each round against its own floor: the host moves the two CPUs nearer and
        // further apart between (and within) rounds, and a run's histograms mix those
        // placements in different shares (docs/LATENCY.md § Ratios, by round).
        let (t2t_rounds, rtt_rounds) = (
            self.by_round.ratio_to_floor("t2t"),
            self.by_round.ratio_to_floor("ack_rtt"),
        );
        let median = |s: Option<rounds::Spread>| {
            s.map_or(serde_json::Value::Null, |s| json!(ratio(s.median, 1.0)))
        };
        ratios["t2t_p50_vs_floor_by_round"] = median(t2t_rounds);
        ratios["ack_rtt_p50_vs_floor_by_round"] = median(rtt_rounds);
        println!("ratios (÷ the floor's same percentile, unless named): {ratios}");
        for (name, s) in [("t2t", t2t_rounds), ("ack_rtt", rtt_rounds)] {
            if let Some(s) = s {
                println!(
                    "by round: {name} p50 ÷ the same round's floor p50: median {:.2}× \
                     ({:.2}–{:.2}×, {} rounds)",
                    s.median, s.min, s.max, s.rounds
                );
            }
        }
        let ab = self.by_round.report_ab();
        let stages: serde_json::Map<_, _> = STAGES
            .iter()
            .zip(&p)
            .zip(&self.stages.raw)
            .filter(|((_, p), _)| p.count > 0)
            .map(|(((name, _, _, what), p), raw)| {
                let raw = Percentiles::of(raw);
                (
                    name.to_string(),
                    json!({"what": what, "ns": p, "uncorrected_ns": raw}),
                )
            })
            .collect();
        let obj = json!({
            "bench": "tick-to-trade",
            "transport": transport,
            "machine": Machine::this_host(),
            "threading": self.threads,
            "algo_cpu": args.algo_cpu,
            "tick_source": args.tick_source().name(),
            "tick_cpu": match args.tick_source() {
                TickSource::AlgoProcess => args.algo_cpu,
                TickSource::Thread => args.tick_cpu(),
            },
            "rate_hz": args.rate,
            "server_warm_interval_us": args
                .warm_interval_us
                .unwrap_or_else(|| Config::embedded().threads.warm_interval_us),
            "server_direct_orders": !args.no_direct_orders,
            "server_hot_polls": args
                .hot_polls
                .unwrap_or_else(|| Config::embedded().threads.hot_polls),
            "tick_interval_ns": self.interval_ns,
            "rounds": self.rounds,
            "warmup_ticks_per_round": args.warmup,
            "pause_ms_between_rounds": args.pause_ms,
            "coordinated_omission": "record_correct(value, tick_interval_ns) on every stage",
            "journal": args.journal,
            "floor": f,
            "quiet": {
                "what": "closed loop after the ticks, no tick traffic, one order at a time; not CO-corrected",
                "ack_rtt": qs[0],
                "order_to_core": qs[1],
                "core_to_ack": qs[2],
            },
            "stages": stages,
            "peers": self.peers_json(args, &peers)?,
            "missed_ticks": self.missed,
            "late_ticks": self.late,
            "latency_board_record_ns": self.board_record_ns,
            "ratios": ratios,
            "by_round": self.by_round.by_round_json(),
            "ab": ab,
        });
        if let Some(dir) = &args.out {
            std::fs::write(
                dir.join(format!("t2t-{transport}.json")),
                format!("{obj:#}\n"),
            )?;
        }
        if args.json {
            println!("{obj}");
        }
        Ok(())
    }
}
