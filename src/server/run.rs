//! Building the agents and running them on their threads.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{CORE_GATE_FREE_RECORDS, DRAIN_TIMEOUT};
use crate::affinity::{BusySpin, Idle, IdleKind, Parker, SpinThenPark, SpinThenYield};
use crate::config::{Config, ThreadingMode};
use crate::engine::core::{ControlReplies, Core, CoreStats, OutputFull, SessionOutput};
use crate::engine::{Engine, MD_RECORD_BYTES, OrderEvent, RECORD_BYTES};
use crate::gateway::{Gateway, GatewayOptions};
use crate::journal::JournalWriter;
use crate::md::{ItchMarketOutput, Publisher, PublisherStats, Symbols};
use crate::proto::wire::Alpha;
use crate::ring::shm::Layout;
use crate::ring::spsc;
use crate::risk::RiskCore;
use crate::session::{INPUT_RECORD_BYTES, SessionCounters, Sessions};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A server running on its own threads (what `tickgate serve`, tests and the
/// benchmark start).
#[derive(Debug)]
pub struct Running {
    /// Where the gateway listens.
    pub addr: SocketAddr,
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
    gateway: Option<JoinHandle<Result<Finished, String>>>,
    core: Option<JoinHandle<CoreStats>>,
    housekeeping: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<PublisherStats>>,
    control: Option<JoinHandle<()>>,
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
    /// Whether the server thread has exited on its own (e.g. a fatal error).
    pub fn finished(&self) -> bool {
        self.gateway.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Stops accepting, sends End of Session, drains, and joins every thread.
    pub fn stop_and_join(mut self) -> Result<Finished, Error> {
        self.stop.store(true, Ordering::Release);
        let mut finished = match self.gateway.take().map(|h| h.join()) {
            Some(Ok(Ok(f))) => f,
            Some(Ok(Err(e))) => return Err(e.into()),
            _ => return Err("the gateway thread panicked".into()),
        };
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
        self.core_stop.store(true, Ordering::Release);
        if let Some(h) = self.gateway.take() {
            let _ = h.join();
        }
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
struct SharedResponses(Rc<RefCell<spsc::Producer>>);

impl SessionOutput for SharedResponses {
    #[inline]
    fn try_send(&mut self, event: &OrderEvent) -> Result<(), OutputFull> {
        let mut ring = self.0.borrow_mut();
        ring.try_write(RECORD_BYTES, |buf| {
            event.encode_into(buf);
        })
        .map_err(|_| OutputFull)?;
        ring.prefetch_next();
        Ok(())
    }
}

type ServeCore = Core<spsc::Consumer, SharedResponses, ItchMarketOutput, RiskCore>;

/// The rings between the gateway and the core, and the control channel's ring.
struct Rings {
    cmd_tx: spsc::Producer,
    cmd_rx: spsc::Consumer,
    resp_tx: spsc::Producer,
    resp_rx: spsc::Consumer,
    ctl_tx: spsc::Producer,
    ctl_rx: spsc::Consumer,
}

fn rings(config: &Config) -> Result<Rings, Error> {
    let layout = |capacity: usize, record: usize| Layout {
        capacity,
        slot_bytes: (record + spsc::SLOT_HEADER_BYTES).next_multiple_of(64),
    };
    let g = &config.gateway;
    let (cmd_tx, cmd_rx) = spsc::channel(layout(g.command_ring_records, INPUT_RECORD_BYTES))
        .map_err(|e| format!("gateway.command_ring_records: {e:?}"))?;
    let (resp_tx, resp_rx) = spsc::channel(layout(g.response_ring_records, RECORD_BYTES))
        .map_err(|e| format!("gateway.response_ring_records: {e:?}"))?;
    let (ctl_tx, ctl_rx) = spsc::channel(layout(
        super::control::CONTROL_RING_RECORDS,
        INPUT_RECORD_BYTES,
    ))
    .map_err(|e| format!("control ring: {e:?}"))?;
    if g.response_ring_records < 2 * CORE_GATE_FREE_RECORDS {
        return Err(format!(
            "gateway.response_ring_records must be at least {}",
            2 * CORE_GATE_FREE_RECORDS
        )
        .into());
    }
    Ok(Rings {
        cmd_tx,
        cmd_rx,
        resp_tx,
        resp_rx,
        ctl_tx,
        ctl_rx,
    })
}

/// What the core is built from, moved to the thread that runs it.
struct CoreParts {
    risk: RiskCore,
    /// The gateway's command ring, then the control channel's.
    inputs: Vec<spsc::Consumer>,
    resp_tx: spsc::Producer,
    sessions: usize,
    drain_limit: usize,
    journal: Option<JournalWriter>,
    market: ItchMarketOutput,
    replies: Arc<ControlReplies>,
}

/// Assembles the core on the thread that will run it (its outputs are `Rc`s).
fn build_core(p: CoreParts) -> Result<(ServeCore, Rc<RefCell<spsc::Producer>>), Error> {
    let shared = Rc::new(RefCell::new(p.resp_tx));
    let outputs = (0..p.sessions)
        .map(|_| SharedResponses(shared.clone()))
        .collect();
    let mut core = Core::new(p.risk, p.inputs, outputs, p.market, p.drain_limit)
        .map_err(|e| e.to_string())?
        .with_control_replies(p.replies);
    if let Some(writer) = p.journal {
        core = core.with_journal(writer);
    }
    Ok((core, shared))
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
    let market = ItchMarketOutput::new(ring, Symbols::from_instruments(engine.instruments()));
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
enum AnyIdle {
    Spin(BusySpin),
    Yield(SpinThenYield),
    Park(SpinThenPark<'static>),
}

static PARKER: Parker = Parker::new();

impl AnyIdle {
    fn new(kind: IdleKind) -> Self {
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

    fn idle(&mut self, work: usize) {
        match self {
            Self::Spin(i) => i.idle(work, || false),
            Self::Yield(i) => i.idle(work, || false),
            Self::Park(i) => i.idle(work, || false),
        }
    }
}

fn pin(cpu: usize, what: &str) {
    if let Err(e) = crate::affinity::pin_current_thread(cpu) {
        eprintln!("tickgate: {what} not pinned to CPU {cpu}: {e}");
    }
}

fn gateway_options(config: &Config) -> GatewayOptions {
    let g = &config.gateway;
    GatewayOptions {
        bind: g.listen,
        max_connections: g.max_connections,
        max_outbound_bytes_per_conn: g.max_outbound_bytes_per_conn,
        log_connections: g.log_events,
        ..GatewayOptions::default()
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

/// [`spawn`] with every start-up option.
pub fn spawn_with(config: Config, opts: StartOptions) -> Result<Running, Error> {
    let flags = Flags {
        stop: Arc::new(AtomicBool::new(false)),
        core_stop: Arc::new(AtomicBool::new(false)),
        md_stop: Arc::new(AtomicBool::new(false)),
        fatal: Arc::new(AtomicBool::new(false)),
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let t = &config.threads;
    let threads = match t.mode {
        ThreadingMode::Shared => format!("shared (gateway + core on CPU {})", t.gateway_cpus[0]),
        ThreadingMode::Dedicated => format!(
            "dedicated (gateway on CPU {}, core on CPU {})",
            t.gateway_cpus[0], t.core_cpu
        ),
    };
    let flags2 = flags.clone();
    let (helpers_tx, helpers_rx) = mpsc::channel();
    let gateway = std::thread::Builder::new()
        .name("tickgate-gw".into())
        .spawn(move || serve_thread(config, opts, flags2, ready_tx, helpers_tx))?;
    let (addr, session_name) = match ready_rx.recv() {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            let _ = gateway.join();
            return Err(e.into());
        }
        Err(_) => return Err("the server thread exited during start-up".into()),
    };
    let helpers: Helpers = helpers_rx.recv().unwrap_or_default();
    Ok(Running {
        addr,
        session_name,
        threads,
        stop: flags.stop,
        core_stop: flags.core_stop,
        md_stop: flags.md_stop,
        fatal: flags.fatal,
        gateway: Some(gateway),
        core: helpers.core,
        housekeeping: helpers.housekeeping,
        publisher: helpers.publisher,
        control: helpers.control,
    })
}

type Ready = Result<(SocketAddr, Alpha<10>), String>;

/// The stop flags shared by the threads.
#[derive(Clone)]
struct Flags {
    /// Stop the gateway (End of Session, drain).
    stop: Arc<AtomicBool>,
    /// Stop the core and housekeeping (after the gateway).
    core_stop: Arc<AtomicBool>,
    /// Stop the market-data publisher (after the core).
    md_stop: Arc<AtomicBool>,
    /// The journal failed: stop the gateway too.
    fatal: Arc<AtomicBool>,
}

/// The threads the serve thread starts besides itself.
#[derive(Default)]
struct Helpers {
    core: Option<JoinHandle<CoreStats>>,
    housekeeping: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<PublisherStats>>,
    control: Option<JoinHandle<()>>,
}

fn serve_thread(
    config: Config,
    opts: StartOptions,
    flags: Flags,
    ready: mpsc::Sender<Ready>,
    helpers_tx: mpsc::Sender<Helpers>,
) -> Result<Finished, String> {
    let setup = || -> Result<_, Error> {
        let mut risk = RiskCore::from_config(&config)?;
        let r = rings(&config)?;
        let gw = gateway_options(&config);
        let mut sessions = Sessions::new(
            &config,
            risk.engine(),
            gw.max_connections,
            r.cmd_tx,
            r.resp_rx,
        )
        .map_err(|e| e.0)?;
        let journal = super::recover::recover(
            &config,
            &mut risk,
            &mut sessions,
            opts.truncate_journal_at_corruption,
        )?;
        super::algos::attach(&config, &mut sessions)?;
        let control = match config.admin_socket() {
            Some(path) => Some(super::control::ControlChannel {
                listener: super::control::bind(&path)?,
                path,
                commands: r.ctl_tx,
                replies: Arc::new(ControlReplies::default()),
                accounts: config.accounts.iter().map(|a| a.username.clone()).collect(),
            }),
            None => None,
        };
        let gateway = Gateway::new(gw, sessions)?;
        Ok((
            risk,
            vec![r.cmd_rx, r.ctl_rx],
            r.resp_tx,
            gateway,
            journal,
            control,
        ))
    };
    let (risk, inputs, resp_tx, mut gateway, journal, control) = match setup() {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            let _ = helpers_tx.send(Helpers::default());
            return Err(e.to_string());
        }
    };
    let t = config.threads.clone();
    let mut helpers = Helpers::default();
    let writer = match journal {
        Some(j) => {
            let cpu = t
                .housekeeping_cpus
                .first()
                .copied()
                .filter(|_| opts.pin_threads);
            let hk = super::recover::spawn_housekeeping(
                j.preparer,
                j.flusher,
                config.journal.durability,
                cpu,
                flags.core_stop.clone(),
            )
            .map_err(|e| e.to_string())?;
            helpers.housekeeping = Some(hk);
            Some(j.writer)
        }
        None => None,
    };
    let replies = match control {
        Some(ch) => {
            let replies = ch.replies.clone();
            let cpu = t
                .housekeeping_cpus
                .first()
                .copied()
                .filter(|_| opts.pin_threads);
            let stop = flags.core_stop.clone();
            helpers.control =
                Some(super::control::spawn(ch, cpu, stop).map_err(|e| e.to_string())?);
            replies
        }
        None => Arc::new(ControlReplies::default()),
    };
    let name = gateway.handler().session_name();
    let md = market_data(
        &config,
        risk.engine(),
        name,
        opts.pin_threads,
        flags.md_stop.clone(),
    );
    let market = match md {
        Ok((market, publisher)) => {
            helpers.publisher = publisher;
            market
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            flags.core_stop.store(true, Ordering::Release);
            let _ = helpers_tx.send(helpers);
            return Err(e.to_string());
        }
    };
    let parts = CoreParts {
        risk,
        inputs,
        resp_tx,
        sessions: config.accounts.len(),
        drain_limit: config.engine.drain_limit as usize,
        journal: writer,
        market,
        replies,
    };
    if opts.pin_threads {
        pin(t.gateway_cpus[0], "gateway thread");
    }
    let mut idle = AnyIdle::new(t.idle);
    let board = tick_to_trade_board(&config);
    let _ = ready.send(Ok((gateway.local_addr(), name)));
    let mut finished = Finished {
        sessions: SessionCounters::default(),
        core: CoreStats::default(),
        journal_failed: false,
    };
    match t.mode {
        ThreadingMode::Shared => {
            let _ = helpers_tx.send(helpers);
            let (core, gate) = build_core(parts).map_err(|e| e.to_string())?;
            let core = Rc::new(RefCell::new(core));
            if let Some(board) = board {
                let market = core.clone();
                let publish_tsc =
                    move |md_seq| market.try_borrow().ok()?.market().publish_tsc(md_seq);
                let hook = crate::ipc::latency::order_hook(board, publish_tsc);
                gateway.handler_mut().set_algo_order_hook(hook);
            }
            let inline = core.clone();
            let fatal = flags.fatal.clone();
            gateway.handler_mut().set_inline_agent(Box::new(move || {
                run_core(&mut inline.borrow_mut(), &gate, &fatal)
            }));
            gateway_loop(&mut gateway, &mut || 0, &flags, &mut idle);
            finished.core = core.borrow().stats();
        }
        ThreadingMode::Dedicated => {
            let (core_cpu, kind, pin_threads) = (t.core_cpu, t.idle, opts.pin_threads);
            let core_flags = flags.clone();
            let core_thread = std::thread::Builder::new()
                .name("tickgate-core".into())
                .spawn(move || {
                    if pin_threads {
                        pin(core_cpu, "core thread");
                    }
                    let built = build_core(parts);
                    let Ok((mut core, _)) = built else {
                        return CoreStats::default();
                    };
                    let mut idle = AnyIdle::new(kind);
                    while !core_flags.core_stop.load(Ordering::Acquire) {
                        // Held or spilled events wait for the flusher or the gateway,
                        // not for input: never sleep on them.
                        let w = core.do_work() + usize::from(core.has_pending());
                        check_journal(&core, &core_flags.fatal);
                        idle.idle(w);
                    }
                    core.stats()
                })
                .map_err(|e| e.to_string())?;
            helpers.core = Some(core_thread);
            let _ = helpers_tx.send(helpers);
            let mut no_core = || 0;
            gateway_loop(&mut gateway, &mut no_core, &flags, &mut idle);
        }
    }
    finished.sessions = gateway.handler().counters();
    Ok(finished)
}

/// With `[ipc]` in shared threading: the latency board (`tickgate latency`), fed by
/// the session layer's algo-order hook, which looks the trigger tick's publish TSC up
/// in the core's market output (same thread). Not in dedicated mode yet: the publish
/// TSCs live on the core's thread.
fn tick_to_trade_board(config: &Config) -> Option<crate::ipc::latency::LatencyBoard> {
    if !config.ipc.enabled || config.threads.mode != ThreadingMode::Shared {
        return None;
    }
    crate::ipc::latency::LatencyBoard::create_for_serve(config)
        .map_err(|e| eprintln!("tickgate: no tick-to-trade board (tickgate latency): {e}"))
        .ok()
}

/// Raises `fatal` (once, with one log line) when the journal has stopped the core.
fn check_journal(core: &ServeCore, fatal: &AtomicBool) {
    if let Some(why) = core.journal_failure()
        && !fatal.swap(true, Ordering::AcqRel)
    {
        eprintln!("tickgate: FATAL: the journal refused an append ({why}); stopping");
    }
}

/// Runs core rounds while the response ring has room for one more round's events.
fn run_core(core: &mut ServeCore, gate: &RefCell<spsc::Producer>, fatal: &AtomicBool) -> usize {
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

/// The gateway's duty cycle (plus `other`, the core in shared mode) until `stop`,
/// then End of Session, drain and shutdown.
fn gateway_loop(
    gateway: &mut Gateway<Sessions>,
    other: &mut dyn FnMut() -> usize,
    flags: &Flags,
    idle: &mut AnyIdle,
) {
    let mut deadline: Option<Instant> = None;
    loop {
        let work = gateway.do_work() + other();
        if flags.fatal.load(Ordering::Relaxed) {
            // Not End of Session: the day goes on after a restart; clients reconnect.
            break;
        }
        if deadline.is_none() && flags.stop.load(Ordering::Acquire) {
            gateway.handler_mut().end_session();
            deadline = Some(Instant::now() + DRAIN_TIMEOUT);
        }
        if let Some(d) = deadline {
            let drained = gateway.handler().ended() && gateway.open_connections() == 0;
            if drained || Instant::now() > d {
                break;
            }
        }
        idle.idle(work);
    }
    gateway.shutdown();
}
