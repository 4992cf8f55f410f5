//! The matching core's state and command dispatch.

use std::fmt;

use super::book::Book;
use super::command::Command;
use super::event::{EventSink, Ignored, OrderEvent};
use super::instrument::{Instrument, InstrumentError};
use super::orders::{NIL, OrderPool};
use super::timers::Timers;
use super::types::{IgnoreReason, OrderRef, TradingState};
use crate::config::{Config, EngineConfig, InstrumentConfig};

/// UserRefIdx channels per session.
pub(crate) const CHANNELS: usize = 256;

/// Why the core could not be built from a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// An instrument table is invalid.
    Instrument(InstrumentError),
    /// A capacity is out of range.
    Capacity(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Instrument(e) => write!(f, "{e}"),
            Self::Capacity(msg) => write!(f, "engine capacity: {msg}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// The matching core: the single writer of every book, order and sequence counter.
///
/// Feed it [`Command`]s with [`Engine::process`]; it writes events to an [`EventSink`].
/// All memory is allocated in [`Engine::new`]; processing never allocates.
///
/// ```
/// use tickgate::config::Config;
/// use tickgate::engine::{Engine, NullSink};
/// let engine = Engine::from_config(&Config::embedded()).unwrap();
/// assert_eq!(engine.instruments().len(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) instruments: Vec<Instrument>,
    pub(crate) books: Vec<Book>,
    pub(crate) pool: OrderPool,
    pub(crate) timers: Timers,
    /// UserRefNum high-water mark per (session, UserRefIdx).
    pub(crate) hwm: Vec<u32>,
    /// Per-session intrusive list of resting orders (mass cancel), oldest first.
    pub(crate) sess_head: Vec<u32>,
    pub(crate) sess_tail: Vec<u32>,
    pub(crate) next_order_number: u64,
    pub(crate) next_match_number: u64,
    pub(crate) now_ns: u64,
    pub(crate) commands: u64,
    /// Instrument touched by the last command (`u16::MAX`: several), for debug checks.
    pub(crate) touched: u16,
}

impl Engine {
    /// Builds the core: instruments in config order, all capacities preallocated.
    pub fn new(cfg: &EngineConfig, instruments: &[InstrumentConfig]) -> Result<Self, EngineError> {
        if cfg.max_orders == 0 || cfg.max_orders == u32::MAX || cfg.max_sessions == 0 {
            return Err(EngineError::Capacity(
                "engine.max_orders and engine.max_sessions must be positive".into(),
            ));
        }
        if instruments.len() >= usize::from(u16::MAX) {
            return Err(EngineError::Capacity("at most 65534 instruments".into()));
        }
        let instruments = instruments
            .iter()
            .enumerate()
            .map(|(i, c)| Instrument::from_config(i as u16, c, cfg.max_levels_per_instrument))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Instrument)?;
        let books = instruments
            .iter()
            .map(|i| Book::new(i.level_count()))
            .collect();
        let sessions = usize::from(cfg.max_sessions);
        Ok(Engine {
            instruments,
            books,
            pool: OrderPool::new(cfg.max_orders),
            timers: Timers::new(cfg.max_orders),
            hwm: vec![0; sessions * CHANNELS],
            sess_head: vec![NIL; sessions],
            sess_tail: vec![NIL; sessions],
            next_order_number: 1,
            next_match_number: 1,
            now_ns: 0,
            commands: 0,
            touched: u16::MAX,
        })
    }

    /// Builds the core from a whole config file.
    pub fn from_config(config: &Config) -> Result<Self, EngineError> {
        Self::new(&config.engine, &config.instruments)
    }

    /// Applies one command; events go to `sink` in a deterministic order. Never panics
    /// on any command and never allocates.
    ///
    /// NB: `inline(always)` keeps the whole engine in the caller's loop even when a
    /// binary calls it from two places (the engine bench's timed and untimed loops):
    /// left to LLVM it became an out-of-line call there, +20% instructions per command.
    #[inline(always)]
    pub fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        self.now_ns = cmd.ts_ns();
        self.commands += 1;
        self.touched = u16::MAX;
        self.expire_due(sink);
        match cmd {
            Command::Enter(c) => self.enter(c, sink),
            Command::Replace(c) => self.replace(c, sink),
            Command::Cancel(c) => self.cancel(c, sink),
            Command::Modify(c) => self.modify(c, sink),
            Command::MassCancel(c) => self.mass_cancel(c, sink),
            Command::SetTradingState(c) => self.set_trading_state(c, sink),
            Command::SystemEvent(c) => self.system_event(c, sink),
            Command::Tick(_) => {}
            Command::Echo(c) => sink.order_event(&OrderEvent::Echoed(super::event::Echoed {
                ts_ns: c.ts_ns,
                session: c.session,
                user_ref_idx: c.user_ref_idx,
                user_ref_num: c.user_ref_num,
                len: c.len,
                bytes: c.bytes,
            })),
            // Risk acts on it (`risk::RiskCore`); alone, the engine only answers.
            Command::Control(c) => sink.order_event(&OrderEvent::Echoed(c.answer(0))),
        }
        #[cfg(debug_assertions)]
        self.debug_check();
    }

    /// Hints the CPU to fetch the order line a Cancel, Modify or Replace names (the
    /// core loop calls it ahead of processing: `engine::core`).
    #[inline(always)]
    pub fn prefetch(&self, cmd: &Command) {
        let order = match cmd {
            Command::Cancel(c) => c.order,
            Command::Replace(c) => c.order,
            Command::Modify(c) => c.order,
            _ => return,
        };
        if let Some(o) = self.pool.orders.get(order.index() as usize) {
            super::orders::prefetch(o);
        }
    }

    /// The instruments, indexed by stock locate.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// The index of an instrument by symbol (setup path; linear search).
    pub fn locate(&self, symbol: &str) -> Option<u16> {
        let s = super::types::symbol8(symbol);
        self.instruments
            .iter()
            .position(|i| i.symbol == s)
            .map(|i| i as u16)
    }

    /// Trading state of an instrument.
    pub fn trading_state(&self, instrument: u16) -> Option<TradingState> {
        self.instruments
            .get(usize::from(instrument))
            .map(|i| i.state)
    }

    /// Live (resting) orders.
    pub fn live_orders(&self) -> u32 {
        self.pool.live()
    }

    /// Commands processed.
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// Best bid and ask prices of an instrument.
    pub fn best_prices(&self, instrument: u16) -> (Option<u64>, Option<u64>) {
        let (Some(ins), Some(book)) = (
            self.instruments.get(usize::from(instrument)),
            self.books.get(usize::from(instrument)),
        ) else {
            return (None, None);
        };
        let p = |l: u32| (l != NIL).then(|| ins.level_price(l));
        (p(book.best_bid), p(book.best_ask))
    }

    /// Open (leaves) shares of a live order, `None` if the handle is stale.
    pub fn order_leaves(&self, order: OrderRef) -> Option<u32> {
        self.pool
            .lookup(order)
            .map(|i| self.pool.orders[i as usize].leaves)
    }

    /// Instrument and open shares of a live order (what the pre-trade check of a
    /// Replace is given, [`EventSink::admit_replace`]), `None` if the handle is stale.
    pub fn order_instrument_leaves(&self, order: OrderRef) -> Option<(u16, u32)> {
        let o = &self.pool.orders[self.pool.lookup(order)? as usize];
        Some((o.instrument, o.leaves))
    }

    /// The first resting order of `session` (the oldest in its session list): its
    /// handle, UserRefIdx and UserRefNum (what a Cancel of it names).
    pub fn first_order_of(&self, session: u16) -> Option<(OrderRef, u8, u32)> {
        let idx = *self.sess_head.get(usize::from(session))?;
        let o = self.pool.orders.get(idx as usize)?;
        Some((self.pool.handle(idx), o.user_ref_idx, o.user_ref_num))
    }

    /// Next UserRefNum the channel accepts (OUCH Account Query).
    pub fn next_user_ref_num(&self, session: u16, user_ref_idx: u8) -> Option<u32> {
        let ch = self.channel(session, user_ref_idx)?;
        Some(self.hwm[ch].saturating_add(1))
    }

    /// Index into `hwm` of a (session, channel), or `None` for an unknown session.
    #[inline]
    pub(crate) fn channel(&self, session: u16, user_ref_idx: u8) -> Option<usize> {
        let ch = usize::from(session) * CHANNELS + usize::from(user_ref_idx);
        (ch < self.hwm.len()).then_some(ch)
    }

    /// The slot of a live order owned by (session, channel, UserRefNum).
    #[inline]
    pub(crate) fn owned(&self, r: OrderRef, session: u16, idx: u8, urn: u32) -> Option<u32> {
        let slot = self.pool.lookup(r)?;
        let o = &self.pool.orders[slot as usize];
        (o.session == session && o.user_ref_idx == idx && o.user_ref_num == urn).then_some(slot)
    }

    /// Takes the next order number (also the time priority).
    #[inline]
    pub(crate) fn take_order_number(&mut self) -> u64 {
        let n = self.next_order_number;
        self.next_order_number += 1;
        n
    }

    #[inline]
    pub(crate) fn ignore<S: EventSink>(
        &self,
        sink: &mut S,
        session: u16,
        user_ref_idx: u8,
        user_ref_num: u32,
        reason: IgnoreReason,
    ) {
        sink.order_event(&OrderEvent::Ignored(Ignored {
            ts_ns: self.now_ns,
            session,
            user_ref_idx,
            user_ref_num,
            reason,
        }));
    }

    /// Checks every book and the pool: never crossed, level totals equal their orders,
    /// FIFO links and time priority consistent, resting count equals live orders.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut resting = 0;
        for (i, book) in self.books.iter().enumerate() {
            resting += book.check(&self.pool.orders, i as u16)?;
        }
        if resting != self.pool.live() as usize {
            return Err(format!(
                "{resting} resting orders but {} live",
                self.pool.live()
            ));
        }
        Ok(())
    }

    /// Checks the book of one instrument.
    pub fn check_book(&self, instrument: u16) -> Result<(), String> {
        match self.books.get(usize::from(instrument)) {
            Some(b) => b.check(&self.pool.orders, instrument).map(|_| ()),
            None => Ok(()),
        }
    }

    #[cfg(debug_assertions)]
    fn debug_check(&self) {
        let r = if self.touched == u16::MAX {
            self.check_invariants()
        } else {
            self.check_book(self.touched)
        };
        if let Err(e) = r {
            panic!("book invariant broken after command {}: {e}", self.commands);
        }
    }

    /// A 64-bit hash of the whole market state: instrument states, every resting order in
    /// book order with all its fields, timers, UserRefNum high-water marks and counters.
    /// Equal streams of commands give equal hashes.
    pub fn state_hash(&self) -> u64 {
        let mut h = StateHasher::default();
        h.u64(self.next_order_number);
        h.u64(self.next_match_number);
        h.u64(u64::from(self.pool.live()));
        for (ins, book) in self.instruments.iter().zip(&self.books) {
            h.u64(u64::from(ins.state.to_byte()));
            for (lvl, level) in book.levels.iter().enumerate() {
                let mut idx = level.head;
                if idx != NIL {
                    h.u64(lvl as u64);
                }
                while idx != NIL {
                    self.hash_order(&mut h, idx);
                    idx = self.pool.orders[idx as usize].next;
                }
            }
        }
        for (i, &m) in self.hwm.iter().enumerate().filter(|(_, m)| **m != 0) {
            h.u64(i as u64);
            h.u64(u64::from(m));
        }
        h.0
    }

    fn hash_order(&self, h: &mut StateHasher, idx: u32) {
        let o = &self.pool.orders[idx as usize];
        h.u64(self.pool.handle(idx).0);
        h.u64(o.order_number);
        h.u64(u64::from(o.leaves) << 32 | u64::from(o.display));
        h.u64(u64::from(o.max_floor) << 32 | u64::from(o.done));
        h.u64(u64::from(o.user_ref_num) << 32 | u64::from(o.firm));
        h.u64(u64::from(o.session) << 32 | u64::from(o.user_ref_idx));
        let bytes = [o.side.to_byte(), o.tif.to_byte(), o.flags, o.stp.to_byte()];
        h.u64(u64::from(u32::from_be_bytes(bytes)));
        h.u64(self.timers.expiry(idx).unwrap_or(0));
    }
}

/// FNV-1a over 64-bit words: tiny, deterministic across runs and platforms.
struct StateHasher(u64);

impl Default for StateHasher {
    fn default() -> Self {
        StateHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl StateHasher {
    fn u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
