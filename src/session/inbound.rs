//! OUCH inbound handling: the UserRefNum rule, symbol and firm checks, and the
//! translation into core commands (or a Rejected answered by the session itself).

use super::Sessions;
use super::account::Deferred;
use super::orders::OrderInfo;
use super::translate::{self, Origin};
use crate::engine::Command;
use crate::engine::OrderRef;
use crate::engine::command::{CONTROL_BYTES, Cancel, Control, MassCancel as MassCancelCmd, Modify};
use crate::engine::types::{ALL_INSTRUMENTS, ControlAction};
use crate::gateway::{ConnId, Outbox};
use crate::proto::ouch::{
    self, AccountQueryResponse, DisableOrderEntryResponse, EnableOrderEntryResponse, EnterOrder,
    Inbound, OptionValues, OuchError, Outbound, RejectReason, ReplaceOrder,
};
use crate::proto::wire::Alpha;

impl Sessions {
    /// One Unsequenced Data payload from logged-in account `acc`.
    ///
    /// NB: out of line so that callgrind's `--toggle-collect='*Sessions*on_ouch*'`
    /// counts the per-message work alone (a call is a few instructions of ≈ 500).
    #[inline(never)]
    #[unsafe(link_section = "tg_hot")]
    pub(super) fn on_ouch(&mut self, acc: u16, msg: &[u8], now: u64, out: &mut Outbox<'_>) {
        // NB: a view (the appendage left as checked bytes): decoding into `Options`
        // wrote ≈ 150 bytes per message, with or without options (callgrind).
        #[cfg(feature = "cg-marks")]
        if self.accounts[usize::from(acc)].shm_slot.is_some() {
            crate::hot::marks::start(msg);
        }
        let decoded = Inbound::view(msg);
        let m = match &decoded {
            Ok(m) => m,
            Err(e) => return self.on_bad_ouch(acc, msg, *e, now, out),
        };
        let idx = m.user_ref_idx();
        let a = &mut self.accounts[usize::from(acc)];
        if let Some(urn) = m.new_user_ref_num()
            && !a.user_ref_nums.check_and_consume(idx, urn)
        {
            self.counters.resends_ignored += 1;
            return;
        }
        let firm = a.firm_id;
        let o = Origin {
            ts_ns: self.ts_ns(now),
            session: acc,
            firm,
        };
        if self.admit(m, o, now, out) {
            self.dispatch(m, idx, o, out);
        }
    }

    /// Acts on a decoded message whose UserRefNum (if any) is already consumed. A
    /// message naming an order whose Enter/Replace is still in flight (no handle from
    /// the core yet) waits in the account's deferred list until the answer comes.
    /// `idx` is the message's UserRefIdx channel.
    pub(super) fn dispatch<O: OptionValues>(
        &mut self,
        m: &Inbound<O>,
        idx: u8,
        o: Origin,
        out: &mut Outbox<'_>,
    ) {
        if self.defer_if_pending(m, o.session, idx) {
            return;
        }
        match m {
            Inbound::EnterOrder(e) => self.on_enter(e, idx, o, out),
            Inbound::ReplaceOrder(r) => self.on_replace(r, idx, o, out),
            Inbound::CancelOrder(c) => {
                let (urn, qty) = (c.user_ref_num, c.quantity);
                self.on_existing(o, idx, urn, out, |order| {
                    Command::Cancel(Cancel {
                        ts_ns: o.ts_ns,
                        session: o.session,
                        user_ref_idx: idx,
                        user_ref_num: urn,
                        order,
                        qty,
                    })
                });
            }
            Inbound::ModifyOrder(x) => {
                let (urn, qty) = (x.user_ref_num, x.quantity);
                let side = crate::engine::Side::from_byte(x.side.to_byte());
                let side = side.unwrap_or(crate::engine::Side::Buy);
                self.on_existing(o, idx, urn, out, |order| {
                    Command::Modify(Modify {
                        ts_ns: o.ts_ns,
                        session: o.session,
                        user_ref_idx: idx,
                        user_ref_num: urn,
                        order,
                        side,
                        qty,
                    })
                });
            }
            Inbound::MassCancel(x) => self.on_mass_cancel(x, o, idx, out),
            Inbound::DisableOrderEntry(_) | Inbound::EnableOrderEntry(_) => {
                self.on_order_entry_switch(m, o, idx, out)
            }
            Inbound::AccountQuery(_) => {
                let a = &self.accounts[usize::from(o.session)];
                let reply = Outbound::AccountQueryResponse(AccountQueryResponse {
                    timestamp: o.ts_ns,
                    next_user_ref_num: a.user_ref_nums.next(idx),
                    options: ouch::Options::NONE,
                });
                self.answer(o.session, o.ts_ns, (idx, 0), &reply, out);
            }
        }
    }

    /// Defers `m` if it names an order in flight; `true` if it was deferred (or
    /// dropped because the deferred list is full).
    fn defer_if_pending<O: OptionValues>(&mut self, m: &Inbound<O>, acc: u16, idx: u8) -> bool {
        let names = match m {
            Inbound::CancelOrder(c) => c.user_ref_num,
            Inbound::ModifyOrder(x) => x.user_ref_num,
            Inbound::ReplaceOrder(r) => r.orig_user_ref_num,
            _ => return false,
        };
        let a = &mut self.accounts[usize::from(acc)];
        let Some(info) = a.orders.get(idx, names).copied() else {
            return false;
        };
        if info.order != OrderRef::NONE {
            return false;
        }
        if a.deferred.len() == a.deferred.capacity() {
            self.counters.unknown_orders += 1;
            return true;
        }
        a.deferred.push(Deferred {
            idx,
            on_user_ref_num: names,
            msg: m.to_decoded(),
        });
        if let Inbound::ReplaceOrder(r) = m {
            // The replacement is in flight too: later messages naming it wait as well.
            a.orders.insert(idx, r.user_ref_num, info);
        }
        true
    }

    /// The core answered the Enter/Replace `(idx, urn)`: runs what waited for it.
    pub(super) fn resolve_deferred(
        &mut self,
        acc: u16,
        idx: u8,
        urn: u32,
        ts_ns: u64,
        out: &mut Outbox<'_>,
    ) {
        loop {
            let a = &mut self.accounts[usize::from(acc)];
            let Some(pos) = a
                .deferred
                .iter()
                .position(|d| d.idx == idx && d.on_user_ref_num == urn)
            else {
                return;
            };
            let d = a.deferred.remove(pos);
            let o = Origin {
                ts_ns,
                session: acc,
                firm: a.firm_id,
            };
            self.dispatch(&d.msg, d.idx, o, out);
        }
    }

    /// Logs a bad OUCH message, at most `BAD_OUCH_LOG_LIMIT` per connection.
    fn log_bad_ouch(&mut self, id: ConnId, e: &OuchError) {
        let Some(c) = self.conn_mut(id) else { return };
        c.bad_ouch_logged = c.bad_ouch_logged.saturating_add(1);
        let n = c.bad_ouch_logged;
        if n <= super::BAD_OUCH_LOG_LIMIT {
            self.logf(format_args!("{id}: bad OUCH message: {e}"));
        }
        if n == super::BAD_OUCH_LOG_LIMIT {
            self.logf(format_args!(
                "{id}: further bad OUCH messages are counted, not logged"
            ));
        }
    }

    /// A message that did not decode: a Rejected naming its UserRefNum for an Enter or
    /// Replace long enough to read it (the number is consumed), else a Debug packet.
    fn on_bad_ouch(&mut self, acc: u16, msg: &[u8], e: OuchError, now: u64, out: &mut Outbox<'_>) {
        self.counters.ouch_decode_errors += 1;
        if let Some(id) = self.accounts[usize::from(acc)].conn {
            self.log_bad_ouch(id, &e);
        } else if let Some(slot) = self.accounts[usize::from(acc)].shm_slot {
            self.log_bad_algo_ouch(slot, &e);
        }
        let rejectable = matches!(msg.first(), Some(b'O' | b'U'));
        match ouch::peek_user_ref_num(msg) {
            Some(urn) if rejectable => {
                let a = &mut self.accounts[usize::from(acc)];
                if !a.user_ref_nums.check_and_consume(0, urn) {
                    self.counters.resends_ignored += 1;
                    return;
                }
                let cl = ouch::peek_cl_ord_id(msg).unwrap_or(Alpha::SPACES);
                let ts_ns = self.ts_ns(now);
                let j = translate::rejected(ts_ns, 0, urn, e.reject_reason(), cl);
                self.answer(acc, ts_ns, (0, urn), &j, out);
            }
            _ => self.send_debug(acc, e, out),
        }
    }

    fn send_debug(&mut self, acc: u16, e: OuchError, out: &mut Outbox<'_>) {
        let Some(conn) = self.accounts[usize::from(acc)].conn else {
            return;
        };
        let mut text = [0u8; 96];
        let mut w = std::io::Cursor::new(&mut text[..]);
        let _ = std::io::Write::write_fmt(&mut w, format_args!("rejected: {e}"));
        let len = w.position() as usize;
        let mut buf = [0u8; 128];
        let packet = crate::proto::soupbin::Packet::Debug(&text[..len]);
        if let Ok(n) = packet.encode(&mut buf) {
            let _ = out.send(conn, &buf[..n]);
        }
    }

    pub(super) fn session_reject(
        &mut self,
        o: Origin,
        idx: u8,
        urn: u32,
        r: RejectReason,
        cl: ouch::ClOrdId,
        out: &mut Outbox<'_>,
    ) {
        self.counters.session_rejects += 1;
        let j = translate::rejected(o.ts_ns, idx, urn, r, cl);
        self.answer(o.session, o.ts_ns, (idx, urn), &j, out);
    }

    fn on_enter<O: OptionValues>(
        &mut self,
        e: &EnterOrder<O>,
        idx: u8,
        o: Origin,
        out: &mut Outbox<'_>,
    ) {
        let (urn, cl) = (e.user_ref_num, e.cl_ord_id);
        let Some(instrument) = self.by_symbol.get(&e.symbol.0) else {
            return self.session_reject(o, idx, urn, RejectReason::InvalidSymbol, cl, out);
        };
        let cmd = match translate::enter(e, o, instrument) {
            Ok(c) => c,
            Err(r) => return self.session_reject(o, idx, urn, r, cl, out),
        };
        let info = OrderInfo {
            order: OrderRef::NONE,
            leaves: 0,
            side: e.side,
            cl_ord_id: cl,
            capacity: e.capacity,
            iso: e.intermarket_sweep_eligibility,
            cross_type: e.cross_type,
        };
        if !self.accounts[usize::from(o.session)]
            .orders
            .insert(idx, urn, info)
        {
            return self.session_reject(o, idx, urn, RejectReason::ProcessingError, cl, out);
        }
        if !self.push_order(&Command::Enter(cmd), &info, out) {
            self.accounts[usize::from(o.session)]
                .orders
                .remove(idx, urn);
            self.session_reject(o, idx, urn, RejectReason::ProcessingError, cl, out);
        }
    }

    fn on_replace<O: OptionValues>(
        &mut self,
        r: &ReplaceOrder<O>,
        idx: u8,
        o: Origin,
        out: &mut Outbox<'_>,
    ) {
        // A deferred Replace left a placeholder for its replacement (see
        // `defer_if_pending`): it is made again below if the Replace goes ahead.
        self.accounts[usize::from(o.session)]
            .orders
            .remove_in_flight(idx, r.user_ref_num);
        let orders = &self.accounts[usize::from(o.session)].orders;
        let Some(orig) = orders.get(idx, r.orig_user_ref_num).copied() else {
            self.counters.unknown_orders += 1;
            return;
        };
        if orig.order == OrderRef::NONE {
            self.counters.unknown_orders += 1;
            return;
        }
        let (urn, cl) = (r.user_ref_num, r.cl_ord_id);
        let cmd = match translate::replace(r, o, orig.order, &orig) {
            Ok(c) => c,
            Err(reason) => return self.session_reject(o, idx, urn, reason, cl, out),
        };
        let info = OrderInfo {
            order: OrderRef::NONE,
            leaves: 0,
            cl_ord_id: cl,
            side: r.options.side().unwrap_or(orig.side),
            ..orig
        };
        let orders = &mut self.accounts[usize::from(o.session)].orders;
        if !orders.insert(idx, urn, info) {
            return self.session_reject(o, idx, urn, RejectReason::ProcessingError, cl, out);
        }
        if !self.push_order(&Command::Replace(cmd), &info, out) {
            self.accounts[usize::from(o.session)]
                .orders
                .remove(idx, urn);
            self.session_reject(o, idx, urn, RejectReason::ProcessingError, cl, out);
        }
    }

    /// Cancel / Modify: the order must be open and known to the core.
    fn on_existing(
        &mut self,
        o: Origin,
        idx: u8,
        urn: u32,
        out: &mut Outbox<'_>,
        cmd: impl FnOnce(OrderRef) -> Command,
    ) {
        let orders = &self.accounts[usize::from(o.session)].orders;
        match orders.get(idx, urn) {
            Some(info) if info.order != OrderRef::NONE => {
                let cmd = cmd(info.order);
                // A full ring (overload: busy rejects crowd it) makes a cancel wait in
                // order, not vanish.
                if !self.run_direct(&cmd, None, out) && !self.sequence(cmd) {
                    self.counters.command_ring_full += 1;
                }
            }
            _ => self.counters.unknown_orders += 1,
        }
    }

    fn on_mass_cancel<O: OptionValues>(
        &mut self,
        x: &ouch::MassCancel<O>,
        o: Origin,
        idx: u8,
        out: &mut Outbox<'_>,
    ) {
        let a = &self.accounts[usize::from(o.session)];
        let firm_ok = x.firm.is_blank() || x.firm == a.firm;
        let instrument = if x.symbol.is_blank() {
            Some(ALL_INSTRUMENTS)
        } else {
            self.by_symbol.get(&x.symbol.0)
        };
        let (true, Some(instrument)) = (firm_ok, instrument) else {
            // Nothing of this account matches: answer with an empty response.
            self.counters.session_rejects += 1;
            let reply = Outbound::MassCancelResponse(ouch::MassCancelResponse {
                timestamp: o.ts_ns,
                user_ref_num: x.user_ref_num,
                firm: x.firm,
                symbol: x.symbol,
                options: ouch::Options::user_ref_idx_only(idx),
            });
            return self.answer(o.session, o.ts_ns, (idx, x.user_ref_num), &reply, out);
        };
        let cmd = Command::MassCancel(MassCancelCmd {
            ts_ns: o.ts_ns,
            session: o.session,
            user_ref_idx: idx,
            user_ref_num: x.user_ref_num,
            firm: o.firm,
            instrument,
        });
        if !self.run_direct(&cmd, None, out) && !self.sequence(cmd) {
            self.counters.command_ring_full += 1;
        }
    }

    /// OUCH Disable / Enable Order Entry: a `Control` command for the core, where
    /// pre-trade risk blocks or unblocks the account (journaled, so a replay does too)
    /// and returns the response below in order with the account's other messages.
    fn on_order_entry_switch<O: OptionValues>(
        &mut self,
        m: &Inbound<O>,
        o: Origin,
        idx: u8,
        out: &mut Outbox<'_>,
    ) {
        let opts = ouch::Options::user_ref_idx_only(idx);
        let (action, reply) = match m {
            Inbound::DisableOrderEntry(d) => (
                ControlAction::Disable,
                Outbound::DisableOrderEntryResponse(DisableOrderEntryResponse {
                    timestamp: o.ts_ns,
                    user_ref_num: d.user_ref_num,
                    firm: d.firm,
                    options: opts,
                }),
            ),
            Inbound::EnableOrderEntry(e) => (
                ControlAction::Enable,
                Outbound::EnableOrderEntryResponse(EnableOrderEntryResponse {
                    timestamp: o.ts_ns,
                    user_ref_num: e.user_ref_num,
                    firm: e.firm,
                    options: opts,
                }),
            ),
            _ => return,
        };
        let urn = m.new_user_ref_num().unwrap_or(0);
        let mut bytes = [0u8; CONTROL_BYTES];
        let Ok(len) = reply.encode(&mut bytes) else {
            return self.answer(o.session, o.ts_ns, (idx, urn), &reply, out);
        };
        let cmd = Command::Control(Control {
            ts_ns: o.ts_ns,
            session: o.session,
            user_ref_idx: idx,
            user_ref_num: urn,
            action,
            account: o.session,
            request: 0,
            len: len as u8,
            bytes,
        });
        if !self.sequence(cmd) {
            self.counters.unjournaled_answers += 1;
            self.emit(o.session, &reply, Some(out));
        }
    }
}
