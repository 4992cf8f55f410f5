//! `--transport shm`: ITCH on the broadcast ring in `/dev/shm`, orders on the algo's
//! slot ring, the algo a separate process.
//!
//! The tick source (account B1 on an algo slot of its own) enters a resting MSFT buy
//! at one tick and cancels it at the next: the core writes one ITCH message per tick
//! (Add Order, Order Delete) to the broadcast ring, and the serving loop's turn holds
//! only shared-memory work (no TCP session in the run). The algo — this binary
//! re-executed as `tickgate bench t2t-algo`, pinned to the algo CPU, busy-spinning —
//! first warms the fresh server with `--algo-warmup` closed-loop orders, then reads
//! each MSFT message and answers with one IOC buy of AAPL far below the market
//! (accepted, then cancelled: the book does not grow), tagged by the algo API with
//! the tick's market-data sequence number.
//!
//! Where the tick source runs (`--tick-source`): by default it is a second,
//! independent session of the algo process, sent from the algo's spinning loop when
//! the TSC reaches the tick's scheduled time ([`Ticker`]), so that during a round no
//! thread sleeps or wakes on either CPU; the algo logic never learns from it that a
//! tick was sent — it reacts to the ITCH message it reads from the broadcast ring,
//! as before. `--tick-source thread`: a thread of this process on `--tick-cpu`
//! (default the server CPU), sleeping between ticks ([`tick_source`]).
//!
//! Stamps (TSC; the same invariant counter in both processes): `publish` = the core's
//! `rdtsc` right after the ITCH message was committed to the ring
//! (`ItchMarketOutput::publish_tsc`); `algo_recv` = the algo has copied the message
//! out of the ring; `order_send` = just before the algo writes its order into its slot
//! ring; `core_recv` = the session layer reads the order-ring record (the latency
//! board's arrival stamp: the same hook that feeds `tickgate latency`); `algo_ack` =
//! the algo has read the Order Accepted from its response ring. The board keeps each
//! session's last (publish, arrival) pair, written once the poll that read the order
//! has written its answers, so the algo reads its order's two server stamps after
//! the ack, waiting for the pair to move if it has not yet. The ack's publish is not
//! stamped (a response record carries its stream number only): `core_to_ack` is
//! server read → ack read by the algo.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    Error, RoundOutput, T2tArgs, TickSource, TickStamps, fifo_priority, pin, server_config,
    set_fifo,
};
use crate::clock::{Clock, rdtsc};
use crate::ipc::algo::{AlgoSession, SendError};
use crate::ipc::latency::{BoardReader, board_path};
use crate::proto::ouch::{CancelOrder, EnterOrder, Options, Price, Side, Symbol, TimeInForce};
use crate::server::spawn;

/// The instrument the tick source moves: MSFT, the default config's locate 1.
const TICK_LOCATE: u16 = 1;
/// u64 words per answered tick in the algo's stamp file.
const WORDS: usize = 6;
/// Idle turns (≈ 20 ns each) after the tick source's send during which the algo's
/// periodic response poll is held back, unless the tick is read first: ≈ 1.3 ms, far
/// more than a tick takes, and bounded so that a lost tick cannot stop the heartbeat.
const TICK_IN_FLIGHT_SPINS: u32 = 1 << 16;

/// One round: a fresh server with algo slots, the algo process, `warmup + ticks` ticks.
pub(super) fn round(
    args: &T2tArgs,
    round: u64,
    ticks: u64,
    clock: &Clock,
) -> Result<RoundOutput, Error> {
    let name = format!("tickgate-t2t-{}-{round}", std::process::id());
    let mut config = server_config(args, None);
    config.ipc.enabled = true;
    config.ipc.name.clone_from(&name);
    let directory = config.ipc.directory_path();
    let stamps = std::env::temp_dir().join(format!("{name}.stamps"));
    let base = fifo_priority();
    let server = spawn(config, true).map_err(|e| e.to_string())?;
    let threads = server.threads.clone();
    let total = args.warmup + ticks;
    let in_algo = args.tick_source == TickSource::AlgoProcess;
    let tick_every = if in_algo {
        (clock.ticks_per_s() / args.rate.max(1) as f64) as u64
    } else {
        0
    };
    let mut child = Command::new(std::env::current_exe()?)
        .args(["bench", "t2t-algo", "--directory"])
        .arg(&directory)
        .arg("--stamps")
        .arg(&stamps)
        .args(["--cpu", &args.algo_cpu.to_string()])
        .args(["--ticks", &total.to_string()])
        .args(["--warmup-orders", &args.algo_warmup.to_string()])
        .args(["--quiet", &args.quiet.to_string()])
        .args(["--tick-every", &tick_every.to_string()])
        .args(if args.ci { &["--ci"][..] } else { &[][..] })
        .stdout(Stdio::piped())
        .spawn()?;
    // The algo process and the server's spinning thread run at p (under chrt -f; the
    // child inherits this thread's policy, so it is raised only now); this thread,
    // which only waits (and, with `--tick-source thread`, sends the ticks), at p + 1
    // until the server stops. NB: were the
    // algo at p + 1 too, this thread, woken on the algo's CPU by its `ready`, would
    // wait behind it for good: the algo spins from then on.
    if let Some(p) = base {
        set_fifo(p + 1);
    }
    let ready = child
        .stdout
        .take()
        .map(|o| BufReader::new(o).lines().next().and_then(Result::ok));
    if ready.flatten().as_deref() != Some("ready") {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the algo process did not connect (see its error above)".into());
    }
    let sent = if in_algo {
        // Blocked until the algo exits (it stops by itself: after its ticks, or idle
        // limits): no periodic wake-up of this thread on the algo's CPU.
        child.wait()?;
        read_stamps(&side_path(&stamps, "late"))
            .map(|late| late.iter().map(|&t| clock.ticks_to_ns(t)).collect())
    } else {
        pin(args.tick_cpu(), "tick source");
        let sent = tick_source(&directory, args, total, clock);
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        sent
    };
    server.stop_and_join().map_err(|e| e.to_string())?;
    if let Some(p) = base {
        set_fifo(p);
    }
    let sent = sent?;
    let words = read_stamps(&stamps)?;
    let quiet = read_stamps(&side_path(&stamps, "quiet"))?;
    for path in [
        stamps.clone(),
        side_path(&stamps, "quiet"),
        side_path(&stamps, "late"),
    ] {
        let _ = std::fs::remove_file(path);
    }
    let interval_ns = 1_000_000_000 / args.rate.max(1);
    let answered: Vec<TickStamps> = words
        .chunks_exact(WORDS)
        .map(|w| TickStamps {
            publish: w[1],
            algo_recv: w[2],
            order_send: w[3],
            core_recv: w[4],
            algo_ack: w[5],
        })
        .collect();
    let recorded = answered.len().saturating_sub(args.warmup as usize);
    Ok(RoundOutput {
        ticks: answered.into_iter().skip(args.warmup as usize).collect(),
        missed: ticks.saturating_sub(recorded as u64),
        late: sent
            .iter()
            .skip(args.warmup as usize)
            .filter(|&&late| late > interval_ns)
            .count() as u64,
        threads,
        quiet: quiet
            .chunks_exact(3)
            .filter(|w| w[2] != 0)
            .map(|w| TickStamps {
                order_send: w[0],
                core_recv: w[1],
                algo_ack: w[2],
                ..TickStamps::default()
            })
            .collect(),
    })
}

fn read_stamps(path: &Path) -> Result<Vec<u64>, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("the algo's stamps {}: {e}", path.display()))?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// The tick source as a thread (`--tick-source thread`): account B1 on an algo slot
/// of its own (the server's loop turn that publishes a tick then holds shared-memory
/// work only: no TCP send of the tick source's acks in the algo's path), the ticks
/// of [`send_tick`] on a fixed schedule, sleeping in between (it never spins: it runs
/// one FIFO priority above the spinners, by default on the server's CPU); per tick
/// how late it was sent (ns).
fn tick_source(
    directory: &Path,
    args: &T2tArgs,
    total: u64,
    clock: &Clock,
) -> Result<Vec<u64>, Error> {
    // The claim is decided within a millisecond; waiting for it sleeps.
    let mut s = AlgoSession::connect(directory, "B1", "bench", 1, Duration::from_secs(5))?;
    let interval_ticks = (clock.ticks_per_s() / args.rate.max(1) as f64) as u64;
    let start = clock.now() + interval_ticks;
    let mut late = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + i * interval_ticks;
        let now = clock.now();
        if now < scheduled {
            std::thread::sleep(Duration::from_nanos(clock.ticks_to_ns(scheduled - now)));
        }
        // The previous tick's Accepted / Canceled (and a heartbeat).
        s.poll_responses(64, |_, _| {});
        let sent = clock.now();
        send_tick(&mut s, i)?;
        late.push(clock.ticks_to_ns(sent.saturating_sub(scheduled)));
    }
    s.detach();
    Ok(late)
}

/// Tick `i` of the tick source: at even ticks a resting MSFT buy (the core publishes
/// an ITCH Add Order), at odd ticks its cancel (Order Delete).
#[inline]
fn send_tick(s: &mut AlgoSession, i: u64) -> Result<(), Error> {
    let urn = (i / 2) as u32 + 1;
    let r = if i.is_multiple_of(2) {
        s.enter_order(&EnterOrder::new(
            urn,
            Side::Buy,
            100,
            Symbol::padded("MSFT"),
            Price(4_100_000),
        ))
    } else {
        s.cancel_order(&CancelOrder {
            user_ref_num: urn,
            quantity: 0,
            options: Options::NONE,
        })
    };
    r.map_err(|e| format!("the tick source's order was refused by its ring: {e:?}").into())
}

/// The tick source inside the algo process (`--tick-source algo-process`): account B1
/// on an algo slot of its own, an independent session the algo's logic never reads.
/// The algo's spinning loop asks it, while waiting for a tick, whether the next tick
/// is due (`rdtsc() >= next`, open loop: a late tick does not move the schedule), so
/// nothing sleeps or wakes on either CPU during a round. Its responses (Accepted,
/// Canceled) are drained after each answered tick, with the algo's.
struct Ticker {
    session: AlgoSession,
    /// TSC ticks between two ticks.
    every: u64,
    /// TSC when the next tick is due.
    next: u64,
    sent: u64,
    total: u64,
    /// Per tick sent, how late (TSC ticks).
    late: Vec<u64>,
}

impl Ticker {
    fn connect(directory: &Path, every: u64, total: u64) -> Result<Self, Error> {
        let session = AlgoSession::connect(directory, "B1", "bench", 1, Duration::from_secs(5))?;
        Ok(Self {
            session,
            every,
            next: u64::MAX,
            sent: 0,
            total,
            late: Vec::with_capacity(total as usize),
        })
    }

    /// Starts the schedule: the first tick is due one interval from now.
    fn start(&mut self) {
        self.next = rdtsc() + self.every;
    }

    /// Sends the next tick if it is due at `now`; whether it did.
    #[inline]
    fn send_if_due(&mut self, now: u64) -> Result<bool, Error> {
        if self.sent == self.total || now < self.next {
            return Ok(false);
        }
        send_tick(&mut self.session, self.sent)?;
        self.late.push(now - self.next);
        self.sent += 1;
        self.next += self.every;
        Ok(true)
    }

    /// All ticks sent, the last one more than an interval ago: a tick still
    /// unanswered now was missed.
    fn over(&self, now: u64) -> bool {
        self.sent == self.total && now > self.next
    }

    /// Drains the tick session's responses (and proves its liveness).
    fn poll_responses(&mut self) {
        self.session.poll_responses(64, |_, _| {});
    }

    /// Detaches the tick session; per tick sent, how late (TSC ticks).
    fn finish(self) -> Vec<u64> {
        self.session.detach();
        self.late
    }
}

/// The benchmark algo's order, encoded once: each send copies its bytes into the
/// order ring's slot and patches the UserRefNum (`AlgoSession::send_with`, the API's
/// zero-copy path), as a latency-minded algo keeps its order templates. Encoding the
/// `EnterOrder` per send put `order_to_core` ≈ 10 ns higher (docs/LATENCY.md § The
/// arrival stamp, and ratios by round).
pub(super) struct PreparedOrder {
    bytes: [u8; 64],
    len: usize,
    /// The UserRefNum the next send carries.
    pub user_ref_num: u32,
}

impl PreparedOrder {
    pub(super) fn new(order: &EnterOrder) -> Self {
        let mut bytes = [0; 64];
        let len = order
            .encode(&mut bytes)
            .expect("an Enter Order without options fits");
        Self {
            bytes,
            len,
            user_ref_num: order.user_ref_num,
        }
    }

    /// Writes the order, with `user_ref_num`, into `s`'s order ring.
    #[inline]
    pub(super) fn send(&self, s: &mut AlgoSession) -> Result<(), SendError> {
        s.send_with(self.len, |buf| self.write(buf))
    }

    /// The message with `user_ref_num` into `buf` (exactly its length).
    #[inline]
    fn write(&self, buf: &mut [u8]) {
        buf.copy_from_slice(&self.bytes[..self.len]);
        // Enter Order: the type, then the UserRefNum (OUCH 5.0).
        buf[1..5].copy_from_slice(&self.user_ref_num.to_be_bytes());
    }
}

/// Options of the hidden `tickgate bench t2t-algo` (the benchmark's algo process).
#[derive(Debug, Clone, clap::Args)]
pub struct T2tAlgoArgs {
    /// The server's session directory.
    #[arg(long)]
    pub directory: PathBuf,
    /// Where to write the stamps of each answered tick (6 × u64 LE).
    #[arg(long)]
    pub stamps: PathBuf,
    /// CPU to pin to.
    #[arg(long, default_value_t = 0)]
    pub cpu: usize,
    /// Ticks to answer before exiting.
    #[arg(long)]
    pub ticks: u64,
    /// Unrecorded closed-loop order → ack round trips before announcing `ready`
    /// (warms the fresh server's session, order map, core and rings on the same path
    /// as the recorded orders).
    #[arg(long, default_value_t = 0)]
    pub warmup_orders: u64,
    /// Closed-loop order → ack round trips after the ticks, with no tick traffic
    /// (written to `<stamps>.quiet`, 3 × u64 LE each: send, server read, ack read).
    #[arg(long, default_value_t = 0)]
    pub quiet: u64,
    /// Also be the tick source: a second session (account B1) sending one of `ticks`
    /// ticks every this many TSC ticks from the algo's spinning loop; how late each
    /// was sent goes to `<stamps>.late` (u64 LE TSC ticks). 0 = the ticks come from
    /// elsewhere.
    #[arg(long, default_value_t = 0)]
    pub tick_every: u64,
    /// Yield instead of spinning.
    #[arg(long)]
    pub ci: bool,
}

/// The algo process: answers each MSFT tick with one order, stamps, exits after
/// `ticks` answers or 3 s without a tick.
pub fn run_algo(args: &T2tAlgoArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let mut s = AlgoSession::connect(&args.directory, "B0", "bench", 1, Duration::from_secs(5))?;
    let board = BoardReader::open(&board_path(&args.directory))?;
    let session = s.session() as usize;
    pin(args.cpu, "algo");
    let mut order = PreparedOrder::new(&EnterOrder {
        time_in_force: TimeInForce::Ioc,
        ..EnterOrder::new(0, Side::Buy, 100, Symbol::padded("AAPL"), Price(1_800_000))
    });
    let mut out = Vec::with_capacity(args.ticks as usize * WORDS);
    let idle_limit = Clock::calibrate(Duration::from_millis(20)).ticks_per_s() as u64 * 3;
    let mut ticker = match args.tick_every {
        0 => None,
        every => Some(Ticker::connect(&args.directory, every, args.ticks)?),
    };
    warm_up(&mut s, &mut order, args, idle_limit)?;
    let mut last_arrival = board.last_order(session).1;
    // Start from the newest message: only ticks sent from now on count.
    while s.poll_market_data(1024, |_, _| {}).map_or(true, |n| n > 0) {}
    println!("ready");
    std::io::stdout().flush()?;
    if let Some(t) = ticker.as_mut() {
        t.start();
    }
    let mut last_tick = rdtsc();
    let mut spins = 0u32;
    // Idle turns left in which the periodic poll waits for the tick just sent.
    let mut in_flight_spins = 0u32;
    while (out.len() / WORDS) < args.ticks as usize {
        // NB: one TSC read per idle turn, as before the tick source moved in here:
        // the idle limit's and the tick schedule's.
        let now = rdtsc();
        if now - last_tick >= idle_limit {
            break;
        }
        let mut tick = None;
        let _ = s.poll_market_data(1, |seq, itch| {
            let locate = itch.get(1..3).map(|b| u16::from_be_bytes([b[0], b[1]]));
            if matches!(itch.first(), Some(b'A' | b'D')) && locate == Some(TICK_LOCATE) {
                tick = Some(seq);
            }
        });
        let Some(seq) = tick else {
            if let Some(t) = ticker.as_mut() {
                if t.send_if_due(now)? {
                    in_flight_spins = TICK_IN_FLIGHT_SPINS;
                    continue;
                }
                if t.over(now) {
                    break;
                }
            }
            // NB: while waiting for a tick only the market-data line is polled; the
            // response rings were drained right after the last tick (below), so the
            // poll every 256th turn is the heartbeat (liveness) and finds nothing new:
            // lines this CPU holds. It used to be where the previous IOC's Canceled and
            // the tick source's answers were read, a cross-core miss or two (≈ 100–300
            // ns) once every ≈ 5 µs: a tick published meanwhile was read late (2.6% of
            // ticks; their `tick_to_algo` p50 312 against 158 ns). From the tick
            // source's send until the tick is read it is skipped too: the server is
            // writing the tick source's answer then, the one line it would miss on.
            spins = spins.wrapping_add(1);
            in_flight_spins = in_flight_spins.saturating_sub(1);
            if spins.is_multiple_of(256) && in_flight_spins == 0 {
                s.poll_responses(16, |_, _| {});
                if let Some(t) = ticker.as_mut() {
                    t.poll_responses();
                }
            }
            if args.ci {
                std::thread::yield_now();
            }
            continue;
        };
        let algo_recv = rdtsc();
        last_tick = algo_recv;
        in_flight_spins = 0;
        order.user_ref_num += 1;
        let order_send = rdtsc();
        loop {
            match order.send(&mut s) {
                Ok(()) => break,
                Err(SendError::Full) => std::hint::spin_loop(),
                Err(e) => return Err(format!("order refused by the ring: {e:?}").into()),
            }
        }
        let algo_ack = await_accepted(&mut s, args.ci, idle_limit);
        let (publish, core_recv) = await_board(&board, session, last_arrival, idle_limit);
        last_arrival = last_arrival.max(core_recv);
        out.extend_from_slice(&[seq, publish, algo_recv, order_send, core_recv, algo_ack]);
        // Housekeeping after the trade, as a real algo does it: the IOC's Canceled
        // (answered in the same turn as its Accepted, so here by now) and the tick
        // source's answers to this tick, which the server wrote before the publish.
        s.poll_responses(16, |_, _| {});
        if let Some(t) = ticker.as_mut() {
            t.poll_responses();
        }
    }
    // The tick session leaves before the quiet round trips, as the tick thread does.
    if let Some(t) = ticker {
        let late: Vec<u8> = t.finish().iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(side_path(&args.stamps, "late"), late)?;
    }
    let quiet = quiet_round_trips(&mut s, &mut order, args, idle_limit, &board, last_arrival);
    let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(&args.stamps, bytes)?;
    let bytes: Vec<u8> = quiet.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(side_path(&args.stamps, "quiet"), bytes)?;
    s.detach();
    Ok(std::process::ExitCode::SUCCESS)
}

/// `args.warmup_orders` unrecorded round trips of the recorded order, one at a time,
/// before any tick: a fresh server's first orders touch cold pages (order map,
/// stream store, rings) and cold caches. No tick is being sent meanwhile (the tick
/// source starts after `ready`: a thread waits for it, blocked in a read), so
/// nothing is starved.
fn warm_up(
    s: &mut AlgoSession,
    order: &mut PreparedOrder,
    args: &T2tAlgoArgs,
    limit: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..args.warmup_orders {
        order.user_ref_num += 1;
        loop {
            match order.send(s) {
                Ok(()) => break,
                Err(SendError::Full) => std::hint::spin_loop(),
                Err(e) => return Err(format!("order refused by the ring: {e:?}").into()),
            }
        }
        if await_accepted(s, args.ci, limit) == 0 {
            return Err("warm-up: no Order Accepted within the idle limit".into());
        }
    }
    // The last IOC's Order Canceled.
    let t = rdtsc();
    while rdtsc() - t < limit / 30_000 {
        s.poll_responses(16, |_, _| {});
    }
    Ok(())
}

/// `<stamps>.<what>`: `quiet`, the closed-loop round trips' (send, server read, ack
/// read); `late`, how late each tick of the algo process's tick source was sent.
fn side_path(stamps: &Path, what: &str) -> PathBuf {
    let mut p = stamps.as_os_str().to_owned();
    p.push(".");
    p.push(what);
    PathBuf::from(p)
}

/// `args.quiet` order → ack round trips, one at a time, once the ticks are over: the
/// same order and path with no TCP work in the server's loop.
fn quiet_round_trips(
    s: &mut AlgoSession,
    order: &mut PreparedOrder,
    args: &T2tAlgoArgs,
    limit: u64,
    board: &BoardReader,
    mut last_arrival: u64,
) -> Vec<u64> {
    let session = s.session() as usize;
    let mut out = Vec::with_capacity(args.quiet as usize * 3);
    for _ in 0..args.quiet {
        // Let the previous IOC's Order Canceled arrive first.
        let t = rdtsc();
        while rdtsc() - t < limit / 300_000 {
            s.poll_responses(16, |_, _| {});
        }
        order.user_ref_num += 1;
        let send = rdtsc();
        if order.send(s).is_err() {
            continue;
        }
        let ack = await_accepted(s, args.ci, limit);
        // The order still names the last tick read: the board stamps its arrival.
        let (_, arrival) = await_board(board, session, last_arrival, limit);
        last_arrival = last_arrival.max(arrival);
        out.extend_from_slice(&[send, arrival, ack]);
    }
    out
}

/// The board's (publish, arrival) pair of the order just answered. The server
/// records it after writing its poll's answers to the response rings, so it can land
/// a moment after the ack: spins until the arrival moves past `previous` ((0, 0) if
/// it does not within `limit` TSC ticks: the stages that need it skip the tick).
fn await_board(board: &BoardReader, session: usize, previous: u64, limit: u64) -> (u64, u64) {
    let start = rdtsc();
    loop {
        let (publish, arrival) = board.last_order(session);
        if arrival > previous {
            return (publish, arrival);
        }
        if rdtsc() - start > limit {
            return (0, 0);
        }
        std::hint::spin_loop();
    }
}

/// Spins until an Order Accepted is read; its TSC (0 if none within `limit` ticks).
///
/// The stamp is taken as the Accepted is handed to the algo (in the poll's callback),
/// not after the poll returns: the poll goes on to look at the next response slot,
/// where the server is by then writing the IOC's Canceled, and that line's transfer
/// is not the ack's (stamped after the poll, `ack_rtt` p50 was ≈ 24 ns higher in
/// paired rounds: docs/LATENCY.md § The ack's stamp).
///
/// NB: forced inline. Once `echo.rs` called it too, the compiler stopped inlining it
/// into the algo's tick loop, and `core_to_ack` at a tick measured ≈ 100 ns longer
/// (557/550/575 against 497/442/451 ns, interleaved, session 8): after 500 µs of
/// waiting for a tick, an out-of-line wait loop is cold code on the algo's side of the
/// stage. Inline, it sits with the polling loop that stays warm.
#[inline(always)]
pub(super) fn await_accepted(s: &mut AlgoSession, ci: bool, limit: u64) -> u64 {
    let start = rdtsc();
    loop {
        let mut accepted = 0;
        s.poll_responses(16, |_, msg| {
            if accepted == 0 && msg.first() == Some(&b'A') {
                accepted = rdtsc();
            }
        });
        if accepted != 0 {
            return accepted;
        }
        if rdtsc() - start > limit {
            return 0;
        }
        if ci {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_order_is_the_enter_order_with_its_user_ref_num() {
        let order = EnterOrder {
            time_in_force: TimeInForce::Ioc,
            ..EnterOrder::new(0, Side::Buy, 100, Symbol::padded("AAPL"), Price(1_800_000))
        };
        let mut p = PreparedOrder::new(&order);
        for urn in [1, 0x0102_0304, u32::MAX] {
            p.user_ref_num = urn;
            let mut sent = vec![0; order.encoded_len()];
            p.write(&mut sent);
            let mut expected = vec![0; order.encoded_len()];
            EnterOrder {
                user_ref_num: urn,
                ..order
            }
            .encode(&mut expected)
            .unwrap();
            assert_eq!(sent, expected);
        }
    }
}
