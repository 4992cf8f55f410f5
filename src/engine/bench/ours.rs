//! tickgate's engine as a benchmark venue, alone (`tickgate`) or behind pre-trade risk
//! (`tickgate+risk`, [`RiskCore`]).

use super::harness::Venue;
use super::stream::{
    FLAG_GTT, FLAG_HIDDEN, FLAG_POST_ONLY, FLAG_RESERVE, FLAG_STP, GenCmd, GenKind,
};
use crate::config::{EngineConfig, InstrumentConfig};
use crate::engine::command::{Cancel, Enter, INHERIT, MassCancel, Replace, Tick};
use crate::engine::types::{ALL_INSTRUMENTS, MARKET_PRICE};
use crate::engine::{
    Command, Display, Engine, EngineError, EventSink, MdEvent, OrderEvent, OrderRef, Side, StpMode,
    Tif,
};
use crate::risk::{AccountLimits, AccountRisk, RiskCore};

/// The stream's firms: A (no STP) and B ("decrement both").
const FIRM_A: u32 = u32::from_be_bytes(*b"FRMA");
const FIRM_B: u32 = u32::from_be_bytes(*b"FRMB");

/// Counts events and remembers the last accepted handle (never allocates).
#[derive(Debug, Default)]
pub struct CountingSink {
    /// Session events seen.
    pub order_events: u64,
    /// Market-data events seen.
    pub market_events: u64,
    /// Executions seen (both sides).
    pub executions: u64,
    /// Handle of the last `Accepted`.
    pub last_accepted: OrderRef,
}

impl EventSink for CountingSink {
    #[inline]
    fn order_event(&mut self, event: &OrderEvent) {
        self.order_events += 1;
        match event {
            OrderEvent::Accepted(a) => self.last_accepted = a.order,
            OrderEvent::Executed(_) => self.executions += 1,
            _ => {}
        }
    }

    #[inline]
    fn market_event(&mut self, _event: &MdEvent) {
        self.market_events += 1;
    }
}

/// What a venue feeds commands to: the engine alone, or the engine behind risk.
pub trait Processor {
    /// The venue's name (the JSON key).
    const NAME: &'static str;
    /// Applies one command.
    fn process(&mut self, cmd: &Command, sink: &mut CountingSink);
    /// Live orders in the engine.
    fn live_orders(&self) -> u32;
    /// Extra end-of-run summary.
    fn note(&self) -> String {
        String::new()
    }
}

impl Processor for Engine {
    const NAME: &'static str = "tickgate";

    /// NB: `inline(always)`: left out of line (LLVM's choice for this large body) the
    /// call cost ≈ 50 instructions per command in the throughput loop (callgrind: 385 →
    /// 334 per command), register saves and the command copied through memory.
    #[inline(always)]
    fn process(&mut self, cmd: &Command, sink: &mut CountingSink) {
        Engine::process(self, cmd, sink);
    }

    fn live_orders(&self) -> u32 {
        Engine::live_orders(self)
    }
}

impl Processor for RiskCore {
    const NAME: &'static str = "tickgate+risk";

    #[inline(always)]
    fn process(&mut self, cmd: &Command, sink: &mut CountingSink) {
        RiskCore::process(self, cmd, sink);
    }

    fn live_orders(&self) -> u32 {
        self.engine().live_orders()
    }

    fn note(&self) -> String {
        let rejects: u64 = self.counters().rejects.iter().sum();
        format!(", {rejects} risk rejects")
    }
}

/// The limits of the `tickgate+risk` venue: the default limits (every check runs)
/// with room for the stream's one account, which holds up to 1024 live orders in each
/// of its instruments.
pub fn bench_limits() -> AccountLimits {
    AccountLimits {
        max_open_orders: 1 << 20,
        ..AccountLimits::default()
    }
}

/// The engine plus the slot → (handle, UserRefNum) map a session layer would keep.
#[derive(Debug)]
pub struct TickgateVenue<P = Engine> {
    /// The engine under test (or the engine behind risk).
    pub engine: P,
    /// Its events, counted.
    pub sink: CountingSink,
    refs: Vec<(OrderRef, u32)>,
    /// Next UserRefNum per channel (channel = instrument mod 256).
    urn: Vec<u32>,
    /// The command `prepare` built for `execute`.
    pending: Command,
}

/// Instruments of the benchmark: `n` symbols, tick $0.01, reference $100.00, ±10% band.
pub fn bench_instruments(n: u16, tick: u64, reference_price: u64) -> Vec<InstrumentConfig> {
    (0..n)
        .map(|i| InstrumentConfig {
            symbol: format!("S{i:05}"),
            kind: Default::default(),
            tick_size: tick,
            lot_size: 1,
            min_qty: 1,
            max_qty: 999_999,
            reference_price,
            band_bps: 1000,
            underlying: None,
            strike: None,
            put_call: None,
            expiry: None,
            last_trading_day: None,
            state: Default::default(),
        })
        .collect()
}

impl<P> TickgateVenue<P> {
    /// The handle of the order a Cancel or Replace of the stream names (what a core
    /// looking one record ahead could prefetch), without building the command.
    pub fn order_of(&self, c: &GenCmd) -> Option<OrderRef> {
        match c.kind {
            GenKind::Cancel | GenKind::Replace => self.refs.get(c.slot as usize).map(|r| r.0),
            _ => None,
        }
    }
}

impl TickgateVenue {
    /// An engine with `instruments` and room for `max_orders`; `slots` as
    /// [`Stream::slots`](super::stream::Stream::slots).
    pub fn new(
        instruments: &[InstrumentConfig],
        max_orders: u32,
        slots: usize,
    ) -> Result<Self, EngineError> {
        let engine = Engine::new(&engine_config(max_orders), instruments)?;
        Ok(TickgateVenue::over(engine, slots))
    }
}

impl TickgateVenue<RiskCore> {
    /// As [`TickgateVenue::new`], the engine behind [`RiskCore`] with `limits` for the
    /// stream's one account.
    pub fn with_risk(
        instruments: &[InstrumentConfig],
        max_orders: u32,
        slots: usize,
        limits: AccountLimits,
    ) -> Result<Self, EngineError> {
        let cfg = engine_config(max_orders);
        let engine = Engine::new(&cfg, instruments)?;
        let account = AccountRisk {
            firm: FIRM_A,
            limits,
        };
        let core = RiskCore::new(engine, max_orders, cfg.max_sessions, &[account]);
        Ok(TickgateVenue::over(core, slots))
    }
}

fn engine_config(max_orders: u32) -> EngineConfig {
    EngineConfig {
        max_orders,
        max_sessions: 1,
        ..EngineConfig::default()
    }
}

impl<P: Processor> TickgateVenue<P> {
    fn over(engine: P, slots: usize) -> Self {
        TickgateVenue {
            engine,
            sink: CountingSink::default(),
            // Non-zero, so the pages are written (faulted in) here, not during the run.
            refs: vec![(OrderRef(u64::MAX), u32::MAX); slots.max(1)],
            urn: vec![0; 256],
            pending: Command::Tick(Tick { ts_ns: 0 }),
        }
    }

    /// The engine command for a generated one (needs `&mut` for UserRefNums).
    #[inline(always)]
    pub fn command(&mut self, c: &GenCmd) -> Command {
        let ch = (c.instrument % 256) as u8;
        let slot = c.slot as usize;
        match c.kind {
            GenKind::Add | GenKind::Marketable | GenKind::Market => {
                Command::Enter(self.enter(c, ch))
            }
            GenKind::Cancel => Command::Cancel(Cancel {
                ts_ns: c.ts_ns,
                session: 0,
                user_ref_idx: ch,
                user_ref_num: self.refs[slot].1,
                order: self.refs[slot].0,
                qty: 0,
            }),
            GenKind::Replace => {
                let (order, orig) = self.refs[slot];
                let urn = self.next_urn(ch);
                self.refs[slot].1 = urn;
                Command::Replace(Replace {
                    ts_ns: c.ts_ns,
                    session: 0,
                    user_ref_idx: ch,
                    user_ref_num: urn,
                    orig_user_ref_num: orig,
                    order,
                    qty: c.qty,
                    price: c.price,
                    tif: Tif::Day,
                    display: Display::Visible,
                    post_only: false,
                    side: side(c.buy),
                    min_qty: INHERIT,
                    max_floor: INHERIT,
                    expire_time_s: INHERIT,
                })
            }
            GenKind::MassCancel => Command::MassCancel(MassCancel {
                ts_ns: c.ts_ns,
                session: 0,
                user_ref_idx: ch,
                user_ref_num: self.next_urn(ch),
                firm: FIRM_A,
                instrument: ALL_INSTRUMENTS,
            }),
        }
    }

    fn next_urn(&mut self, ch: u8) -> u32 {
        let u = &mut self.urn[usize::from(ch)];
        *u += 1;
        *u
    }

    fn enter(&mut self, c: &GenCmd, ch: u8) -> Enter {
        let f = c.flags;
        let (tif, price) = match c.kind {
            GenKind::Marketable => (Tif::Ioc, c.price),
            GenKind::Market => (Tif::Ioc, MARKET_PRICE),
            _ if f & FLAG_GTT != 0 => (Tif::Gtt, c.price),
            _ => (Tif::Day, c.price),
        };
        let stp = f & FLAG_STP != 0;
        Enter {
            ts_ns: c.ts_ns,
            session: 0,
            user_ref_idx: ch,
            user_ref_num: self.next_urn(ch),
            instrument: c.instrument,
            side: side(c.buy),
            qty: c.qty,
            price,
            tif,
            display: if f & FLAG_HIDDEN != 0 {
                Display::Hidden
            } else {
                Display::Visible
            },
            post_only: f & FLAG_POST_ONLY != 0,
            stp: if stp {
                StpMode::DecrementBoth
            } else {
                StpMode::None
            },
            firm: if stp { FIRM_B } else { FIRM_A },
            min_qty: 0,
            max_floor: if f & FLAG_RESERVE != 0 { c.qty / 5 } else { 0 },
            expire_time_s: 1,
        }
    }
}

fn side(buy: bool) -> Side {
    if buy { Side::Buy } else { Side::Sell }
}

impl<P: Processor> Venue for TickgateVenue<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    #[inline]
    fn prepare(&mut self, c: &GenCmd) {
        self.pending = self.command(c);
        self.sink.last_accepted = OrderRef::NONE;
    }

    /// Exactly one [`Engine::process`].
    #[inline]
    fn execute(&mut self, _c: &GenCmd) {
        self.engine.process(&self.pending, &mut self.sink);
    }

    #[inline]
    fn complete(&mut self, c: &GenCmd) {
        if let (GenKind::Add, Command::Enter(e)) = (c.kind, &self.pending) {
            self.refs[c.slot as usize] = (self.sink.last_accepted, e.user_ref_num);
        }
    }

    /// The three phases fused, for the throughput chunks: the command stays in
    /// registers instead of going through `pending` (a store and reload per command).
    ///
    /// NB: the command is opaque to the venue (`black_box`), as a command the core reads
    /// from its input ring is: seen through, the generated command's constant fields
    /// (session, firm, TIF, ...) folded into the inlined engine of the `tickgate` venue
    /// — about 5% of its time per command — and `risk_overhead` measured that folding.
    #[inline]
    fn apply(&mut self, c: &GenCmd) {
        let cmd = std::hint::black_box(self.command(c));
        self.apply_command(c, &cmd);
    }

    fn summary(&self) -> String {
        format!(
            "{} live orders, {} executions, {} session + {} market-data events{}",
            self.engine.live_orders(),
            self.sink.executions,
            self.sink.order_events,
            self.sink.market_events,
            self.engine.note()
        )
    }
}

impl<P: Processor> TickgateVenue<P> {
    /// Applies `cmd`, made from `c` by [`Self::command`], and keeps the handle of an
    /// added order.
    #[inline]
    pub fn apply_command(&mut self, c: &GenCmd, cmd: &Command) {
        self.sink.last_accepted = OrderRef::NONE;
        self.engine.process(cmd, &mut self.sink);
        if let (GenKind::Add, Command::Enter(e)) = (c.kind, cmd) {
            self.refs[c.slot as usize] = (self.sink.last_accepted, e.user_ref_num);
        }
    }
}
