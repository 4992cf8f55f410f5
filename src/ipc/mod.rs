//! Co-located algos over shared memory: the session directory and the algo-side API.
//!
//! The server creates a *directory* file in `/dev/shm` with N session slots and, per
//! slot, an order ring (algo → core) and a response ring (core → algo), all 0600. An
//! algo process claims a free slot with a compare-and-swap, writes its pid and the
//! credentials of a configured account, and waits; the server validates the claim and
//! activates the slot (or rejects it with a reason). From then on the algo writes OUCH
//! messages to its order ring and reads responses from its response ring; no gateway
//! thread sits in between.
//!
//! Liveness: the algo bumps a heartbeat counter in its slot; the server's housekeeping
//! ([`directory::Directory::check_liveness`]) frees a slot whose process is gone or whose
//! heartbeat stopped, and reports it so the caller can cancel the session's orders
//! (cancel-on-disconnect). Under `serve` the pid checks (`kill(pid, 0)`) run on a
//! housekeeping thread ([`watch`]) that flags dead pids in the slots, so the serving
//! thread makes no syscall for them. A generation number written at every server start lets an
//! algo detect that the server restarted under it.
//!
//! `tickgate serve` serves the slots (`[ipc]`): a slot is another transport for a
//! configured account, handled by the session layer like a SoupBinTCP connection
//! (`src/session/shm.rs`); the record formats of the two rings are in [`wire`]; the
//! core's ITCH ring is `/dev/shm/<name>.md`, read in place through
//! [`algo::AlgoSession::poll_market_data`]. See `docs/ALGOS.md`.
//!
//! Status: built and tested across processes against `serve` (`tests/algo_serve.rs`),
//! with per-session tick-to-trade histograms ([`latency`], `tickgate latency`,
//! shared threading). Not yet: (dedicated threading) polling the slots from the core's
//! own thread.

pub mod algo;
pub mod config;
pub mod directory;
pub mod latency;
pub mod latency_cmd;
pub mod watch;
pub mod wire;

pub use config::IpcSection;
