//! [`RiskCore`]: the matching engine behind the account limits and the kill switch.

use super::ledger::Ledger;
use super::limits::{self, AccountLimits, Exposure, OrderFacts, PriceRef};
use super::{Limit, RiskReject};
use crate::config::Config;
use crate::engine::command::{Cancel, Control, Enter, Replace, Tick};
use crate::engine::core::CommandProcessor;
use crate::engine::event::{Ignored, Rejected};
use crate::engine::types::{ControlAction, IgnoreReason, MARKET_PRICE, MAX_OUCH_QTY, RejectReason};
use crate::engine::{Command, Engine, EngineError, EventSink, MdEvent, OrderEvent};

/// UserRefIdx channels per session (as the engine).
const CHANNELS: usize = 256;

/// What the pre-trade screen decided for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Hand it to the engine (it may still reject or ignore it).
    Pass,
    /// Reject it: the limit that tripped.
    Reject(Limit),
    /// Its UserRefNum was already consumed by a risk reject: ignore it
    /// (`Ignored(UserRefNumNotIncreasing)`, as the engine does for retransmissions).
    Retransmission,
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
    /// Commands ignored because a risk reject had consumed their UserRefNum.
    pub retransmissions: u64,
    /// Orders cancelled by kill switches.
    pub kill_cancels: u64,
}

#[derive(Debug, Clone, Copy)]
struct AccountState {
    limits: AccountLimits,
    firm: u32,
    /// Kill switch or Disable Order Entry: new orders and replaces are rejected.
    blocked: bool,
    /// A risk reject of a Replace consumed a UserRefNum of this account (`consumed`
    /// is then checked; Enter rejects are consumed by the engine itself).
    consumed_any: bool,
}

/// The matching engine wrapped by pre-trade risk: the single writer of positions.
///
/// [`RiskCore::process`] screens Enter and Replace against the account's limits and
/// kill switch; a refused order gets `OrderEvent::Rejected` (reason
/// [`RiskReject::engine_reason`]) and never reaches the engine. Everything else goes to
/// [`Engine::process`] through a sink that observes the session events, keeping each
/// account's open orders and positions. No allocation, syscall or lock after
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
    /// Per (session, channel): the highest UserRefNum a risk reject consumed.
    consumed: Vec<u32>,
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
    fn order_event(&mut self, event: &OrderEvent) {
        self.ledger.observe(event);
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

/// Forwards events to the caller's sink after updating the ledger.
struct Observer<'a, S> {
    ledger: &'a mut Ledger,
    inner: &'a mut S,
}

impl<S: EventSink> EventSink for Observer<'_, S> {
    // NB: inlined into the engine's emit sites, the observer reads only the event fields
    // it needs and the rest of the event may stay in registers; out of line, every
    // event was built in memory (+70 instructions per command, callgrind).
    #[inline(always)]
    fn order_event(&mut self, event: &OrderEvent) {
        self.ledger.observe(event);
        self.inner.order_event(event);
    }

    #[inline]
    fn market_event(&mut self, event: &MdEvent) {
        self.inner.market_event(event);
    }
}

impl RiskCore {
    /// Wraps `engine`. `max_orders` must be the engine's `engine.max_orders` and
    /// `max_sessions` its `engine.max_sessions`; account `i` is session `i` (sessions
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
                    consumed_any: false,
                }
            })
            .collect();
        let ledger = Ledger::new(max_orders, sessions, engine.instruments());
        RiskCore {
            engine,
            ledger,
            accounts,
            consumed: vec![0; sessions * CHANNELS],
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
    pub fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        match self.screen(cmd) {
            Screen::Pass => {
                let mut obs = Observer {
                    ledger: &mut self.ledger,
                    inner: sink,
                };
                self.engine.process(cmd, &mut obs);
            }
            Screen::Reject(limit) => self.reject(cmd, limit, sink),
            Screen::Retransmission => self.retransmission(cmd, sink),
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

    /// Hints the CPU to fetch the state `cmd` reads first: a Replace's or Cancel's
    /// ledger entry (a data-dependent miss otherwise) and engine order line, an Enter's
    /// exposure line. `serve`'s core calls it one record ahead of processing, before
    /// the journal append (`docs/RISK.md`, Cost).
    #[inline(always)]
    pub fn prefetch(&self, cmd: &Command) {
        self.engine.prefetch(cmd);
        match cmd {
            Command::Replace(r) => self.ledger.prefetch(r.order),
            Command::Cancel(c) => self.ledger.prefetch(c.order),
            Command::Enter(e) => self.ledger.prefetch_exposure(e.session, e.instrument),
            _ => {}
        }
    }

    /// The pre-trade decision for `cmd`, without changing anything. Only Enter,
    /// Replace and Mass Cancel can be refused; malformed orders (unknown session or
    /// instrument, quantity 0 or ≥ 1 000 000, price outside the band) pass, so they get
    /// the engine's own reject, as do retransmissions the engine will ignore.
    #[inline]
    pub fn screen(&self, cmd: &Command) -> Screen {
        match cmd {
            Command::Enter(e) => self.screen_enter(e),
            Command::Replace(r) => self.screen_replace(r),
            Command::Cancel(c) => {
                self.ledger.prefetch(c.order);
                Screen::Pass
            }
            Command::Control(_) => Screen::Control,
            Command::MassCancel(m) => {
                let any = self
                    .accounts
                    .get(usize::from(m.session))
                    .is_some_and(|a| a.consumed_any);
                if any && self.is_consumed(m.session, m.user_ref_idx, m.user_ref_num) {
                    Screen::Retransmission
                } else {
                    Screen::Pass
                }
            }
            _ => Screen::Pass,
        }
    }

    #[inline]
    fn screen_enter(&self, e: &Enter) -> Screen {
        let Some(acct) = self.accounts.get(usize::from(e.session)) else {
            return Screen::Pass;
        };
        if acct.consumed_any && self.is_consumed(e.session, e.user_ref_idx, e.user_ref_num) {
            return Screen::Retransmission;
        }
        if acct.blocked {
            return Screen::Reject(Limit::Blocked);
        }
        let Some(px) = self.price_ref(e.instrument, e.qty, e.price) else {
            return Screen::Pass;
        };
        let facts = OrderFacts {
            buy: e.side.is_buy(),
            qty: e.qty,
            price: px.1,
            market: e.price >= MARKET_PRICE,
            exposure_add: i64::from(e.qty),
            new_order: true,
        };
        let open = self.ledger.open_orders(e.session).unwrap_or(0);
        let exposure = self
            .ledger
            .exposure(e.session, e.instrument)
            .copied()
            .unwrap_or_default();
        verdict(limits::check(&acct.limits, &facts, open, &exposure, &px.0))
    }

    #[inline]
    fn screen_replace(&self, r: &Replace) -> Screen {
        let Some(acct) = self.accounts.get(usize::from(r.session)) else {
            return Screen::Pass;
        };
        if acct.consumed_any && self.is_consumed(r.session, r.user_ref_idx, r.user_ref_num) {
            return Screen::Retransmission;
        }
        // The hot entry only (8 bytes); the handle's generation, channel and UserRefNum
        // are checked before a rejection (`reject_replace`), or by the engine.
        let Some(hot) = self.ledger.hot(r.order) else {
            return Screen::Pass;
        };
        if hot.session != r.session || hot.buy() != r.side.is_buy() {
            return Screen::Pass; // the engine ignores it or cancels the original
        }
        if acct.blocked {
            return Screen::Reject(Limit::Blocked);
        }
        let Some(px) = self.price_ref(hot.instrument, r.qty, r.price) else {
            return Screen::Pass;
        };
        // Worst case: the replacement exposes its whole quantity (the engine subtracts
        // shares already done on the chain, which only lowers it).
        let facts = OrderFacts {
            buy: hot.buy(),
            qty: r.qty,
            price: px.1,
            market: r.price >= MARKET_PRICE,
            exposure_add: i64::from(r.qty) - i64::from(hot.leaves()),
            new_order: false,
        };
        let exposure = self
            .ledger
            .exposure(r.session, hot.instrument)
            .copied()
            .unwrap_or_default();
        verdict(limits::check(&acct.limits, &facts, 0, &exposure, &px.0))
    }

    /// Whether a Replace's risk reject consumed `urn` (or a later one) on the channel
    /// while the engine has not passed it.
    #[inline]
    fn is_consumed(&self, session: u16, idx: u8, urn: u32) -> bool {
        let ch = usize::from(session) * CHANNELS + usize::from(idx);
        let engine_next = self.engine.next_user_ref_num(session, idx).unwrap_or(0);
        self.consumed
            .get(ch)
            .is_some_and(|&c| urn <= c && urn >= engine_next)
    }

    /// The collar reference and the price for notional, or `None` for an order the
    /// engine will reject anyway (unknown instrument, bad quantity, outside the band).
    #[inline]
    fn price_ref(&self, instrument: u16, qty: u32, price: u64) -> Option<(PriceRef, u64)> {
        let p = self.ledger.prices(instrument)?;
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

    #[cold]
    fn reject<S: EventSink>(&mut self, cmd: &Command, limit: Limit, sink: &mut S) {
        self.counters.rejects[limit as usize] += 1;
        let reason = limit.reject().engine_reason();
        match cmd {
            Command::Enter(e) => {
                // The engine runs the Enter with quantity 0: it expires what is due,
                // ignores a retransmission, consumes the UserRefNum and rejects; the
                // rejection leaves with the risk reason.
                let invalid = Command::Enter(Enter { qty: 0, ..*e });
                let mut obs = Rewrite {
                    ledger: &mut self.ledger,
                    inner: sink,
                    reason,
                };
                self.engine.process(&invalid, &mut obs);
            }
            Command::Replace(r) => self.reject_replace(r, reason, sink),
            _ => {}
        }
    }

    /// A Replace cannot be sent to the engine so that it is rejected (invalid details
    /// cancel the original): the rejection is emitted here and its UserRefNum is
    /// marked consumed, as the engine does for a Replace of a halted instrument.
    fn reject_replace<S: EventSink>(&mut self, r: &Replace, reason: RejectReason, sink: &mut S) {
        let (s, x, urn) = (r.session, r.user_ref_idx, r.user_ref_num);
        let owned = self
            .ledger
            .live(r.order)
            .is_some_and(|(_, c)| c.user_ref_idx == x && c.user_ref_num == r.orig_user_ref_num);
        if !owned
            || self
                .engine
                .next_user_ref_num(s, x)
                .is_none_or(|next| urn < next)
        {
            let mut obs = Observer {
                ledger: &mut self.ledger,
                inner: sink,
            };
            // Not this channel's live order, or a retransmission: the engine ignores it.
            return self.engine.process(&Command::Replace(*r), &mut obs);
        }
        self.advance_time(r.ts_ns, sink);
        let ch = usize::from(s) * CHANNELS + usize::from(x);
        if let Some(c) = self.consumed.get_mut(ch) {
            *c = urn;
        }
        if let Some(a) = self.accounts.get_mut(usize::from(s)) {
            a.consumed_any = true;
        }
        sink.order_event(&OrderEvent::Rejected(Rejected {
            ts_ns: r.ts_ns,
            session: s,
            user_ref_idx: x,
            user_ref_num: urn,
            reason,
        }));
    }

    #[cold]
    fn retransmission<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        let (ts_ns, session, user_ref_idx, user_ref_num) = match cmd {
            Command::Enter(e) => (e.ts_ns, e.session, e.user_ref_idx, e.user_ref_num),
            Command::Replace(r) => (r.ts_ns, r.session, r.user_ref_idx, r.user_ref_num),
            Command::MassCancel(m) => (m.ts_ns, m.session, m.user_ref_idx, m.user_ref_num),
            _ => return,
        };
        self.advance_time(ts_ns, sink);
        self.counters.retransmissions += 1;
        sink.order_event(&OrderEvent::Ignored(Ignored {
            ts_ns,
            session,
            user_ref_idx,
            user_ref_num,
            reason: IgnoreReason::UserRefNumNotIncreasing,
        }));
    }

    /// Runs the engine's clock to `ts_ns` (GTT expiries due by then come first, as for
    /// a command the engine processes).
    fn advance_time<S: EventSink>(&mut self, ts_ns: u64, sink: &mut S) {
        let mut obs = Observer {
            ledger: &mut self.ledger,
            inner: sink,
        };
        self.engine
            .process(&Command::Tick(Tick { ts_ns }), &mut obs);
    }

    /// Kill switch: blocks `account` (new orders and replaces are rejected with
    /// [`RiskReject::FirmNotAuthorized`]) and cancels every open order of it through
    /// the engine (a full Cancel per order: `Canceled`, reason `U`; no UserRefNum is
    /// consumed). Returns the orders cancelled. Takes one scan of the ledger up to the
    /// highest order-pool index in use (8-byte entries), not per command.
    pub fn kill<S: EventSink>(&mut self, account: u16, ts_ns: u64, sink: &mut S) -> u32 {
        let Some(a) = self.accounts.get_mut(usize::from(account)) else {
            return 0;
        };
        a.blocked = true;
        let mut canceled = 0;
        let mut from = 0;
        // One forward pass: a cancel only removes orders, so the scan never revisits.
        while let Some((i, order, cold)) = self.ledger.next_order_of(account, from) {
            from = i + 1;
            let cancel = Command::Cancel(Cancel {
                ts_ns,
                session: account,
                user_ref_idx: cold.user_ref_idx,
                user_ref_num: cold.user_ref_num,
                order,
                qty: 0,
            });
            let mut obs = Observer {
                ledger: &mut self.ledger,
                inner: sink,
            };
            self.engine.process(&cancel, &mut obs);
            canceled += u32::from(self.ledger.live(order).is_none());
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
