//! The io_uring TCP gateway: a protocol-agnostic server agent.
//!
//! Data flow of one [`Gateway`] loop turn ([`Gateway::do_work`]):
//!
//! 1. Drain at most `cqe_batch` CQEs: multishot accept hands over sockets (a slot
//!    with a generation, [`ConnId`]); multishot recv hands over provided buffers
//!    ([`bufring`]), which go to [`Handler::on_data`] and straight back to the ring.
//! 2. [`Handler::poll`] runs (e.g. drain the matching core's response ring).
//! 3. Everything the handler queued through the [`Outbox`] becomes send SQEs (one per
//!    connection with pending bytes and no send in flight); closes are carried out.
//! 4. One `io_uring_enter` submits it all (skipped when idle and no completion work is
//!    flagged).
//!
//! The agent never blocks and never allocates in steady state. It runs on a thread of
//! its own or shares one with other agents (the matching core): call `do_work` from
//! the thread's duty cycle and hand the sum of work counts to an
//! [`crate::affinity::Idle`] strategy, as [`Gateway::run`] does. The ring belongs to
//! the thread that calls `do_work` first.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use tickgate::affinity::SpinThenYield;
//! use tickgate::gateway::{echo::Echo, Gateway, GatewayOptions};
//!
//! let opts = GatewayOptions { bind: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
//! let mut gw = Gateway::new(opts, Echo).unwrap();
//! println!("listening on {}", gw.local_addr());
//! let stop = AtomicBool::new(false);
//! gw.run(&mut SpinThenYield::new(1000), &stop);
//! ```

mod agent;
pub mod bufring;
pub mod conn;
pub mod counters;
pub mod echo;
pub mod mem;
mod outbox;
pub mod tcp_floor;
pub mod uring;

use std::fmt;
use std::net::SocketAddr;

pub use agent::Gateway;
pub use counters::GatewayCounters;
pub use outbox::Outbox;

/// Idle loop turns (no completions) after which the turn clock
/// ([`Outbox::now_ns`]) is read again anyway.
pub const CLOCK_REFRESH_TURNS: u32 = 16;

/// Sizes and switches of one gateway agent.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Address to listen on (port 0 picks a free port; see [`Gateway::local_addr`]).
    pub bind: SocketAddr,
    /// Connection slots; one more connection is accepted and closed at once.
    pub max_connections: usize,
    /// Size of each provided receive buffer.
    pub recv_buffer_bytes: u32,
    /// Number of provided receive buffers shared by all connections (power of two,
    /// ≤ 32768).
    pub recv_buffers: u16,
    /// Outbound bytes queued per connection before it is dropped as a slow consumer.
    pub max_outbound_bytes_per_conn: usize,
    /// Ask for an SQPOLL kernel thread (a third spinner: only with a core to spare).
    pub sqpoll: bool,
    /// SQPOLL thread idle time before it sleeps.
    pub sqpoll_idle_ms: u32,
    /// Ask for SINGLE_ISSUER + DEFER_TASKRUN (falls back if the kernel refuses).
    pub single_issuer: bool,
    /// At most this many CQEs per `do_work` call (the drain limit).
    pub cqe_batch: usize,
    /// `listen(2)` backlog.
    pub listen_backlog: i32,
    /// Buffer group id of the provided-buffer ring.
    pub bgid: u16,
    /// One stderr line per connection event (accept, close with reason).
    pub log_connections: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_connections: 1024,
            recv_buffer_bytes: 4096,
            recv_buffers: 1024,
            max_outbound_bytes_per_conn: 64 * 1024,
            sqpoll: false,
            sqpoll_idle_ms: 100,
            single_issuer: true,
            cqe_batch: 256,
            listen_backlog: 1024,
            bgid: 0,
            log_connections: true,
        }
    }
}

/// A connection: its slot and the slot's generation when it was accepted. An id
/// outlives its connection harmlessly: every use of a stale id is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The id of `slot` at `generation`.
    #[inline]
    pub const fn new(slot: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | slot as u64)
    }

    /// The slot index (< `max_connections`).
    #[inline]
    pub const fn slot(self) -> u32 {
        self.0 as u32
    }

    /// The slot's generation at accept time.
    #[inline]
    pub const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// As one word, e.g. to carry through a ring to the core and back.
    #[inline]
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// From [`ConnId::to_u64`].
    #[inline]
    pub const fn from_u64(raw: u64) -> Self {
        Self(raw)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}.{}", self.slot(), self.generation())
    }
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (recv returned 0).
    PeerClosed,
    /// A socket error (the errno), e.g. ECONNRESET or EPIPE.
    Error(i32),
    /// Its outbound bytes exceeded `max_outbound_bytes_per_conn`.
    SlowConsumer,
    /// The handler closed it; the label is for the log line (e.g. "logout",
    /// "heartbeat timeout").
    Local(&'static str),
    /// The gateway is shutting down.
    Shutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed => f.write_str("peer closed"),
            Self::Error(errno) => {
                write!(
                    f,
                    "socket error: {}",
                    std::io::Error::from_raw_os_error(*errno)
                )
            }
            Self::SlowConsumer => f.write_str("slow consumer (outbound bound exceeded)"),
            Self::Local(why) => write!(f, "closed by handler: {why}"),
            Self::Shutdown => f.write_str("gateway shutdown"),
        }
    }
}

/// Why [`Outbox::send`] did not queue the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closed, closing, or the id is stale; nothing was queued.
    Closed,
    /// The bytes would have exceeded the outbound bound: nothing was queued and the
    /// connection is being dropped with [`CloseReason::SlowConsumer`].
    SlowConsumer,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed"),
            Self::SlowConsumer => f.write_str("slow consumer: connection dropped"),
        }
    }
}

impl std::error::Error for SendError {}

/// What the session layer implements. Every callback runs on the gateway thread,
/// inside [`Gateway::do_work`]; none may block.
pub trait Handler {
    /// A connection was accepted; `out` may already send to it (e.g. a greeting).
    fn on_accept(&mut self, conn: ConnId, peer: SocketAddr, out: &mut Outbox<'_>);

    /// `data` arrived on `conn`, in order, split at arbitrary points. The buffer goes
    /// back to the kernel when this returns: keep an incomplete frame by copying it.
    fn on_data(&mut self, conn: ConnId, data: &[u8], out: &mut Outbox<'_>);

    /// `conn` is closed and its id is dead; called exactly once per accepted
    /// connection. Sends to it are refused from now on.
    fn on_close(&mut self, conn: ConnId, reason: CloseReason);

    /// Called once per loop turn for work that does not come from a socket (drain the
    /// core's response ring, heartbeats). Returns the work done (0 = idle).
    fn poll(&mut self, out: &mut Outbox<'_>) -> usize {
        let _ = out;
        0
    }

    /// Inputs worth a look between two turns while the thread is idle (the co-located
    /// algos' order rings): a few loads when there is nothing, the input handled at
    /// once when there is. Returns the work done; the next turn follows at once if any.
    fn poll_hot(&mut self, out: &mut Outbox<'_>) -> usize {
        let _ = out;
        0
    }
}

/// Set-up failures, each naming what to fix.
#[derive(Debug)]
pub enum GatewayError {
    /// Binding or listening failed.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// io_uring setup, probing or registration failed.
    Ring(std::io::Error),
    /// An option is out of range.
    Options(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bind { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source}; pick a free port or another address"
            ),
            Self::Ring(e) => write!(f, "gateway io_uring setup failed: {e}"),
            Self::Options(what) => write!(f, "bad gateway options: {what}"),
        }
    }
}

impl std::error::Error for GatewayError {}
