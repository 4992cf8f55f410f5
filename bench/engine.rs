//! Peer comparison for the matching core: tickgate's engine, orderbook-rs and
//! matchcore, on the same synthetic ITCH-day-shaped stream, interleaved chunk by chunk
//! in one process on one pinned thread (`tickgate::engine::bench::harness`).
//!
//! `cargo bench --bench engine -- --json` prints one JSON object as the last line.
//!
//! Each peer gets its best fair use:
//! - **orderbook-rs** 0.15: one `OrderBook<()>` per instrument, built `with_clock` on a
//!   `StubClock` (no clock syscall per order; our engine takes time from the command
//!   too). Adds are `add_limit_order(.., Gtc)`, marketable orders `add_limit_order(..,
//!   Ioc)`, market orders `submit_market_order`, cancels `cancel_order`. A replace is
//!   `cancel_order` + `add_limit_order` under a new id (OUCH replace semantics: new
//!   priority); its `update_order` needs `pricelevel::OrderUpdate`, which orderbook-rs
//!   does not re-export. STP, listeners and risk checks stay off (their defaults).
//! - **matchcore** 0.4: one `OrderBook` per instrument, `execute(&Command)` with dense
//!   per-book sequence numbers; adds are GTC limits, marketable orders IOC limits,
//!   market orders `NewOrder::Market`, cancels `CancelCmd`, replaces its native
//!   `AmendCmd` with a price + quantity patch.
//! - Every venue maps the stream's dense live-order slots to its own ids (ours: to
//!   handles + UserRefNums) through a preallocated table, as a session layer would.
//!   Latency samples time `Venue::execute` only: ours and matchcore build their command
//!   (the map lookup) in the untimed `prepare`; orderbook-rs takes ids in its calls, so
//!   its one table load stays in the timed part (it is ≈1/1000 of its latency).

use std::sync::Arc;

use clap::Parser;
use orderbook_rs::prelude::{Id, Side as ObSide, TimeInForce as ObTif};
use orderbook_rs::{OrderBook as ObBook, StubClock};
use tickgate::engine::bench::harness::{ChunkRunner, Venue, run};
use tickgate::engine::bench::stream::{GenCmd, GenKind};
use tickgate::engine::bench::{EngineBenchArgs, our_venue, prepare, report};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    engine: EngineBenchArgs,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Slot of the stream's live order (`< Stream::slots`), for the id maps.
fn slot(c: &GenCmd, _map_len: usize) -> usize {
    c.slot as usize
}

/// orderbook-rs: one lock-free book per instrument.
struct OrderbookRs {
    books: Vec<ObBook<()>>,
    /// Stream slot → current orderbook-rs id (replaces get fresh ids).
    ids: Vec<u64>,
    next_replace_id: u64,
    errors: u64,
}

impl OrderbookRs {
    fn new(instruments: u16, slots: usize) -> Self {
        let books = (0..instruments)
            .map(|i| ObBook::with_clock(&format!("S{i:05}"), Arc::new(StubClock::new())))
            .collect();
        OrderbookRs {
            books,
            ids: vec![u64::MAX; slots], // written now: no page faults during the run
            next_replace_id: 1 << 50,
            errors: 0,
        }
    }
}

fn ob_side(buy: bool) -> ObSide {
    if buy { ObSide::Buy } else { ObSide::Sell }
}

impl Venue for OrderbookRs {
    fn name(&self) -> &'static str {
        "orderbook-rs"
    }

    #[inline]
    fn execute(&mut self, c: &GenCmd) {
        let book = &self.books[usize::from(c.instrument)];
        let (price, qty, side) = (u128::from(c.price), u64::from(c.qty), ob_side(c.buy));
        let s = slot(c, self.ids.len());
        let ok = match c.kind {
            GenKind::Add => {
                self.ids[s] = c.id;
                book.add_limit_order(Id::from_u64(c.id), price, qty, side, ObTif::Gtc, None)
                    .is_ok()
            }
            GenKind::Marketable => book
                .add_limit_order(Id::from_u64(c.id), price, qty, side, ObTif::Ioc, None)
                .is_ok(),
            GenKind::Market => book
                .submit_market_order(Id::from_u64(c.id), qty, side)
                .is_ok(),
            GenKind::Cancel | GenKind::MassCancel => book
                .cancel_order(Id::from_u64(self.ids[s]))
                .is_ok_and(|o| o.is_some()),
            GenKind::Replace => {
                let old = self.ids[s];
                let live = book
                    .cancel_order(Id::from_u64(old))
                    .is_ok_and(|o| o.is_some());
                if live {
                    let new = self.next_replace_id;
                    self.next_replace_id += 1;
                    self.ids[s] = new;
                    book.add_limit_order(Id::from_u64(new), price, qty, side, ObTif::Gtc, None)
                        .is_ok()
                } else {
                    false
                }
            }
        };
        self.errors += u64::from(!ok);
    }

    fn summary(&self) -> String {
        let live: usize = self.books.iter().map(|b| b.get_all_orders().len()).sum();
        format!("{live} live orders, {} errors/misses", self.errors)
    }
}

/// matchcore: one deterministic single-threaded book per instrument.
struct Matchcore {
    books: Vec<matchcore::OrderBook>,
    seq: Vec<u64>,
    /// Stream slot → matchcore order id (its submit's sequence number).
    ids: Vec<u64>,
    rejected: u64,
    /// The command `prepare` built for `execute`.
    pending: Option<matchcore::Command>,
}

impl Matchcore {
    fn new(instruments: u16, slots: usize) -> Self {
        Matchcore {
            books: (0..instruments)
                .map(|i| matchcore::OrderBook::new(&format!("S{i:05}")))
                .collect(),
            seq: vec![0; usize::from(instruments)],
            ids: vec![u64::MAX; slots],
            rejected: 0,
            pending: None,
        }
    }
}

fn mc_side(buy: bool) -> matchcore::Side {
    if buy {
        matchcore::Side::Buy
    } else {
        matchcore::Side::Sell
    }
}

fn mc_limit(c: &GenCmd, tif: matchcore::TimeInForce) -> matchcore::NewOrder {
    use matchcore::*;
    NewOrder::Limit(LimitOrder::new(
        Price(c.price),
        QuantityPolicy::Standard {
            quantity: Quantity(u64::from(c.qty)),
        },
        OrderFlags::new(mc_side(c.buy), false, tif),
    ))
}

impl Venue for Matchcore {
    fn name(&self) -> &'static str {
        "matchcore"
    }

    /// Builds the matchcore command (id map, sequence number) into `pending`.
    #[inline]
    fn prepare(&mut self, c: &GenCmd) {
        use matchcore::*;
        let i = usize::from(c.instrument);
        let seq = self.seq[i];
        self.seq[i] += 1;
        let s = slot(c, self.ids.len());
        let kind = match c.kind {
            GenKind::Add => {
                self.ids[s] = seq;
                CommandKind::Submit(SubmitCmd {
                    order: mc_limit(c, TimeInForce::Gtc),
                })
            }
            GenKind::Marketable => CommandKind::Submit(SubmitCmd {
                order: mc_limit(c, TimeInForce::Ioc),
            }),
            GenKind::Market => CommandKind::Submit(SubmitCmd {
                order: NewOrder::Market(MarketOrder::new(
                    Quantity(u64::from(c.qty)),
                    mc_side(c.buy),
                    false,
                )),
            }),
            GenKind::Cancel | GenKind::MassCancel => CommandKind::Cancel(CancelCmd {
                order_id: OrderId(self.ids[s]),
                order_kind: OrderKind::Limit,
            }),
            GenKind::Replace => CommandKind::Amend(AmendCmd {
                order_id: OrderId(self.ids[s]),
                patch: AmendPatch::Limit(
                    LimitOrderPatch::new()
                        .with_price(Price(c.price))
                        .with_quantity_policy(QuantityPolicy::Standard {
                            quantity: Quantity(u64::from(c.qty)),
                        }),
                ),
            }),
        };
        let cmd = Command {
            meta: CommandMeta {
                sequence_number: SequenceNumber(seq),
                timestamp: Timestamp(c.ts_ns),
            },
            kind,
        };
        self.pending = Some(cmd);
    }

    #[inline]
    fn execute(&mut self, c: &GenCmd) {
        let Some(cmd) = &self.pending else { return };
        let outcome = self.books[usize::from(c.instrument)].execute(cmd);
        self.rejected += u64::from(matches!(outcome, matchcore::CommandOutcome::Rejected(_)));
    }

    fn summary(&self) -> String {
        format!("{} rejected (misses)", self.rejected)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let args = cli.engine;
    let cfg = args.run_config();
    let clock = prepare(&args);
    let n = cfg.stream.instruments;
    let slots = tickgate::engine::bench::stream::Stream::new(cfg.stream).slots();
    let mut ours = our_venue(&cfg)?;
    let mut obrs = OrderbookRs::new(n, slots);
    let mut mc = Matchcore::new(n, slots);
    let mut venues: [&mut dyn ChunkRunner; 3] = [&mut ours, &mut obrs, &mut mc];
    let results = run(&mut venues, &cfg, &clock);
    report(
        &args,
        &results,
        "tickgate",
        "(peers: orderbook-rs 0.15 with StubClock; matchcore 0.4)",
    )?;
    Ok(())
}
