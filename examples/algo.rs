//! A small co-located market maker over shared memory: it reads the ITCH feed in
//! place, keeps the AAPL book of everyone else, and on every tick that moves the touch
//! cancels its two quotes and re-quotes one tick inside the touch (or around 190.00 on
//! an empty book).
//!
//! ```text
//! cargo run --release -- serve &                                   # default config
//! cargo run --release --example algo [-- /dev/shm/tickgate DEMO2 10]
//! cargo run --release --example tcp_client                        # moves the touch
//! ```
//!
//! Arguments: the session directory, the account (password `secret`) and how many
//! seconds to run; it then detaches (the server cancels what is left) and prints a
//! summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use tickgate::ipc::algo::{AlgoSession, SendError};
use tickgate::proto::itch::{BuySell, Message};
use tickgate::proto::ouch::{
    AccountQuery, CancelOrder, EnterOrder, Inbound, Options, Outbound, Price, Side, Symbol,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const TICK: u32 = 100;
const ANCHOR: u32 = 1_900_000;
const SIZE: u32 = 100;

/// Everyone else's resting orders on one symbol, from ITCH.
#[derive(Default)]
struct Book {
    orders: HashMap<u64, (BuySell, u32, u32)>,
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
}

impl Book {
    fn level(&mut self, side: BuySell, price: u32) -> &mut u64 {
        match side {
            BuySell::Buy => self.bids.entry(price).or_default(),
            BuySell::Sell => self.asks.entry(price).or_default(),
        }
    }

    fn add(&mut self, order: u64, side: BuySell, price: u32, shares: u32) {
        self.orders.insert(order, (side, price, shares));
        *self.level(side, price) += u64::from(shares);
    }

    fn reduce(&mut self, order: u64, shares: Option<u32>) {
        let Some(&(side, price, left)) = self.orders.get(&order) else {
            return;
        };
        let gone = shares.unwrap_or(left).min(left);
        let level = self.level(side, price);
        *level = level.saturating_sub(u64::from(gone));
        if *level == 0 {
            match side {
                BuySell::Buy => self.bids.remove(&price),
                BuySell::Sell => self.asks.remove(&price),
            };
        }
        if gone == left {
            self.orders.remove(&order);
        } else if let Some(o) = self.orders.get_mut(&order) {
            o.2 -= gone;
        }
    }

    fn touch(&self) -> (Option<u32>, Option<u32>) {
        (
            self.bids.keys().next_back().copied(),
            self.asks.keys().next().copied(),
        )
    }
}

/// Where to quote: one tick inside the touch while the spread allows, else at it.
fn quotes(touch: (Option<u32>, Option<u32>)) -> (u32, u32) {
    match touch {
        (Some(b), Some(a)) if a > b + 2 * TICK => (b + TICK, a - TICK),
        (Some(b), Some(a)) => (b, a),
        (Some(b), None) => (b + TICK, b + 6 * TICK),
        (None, Some(a)) => (a - 6 * TICK, a - TICK),
        (None, None) => (ANCHOR - 5 * TICK, ANCHOR + 5 * TICK),
    }
}

struct Maker {
    s: AlgoSession,
    stock: Symbol,
    book: Book,
    /// Our live quotes: (UserRefNum, price) per side.
    bid: Option<(u32, u32)>,
    ask: Option<(u32, u32)>,
    /// Order reference numbers of our own orders (not part of "the book").
    own: HashSet<u64>,
    next_urn: u32,
    counts: HashMap<char, u64>,
    md_read: u64,
    lost: u64,
}

impl Maker {
    fn send(&mut self, m: &Inbound) {
        loop {
            match self.s.send_message(m) {
                Ok(()) => return,
                Err(SendError::Full) => self.pump_responses(),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    fn take_urn(&mut self) -> u32 {
        self.next_urn += 1;
        self.next_urn - 1
    }

    fn requote(&mut self) {
        let (bid_px, ask_px) = quotes(self.book.touch());
        if self.bid.map(|q| q.1) == Some(bid_px) && self.ask.map(|q| q.1) == Some(ask_px) {
            return;
        }
        for (urn, _) in [self.bid.take(), self.ask.take()].into_iter().flatten() {
            let cancel = CancelOrder {
                user_ref_num: urn,
                quantity: 0,
                options: Options::NONE,
            };
            self.send(&Inbound::CancelOrder(cancel));
        }
        for (side, px) in [(Side::Buy, bid_px), (Side::Sell, ask_px)] {
            let urn = self.take_urn();
            let enter = EnterOrder::new(urn, side, SIZE, self.stock, Price(u64::from(px)));
            self.send(&Inbound::EnterOrder(enter));
            match side {
                Side::Buy => self.bid = Some((urn, px)),
                _ => self.ask = Some((urn, px)),
            }
        }
    }

    fn pump_responses(&mut self) {
        let mut got = Vec::new();
        self.s
            .poll_responses(256, |seq, msg| got.push((seq, Outbound::decode(msg))));
        for (seq, m) in got {
            let Ok(m) = m else { continue };
            *self.counts.entry(m.message_type() as char).or_default() += 1;
            match &m {
                Outbound::OrderAccepted(a) => {
                    self.own.insert(a.order_reference_number);
                }
                Outbound::OrderExecuted(e) => {
                    println!("#{seq}: filled {} @ {}", e.quantity, e.price.0);
                }
                Outbound::OrderRejected(r) => println!("#{seq}: rejected: {:?}", r.reason),
                _ => {}
            }
        }
    }

    /// Reads market data; true if the book of our symbol changed.
    fn pump_market_data(&mut self) -> bool {
        let mut msgs = Vec::new();
        if let Err(lap) = self.s.poll_market_data(256, |_, itch| {
            msgs.push(Message::decode(itch));
        }) {
            println!("market data lapped: {} messages lost", lap.lost);
            self.lost += lap.lost;
        }
        self.md_read += msgs.len() as u64;
        let mut moved = false;
        for m in msgs.into_iter().flatten() {
            moved |= self.apply(&m);
        }
        moved
    }

    fn apply(&mut self, m: &Message) -> bool {
        match m {
            Message::AddOrder(a) if a.stock == self.stock => {
                if self.own.contains(&a.order_reference_number) {
                    return false;
                }
                let side = a.buy_sell_indicator;
                self.book
                    .add(a.order_reference_number, side, a.price.0, a.shares);
            }
            Message::OrderExecuted(e) => self
                .book
                .reduce(e.order_reference_number, Some(e.executed_shares)),
            Message::OrderCancel(c) => self
                .book
                .reduce(c.order_reference_number, Some(c.cancelled_shares)),
            Message::OrderDelete(d) => self.book.reduce(d.order_reference_number, None),
            Message::OrderReplace(r) => {
                let side = self.book.orders.get(&r.original_order_reference_number);
                let Some(&(side, _, _)) = side else {
                    return false;
                };
                self.book.reduce(r.original_order_reference_number, None);
                self.book
                    .add(r.new_order_reference_number, side, r.price.0, r.shares);
            }
            _ => return false,
        }
        true
    }
}

fn next_user_ref_num(s: &mut AlgoSession) -> Result<u32> {
    let query = Inbound::AccountQuery(AccountQuery {
        options: Options::NONE,
    });
    s.send_message(&query).map_err(|e| format!("{e:?}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = None;
        s.poll_responses(64, |_, msg| {
            if let Ok(Outbound::AccountQueryResponse(q)) = Outbound::decode(msg) {
                next = Some(q.next_user_ref_num);
            }
        });
        if let Some(n) = next {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err("no Account Query Response".into());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/dev/shm/tickgate".into());
    let user = args.next().unwrap_or_else(|| "DEMO2".into());
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    // Sequence 0: live responses only (an algo that keeps state would pass its
    // `next_expected_seq` from last time).
    let mut s = AlgoSession::connect(dir.as_ref(), &user, "secret", 0, Duration::from_secs(2))?;
    println!("{user}: slot {}, session {}", s.slot(), s.session());
    let next_urn = next_user_ref_num(&mut s)?;
    let mut m = Maker {
        s,
        stock: Symbol::padded("AAPL"),
        book: Book::default(),
        bid: None,
        ask: None,
        own: HashSet::new(),
        next_urn,
        counts: HashMap::new(),
        md_read: 0,
        lost: 0,
    };
    m.requote();
    let (start, mut report) = (Instant::now(), Instant::now());
    while start.elapsed() < Duration::from_secs(seconds) {
        m.pump_responses();
        if m.pump_market_data() {
            m.requote();
        }
        if report.elapsed() >= Duration::from_secs(1) {
            report = Instant::now();
            let (b, a) = m.book.touch();
            println!(
                "md {} read, touch {b:?} x {a:?}, quoting {:?} x {:?}",
                m.md_read,
                m.bid.map(|q| q.1),
                m.ask.map(|q| q.1)
            );
            // A syscall and a file open: not for every turn.
            if m.s.server_restarted() {
                return Err("the server restarted".into());
            }
        }
        if !m.s.is_active() {
            return Err("the server ended this session".into());
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    println!(
        "done: {} market-data messages ({} lost to laps), responses by type {:?}; detaching",
        m.md_read, m.lost, m.counts
    );
    m.s.detach();
    Ok(())
}
