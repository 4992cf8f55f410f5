//! Shared helpers for the engine tests: a small engine, command builders, event filters.
#![allow(dead_code)]

pub mod reference;

use tickgate::config::{EngineConfig, InstrumentConfig};
use tickgate::engine::command::{Cancel, Enter, MassCancel, Modify, Replace, SetTradingState};
use tickgate::engine::command::{INHERIT, Tick};
use tickgate::engine::event::{Accepted, MdEvent, OrderEvent};
use tickgate::engine::types::firm_id;
use tickgate::engine::{
    AnyEvent, Command, Display, Engine, OrderRef, Side, StpMode, Tif, TradingState,
};

/// Instrument 0: tick 100 ($0.01), reference $100.00, band ±10% → 90.00..110.00.
pub const T: u16 = 0;
/// Instrument 1: same but lot size 100.
pub const LOT: u16 = 1;

/// $100.00 in price units.
pub const P100: u64 = 1_000_000;
/// One tick.
pub const TICK: u64 = 100;

pub fn px(dollars_cents: u64) -> u64 {
    dollars_cents * 100
}

pub fn instrument(symbol: &str, lot: u32) -> InstrumentConfig {
    let text = format!(
        "symbol = \"{symbol}\"\ntick_size = 100\nlot_size = {lot}\nmin_qty = {lot}\n\
         reference_price = 1000000\nband_bps = 1000\n"
    );
    toml::from_str(&text).expect("test instrument parses")
}

pub fn config(max_orders: u32) -> EngineConfig {
    EngineConfig {
        max_orders,
        max_sessions: 4,
        max_levels_per_instrument: 1 << 16,
        drain_limit: 16,
    }
}

pub fn engine_with(max_orders: u32) -> Engine {
    Engine::new(
        &config(max_orders),
        &[instrument("TEST", 1), instrument("LOT", 100)],
    )
    .expect("test engine builds")
}

/// Firm A and B.
pub fn firm_a() -> u32 {
    firm_id("FRMA")
}
pub fn firm_b() -> u32 {
    firm_id("FRMB")
}

/// A Day limit order on instrument T, session 0, firm A; `user_ref_num` filled on submit.
pub fn limit(side: Side, qty: u32, price: u64) -> Enter {
    Enter {
        ts_ns: 0,
        session: 0,
        user_ref_idx: 0,
        user_ref_num: 0,
        instrument: T,
        side,
        qty,
        price,
        tif: Tif::Day,
        display: Display::Visible,
        post_only: false,
        stp: StpMode::None,
        firm: firm_a(),
        min_qty: 0,
        max_floor: 0,
        expire_time_s: 0,
    }
}

/// A test bench: an engine, a clock and per-session UserRefNum counters.
pub struct Bench {
    pub engine: Engine,
    pub ts_ns: u64,
    next_urn: [u32; 4],
}

impl Default for Bench {
    fn default() -> Self {
        Self::new()
    }
}

impl Bench {
    pub fn new() -> Self {
        Self::with_engine(engine_with(1024))
    }

    pub fn with_engine(engine: Engine) -> Self {
        Bench {
            engine,
            ts_ns: 1_000,
            next_urn: [0; 4],
        }
    }

    /// Runs one command and returns its events; checks invariants after it.
    pub fn run(&mut self, cmd: Command) -> Vec<AnyEvent> {
        let mut sink = tickgate::engine::VecSink::default();
        self.engine.process(&cmd, &mut sink);
        self.engine
            .check_invariants()
            .expect("book invariants hold");
        sink.events
    }

    pub fn urn(&mut self, session: u16) -> u32 {
        self.next_urn[usize::from(session)] += 1;
        self.next_urn[usize::from(session)]
    }

    fn tick(&mut self) -> u64 {
        self.ts_ns += 1_000;
        self.ts_ns
    }

    /// Submits an Enter (filling ts and UserRefNum if 0); returns events and the handle.
    pub fn enter(&mut self, mut e: Enter) -> (Vec<AnyEvent>, Placed) {
        e.ts_ns = self.tick();
        if e.user_ref_num == 0 {
            e.user_ref_num = self.urn(e.session);
        }
        let ev = self.run(Command::Enter(e));
        let order = accepted(&ev).map(|a| a.order).unwrap_or(OrderRef::NONE);
        let placed = Placed {
            order,
            session: e.session,
            user_ref_idx: e.user_ref_idx,
            user_ref_num: e.user_ref_num,
        };
        (ev, placed)
    }

    /// Enters and returns only the handle.
    pub fn place(&mut self, e: Enter) -> Placed {
        self.enter(e).1
    }

    pub fn cancel(&mut self, p: &Placed, qty: u32) -> Vec<AnyEvent> {
        let c = Cancel {
            ts_ns: self.tick(),
            session: p.session,
            user_ref_idx: p.user_ref_idx,
            user_ref_num: p.user_ref_num,
            order: p.order,
            qty,
        };
        self.run(Command::Cancel(c))
    }

    pub fn modify(&mut self, p: &Placed, side: Side, qty: u32) -> Vec<AnyEvent> {
        let c = Modify {
            ts_ns: self.tick(),
            session: p.session,
            user_ref_idx: p.user_ref_idx,
            user_ref_num: p.user_ref_num,
            order: p.order,
            side,
            qty,
        };
        self.run(Command::Modify(c))
    }

    /// A Replace of `p` keeping everything but quantity and price.
    pub fn replace_cmd(&mut self, p: &Placed, side: Side, qty: u32, price: u64) -> Replace {
        Replace {
            ts_ns: self.tick(),
            session: p.session,
            user_ref_idx: p.user_ref_idx,
            user_ref_num: self.urn(p.session),
            orig_user_ref_num: p.user_ref_num,
            order: p.order,
            qty,
            price,
            tif: Tif::Day,
            display: Display::Visible,
            post_only: false,
            side,
            min_qty: INHERIT,
            max_floor: INHERIT,
            expire_time_s: INHERIT,
        }
    }

    /// Runs a Replace and returns the events and the replacement's handle.
    pub fn replace(&mut self, p: &Placed, r: Replace) -> (Vec<AnyEvent>, Placed) {
        let ev = self.run(Command::Replace(r));
        let placed = Placed {
            user_ref_num: r.user_ref_num,
            ..*p
        };
        (ev, placed)
    }

    pub fn mass_cancel(&mut self, session: u16, firm: u32, instrument: u16) -> Vec<AnyEvent> {
        let c = MassCancel {
            ts_ns: self.tick(),
            session,
            user_ref_idx: 0,
            user_ref_num: self.urn(session),
            firm,
            instrument,
        };
        self.run(Command::MassCancel(c))
    }

    pub fn set_state(&mut self, instrument: u16, state: TradingState) -> Vec<AnyEvent> {
        let c = SetTradingState {
            ts_ns: self.tick(),
            instrument,
            state,
        };
        self.run(Command::SetTradingState(c))
    }

    pub fn tick_to(&mut self, ts_ns: u64) -> Vec<AnyEvent> {
        self.ts_ns = ts_ns;
        self.run(Command::Tick(Tick { ts_ns }))
    }

    pub fn leaves(&self, p: &Placed) -> Option<u32> {
        self.engine.order_leaves(p.order)
    }
}

/// What a test needs to address an order later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub order: OrderRef,
    pub session: u16,
    pub user_ref_idx: u8,
    pub user_ref_num: u32,
}

pub fn accepted(ev: &[AnyEvent]) -> Option<Accepted> {
    ev.iter().find_map(|e| match e {
        AnyEvent::Order(OrderEvent::Accepted(a)) => Some(*a),
        _ => None,
    })
}

pub fn order_events(ev: &[AnyEvent]) -> Vec<OrderEvent> {
    ev.iter()
        .filter_map(|e| match e {
            AnyEvent::Order(o) => Some(*o),
            _ => None,
        })
        .collect()
}

pub fn md_events(ev: &[AnyEvent]) -> Vec<MdEvent> {
    ev.iter()
        .filter_map(|e| match e {
            AnyEvent::Market(m) => Some(*m),
            _ => None,
        })
        .collect()
}

/// One-letter kinds of the events, e.g. "A E E md:E" → ["A", "E", "E", "md:E"].
pub fn kinds(ev: &[AnyEvent]) -> Vec<String> {
    ev.iter()
        .map(|e| {
            let mut buf = [0u8; tickgate::engine::RECORD_BYTES];
            match e {
                AnyEvent::Order(o) => {
                    o.encode(&mut buf);
                    (buf[0] as char).to_string()
                }
                AnyEvent::Market(m) => {
                    m.encode_into(&mut buf);
                    format!("md:{}", buf[0] as char)
                }
            }
        })
        .collect()
}
