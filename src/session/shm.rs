//! Shared-memory sessions: an algo's slot is one more transport for a configured
//! account, served exactly like a SoupBinTCP connection (`docs/ALGOS.md`).
//!
//! The same login rule (one live session per account, over TCP or a slot), the same
//! OUCH path (`on_ouch`: decode, UserRefNum rule, checks, `OrderMap`, command ring,
//! journal), the same numbered stream in the account's [`super::ReplayStore`] and the
//! same cancel-on-disconnect. What differs is only the framing: an order-ring record
//! is an [`OrderHeader`] and one OUCH message, a response-ring record is the stream
//! number and one OUCH message ([`crate::ipc::wire`]).
//!
//! Per `poll`, on the thread that runs the session layer (in shared threading the
//! core's own thread):
//!
//! 1. [`Sessions::poll_algo_orders`] (before the core's turn): each active slot's
//!    order ring, round-robin, at most `drain_limit` records per slot.
//! 2. While the core's events become stream messages: a message for a *live* slot
//!    (caught up with its stream) goes into its response ring as soon as it is stored
//!    ([`AlgoSlots::write_live`], from `emit_with`), in stream order.
//! 3. [`Sessions::pump_algo_streams`] (after the drain): each active slot's stream
//!    from its next number into its response ring, for what step 2 did not write. A
//!    slot catching up (re-attached from an older number) is paced by the ring's
//!    room; a slot that has caught up and finds its ring full is ended (slow
//!    consumer): nothing here ever waits for an algo. The poll then commits the
//!    turn's market data (private before public).
//! 4. [`Sessions::algo_housekeeping`]: the order hook runs for the orders read in
//!    step 1 (tick-to-trade: their arrival TSCs were taken when they were read), off
//!    the path from an order to its answer; sessions marked in steps 1–3 end; timers:
//!    claims every [`CLAIM_POLL_NS`]; heartbeats and the dead-pid flags of the
//!    directory's pid watcher (`crate::ipc::watch`, its own housekeeping thread: no
//!    syscall here) every `min(liveness timeout, LIVENESS_POLL_NS)`.

use super::Sessions;
use crate::gateway::Outbox;
use crate::ipc::directory::{ClaimReject, Directory, EndReason, SlotEvent};
use crate::ipc::wire::{
    AlgoOrderHook, OrderHeader, RESPONSE_HEADER_BYTES, SLOT_RING_SLOT_BYTES, encode_response,
};
use crate::proto::ouch::OuchError;
use crate::proto::wire::Alpha;
use crate::ring::spsc::PushError;

/// Stamped orders kept for the hook between a poll's read and its pump; a poll that
/// reads more runs the hook early for the first ones.
const STAMPED_CAPACITY: usize = 256;

/// Claims are looked at this often (ns).
pub const CLAIM_POLL_NS: u64 = 1_000_000;
/// Heartbeats and pids are checked at least this often (ns).
pub const LIVENESS_POLL_NS: u64 = 20_000_000;

/// Why an algo's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlgoEnd {
    /// The directory reported it (detached, process gone, silent).
    Directory(EndReason),
    /// Its response ring was full once it had caught up.
    SlowConsumer,
    /// It wrote a record shorter than the order header.
    BadRecord,
    /// It passed its message throttle's logout threshold (`guard`).
    MessageRate,
    /// The account's replay store is full: its stream for the day is over.
    StreamEnded,
}

/// One slot as the session layer sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The account logged in on the slot.
    account: Option<u16>,
    /// The stream has been delivered up to its end once: a full ring now means the
    /// algo stopped reading.
    live: bool,
    /// Bad OUCH messages logged for this session.
    bad_ouch_logged: u32,
}

/// The directory and the per-slot state of the session layer.
pub(super) struct AlgoSlots {
    dir: Directory,
    slots: Vec<Slot>,
    /// Active slot indices, in activation order.
    active: Vec<usize>,
    /// Where the next round-robin over `active` starts.
    rr: usize,
    drain_limit: usize,
    next_claims_ns: u64,
    next_liveness_ns: u64,
    /// The earlier of the two (one compare on the idle turn).
    next_timer_ns: u64,
    liveness_period_ns: u64,
    /// Scratch for the directory's reports and the slots to end (capacity: slots).
    events: Vec<SlotEvent>,
    to_end: Vec<(usize, AlgoEnd)>,
    /// Sees every order-ring header that names a trigger (tick-to-trade measurement).
    order_hook: Option<AlgoOrderHook>,
    /// Orders read this poll with a trigger, with their arrival TSCs, for the hook
    /// (capacity [`STAMPED_CAPACITY`], never exceeded).
    stamped: Vec<(u16, OrderHeader, u64)>,
    /// End of Session has freed every slot.
    shut: bool,
}

impl AlgoSlots {
    /// Writes message `seq` of slot `i`'s stream (`msg`, an OUCH message) into its
    /// response ring at once, if the slot is live: its algo has been given every
    /// earlier message (the caller checks the account's `send_next == seq`). `false`
    /// if not written (not live, ring full): the pump then serves the message in
    /// order, or ends the session if the ring is full ([`Sessions::pump_algo_streams`]).
    #[inline]
    pub(super) fn write_live(&mut self, i: usize, seq: u64, msg: &[u8]) -> bool {
        if !self.slots.get(i).is_some_and(|s| s.live) {
            return false;
        }
        let len = RESPONSE_HEADER_BYTES + msg.len();
        let responses = &mut self.dir.rings_mut(i).1;
        crate::hot::stage_stamp!(first 7);
        responses
            .try_write(len, |buf| encode_response(seq, msg, buf))
            .is_ok()
    }

    /// Hands the stamped orders to the hook, oldest first.
    fn run_order_hook(&mut self) {
        if let Some(hook) = self.order_hook.as_mut() {
            for &(session, header, arrival) in &self.stamped {
                hook(session, header, arrival);
            }
        }
        self.stamped.clear();
    }
}

impl Sessions {
    /// Serves the algo slots of `dir` from now on: claims, order rings (at most
    /// `drain_limit` records per slot per poll) and response rings.
    pub fn attach_directory(&mut self, dir: Directory, drain_limit: usize, liveness_ms: u64) {
        let n = dir.slots();
        self.algos = Some(Box::new(AlgoSlots {
            dir,
            slots: vec![Slot::default(); n],
            active: Vec::with_capacity(n),
            rr: 0,
            drain_limit: drain_limit.max(1),
            next_claims_ns: 0,
            next_liveness_ns: 0,
            next_timer_ns: 0,
            liveness_period_ns: (liveness_ms * 1_000_000).clamp(1, LIVENESS_POLL_NS),
            events: Vec::with_capacity(n),
            to_end: Vec::with_capacity(n),
            order_hook: None,
            stamped: Vec::with_capacity(STAMPED_CAPACITY),
            shut: false,
        }));
    }

    /// Calls `hook(session, header, arrival_tsc)` for every order-ring record read
    /// whose header names a trigger tick (the tick-to-trade tags): `arrival_tsc` is
    /// the `rdtsc` taken when the record was read, the call comes after the poll's
    /// answers were written to the response rings (so whatever the hook costs is not
    /// between an order and its answer). No-op without a directory.
    pub fn set_algo_order_hook(&mut self, hook: AlgoOrderHook) {
        if let Some(a) = self.algos.as_mut() {
            a.order_hook = Some(hook);
        }
    }

    /// The directory served, if any.
    pub fn directory(&self) -> Option<&Directory> {
        self.algos.as_ref().map(|a| &a.dir)
    }

    /// Reads every active slot's order ring (round-robin, `drain_limit` each) and
    /// handles each message as the account's OUCH input. Returns records read.
    #[inline]
    pub(super) fn poll_algo_orders(&mut self, out: &mut Outbox<'_>) -> usize {
        let Some(algos) = self.algos.as_mut() else {
            return 0;
        };
        let n = algos.active.len();
        if n == 0 {
            return 0;
        }
        // NB: no `%` on the idle turn: a wrapped increment.
        algos.rr = if algos.rr + 1 >= n { 0 } else { algos.rr + 1 };
        let (mut k, limit) = (algos.rr, algos.drain_limit);
        let mut work = 0;
        for _ in 0..n {
            work += self.drain_slot_orders(k, limit, out);
            k = if k + 1 == n { 0 } else { k + 1 };
        }
        // Sessions ended by a bad record or the throttle: before the core runs, so
        // its cancel-on-disconnect runs this turn.
        self.end_marked(out.now_ns());
        work
    }

    /// Up to `limit` records of the `k`-th active slot.
    #[inline]
    fn drain_slot_orders(&mut self, k: usize, limit: usize, out: &mut Outbox<'_>) -> usize {
        let algos = self.algos.as_mut().expect("checked by the caller");
        // NB: the idle turn's whole cost per slot: one load of the next slot's commit
        // word (setting up the copy buffer below cost 12 instructions per turn).
        if !algos.dir.rings_mut(algos.active[k]).0.has_record() {
            return 0;
        }
        self.drain_slot_records(k, limit, out)
    }

    /// The records of a slot that has one (at most `limit`), each through `on_ouch`.
    ///
    /// NB: out of line so that its code is in the hot section (`crate::hot`) rather
    /// than in the serving loop's.
    #[unsafe(link_section = "tg_hot")]
    #[inline(never)]
    fn drain_slot_records(&mut self, k: usize, limit: usize, out: &mut Outbox<'_>) -> usize {
        let now = out.now_ns();
        let mut record = [0u8; SLOT_RING_SLOT_BYTES];
        for done in 0..limit {
            let algos = self.algos.as_mut().expect("checked by the caller");
            let i = algos.active[k];
            let Some(acc) = algos.slots[i].account else {
                return done;
            };
            // NB: the record is copied out (≤ 184 bytes) so that the ring is not
            // borrowed while the message runs through the session layer. Reading it
            // in place instead (the rings lent out of the directory for the drain,
            // 13 instructions fewer per record) put `core_to_ack` at a tick at a
            // median p50 of 662 ns against 481 (15 and 8 interleaved runs; quiet not
            // worse; cause not found: docs/LATENCY.md § Answers to algos).
            // The arrival stamp (a tagged record, the board on) is taken as the record
            // is found, before it is copied and decoded: `core_recv`, the end of
            // tick-to-trade. Taken after the decode, it held ≈ 20 ns of this thread's
            // own work at a tick (paired rounds, docs/LATENCY.md § The arrival stamp).
            let stamp = algos.order_hook.is_some();
            let Some((len, arrival)) = algos.dir.rings_mut(i).0.read(|r| {
                let tagged = OrderHeader::decode(r).is_some_and(|(h, _)| h.trigger_md_seq != 0);
                let arrival = if stamp && tagged {
                    crate::clock::rdtsc()
                } else {
                    0
                };
                record[..r.len()].copy_from_slice(r);
                (r.len(), arrival)
            }) else {
                return done;
            };
            crate::hot::stage_stamp!(0);
            let Some((header, msg)) = OrderHeader::decode(&record[..len]) else {
                self.counters.algo_bad_records += 1;
                algos.to_end.push((i, AlgoEnd::BadRecord));
                return done + 1;
            };
            // Stamped above: a record naming its trigger tick, the board on.
            if arrival != 0 {
                if algos.stamped.len() == STAMPED_CAPACITY {
                    algos.run_order_hook();
                }
                algos.stamped.push((acc, header, arrival));
            }
            crate::hot::stage_stamp!(begin acc, msg);
            crate::hot::stage_stamp!(1);
            self.on_ouch(acc, msg, now, out);
            crate::hot::stage_stamp!(9);
            crate::hot::stage_stamp!(end);
        }
        limit
    }

    /// Writes each active slot's stream, from its next number, into its response
    /// ring. Returns messages written.
    pub(super) fn pump_algo_streams(&mut self) -> usize {
        let Some(algos) = self.algos.as_mut() else {
            return 0;
        };
        let mut work = 0;
        for &i in &algos.active {
            let Some(acc) = algos.slots[i].account else {
                continue;
            };
            let a = &mut self.accounts[usize::from(acc)];
            let slot = &mut algos.slots[i];
            if a.send_next == a.store.next_sequence_number() && slot.live && !a.ended {
                // NB: the idle turn's case, decided with one compare of two counters.
                continue;
            }
            let producer = &mut algos.dir.rings_mut(i).1;
            while a.send_next < a.store.next_sequence_number() {
                let (packet, _) = a.store.packets_from(a.send_next, 0);
                // A stored packet is [length u16][b'S'][OUCH message].
                let msg = packet.get(3..).unwrap_or_default();
                let seq = a.send_next;
                let len = RESPONSE_HEADER_BYTES + msg.len();
                match producer.try_write(len, |buf| encode_response(seq, msg, buf)) {
                    Ok(()) => {
                        a.send_next += 1;
                        work += 1;
                    }
                    Err(PushError::Full) if !slot.live => break,
                    Err(_) => {
                        algos.to_end.push((i, AlgoEnd::SlowConsumer));
                        break;
                    }
                }
            }
            slot.live |= a.send_next == a.store.next_sequence_number();
            if a.ended && slot.live {
                algos.to_end.push((i, AlgoEnd::StreamEnded));
            }
        }
        work
    }

    /// After the poll's answers and market data went out: the order hook, the
    /// sessions marked since [`Sessions::poll_algo_orders`] ended, the claim and
    /// liveness timers. Returns the work done.
    pub(super) fn algo_housekeeping(&mut self, now: u64) -> usize {
        let Some(algos) = self.algos.as_mut() else {
            return 0;
        };
        if !algos.stamped.is_empty() {
            algos.run_order_hook();
        }
        let timers_due = now >= algos.next_timer_ns || (self.ended_sent && !algos.shut);
        self.end_marked(now);
        if timers_due { self.algo_timers(now) } else { 0 }
    }

    /// Claims and liveness, when their timers are due; once End of Session went out
    /// (after End of Day was delivered to every stream, algos' included) every slot is
    /// freed, without cancel-on-disconnect, as for TCP. New claims are refused from
    /// the stop request on.
    fn algo_timers(&mut self, now: u64) -> usize {
        let Some(algos) = self.algos.as_mut() else {
            return 0;
        };
        if self.ended_sent && !algos.shut {
            algos.shut = true;
            for &i in &algos.active {
                algos.dir.end(i);
            }
            for i in std::mem::take(&mut algos.active) {
                if let Some(acc) = algos.slots[i].account.take() {
                    self.accounts[usize::from(acc)].shm_slot = None;
                }
            }
            return 1;
        }
        let mut work = 0;
        if now >= algos.next_claims_ns {
            algos.next_claims_ns = now + CLAIM_POLL_NS;
            work += self.poll_algo_claims(now);
        }
        let algos = self.algos.as_mut().expect("checked above");
        if now >= algos.next_liveness_ns {
            algos.next_liveness_ns = now + algos.liveness_period_ns;
            let mut events = std::mem::take(&mut algos.events);
            algos.dir.check_liveness(|e| events.push(e));
            for e in events.drain(..) {
                if let SlotEvent::Ended { slot, why, .. } = e {
                    self.release_slot(slot, AlgoEnd::Directory(why), now);
                    work += 1;
                }
            }
            self.algos.as_mut().expect("checked above").events = events;
        }
        let algos = self.algos.as_mut().expect("checked above");
        algos.next_timer_ns = algos.next_claims_ns.min(algos.next_liveness_ns);
        work
    }

    fn poll_algo_claims(&mut self, now: u64) -> usize {
        let mut algos = self.algos.take().expect("checked by the caller");
        algos.dir.poll_claims(
            |u, p| self.authenticate_algo(u, p),
            |e| algos.events.push(e),
        );
        let mut events = std::mem::take(&mut algos.events);
        self.algos = Some(algos);
        let work = events.len();
        for e in events.drain(..) {
            match e {
                SlotEvent::Activated {
                    slot,
                    session,
                    next_seq,
                } => self.activate_slot(slot, session as u16, next_seq),
                SlotEvent::Refused { slot, reason } => {
                    match reason {
                        ClaimReject::NotAuthorized => self.counters.logins_not_authorized += 1,
                        ClaimReject::SessionUnavailable => {
                            self.counters.logins_session_unavailable += 1
                        }
                    }
                    self.logf(format_args!("algo slot {slot}: claim refused ({reason:?})"));
                }
                SlotEvent::Ended { slot, why, .. } => {
                    self.release_slot(slot, AlgoEnd::Directory(why), now)
                }
            }
        }
        self.algos.as_mut().expect("put back above").events = events;
        work
    }

    /// The login rule of `on_login`, for a claim.
    fn authenticate_algo(&self, user: &str, pass: &str) -> Result<u32, ClaimReject> {
        let known = Alpha::<6>::try_padded(user)
            .ok()
            .and_then(|u| self.by_username.get(&u.0).copied());
        let Some(acc) = known else {
            return Err(ClaimReject::NotAuthorized);
        };
        let a = &self.accounts[usize::from(acc)];
        if Alpha::<10>::try_padded(pass).ok() != Some(a.password) {
            return Err(ClaimReject::NotAuthorized);
        }
        if a.conn.is_some() || a.shm_slot.is_some() || a.ended || self.ending {
            return Err(ClaimReject::SessionUnavailable);
        }
        Ok(u32::from(acc))
    }

    fn activate_slot(&mut self, slot: usize, acc: u16, next_seq: u64) {
        let a = &mut self.accounts[usize::from(acc)];
        let next = a.store.next_sequence_number();
        a.shm_slot = Some(slot);
        a.send_next = match next_seq {
            0 => next,
            n => n.min(next),
        };
        let (name, from) = (a.username, a.send_next);
        let algos = self.algos.as_mut().expect("activated by the directory");
        algos.slots[slot] = Slot {
            account: Some(acc),
            ..Slot::default()
        };
        algos.active.push(slot);
        self.counters.logins_accepted += 1;
        self.logf(format_args!(
            "algo slot {slot}: account {name} logged in, next sequence {from}"
        ));
    }

    /// Ends the algo session on `slot` with the sessions marked during this poll (a
    /// throttle logout: cancel-on-disconnect applies).
    pub(super) fn end_algo_for_message_rate(&mut self, slot: usize) {
        if let Some(algos) = self.algos.as_mut() {
            algos.to_end.push((slot, AlgoEnd::MessageRate));
        }
    }

    /// Ends the sessions marked during this poll (freeing their slots).
    #[inline]
    fn end_marked(&mut self, now: u64) {
        if self.algos.as_ref().is_some_and(|a| !a.to_end.is_empty()) {
            self.end_marked_slow(now);
        }
    }

    #[cold]
    fn end_marked_slow(&mut self, now: u64) {
        let algos = self.algos.as_mut().expect("checked by the caller");
        let mut to_end = std::mem::take(&mut algos.to_end);
        for &(i, why) in &to_end {
            let algos = self.algos.as_mut().expect("checked above");
            if algos.slots[i].account.is_some() {
                algos.dir.end(i);
                self.release_slot(i, why, now);
            }
        }
        to_end.clear();
        self.algos.as_mut().expect("checked above").to_end = to_end;
    }

    /// Forgets slot `i`'s session and applies cancel-on-disconnect.
    fn release_slot(&mut self, i: usize, why: AlgoEnd, now: u64) {
        let algos = self.algos.as_mut().expect("a slot implies a directory");
        let Some(acc) = algos.slots[i].account.take() else {
            return;
        };
        algos.active.retain(|&s| s != i);
        match why {
            AlgoEnd::SlowConsumer => self.counters.algo_slow_consumers += 1,
            AlgoEnd::Directory(EndReason::ProcessGone | EndReason::Silent) => {
                self.counters.algo_liveness_ends += 1
            }
            _ => {}
        }
        self.accounts[usize::from(acc)].shm_slot = None;
        self.logout_account(acc, now);
        let name = self.accounts[usize::from(acc)].username;
        self.logf(format_args!(
            "algo slot {i}: account {name} logged out: {why:?}"
        ));
    }

    /// The warm pass's session ([`super::warm`]): the `turn`-th active slot (modulo
    /// their number) and its account, unless its order ring holds a record (real work
    /// first).
    pub(super) fn warm_slot(&mut self, turn: usize) -> Option<(usize, u16)> {
        let algos = self.algos.as_mut()?;
        let n = algos.active.len();
        let i = *algos.active.get(turn.checked_rem(n)?)?;
        let acc = algos.slots[i].account?;
        (!algos.dir.rings_mut(i).0.has_record()).then_some((i, acc))
    }

    /// Whether any active slot's order ring holds a record (one load per slot): the
    /// warm pass stops for it, whichever slot it warms.
    #[inline]
    pub(super) fn algo_order_ready(&self) -> bool {
        self.algos
            .as_ref()
            .is_some_and(|a| a.active.iter().any(|&i| a.dir.rings(i).0.has_record()))
    }

    /// Hints the CPU to fetch, for writing, the line slot `i`'s next response goes to
    /// (the warm pass; nothing is written).
    pub(super) fn prefetch_algo_response(&mut self, i: usize) {
        if let Some(a) = self.algos.as_mut() {
            a.dir.rings_mut(i).1.prefetch_next();
        }
    }

    /// Logs a bad OUCH message from an algo, at most `BAD_OUCH_LOG_LIMIT` per session.
    pub(super) fn log_bad_algo_ouch(&mut self, slot: usize, e: &OuchError) {
        let Some(s) = self.algos.as_mut().and_then(|a| a.slots.get_mut(slot)) else {
            return;
        };
        s.bad_ouch_logged = s.bad_ouch_logged.saturating_add(1);
        let n = s.bad_ouch_logged;
        if n <= super::BAD_OUCH_LOG_LIMIT {
            self.logf(format_args!("algo slot {slot}: bad OUCH message: {e}"));
        }
        if n == super::BAD_OUCH_LOG_LIMIT {
            self.logf(format_args!(
                "algo slot {slot}: further bad OUCH messages are counted, not logged"
            ));
        }
    }
}
