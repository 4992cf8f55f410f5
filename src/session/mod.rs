//! The SoupBinTCP 4.1 / OUCH 5.0 session layer: a [`crate::gateway::Handler`] that
//! turns TCP bytes into matching-core commands and core events into sequenced OUCH.
//!
//! Data flow, all on the gateway's thread:
//!
//! 1. `on_data`: each connection's [`Reassembler`](crate::proto::soupbin::Reassembler)
//!    frames packets. Before login only `L` is allowed; a login is checked against the
//!    accounts of the config and answered `A` (with the sequence number the client will
//!    receive next) or `J`.
//! 2. Unsequenced Data is decoded as OUCH ([`crate::proto::ouch::Inbound`]), checked
//!    (UserRefNum rule, symbol, firm, options) and pushed onto the command ring as a
//!    fixed-size [`crate::engine::Command`] addressed by the core's `OrderRef`.
//! 3. `poll`: the core's [`crate::engine::OrderEvent`]s are drained from the response
//!    ring, encoded as OUCH in Sequenced Data packets, appended to the account's
//!    [`ReplayStore`] (numbered 1, 2, 3 … for the day) and sent if the client is live.
//!    A reconnecting client is replayed from its requested number at a pace that
//!    keeps its outbound queue under half the slow-consumer bound, then goes live.
//! 4. Timers (checked every few ms in `poll`): Server Heartbeat after 1 s of outbound
//!    silence; a client silent for 15 s (or its requested timeout) is disconnected.
//!
//! Every bad input gets the answer listed in `docs/PROTOCOL.md` §"Session rules", one
//! stderr line and a [`SessionCounters`] count; none panics or touches other sessions.

mod account;
mod day;
mod guard;
mod handler;
pub use handler::DirectRun;
mod inbound;
mod orders;
mod outbound;
pub mod record;
mod recover;
mod shm;
pub mod store;
pub mod translate;
mod warm;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub use account::{Account, BadAccount, COD_CHANNEL, Deferred, MAX_DEFERRED};
pub use orders::{OrderInfo, OrderMap};
pub use record::INPUT_RECORD_BYTES;
pub use shm::{CLAIM_POLL_NS, LIVENESS_POLL_NS};
pub use store::ReplayStore;
pub use warm::CoreWarm;

use crate::config::Config;
use crate::engine::{Engine, Instrument};
use crate::gateway::ConnId;
use crate::proto::ouch::Symbol;
use crate::proto::soupbin::{Direction, Reassembler};
use crate::proto::wire::Alpha;
use crate::ring::spsc;

/// Counts of everything the session layer did that is not an order: logins, bad
/// input by kind, drops. Read them with [`crate::gateway::Gateway::handler`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionCounters {
    /// Logins accepted.
    pub logins_accepted: u64,
    /// Logins rejected `J`/`A` (unknown user or wrong password).
    pub logins_not_authorized: u64,
    /// Logins rejected `J`/`S` (already logged in, wrong session, stream ended).
    pub logins_session_unavailable: u64,
    /// SoupBinTCP framing errors (length 0, too long, unknown type, wrong length).
    pub frame_errors: u64,
    /// Packets other than Login Request before login, or a second login.
    pub protocol_violations: u64,
    /// OUCH messages that did not decode.
    pub ouch_decode_errors: u64,
    /// Enter/Replace rejected by the session layer (symbol, firm, options).
    pub session_rejects: u64,
    /// Messages with a UserRefNum not above the channel's last (ignored resends).
    pub resends_ignored: u64,
    /// Cancel/Modify/Replace naming no open order (ignored).
    pub unknown_orders: u64,
    /// Clients disconnected for silence.
    pub heartbeat_timeouts: u64,
    /// Server Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Cancel-on-disconnect Mass Cancels sent to the core.
    pub cancel_on_disconnect: u64,
    /// Commands not sent because the command ring was full.
    pub command_ring_full: u64,
    /// Messages lost because a replay store was full (its session was ended).
    pub store_full: u64,
    /// Core events the session layer drops by design (`Ignored`).
    pub ignored_events: u64,
    /// Session-layer answers sent without a place in the journal because the command
    /// ring was full and [`PENDING_ANSWERS`] were already waiting (a restart after a
    /// crash may number the stream differently).
    pub unjournaled_answers: u64,
    /// Connections dropped as slow consumers while sending.
    pub slow_consumers: u64,
    /// Messages refused by the account's message throttle (OUCH 0x0029 for Enter and
    /// Replace, Cancel Reject for a Cancel).
    pub throttled: u64,
    /// Throttled Modify / Mass Cancel messages, which have no OUCH refusal: dropped.
    pub throttled_dropped: u64,
    /// Sessions logged out for passing the throttle's logout threshold.
    pub throttle_logouts: u64,
    /// New orders and replaces rejected "system busy" (OUCH 0x000A) because the
    /// command ring was past its high-water mark.
    pub busy_rejects: u64,
    /// Algo sessions ended because their response ring was full once caught up.
    pub algo_slow_consumers: u64,
    /// Algo sessions ended because their process was gone or their heartbeat stopped.
    pub algo_liveness_ends: u64,
    /// Algo order-ring records shorter than their header (the session was ended).
    pub algo_bad_records: u64,
    /// Warm passes run to their end while idle (`threads.warm_interval_us`; they
    /// change nothing else: `docs/LATENCY.md` § The warm pass).
    pub warm_passes: u64,
}

impl std::ops::AddAssign for SessionCounters {
    /// Sums the counters of several session layers (one per gateway thread).
    fn add_assign(&mut self, o: Self) {
        self.logins_accepted += o.logins_accepted;
        self.logins_not_authorized += o.logins_not_authorized;
        self.logins_session_unavailable += o.logins_session_unavailable;
        self.frame_errors += o.frame_errors;
        self.protocol_violations += o.protocol_violations;
        self.ouch_decode_errors += o.ouch_decode_errors;
        self.session_rejects += o.session_rejects;
        self.resends_ignored += o.resends_ignored;
        self.unknown_orders += o.unknown_orders;
        self.heartbeat_timeouts += o.heartbeat_timeouts;
        self.heartbeats_sent += o.heartbeats_sent;
        self.cancel_on_disconnect += o.cancel_on_disconnect;
        self.command_ring_full += o.command_ring_full;
        self.store_full += o.store_full;
        self.ignored_events += o.ignored_events;
        self.unjournaled_answers += o.unjournaled_answers;
        self.slow_consumers += o.slow_consumers;
        self.throttled += o.throttled;
        self.throttled_dropped += o.throttled_dropped;
        self.throttle_logouts += o.throttle_logouts;
        self.busy_rejects += o.busy_rejects;
        self.algo_slow_consumers += o.algo_slow_consumers;
        self.algo_liveness_ends += o.algo_liveness_ends;
        self.algo_bad_records += o.algo_bad_records;
        self.warm_passes += o.warm_passes;
    }
}

/// Timer settings, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    /// Server Heartbeat after this much outbound silence.
    pub heartbeat_interval_ns: u64,
    /// Client silence that closes the connection (unless the login asked otherwise).
    pub default_timeout_ns: u64,
}

/// Per-connection state (indexed by the gateway's slot).
#[derive(Debug)]
struct Conn {
    id: ConnId,
    framer: Reassembler,
    /// The account logged in on this connection.
    account: Option<u16>,
    last_recv_ns: u64,
    last_sent_ns: u64,
    timeout_ns: u64,
    /// Stop processing input (closing).
    closing: bool,
    /// Bad OUCH messages logged for this connection (the log line is a blocking
    /// write on the gateway's thread: a flood is counted, not logged).
    bad_ouch_logged: u32,
}

/// Session-layer answers that may wait for room in a full command ring.
pub const PENDING_ANSWERS: usize = 4096;

/// Bad OUCH messages logged per connection; later ones are only counted.
const BAD_OUCH_LOG_LIMIT: u32 = 8;

/// The session layer: every account's session and every connection's state.
pub struct Sessions {
    accounts: Vec<Account>,
    by_username: HashMap<[u8; 6], u16>,
    /// Accounts another gateway thread serves: that thread and its listen address.
    elsewhere: HashMap<[u8; 6], (usize, std::net::SocketAddr)>,
    symbols: Vec<Symbol>,
    by_symbol: translate::SymbolIndex,
    conns: Vec<Option<Conn>>,
    commands: spsc::Producer,
    responses: spsc::Consumer,
    counters: SessionCounters,
    timers: Timers,
    session_name: Alpha<10>,
    log: bool,
    midnight_offset_ns: i64,
    next_timer_scan_ns: u64,
    /// Accounts whose client is being replayed.
    replaying: Vec<u16>,
    /// End of Session requested: send `Z` everywhere, refuse logins.
    ending: bool,
    ended_sent: bool,
    /// Start/End of Day System Events (`gateway.system_events`).
    day: day::Day,
    /// Response records drained per `poll`.
    drain_limit: usize,
    /// Session-layer answers (`Echo`, `Control`) and cancels (Cancel, Modify, Mass
    /// Cancel, cancel-on-disconnect) waiting for room in the command ring, oldest first
    /// (capacity [`PENDING_ANSWERS`]); pushed before anything else.
    pending_answers: std::collections::VecDeque<crate::engine::Command>,
    /// An agent run in `poll` after the algo slots were read and before the responses
    /// are drained (shared threading: the matching core), so that an order read in
    /// this loop turn is answered in the same turn, and its market data committed
    /// after those answers; idle polls skip it ([`handler::InlineAgent`]). Boxed:
    /// a direct run moves it out of `self` and back, a pointer instead of 64 bytes.
    inline_agent: Option<Box<handler::InlineAgent>>,
    /// Message throttles and overload marks (`guard`).
    guards: guard::Guards,
    /// Co-located algo slots (`[ipc]`), served like connections ([`shm`]).
    algos: Option<Box<shm::AlgoSlots>>,
    /// The idle warm pass over the order path ([`warm`]); boxed: its canned record
    /// would otherwise sit among the fields an order touches.
    warm: Box<warm::Warm>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("accounts", &self.accounts.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    crate::clock::monotonic_ns()
}

/// Core time now (nanoseconds since midnight UTC), as the session layer stamps
/// commands; for commands from elsewhere (the operator's control channel).
pub fn core_time_ns() -> u64 {
    (monotonic_ns() as i64 + midnight_offset_ns()).rem_euclid(86_400_000_000_000) as u64
}

fn midnight_offset_ns() -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let since_midnight = wall.rem_euclid(86_400_000_000_000);
    since_midnight - monotonic_ns() as i64
}

impl Sessions {
    /// Builds the session layer for `config`'s accounts over the command ring to the
    /// core and the core's response ring. `engine` resolves symbols.
    pub fn new(
        config: &Config,
        engine: &Engine,
        max_connections: usize,
        commands: spsc::Producer,
        responses: spsc::Consumer,
    ) -> Result<Self, BadAccount> {
        let rings = (commands, responses);
        Self::serving(config, engine.instruments(), max_connections, rings, |_| {
            true
        })
    }

    /// The session layer of gateway thread `gateway` (`serve` with several gateway
    /// threads): it serves only the accounts [`Config::account_gateway`] gives it.
    /// Session ids stay the accounts' config positions; every other account is a
    /// closed placeholder (no login, no Start/End of Day, no replay store) and its
    /// events never reach this layer (the core routes them to their own thread).
    /// `instruments` are the engine's ([`Engine::instruments`]), which resolve symbols.
    pub fn for_gateway(
        config: &Config,
        instruments: &[Instrument],
        max_connections: usize,
        commands: spsc::Producer,
        responses: spsc::Consumer,
        gateway: usize,
    ) -> Result<Self, BadAccount> {
        let rings = (commands, responses);
        Self::serving(config, instruments, max_connections, rings, |i| {
            config.account_gateway(i) == gateway
        })
    }

    fn serving(
        config: &Config,
        instruments: &[Instrument],
        max_connections: usize,
        (commands, responses): (spsc::Producer, spsc::Consumer),
        serves: impl Fn(usize) -> bool,
    ) -> Result<Self, BadAccount> {
        let g = &config.gateway;
        if config.accounts.len() > usize::from(config.engine.max_sessions) {
            return Err(BadAccount(format!(
                "{} accounts but engine.max_sessions = {}; raise max_sessions",
                config.accounts.len(),
                config.engine.max_sessions
            )));
        }
        let mut accounts = Vec::with_capacity(config.accounts.len());
        let mut by_username = HashMap::with_capacity(config.accounts.len());
        let mut names = std::collections::HashSet::with_capacity(config.accounts.len());
        let mut elsewhere = HashMap::new();
        for (i, a) in config.accounts.iter().enumerate() {
            let acc = if serves(i) {
                let acc =
                    Account::new(a, g.replay_bytes_per_session, g.max_open_orders_per_session)?;
                by_username.insert(acc.username.0, i as u16);
                acc
            } else {
                let thread = config.account_gateway(i);
                let acc = foreign(a)?;
                elsewhere.insert(acc.username.0, (thread, config.gateway_listen(thread)));
                acc
            };
            if !names.insert(acc.username.0) {
                return Err(BadAccount(format!(
                    "account {:?} appears twice",
                    a.username
                )));
            }
            accounts.push(acc);
        }
        let symbols: Vec<Symbol> = instruments.iter().map(|i| Alpha(i.symbol)).collect();
        let by_symbol = translate::SymbolIndex::new(&symbols);
        Ok(Self {
            accounts,
            by_username,
            elsewhere,
            symbols,
            by_symbol,
            conns: (0..max_connections).map(|_| None).collect(),
            commands,
            responses,
            counters: SessionCounters::default(),
            timers: Timers {
                heartbeat_interval_ns: g.heartbeat_interval_ms.max(1) * 1_000_000,
                default_timeout_ns: g.heartbeat_timeout_ms.max(1) * 1_000_000,
            },
            session_name: session_name(),
            log: g.log_events,
            midnight_offset_ns: midnight_offset_ns(),
            next_timer_scan_ns: 0,
            replaying: Vec::with_capacity(config.accounts.len()),
            ending: false,
            ended_sent: false,
            day: day::Day::new(g.system_events),
            drain_limit: 4096,
            pending_answers: std::collections::VecDeque::with_capacity(PENDING_ANSWERS),
            inline_agent: None,
            guards: guard::Guards::new(config),
            algos: None,
            warm: Box::new(warm::Warm::new(
                config.threads.warm_interval_us,
                instruments,
            )),
        })
    }

    /// Runs `agent` (e.g. the matching core's `do_work`) in every `poll`, on the
    /// gateway's thread, after the algo slots were read and before the core's
    /// responses are drained; after a run that did work, `publish` (the core's
    /// market-data commit) runs in the same poll once the responses were drained, the
    /// algo streams pumped and the TCP sends queued: private before public.
    pub fn set_inline_agent(
        &mut self,
        agent: Box<dyn FnMut() -> usize>,
        publish: Box<dyn FnMut() -> usize>,
    ) {
        self.inline_agent = Some(Box::new(handler::InlineAgent::new(agent, publish)));
    }

    /// Gives the inline agent (set first) a direct run for orders
    /// ([`handler::DirectRun`]; `Sessions::push_order`).
    pub fn set_inline_direct(&mut self, direct: handler::DirectRun) {
        if let Some(agent) = &mut self.inline_agent {
            agent.direct = Some(direct);
        }
    }

    /// The counters.
    pub fn counters(&self) -> SessionCounters {
        self.counters
    }

    /// The accounts (session state), indexed by session id.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The SoupBinTCP session name given in Login Accepted.
    pub fn session_name(&self) -> Alpha<10> {
        self.session_name
    }

    /// The gateway thread (and its configured listen address) that serves `username`
    /// when another thread than this one does: a login here is refused `J`/`A`, and
    /// its log line can name the right port.
    pub fn served_elsewhere(&self, username: &[u8; 6]) -> Option<(usize, std::net::SocketAddr)> {
        self.elsewhere.get(username).copied()
    }

    /// Names the day `name` instead of today's [`session_name`] (before any login):
    /// every gateway thread of one server uses the name its journal was opened under.
    pub fn with_session_name(mut self, name: Alpha<10>) -> Self {
        self.session_name = name;
        self
    }

    /// Asks for End of Session: from the next `poll`, every logged-in client gets `Z`
    /// and is closed once it has been sent; new connections and logins are refused.
    pub fn end_session(&mut self) {
        self.ending = true;
    }

    /// Whether [`Sessions::end_session`] has been carried out.
    pub fn ended(&self) -> bool {
        self.ended_sent
    }

    /// Core time now: nanoseconds since midnight (UTC).
    #[inline]
    fn ts_ns(&self, now_mono_ns: u64) -> u64 {
        const DAY_NS: i64 = 86_400_000_000_000;
        let t = now_mono_ns as i64 + self.midnight_offset_ns;
        // NB: no 64-bit division per message (tens of cycles) while within the day.
        if (0..DAY_NS).contains(&t) {
            t as u64
        } else {
            t.rem_euclid(DAY_NS) as u64
        }
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        match self.conns.get_mut(id.slot() as usize) {
            Some(Some(c)) if c.id == id => Some(c),
            _ => None,
        }
    }

    fn logf(&self, args: std::fmt::Arguments<'_>) {
        if self.log {
            eprintln!("tickgate: session: {args}");
        }
    }

    /// A new connection's state.
    fn new_conn(&self, id: ConnId, now: u64) -> Conn {
        Conn {
            id,
            framer: Reassembler::new(Direction::ClientToServer),
            account: None,
            last_recv_ns: now,
            last_sent_ns: now,
            timeout_ns: self.timers.default_timeout_ns,
            closing: false,
            bad_ouch_logged: 0,
        }
    }
}

/// An account another gateway thread serves, as the session layer of this one holds
/// it: not in `by_username` (a login gets `J`/`A`, an algo claim is refused), its
/// stream `ended` and holding one placeholder packet so that Start and End of Day
/// (`day.rs`, "every empty, not ended stream") pass it by, and no replay store.
fn foreign(cfg: &crate::config::AccountConfig) -> Result<Account, BadAccount> {
    /// A framed empty Sequenced Data packet: never sent (nobody logs in here).
    const PLACEHOLDER: [u8; 3] = [0, 1, b'S'];
    let mut acc = Account::new(cfg, PLACEHOLDER.len(), 0)?;
    acc.ended = true;
    acc.store
        .append(&PLACEHOLDER)
        .map_err(|_| BadAccount(format!("account {:?}: placeholder store", cfg.username)))?;
    Ok(acc)
}

/// The day's session name: `TG` and the UTC date (`TG20261122`).
pub fn session_name() -> Alpha<10> {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let (y, m, d) = civil_from_days(days);
    Alpha::padded(&format!("TG{y:04}{m:02}{d:02}"))
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_414), (2025, 11, 22));
    }
}
