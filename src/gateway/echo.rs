//! A demo handler that sends every byte back: the transport with no protocol on top,
//! used by the tests and by the io_uring-vs-raw-TCP round-trip comparison.

use std::net::SocketAddr;

use super::{CloseReason, ConnId, Handler, Outbox};

/// Echoes every received byte to its sender.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl Handler for Echo {
    fn on_accept(&mut self, _conn: ConnId, _peer: SocketAddr, _out: &mut Outbox<'_>) {}

    #[inline]
    fn on_data(&mut self, conn: ConnId, data: &[u8], out: &mut Outbox<'_>) {
        // A refused send already closed (or is closing) the connection.
        let _ = out.send(conn, data);
    }

    fn on_close(&mut self, _conn: ConnId, _reason: CloseReason) {}
}
