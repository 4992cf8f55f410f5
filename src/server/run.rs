//! Building the agents and running them on their threads.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::CORE_GATE_FREE_RECORDS;
use super::gateways::{ReplayRoute, Setup, ThreadFinished, ThreadParts};
use crate::affinity::{BusySpin, Idle, IdleKind, Parker, SpinThenPark, SpinThenYield};
use crate::config::{Config, ThreadingMode};
use crate::engine::core::{ControlReplies, Core, CoreStats, OutputFull, SessionOutput};
use crate::engine::{Engine, Instrument, MD_RECORD_BYTES, OrderEvent, RECORD_BYTES};
use crate::journal::JournalWriter;
use crate::md::itch::ITCH_PER_COMMAND;
use crate::md::{ItchMarketOutput, Publisher, PublisherStats, Symbols};
use crate::proto::wire::Alpha;
use crate::ring::shm::Layout;
use crate::ring::spsc;
use crate::risk::RiskCore;
use crate::session::{INPUT_RECORD_BYTES, SessionCounters};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A server running on its own threads (what `tickgate serve`, tests and the
/// benchmark start).
#[derive(Debug)]
pub struct Running {
    /// Where gateway thread 0 listens.
    pub addr: SocketAddr,
    /// Where each gateway thread listens (`gateway.listen` port + its index).
    pub addrs: Vec<SocketAddr>,
    /// The SoupBinTCP session name of the day.
    pub session_name: Alpha<10>,
    /// The threading mode and CPUs, for the start-up line and reports.
    pub threads: String,
    stop: Arc<AtomicBool>,
    core_stop: Arc<AtomicBool>,
    /// Set when the core stopped taking input because the journal failed.
    fatal: Arc<AtomicBool>,
    /// Stop the market-data publisher (after the core).
    md_stop: Arc<AtomicBool>,
    gateways: Vec<JoinHandle<Result<ThreadFinished, String>>>,
    core: Option<JoinHandle<CoreStats>>,
    housekeeping: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<PublisherStats>>,
    control: Option<JoinHandle<()>>,
    /// The journal directory's lock: declared last, so it is released only after
    /// `Drop` has joined every thread (a second server must not open a journal
    /// that is still being written).
    _journal_lock: Option<super::recover::DirLock>,
}

/// What a stopped server reports.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    /// The session layer's counters.
    pub sessions: SessionCounters,
    /// The core loop's counters.
    pub core: CoreStats,
    /// The journal refused an append and the server stopped (fail-stop).
    pub journal_failed: bool,
}

/// How to start: what `tickgate serve`'s flags add to the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Pin the threads to the configuration's CPUs (failures are logged, not fatal).
    pub pin_threads: bool,
    /// Recovery: drop a corrupt journal record and everything after it instead of
    /// refusing to start (`--truncate-journal-at-corruption`).
    pub truncate_journal_at_corruption: bool,
}

impl Running {
    /// Whether a gateway thread has exited on its own (e.g. a fatal error).
    pub fn finished(&self) -> bool {
        self.gateways.iter().any(|h| h.is_finished())
    }

    /// Stops accepting, sends End of Session, drains, and joins every thread.
    pub fn stop_and_join(mut self) -> Result<Finished, Error> {
        self.stop.store(true, Ordering::Release);
        let mut finished = Finished {
            sessions: SessionCounters::default(),
            core: CoreStats::default(),
            journal_failed: false,
        };
        let mut failure: Option<Error> = None;
        for h in self.gateways.drain(..) {
            match h.join() {
                Ok(Ok(f)) => {
                    finished.sessions += f.sessions;
                    if let Some(core) = f.core {
                        finished.core = core;
                    }
                }
                Ok(Err(e)) => failure = failure.or(Some(e.into())),
                Err(_) => failure = failure.or(Some("a gateway thread panicked".into())),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.core_stop.store(true, Ordering::Release);
        if let Some(h) = self.core.take() {
            finished.core = h.join().map_err(|_| "the core thread panicked")?;
        }
        self.md_stop.store(true, Ordering::Release);
        if let Some(h) = self.publisher.take() {
            h.join().map_err(|_| "the market-data thread panicked")?;
        }
        if let Some(h) = self.housekeeping.take() {
            h.join().map_err(|_| "the housekeeping thread panicked")?;
        }
        if let Some(h) = self.control.take() {
            h.join().map_err(|_| "the control thread panicked")?;
        }
        finished.journal_failed = self.fatal.load(Ordering::Acquire);
        Ok(finished)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for h in self.gateways.drain(..) {
            let _ = h.join();
        }
        self.core_stop.store(true, Ordering::Release);
        if let Some(h) = self.core.take() {
            let _ = h.join();
        }
        self.md_stop.store(true, Ordering::Release);
        if let Some(h) = self.publisher.take() {
            let _ = h.join();
        }
        if let Some(h) = self.housekeeping.take() {
            let _ = h.join();
        }
        if let Some(h) = self.control.take() {
            let _ = h.join();
        }
    }
}

/// The response ring's producer, shared by every session's output of one core (all
/// sessions of a gateway thread go to that thread's ring).
#[derive(Clone)]
pub(super) struct SharedResponses(Rc<RefCell<spsc::Producer>>);

impl SessionOutput for SharedResponses {
    #[inline(always)]
    fn try_send(&mut self, event: &OrderEvent) -> Result<(), OutputFull> {
        let mut ring = self.0.borrow_mut();
        // The ring's own output (`engine::core`): encodes in place, no closure.
        SessionOutput::try_send(&mut *ring, event)?;
        ring.prefetch_next();
        Ok(())
    }
}

impl SharedResponses {
    /// Hints the CPU to fetch, for writing, the slot the next event goes to (the warm
    /// pass: `super::warm`).
    #[inline]
    pub(super) fn prefetch_next(&self) {
        if let Ok(ring) = self.0.try_borrow() {
            ring.prefetch_next();
        }
    }
}

pub(super) type ServeCore = Core<spsc::Consumer, SharedResponses, ItchMarketOutput, RiskCore>;

/// The rings between the gateway threads and the core (a command ring and a response
/// ring per thread), and the control channel's ring.
struct Rings {
    cmd_tx: Vec<spsc::Producer>,
    cmd_rx: Vec<spsc::Consumer>,
    resp_tx: Vec<spsc::Producer>,
    resp_rx: Vec<spsc::Consumer>,
    ctl_tx: spsc::Producer,
    ctl_rx: spsc::Consumer,
}

fn rings(config: &Config) -> Result<Rings, Error> {
    let layout = |capacity: usize, record: usize| Layout {
        capacity,
        slot_bytes: (record + spsc::SLOT_HEADER_BYTES).next_multiple_of(64),
    };
    let g = &config.gateway;
    if g.response_ring_records < 2 * CORE_GATE_FREE_RECORDS {
        return Err(format!(
            "gateway.response_ring_records must be at least {}",
            2 * CORE_GATE_FREE_RECORDS
        )
        .into());
    }
    let (ctl_tx, ctl_rx) = spsc::channel(layout(
        super::control::CONTROL_RING_RECORDS,
        INPUT_RECORD_BYTES,
    ))
    .map_err(|e| format!("control ring: {e:?}"))?;
    let n = config.gateway_threads();
    let mut r = Rings {
        cmd_tx: Vec::with_capacity(n),
        cmd_rx: Vec::with_capacity(n),
        resp_tx: Vec::with_capacity(n),
        resp_rx: Vec::with_capacity(n),
        ctl_tx,
        ctl_rx,
    };
    for _ in 0..n {
        let (tx, rx) = spsc::channel(layout(g.command_ring_records, INPUT_RECORD_BYTES))
            .map_err(|e| format!("gateway.command_ring_records: {e:?}"))?;
        r.cmd_tx.push(tx);
        r.cmd_rx.push(rx);
        let (tx, rx) = spsc::channel(layout(g.response_ring_records, RECORD_BYTES))
            .map_err(|e| format!("gateway.response_ring_records: {e:?}"))?;
        r.resp_tx.push(tx);
        r.resp_rx.push(rx);
    }
    Ok(r)
}

/// What the core is built from, moved to the thread that runs it.
pub(super) struct CoreParts {
    risk: RiskCore,
    /// The gateway threads' command rings, then the control channel's.
    inputs: Vec<spsc::Consumer>,
    /// The gateway threads' response rings.
    responses: Vec<spsc::Producer>,
    /// Account index → gateway thread (whose response ring gets its events).
    owners: Vec<usize>,
    drain_limit: usize,
    journal: Option<JournalWriter>,
    market: ItchMarketOutput,
    replies: Arc<ControlReplies>,
}

impl CoreParts {
    /// Per session id: whether gateway thread `thread` serves it (its events go to
    /// that thread's response ring).
    pub(super) fn sessions_of_thread(&self, thread: usize) -> Vec<bool> {
        self.owners.iter().map(|&t| t == thread).collect()
    }
}

/// Assembles the core on the thread that will run it (its outputs are `Rc`s): session
/// `s`'s output writes to the response ring of gateway thread `owners[s]`. Also
/// returns thread 0's ring, the shared mode's gate.
pub(super) fn build_core(p: CoreParts) -> Result<(ServeCore, Rc<RefCell<spsc::Producer>>), Error> {
    let rings: Vec<_> = p
        .responses
        .into_iter()
        .map(|r| Rc::new(RefCell::new(r)))
        .collect();
    let outputs = p
        .owners
        .iter()
        .map(|&thread| SharedResponses(rings[thread].clone()))
        .collect();
    let mut core = Core::new(p.risk, p.inputs, outputs, p.market, p.drain_limit)
        .map_err(|e| e.to_string())?
        .with_control_replies(p.replies);
    if let Some(writer) = p.journal {
        core = core.with_journal(writer);
    }
    Ok((core, rings[0].clone()))
}

/// The core's market-data output: ITCH 5.0 messages on a broadcast ring, and (when
/// `marketdata.enabled`) the MoldUDP64 publisher thread reading it, started before the
/// core runs so that it misses nothing.
fn market_data(
    config: &Config,
    engine: &Engine,
    session: Alpha<10>,
    pin_threads: bool,
    stop: Arc<AtomicBool>,
) -> Result<(ItchMarketOutput, Option<JoinHandle<PublisherStats>>), Error> {
    let ring = super::algos::market_ring(config, MD_RECORD_BYTES)?;
    let market = ItchMarketOutput::new(ring, Symbols::from_instruments(engine.instruments()))
        .with_staging(config.engine.drain_limit as usize * ITCH_PER_COMMAND);
    if !config.marketdata.enabled {
        return Ok((market, None));
    }
    let pc = config
        .marketdata
        .publisher_config(session)
        .map_err(|e| e.to_string())?;
    let mut publisher =
        Publisher::new(market.reader(), pc).map_err(|e| format!("market-data publisher: {e}"))?;
    let cpu = Some(config.threads.publisher_cpu).filter(|_| pin_threads);
    let handle = std::thread::Builder::new()
        .name("tickgate-md".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                pin(cpu, "market-data publisher");
            }
            let mut idle = SpinThenPark::new(&PARKER, 1_000, Duration::from_micros(200));
            publisher.run(&stop, &mut idle)
        })?;
    Ok((market, Some(handle)))
}

/// How a hot thread of `serve` idles (the config's [`IdleKind`]).
pub(super) enum AnyIdle {
    Spin(BusySpin),
    Yield(SpinThenYield),
    Park(SpinThenPark<'static>),
}

static PARKER: Parker = Parker::new();

impl AnyIdle {
    pub(super) fn new(kind: IdleKind) -> Self {
        match kind {
            IdleKind::Spin => Self::Spin(BusySpin),
            IdleKind::SpinYield => Self::Yield(SpinThenYield::new(10_000)),
            // NB: nothing unparks the serve threads (io_uring completions do not), so
            // the park is a short timed sleep: 200 µs bounds the added latency.
            IdleKind::SpinPark => Self::Park(SpinThenPark::new(
                &PARKER,
                10_000,
                Duration::from_micros(200),
            )),
        }
    }

    pub(super) fn idle(&mut self, work: usize) {
        match self {
            Self::Spin(i) => i.idle(work, || false),
            Self::Yield(i) => i.idle(work, || false),
            Self::Park(i) => i.idle(work, || false),
        }
    }
}

pub(super) fn pin(cpu: usize, what: &str) {
    if let Err(e) = crate::affinity::pin_current_thread(cpu) {
        eprintln!("tickgate: {what} not pinned to CPU {cpu}: {e}");
    }
}

/// Starts a server for `config` on new threads; returns once it listens. `pin`
/// pins the threads to the config's CPUs (failures are logged, not fatal).
pub fn spawn(config: Config, pin_threads: bool) -> Result<Running, Error> {
    spawn_with(
        config,
        StartOptions {
            pin_threads,
            ..StartOptions::default()
        },
    )
}

/// The stop flags shared by the threads.
#[derive(Clone)]
pub(super) struct Flags {
    /// Stop the gateway threads (End of Session, drain).
    pub stop: Arc<AtomicBool>,
    /// Stop the core and housekeeping (after the gateway threads).
    pub core_stop: Arc<AtomicBool>,
    /// Stop the market-data publisher (after the core).
    pub md_stop: Arc<AtomicBool>,
    /// The journal failed: stop the gateway threads too.
    pub fatal: Arc<AtomicBool>,
    /// Gateway threads still in their duty cycle.
    pub gateways_running: Arc<AtomicUsize>,
}

/// The threads the start-up starts besides the gateway threads.
#[derive(Default)]
struct Helpers {
    core: Option<JoinHandle<CoreStats>>,
    housekeeping: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<PublisherStats>>,
    control: Option<JoinHandle<()>>,
    journal_lock: Option<super::recover::DirLock>,
}

/// The threading mode and CPUs, for the start-up line and reports.
fn describe_threads(config: &Config) -> String {
    let t = &config.threads;
    let gateways = |from: usize| {
        let each = t.gateway_cpus.iter().enumerate().skip(from);
        each.map(|(i, cpu)| format!("gateway {i} on CPU {cpu}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first = t.gateway_cpus.first().copied().unwrap_or_default();
    match (t.mode, t.gateway_cpus.len()) {
        (ThreadingMode::Shared, 0 | 1) => format!("shared (gateway + core on CPU {first})"),
        (ThreadingMode::Shared, _) => {
            format!("shared (gateway 0 + core on CPU {first}, {})", gateways(1))
        }
        (ThreadingMode::Dedicated, 0 | 1) => {
            format!(
                "dedicated (gateway on CPU {first}, core on CPU {})",
                t.core_cpu
            )
        }
        (ThreadingMode::Dedicated, _) => {
            format!("dedicated ({}, core on CPU {})", gateways(0), t.core_cpu)
        }
    }
}

/// The gateway threads being started, with the channels that set them up.
struct Starting {
    handles: Vec<JoinHandle<Result<ThreadFinished, String>>>,
    setup: Vec<mpsc::SyncSender<Setup>>,
    ready: mpsc::Receiver<(usize, Result<SocketAddr, String>)>,
}

impl Starting {
    /// Abandons start-up: the threads see their setup channel close and exit.
    fn abort(self, why: Error) -> Error {
        drop(self.setup);
        for h in self.handles {
            let _ = h.join();
        }
        why
    }

    /// Waits until every thread listens; the first failure wins.
    fn addresses(&self) -> Result<Vec<SocketAddr>, Error> {
        let mut addrs = vec![None; self.handles.len()];
        for _ in 0..addrs.len() {
            match self.ready.recv() {
                Ok((i, Ok(addr))) => addrs[i] = Some(addr),
                Ok((i, Err(e))) => return Err(format!("gateway thread {i}: {e}").into()),
                Err(_) => return Err("a gateway thread exited during start-up".into()),
            }
        }
        Ok(addrs.into_iter().flatten().collect())
    }
}

/// Starts one gateway thread per `threads.gateway_cpus` entry; they build their
/// session layers and wait for the journal's replay.
fn start_gateways(
    config: &Arc<Config>,
    risk: &RiskCore,
    rings: &mut Rings,
    session_name: Alpha<10>,
    opts: StartOptions,
    flags: &Flags,
) -> Result<Starting, Error> {
    let instruments: Arc<[Instrument]> = risk.engine().instruments().into();
    let (ready_tx, ready) = mpsc::channel();
    let mut starting = Starting {
        handles: Vec::new(),
        setup: Vec::new(),
        ready,
    };
    let rings = rings.cmd_tx.drain(..).zip(rings.resp_rx.drain(..));
    for (index, (commands, responses)) in rings.enumerate() {
        let (setup_tx, setup_rx) = super::gateways::setup_channel();
        let parts = ThreadParts {
            index,
            config: config.clone(),
            instruments: instruments.clone(),
            session_name,
            commands,
            responses,
            pin_threads: opts.pin_threads,
            flags: flags.clone(),
        };
        let ready = ready_tx.clone();
        let name = match index {
            0 => "tickgate-gw".to_string(),
            i => format!("tickgate-gw{i}"),
        };
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || super::gateways::run(parts, setup_rx, ready));
        match spawned {
            Ok(h) => {
                starting.handles.push(h);
                starting.setup.push(setup_tx);
            }
            Err(e) => return Err(starting.abort(e.into())),
        }
    }
    Ok(starting)
}

/// [`spawn`] with every start-up option.
pub fn spawn_with(config: Config, opts: StartOptions) -> Result<Running, Error> {
    config.validate_gateway_threads()?;
    let config = Arc::new(config);
    let flags = Flags {
        stop: Arc::new(AtomicBool::new(false)),
        core_stop: Arc::new(AtomicBool::new(false)),
        md_stop: Arc::new(AtomicBool::new(false)),
        fatal: Arc::new(AtomicBool::new(false)),
        gateways_running: Arc::new(AtomicUsize::new(config.gateway_threads())),
    };
    let mut risk = RiskCore::from_config(&config)?;
    let mut rings = rings(&config)?;
    let session_name = crate::session::session_name();
    let starting = start_gateways(&config, &risk, &mut rings, session_name, opts, &flags)?;
    let owners = owners(&config);
    let mut route = ReplayRoute::new(&owners, &starting.setup);
    let truncate = opts.truncate_journal_at_corruption;
    let recovered = super::recover::recover(&config, &mut risk, session_name, truncate, &mut |r| {
        route.route(r)
    });
    // Without `Recovered` a thread takes the closing of its channel as the end.
    let replayed = match &recovered {
        Ok(_) => route.finish(),
        Err(_) => {
            drop(route);
            false
        }
    };
    let journal = match recovered {
        Ok(journal) if replayed => journal,
        Ok(_) => {
            // A thread stopped taking its replay: it says why.
            let why = starting
                .addresses()
                .err()
                .unwrap_or_else(|| "a gateway thread failed during recovery".into());
            return Err(starting.abort(why));
        }
        Err(e) => return Err(starting.abort(e)),
    };
    let addrs = match starting.addresses() {
        Ok(addrs) => addrs,
        Err(e) => return Err(starting.abort(e)),
    };
    let mut helpers = Helpers::default();
    let started = start_helpers(
        &config,
        risk,
        rings,
        journal,
        session_name,
        opts,
        &flags,
        &mut helpers,
    );
    let parts = match started {
        Ok(parts) => parts,
        Err(e) => {
            flags.core_stop.store(true, Ordering::Release);
            flags.md_stop.store(true, Ordering::Release);
            let e = starting.abort(e);
            helpers.join();
            return Err(e);
        }
    };
    let mut inline = None;
    match config.threads.mode {
        ThreadingMode::Shared => inline = Some(Box::new(parts)),
        ThreadingMode::Dedicated => {
            let (cpu, kind) = (config.threads.core_cpu, config.threads.idle);
            let core_flags = flags.clone();
            let pin_core = opts.pin_threads;
            let spawned = std::thread::Builder::new()
                .name("tickgate-core".into())
                .spawn(move || core_thread(parts, pin_core.then_some(cpu), kind, &core_flags));
            match spawned {
                Ok(h) => helpers.core = Some(h),
                Err(e) => {
                    flags.core_stop.store(true, Ordering::Release);
                    flags.md_stop.store(true, Ordering::Release);
                    let e = starting.abort(e.into());
                    helpers.join();
                    return Err(e);
                }
            }
        }
    }
    for setup in &starting.setup {
        // A thread that is gone reports why when joined.
        let _ = setup.send(Setup::Go(inline.take()));
    }
    Ok(Running {
        addr: addrs[0],
        addrs,
        session_name,
        threads: describe_threads(&config),
        stop: flags.stop,
        core_stop: flags.core_stop,
        md_stop: flags.md_stop,
        fatal: flags.fatal,
        gateways: starting.handles,
        core: helpers.core,
        housekeeping: helpers.housekeeping,
        publisher: helpers.publisher,
        control: helpers.control,
        _journal_lock: helpers.journal_lock,
    })
}

impl Helpers {
    /// Joins what was started (after its stop flags were raised).
    fn join(self) {
        for h in [self.housekeeping, self.control].into_iter().flatten() {
            let _ = h.join();
        }
        if let Some(h) = self.publisher {
            let _ = h.join();
        }
        if let Some(h) = self.core {
            let _ = h.join();
        }
    }
}

/// Starts the journal's housekeeping, the control channel and the market-data
/// publisher (into `helpers`), and returns what the core is built from.
#[allow(clippy::too_many_arguments)]
fn start_helpers(
    config: &Config,
    risk: RiskCore,
    mut rings: Rings,
    journal: Option<super::recover::Recovered>,
    session_name: Alpha<10>,
    opts: StartOptions,
    flags: &Flags,
    helpers: &mut Helpers,
) -> Result<CoreParts, Error> {
    let t = &config.threads;
    let hk_cpu = t
        .housekeeping_cpus
        .first()
        .copied()
        .filter(|_| opts.pin_threads);
    let writer = match journal {
        Some(j) => {
            helpers.journal_lock = Some(j.lock);
            let hk = super::recover::spawn_housekeeping(
                j.preparer,
                j.flusher,
                config.journal.durability,
                hk_cpu,
                flags.core_stop.clone(),
            )?;
            helpers.housekeeping = Some(hk);
            Some(j.writer)
        }
        None => None,
    };
    let replies = Arc::new(ControlReplies::default());
    if let Some(path) = config.admin_socket() {
        let ch = super::control::ControlChannel {
            listener: super::control::bind(&path)?,
            path,
            commands: rings.ctl_tx,
            replies: replies.clone(),
            accounts: config.accounts.iter().map(|a| a.username.clone()).collect(),
        };
        let stop = flags.core_stop.clone();
        helpers.control = Some(super::control::spawn(ch, hk_cpu, stop)?);
    }
    let (market, publisher) = market_data(
        config,
        risk.engine(),
        session_name,
        opts.pin_threads,
        flags.md_stop.clone(),
    )?;
    helpers.publisher = publisher;
    let mut inputs = std::mem::take(&mut rings.cmd_rx);
    inputs.push(rings.ctl_rx);
    Ok(CoreParts {
        risk,
        inputs,
        responses: rings.resp_tx,
        owners: owners(config),
        drain_limit: config.engine.drain_limit as usize,
        journal: writer,
        market,
        replies,
    })
}

/// Account index → the gateway thread that serves it.
fn owners(config: &Config) -> Vec<usize> {
    (0..config.accounts.len())
        .map(|i| config.account_gateway(i))
        .collect()
}

/// The dedicated core thread: rounds until `core_stop`.
fn core_thread(parts: CoreParts, cpu: Option<usize>, idle: IdleKind, flags: &Flags) -> CoreStats {
    if let Some(cpu) = cpu {
        pin(cpu, "core thread");
    }
    let Ok((mut core, _)) = build_core(parts) else {
        return CoreStats::default();
    };
    let mut idle = AnyIdle::new(idle);
    while !flags.core_stop.load(Ordering::Acquire) {
        // Held or spilled events wait for the flusher or the gateway, not for input:
        // never sleep on them.
        let w = core.do_work() + usize::from(core.has_pending());
        check_journal(&core, &flags.fatal);
        idle.idle(w);
    }
    core.stats()
}

/// With `[ipc]` in shared threading: the latency board (`tickgate latency`), fed by
/// the session layer's algo-order hook, which looks the trigger tick's publish TSC up
/// in the core's market output (same thread). Not in dedicated mode yet: the publish
/// TSCs live on the core's thread.
pub(super) fn tick_to_trade_board(config: &Config) -> Option<crate::ipc::latency::LatencyBoard> {
    if !config.ipc.enabled || config.threads.mode != ThreadingMode::Shared {
        return None;
    }
    crate::ipc::latency::LatencyBoard::create_for_serve(config)
        .map_err(|e| eprintln!("tickgate: no tick-to-trade board (tickgate latency): {e}"))
        .ok()
}

/// Raises `fatal` (once, with one log line) when the journal has stopped the core.
pub(super) fn check_journal(core: &ServeCore, fatal: &AtomicBool) {
    if let Some(why) = core.journal_failure()
        && !fatal.swap(true, Ordering::AcqRel)
    {
        eprintln!("tickgate: FATAL: the journal refused an append ({why}); stopping");
    }
}

/// Runs core rounds while the response ring has room for one more round's events.
pub(super) fn run_core(
    core: &mut ServeCore,
    gate: &RefCell<spsc::Producer>,
    fatal: &AtomicBool,
) -> usize {
    check_journal(core, fatal);
    let mut work = 0;
    for _ in 0..64 {
        if gate.borrow_mut().free_slots() < CORE_GATE_FREE_RECORDS {
            break;
        }
        let w = core.do_work();
        work += w;
        if w == 0 {
            // Held events (sync durability) count as work: the thread must not park.
            work += usize::from(core.has_pending());
            break;
        }
    }
    work
}
