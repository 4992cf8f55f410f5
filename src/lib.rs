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

pub mod affinity;
pub mod bench;
pub mod client;
pub mod clock;
pub mod config;
pub mod engine;
pub mod gateway;
// Shared-memory files cannot be modelled by loom; the loom build (`--cfg loom`, see
// tests/loom_spsc.rs) leaves out what maps ring files.
#[cfg(not(loom))]
pub mod ipc;
pub mod journal;
pub mod md;
pub mod proto;
pub mod ring;
pub mod risk;
pub mod server;
pub mod session;
pub mod tune;
