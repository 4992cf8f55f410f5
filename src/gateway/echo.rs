//! Demo handlers: [`Echo`] sends every byte back (the transport with no protocol on
//! top); [`Responder`] answers fixed-size requests with fixed-size responses (an
//! exchange shaped like order entry). Used by the tests and by the io_uring-vs-raw-TCP
//! comparisons.

use std::net::SocketAddr;

use super::tcp_floor::Exchange;
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

/// Answers every whole request of an [`Exchange`] with its response (the first 8
/// bytes repeat the request's), as the raw floor's responder does. Partial requests
/// wait in a per-slot buffer reserved at construction.
#[derive(Debug)]
pub struct Responder {
    ex: Exchange,
    /// Per slot: bytes of an incomplete request.
    partial: Vec<Vec<u8>>,
    /// Answers built for one `on_data` call.
    out: Vec<u8>,
}

impl Responder {
    /// A responder for `ex` on a gateway of `max_connections` slots.
    pub fn new(ex: Exchange, max_connections: usize) -> Self {
        Self {
            ex,
            partial: (0..max_connections)
                .map(|_| Vec::with_capacity(ex.request_bytes))
                .collect(),
            out: Vec::with_capacity(64 * 1024),
        }
    }
}

impl Handler for Responder {
    fn on_accept(&mut self, conn: ConnId, _peer: SocketAddr, _out: &mut Outbox<'_>) {
        if let Some(p) = self.partial.get_mut(conn.slot() as usize) {
            p.clear();
        }
    }

    fn on_data(&mut self, conn: ConnId, mut data: &[u8], out: &mut Outbox<'_>) {
        let Some(partial) = self.partial.get_mut(conn.slot() as usize) else {
            return;
        };
        let need = self.ex.request_bytes;
        if !partial.is_empty() {
            let take = (need - partial.len()).min(data.len());
            partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if partial.len() < need {
                return;
            }
            self.ex.answer(partial, &mut self.out);
            partial.clear();
            let _ = out.send(conn, &self.out);
        }
        let used = self.ex.answer(data, &mut self.out);
        partial.extend_from_slice(&data[used..]);
        if !self.out.is_empty() {
            // A refused send already closed (or is closing) the connection.
            let _ = out.send(conn, &self.out);
        }
    }

    fn on_close(&mut self, _conn: ConnId, _reason: CloseReason) {}
}
