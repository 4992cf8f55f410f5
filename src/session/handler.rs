//! The gateway callbacks: framing, login, logout, disconnect and the per-turn poll.

use core::ops::ControlFlow;
use std::net::SocketAddr;

use super::orders::OrderInfo;
use super::record::INPUT_RECORD_BYTES;
use super::{COD_CHANNEL, Sessions, monotonic_ns};
use crate::engine::command::MassCancel;
use crate::engine::types::ALL_INSTRUMENTS;
use crate::engine::{Command, OrderEvent};
use crate::gateway::{CloseReason, ConnId, Handler, Outbox};
use crate::proto::soupbin::{
    Direction, FrameError, LoginAccepted, LoginRejectReason, LoginRequest, MAX_PACKET_LEN, Packet,
    decode_frame,
};

/// Polls of the session layer with no command pushed after which the inline agent
/// runs anyway (for its other inputs).
pub(super) const INLINE_AGENT_IDLE_POLLS: u32 = 8;

/// Orders the inline agent's direct run takes between two of its polls (a turn);
/// later ones queue on the command ring, where the core drains them in turn with the
/// thread's other work and overload protection sees them (a client's burst of
/// thousands of orders in one read is not run in one go).
pub(super) const DIRECT_PER_TURN: u32 = 64;

/// The inline agent's direct run ([`InlineAgent`]): runs a command (and its input
/// record, for the journal) now, handing its events for this thread's sessions to the
/// callback; `false` if it declined.
pub type DirectRun = Box<dyn FnMut(&Command, &[u8], &mut dyn FnMut(&OrderEvent)) -> bool>;

/// The agent run inline in every `poll` (shared threading: the matching core), skipped
/// while it has nothing from this session layer: it runs when a command was pushed
/// since its last run or it did work then, and otherwise every
/// [`INLINE_AGENT_IDLE_POLLS`] polls, which is how soon its other inputs (the operator's
/// control ring, events held for the journal or spilled from a full ring) are served.
/// After a run that did work, `publish` runs once the poll has written the answers out
/// (the core's market-data commit: private before public).
///
/// `direct`, if set, runs one order's input record at once instead of through the
/// command ring, handing its events for this thread's sessions straight back
/// ([`Sessions::push_order`]); it declines (`false`) when the record must queue.
///
/// NB: an idle run of the core took ≈ 135 ns of a ≈ 400 ns idle loop turn (perf of the
/// serving thread under `bench rtt`: 33% of its samples in the core's `do_work` and
/// `run_core`, 6% with the skip), and an order waits on average about half a turn for
/// the loop to notice it.
pub(super) struct InlineAgent {
    agent: Box<dyn FnMut() -> usize>,
    publish: Box<dyn FnMut() -> usize>,
    pub(super) direct: Option<DirectRun>,
    /// Direct runs left this turn ([`DIRECT_PER_TURN`]).
    direct_left: u32,
    /// A command was pushed since the agent last ran, or it did work then.
    pub(super) due: bool,
    /// The agent did work since `publish` last ran.
    unpublished: bool,
    idle_polls: u32,
}

impl InlineAgent {
    pub(super) fn new(
        agent: Box<dyn FnMut() -> usize>,
        publish: Box<dyn FnMut() -> usize>,
    ) -> Self {
        Self {
            agent,
            publish,
            direct: None,
            direct_left: DIRECT_PER_TURN,
            due: true,
            unpublished: false,
            idle_polls: 0,
        }
    }

    /// Runs the agent if it is due; returns its work.
    #[inline]
    fn poll(&mut self) -> usize {
        self.direct_left = DIRECT_PER_TURN;
        if !self.due && self.idle_polls < INLINE_AGENT_IDLE_POLLS {
            self.idle_polls += 1;
            return 0;
        }
        self.idle_polls = 0;
        let work = (self.agent)();
        self.due = work > 0;
        self.unpublished |= work > 0;
        work
    }

    /// Runs `cmd` (encoded: `record`) through `direct`, if set, this turn has direct
    /// runs left and `direct` takes it; its events for this thread's sessions go to
    /// `take`. The agent then runs at the next poll (for what else it has to do, such
    /// as reporting a journal failure) and `publish` after it.
    #[inline]
    fn run_direct(
        &mut self,
        cmd: &Command,
        record: &[u8],
        take: &mut dyn FnMut(&OrderEvent),
    ) -> bool {
        let Some(direct) = &mut self.direct else {
            return false;
        };
        if self.direct_left == 0 {
            return false;
        }
        let ran = direct(cmd, record, take);
        self.direct_left -= u32::from(ran);
        self.due |= ran;
        self.unpublished |= ran;
        ran
    }

    /// Runs `publish` if the agent did work since it last ran.
    #[inline]
    fn publish(&mut self) {
        if self.unpublished {
            self.unpublished = false;
            (self.publish)();
        }
    }
}

/// What one packet asks the connection loop to do next.
enum Next {
    Continue,
    Stop,
}

impl Handler for Sessions {
    fn on_accept(&mut self, conn: ConnId, peer: SocketAddr, out: &mut Outbox<'_>) {
        if self.ending {
            out.abort(conn, CloseReason::Shutdown);
            return;
        }
        let now = out.now_ns();
        let state = self.new_conn(conn, now);
        match self.conns.get_mut(conn.slot() as usize) {
            Some(slot) => *slot = Some(state),
            None => out.abort(conn, CloseReason::Local("no session slot")),
        }
        self.logf(format_args!("{conn} from {peer}: awaiting login"));
    }

    fn on_data(&mut self, conn: ConnId, data: &[u8], out: &mut Outbox<'_>) {
        let now = out.now_ns();
        let Some(c) = self.conn_mut(conn) else { return };
        if c.closing {
            return;
        }
        c.last_recv_ns = now;
        let mut rest = data;
        if c.framer.is_empty() {
            // Whole packets straight from the buffer; the framer (moved below, a few
            // hundred bytes) only for a packet split across chunks or an error.
            rest = &data[self.on_whole_packets(conn, data, now, out)..];
            if rest.is_empty() || self.is_closing(conn) {
                return;
            }
        }
        let Some(c) = self.conn_mut(conn) else { return };
        // NB: the framer is moved out for the call so packets can borrow `self`.
        let mut framer = std::mem::replace(
            &mut c.framer,
            crate::proto::soupbin::Reassembler::new(
                crate::proto::soupbin::Direction::ClientToServer,
            ),
        );
        let result = loop {
            let r = framer.feed(rest, |p| match self.on_packet(conn, p, now, out) {
                Next::Continue => ControlFlow::Continue(()),
                Next::Stop => ControlFlow::Break(()),
            });
            match r {
                Ok(used) if used < rest.len() && !self.is_closing(conn) => rest = &rest[used..],
                other => break other,
            }
        };
        if let Some(c) = self.conn_mut(conn) {
            c.framer = framer;
        }
        if let Err(e) = result {
            self.on_frame_error(conn, e, out);
        }
    }

    fn on_close(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(slot) = self.conns.get_mut(conn.slot() as usize) else {
            return;
        };
        let Some(c) = slot.take_if(|c| c.id == conn) else {
            return;
        };
        if reason == CloseReason::SlowConsumer {
            self.counters.slow_consumers += 1;
        }
        let Some(acc) = c.account else {
            self.logf(format_args!("{conn} closed before login: {reason}"));
            return;
        };
        self.logout_account(acc, monotonic_ns());
        let name = self.accounts[usize::from(acc)].username;
        self.logf(format_args!("{conn} account {name} logged out: {reason}"));
    }

    fn poll(&mut self, out: &mut Outbox<'_>) -> usize {
        let mut work = 0;
        if !self.pending_answers.is_empty() {
            work += self.flush_pending_answers();
        }
        work += self.poll_algo_orders(out);
        work += self
            .inline_agent
            .as_deref_mut()
            .map_or(0, InlineAgent::poll);
        let drained = self.drain_responses(out);
        if drained > 0
            && let Some(agent) = &mut self.inline_agent
        {
            // Room freed in the response ring may be what the agent waits for.
            agent.due = true;
        }
        work += drained;
        work += self.pump_replays(out);
        work += self.pump_algo_streams();
        // Private before public: the turn's answers are in the response rings and
        // the TCP sends are queued; now its market data (docs/ARCHITECTURE.md).
        if let Some(agent) = &mut self.inline_agent {
            agent.publish();
        }
        let now = out.now_ns();
        work += self.algo_housekeeping(now);
        if !self.day.started() {
            self.start_of_day(out);
        }
        if self.ending && !self.ended_sent && self.end_of_day(out) {
            self.send_end_of_session(out);
            work += 1;
        }
        if now >= self.next_timer_scan_ns {
            self.next_timer_scan_ns = now + 5_000_000;
            self.scan_timers(now, out);
        }
        // Keep the order path warm while idle; a pass is not work (the idle strategy
        // may still park).
        if work > 0 {
            self.warm.postpone(now);
        } else {
            self.warm_if_due(now);
        }
        work
    }

    /// The algo slots' order rings: one load per active slot when they are empty.
    /// What an order sets off is finished by the turn that follows at once (the
    /// core's inline agent, the market data's commit after the answers).
    #[inline]
    fn poll_hot(&mut self, out: &mut Outbox<'_>) -> usize {
        self.poll_algo_orders(out)
    }
}

impl Sessions {
    /// Handles the whole packets at the front of `data` while the connection stays
    /// open; returns the bytes they took. Stops at a partial packet or a framing error
    /// (left for the framer, which reports it).
    fn on_whole_packets(
        &mut self,
        conn: ConnId,
        data: &[u8],
        now: u64,
        out: &mut Outbox<'_>,
    ) -> usize {
        let mut used = 0;
        while let Ok(Some((packet, len))) = decode_frame(&data[used..], Direction::ClientToServer) {
            used += len;
            if let Next::Stop = self.on_packet(conn, packet, now, out)
                && self.is_closing(conn)
            {
                break;
            }
        }
        used
    }

    fn is_closing(&mut self, conn: ConnId) -> bool {
        self.conn_mut(conn).is_none_or(|c| c.closing)
    }

    /// Closes a connection after what is queued (stops reading it now).
    pub(super) fn close(&mut self, conn: ConnId, why: &'static str, out: &mut Outbox<'_>) {
        if let Some(c) = self.conn_mut(conn) {
            c.closing = true;
        }
        out.close(conn, CloseReason::Local(why));
    }

    fn on_frame_error(&mut self, conn: ConnId, e: FrameError, out: &mut Outbox<'_>) {
        self.counters.frame_errors += 1;
        self.logf(format_args!("{conn}: {e}; disconnecting"));
        self.close(conn, "SoupBinTCP framing error", out);
    }

    fn on_packet(&mut self, conn: ConnId, p: Packet<'_>, now: u64, out: &mut Outbox<'_>) -> Next {
        let Some(c) = self.conn_mut(conn) else {
            return Next::Stop;
        };
        if c.closing {
            return Next::Stop;
        }
        match (c.account, p) {
            (None, Packet::LoginRequest(req)) => self.on_login(conn, &req, now, out),
            (_, Packet::Debug(_)) => Next::Continue,
            (Some(_), Packet::ClientHeartbeat) => Next::Continue,
            (Some(acc), Packet::UnsequencedData(msg)) => {
                self.on_ouch(acc, msg, now, out);
                Next::Continue
            }
            (Some(_), Packet::LogoutRequest) => {
                self.logf(format_args!("{conn}: logout request"));
                self.close(conn, "logout", out);
                Next::Stop
            }
            (state, other) => {
                self.counters.protocol_violations += 1;
                let when = if state.is_some() { "after" } else { "before" };
                let t = other.packet_type() as char;
                self.logf(format_args!(
                    "{conn}: packet {t:?} {when} login; disconnecting"
                ));
                self.close(conn, "protocol violation", out);
                Next::Stop
            }
        }
    }

    fn reject_login(
        &mut self,
        conn: ConnId,
        reason: LoginRejectReason,
        why: &str,
        out: &mut Outbox<'_>,
    ) -> Next {
        match reason {
            LoginRejectReason::NotAuthorized => self.counters.logins_not_authorized += 1,
            LoginRejectReason::SessionNotAvailable => self.counters.logins_session_unavailable += 1,
        }
        self.logf(format_args!("{conn}: login rejected ({why})"));
        let mut buf = [0u8; 8];
        if let Ok(n) = Packet::LoginRejected(reason).encode(&mut buf) {
            let _ = out.send(conn, &buf[..n]);
        }
        self.close(conn, "login rejected", out);
        Next::Stop
    }

    fn on_login(
        &mut self,
        conn: ConnId,
        req: &LoginRequest,
        now: u64,
        out: &mut Outbox<'_>,
    ) -> Next {
        use LoginRejectReason::{NotAuthorized, SessionNotAvailable};
        let Some(&acc) = self.by_username.get(&req.username.0) else {
            // Server-side log only: the client gets the plain refusal.
            if let Some((thread, addr)) = self.served_elsewhere(&req.username.0) {
                let why = format!("account served by gateway thread {thread} ({addr})");
                return self.reject_login(conn, NotAuthorized, &why, out);
            }
            return self.reject_login(conn, NotAuthorized, "unknown username", out);
        };
        let a = &self.accounts[usize::from(acc)];
        if a.password != req.password {
            return self.reject_login(conn, NotAuthorized, "wrong password", out);
        }
        if a.conn.is_some() || a.shm_slot.is_some() {
            return self.reject_login(conn, SessionNotAvailable, "already logged in", out);
        }
        if self.ending || a.ended {
            return self.reject_login(conn, SessionNotAvailable, "session ended", out);
        }
        if !req.requested_session.is_blank() && req.requested_session != self.session_name {
            return self.reject_login(conn, SessionNotAvailable, "unknown session", out);
        }
        let next = a.store.next_sequence_number();
        let from = match req.requested_sequence_number {
            0 => next,
            n => n.min(next),
        };
        self.accept_login(
            conn,
            acc,
            from,
            req.requested_heartbeat_timeout_ms,
            now,
            out,
        )
    }

    fn accept_login(
        &mut self,
        conn: ConnId,
        acc: u16,
        from: u64,
        timeout_ms: u32,
        now: u64,
        out: &mut Outbox<'_>,
    ) -> Next {
        let default_timeout = self.timers.default_timeout_ns;
        if let Some(c) = self.conn_mut(conn) {
            c.account = Some(acc);
            c.last_sent_ns = now;
            c.timeout_ns = match timeout_ms {
                0 => default_timeout,
                ms => u64::from(ms) * 1_000_000,
            };
        }
        let a = &mut self.accounts[usize::from(acc)];
        a.conn = Some(conn);
        a.send_next = from;
        let accepted = LoginAccepted {
            session: self.session_name,
            sequence_number: from,
        };
        let mut buf = [0u8; MAX_PACKET_LEN];
        if let Ok(n) = Packet::LoginAccepted(accepted).encode(&mut buf) {
            let _ = out.send(conn, &buf[..n]);
        }
        if a.replaying() {
            self.replaying.push(acc);
        }
        self.counters.logins_accepted += 1;
        let name = self.accounts[usize::from(acc)].username;
        self.logf(format_args!(
            "{conn}: account {name} logged in, next sequence {from}"
        ));
        Next::Continue
    }

    /// The connection of `acc` is gone: cancel-on-disconnect, forget the link.
    pub(super) fn logout_account(&mut self, acc: u16, now: u64) {
        let ts_ns = self.ts_ns(now);
        let a = &mut self.accounts[usize::from(acc)];
        a.conn = None;
        self.replaying.retain(|&r| r != acc);
        if !a.cancel_on_disconnect || a.orders.is_empty() || self.ended_sent {
            return;
        }
        let urn = a.user_ref_nums.next(COD_CHANNEL);
        a.user_ref_nums.consume(COD_CHANNEL, urn);
        let cmd = Command::MassCancel(MassCancel {
            ts_ns,
            session: acc,
            user_ref_idx: COD_CHANNEL,
            user_ref_num: urn,
            firm: a.firm_id,
            instrument: ALL_INSTRUMENTS,
        });
        if self.sequence(cmd) {
            self.counters.cancel_on_disconnect += 1;
        } else {
            self.counters.command_ring_full += 1;
        }
    }

    fn send_end_of_session(&mut self, out: &mut Outbox<'_>) {
        self.ended_sent = true;
        let mut buf = [0u8; 4];
        let n = Packet::EndOfSession.encode(&mut buf).unwrap_or(0);
        for i in 0..self.conns.len() {
            let Some(c) = &self.conns[i] else { continue };
            let id = c.id;
            if c.account.is_some() {
                let _ = out.send(id, &buf[..n]);
            }
            self.close(id, "end of session", out);
        }
    }

    fn scan_timers(&mut self, now: u64, out: &mut Outbox<'_>) {
        let interval = self.timers.heartbeat_interval_ns;
        let mut hb = [0u8; 4];
        let n = Packet::ServerHeartbeat.encode(&mut hb).unwrap_or(0);
        for i in 0..self.conns.len() {
            let Some(c) = &mut self.conns[i] else {
                continue;
            };
            if c.closing {
                continue;
            }
            let id = c.id;
            if now.saturating_sub(c.last_recv_ns) > c.timeout_ns {
                self.counters.heartbeat_timeouts += 1;
                self.logf(format_args!(
                    "{id}: client silent past its timeout; disconnecting"
                ));
                self.close(id, "heartbeat timeout", out);
                continue;
            }
            if c.account.is_some() && now.saturating_sub(c.last_sent_ns) >= interval {
                c.last_sent_ns = now;
                self.counters.heartbeats_sent += 1;
                let _ = out.send(id, &hb[..n]);
            }
        }
    }

    /// Marks that `acc`'s connection was sent something at `now` (heartbeat timer).
    pub(super) fn touch_sent(&mut self, conn: ConnId, now: u64) {
        if let Some(c) = self.conn_mut(conn) {
            c.last_sent_ns = now;
        }
    }

    /// An Enter or Replace for the core, with its session-side details: run at once
    /// if it can be ([`Self::run_direct`]), else through the command ring
    /// ([`Self::push_input`]). `false` (counted) if the ring is full.
    #[unsafe(link_section = "tg_hot")]
    pub(super) fn push_order(
        &mut self,
        cmd: &Command,
        info: &OrderInfo,
        out: &mut Outbox<'_>,
    ) -> bool {
        self.run_direct(cmd, Some(info), out) || self.push_input(cmd, Some(info))
    }

    /// Runs `cmd` in the core at once, when the core runs on this thread and nothing
    /// of this thread's waits ahead of it — no answer queued for the command ring, no
    /// event in the response ring, and (checked by the core) nothing in the command
    /// ring — with each of its events handled here as the core emits it
    /// ([`Sessions::on_event`]), so an algo's Order Accepted is in its response ring
    /// before the core matches the order. `false` if it did not run (the caller
    /// pushes it to the ring). Same journal record, same order of everything as
    /// through the ring (docs/ARCHITECTURE.md § Shared threading's direct run).
    #[unsafe(link_section = "tg_hot")]
    pub(super) fn run_direct(
        &mut self,
        cmd: &Command,
        info: Option<&OrderInfo>,
        out: &mut Outbox<'_>,
    ) -> bool {
        crate::hot::stage_stamp!(2);
        if !self.pending_answers.is_empty() || self.responses.has_record() {
            return false;
        }
        let Some(mut agent) = self.inline_agent.take() else {
            return false;
        };
        let mut record = [0u8; INPUT_RECORD_BYTES];
        super::record::encode(cmd, info, &mut record);
        // NB: the agent is out of `self` while it runs: what the events set off here
        // (a deferred Cancel resolved by an Accepted) takes the ring.
        let ran = agent.run_direct(cmd, &record, &mut |ev| self.on_event(ev, Some(out)));
        self.inline_agent = Some(agent);
        ran
    }

    /// Pushes a command onto the ring to the core; `false` (counted) if it is full.
    pub(super) fn push_command(&mut self, cmd: &Command) -> bool {
        self.push_input(cmd, None)
    }

    /// Pushes a command and, for an Enter/Replace, the order's session-side details
    /// (journaled with it: see [`super::record`]); `false` (counted) if the ring is full.
    #[inline(always)]
    pub(super) fn push_input(&mut self, cmd: &Command, info: Option<&OrderInfo>) -> bool {
        // An order must not overtake cancels and answers waiting for room: while any
        // wait, the ring counts as full for it (the caller rejects it "system busy").
        let ok = (info.is_none() || self.pending_answers.is_empty())
            && self
                .commands
                .try_write(INPUT_RECORD_BYTES, |buf| {
                    super::record::encode(cmd, info, buf);
                })
                .is_ok();
        if ok {
            self.commands.prefetch_next();
            if let Some(agent) = &mut self.inline_agent {
                agent.due = true;
            }
        } else {
            self.counters.command_ring_full += 1;
        }
        ok
    }
}
