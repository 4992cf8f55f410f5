//! Events out of the core: per-session order events (→ OUCH) and market-data events
//! (→ ITCH 5.0). Fixed-size records, in a deterministic order for every command.

use super::types::{
    CancelReason, Display, IgnoreReason, Liquidity, OrderRef, RejectReason, Side, StpMode, Tif,
    TradingState,
};
use super::wire::{record, record_enum};

record! {
    /// An Enter was accepted (OUCH `A`).
    pub struct Accepted {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// UserRefNum as entered.
        pub user_ref_num: u32,
        /// The core's handle for later Cancel / Replace / Modify.
        pub order: OrderRef,
        /// Day-unique order reference number (also the ITCH order ref when displayed).
        pub order_number: u64,
        /// Instrument index.
        pub instrument: u16,
        /// Side.
        pub side: Side,
        /// Shares accepted.
        pub qty: u32,
        /// Accepted price (band limit for market orders, repriced for post-only).
        pub price: u64,
        /// Accepted time in force (IOC for market orders).
        pub tif: Tif,
        /// Display.
        pub display: Display,
    }
}

record! {
    /// An Enter or Replace was rejected (OUCH `J`).
    pub struct Rejected {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The UserRefNum rejected (consumed).
        pub user_ref_num: u32,
        /// Why.
        pub reason: RejectReason,
    }
}

record! {
    /// Shares executed (OUCH `E`); both sides of a trade share the match number.
    pub struct Executed {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
        /// Shares just executed.
        pub qty: u32,
        /// Execution price.
        pub price: u64,
        /// Match number, shared by both sides.
        pub match_number: u64,
        /// Added or removed liquidity.
        pub liquidity: Liquidity,
    }
}

record! {
    /// Shares left an order (OUCH `C`); the order may still be live.
    pub struct Canceled {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
        /// Shares decremented (incremental).
        pub qty: u32,
        /// Why.
        pub reason: CancelReason,
    }
}

record! {
    /// Self-match prevention decremented an order (OUCH `D`).
    pub struct AiqCanceled {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
        /// Shares decremented (incremental).
        pub decrement: u32,
        /// Shares that would have executed.
        pub prevented: u32,
        /// Price the trade would have had.
        pub price: u64,
        /// Liquidity flag the order would have had.
        pub liquidity: Liquidity,
        /// Strategy applied (the incoming order's).
        pub strategy: StpMode,
    }
}

record! {
    /// A Replace took effect (OUCH `U`).
    pub struct Replaced {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// UserRefNum of the replaced order.
        pub orig_user_ref_num: u32,
        /// UserRefNum of the replacement.
        pub user_ref_num: u32,
        /// The handle (unchanged by Replace).
        pub order: OrderRef,
        /// New day-unique order reference number.
        pub order_number: u64,
        /// Side.
        pub side: Side,
        /// Shares left exposed when the replacement completed (before it trades).
        pub qty: u32,
        /// Accepted price.
        pub price: u64,
        /// Accepted time in force.
        pub tif: Tif,
        /// Display.
        pub display: Display,
        /// Instrument index.
        pub instrument: u16,
    }
}

record! {
    /// A Modify took effect (OUCH `M`).
    pub struct Modified {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
        /// New side.
        pub side: Side,
        /// Shares outstanding.
        pub qty: u32,
    }
}

record! {
    /// A partial cancel could not be applied (OUCH `I`): the instrument is halted.
    pub struct CancelRejected {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
    }
}

record! {
    /// A Mass Cancel was done (OUCH `X`); the `Canceled` events precede it.
    pub struct MassCancelResponse {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// UserRefNum of the request.
        pub user_ref_num: u32,
        /// Firm.
        pub firm: u32,
        /// Instrument or `ALL_INSTRUMENTS`.
        pub instrument: u16,
        /// Orders cancelled.
        pub canceled: u32,
    }
}

record! {
    /// A reserve order's display was refreshed (OUCH `R`, reason `R`): it went to the
    /// back of its level with a new order number.
    pub struct Restated {
        /// Core time.
        pub ts_ns: u64,
        /// Destination session.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's UserRefNum.
        pub user_ref_num: u32,
        /// The order's handle.
        pub order: OrderRef,
        /// New displayed quantity.
        pub display_qty: u32,
        /// New order number (the new ITCH `A`).
        pub order_number: u64,
    }
}

record! {
    /// The command had no effect and gets no OUCH response (session layer drops it).
    pub struct Ignored {
        /// Core time.
        pub ts_ns: u64,
        /// Session of the command (or `u16::MAX` for operator commands).
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// UserRefNum of the command.
        pub user_ref_num: u32,
        /// Why.
        pub reason: IgnoreReason,
    }
}

record! {
    /// An [`Echo`](super::command::Echo) command, returned in order (the session layer
    /// appends `bytes` to the session's stream).
    pub struct Echoed {
        /// Core time.
        pub ts_ns: u64,
        /// Session.
        pub session: u16,
        /// UserRefIdx channel of the consumed UserRefNum.
        pub user_ref_idx: u8,
        /// The consumed UserRefNum (0: none).
        pub user_ref_num: u32,
        /// Bytes used of `bytes`.
        pub len: u8,
        /// The session layer's message.
        pub bytes: [u8; super::command::ECHO_BYTES],
    }
}

record_enum! {
    super::wire::RECORD_BYTES;
    /// An event for one session (becomes an OUCH outbound message).
    pub enum OrderEvent {
        /// Order accepted.
        Accepted(Accepted) = b'A',
        /// Order or replace rejected.
        Rejected(Rejected) = b'J',
        /// Execution.
        Executed(Executed) = b'E',
        /// Shares cancelled.
        Canceled(Canceled) = b'C',
        /// Self-match prevention.
        AiqCanceled(AiqCanceled) = b'D',
        /// Replaced.
        Replaced(Replaced) = b'U',
        /// Modified.
        Modified(Modified) = b'M',
        /// Cancel rejected.
        CancelRejected(CancelRejected) = b'I',
        /// Mass cancel done.
        MassCancelResponse(MassCancelResponse) = b'X',
        /// Reserve refreshed.
        Restated(Restated) = b'R',
        /// Command ignored.
        Ignored(Ignored) = b'?',
        /// A session-layer answer, in sequence.
        Echoed(Echoed) = b'e',
    }
}

impl OrderEvent {
    /// The session this event goes to.
    #[inline]
    pub fn session(&self) -> u16 {
        match self {
            Self::Accepted(e) => e.session,
            Self::Rejected(e) => e.session,
            Self::Executed(e) => e.session,
            Self::Canceled(e) => e.session,
            Self::AiqCanceled(e) => e.session,
            Self::Replaced(e) => e.session,
            Self::Modified(e) => e.session,
            Self::CancelRejected(e) => e.session,
            Self::MassCancelResponse(e) => e.session,
            Self::Restated(e) => e.session,
            Self::Ignored(e) => e.session,
            Self::Echoed(e) => e.session,
        }
    }

    /// The UserRefIdx channel of the order (or request) this event is about.
    #[inline]
    pub fn user_ref_idx(&self) -> u8 {
        match self {
            Self::Accepted(e) => e.user_ref_idx,
            Self::Rejected(e) => e.user_ref_idx,
            Self::Executed(e) => e.user_ref_idx,
            Self::Canceled(e) => e.user_ref_idx,
            Self::AiqCanceled(e) => e.user_ref_idx,
            Self::Replaced(e) => e.user_ref_idx,
            Self::Modified(e) => e.user_ref_idx,
            Self::CancelRejected(e) => e.user_ref_idx,
            Self::MassCancelResponse(e) => e.user_ref_idx,
            Self::Restated(e) => e.user_ref_idx,
            Self::Ignored(e) => e.user_ref_idx,
            Self::Echoed(e) => e.user_ref_idx,
        }
    }
}

record! {
    /// ITCH `S` System Event.
    pub struct MdSystemEvent {
        /// Timestamp.
        pub ts_ns: u64,
        /// Event code.
        pub code: u8,
    }
}

record! {
    /// ITCH `R` Stock Directory (the encoder fills the constant fields).
    pub struct MdStockDirectory {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Symbol.
        pub symbol: [u8; 8],
        /// Round lot size.
        pub lot_size: u32,
    }
}

record! {
    /// ITCH `H` Stock Trading Action.
    pub struct MdTradingAction {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// The core's state (encoder maps Trading → `T`, others → `H`).
        pub state: TradingState,
    }
}

record! {
    /// ITCH `A` Add Order (displayed orders only).
    pub struct MdAddOrder {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Order reference number.
        pub order_number: u64,
        /// `B` / `S`.
        pub side: u8,
        /// Displayed shares.
        pub shares: u32,
        /// Price.
        pub price: u32,
    }
}

record! {
    /// ITCH `E` Order Executed (displayed resting order).
    pub struct MdOrderExecuted {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Order reference number.
        pub order_number: u64,
        /// Shares executed.
        pub shares: u32,
        /// Match number.
        pub match_number: u64,
    }
}

record! {
    /// ITCH `C` Order Executed With Price. Continuous matching always trades at the
    /// resting order's displayed price, so the core never emits it; kept for encoders.
    pub struct MdOrderExecutedWithPrice {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Order reference number.
        pub order_number: u64,
        /// Shares executed.
        pub shares: u32,
        /// Match number.
        pub match_number: u64,
        /// Execution price.
        pub price: u32,
    }
}

record! {
    /// ITCH `X` Order Cancel (partial, displayed shares).
    pub struct MdOrderCancel {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Order reference number.
        pub order_number: u64,
        /// Displayed shares removed.
        pub shares: u32,
    }
}

record! {
    /// ITCH `D` Order Delete.
    pub struct MdOrderDelete {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Order reference number.
        pub order_number: u64,
    }
}

record! {
    /// ITCH `U` Order Replace.
    pub struct MdOrderReplace {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Original order reference number.
        pub orig_order_number: u64,
        /// New order reference number.
        pub order_number: u64,
        /// Displayed shares.
        pub shares: u32,
        /// Price.
        pub price: u32,
    }
}

record! {
    /// ITCH `P` Trade (non-cross): an execution against a hidden resting order.
    pub struct MdTrade {
        /// Timestamp.
        pub ts_ns: u64,
        /// Stock locate.
        pub locate: u16,
        /// Always 0: hidden orders have no public reference.
        pub order_number: u64,
        /// Side of the resting hidden order.
        pub side: u8,
        /// Shares.
        pub shares: u32,
        /// Price.
        pub price: u32,
        /// Match number.
        pub match_number: u64,
    }
}

record_enum! {
    super::wire::MD_RECORD_BYTES;
    /// A market-data event (becomes one ITCH 5.0 message).
    pub enum MdEvent {
        /// `S`.
        SystemEvent(MdSystemEvent) = b'S',
        /// `R`.
        StockDirectory(MdStockDirectory) = b'R',
        /// `H`.
        TradingAction(MdTradingAction) = b'H',
        /// `A`.
        AddOrder(MdAddOrder) = b'A',
        /// `E`.
        OrderExecuted(MdOrderExecuted) = b'E',
        /// `C`.
        OrderExecutedWithPrice(MdOrderExecutedWithPrice) = b'C',
        /// `X`.
        OrderCancel(MdOrderCancel) = b'X',
        /// `D`.
        OrderDelete(MdOrderDelete) = b'D',
        /// `U`.
        OrderReplace(MdOrderReplace) = b'U',
        /// `P`.
        Trade(MdTrade) = b'P',
    }
}

/// The engine's view of the live order a session event changes (`Accepted`,
/// `Executed`, `Canceled`, `AiqCanceled`, `Replaced`, `Modified`): read from the order's
/// line as the engine emits the event, so an observer keeping per-order state (the
/// pre-trade risk ledger) needs no table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderView {
    /// The order's instrument.
    pub instrument: u16,
    /// Buy side (every sell flavour is `false`; a Replace or Modify keeps the book side).
    pub buy: bool,
    /// Open shares before the event (0 for `Accepted`).
    pub leaves_before: u32,
    /// Open shares after it (0: the order is gone).
    pub leaves_after: u32,
}

/// Where the core writes its events, in the order it produces them.
pub trait EventSink {
    /// An event for `event.session()`.
    fn order_event(&mut self, event: &OrderEvent);
    /// A session event that changes a live order, with the engine's [`OrderView`] of it.
    /// The default forwards to [`Self::order_event`].
    #[inline(always)]
    fn order_event_on(&mut self, event: &OrderEvent, order: OrderView) {
        let _ = order;
        self.order_event(event);
    }
    /// A market-data event.
    fn market_event(&mut self, event: &MdEvent);
    /// Asked before a valid Replace of a live order is applied, with the order's
    /// instrument and open shares from the order line the engine has just read;
    /// `Err(reason)` refuses it: the original stays intact and the replacement's
    /// UserRefNum is consumed (as for a halted instrument). The default admits; the
    /// pre-trade risk layer (`risk::RiskCore`) checks the account's limits here, so the
    /// check shares the engine's lookup of the order instead of fetching it again.
    #[inline(always)]
    fn admit_replace(
        &mut self,
        _replace: &super::command::Replace,
        _instrument: u16,
        _leaves: u32,
    ) -> Result<(), RejectReason> {
        Ok(())
    }
}

/// A sink that discards everything (benchmarks, warm-up).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    #[inline]
    fn order_event(&mut self, _event: &OrderEvent) {}
    #[inline]
    fn market_event(&mut self, _event: &MdEvent) {}
}

/// One event of either stream, in production order (tests, journals, replay checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyEvent {
    /// A session event.
    Order(OrderEvent),
    /// A market-data event.
    Market(MdEvent),
}

/// A sink that records every event in a `Vec` (tests; allocates as it grows).
#[derive(Debug, Default, Clone)]
pub struct VecSink {
    /// Events in production order.
    pub events: Vec<AnyEvent>,
}

impl EventSink for VecSink {
    fn order_event(&mut self, event: &OrderEvent) {
        self.events.push(AnyEvent::Order(*event));
    }
    fn market_event(&mut self, event: &MdEvent) {
        self.events.push(AnyEvent::Market(*event));
    }
}
