//! The handler's view of the connections: queue bytes, close.

use super::conn::{ConnTable, QueueError};
use super::{CloseReason, ConnId, SendError};

/// Queues outbound bytes and closes for the connections of one gateway. Handed to
/// every [`super::Handler`] callback; the gateway turns what was queued into send
/// SQEs at the end of the loop turn (one submit for all of them).
#[derive(Debug)]
pub struct Outbox<'a> {
    table: &'a mut ConnTable,
    now_ns: u64,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(table: &'a mut ConnTable, now_ns: u64) -> Self {
        Self { table, now_ns }
    }

    /// `CLOCK_MONOTONIC` in nanoseconds as taken by the gateway for this loop turn
    /// (from the TSC, see [`crate::clock::MonotonicTsc`]): once at the start of every
    /// turn that has completions (so before the `on_data` calls it serves), before an
    /// idle thread's hot polls ([`super::Gateway::poll_hot`]), and at least every
    /// [`super::CLOCK_REFRESH_TURNS`] idle turns otherwise. Handlers use
    /// it instead of reading the clock per message (≈ 35 ns a read here).
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Copies `bytes` into `conn`'s outbound queue. If they would exceed
    /// `max_outbound_bytes_per_conn`, nothing is queued and the connection is
    /// dropped as a slow consumer (counted and logged by the gateway).
    ///
    /// ```no_run
    /// # use tickgate::gateway::{ConnId, Outbox, SendError};
    /// # fn f(out: &mut Outbox<'_>, conn: ConnId) {
    /// match out.send(conn, b"hello") {
    ///     Ok(()) => {}
    ///     Err(SendError::Closed | SendError::SlowConsumer) => { /* forget conn */ }
    /// }
    /// # }
    /// ```
    #[inline]
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        match self.table.queue_send(conn, bytes) {
            Ok(()) => Ok(()),
            Err(QueueError::NotOpen) => Err(SendError::Closed),
            Err(QueueError::OverBound) => {
                self.table
                    .request_close(conn, CloseReason::SlowConsumer, false);
                Err(SendError::SlowConsumer)
            }
        }
    }

    /// Closes `conn` once the bytes already queued to it are sent (e.g. after a
    /// logout or End of Session message); later sends are refused. Stale ids are
    /// ignored.
    pub fn close(&mut self, conn: ConnId, reason: CloseReason) {
        self.table.request_close(conn, reason, true);
    }

    /// Closes `conn` now, discarding unsent bytes (reset). Stale ids are ignored.
    pub fn abort(&mut self, conn: ConnId, reason: CloseReason) {
        self.table.request_close(conn, reason, false);
    }

    /// Whether `conn` is open and accepting sends (no close requested).
    #[inline]
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.table.get(conn).is_some()
    }

    /// Bytes queued to `conn` and not yet confirmed sent, or `None` if not open: the
    /// handler's back-pressure signal, before the bound drops the connection.
    #[inline]
    pub fn queued_bytes(&self, conn: ConnId) -> Option<usize> {
        self.table.get(conn).map(|c| c.out.queued_bytes())
    }

    /// The outbound bound per connection.
    #[inline]
    pub fn max_queued_bytes(&self) -> usize {
        self.table.out_cap()
    }
}
