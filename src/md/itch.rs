//! Engine market-data events → ITCH 5.0 messages, on the core's thread.
//!
//! The core's [`MdEvent`] records are ITCH-shaped but carry the stock locate, not the
//! symbol; [`Symbols`] (built once, before the core starts) supplies the 8-byte stock
//! field of `R`, `H`, `A` and `P`. [`encode`] and [`ItchMarketOutput`]'s `try_publish` and
//! `commit` allocate nothing, take no lock and make no syscall.
//!
//! Mapping (one event → exactly one message; tracking number always 0):
//!
//! | event | ITCH | notes |
//! |---|---|---|
//! | `SystemEvent` | `S` | code as given (`O S Q M E C`) |
//! | `StockDirectory` | `R` | symbol and round lot from the event; the other fields are constants ([`directory_message`]) |
//! | `TradingAction` | `H` | `Trading` → `T`, `Halted`/`Closed`/`Expired` → `H`; reason = 4 spaces |
//! | `AddOrder` | `A` | displayed orders only (hidden orders have none) |
//! | `OrderExecuted` | `E` | displayed resting order |
//! | `OrderExecutedWithPrice` | `C` | printable `Y` (the core never emits it today) |
//! | `OrderCancel` | `X` | |
//! | `OrderDelete` | `D` | |
//! | `OrderReplace` | `U` | |
//! | `Trade` | `P` | execution of a hidden resting order, order ref 0 |

use crate::engine::core::{MarketOutput, OutputFull};
use crate::engine::event::MdEvent;
use crate::engine::instrument::Instrument;
use crate::engine::types::TradingState as EngineState;
use crate::proto::itch::{
    AddOrder, BuySell, EventCode, Header, Message, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, Price4, Printable, Stock, StockDirectory,
    StockTradingAction, SystemEvent, Trade, TradingState,
};
use crate::proto::wire::Alpha;
use crate::ring::broadcast;

/// Stock symbols by stock locate (the engine's dense instrument index).
///
/// Fixed size: [`learn`](Self::learn) only overwrites entries, so the core's thread
/// never allocates through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbols {
    by_locate: Box<[Stock]>,
}

impl Symbols {
    /// The engine's instruments, indexed by their locate.
    pub fn from_instruments(instruments: &[Instrument]) -> Self {
        let len = instruments
            .iter()
            .map(|i| usize::from(i.locate) + 1)
            .max()
            .unwrap_or(0);
        let mut by_locate = vec![Stock::SPACES; len].into_boxed_slice();
        for i in instruments {
            by_locate[usize::from(i.locate)] = Alpha(i.symbol);
        }
        Self { by_locate }
    }

    /// Symbols given in locate order (locate 0 first), space padded to 8 bytes.
    pub fn from_symbols<'a>(symbols: impl IntoIterator<Item = &'a str>) -> Self {
        let by_locate = symbols
            .into_iter()
            .map(|s| {
                let mut b = [b' '; 8];
                b.iter_mut().zip(s.bytes()).for_each(|(d, s)| *d = s);
                Alpha(b)
            })
            .collect();
        Self { by_locate }
    }

    /// The symbol of `locate`; 8 spaces for a locate it does not know.
    #[inline]
    pub fn stock(&self, locate: u16) -> Stock {
        self.by_locate
            .get(usize::from(locate))
            .copied()
            .unwrap_or(Stock::SPACES)
    }

    /// Records the symbol a Stock Directory event names, if its locate is in range.
    #[inline]
    pub fn learn(&mut self, locate: u16, symbol: [u8; 8]) {
        if let Some(slot) = self.by_locate.get_mut(usize::from(locate)) {
            *slot = Alpha(symbol);
        }
    }

    /// Locates known.
    pub fn len(&self) -> usize {
        self.by_locate.len()
    }

    /// True if no locate is known.
    pub fn is_empty(&self) -> bool {
        self.by_locate.is_empty()
    }
}

fn header(locate: u16, ts_ns: u64) -> Header {
    Header {
        stock_locate: locate,
        tracking_number: 0,
        timestamp_ns: ts_ns,
    }
}

/// The `R` message for one instrument: symbol and round lot from the engine; the
/// fields tickgate has no notion of are "not available" values (spaces), authenticity
/// `P`, round lots only `N`, ETP leverage 0, inverse `N`.
pub fn directory_message(h: Header, stock: Stock, round_lot_size: u32) -> StockDirectory {
    StockDirectory {
        header: h,
        stock,
        market_category: b' ',
        financial_status_indicator: b' ',
        round_lot_size,
        round_lots_only: b'N',
        issue_classification: b' ',
        issue_sub_type: Alpha::SPACES,
        authenticity: b'P',
        short_sale_threshold_indicator: b' ',
        ipo_flag: b' ',
        luld_reference_price_tier: b' ',
        etp_flag: b' ',
        etp_leverage_factor: 0,
        inverse_indicator: b'N',
    }
}

fn itch_state(state: EngineState) -> TradingState {
    match state {
        EngineState::Trading => TradingState::Trading,
        EngineState::Halted | EngineState::Closed | EngineState::Expired => TradingState::Halted,
    }
}

/// The ITCH message for `event`, or `None` if a byte field holds a value ITCH has no
/// code for (a System Event code outside `O S Q M E C`, a side other than `B`/`S`).
#[inline]
pub fn to_message(event: &MdEvent, symbols: &Symbols) -> Option<Message> {
    Some(match event {
        MdEvent::SystemEvent(e) => Message::SystemEvent(SystemEvent {
            header: header(0, e.ts_ns),
            event_code: EventCode::from_byte(e.code)?,
        }),
        MdEvent::StockDirectory(e) => Message::StockDirectory(directory_message(
            header(e.locate, e.ts_ns),
            Alpha(e.symbol),
            e.lot_size,
        )),
        MdEvent::TradingAction(e) => Message::StockTradingAction(StockTradingAction {
            header: header(e.locate, e.ts_ns),
            stock: symbols.stock(e.locate),
            trading_state: itch_state(e.state),
            reserved: b' ',
            reason: Alpha::SPACES,
        }),
        MdEvent::AddOrder(e) => Message::AddOrder(AddOrder {
            header: header(e.locate, e.ts_ns),
            order_reference_number: e.order_number,
            buy_sell_indicator: BuySell::from_byte(e.side)?,
            shares: e.shares,
            stock: symbols.stock(e.locate),
            price: Price4(e.price),
        }),
        _ => return execution_message(event, symbols),
    })
}

fn execution_message(event: &MdEvent, symbols: &Symbols) -> Option<Message> {
    Some(match event {
        MdEvent::OrderExecuted(e) => Message::OrderExecuted(OrderExecuted {
            header: header(e.locate, e.ts_ns),
            order_reference_number: e.order_number,
            executed_shares: e.shares,
            match_number: e.match_number,
        }),
        MdEvent::OrderExecutedWithPrice(e) => {
            Message::OrderExecutedWithPrice(OrderExecutedWithPrice {
                header: header(e.locate, e.ts_ns),
                order_reference_number: e.order_number,
                executed_shares: e.shares,
                match_number: e.match_number,
                printable: Printable::Printable,
                execution_price: Price4(e.price),
            })
        }
        MdEvent::OrderCancel(e) => Message::OrderCancel(OrderCancel {
            header: header(e.locate, e.ts_ns),
            order_reference_number: e.order_number,
            cancelled_shares: e.shares,
        }),
        MdEvent::OrderDelete(e) => Message::OrderDelete(OrderDelete {
            header: header(e.locate, e.ts_ns),
            order_reference_number: e.order_number,
        }),
        MdEvent::OrderReplace(e) => Message::OrderReplace(OrderReplace {
            header: header(e.locate, e.ts_ns),
            original_order_reference_number: e.orig_order_number,
            new_order_reference_number: e.order_number,
            shares: e.shares,
            price: Price4(e.price),
        }),
        MdEvent::Trade(e) => Message::Trade(Trade {
            header: header(e.locate, e.ts_ns),
            order_reference_number: e.order_number,
            buy_sell_indicator: BuySell::from_byte(e.side)?,
            shares: e.shares,
            stock: symbols.stock(e.locate),
            price: Price4(e.price),
            match_number: e.match_number,
        }),
        _ => return None,
    })
}

/// The encoded length of `message`.
#[inline]
pub fn wire_len(message: &Message) -> usize {
    match message {
        Message::SystemEvent(_) => SystemEvent::LEN,
        Message::StockDirectory(_) => StockDirectory::LEN,
        Message::StockTradingAction(_) => StockTradingAction::LEN,
        Message::AddOrder(_) => AddOrder::LEN,
        Message::OrderExecuted(_) => OrderExecuted::LEN,
        Message::OrderExecutedWithPrice(_) => OrderExecutedWithPrice::LEN,
        Message::OrderCancel(_) => OrderCancel::LEN,
        Message::OrderDelete(_) => OrderDelete::LEN,
        Message::OrderReplace(_) => OrderReplace::LEN,
        Message::Trade(_) => Trade::LEN,
    }
}

/// Encodes `event` as one ITCH 5.0 message at the front of `buf`; returns its length.
///
/// `None` if `buf` is shorter than the message ([`Message::MAX_LEN`] always suffices)
/// or the event holds a byte ITCH cannot represent (see [`to_message`]).
///
/// ```
/// use tickgate::engine::event::{MdEvent, MdOrderDelete};
/// use tickgate::md::itch::{Symbols, encode};
/// use tickgate::proto::itch::Message;
///
/// let symbols = Symbols::from_symbols(["AAPL"]);
/// let event = MdEvent::OrderDelete(MdOrderDelete { ts_ns: 5, locate: 0, order_number: 42 });
/// let mut buf = [0u8; Message::MAX_LEN];
/// let len = encode(&event, &symbols, &mut buf).unwrap();
/// assert_eq!(&buf[..1], b"D");
/// assert_eq!(len, 19);
/// ```
#[inline]
pub fn encode(event: &MdEvent, symbols: &Symbols, buf: &mut [u8]) -> Option<usize> {
    to_message(event, symbols)?.encode(buf).ok()
}

/// Counters of an [`ItchMarketOutput`] (read by the core's owner, e.g. on shutdown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItchOutputStats {
    /// Messages written to the ring.
    pub published: u64,
    /// Events dropped because ITCH has no code for one of their bytes (a core bug).
    pub unencodable: u64,
    /// Messages dropped because they do not fit a ring slot (a set-up error:
    /// slots must hold [`Message::MAX_LEN`] bytes; `over_rings` checks 48).
    pub too_long: u64,
}

/// ITCH messages a command produces in the common case (an execution and the rest of
/// the order, or one delete): sizes the staging area per drained command.
pub const ITCH_PER_COMMAND: usize = 4;

/// Messages [`ItchMarketOutput::new`] can stage: the default drain limit (64) times
/// [`ITCH_PER_COMMAND`]; `serve` sizes it from `engine.drain_limit`
/// ([`ItchMarketOutput::with_staging`]).
pub const DEFAULT_STAGED_MESSAGES: usize = 64 * ITCH_PER_COMMAND;

/// Words of a staged message: [`Message::MAX_LEN`] rounded up to 8-byte words.
const STAGED_WORDS: usize = Message::MAX_LEN.div_ceil(8);

/// One ITCH message encoded by [`MarketOutput::try_publish`], waiting for the commit;
/// the bytes past `len` are zero.
#[derive(Clone, Copy)]
struct Staged {
    len: u8,
    bytes: [u8; STAGED_WORDS * 8],
}

impl Staged {
    const EMPTY: Self = Self {
        len: 0,
        bytes: [0; STAGED_WORDS * 8],
    };

    /// The message as the ring's payload words (memory order, as the ring stores them).
    #[inline]
    fn words(&self) -> [u64; STAGED_WORDS] {
        let mut words = [0u64; STAGED_WORDS];
        for (w, b) in words.iter_mut().zip(self.bytes.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(b);
            *w = u64::from_ne_bytes(word);
        }
        words
    }
}

/// The core's market-data output: each [`MdEvent`] becomes one ITCH 5.0 message, the
/// one record of a broadcast ring slot, so readers (algos, the MoldUDP64 publisher)
/// read ITCH in place. Ring position `p` is MoldUDP64 sequence number `p + 1`.
///
/// **Private before public**: [`try_publish`](MarketOutput::try_publish) only encodes
/// the message into a fixed staging area; [`commit`](MarketOutput::commit) writes
/// what is staged to the ring, in order, and stamps it. The core's owner commits once
/// the private answers of the same commands are out (`docs/ARCHITECTURE.md`, market
/// data), so no reader of the ring can act on a trade before its parties were told.
/// A full staging area commits early (a burst larger than the area), never drops.
///
/// It never reports [`OutputFull`]: the broadcast ring never refuses, and an event it
/// cannot encode is counted and dropped rather than retried for ever.
pub struct ItchMarketOutput {
    /// The ring written.
    pub writer: broadcast::Writer,
    /// Symbols by locate (learns from `R` events too).
    pub symbols: Symbols,
    /// Counters.
    pub stats: ItchOutputStats,
    /// `rdtsc` when each of the last [`PUBLISH_TSC_KEPT`] messages was committed,
    /// indexed by ring position mod the length (see [`ItchMarketOutput::publish_tsc`]).
    publish_tsc: Box<[u64]>,
    /// Messages encoded since the last commit: the first `staged_len`, oldest first.
    /// Allocated once; its length never changes.
    staged: Box<[Staged]>,
    /// Entries of `staged` in use (`<= staged.len()`).
    staged_len: usize,
}

/// Messages whose publish `rdtsc` [`ItchMarketOutput::publish_tsc`] remembers.
pub const PUBLISH_TSC_KEPT: usize = 4096;

impl ItchMarketOutput {
    /// An output writing to `writer`, naming stocks from `symbols`, staging up to
    /// [`DEFAULT_STAGED_MESSAGES`] messages between commits.
    pub fn new(writer: broadcast::Writer, symbols: Symbols) -> Self {
        Self {
            writer,
            symbols,
            stats: ItchOutputStats::default(),
            publish_tsc: vec![0; PUBLISH_TSC_KEPT].into_boxed_slice(),
            staged: vec![Staged::EMPTY; DEFAULT_STAGED_MESSAGES].into_boxed_slice(),
            staged_len: 0,
        }
    }

    /// Stages up to `messages` (at least 1) between commits instead: size it for the
    /// core's drain limit × [`ITCH_PER_COMMAND`].
    pub fn with_staging(mut self, messages: usize) -> Self {
        debug_assert_eq!(self.staged_len, 0, "resized with messages staged");
        self.staged = vec![Staged::EMPTY; messages.max(1)].into_boxed_slice();
        self
    }

    /// Messages encoded but not yet committed to the ring.
    pub fn staged(&self) -> usize {
        self.staged_len
    }

    /// The `rdtsc` at which the message with market-data sequence number `md_seq`
    /// (ring position + 1) was committed, if it is one of the last
    /// [`PUBLISH_TSC_KEPT`]; `None` for 0, a number not yet committed or one too old.
    /// For tick-to-trade: an order's `trigger_md_seq` → when its tick went out.
    #[inline]
    pub fn publish_tsc(&self, md_seq: u64) -> Option<u64> {
        let written = self.writer.position();
        let kept = PUBLISH_TSC_KEPT as u64;
        if md_seq == 0 || md_seq > written || written - md_seq >= kept {
            return None;
        }
        Some(self.publish_tsc[((md_seq - 1) % kept) as usize])
    }

    /// A reader of the ring, starting at the newest position.
    pub fn reader(&self) -> super::ItchReader {
        super::ItchReader::new(self.writer.reader())
    }
}

impl MarketOutput for ItchMarketOutput {
    #[inline]
    fn try_publish(&mut self, event: &MdEvent) -> Result<(), OutputFull> {
        if let MdEvent::StockDirectory(e) = event {
            self.symbols.learn(e.locate, e.symbol);
        }
        let Some(message) = to_message(event, &self.symbols) else {
            self.stats.unencodable += 1;
            return Ok(());
        };
        if self.staged_len == self.staged.len() {
            self.commit();
        }
        let entry = &mut self.staged[self.staged_len];
        entry.bytes = [0; STAGED_WORDS * 8];
        // Cannot fail: `bytes` holds `Message::MAX_LEN`.
        if let Ok(len) = message.encode(&mut entry.bytes) {
            entry.len = len as u8;
            self.staged_len += 1;
        }
        Ok(())
    }

    /// NB: the empty case (every round of a command without market data) is one
    /// compare inlined into the core's round; out of line it was a call of ≈ 18
    /// instructions per round (callgrind).
    #[inline(always)]
    fn commit(&mut self) -> usize {
        if self.staged_len == 0 {
            return 0;
        }
        self.commit_staged()
    }
}

impl ItchMarketOutput {
    /// Publishes the staged messages (at least one); returns how many.
    #[inline(never)]
    fn commit_staged(&mut self) -> usize {
        let first = self.writer.position();
        let Self {
            writer,
            stats,
            staged,
            ..
        } = self;
        // NB: words straight into the slot: through `publish` (scratch zeroed, bytes
        // copied in, then stored) a commit of one message cost ≈ 160 instructions
        // (callgrind, `bench rtt`).
        for s in &staged[..self.staged_len] {
            match writer.publish_words(usize::from(s.len), &s.words()) {
                Ok(_) => stats.published += 1,
                Err(_) => stats.too_long += 1,
            }
        }
        self.staged_len = 0;
        // NB: one rdtsc (≈20 ns here) per commit, once every slot of it is visible.
        let tsc = crate::clock::rdtsc();
        let end = self.writer.position();
        for pos in first..end {
            self.publish_tsc[(pos % PUBLISH_TSC_KEPT as u64) as usize] = tsc;
        }
        (end - first) as usize
    }
}
