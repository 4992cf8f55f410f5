//! The outbound stream: core events and session answers become numbered Sequenced
//! Data packets, stored for the day and sent to the live client or replayed.

use super::Sessions;
use super::store::AppendError;
use super::translate::{self, encode, encode::Entered};
use crate::engine::command::{ECHO_BYTES, Echo};
use crate::engine::event::{Accepted, Rejected, Replaced};
use crate::engine::types::ALL_INSTRUMENTS;
use crate::engine::{Command, OrderEvent, RECORD_BYTES};
use crate::gateway::{ConnId, Outbox, SendError};
use crate::proto::ouch::{Outbound, Symbol};
use crate::proto::soupbin::{MAX_PACKET_LEN, encode_sequenced_with};
use crate::proto::wire::Alpha;
use crate::proto::wire::BufferTooSmall;

impl Sessions {
    /// Appends `msg` to account `acc`'s stream and sends it if its client is live.
    pub(super) fn emit(&mut self, acc: u16, msg: &Outbound, out: Option<&mut Outbox<'_>>) {
        self.emit_with(acc, |b| msg.encode(b), out);
    }

    /// Appends an encoded OUCH message to `acc`'s stream and sends it if live.
    fn emit_bytes(&mut self, acc: u16, msg: &[u8], out: Option<&mut Outbox<'_>>) {
        self.emit_with(
            acc,
            |b| match b.get_mut(..msg.len()) {
                Some(dst) => {
                    dst.copy_from_slice(msg);
                    Ok(msg.len())
                }
                None => Err(BufferTooSmall {
                    needed_bytes: msg.len(),
                    available_bytes: b.len(),
                }),
            },
            out,
        );
    }

    /// Appends the Sequenced Data packet of the OUCH message `write_message` encodes
    /// to `acc`'s stream (its next number), framed and encoded in place in the replay
    /// store, and sends it from there if the client is live: a TCP connection's
    /// outbox, or an algo's response ring (the pump sends what could not go now). `out`
    /// is `None` while recovering (no clients).
    fn emit_with(
        &mut self,
        acc: u16,
        write_message: impl FnOnce(&mut [u8]) -> Result<usize, BufferTooSmall>,
        out: Option<&mut Outbox<'_>>,
    ) {
        let a = &mut self.accounts[usize::from(acc)];
        if a.ended {
            self.counters.store_full += 1;
            return;
        }
        let seq = a.store.next_sequence_number();
        let caught_up = a.send_next == seq;
        let packet = a
            .store
            .append_with(MAX_PACKET_LEN, |b| encode_sequenced_with(b, write_message));
        let packet = match packet {
            Ok(packet) => packet,
            Err(AppendError::TooLarge) => return,
            Err(AppendError::Full) => return self.end_full_stream(acc, out),
        };
        if let Some(slot) = a.shm_slot {
            // NB: written as soon as it is stored, not by the pump after the turn's
            // other events: an IOC's Accepted reached its algo after its Canceled was
            // translated too (docs/LATENCY.md § Answers to algos). A stored packet is
            // [length u16][b'S'][OUCH message].
            if caught_up
                && let Some(algos) = self.algos.as_deref_mut()
                && algos.write_live(slot, seq, packet.get(3..).unwrap_or_default())
            {
                #[cfg(feature = "cg-marks")]
                crate::hot::marks::stop(packet.get(3..).unwrap_or_default());
                a.send_next += 1;
            }
            return;
        }
        let (true, Some(conn), Some(out)) = (caught_up, a.conn, out) else {
            return;
        };
        a.send_next += 1;
        let sent = out.send(conn, packet);
        self.on_sent(conn, sent, out);
    }

    /// `acc`'s replay store is full: its stream ends (End of Session, connection
    /// closed); later messages are counted, not stored.
    #[cold]
    fn end_full_stream(&mut self, acc: u16, out: Option<&mut Outbox<'_>>) {
        let a = &mut self.accounts[usize::from(acc)];
        a.ended = true;
        let (name, conn) = (a.username, a.conn);
        self.counters.store_full += 1;
        self.logf(format_args!(
            "account {name}: replay store full; ending its session"
        ));
        if let (Some(conn), Some(out)) = (conn, out) {
            let mut z = [0u8; 4];
            let zn = crate::proto::soupbin::Packet::EndOfSession
                .encode(&mut z)
                .unwrap_or(0);
            let _ = out.send(conn, &z[..zn]);
            self.close(conn, "replay store full", out);
        }
    }

    /// A session-layer answer (a Rejected it decided, an Account Query Response, …):
    /// sent through the core as an [`Echo`] so that it is journaled and takes its
    /// place in the stream in order with the core's events. `consumed` is the
    /// (UserRefIdx, UserRefNum) the message used up (UserRefNum 0: none).
    pub(super) fn answer(
        &mut self,
        acc: u16,
        ts_ns: u64,
        consumed: (u8, u32),
        msg: &Outbound,
        out: &mut Outbox<'_>,
    ) {
        self.try_answer(acc, ts_ns, consumed, msg, out);
    }

    /// [`Self::answer`]; `false` if the answer had to be sent at once, unjournaled
    /// (counted), so it will not come back from the core.
    pub(super) fn try_answer(
        &mut self,
        acc: u16,
        ts_ns: u64,
        consumed: (u8, u32),
        msg: &Outbound,
        out: &mut Outbox<'_>,
    ) -> bool {
        let mut bytes = [0u8; ECHO_BYTES];
        let Ok(len) = msg.encode(&mut bytes) else {
            // Every session-layer answer fits (tested); keep the stream whole anyway.
            self.counters.unjournaled_answers += 1;
            self.emit(acc, msg, Some(out));
            return false;
        };
        let echo = Command::Echo(Echo {
            ts_ns,
            session: acc,
            user_ref_idx: consumed.0,
            user_ref_num: consumed.1,
            len: len as u8,
            bytes,
        });
        if self.sequence(echo) {
            return true;
        }
        self.counters.unjournaled_answers += 1;
        self.emit(acc, msg, Some(out));
        false
    }

    /// Pushes a command that carries a session-layer answer (`Echo`, `Control`) or a
    /// cancel onto the command ring, in order behind those already waiting for room;
    /// `false` if it could not even wait ([`PENDING_ANSWERS`](super::PENDING_ANSWERS)
    /// are queued).
    pub(super) fn sequence(&mut self, cmd: Command) -> bool {
        if self.pending_answers.is_empty() && self.push_command(&cmd) {
            return true;
        }
        if self.pending_answers.len() < self.pending_answers.capacity() {
            self.pending_answers.push_back(cmd);
            return true;
        }
        false
    }

    /// Pushes waiting answers while the command ring has room; returns how many.
    pub(super) fn flush_pending_answers(&mut self) -> usize {
        let mut pushed = 0;
        while let Some(&echo) = self.pending_answers.front() {
            if !self.push_command(&echo) {
                break;
            }
            self.pending_answers.pop_front();
            pushed += 1;
        }
        pushed
    }

    /// Books the outcome of a live send.
    fn on_sent(&mut self, conn: ConnId, sent: Result<(), SendError>, out: &mut Outbox<'_>) {
        match sent {
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
    #[inline]
    pub(super) fn drain_responses(&mut self, out: &mut Outbox<'_>) -> usize {
        if !self.responses.has_record() {
            return 0;
        }
        self.drain_events(out)
    }

    /// [`Self::drain_responses`] once an event is waiting.
    ///
    /// NB: out of line (the idle poll stops at the check above) so that callgrind's
    /// `--toggle-collect='*Sessions*drain_events*'` counts the per-event work alone.
    #[inline(never)]
    fn drain_events(&mut self, out: &mut Outbox<'_>) -> usize {
        let mut work = 0;
        while work < self.drain_limit {
            // NB: decoded in place through a view of known size (its field reads need
            // no bounds checks; ≈ 2 instructions per event). Decoding a copy of the
            // record (with `on_event` inlined) cost ≈ 40 instructions more per event,
            // matching the decoder's `Result` instead of `.ok()` ≈ 8 more (callgrind).
            let decode = |r: &[u8]| {
                let record = r.first_chunk::<RECORD_BYTES>()?;
                OrderEvent::decode(record).ok()
            };
            let Some(ev) = self.responses.read(decode) else {
                break;
            };
            work += 1;
            match ev {
                Some(ev) => self.on_event(&ev, Some(out)),
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

    /// One core event: into the session's stream (sent if live), and the order map
    /// kept in step. `out` is `None` while recovering.
    #[inline]
    #[unsafe(link_section = "tg_hot")]
    pub(super) fn on_event(&mut self, ev: &OrderEvent, out: Option<&mut Outbox<'_>>) {
        let acc = ev.session();
        if usize::from(acc) >= self.accounts.len() {
            self.counters.ignored_events += 1;
            return;
        }
        match ev {
            OrderEvent::Accepted(e) => self.on_accepted(acc, e, out),
            OrderEvent::Executed(e) => {
                let orders = &mut self.accounts[usize::from(acc)].orders;
                orders.reduce(e.user_ref_idx, e.user_ref_num, e.qty);
                self.emit_with(acc, |b| encode::executed(e, b), out);
            }
            OrderEvent::Canceled(e) => {
                let orders = &mut self.accounts[usize::from(acc)].orders;
                orders.reduce(e.user_ref_idx, e.user_ref_num, e.qty);
                self.emit_with(acc, |b| encode::canceled(e, b), out);
            }
            OrderEvent::Replaced(e) => self.on_replaced(acc, e, out),
            OrderEvent::Rejected(e) => self.on_rejected(acc, e, out),
            OrderEvent::Echoed(e) => {
                let len = usize::from(e.len).min(ECHO_BYTES);
                self.day.on_echo(&e.bytes[..len]);
                self.emit_bytes(acc, &e.bytes[..len], out);
            }
            OrderEvent::Ignored(e) => self.on_ignored(acc, e, out),
            _ => self.on_other_event(acc, ev, out),
        }
    }

    /// An Accepted: the order gets its handle and open shares (or goes, if none), its
    /// Order Accepted is sent, and what waited for it runs.
    fn on_accepted(&mut self, acc: u16, e: &Accepted, mut out: Option<&mut Outbox<'_>>) {
        crate::hot::stage_stamp!(6);
        let symbol = self.symbol(e.instrument);
        let (idx, urn) = (e.user_ref_idx, e.user_ref_num);
        let orders = &mut self.accounts[usize::from(acc)].orders;
        let entered = match orders.get_mut(idx, urn) {
            Some(i) => {
                i.order = e.order;
                i.leaves = e.qty;
                Entered::of(i)
            }
            None => Entered::BLANK,
        };
        if e.qty == 0 {
            orders.remove(idx, urn);
        }
        let write = |b: &mut [u8]| encode::accepted(e, &entered, symbol, b);
        self.emit_with(acc, write, out.as_deref_mut());
        crate::hot::stage_stamp!(8);
        self.after_answer(acc, idx, urn, e.ts_ns, out);
    }

    /// A Replaced: the original goes, the replacement gets the handle and open shares,
    /// its Order Replaced is sent, and what waited for it runs.
    fn on_replaced(&mut self, acc: u16, e: &Replaced, mut out: Option<&mut Outbox<'_>>) {
        let symbol = self.symbol(e.instrument);
        let (idx, urn) = (e.user_ref_idx, e.user_ref_num);
        let orders = &mut self.accounts[usize::from(acc)].orders;
        // Read before the original goes: a Replace that reuses its UserRefNum (the
        // core never makes one) still answers with what was entered.
        let entered = orders.get(idx, urn).map_or(Entered::BLANK, Entered::of);
        orders.remove(idx, e.orig_user_ref_num);
        if let Some(i) = orders.get_mut(idx, urn) {
            i.order = e.order;
            i.leaves = e.qty;
        }
        let write = |b: &mut [u8]| encode::replaced(e, &entered, symbol, b);
        self.emit_with(acc, write, out.as_deref_mut());
        self.after_answer(acc, idx, urn, e.ts_ns, out);
    }

    /// A Rejected: the order goes, its Rejected is sent, and what waited for it runs.
    fn on_rejected(&mut self, acc: u16, e: &Rejected, mut out: Option<&mut Outbox<'_>>) {
        let (idx, urn) = (e.user_ref_idx, e.user_ref_num);
        let orders = &mut self.accounts[usize::from(acc)].orders;
        let cl_ord_id = orders
            .remove(idx, urn)
            .map_or(Alpha::SPACES, |i| i.cl_ord_id);
        let write = |b: &mut [u8]| encode::rejected(e, cl_ord_id, b);
        self.emit_with(acc, write, out.as_deref_mut());
        self.after_answer(acc, idx, urn, e.ts_ns, out);
    }

    /// The core answered the Enter/Replace `(idx, urn)`: messages deferred on it run
    /// (live only: a recovery has none).
    #[inline]
    fn after_answer(
        &mut self,
        acc: u16,
        idx: u8,
        urn: u32,
        ts_ns: u64,
        out: Option<&mut Outbox<'_>>,
    ) {
        if let Some(out) = out
            && !self.accounts[usize::from(acc)].deferred.is_empty()
        {
            self.resolve_deferred(acc, idx, urn, ts_ns, out);
        }
    }

    /// The rarer events (AIQ Canceled, Modified, Cancel Reject, Mass Cancel Response,
    /// Restated): the message built by [`translate::outbound`] and encoded.
    #[cold]
    fn on_other_event(&mut self, acc: u16, ev: &OrderEvent, out: Option<&mut Outbox<'_>>) {
        let symbol = match ev {
            OrderEvent::MassCancelResponse(e) => self.symbol(e.instrument),
            _ => Alpha::SPACES,
        };
        let (idx, urn) = event_key(ev);
        let info = self.accounts[usize::from(acc)]
            .orders
            .get(idx, urn)
            .copied();
        let Some((msg, tags)) = translate::outbound(ev, info.as_ref(), symbol) else {
            self.counters.ignored_events += 1;
            return;
        };
        self.track_other(acc, ev);
        self.emit_with(acc, |b| msg.encode_tagged(tags, b), out);
    }

    /// The core ignored a command (no OUCH answer). If it was a Replace whose
    /// replacement is still a placeholder (the original died while it was in flight),
    /// the placeholder goes, and messages deferred on it run now (and find no order):
    /// the same state a journal replay reaches.
    fn on_ignored(
        &mut self,
        acc: u16,
        e: &crate::engine::event::Ignored,
        out: Option<&mut Outbox<'_>>,
    ) {
        self.counters.ignored_events += 1;
        let (idx, urn) = (e.user_ref_idx, e.user_ref_num);
        if !self.accounts[usize::from(acc)]
            .orders
            .remove_in_flight(idx, urn)
        {
            return;
        }
        if let Some(out) = out
            && !self.accounts[usize::from(acc)].deferred.is_empty()
        {
            self.resolve_deferred(acc, idx, urn, e.ts_ns, out);
        }
    }

    /// Keeps the UserRefNum → OrderRef map in step with the core for the rarer events.
    fn track_other(&mut self, acc: u16, ev: &OrderEvent) {
        let orders = &mut self.accounts[usize::from(acc)].orders;
        match ev {
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
        OrderEvent::Echoed(e) => (e.user_ref_idx, e.user_ref_num),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ouch::{self, Options, RejectReason};

    /// Every answer the session layer sends through the core fits an `Echo`, with the
    /// largest appendage it can carry (a UserRefIdx).
    #[test]
    fn every_session_answer_fits_an_echo() {
        let opts = Options::user_ref_idx_only(255);
        let answers = [
            translate::rejected(
                u64::MAX,
                255,
                u32::MAX,
                RejectReason::InvalidSymbol,
                Alpha::padded("ABCDEFGHIJKLMN"),
            ),
            Outbound::AccountQueryResponse(ouch::AccountQueryResponse {
                timestamp: u64::MAX,
                next_user_ref_num: u32::MAX,
                options: Options::NONE,
            }),
            Outbound::MassCancelResponse(ouch::MassCancelResponse {
                timestamp: u64::MAX,
                user_ref_num: u32::MAX,
                firm: Alpha::padded("FIRM"),
                symbol: Alpha::padded("SYMBOL12"),
                options: opts,
            }),
            Outbound::DisableOrderEntryResponse(ouch::DisableOrderEntryResponse {
                timestamp: u64::MAX,
                user_ref_num: u32::MAX,
                firm: Alpha::padded("FIRM"),
                options: opts,
            }),
            Outbound::EnableOrderEntryResponse(ouch::EnableOrderEntryResponse {
                timestamp: u64::MAX,
                user_ref_num: u32::MAX,
                firm: Alpha::padded("FIRM"),
                options: opts,
            }),
        ];
        for a in answers {
            let mut buf = [0u8; ECHO_BYTES];
            assert!(a.encode(&mut buf).is_ok(), "{a:?} does not fit an Echo");
        }
    }
}
