//! [`RiskCore`]: the matching engine behind the account limits and the kill switch.

use super::ledger::Ledger;
use super::limits::{self, AccountLimits, Exposure, OrderFacts, PriceRef};
use super::{Limit, RiskReject};
use crate::config::Config;
use crate::engine::command::{Cancel, Control, Enter, Replace, Tick};
use crate::engine::core::CommandProcessor;
use crate::engine::event::Rejected;
use crate::engine::types::{ControlAction, MARKET_PRICE, MAX_OUCH_QTY, RejectReason};
use crate::engine::{Command, Engine, EngineError, EventSink, MdEvent, OrderEvent, OrderView};

/// What the pre-trade screen decided for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Hand it to the engine (it may still reject or ignore it).
    Pass,
    /// Reject it: the limit that tripped.
    Reject(Limit),
    /// An order-entry control (Disable / Enable Order Entry, kill switch): risk acts on
    /// it ([`RiskCore::control`]).
    Control,
}

/// One account's risk settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRisk {
    /// Firm id ([`firm_id`](crate::engine::types::firm_id)); [`RiskCore::kill_firm`]
    /// blocks every account of a firm.
    pub firm: u32,
    /// Pre-trade limits.
    pub limits: AccountLimits,
}

/// Counters of the risk layer (monotonic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskCounters {
    /// Orders rejected, indexed by `Limit as usize`.
    pub rejects: [u64; Limit::COUNT],
    /// Orders cancelled by kill switches.
    pub kill_cancels: u64,
}

#[derive(Debug, Clone, Copy)]
struct AccountState {
    limits: AccountLimits,
    firm: u32,
    /// Kill switch or Disable Order Entry: new orders and replaces are rejected.
    blocked: bool,
}

/// The matching engine wrapped by pre-trade risk: the single writer of positions.
///
/// [`RiskCore::process`] screens an Enter against the account's limits and kill switch
/// before the engine; a refused one gets `OrderEvent::Rejected` (reason
/// [`RiskReject::engine_reason`]) and never reaches the book. Everything else goes to
/// [`Engine::process`] through a sink that observes the session events, keeping each
/// account's open orders and positions, and that screens a Replace when the engine has
/// found its order ([`EventSink::admit_replace`]). No allocation, syscall or lock after
/// construction. Details: `docs/RISK.md`.
///
/// ```
/// use tickgate::config::Config;
/// use tickgate::risk::RiskCore;
/// let core = RiskCore::from_config(&Config::embedded()).unwrap();
/// assert_eq!(core.open_orders(0), Some(0));
/// ```
#[derive(Debug, Clone)]
pub struct RiskCore {
    engine: Engine,
    ledger: Ledger,
    accounts: Vec<AccountState>,
    counters: RiskCounters,
}

/// Forwards events as [`Observer`], giving a `Rejected` the risk reason (a risk-rejected
/// Enter runs through the engine with quantity 0).
struct Rewrite<'a, S> {
    ledger: &'a mut Ledger,
    inner: &'a mut S,
    reason: RejectReason,
}

impl<S: EventSink> EventSink for Rewrite<'_, S> {
    fn order_event_on(&mut self, event: &OrderEvent, order: OrderView) {
        self.ledger.observe(event, order);
        self.inner.order_event_on(event, order);
    }

    fn order_event(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Rejected(j) => self.inner.order_event(&OrderEvent::Rejected(Rejected {
                reason: self.reason,
                ..*j
            })),
            _ => self.inner.order_event(event),
        }
    }

    fn market_event(&mut self, event: &MdEvent) {
        self.inner.market_event(event);
    }
}

/// Forwards events to the caller's sink after updating the ledger, and screens a
/// Replace on the engine's view of its order.
struct Observer<'a, S> {
    ledger: &'a mut Ledger,
    accounts: &'a [AccountState],
    counters: &'a mut RiskCounters,
    inner: &'a mut S,
}

impl<S: EventSink> EventSink for Observer<'_, S> {
    // NB: inlined into the engine's emit sites, the observer reads only the event fields
    // it needs and the rest of the event may stay in registers; out of line, every
    // event was built in memory (+70 instructions per command, callgrind).
    #[inline(always)]
    fn order_event_on(&mut self, event: &OrderEvent, order: OrderView) {
        self.ledger.observe(event, order);
        self.inner.order_event_on(event, order);
    }

    #[inline(always)]
    fn order_event(&mut self, event: &OrderEvent) {
        self.inner.order_event(event);
    }

    #[inline]
    fn market_event(&mut self, event: &MdEvent) {
        self.inner.market_event(event);
    }

    #[inline(always)]
    fn admit_replace(
        &mut self,
        r: &Replace,
        instrument: u16,
        leaves: u32,
    ) -> Result<(), RejectReason> {
        match check_replace(self.accounts, self.ledger, r, instrument, leaves) {
            Ok(()) => Ok(()),
            Err(limit) => {
                self.counters.rejects[limit as usize] += 1;
                Err(limit.reject().engine_reason())
            }
        }
    }
}

impl RiskCore {
    /// Wraps `engine`. `max_sessions` must be the engine's `engine.max_sessions`
    /// (`max_orders`, the engine's `engine.max_orders`, is not needed any more: the
    /// per-order state is the engine's); account `i` is session `i` (sessions
    /// beyond `accounts` get [`AccountLimits::default`] and firm 0).
    pub fn new(
        engine: Engine,
        max_orders: u32,
        max_sessions: u16,
        accounts: &[AccountRisk],
    ) -> Self {
        let sessions = usize::from(max_sessions);
        let default = AccountRisk {
            firm: 0,
            limits: AccountLimits::default(),
        };
        let accounts = (0..sessions)
            .map(|i| {
                let a = accounts.get(i).copied().unwrap_or(default);
                AccountState {
                    limits: a.limits,
                    firm: a.firm,
                    blocked: false,
                }
            })
            .collect();
        let _ = max_orders;
        let ledger = Ledger::new(sessions, engine.instruments());
        RiskCore {
            engine,
            ledger,
            accounts,
            counters: RiskCounters::default(),
        }
    }

    /// The engine and the `[[account]]` limits of a config.
    pub fn from_config(config: &Config) -> Result<Self, EngineError> {
        let engine = Engine::from_config(config)?;
        let accounts: Vec<AccountRisk> = config
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| AccountRisk {
                firm: crate::engine::types::firm_id(&a.firm),
                limits: AccountLimits::from_config(&config.account_risk(i)),
            })
            .collect();
        let e = &config.engine;
        Ok(Self::new(engine, e.max_orders, e.max_sessions, &accounts))
    }

    /// Applies one command: screens it, then rejects it or hands it to the engine.
    /// Events go to `sink` in a deterministic order. Never panics, never allocates.
    #[inline]
    #[unsafe(link_section = "tg_hot")]
    pub fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        match self.screen(cmd) {
            Screen::Pass => {
                crate::hot::stage_stamp!(5);
                let mut obs = Observer {
                    ledger: &mut self.ledger,
                    accounts: &self.accounts,
                    counters: &mut self.counters,
                    inner: sink,
                };
                self.engine.process(cmd, &mut obs);
            }
            Screen::Reject(limit) => self.reject(cmd, limit, sink),
            Screen::Control => {
                if let Command::Control(c) = cmd {
                    self.control(c, sink);
                }
            }
        }
    }

    /// Acts on an order-entry control: OUCH Disable / Enable Order Entry blocks or
    /// unblocks the account, the operator's kill blocks it and cancels every open order
    /// of it, status changes nothing. Then answers in order (an `Echoed`): the session's
    /// OUCH response, or for the operator the result word: bit 32 = blocked, low 32
    /// bits = orders cancelled (kill) or open orders (otherwise).
    #[cold]
    pub fn control<S: EventSink>(&mut self, c: &Control, sink: &mut S) {
        self.advance_time(c.ts_ns, sink);
        let mut count = None;
        match c.action {
            ControlAction::Disable => self.disable(c.account),
            ControlAction::Enable => self.enable(c.account),
            ControlAction::Kill => count = Some(self.kill(c.account, c.ts_ns, sink)),
            ControlAction::Status => {}
        }
        let count = count.unwrap_or_else(|| self.open_orders(c.account).unwrap_or(0));
        let result = u64::from(self.is_blocked(c.account)) << 32 | u64::from(count);
        sink.order_event(&OrderEvent::Echoed(c.answer(result)));
    }

    /// A hash of the whole state — the engine's
    /// ([`Engine::state_hash`]) and risk's: blocked accounts, positions, open
    /// quantities and orders, collar references. Equal after a journal replay.
    pub fn state_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut word = |v: u64| {
            for b in v.to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        word(self.engine.state_hash());
        for a in &self.accounts {
            word(u64::from(a.blocked));
        }
        self.ledger.state_words(&mut word);
        h
    }

    /// Hints the CPU to fetch the state `cmd` reads first: the engine's (a Replace's or
    /// Cancel's order line) and an Enter's exposure line. `serve`'s core calls it one
    /// record ahead of processing, before the journal append (`docs/RISK.md`, Cost).
    #[inline(always)]
    pub fn prefetch(&self, cmd: &Command) {
        self.engine.prefetch(cmd);
        if let Command::Enter(e) = cmd {
            self.ledger.prefetch_exposure(e.session, e.instrument);
        }
    }

    /// The pre-trade decision for `cmd` before the engine sees it, without changing
    /// anything: an Enter is checked against its account's limits and kill switch; a
    /// Replace passes here and is checked when the engine has found its order
    /// ([`Self::screen_replace`], through [`EventSink::admit_replace`]); malformed
    /// orders (unknown session or instrument, quantity 0 or ≥ 1 000 000, price outside
    /// the band) pass, so they get the engine's own reject.
    #[inline]
    pub fn screen(&self, cmd: &Command) -> Screen {
        match cmd {
            Command::Enter(e) => self.screen_enter(e),
            Command::Control(_) => Screen::Control,
            _ => Screen::Pass,
        }
    }

    /// The pre-trade decision for a Replace of a live order of `r.session` in
    /// `instrument` with `leaves` open shares on `r.side`'s book side — the engine's
    /// view of the order, which it has just read ([`EventSink::admit_replace`]).
    #[inline]
    pub fn screen_replace(&self, r: &Replace, instrument: u16, leaves: u32) -> Screen {
        verdict(check_replace(
            &self.accounts,
            &self.ledger,
            r,
            instrument,
            leaves,
        ))
    }

    #[inline]
    fn screen_enter(&self, e: &Enter) -> Screen {
        let order = Order {
            session: e.session,
            instrument: e.instrument,
            buy: e.side.is_buy(),
            qty: e.qty,
            price: e.price,
            exposure_add: i64::from(e.qty),
            new_order: true,
        };
        verdict(check_order(&self.accounts, &self.ledger, &order))
    }

    /// Refuses an Enter ([`Self::screen`] only refuses Enters).
    #[cold]
    fn reject<S: EventSink>(&mut self, cmd: &Command, limit: Limit, sink: &mut S) {
        let Command::Enter(e) = cmd else {
            return;
        };
        self.counters.rejects[limit as usize] += 1;
        // The engine runs the Enter with quantity 0: it expires what is due, ignores a
        // retransmission, consumes the UserRefNum and rejects; the rejection leaves with
        // the risk reason.
        let invalid = Command::Enter(Enter { qty: 0, ..*e });
        let mut obs = Rewrite {
            ledger: &mut self.ledger,
            inner: sink,
            reason: limit.reject().engine_reason(),
        };
        self.engine.process(&invalid, &mut obs);
    }

    /// Runs the engine's clock to `ts_ns` (GTT expiries due by then come first, as for
    /// a command the engine processes).
    fn advance_time<S: EventSink>(&mut self, ts_ns: u64, sink: &mut S) {
        let mut obs = Observer {
            ledger: &mut self.ledger,
            accounts: &self.accounts,
            counters: &mut self.counters,
            inner: sink,
        };
        self.engine
            .process(&Command::Tick(Tick { ts_ns }), &mut obs);
    }

    /// Kill switch: blocks `account` (new orders and replaces are rejected with
    /// [`RiskReject::FirmNotAuthorized`]) and cancels every open order of it through
    /// the engine (a full Cancel per order: `Canceled`, reason `U`; no UserRefNum is
    /// consumed), walking the engine's list of the account's resting orders. Returns
    /// the orders cancelled.
    pub fn kill<S: EventSink>(&mut self, account: u16, ts_ns: u64, sink: &mut S) -> u32 {
        let Some(a) = self.accounts.get_mut(usize::from(account)) else {
            return 0;
        };
        a.blocked = true;
        let mut canceled = 0;
        let mut last = None;
        // The account's resting orders, oldest first: each full cancel unlinks the head.
        while let Some((order, user_ref_idx, user_ref_num)) = self.engine.first_order_of(account) {
            if last == Some(order) {
                break; // not cancelled (never expected): stop rather than spin
            }
            last = Some(order);
            let cancel = Command::Cancel(Cancel {
                ts_ns,
                session: account,
                user_ref_idx,
                user_ref_num,
                order,
                qty: 0,
            });
            let mut obs = Observer {
                ledger: &mut self.ledger,
                accounts: &self.accounts,
                counters: &mut self.counters,
                inner: sink,
            };
            self.engine.process(&cancel, &mut obs);
            canceled += u32::from(self.engine.order_leaves(order).is_none());
        }
        self.counters.kill_cancels += u64::from(canceled);
        canceled
    }

    /// Kill switch for every account of `firm`; returns the orders cancelled.
    pub fn kill_firm<S: EventSink>(&mut self, firm: u32, ts_ns: u64, sink: &mut S) -> u32 {
        let mut canceled = 0;
        for account in 0..self.accounts.len() {
            if self.accounts[account].firm == firm {
                canceled += self.kill(account as u16, ts_ns, sink);
            }
        }
        canceled
    }

    /// Blocks new orders of `account` without cancelling (OUCH Disable Order Entry).
    pub fn disable(&mut self, account: u16) {
        if let Some(a) = self.accounts.get_mut(usize::from(account)) {
            a.blocked = true;
        }
    }

    /// Lifts a kill switch or Disable Order Entry (OUCH Enable Order Entry, operator).
    pub fn enable(&mut self, account: u16) {
        if let Some(a) = self.accounts.get_mut(usize::from(account)) {
            a.blocked = false;
        }
    }

    /// Whether new orders of `account` are blocked.
    pub fn is_blocked(&self, account: u16) -> bool {
        self.accounts
            .get(usize::from(account))
            .is_some_and(|a| a.blocked)
    }

    /// Replaces an account's limits (operator; takes effect with the next command).
    pub fn set_limits(&mut self, account: u16, limits: AccountLimits) {
        if let Some(a) = self.accounts.get_mut(usize::from(account)) {
            a.limits = limits;
        }
    }

    /// An account's limits.
    pub fn limits(&self, account: u16) -> Option<&AccountLimits> {
        self.accounts.get(usize::from(account)).map(|a| &a.limits)
    }

    /// The wrapped engine (read-only: every command must go through [`Self::process`]).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Net position of `account` in `instrument` from fills (bought − sold).
    pub fn position(&self, account: u16, instrument: u16) -> Option<i64> {
        self.ledger.exposure(account, instrument).map(|e| e.net)
    }

    /// Position and open quantities of `account` in `instrument`.
    pub fn exposure(&self, account: u16, instrument: u16) -> Option<Exposure> {
        self.ledger.exposure(account, instrument).copied()
    }

    /// Live orders of `account`.
    pub fn open_orders(&self, account: u16) -> Option<u32> {
        self.ledger.open_orders(account)
    }

    /// The collar's reference price of `instrument`: last trade, else configured.
    pub fn reference_price(&self, instrument: u16) -> Option<u64> {
        self.ledger.prices(instrument).map(|p| p.reference)
    }

    /// Counters.
    pub fn counters(&self) -> &RiskCounters {
        &self.counters
    }

    /// Events that named an order the risk ledger did not track (0 unless out of step).
    pub fn untracked_events(&self) -> u64 {
        self.ledger.untracked()
    }
}

impl CommandProcessor for RiskCore {
    #[inline(always)]
    fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        RiskCore::process(self, cmd, sink);
    }

    fn engine(&self) -> &Engine {
        &self.engine
    }

    #[inline(always)]
    fn prefetch(&self, cmd: &Command) {
        RiskCore::prefetch(self, cmd);
    }
}

/// The checks of a Replace of a live order of `r.session` in `instrument` with `leaves`
/// open shares (the engine's view; the engine has checked the handle, the channel, the
/// UserRefNum and that the side stays on its book side).
#[inline]
fn check_replace(
    accounts: &[AccountState],
    ledger: &Ledger,
    r: &Replace,
    instrument: u16,
    leaves: u32,
) -> Result<(), Limit> {
    let order = Order {
        session: r.session,
        instrument,
        buy: r.side.is_buy(),
        qty: r.qty,
        price: r.price,
        // Worst case: the replacement exposes its whole quantity (the engine subtracts
        // shares already done on the chain, which only lowers it).
        exposure_add: i64::from(r.qty) - i64::from(leaves),
        new_order: false,
    };
    check_order(accounts, ledger, &order)
}

/// An Enter or a Replace as the checks see it.
struct Order {
    session: u16,
    instrument: u16,
    buy: bool,
    qty: u32,
    /// Limit price or the market sentinel.
    price: u64,
    /// Change of open same-side quantity if accepted.
    exposure_add: i64,
    /// An Enter (counts against max open orders).
    new_order: bool,
}

/// The account's kill switch and limits against one order.
///
/// NB: out of line and shared by Enter and Replace, so a Replace (a few % of commands)
/// runs the code and branches every Enter keeps warm: inlined separately, its screen's
/// p99 was ≈10 ns above the Enter's (`tickgate bench engine`, chain rows).
#[inline(never)]
#[unsafe(link_section = "tg_hot")]
fn check_order(accounts: &[AccountState], ledger: &Ledger, o: &Order) -> Result<(), Limit> {
    let Some(acct) = accounts.get(usize::from(o.session)) else {
        return Ok(());
    };
    if acct.blocked {
        return Err(Limit::Blocked);
    }
    let Some((reference, price)) = price_ref(ledger, o.instrument, o.qty, o.price) else {
        return Ok(());
    };
    let facts = OrderFacts {
        buy: o.buy,
        qty: o.qty,
        price,
        market: o.price >= MARKET_PRICE,
        exposure_add: o.exposure_add,
        new_order: o.new_order,
    };
    let open = if o.new_order {
        ledger.open_orders(o.session).unwrap_or(0)
    } else {
        0
    };
    let exposure = ledger
        .exposure(o.session, o.instrument)
        .copied()
        .unwrap_or_default();
    limits::check(&acct.limits, &facts, open, &exposure, &reference)
}

/// The collar reference and the price for notional, or `None` for an order the
/// engine will reject anyway (unknown instrument, bad quantity, outside the band).
#[inline]
fn price_ref(ledger: &Ledger, instrument: u16, qty: u32, price: u64) -> Option<(PriceRef, u64)> {
    let p = ledger.prices(instrument)?;
    if qty == 0 || qty >= MAX_OUCH_QTY {
        return None;
    }
    let price = if price >= MARKET_PRICE {
        p.band_high
    } else if price < p.band_low || price > p.band_high {
        return None;
    } else {
        price
    };
    let reference = PriceRef {
        reference: p.reference,
        tick: p.tick,
    };
    Some((reference, price))
}

#[inline]
fn verdict(r: Result<(), Limit>) -> Screen {
    match r {
        Ok(()) => Screen::Pass,
        Err(l) => Screen::Reject(l),
    }
}

/// The OUCH reject a [`Screen::Reject`] answers with.
impl From<Limit> for RiskReject {
    fn from(l: Limit) -> Self {
        l.reject()
    }
}
