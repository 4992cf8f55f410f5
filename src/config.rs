//! Configuration: a TOML file, or the default embedded in the binary.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::affinity::IdleKind;

/// The configuration `tickgate` runs on when no `--config` is given.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where each thread runs and how it idles.
    pub threads: ThreadPlan,
    /// Capacities of the matching core.
    #[serde(default)]
    pub engine: EngineConfig,
    /// The tradable instruments; their order here is their dense index (ITCH stock locate).
    #[serde(default, rename = "instrument")]
    pub instruments: Vec<InstrumentConfig>,
    /// The TCP order-entry gateway (`tickgate serve`).
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Order-entry accounts (SoupBinTCP logins); their order here is the core's session id.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountConfig>,
    /// The matching core's input journal (`docs/JOURNAL.md`).
    #[serde(default)]
    pub journal: JournalSection,
    /// ITCH 5.0 over MoldUDP64 multicast (`docs/MARKETDATA.md`).
    #[serde(default)]
    pub marketdata: crate::md::MarketDataSection,
    /// Co-located algo sessions over shared memory (`docs/ALGOS.md`).
    #[serde(default)]
    pub ipc: crate::ipc::IpcSection,
    /// Pre-trade risk limits, throttles and overload protection (`docs/RISK.md`).
    #[serde(default)]
    pub risk: RiskConfig,
    /// The local control channel of `tickgate admin` (docs/OPERATIONS.md).
    #[serde(default)]
    pub admin: AdminSection,
}

/// `[admin]`: the local control channel (`tickgate admin kill|enable|status`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Serve the control channel (a Unix domain socket, mode 0600).
    pub enabled: bool,
    /// Socket path; empty = `admin.sock` in `journal.dir` (so each journal base, and
    /// each test server, has its own).
    pub socket: std::path::PathBuf,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            enabled: true,
            socket: std::path::PathBuf::new(),
        }
    }
}

/// `[journal]`: where and how safely the core journals its input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSection {
    /// Journal every input and recover from it at start-up. Off, a restart starts
    /// the day empty.
    pub enabled: bool,
    /// Base directory; each trading day (SoupBinTCP session name) journals into its
    /// own subdirectory `<dir>/<session>/`. A relative path is relative to the working
    /// directory.
    pub dir: std::path::PathBuf,
    /// `process` (an ack waits for the page cache: a process crash loses nothing) or
    /// `sync` (an ack waits for `fdatasync`, group commit: a power loss loses nothing).
    pub durability: crate::journal::Durability,
    /// Size of each pre-allocated segment file, MiB.
    pub segment_mib: usize,
}

impl Default for JournalSection {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: "journal".into(),
            durability: crate::journal::Durability::Process,
            segment_mib: 64,
        }
    }
}

/// Capacities of the matching core; everything is allocated once at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Orders live at once across all instruments (the order pool's size).
    pub max_orders: u32,
    /// Order-entry sessions (OUCH accounts) the core serves; session ids are `0..max_sessions`.
    pub max_sessions: u16,
    /// Upper bound on price levels per instrument (band width ÷ tick size + 1).
    pub max_levels_per_instrument: u32,
    /// Records the core loop drains from one input before it polls the next.
    pub drain_limit: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_orders: 1 << 20,
            max_sessions: 64,
            max_levels_per_instrument: 1 << 16,
            drain_limit: 64,
        }
    }
}

/// What an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstrumentKindConfig {
    /// A cash instrument (shares).
    #[default]
    Spot,
    /// A future (give `expiry`).
    Future,
    /// An option (give `underlying`, `strike`, `put_call` and `expiry`).
    Option,
}

/// Put or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PutCallConfig {
    /// The right to sell.
    Put,
    /// The right to buy.
    Call,
}

/// The trading state an instrument starts the day in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TradingStateConfig {
    /// Orders are accepted and matched.
    #[default]
    Trading,
    /// New orders are rejected; resting orders stay.
    Halted,
    /// New orders are rejected; nothing rests.
    Closed,
    /// Past its last trading day: rejected as an unknown symbol.
    Expired,
}

/// One `[[instrument]]` table. Prices are integers with 4 implied decimals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    /// Up to 8 characters; padded with spaces on the wire.
    pub symbol: String,
    /// Spot, future or option.
    #[serde(default)]
    pub kind: InstrumentKindConfig,
    /// Smallest price increment (price units).
    pub tick_size: u64,
    /// Quantities must be multiples of this.
    #[serde(default = "one")]
    pub lot_size: u32,
    /// Smallest order quantity.
    #[serde(default = "one")]
    pub min_qty: u32,
    /// Largest order quantity (at most 999 999).
    #[serde(default = "max_qty")]
    pub max_qty: u32,
    /// Centre of the price band (price units).
    pub reference_price: u64,
    /// Half-width of the price band in basis points of the reference price.
    pub band_bps: u32,
    /// Option: symbol of the underlying.
    #[serde(default)]
    pub underlying: Option<String>,
    /// Option: strike price (price units).
    #[serde(default)]
    pub strike: Option<u64>,
    /// Option: put or call.
    #[serde(default)]
    pub put_call: Option<PutCallConfig>,
    /// Future/option: expiry date as YYYYMMDD.
    #[serde(default)]
    pub expiry: Option<u32>,
    /// Last trading day as YYYYMMDD, if any.
    #[serde(default)]
    pub last_trading_day: Option<u32>,
    /// State at start-up.
    #[serde(default)]
    pub state: TradingStateConfig,
}

fn one() -> u32 {
    1
}

fn max_qty() -> u32 {
    999_999
}

/// Whether hot agents get a thread each or share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadingMode {
    /// One pinned thread per hot agent (the colo layout).
    Dedicated,
    /// Gateway and core agents round-robin on one pinned thread (small hosts).
    Shared,
}

/// The core plan: which CPU each thread is pinned to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadPlan {
    /// Dedicated or shared threading.
    pub mode: ThreadingMode,
    /// CPU of the matching core.
    pub core_cpu: usize,
    /// CPU of each gateway thread.
    pub gateway_cpus: Vec<usize>,
    /// CPU of the market-data publisher.
    pub publisher_cpu: usize,
    /// CPUs for the journal flusher, liveness checker and logging.
    pub housekeeping_cpus: Vec<usize>,
    /// How hot threads wait when they have no work.
    pub idle: IdleKind,
    /// Whether to `mlockall` at start-up.
    pub lock_memory: bool,
    /// While a serving thread is idle, run a side-effect-free pass over the order path
    /// this often (µs) so that its code and data stay in cache between orders
    /// (`docs/LATENCY.md` § The warm pass); 0 = off.
    #[serde(default = "default_warm_interval_us")]
    pub warm_interval_us: u64,
    /// Shared threading: run the orders of gateway thread 0's sessions in the core at
    /// once, with their answers handed straight back, when nothing waits ahead of them
    /// (`docs/ARCHITECTURE.md` § Shared threading's direct run); `false`: through the
    /// command and response rings.
    #[serde(default = "default_direct_orders")]
    pub direct_orders: bool,
    /// While the thread that serves the algo slots is idle: looks at their order rings
    /// this many times between two of its turns (`docs/LATENCY.md` § The hot polls);
    /// 0 = only in its turns.
    #[serde(default = "default_hot_polls")]
    pub hot_polls: u32,
}

fn default_warm_interval_us() -> u64 {
    20
}

fn default_direct_orders() -> bool {
    true
}

fn default_hot_polls() -> u32 {
    32
}

/// The most hot polls between two turns (`threads.hot_polls`): ≈ 1 µs of polling on
/// the EPYC host, so that the turn's timers and TCP completions wait at most that.
pub const MAX_HOT_POLLS: u32 = 128;

impl ThreadPlan {
    /// The CPUs that run a spinning (hot) thread, sorted and without repeats.
    pub fn hot_cpus(&self) -> Vec<usize> {
        let mut cpus = self.gateway_cpus.clone();
        cpus.push(self.core_cpu);
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file named.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not valid TOML for this schema.
    Parse(String),
    /// The values parse but contradict each other.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read config {path}: {source}"),
            Self::Parse(msg) => write!(f, "config is not valid: {msg}"),
            Self::Invalid(msg) => write!(f, "config is inconsistent: {msg}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The embedded default configuration.
    pub fn embedded() -> Self {
        Self::parse(DEFAULT_TOML).expect("the embedded default configuration is valid")
    }

    /// Reads `path`, or the embedded default when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::embedded());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// A fingerprint of what journaled input depends on (engine capacities,
    /// instruments, accounts' order and firms, their pre-trade limits): a journal written under another is
    /// refused at start-up rather than replayed into different books.
    pub fn journal_fingerprint(&self) -> u64 {
        let accounts: Vec<(&str, &str)> = self
            .accounts
            .iter()
            .map(|a| (a.username.as_str(), a.firm.as_str()))
            .collect();
        // The core's pre-trade limits decide what replayed orders do; the throttles and
        // overload marks act before the journal and are left out.
        let limits: Vec<_> = (0..self.accounts.len())
            .map(|i| {
                let r = self.account_risk(i);
                let l = (r.max_order_qty, r.max_order_notional, r.max_open_orders);
                (l, r.max_position, r.collar_bps, r.collar_ticks)
            })
            .collect();
        let canonical = format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.engine, self.instruments, accounts, limits
        );
        crate::journal::fingerprint(canonical.as_bytes())
    }

    /// The control channel's socket path, or `None` when `admin.enabled` is off.
    pub fn admin_socket(&self) -> Option<std::path::PathBuf> {
        let a = &self.admin;
        match (a.enabled, a.socket.as_os_str().is_empty()) {
            (false, _) => None,
            (true, true) => Some(self.journal.dir.join("admin.sock")),
            (true, false) => Some(a.socket.clone()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let j = &self.journal;
        if j.segment_mib == 0 || j.segment_mib > 16 << 10 {
            return Err(ConfigError::Invalid(format!(
                "journal.segment_mib = {} must be within 1..=16384",
                j.segment_mib
            )));
        }
        let t = &self.threads;
        if t.gateway_cpus.is_empty() {
            return Err(ConfigError::Invalid("threads.gateway_cpus is empty".into()));
        }
        if t.hot_polls > MAX_HOT_POLLS {
            return Err(ConfigError::Invalid(format!(
                "threads.hot_polls = {} must be at most {MAX_HOT_POLLS}",
                t.hot_polls
            )));
        }
        self.ipc
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let r = &self.risk;
        if r.overload_high_water_pct == 0
            || r.overload_high_water_pct > 100
            || r.overload_low_water_pct >= r.overload_high_water_pct
        {
            return Err(ConfigError::Invalid(format!(
                "risk.overload_high_water_pct = {} and overload_low_water_pct = {}: \
                 need 0 <= low < high <= 100",
                r.overload_high_water_pct, r.overload_low_water_pct
            )));
        }
        for name in r.account.keys() {
            if !self.accounts.iter().any(|a| &a.username == name) {
                return Err(ConfigError::Invalid(format!(
                    "[risk.account.{name}] names no [[account]]; fix the username or add \
                     the account"
                )));
            }
            r.for_account(name)?;
        }
        self.validate_gateway_threads()?;
        if t.mode == ThreadingMode::Dedicated && t.gateway_cpus.contains(&t.core_cpu) {
            return Err(ConfigError::Invalid(format!(
                "threads.mode = \"dedicated\" but core_cpu {} is also a gateway CPU; \
                 use mode = \"shared\" or give the core its own CPU",
                t.core_cpu
            )));
        }
        Ok(())
    }
}

impl Config {
    /// How many gateway threads `serve` starts (one per `threads.gateway_cpus` entry).
    pub fn gateway_threads(&self) -> usize {
        self.threads.gateway_cpus.len()
    }

    /// The gateway thread that serves account `index` (its `[[account]]` position):
    /// its `[gateway.account_thread]` entry, else `index` round-robin over the threads.
    pub fn account_gateway(&self, index: usize) -> usize {
        self.accounts
            .get(index)
            .and_then(|a| self.gateway.account_thread.get(&a.username).copied())
            .unwrap_or(index % self.gateway_threads().max(1))
    }

    /// Where gateway thread `thread` listens: `gateway.listen` with its port plus
    /// `thread` (port 0 stays 0: each thread gets its own ephemeral port).
    pub fn gateway_listen(&self, thread: usize) -> std::net::SocketAddr {
        let mut addr = self.gateway.listen;
        if addr.port() != 0 {
            let port = usize::from(addr.port()) + thread;
            addr.set_port(u16::try_from(port).unwrap_or(u16::MAX));
        }
        addr
    }

    /// Gateway threads: distinct CPUs, listening ports in range, and account
    /// assignments naming an account and a thread that exist.
    pub(crate) fn validate_gateway_threads(&self) -> Result<(), ConfigError> {
        let cpus = &self.threads.gateway_cpus;
        let n = cpus.len();
        if let Some(cpu) = (1..n).find_map(|i| cpus[..i].contains(&cpus[i]).then_some(cpus[i])) {
            return Err(ConfigError::Invalid(format!(
                "threads.gateway_cpus lists CPU {cpu} twice; give each gateway thread \
                 its own CPU"
            )));
        }
        let port = usize::from(self.gateway.listen.port());
        if port != 0 && port + n - 1 > usize::from(u16::MAX) {
            return Err(ConfigError::Invalid(format!(
                "gateway.listen port {port} + {} gateway threads passes 65535; gateway \
                 thread i listens on port + i: lower the port",
                n - 1
            )));
        }
        for (name, &thread) in &self.gateway.account_thread {
            if !self.accounts.iter().any(|a| &a.username == name) {
                return Err(ConfigError::Invalid(format!(
                    "[gateway.account_thread] {name} names no [[account]]; fix the \
                     username or add the account"
                )));
            }
            if thread >= n {
                return Err(ConfigError::Invalid(format!(
                    "[gateway.account_thread] {name} = {thread}, but threads.gateway_cpus \
                     starts {n} gateway thread(s), numbered from 0; pick one below {n} \
                     or add a gateway CPU"
                )));
            }
        }
        Ok(())
    }
}

/// The TCP order-entry gateway and its SoupBinTCP sessions (`docs/PROTOCOL.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Address to listen on (port 0 picks a free port, printed at start-up).
    pub listen: std::net::SocketAddr,
    /// Connection slots of the gateway.
    pub max_connections: usize,
    /// Outbound bytes queued per connection before it is dropped as a slow consumer.
    pub max_outbound_bytes_per_conn: usize,
    /// Bytes of each session's replay store (the day's sequenced messages), reserved
    /// at start-up; pages are touched only as the stream grows.
    pub replay_bytes_per_session: usize,
    /// Orders a session may have open (entered and not yet dead) at once.
    pub max_open_orders_per_session: usize,
    /// Records in the core's response ring (power of two).
    pub response_ring_records: usize,
    /// Records in the gateway's command ring to the core (power of two).
    pub command_ring_records: usize,
    /// Server Heartbeat after this much outbound silence.
    pub heartbeat_interval_ms: u64,
    /// Disconnect a client silent this long, unless its login asked for another timeout.
    pub heartbeat_timeout_ms: u64,
    /// One stderr line per connection event and per bad input.
    pub log_events: bool,
    /// OUCH System Events in every account's stream: Start of Day (`S`) as the day's
    /// first message, End of Day (`E`) at a graceful stop, before End of Session.
    pub system_events: bool,
    /// `[gateway.account_thread]`: USERNAME = the gateway thread (index into
    /// `threads.gateway_cpus`) that serves the account; accounts not named are spread
    /// round-robin by their `[[account]]` position ([`Config::account_gateway`]).
    pub account_thread: std::collections::BTreeMap<String, usize>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 15000)),
            max_connections: 1024,
            max_outbound_bytes_per_conn: 1 << 20,
            replay_bytes_per_session: 64 << 20,
            max_open_orders_per_session: 1 << 16,
            response_ring_records: 1 << 17,
            command_ring_records: 1 << 16,
            heartbeat_interval_ms: 1000,
            heartbeat_timeout_ms: 15_000,
            log_events: true,
            system_events: true,
            account_thread: Default::default(),
        }
    }
}

/// One order-entry account: a SoupBinTCP login and the OUCH firm it trades for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Login username (1..6 characters).
    pub username: String,
    /// Login password (up to 10 characters).
    pub password: String,
    /// Firm (up to 4 characters) stamped on the account's orders.
    pub firm: String,
    /// Cancel the account's open orders when its connection drops.
    #[serde(default = "default_true")]
    pub cancel_on_disconnect: bool,
}

/// One account's risk settings (`[risk.defaults]`, overridden key by key in
/// `[risk.account.USERNAME]`): pre-trade limits (checked in the matching core) and
/// message-rate throttles (checked on the gateway thread). A limit of 0 is off. Reject
/// codes are listed in `docs/CONFIG.md` and `docs/RISK.md`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountRiskConfig {
    /// Largest quantity of one order (OUCH 0x0031).
    pub max_order_qty: u32,
    /// Largest quantity × price of one order, in whole currency units (OUCH 0x0030).
    pub max_order_notional: u64,
    /// Orders open at once (OUCH 0x0020).
    pub max_open_orders: u32,
    /// Largest worst-case net position per instrument in shares: position from fills
    /// plus open same-side quantity plus the order (OUCH 0x0020).
    pub max_position: u64,
    /// Price collar: a buy above (sell below) the reference price by more than this many
    /// basis points of it is rejected (OUCH 0x0026).
    pub collar_bps: u32,
    /// Price collar in ticks; when both collars are set the tighter applies.
    pub collar_ticks: u32,
    /// Sustained Enter/Replace messages per second (OUCH 0x0029 above it).
    pub order_rate_per_s: u32,
    /// Enter/Replace messages accepted at once.
    pub order_burst: u32,
    /// Sustained Cancel/Modify/Mass Cancel messages per second.
    pub cancel_rate_per_s: u32,
    /// Cancel-class messages accepted at once.
    pub cancel_burst: u32,
    /// Window in which throttled messages are counted.
    pub throttle_window_ms: u64,
    /// Throttled messages of one class within a window above which the session is
    /// logged out (cancel-on-disconnect applies).
    pub throttle_logout_after: u32,
}

impl Default for AccountRiskConfig {
    fn default() -> Self {
        Self {
            max_order_qty: 100_000,
            max_order_notional: 10_000_000,
            max_open_orders: 10_000,
            max_position: 1_000_000,
            collar_bps: 500,
            collar_ticks: 0,
            order_rate_per_s: 10_000,
            order_burst: 1_000,
            cancel_rate_per_s: 20_000,
            cancel_burst: 2_000,
            throttle_window_ms: 1_000,
            throttle_logout_after: 5_000,
        }
    }
}

/// The `[risk]` table: overload protection of the core's input rings and the
/// accounts' limits and throttles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Percent of a core input ring in use at which new orders are rejected "system
    /// busy" (OUCH 0x000A) before they reach it; cancels still pass.
    pub overload_high_water_pct: u8,
    /// Percent in use at or below which a busy ring takes new orders again.
    pub overload_low_water_pct: u8,
    /// Limits and throttles of every account (`[risk.defaults]`).
    pub defaults: AccountRiskConfig,
    /// Per-account overrides by username (`[risk.account.USERNAME]`): each key given
    /// replaces the default's.
    pub account: std::collections::BTreeMap<String, toml::Table>,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            overload_high_water_pct: 75,
            overload_low_water_pct: 50,
            defaults: AccountRiskConfig::default(),
            account: Default::default(),
        }
    }
}

impl RiskConfig {
    /// The settings of the account named `username`: `[risk.defaults]` with the keys of
    /// `[risk.account.USERNAME]` replacing theirs.
    pub fn for_account(&self, username: &str) -> Result<AccountRiskConfig, ConfigError> {
        let Some(over) = self.account.get(username) else {
            return Ok(self.defaults.clone());
        };
        let bad =
            |e: &dyn fmt::Display| ConfigError::Invalid(format!("[risk.account.{username}]: {e}"));
        let mut table = toml::Table::try_from(&self.defaults).map_err(|e| bad(&e))?;
        for (k, v) in over {
            table.insert(k.clone(), v.clone());
        }
        table.try_into().map_err(|e: toml::de::Error| bad(&e))
    }
}

impl Config {
    /// The risk settings of account `index` (its `[[account]]` position), or the
    /// defaults for a session without an account table.
    pub fn account_risk(&self, index: usize) -> AccountRiskConfig {
        self.accounts
            .get(index)
            .and_then(|a| self.risk.for_account(&a.username).ok())
            .unwrap_or_else(|| self.risk.defaults.clone())
    }
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::embedded();
        assert_eq!(c.threads.mode, ThreadingMode::Shared);
        assert_eq!(c.threads.hot_cpus(), vec![1]);
    }

    #[test]
    fn account_risk_table_overrides_defaults_key_by_key() {
        let text = DEFAULT_TOML.replace(
            "[risk.account.DEMO2]",
            "[risk.account.DEMO2]\nmax_order_qty = 7",
        );
        let c = Config::parse(&text).expect("parses");
        let r = c.account_risk(1);
        assert_eq!(r.max_order_qty, 7);
        assert_eq!(r.max_open_orders, 5000, "the embedded DEMO2 override stays");
        assert_eq!(r.max_position, c.risk.defaults.max_position);
        assert_eq!(c.account_risk(0), c.risk.defaults);
        assert_eq!(c.account_risk(99), c.risk.defaults);
    }

    #[test]
    fn account_risk_override_must_name_an_account_and_known_keys() {
        let text = DEFAULT_TOML.replace("[risk.account.DEMO2]", "[risk.account.NOBODY]");
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
        let text = DEFAULT_TOML.replace(
            "[risk.account.DEMO2]",
            "[risk.account.DEMO2]\nmax_order_qyt = 7",
        );
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn overload_marks_must_be_ordered() {
        let text =
            DEFAULT_TOML.replace("overload_low_water_pct = 50", "overload_low_water_pct = 90");
        assert_ne!(text, DEFAULT_TOML);
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn hot_polls_are_bounded() {
        let c = Config::parse(DEFAULT_TOML).expect("parses");
        assert_eq!(c.threads.hot_polls, 32);
        let text = DEFAULT_TOML.replace("hot_polls = 32 ", "hot_polls = 129");
        assert_ne!(text, DEFAULT_TOML);
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
        let text = DEFAULT_TOML.replace("hot_polls = 32 ", "hot_polls = 128");
        assert_eq!(Config::parse(&text).expect("parses").threads.hot_polls, 128);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let text = DEFAULT_TOML.replace("lock_memory", "lock_memroy");
        assert!(matches!(Config::parse(&text), Err(ConfigError::Parse(_))));
    }

    #[test]
    fn dedicated_mode_rejects_a_shared_cpu() {
        let text = DEFAULT_TOML.replace("\"shared\"          #", "\"dedicated\"       #");
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
    }

    /// The default in dedicated mode with two gateway threads, `extra` TOML inserted
    /// after `[gateway]`'s keys.
    fn two_gateways(extra: &str) -> Result<Config, ConfigError> {
        let text = DEFAULT_TOML
            .replace("\"shared\"          #", "\"dedicated\"       #")
            .replace("core_cpu = 1", "core_cpu = 2")
            .replace("gateway_cpus = [1]", "gateway_cpus = [0, 1]")
            .replacen("[[account]]", &format!("{extra}\n\n[[account]]"), 1);
        Config::parse(&text)
    }

    #[test]
    fn accounts_spread_round_robin_unless_assigned() {
        let c = two_gateways("").expect("parses");
        assert_eq!(c.gateway_threads(), 2);
        assert_eq!((c.account_gateway(0), c.account_gateway(1)), (0, 1));
        let c = two_gateways("[gateway.account_thread]\nDEMO2 = 0").expect("parses");
        assert_eq!((c.account_gateway(0), c.account_gateway(1)), (0, 0));
    }

    #[test]
    fn gateway_thread_i_listens_on_port_plus_i() {
        let mut c = two_gateways("").expect("parses");
        assert_eq!(c.gateway_listen(1).to_string(), "127.0.0.1:15001");
        c.gateway.listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(c.gateway_listen(1).port(), 0);
    }

    #[test]
    fn gateway_thread_assignments_are_validated() {
        let invalid = |r: Result<Config, ConfigError>| match r {
            Err(ConfigError::Invalid(why)) => why,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let why = invalid(two_gateways("[gateway.account_thread]\nDEMO2 = 2"));
        assert!(why.contains("DEMO2 = 2"), "{why}");
        let why = invalid(two_gateways("[gateway.account_thread]\nNOBODY = 0"));
        assert!(why.contains("NOBODY"), "{why}");
        let text = DEFAULT_TOML.replace("gateway_cpus = [1]", "gateway_cpus = [1, 1]");
        let why = invalid(Config::parse(&text));
        assert!(why.contains("CPU 1 twice"), "{why}");
        let text = DEFAULT_TOML
            .replace("gateway_cpus = [1]", "gateway_cpus = [1, 2]")
            .replace("127.0.0.1:15000", "127.0.0.1:65535");
        let why = invalid(Config::parse(&text));
        assert!(why.contains("65535"), "{why}");
    }
}
