//! The matching core: price-time books, orders, and the loop that owns them.
//!
//! Data flow: the session layer turns OUCH (or a shared-memory algo's records) into
//! fixed-size [`Command`]s; the core loop ([`core`]) drains its input rings round-robin
//! and hands each command to the [`Engine`], the single writer of all market state.
//! The engine emits [`OrderEvent`]s for the owning session and [`MdEvent`]s (ITCH 5.0
//! shaped) for market data, in a deterministic order; the core's time is the timestamp
//! each command carries, so replaying a journal of commands reproduces every event and
//! the [`Engine::state_hash`].
//!
//! Inside: instruments have a fixed price band, so each book is a dense array of price
//! levels (one per tick) with occupancy bitmaps for the best price; a level is an
//! intrusive FIFO through a preallocated order pool with a free list; orders are named by
//! [`OrderRef`] (pool index + generation), so no command hashes. Order types, reject
//! reasons and STP modes are described in `docs/MATCHING.md`.

mod amend;
pub mod bench;
mod bitset;
mod book;
pub mod command;
pub mod core;
mod enter;
pub mod event;
pub mod instrument;
mod matching;
mod orders;
mod state;
mod timers;
pub mod types;
mod warm;
pub mod wire;

pub use command::Command;
pub use event::{AnyEvent, EventSink, MdEvent, NullSink, OrderEvent, OrderView, VecSink};
pub use instrument::Instrument;
pub use state::{Engine, EngineError};
pub use types::{
    CancelReason, Display, IgnoreReason, Liquidity, OrderRef, RejectReason, Side, StpMode, Tif,
    TradingState,
};
pub use wire::{DecodeError, MD_RECORD_BYTES, RECORD_BYTES};
