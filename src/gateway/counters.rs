//! Gateway counters: written by the gateway thread only, read by anyone without locks.

use std::sync::atomic::{AtomicU64, Ordering};

use super::CloseReason;

/// Monotonic event counts of one gateway agent. Share it with `Arc` (see
/// [`super::Gateway::counters`]); reads are `Relaxed` snapshots, each counter exact
/// on its own but not consistent with the others at one instant.
#[derive(Debug, Default)]
pub struct GatewayCounters {
    /// Connections accepted into a slot.
    pub accepted: AtomicU64,
    /// Connections refused because every slot was in use (closed at once).
    pub rejected_max_connections: AtomicU64,
    /// Closed because the peer closed (EOF).
    pub closed_peer: AtomicU64,
    /// Closed on a socket error (reset, broken pipe, …).
    pub closed_error: AtomicU64,
    /// Dropped because their outbound bytes exceeded the bound.
    pub closed_slow_consumer: AtomicU64,
    /// Closed by the handler ([`super::Outbox::close`] / [`super::Outbox::abort`]).
    pub closed_local: AtomicU64,
    /// Closed by gateway shutdown.
    pub closed_shutdown: AtomicU64,
    /// Bytes received and handed to the handler.
    pub bytes_in: AtomicU64,
    /// Bytes the kernel confirmed sent.
    pub bytes_out: AtomicU64,
    /// Send CQEs that sent less than asked (the rest is resubmitted).
    pub partial_sends: AtomicU64,
    /// Multishot recvs ended by ENOBUFS (the provided-buffer ring ran dry); re-armed.
    pub recv_buffer_exhausted: AtomicU64,
    /// CQEs for a slot generation that is no longer current, ignored.
    pub stale_cqes: AtomicU64,
    /// Accept CQEs with an error.
    pub accept_errors: AtomicU64,
}

/// Adds `n` with a plain load + store: the gateway thread is the only writer, so no
/// locked read-modify-write is needed (readers see a value that was current).
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl GatewayCounters {
    /// The counter for a close reason.
    pub fn for_close(&self, reason: CloseReason) -> &AtomicU64 {
        match reason {
            CloseReason::PeerClosed => &self.closed_peer,
            CloseReason::Error(_) => &self.closed_error,
            CloseReason::SlowConsumer => &self.closed_slow_consumer,
            CloseReason::Local(_) => &self.closed_local,
            CloseReason::Shutdown => &self.closed_shutdown,
        }
    }

    /// A `Relaxed` read of one counter.
    #[inline]
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        [
            &self.closed_peer,
            &self.closed_error,
            &self.closed_slow_consumer,
            &self.closed_local,
            &self.closed_shutdown,
        ]
        .iter()
        .map(|c| Self::get(c))
        .sum()
    }
}
