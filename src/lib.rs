//! tickgate: a co-located trading gateway and matching core in one process.
//!
//! Data flow (see `docs/ARCHITECTURE.md`):
//!
//! 1. Gateway threads (pinned, io_uring) read SoupBinTCP/OUCH from TCP clients and
//!    co-located algos write OUCH into their own shared-memory rings ([`ring::spsc`]).
//! 2. The matching core busy-polls those rings round-robin, is the single writer of all
//!    market state, and answers on a response ring per source.
//! 3. Market data leaves the core as ITCH 5.0 on a one-to-many [`ring::broadcast`] ring,
//!    read in place by algos and republished as MoldUDP64 over UDP multicast.
//! 4. Every thread is an agent pinned with [`affinity`] and idles with an
//!    [`affinity::Idle`] strategy; every timestamp comes from the calibrated TSC in
//!    [`clock`].
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

// The loom build (`--cfg loom`, tests/loom_spsc.rs) is the ring alone: loom models its
// atomics, and cannot model the shared-memory files everything else maps.
#[cfg(not(loom))]
pub mod affinity;
#[cfg(not(loom))]
pub mod bench;
#[cfg(not(loom))]
pub mod client;
#[cfg(not(loom))]
pub mod clock;
#[cfg(not(loom))]
pub mod config;
#[cfg(not(loom))]
pub mod engine;
#[cfg(not(loom))]
pub mod gateway;
#[cfg(not(loom))]
pub mod hot;
#[cfg(not(loom))]
pub mod ipc;
#[cfg(not(loom))]
pub mod journal;
#[cfg(not(loom))]
pub mod md;
#[cfg(not(loom))]
pub mod proto;
pub mod ring;
#[cfg(not(loom))]
pub mod risk;
#[cfg(not(loom))]
pub mod server;
#[cfg(not(loom))]
pub mod session;
#[cfg(not(loom))]
pub mod tune;
