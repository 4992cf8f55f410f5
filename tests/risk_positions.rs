//! Property: whatever the command stream, RiskCore's positions and open quantities
//! equal those recomputed from its event stream and the engine's orders, and no limit
//! is ever exceeded.

use std::collections::HashMap;

use proptest::prelude::*;
use tickgate::config::Config;
use tickgate::engine::command::{Cancel, Enter, MassCancel, Modify, Replace};
use tickgate::engine::types::{ALL_INSTRUMENTS, MARKET_PRICE, firm_id};
use tickgate::engine::{
    AnyEvent, Command, Display, Engine, OrderEvent, OrderRef, Side, StpMode, Tif, VecSink,
};
use tickgate::risk::{AccountLimits, AccountRisk, RiskCore};

const SESSIONS: u16 = 2;
const INSTRUMENTS: u16 = 2; // AAPL, MSFT
const REFS: [u64; 2] = [1_900_000, 4_200_000];
const TICK: u64 = 100;

#[derive(Debug, Clone)]
enum Op {
    Enter {
        session: u16,
        instrument: u16,
        side: u8,
        qty: u32,
        ticks: i64,
        ioc: bool,
        market: bool,
    },
    Cancel {
        pick: usize,
        qty: u32,
    },
    Replace {
        pick: usize,
        qty: u32,
        ticks: i64,
    },
    Modify {
        pick: usize,
        qty: u32,
    },
    MassCancel {
        session: u16,
    },
    Kill {
        session: u16,
    },
    Enable {
        session: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..SESSIONS, 0..INSTRUMENTS, 0u8..3, 1u32..400, -8i64..8, any::<bool>(), prop::bool::weighted(0.05))
            .prop_map(|(session, instrument, side, qty, ticks, ioc, market)| Op::Enter {
                session, instrument, side, qty, ticks, ioc, market
            }),
        4 => (any::<usize>(), 0u32..300).prop_map(|(pick, qty)| Op::Cancel { pick, qty }),
        2 => (any::<usize>(), 1u32..500, -8i64..8)
            .prop_map(|(pick, qty, ticks)| Op::Replace { pick, qty, ticks }),
        1 => (any::<usize>(), 0u32..300).prop_map(|(pick, qty)| Op::Modify { pick, qty }),
        1 => (0..SESSIONS).prop_map(|session| Op::MassCancel { session }),
        1 => (0..SESSIONS).prop_map(|session| Op::Kill { session }),
        1 => (0..SESSIONS).prop_map(|session| Op::Enable { session }),
    ]
}

/// Session 0 is limited; session 1 trades freely against it.
fn limited() -> AccountLimits {
    AccountLimits {
        max_order_qty: 300,
        max_order_notional: 300 * 1_950_000,
        max_open_orders: 6,
        max_position: 700,
        collar_bps: 20,
        collar_ticks: 0,
    }
}

struct Model {
    core: RiskCore,
    /// Orders ever accepted: handle → (session, instrument, buy).
    owner: HashMap<OrderRef, (u16, u16, bool)>,
    /// Live-ish orders for picking: (handle, session, UserRefNum).
    known: Vec<(OrderRef, u16, u32)>,
    position: HashMap<(u16, u16), i64>,
    urn: [u32; 2],
    ts_ns: u64,
}

impl Model {
    fn new() -> Self {
        let mut config = Config::embedded();
        config.engine.max_orders = 2048;
        config.engine.max_sessions = SESSIONS;
        let engine = Engine::from_config(&config).expect("engine");
        let accounts = [
            AccountRisk {
                firm: firm_id("DEM1"),
                limits: limited(),
            },
            AccountRisk {
                firm: firm_id("DEM2"),
                limits: AccountLimits::UNLIMITED,
            },
        ];
        Model {
            core: RiskCore::new(engine, 2048, SESSIONS, &accounts),
            owner: HashMap::new(),
            known: Vec::new(),
            position: HashMap::new(),
            urn: [0; 2],
            ts_ns: 0,
        }
    }

    fn next_urn(&mut self, s: u16) -> u32 {
        self.urn[usize::from(s)] += 1;
        self.urn[usize::from(s)]
    }

    fn pick(&self, pick: usize) -> Option<(OrderRef, u16, u32)> {
        (!self.known.is_empty()).then(|| self.known[pick % self.known.len()])
    }

    fn command(&mut self, op: &Op) -> Option<Command> {
        self.ts_ns += 1_000;
        let ts_ns = self.ts_ns;
        Some(match *op {
            Op::Enter {
                session,
                instrument,
                side,
                qty,
                ticks,
                ioc,
                market,
            } => {
                let reference = REFS[usize::from(instrument)] as i64;
                let price = if market {
                    MARKET_PRICE
                } else {
                    (reference + ticks * TICK as i64) as u64
                };
                Command::Enter(Enter {
                    ts_ns,
                    session,
                    user_ref_idx: 0,
                    user_ref_num: self.next_urn(session),
                    instrument,
                    side: [Side::Buy, Side::Sell, Side::SellShort][usize::from(side)],
                    qty,
                    price,
                    tif: if ioc || market { Tif::Ioc } else { Tif::Day },
                    display: Display::Visible,
                    post_only: false,
                    stp: StpMode::None,
                    firm: firm_id(if session == 0 { "DEM1" } else { "DEM2" }),
                    min_qty: 0,
                    max_floor: 0,
                    expire_time_s: 0,
                })
            }
            Op::Cancel { pick, qty } => {
                let (order, session, urn) = self.pick(pick)?;
                Command::Cancel(Cancel {
                    ts_ns,
                    session,
                    user_ref_idx: 0,
                    user_ref_num: urn,
                    order,
                    qty,
                })
            }
            Op::Modify { pick, qty } => {
                let (order, session, urn) = self.pick(pick)?;
                let &(_, _, buy) = self.owner.get(&order)?;
                let side = if buy { Side::Buy } else { Side::SellShort };
                Command::Modify(Modify {
                    ts_ns,
                    session,
                    user_ref_idx: 0,
                    user_ref_num: urn,
                    order,
                    side,
                    qty,
                })
            }
            Op::Replace { pick, qty, ticks } => {
                let (order, session, urn) = self.pick(pick)?;
                let &(_, instrument, buy) = self.owner.get(&order)?;
                let price = (REFS[usize::from(instrument)] as i64 + ticks * TICK as i64) as u64;
                Command::Replace(Replace {
                    ts_ns,
                    session,
                    user_ref_idx: 0,
                    user_ref_num: self.next_urn(session),
                    orig_user_ref_num: urn,
                    order,
                    qty,
                    price,
                    tif: Tif::Day,
                    display: Display::Visible,
                    post_only: false,
                    side: if buy { Side::Buy } else { Side::Sell },
                    min_qty: u32::MAX,
                    max_floor: u32::MAX,
                    expire_time_s: u32::MAX,
                })
            }
            Op::MassCancel { session } => Command::MassCancel(MassCancel {
                ts_ns,
                session,
                user_ref_idx: 0,
                user_ref_num: self.next_urn(session),
                firm: firm_id(if session == 0 { "DEM1" } else { "DEM2" }),
                instrument: ALL_INSTRUMENTS,
            }),
            Op::Kill { .. } | Op::Enable { .. } => return None,
        })
    }

    fn apply(&mut self, op: &Op) {
        let mut sink = VecSink::default();
        match *op {
            Op::Kill { session } => {
                self.core.kill(session, self.ts_ns, &mut sink);
            }
            Op::Enable { session } => self.core.enable(session),
            _ => match self.command(op) {
                Some(cmd) => self.core.process(&cmd, &mut sink),
                None => return,
            },
        }
        for e in sink.events {
            let AnyEvent::Order(e) = e else { continue };
            match e {
                OrderEvent::Accepted(a) => {
                    self.owner
                        .insert(a.order, (a.session, a.instrument, a.side.is_buy()));
                    self.known.push((a.order, a.session, a.user_ref_num));
                }
                OrderEvent::Replaced(r) => {
                    for k in &mut self.known {
                        if k.0 == r.order {
                            k.2 = r.user_ref_num;
                        }
                    }
                }
                OrderEvent::Executed(x) => {
                    let (s, i, buy) = self.owner[&x.order];
                    let q = i64::from(x.qty);
                    *self.position.entry((s, i)).or_default() += if buy { q } else { -q };
                }
                _ => {}
            }
        }
        let core = &self.core;
        self.known
            .retain(|k| core.engine().order_leaves(k.0).is_some());
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let mut open = HashMap::<(u16, u16, bool), i64>::new();
        let mut count = [0u32; SESSIONS as usize];
        for (order, &(s, i, buy)) in &self.owner {
            if let Some(leaves) = self.core.engine().order_leaves(*order) {
                *open.entry((s, i, buy)).or_default() += i64::from(leaves);
                count[usize::from(s)] += 1;
            }
        }
        for s in 0..SESSIONS {
            prop_assert_eq!(self.core.open_orders(s), Some(count[usize::from(s)]));
            for i in 0..INSTRUMENTS {
                let e = self.core.exposure(s, i).expect("exposure");
                let pos = self.position.get(&(s, i)).copied().unwrap_or(0);
                prop_assert_eq!(e.net, pos, "position of session {} in {}", s, i);
                prop_assert_eq!(e.open_buy, open.get(&(s, i, true)).copied().unwrap_or(0));
                prop_assert_eq!(e.open_sell, open.get(&(s, i, false)).copied().unwrap_or(0));
                if s == 0 {
                    let max = limited().max_position;
                    prop_assert!(e.worst_case(true, 0) <= max, "{:?}", e);
                    prop_assert!(e.worst_case(false, 0) <= max, "{:?}", e);
                }
            }
        }
        prop_assert!(count[0] <= limited().max_open_orders);
        prop_assert_eq!(self.core.untracked_events(), 0);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn positions_equal_positions_recomputed_from_the_event_stream(
        ops in prop::collection::vec(op(), 1..300)
    ) {
        let mut m = Model::new();
        for op in &ops {
            m.apply(op);
            m.check()?;
        }
        prop_assert!(m.core.engine().check_invariants().is_ok());
    }
}
