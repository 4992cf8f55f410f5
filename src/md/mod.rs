//! Market data out of the core: ITCH 5.0 on the broadcast ring, MoldUDP64 on the wire.
//!
//! ```text
//! core thread ── MdEvent ─► ItchMarketOutput::try_publish ─► staging ─► commit ─► broadcast
//!                            (itch::encode)      (after the turn's private answers)  ring: one
//!                                                                           ITCH message per slot
//!                                                                 │
//!        algos (same or other process): ItchReader ◄─────────────┤ read in place
//!        publisher thread: Publisher::do_work ◄──────────────────┘
//!             └─► MoldUDP64 packets ─► UDP multicast (default 239.0.0.1:15001 on lo)
//!             └─◄ retransmission requests (unicast) answered from RecentMessages
//! ```
//!
//! The ring position `p` of a message is its MoldUDP64 sequence number `p + 1`, on the
//! ring and on the wire. See `docs/MARKETDATA.md`.

pub mod config;
pub mod itch;
pub mod publisher;
pub mod reader;
pub mod socket;
pub mod store;

pub use config::MarketDataSection;
pub use itch::{ItchMarketOutput, Symbols};
pub use publisher::{Publisher, PublisherConfig, PublisherStats};
pub use reader::ItchReader;
