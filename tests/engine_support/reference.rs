//! An obviously-correct, slow reference matching engine for the differential test.
//!
//! Written from the rules in docs/MATCHING.md, not from the engine's data structures:
//! resting orders live in one flat `Vec`; every step sorts or scans it. Order handles
//! are canonical ids 1, 2, 3 … in order of acceptance (the test maps the engine's
//! handles onto these).

use std::collections::HashMap;

use tickgate::engine::command::*;
use tickgate::engine::event::*;
use tickgate::engine::types::{ALL_INSTRUMENTS, MARKET_PRICE};
use tickgate::engine::{
    AnyEvent, CancelReason, Command, Display, IgnoreReason, Liquidity, OrderRef, RejectReason,
    Side, StpMode, Tif, TradingState,
};

#[derive(Debug, Clone)]
pub struct RefInstrument {
    pub symbol: [u8; 8],
    pub tick: u64,
    pub lot: u32,
    pub min_qty: u32,
    pub max_qty: u32,
    pub low: u64,
    pub high: u64,
    pub state: TradingState,
}

#[derive(Debug, Clone)]
struct RefOrder {
    id: u64,
    session: u16,
    idx: u8,
    urn: u32,
    instrument: u16,
    side: Side,
    price: u64,
    leaves: u32,
    display: u32,
    max_floor: u32,
    done: u32,
    firm: u32,
    stp: StpMode,
    hidden: bool,
    tif: Tif,
    number: u64,
    expire: Option<(u64, u64)>,
    rest_seq: u64,
}

impl RefOrder {
    fn buy(&self) -> bool {
        self.side == Side::Buy
    }
}

pub struct RefEngine {
    pub ins: Vec<RefInstrument>,
    book: Vec<RefOrder>,
    hwm: HashMap<(u16, u8), u32>,
    max_orders: usize,
    max_sessions: u16,
    next_id: u64,
    next_number: u64,
    next_match: u64,
    next_rest_seq: u64,
    now: u64,
    out: Vec<AnyEvent>,
}

struct Checked {
    price: u64,
    tif: Tif,
    hidden: bool,
    expire: Option<u64>,
    min_qty: u32,
    max_floor: u32,
}

impl RefEngine {
    pub fn new(ins: Vec<RefInstrument>, max_orders: usize, max_sessions: u16) -> Self {
        RefEngine {
            ins,
            book: vec![],
            hwm: HashMap::new(),
            max_orders,
            max_sessions,
            next_id: 1,
            next_number: 1,
            next_match: 1,
            next_rest_seq: 1,
            now: 0,
            out: vec![],
        }
    }

    pub fn live_orders(&self) -> usize {
        self.book.len()
    }

    pub fn best(&self, instrument: u16) -> (Option<u64>, Option<u64>) {
        let on = |buy: bool| {
            self.book
                .iter()
                .filter(move |o| o.instrument == instrument && o.buy() == buy)
        };
        (
            on(true).map(|o| o.price).max(),
            on(false).map(|o| o.price).min(),
        )
    }

    pub fn process(&mut self, cmd: &Command) -> Vec<AnyEvent> {
        self.now = cmd.ts_ns();
        self.expire();
        match cmd {
            Command::Enter(c) => self.enter(c),
            Command::Replace(c) => self.replace(c),
            Command::Cancel(c) => self.cancel(c),
            Command::Modify(c) => self.modify(c),
            Command::MassCancel(c) => self.mass_cancel(c),
            Command::SetTradingState(c) => self.set_state(c),
            Command::SystemEvent(c) => self.system_event(c),
            Command::Tick(_) => {}
            Command::Echo(c) => self.o(OrderEvent::Echoed(tickgate::engine::event::Echoed {
                ts_ns: c.ts_ns,
                session: c.session,
                user_ref_idx: c.user_ref_idx,
                user_ref_num: c.user_ref_num,
                len: c.len,
                bytes: c.bytes,
            })),
            Command::Control(c) => self.o(OrderEvent::Echoed(c.answer(0))),
        }
        std::mem::take(&mut self.out)
    }

    fn o(&mut self, e: OrderEvent) {
        self.out.push(AnyEvent::Order(e));
    }

    fn md(&mut self, e: MdEvent) {
        self.out.push(AnyEvent::Market(e));
    }

    fn ignore(&mut self, session: u16, idx: u8, urn: u32, reason: IgnoreReason) {
        let ts_ns = self.now;
        self.o(OrderEvent::Ignored(Ignored {
            ts_ns,
            session,
            user_ref_idx: idx,
            user_ref_num: urn,
            reason,
        }));
    }

    fn canceled(&mut self, o: &RefOrder, qty: u32, reason: CancelReason) {
        let e = Canceled {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
            qty,
            reason,
        };
        self.o(OrderEvent::Canceled(e));
    }

    fn pos(&self, id: u64) -> Option<usize> {
        self.book.iter().position(|o| o.id == id)
    }

    fn owned(&self, r: OrderRef, session: u16, idx: u8, urn: u32) -> Option<usize> {
        self.book
            .iter()
            .position(|o| o.id == r.0 && o.session == session && o.idx == idx && o.urn == urn)
    }

    /// Removes `qty` from a resting order (reserve first), with ITCH X/D.
    fn reduce(&mut self, id: u64, qty: u32) {
        let p = self.pos(id).expect("reduce of a resting order");
        let o = &mut self.book[p];
        let before = o.display;
        let reserve = o.leaves - o.display;
        o.leaves -= qty;
        if qty > reserve {
            o.display -= qty - reserve;
        }
        let o = o.clone();
        let (ts_ns, locate) = (self.now, o.instrument);
        if o.leaves == 0 {
            self.book.remove(p);
            if !o.hidden {
                self.md(MdEvent::OrderDelete(MdOrderDelete {
                    ts_ns,
                    locate,
                    order_number: o.number,
                }));
            }
        } else if !o.hidden && o.display < before {
            let shares = before - o.display;
            self.md(MdEvent::OrderCancel(MdOrderCancel {
                ts_ns,
                locate,
                order_number: o.number,
                shares,
            }));
        }
    }

    fn expire(&mut self) {
        loop {
            let now = self.now;
            let due = self
                .book
                .iter()
                .filter_map(|o| o.expire.filter(|e| e.0 <= now).map(|e| (e, o.id)))
                .min();
            let Some((_, id)) = due else { return };
            let o = self.book[self.pos(id).unwrap()].clone();
            self.canceled(&o, o.leaves, CancelReason::Timeout);
            self.reduce(id, o.leaves);
        }
    }

    /// Contra orders crossing `price` for a taker on `buy` side, best first.
    fn contra(&self, instrument: u16, buy: bool, price: u64) -> Vec<RefOrder> {
        let mut v: Vec<RefOrder> = self
            .book
            .iter()
            .filter(|o| o.instrument == instrument && o.buy() != buy)
            .filter(|o| {
                if buy {
                    o.price <= price
                } else {
                    o.price >= price
                }
            })
            .cloned()
            .collect();
        v.sort_by_key(|o| (if buy { o.price } else { u64::MAX - o.price }, o.number));
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        instrument: u16,
        side: Side,
        qty: u32,
        price: u64,
        tif: Tif,
        display: Display,
        post_only: bool,
        min_qty: u32,
        max_floor: u32,
        expire: Option<Result<u32, u64>>,
    ) -> Result<Checked, RejectReason> {
        let ins = self
            .ins
            .get(instrument as usize)
            .ok_or(RejectReason::InvalidSymbol)?;
        match ins.state {
            TradingState::Halted => return Err(RejectReason::Halted),
            TradingState::Closed => return Err(RejectReason::DestinationClosed),
            TradingState::Expired => return Err(RejectReason::InvalidSymbol),
            TradingState::Trading => {}
        }
        if qty == 0 || qty >= 1_000_000 || !qty.is_multiple_of(ins.lot) || qty < ins.min_qty {
            return Err(RejectReason::InvalidQuantity);
        }
        if qty > ins.max_qty {
            return Err(RejectReason::MaxQuantityExceeded);
        }
        let buy = side == Side::Buy;
        let (mut price, tif) = if price >= MARKET_PRICE {
            (if buy { ins.high } else { ins.low }, Tif::Ioc)
        } else {
            if price == 0 || !price.is_multiple_of(ins.tick) {
                return Err(RejectReason::InvalidPrice);
            }
            if price < ins.low || price > ins.high {
                return Err(RejectReason::FatFinger);
            }
            (price, tif)
        };
        let hidden = display == Display::Hidden;
        if hidden && max_floor > 0 {
            return Err(RejectReason::InvalidDisplay);
        }
        if max_floor > 0 && (max_floor > qty || !max_floor.is_multiple_of(ins.lot)) {
            return Err(RejectReason::InvalidMaxFloor);
        }
        if min_qty > 0 && (min_qty > qty || !min_qty.is_multiple_of(ins.lot) || tif != Tif::Ioc) {
            return Err(RejectReason::InvalidMinQuantity);
        }
        let expire = if tif == Tif::Gtt {
            match expire {
                Some(Ok(s)) if s > 0 && s < 86_400 => Some(self.now + u64::from(s) * 1_000_000_000),
                Some(Err(at)) if at > 0 => Some(at),
                _ => return Err(RejectReason::Other),
            }
        } else {
            None
        };
        if post_only && let Some(best) = self.contra(instrument, buy, price).first() {
            price = if buy {
                best.price.checked_sub(ins.tick)
            } else {
                Some(best.price + ins.tick)
            }
            .filter(|p| *p >= ins.low && *p <= ins.high)
            .ok_or(RejectReason::CrossedMarket)?;
        }
        Ok(Checked {
            price,
            tif,
            hidden,
            expire,
            min_qty,
            max_floor,
        })
    }

    fn enter(&mut self, c: &Enter) {
        if c.session >= self.max_sessions {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::UnknownSession,
            );
        }
        let hw = self.hwm.entry((c.session, c.user_ref_idx)).or_insert(0);
        if c.user_ref_num <= *hw {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::UserRefNumNotIncreasing,
            );
        }
        *hw = c.user_ref_num;
        let expire = (c.tif == Tif::Gtt).then_some(Ok(c.expire_time_s));
        let checked = self
            .check(
                c.instrument,
                c.side,
                c.qty,
                c.price,
                c.tif,
                c.display,
                c.post_only,
                c.min_qty,
                c.max_floor,
                expire,
            )
            .and_then(|k| {
                if self.book.len() >= self.max_orders {
                    Err(RejectReason::ProcessingError)
                } else {
                    Ok(k)
                }
            });
        let k = match checked {
            Ok(k) => k,
            Err(reason) => {
                let e = Rejected {
                    ts_ns: self.now,
                    session: c.session,
                    user_ref_idx: c.user_ref_idx,
                    user_ref_num: c.user_ref_num,
                    reason,
                };
                return self.o(OrderEvent::Rejected(e));
            }
        };
        let o = RefOrder {
            id: self.next_id,
            session: c.session,
            idx: c.user_ref_idx,
            urn: c.user_ref_num,
            instrument: c.instrument,
            side: c.side,
            price: k.price,
            leaves: c.qty,
            display: 0,
            max_floor: k.max_floor,
            done: 0,
            firm: c.firm,
            stp: c.stp,
            hidden: k.hidden,
            tif: k.tif,
            number: self.next_number,
            expire: None,
            rest_seq: 0,
        };
        self.next_id += 1;
        self.next_number += 1;
        let a = Accepted {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
            order_number: o.number,
            instrument: o.instrument,
            side: o.side,
            qty: c.qty,
            price: o.price,
            tif: o.tif,
            display: if o.hidden {
                Display::Hidden
            } else {
                Display::Visible
            },
        };
        self.o(OrderEvent::Accepted(a));
        self.incoming(o, k.min_qty, k.expire);
    }

    fn self_match(t: &RefOrder, m: &RefOrder) -> bool {
        t.stp != StpMode::None && t.firm == m.firm
    }

    fn min_qty_ok(&self, t: &RefOrder, min_qty: u32) -> bool {
        let contra = self.contra(t.instrument, t.buy(), t.price);
        let mut prices: Vec<u64> = contra.iter().map(|o| o.price).collect();
        prices.dedup();
        let mut sum = 0u64;
        for p in prices {
            let at: Vec<&RefOrder> = contra.iter().filter(|o| o.price == p).collect();
            if at.iter().any(|m| Self::self_match(t, m)) {
                return false;
            }
            sum += at.iter().map(|o| u64::from(o.leaves)).sum::<u64>();
            if sum >= u64::from(min_qty) {
                return true;
            }
        }
        false
    }

    fn incoming(&mut self, mut t: RefOrder, min_qty: u32, expire: Option<u64>) {
        if min_qty == 0 || self.min_qty_ok(&t, min_qty) {
            while t.leaves > 0 {
                let Some(m) = self
                    .contra(t.instrument, t.buy(), t.price)
                    .into_iter()
                    .next()
                else {
                    break;
                };
                if Self::self_match(&t, &m) {
                    if !self.prevent(&mut t, &m) {
                        break;
                    }
                } else {
                    self.trade(&mut t, &m);
                }
            }
        }
        if t.leaves == 0 {
            return;
        }
        if t.tif == Tif::Ioc || min_qty > 0 {
            let leaves = t.leaves;
            return self.canceled(&t, leaves, CancelReason::ImmediateOrCancel);
        }
        self.rest(t, expire);
        let o = self.book.last().unwrap().clone();
        self.add(&o);
    }

    fn rest(&mut self, mut t: RefOrder, expire: Option<u64>) {
        t.display = if t.hidden {
            0
        } else if t.max_floor > 0 {
            t.max_floor.min(t.leaves)
        } else {
            t.leaves
        };
        t.expire = expire.map(|e| (e, t.number));
        if t.rest_seq == 0 {
            t.rest_seq = self.next_rest_seq;
            self.next_rest_seq += 1;
        }
        self.book.push(t);
    }

    fn add(&mut self, o: &RefOrder) {
        if !o.hidden {
            let a = MdAddOrder {
                ts_ns: self.now,
                locate: o.instrument,
                order_number: o.number,
                side: if o.buy() { b'B' } else { b'S' },
                shares: o.display,
                price: o.price as u32,
            };
            self.md(MdEvent::AddOrder(a));
        }
    }

    fn executed(
        &mut self,
        o: &RefOrder,
        qty: u32,
        price: u64,
        match_number: u64,
        liquidity: Liquidity,
    ) {
        let e = Executed {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
            qty,
            price,
            match_number,
            liquidity,
        };
        self.o(OrderEvent::Executed(e));
    }

    fn trade(&mut self, t: &mut RefOrder, m: &RefOrder) {
        let q = t.leaves.min(if m.hidden { m.leaves } else { m.display });
        let mn = self.next_match;
        self.next_match += 1;
        t.leaves -= q;
        t.done += q;
        let p = self.pos(m.id).unwrap();
        {
            let mm = &mut self.book[p];
            mm.leaves -= q;
            mm.done += q;
            if !mm.hidden {
                mm.display -= q;
            }
        }
        self.executed(
            m,
            q,
            m.price,
            mn,
            if m.hidden {
                Liquidity::AddedHidden
            } else {
                Liquidity::Added
            },
        );
        self.executed(t, q, m.price, mn, Liquidity::Removed);
        let (ts_ns, locate) = (self.now, m.instrument);
        if m.hidden {
            let side = if m.buy() { b'B' } else { b'S' };
            self.md(MdEvent::Trade(MdTrade {
                ts_ns,
                locate,
                order_number: 0,
                side,
                shares: q,
                price: m.price as u32,
                match_number: mn,
            }));
        } else {
            self.md(MdEvent::OrderExecuted(MdOrderExecuted {
                ts_ns,
                locate,
                order_number: m.number,
                shares: q,
                match_number: mn,
            }));
        }
        let after = self.book[p].clone();
        if after.leaves == 0 {
            self.book.remove(p);
        } else if !after.hidden && after.display == 0 {
            let number = self.next_number;
            self.next_number += 1;
            let mm = &mut self.book[p];
            mm.display = mm.max_floor.min(mm.leaves);
            mm.number = number;
            let mm = mm.clone();
            let r = Restated {
                ts_ns,
                session: mm.session,
                user_ref_idx: mm.idx,
                user_ref_num: mm.urn,
                order: OrderRef(mm.id),
                display_qty: mm.display,
                order_number: number,
            };
            self.o(OrderEvent::Restated(r));
            self.add(&mm);
        }
    }

    fn aiq(
        &mut self,
        o: &RefOrder,
        decrement: u32,
        prevented: u32,
        price: u64,
        liquidity: Liquidity,
        strategy: StpMode,
    ) {
        let e = AiqCanceled {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
            decrement,
            prevented,
            price,
            liquidity,
            strategy,
        };
        self.o(OrderEvent::AiqCanceled(e));
    }

    fn prevent(&mut self, t: &mut RefOrder, m: &RefOrder) -> bool {
        let prevented = t.leaves.min(m.leaves);
        let mliq = if m.hidden {
            Liquidity::AddedHidden
        } else {
            Liquidity::Added
        };
        match t.stp {
            StpMode::CancelNewest => {
                self.aiq(t, t.leaves, prevented, m.price, Liquidity::Removed, t.stp);
                t.leaves = 0;
                false
            }
            StpMode::DecrementBoth => {
                self.aiq(m, prevented, prevented, m.price, mliq, t.stp);
                self.aiq(t, prevented, prevented, m.price, Liquidity::Removed, t.stp);
                t.leaves -= prevented;
                t.done += prevented;
                let p = self.pos(m.id).unwrap();
                self.book[p].done += prevented;
                self.reduce(m.id, prevented);
                true
            }
            _ => {
                self.aiq(m, m.leaves, prevented, m.price, mliq, t.stp);
                self.reduce(m.id, m.leaves);
                true
            }
        }
    }

    fn cancel(&mut self, c: &Cancel) {
        let Some(p) = self.owned(c.order, c.session, c.user_ref_idx, c.user_ref_num) else {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::UnknownOrder,
            );
        };
        let o = self.book[p].clone();
        let leaves = c.qty.saturating_sub(o.done);
        if leaves >= o.leaves {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::QuantityNotReduced,
            );
        }
        if leaves > 0 && self.ins[o.instrument as usize].state == TradingState::Halted {
            return self.cancel_reject(&o);
        }
        self.canceled(&o, o.leaves - leaves, CancelReason::UserRequested);
        self.reduce(o.id, o.leaves - leaves);
    }

    fn cancel_reject(&mut self, o: &RefOrder) {
        let e = CancelRejected {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
        };
        self.o(OrderEvent::CancelRejected(e));
    }

    fn modify(&mut self, c: &Modify) {
        let Some(p) = self.owned(c.order, c.session, c.user_ref_idx, c.user_ref_num) else {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::UnknownOrder,
            );
        };
        let o = self.book[p].clone();
        if (c.side == Side::Buy) != o.buy() {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::InvalidSideChange,
            );
        }
        let leaves = c.qty.saturating_sub(o.done);
        if leaves > o.leaves {
            return self.ignore(
                c.session,
                c.user_ref_idx,
                c.user_ref_num,
                IgnoreReason::QuantityNotReduced,
            );
        }
        if leaves > 0
            && leaves < o.leaves
            && self.ins[o.instrument as usize].state == TradingState::Halted
        {
            return self.cancel_reject(&o);
        }
        self.book[p].side = c.side;
        let e = Modified {
            ts_ns: self.now,
            session: o.session,
            user_ref_idx: o.idx,
            user_ref_num: o.urn,
            order: OrderRef(o.id),
            side: c.side,
            qty: leaves,
        };
        self.o(OrderEvent::Modified(e));
        if leaves < o.leaves {
            self.reduce(o.id, o.leaves - leaves);
        }
    }

    fn replace(&mut self, c: &Replace) {
        let (s, x, urn) = (c.session, c.user_ref_idx, c.user_ref_num);
        if s >= self.max_sessions {
            return self.ignore(s, x, urn, IgnoreReason::UnknownSession);
        }
        if urn <= *self.hwm.get(&(s, x)).unwrap_or(&0) {
            return self.ignore(s, x, urn, IgnoreReason::UserRefNumNotIncreasing);
        }
        let Some(p) = self.owned(c.order, s, x, c.orig_user_ref_num) else {
            return self.ignore(s, x, urn, IgnoreReason::UnknownOrder);
        };
        let old = self.book[p].clone();
        if self.ins[old.instrument as usize].state == TradingState::Halted {
            self.hwm.insert((s, x), urn);
            let e = Rejected {
                ts_ns: self.now,
                session: s,
                user_ref_idx: x,
                user_ref_num: urn,
                reason: RejectReason::Halted,
            };
            return self.o(OrderEvent::Rejected(e));
        }
        let min_qty = if c.min_qty == INHERIT { 0 } else { c.min_qty };
        let max_floor = if c.max_floor == INHERIT {
            old.max_floor
        } else {
            c.max_floor
        };
        let expire = match (c.expire_time_s, old.expire) {
            (INHERIT, Some((at, _))) => Some(Err(at)),
            (INHERIT, None) => None,
            (secs, _) => Some(Ok(secs)),
        };
        let checked = self.check(
            old.instrument,
            c.side,
            c.qty,
            c.price,
            c.tif,
            c.display,
            c.post_only,
            min_qty,
            max_floor,
            expire,
        );
        let k = match checked {
            Ok(k) if (c.side == Side::Buy) == old.buy() => k,
            _ => {
                self.canceled(&old, old.leaves, CancelReason::System);
                return self.reduce(old.id, old.leaves);
            }
        };
        self.hwm.insert((s, x), urn);
        let mut n = self.book.remove(p);
        n.urn = urn;
        n.leaves = c.qty.saturating_sub(old.done);
        n.side = c.side;
        n.price = k.price;
        n.tif = k.tif;
        n.hidden = k.hidden;
        n.max_floor = k.max_floor;
        n.number = self.next_number;
        n.expire = None;
        self.next_number += 1;
        let e = Replaced {
            ts_ns: self.now,
            session: s,
            user_ref_idx: x,
            orig_user_ref_num: c.orig_user_ref_num,
            user_ref_num: urn,
            order: OrderRef(n.id),
            order_number: n.number,
            side: n.side,
            qty: n.leaves,
            price: n.price,
            tif: n.tif,
            display: if n.hidden {
                Display::Hidden
            } else {
                Display::Visible
            },
            instrument: n.instrument,
        };
        self.o(OrderEvent::Replaced(e));
        let crosses = !self.contra(n.instrument, n.buy(), n.price).is_empty();
        if n.leaves == 0 || crosses || n.tif == Tif::Ioc || min_qty > 0 {
            self.delete_md(&old);
            if n.leaves > 0 {
                self.incoming(n, min_qty, k.expire);
            }
            return;
        }
        self.rest(n, k.expire);
        let n = self.book.last().unwrap().clone();
        if !old.hidden && !n.hidden {
            let u = MdOrderReplace {
                ts_ns: self.now,
                locate: n.instrument,
                orig_order_number: old.number,
                order_number: n.number,
                shares: n.display,
                price: n.price as u32,
            };
            self.md(MdEvent::OrderReplace(u));
        } else {
            self.delete_md(&old);
            self.add(&n);
        }
    }

    fn delete_md(&mut self, old: &RefOrder) {
        if !old.hidden {
            let d = MdOrderDelete {
                ts_ns: self.now,
                locate: old.instrument,
                order_number: old.number,
            };
            self.md(MdEvent::OrderDelete(d));
        }
    }

    fn mass_cancel(&mut self, c: &MassCancel) {
        let (s, x, urn) = (c.session, c.user_ref_idx, c.user_ref_num);
        if s >= self.max_sessions {
            return self.ignore(s, x, urn, IgnoreReason::UnknownSession);
        }
        if urn <= *self.hwm.get(&(s, x)).unwrap_or(&0) {
            return self.ignore(s, x, urn, IgnoreReason::UserRefNumNotIncreasing);
        }
        self.hwm.insert((s, x), urn);
        let mut victims: Vec<RefOrder> = self
            .book
            .iter()
            .filter(|o| o.session == s && o.firm == c.firm)
            .filter(|o| c.instrument == ALL_INSTRUMENTS || o.instrument == c.instrument)
            .cloned()
            .collect();
        victims.sort_by_key(|o| o.rest_seq);
        for o in &victims {
            self.canceled(o, o.leaves, CancelReason::UserRequested);
            self.reduce(o.id, o.leaves);
        }
        let e = MassCancelResponse {
            ts_ns: self.now,
            session: s,
            user_ref_idx: x,
            user_ref_num: urn,
            firm: c.firm,
            instrument: c.instrument,
            canceled: victims.len() as u32,
        };
        self.o(OrderEvent::MassCancelResponse(e));
    }

    fn set_state(&mut self, c: &SetTradingState) {
        let Some(ins) = self.ins.get_mut(c.instrument as usize) else {
            return self.ignore(u16::MAX, 0, 0, IgnoreReason::UnknownInstrument);
        };
        if ins.state == TradingState::Expired {
            return self.ignore(u16::MAX, 0, 0, IgnoreReason::StateFinal);
        }
        ins.state = c.state;
        let h = MdTradingAction {
            ts_ns: self.now,
            locate: c.instrument,
            state: c.state,
        };
        self.md(MdEvent::TradingAction(h));
        let reason = match c.state {
            TradingState::Closed => CancelReason::Closed,
            TradingState::Expired => CancelReason::System,
            _ => return,
        };
        let mut all: Vec<RefOrder> = self
            .book
            .iter()
            .filter(|o| o.instrument == c.instrument)
            .cloned()
            .collect();
        all.sort_by_key(|o| {
            (
                !o.buy(),
                if o.buy() { u64::MAX - o.price } else { o.price },
                o.number,
            )
        });
        for o in &all {
            self.canceled(o, o.leaves, reason);
            self.reduce(o.id, o.leaves);
        }
    }

    fn system_event(&mut self, c: &SystemEvent) {
        let ts_ns = self.now;
        self.md(MdEvent::SystemEvent(MdSystemEvent {
            ts_ns,
            code: c.code,
        }));
        if c.code == b'O' {
            for (i, ins) in self.ins.clone().iter().enumerate() {
                let locate = i as u16;
                self.md(MdEvent::StockDirectory(MdStockDirectory {
                    ts_ns,
                    locate,
                    symbol: ins.symbol,
                    lot_size: ins.lot,
                }));
                self.md(MdEvent::TradingAction(MdTradingAction {
                    ts_ns,
                    locate,
                    state: ins.state,
                }));
            }
        }
    }
}
