//! The outbound stream: core events and session answers become numbered Sequenced
//! Data packets, stored for the day and sent to the live client or replayed.

use super::Sessions;
use super::translate;
use crate::engine::OrderEvent;
use crate::engine::types::ALL_INSTRUMENTS;
use crate::gateway::{ConnId, Outbox, SendError};
use crate::proto::ouch::{Outbound, Symbol};
use crate::proto::soupbin::{MAX_PACKET_LEN, encode_sequenced_with};
use crate::proto::wire::Alpha;

impl Sessions {
    /// Appends `msg` to account `acc`'s stream and sends it if its client is live.
    pub(super) fn emit(&mut self, acc: u16, msg: &Outbound, out: &mut Outbox<'_>) {
        let mut buf = [0u8; MAX_PACKET_LEN];
        let Ok(n) = encode_sequenced_with(&mut buf, |b| msg.encode(b)) else {
            return;
        };
        let a = &mut self.accounts[usize::from(acc)];
        if a.ended {
            self.counters.store_full += 1;
            return;
        }
        let live = a.conn.is_some() && !a.replaying();
        if a.store.append(&buf[..n]).is_err() {
            a.ended = true;
            let (name, conn) = (a.username, a.conn);
            self.counters.store_full += 1;
            self.logf(format_args!(
                "account {name}: replay store full; ending its session"
            ));
            if let Some(conn) = conn {
                let mut z = [0u8; 4];
                let zn = crate::proto::soupbin::Packet::EndOfSession
                    .encode(&mut z)
                    .unwrap_or(0);
                let _ = out.send(conn, &z[..zn]);
                self.close(conn, "replay store full", out);
            }
            return;
        }
        if !live {
            return;
        }
        let conn = a.conn.unwrap_or(ConnId::new(0, 0));
        a.send_next += 1;
        self.send_live(conn, &buf[..n], out);
    }

    fn send_live(&mut self, conn: ConnId, bytes: &[u8], out: &mut Outbox<'_>) {
        match out.send(conn, bytes) {
            Ok(()) => self.touch_sent(conn, out.now_ns()),
            Err(SendError::SlowConsumer) => {
                self.logf(format_args!(
                    "{conn}: outbound bound exceeded; dropped as slow consumer"
                ));
            }
            Err(SendError::Closed) => {}
        }
    }

    /// Drains up to `drain_limit` core events into the streams.
    pub(super) fn drain_responses(&mut self, out: &mut Outbox<'_>) -> usize {
        let mut work = 0;
        while work < self.drain_limit {
            let Some(ev) = self.responses.read(|r| OrderEvent::decode(r).ok()) else {
                break;
            };
            work += 1;
            match ev {
                Some(ev) => self.on_event(&ev, out),
                None => self.counters.ignored_events += 1,
            }
        }
        work
    }

    fn symbol(&self, instrument: u16) -> Symbol {
        if instrument == ALL_INSTRUMENTS {
            return Alpha::SPACES;
        }
        self.symbols
            .get(usize::from(instrument))
            .copied()
            .unwrap_or(Alpha::SPACES)
    }

    fn on_event(&mut self, ev: &OrderEvent, out: &mut Outbox<'_>) {
        let acc = ev.session();
        if usize::from(acc) >= self.accounts.len() {
            self.counters.ignored_events += 1;
            return;
        }
        let symbol = match ev {
            OrderEvent::Accepted(e) => self.symbol(e.instrument),
            OrderEvent::Replaced(e) => self.symbol(e.instrument),
            OrderEvent::MassCancelResponse(e) => self.symbol(e.instrument),
            _ => Alpha::SPACES,
        };
        let (idx, urn) = event_key(ev);
        let info = self.accounts[usize::from(acc)]
            .orders
            .get(idx, urn)
            .copied();
        let Some(msg) = translate::outbound(ev, info.as_ref(), symbol) else {
            self.counters.ignored_events += 1;
            return;
        };
        self.track(acc, ev);
        self.emit(acc, &msg, out);
        if matches!(
            ev,
            OrderEvent::Accepted(_) | OrderEvent::Replaced(_) | OrderEvent::Rejected(_)
        ) && !self.accounts[usize::from(acc)].deferred.is_empty()
        {
            let ts_ns = match ev {
                OrderEvent::Accepted(e) => e.ts_ns,
                OrderEvent::Replaced(e) => e.ts_ns,
                OrderEvent::Rejected(e) => e.ts_ns,
                _ => 0,
            };
            self.resolve_deferred(acc, idx, urn, ts_ns, out);
        }
    }

    /// Keeps the UserRefNum → OrderRef map in step with the core.
    fn track(&mut self, acc: u16, ev: &OrderEvent) {
        let orders = &mut self.accounts[usize::from(acc)].orders;
        match ev {
            OrderEvent::Accepted(e) => {
                if let Some(i) = orders.get_mut(e.user_ref_idx, e.user_ref_num) {
                    i.order = e.order;
                    i.leaves = e.qty;
                }
                if e.qty == 0 {
                    orders.remove(e.user_ref_idx, e.user_ref_num);
                }
            }
            OrderEvent::Rejected(e) => {
                orders.remove(e.user_ref_idx, e.user_ref_num);
            }
            OrderEvent::Replaced(e) => {
                orders.remove(e.user_ref_idx, e.orig_user_ref_num);
                if let Some(i) = orders.get_mut(e.user_ref_idx, e.user_ref_num) {
                    i.order = e.order;
                    i.leaves = e.qty;
                }
            }
            OrderEvent::Executed(e) => orders.reduce(e.user_ref_idx, e.user_ref_num, e.qty),
            OrderEvent::Canceled(e) => orders.reduce(e.user_ref_idx, e.user_ref_num, e.qty),
            OrderEvent::AiqCanceled(e) => {
                orders.reduce(e.user_ref_idx, e.user_ref_num, e.decrement)
            }
            OrderEvent::Modified(e) => {
                if let Some(i) = orders.get_mut(e.user_ref_idx, e.user_ref_num) {
                    i.leaves = e.qty;
                    i.side =
                        crate::proto::ouch::Side::from_byte(e.side.to_byte()).unwrap_or(i.side);
                }
                if e.qty == 0 {
                    orders.remove(e.user_ref_idx, e.user_ref_num);
                }
            }
            _ => {}
        }
    }

    /// Sends replayed messages to clients catching up, keeping each one's outbound
    /// queue under half the slow-consumer bound; a caught-up client goes live.
    pub(super) fn pump_replays(&mut self, out: &mut Outbox<'_>) -> usize {
        let mut work = 0;
        let mut i = 0;
        while i < self.replaying.len() {
            let acc = self.replaying[i];
            work += self.pump_one(acc, out);
            if self.accounts[usize::from(acc)].replaying() {
                i += 1;
            } else {
                self.replaying.swap_remove(i);
            }
        }
        work
    }

    fn pump_one(&mut self, acc: u16, out: &mut Outbox<'_>) -> usize {
        let a = &mut self.accounts[usize::from(acc)];
        let Some(conn) = a.conn else { return 0 };
        let Some(queued) = out.queued_bytes(conn) else {
            return 0;
        };
        let room = (out.max_queued_bytes() / 2).saturating_sub(queued);
        if room < MAX_PACKET_LEN {
            return 0;
        }
        let (bytes, next) = a.store.packets_from(a.send_next, room);
        if bytes.is_empty() {
            return 0;
        }
        let sent = next - a.send_next;
        a.send_next = next;
        if out.send(conn, bytes).is_ok() {
            self.touch_sent(conn, out.now_ns());
        }
        sent as usize
    }
}

/// The (UserRefIdx, UserRefNum) an event names.
fn event_key(ev: &OrderEvent) -> (u8, u32) {
    match ev {
        OrderEvent::Accepted(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Rejected(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Executed(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Canceled(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::AiqCanceled(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Replaced(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Modified(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::CancelRejected(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::MassCancelResponse(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Restated(e) => (e.user_ref_idx, e.user_ref_num),
        OrderEvent::Ignored(e) => (e.user_ref_idx, e.user_ref_num),
    }
}
