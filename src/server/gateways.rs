//! `serve`'s gateway threads. Thread `i` owns one `Gateway<Sessions>` (its io_uring
//! ring and its listener on `gateway.listen` port + `i`), its command ring to the core
//! and its response ring from it, and serves the accounts [`Config::account_gateway`]
//! gives it.
//!
//! Start-up, per thread: build the session layer (on this thread: it holds closures
//! that never leave it), take the journal's replay for its accounts from the starting
//! thread ([`Setup::Replay`] batches, [`Setup::Recovered`]), open the listener and say
//! where it listens, then wait for [`Setup::Go`] (which brings the core in shared
//! mode, to thread 0) and run the duty cycle until stop.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Instant;

use super::DRAIN_TIMEOUT;
use super::recover::{MAX_RECORD_BYTES, Replayed};
use super::run::{AnyIdle, CoreParts, Flags, ServeCore, build_core, pin, run_core};
use crate::config::Config;
use crate::engine::core::CoreStats;
use crate::engine::{Instrument, OrderEvent};
use crate::gateway::{Gateway, GatewayOptions};
use crate::proto::wire::Alpha;
use crate::ring::spsc;
use crate::session::{SessionCounters, Sessions};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Replayed items sent to a gateway thread at once.
const REPLAY_BATCH: usize = 256;

/// Batches in flight to one gateway thread (the replay waits beyond this).
const REPLAY_BATCHES_IN_FLIGHT: usize = 4;

/// One replayed record or event, owned, on its way to the thread serving its account.
#[derive(Clone, Copy)]
pub(super) enum Item {
    /// [`Replayed::Input`].
    Input {
        len: u16,
        record: [u8; MAX_RECORD_BYTES as usize],
    },
    /// [`Replayed::Event`].
    Event(OrderEvent),
}

/// What the starting thread tells a gateway thread during start-up. A thread whose
/// channel closes before [`Setup::Go`] exits: start-up failed elsewhere.
pub(super) enum Setup {
    /// Journal replay for this thread's accounts, in the core's order.
    Replay(Vec<Item>),
    /// The replay is complete.
    Recovered,
    /// Run; in shared mode thread 0 gets the core to run inline.
    Go(Option<Box<CoreParts>>),
}

/// What one gateway thread is started with.
pub(super) struct ThreadParts {
    pub index: usize,
    pub config: Arc<Config>,
    pub instruments: Arc<[Instrument]>,
    pub session_name: Alpha<10>,
    pub commands: spsc::Producer,
    pub responses: spsc::Consumer,
    pub pin_threads: bool,
    pub flags: Flags,
}

/// What a gateway thread reports when it stops.
#[derive(Debug, Default)]
pub(super) struct ThreadFinished {
    pub sessions: SessionCounters,
    /// The core's counters, from the thread that ran it inline (shared mode).
    pub core: Option<CoreStats>,
}

/// Routes the journal's replay to the gateway thread of each account, in batches.
pub(super) struct ReplayRoute<'a> {
    /// Account index → gateway thread.
    owners: &'a [usize],
    setup: &'a [mpsc::SyncSender<Setup>],
    batches: Vec<Vec<Item>>,
    /// A thread stopped taking its replay (it failed; it says why when joined).
    failed: bool,
}

impl<'a> ReplayRoute<'a> {
    pub fn new(owners: &'a [usize], setup: &'a [mpsc::SyncSender<Setup>]) -> Self {
        Self {
            owners,
            setup,
            batches: setup
                .iter()
                .map(|_| Vec::with_capacity(REPLAY_BATCH))
                .collect(),
            failed: false,
        }
    }

    /// Hands one replayed record or event to its account's thread (none: a session
    /// that is no account, such as the operator's control session).
    pub fn route(&mut self, r: Replayed<'_>) {
        let (session, item) = match r {
            Replayed::Input { session, record } => {
                let mut bytes = [0; MAX_RECORD_BYTES as usize];
                let Some(dst) = bytes.get_mut(..record.len()) else {
                    return;
                };
                dst.copy_from_slice(record);
                let len = record.len() as u16;
                (session, Item::Input { len, record: bytes })
            }
            Replayed::Event(ev) => (ev.session(), Item::Event(*ev)),
        };
        let Some(&thread) = self.owners.get(usize::from(session)) else {
            return;
        };
        self.batches[thread].push(item);
        if self.batches[thread].len() == REPLAY_BATCH {
            self.flush(thread);
        }
    }

    fn flush(&mut self, thread: usize) {
        let batch = std::mem::replace(&mut self.batches[thread], Vec::with_capacity(REPLAY_BATCH));
        if !batch.is_empty() && self.setup[thread].send(Setup::Replay(batch)).is_err() {
            self.failed = true;
        }
    }

    /// Sends what is left and tells every thread the replay is complete.
    pub fn finish(mut self) -> bool {
        for thread in 0..self.setup.len() {
            self.flush(thread);
            if self.setup[thread].send(Setup::Recovered).is_err() {
                self.failed = true;
            }
        }
        !self.failed
    }
}

/// A setup channel for one gateway thread.
pub(super) fn setup_channel() -> (mpsc::SyncSender<Setup>, mpsc::Receiver<Setup>) {
    mpsc::sync_channel(REPLAY_BATCHES_IN_FLIGHT)
}

/// The listener and connection options of gateway thread `index`.
fn gateway_options(config: &Config, index: usize) -> GatewayOptions {
    let g = &config.gateway;
    GatewayOptions {
        bind: config.gateway_listen(index),
        max_connections: g.max_connections,
        max_outbound_bytes_per_conn: g.max_outbound_bytes_per_conn,
        log_connections: g.log_events,
        ..GatewayOptions::default()
    }
}

/// A gateway thread: start-up (see the module doc), then the duty cycle until stop.
/// Reports where it listens, or why it could not, on `ready`.
pub(super) fn run(
    p: ThreadParts,
    setup: mpsc::Receiver<Setup>,
    ready: mpsc::Sender<(usize, Result<SocketAddr, String>)>,
) -> Result<ThreadFinished, String> {
    let (index, config, flags, pin_threads) =
        (p.index, p.config.clone(), p.flags.clone(), p.pin_threads);
    let mut gateway = match build(p, &setup) {
        Ok(g) => g,
        Err(e) => {
            let _ = ready.send((index, Err(e.to_string())));
            return Err(e.to_string());
        }
    };
    // Before `ready`: whoever started the server may open the board at once.
    let board = if index == 0 {
        super::run::tick_to_trade_board(&config)
    } else {
        None
    };
    let _ = ready.send((index, Ok(gateway.local_addr())));
    let Ok(Setup::Go(inline)) = setup.recv() else {
        return Err("start-up stopped".into());
    };
    drop(setup);
    if pin_threads {
        pin(config.threads.gateway_cpus[index], "gateway thread");
    }
    let mut idle = AnyIdle::new(config.threads.idle);
    // Only the thread that serves algo slots has hot inputs.
    let hot_polls = if gateway.handler().directory().is_some() {
        config.threads.hot_polls
    } else {
        0
    };
    let mut finished = ThreadFinished::default();
    match inline {
        Some(parts) => {
            let direct = config.threads.direct_orders;
            let core = run_inline(
                &mut gateway,
                *parts,
                board,
                &flags,
                &mut idle,
                direct,
                hot_polls,
            )?;
            finished.core = Some(core);
        }
        None => gateway_loop(&mut gateway, &flags, &mut idle, false, hot_polls),
    }
    finished.sessions = gateway.handler().counters();
    Ok(finished)
}

/// Shared mode, thread 0: the core runs inside the gateway's turn, as the session
/// layer's inline agent, while the response ring of this thread has room for a round;
/// its market data is committed by the session layer after the turn's answers.
fn run_inline(
    gateway: &mut Gateway<Sessions>,
    parts: CoreParts,
    board: Option<crate::ipc::latency::LatencyBoard>,
    flags: &Flags,
    idle: &mut AnyIdle,
    direct_orders: bool,
    hot_polls: u32,
) -> Result<CoreStats, String> {
    let mine = parts.sessions_of_thread(0);
    let (mut core, gate) = build_core(parts).map_err(|e| e.to_string())?;
    // Private before public: the session layer commits the market data once the
    // turn's answers are written out (`Sessions::set_inline_agent`).
    core.set_market_commit_by_owner(true);
    let core = Rc::new(RefCell::new(core));
    if let Some(board) = board {
        let market = core.clone();
        let publish_tsc = move |md_seq| market.try_borrow().ok()?.market().publish_tsc(md_seq);
        let hook = crate::ipc::latency::order_hook(board, publish_tsc);
        gateway.handler_mut().set_algo_order_hook(hook);
    }
    let warm = core.clone();
    gateway.handler_mut().set_core_warm(Box::new(move |cmd| {
        warm.try_borrow()
            .map_or(0, |core| super::warm::warm_core(&core, cmd))
    }));
    let (inline, publish) = (core.clone(), core.clone());
    let fatal = flags.fatal.clone();
    gateway.handler_mut().set_inline_agent(
        Box::new(move || run_core(&mut inline.borrow_mut(), &gate, &fatal)),
        Box::new(move || publish.borrow_mut().commit_market()),
    );
    if direct_orders {
        set_direct(gateway, core.clone(), mine);
    }
    gateway_loop(gateway, flags, idle, true, hot_polls);
    let stats = core.borrow().stats();
    Ok(stats)
}

/// Gives the session layer the core's direct run (`threads.direct_orders`): orders of
/// the sessions marked in `mine` (this thread's) run at once, their events handed back.
///
/// This thread's command ring is the core's input 0; its sessions' events go to its
/// response ring, which the direct run bypasses for them.
fn set_direct(gateway: &mut Gateway<Sessions>, direct: Rc<RefCell<ServeCore>>, mine: Vec<bool>) {
    gateway
        .handler_mut()
        .set_inline_direct(Box::new(move |cmd, record, take| {
            let Ok(mut core) = direct.try_borrow_mut() else {
                return false;
            };
            core.run_direct(0, cmd, record, |ev| {
                let here = mine.get(usize::from(ev.session())) == Some(&true);
                if here {
                    take(ev);
                }
                here
            })
        }));
}

/// Builds thread `p.index`'s session layer, applies its replay, and opens its
/// listener (thread 0 also serves the algo slots of `[ipc]`).
fn build(p: ThreadParts, setup: &mpsc::Receiver<Setup>) -> Result<Gateway<Sessions>, Error> {
    let opts = gateway_options(&p.config, p.index);
    let mut sessions = Sessions::for_gateway(
        &p.config,
        &p.instruments,
        opts.max_connections,
        p.commands,
        p.responses,
        p.index,
    )
    .map_err(|e| e.0)?
    .with_session_name(p.session_name);
    loop {
        match setup.recv() {
            Ok(Setup::Replay(batch)) => apply(&mut sessions, &batch),
            Ok(Setup::Recovered) => break,
            Ok(Setup::Go(_)) | Err(_) => return Err("start-up stopped".into()),
        }
    }
    sessions.finish_recovery();
    if p.index == 0 {
        super::algos::attach(&p.config, &mut sessions, p.pin_threads)?;
    }
    Ok(Gateway::new(opts, sessions)?)
}

fn apply(sessions: &mut Sessions, batch: &[Item]) {
    for item in batch {
        match item {
            Item::Input { len, record } => {
                // The starting thread decoded it already: it decodes.
                let _ = sessions.recover_input(&record[..usize::from(*len)]);
            }
            Item::Event(ev) => sessions.recover_event(ev),
        }
    }
}

/// The gateway's duty cycle (and, with `runs_core`, the core inside it) until stop,
/// then End of Session, drain and shutdown. After a turn with no work, up to
/// `hot_polls` looks at the hot inputs ([`Gateway::poll_hot`]) before the idle
/// strategy: an algo's order is read within a few nanoseconds instead of up to a
/// whole turn later (docs/LATENCY.md § The hot polls). The thread that runs the core keeps
/// running it until every other gateway thread has drained too (their End of Day
/// echoes pass through it).
fn gateway_loop(
    gateway: &mut Gateway<Sessions>,
    flags: &Flags,
    idle: &mut AnyIdle,
    runs_core: bool,
    hot_polls: u32,
) {
    let mut deadline: Option<Instant> = None;
    loop {
        let mut work = gateway.do_work();
        if flags.fatal.load(Ordering::Relaxed) {
            // Not End of Session: the day goes on after a restart; clients reconnect.
            break;
        }
        if deadline.is_none() && flags.stop.load(Ordering::Acquire) {
            gateway.handler_mut().end_session();
            deadline = Some(Instant::now() + DRAIN_TIMEOUT);
        }
        if let Some(d) = deadline {
            // Acquire: pairs with the Release decrement of each thread that drained.
            let others_done = !runs_core || flags.gateways_running.load(Ordering::Acquire) == 1;
            let drained = gateway.handler().ended() && gateway.open_connections() == 0;
            if (drained && others_done) || Instant::now() > d {
                break;
            }
        }
        if work == 0 && hot_polls > 0 {
            work = gateway.poll_hot(hot_polls);
        }
        idle.idle(work);
    }
    gateway.shutdown();
    // Release: this thread's last core commands (End of Day) are on its ring.
    flags.gateways_running.fetch_sub(1, Ordering::Release);
}
