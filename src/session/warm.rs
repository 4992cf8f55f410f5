//! The warm pass: while the serving thread is idle, every `threads.warm_interval_us`,
//! one run over an algo order's path that changes nothing, so that the path's code,
//! branch history and data lines are still in the core's caches when the next real
//! order comes (`docs/LATENCY.md` § The warm pass).
//!
//! One pass, for the next active algo slot in turn (none: no pass), through the real
//! functions of each step, each result kept in scratch buffers:
//!
//! 0. the order path's machine code, section `tg_hot` ([`crate::hot`]), prefetched
//!    into L2 a chunk at a time, looking for a waiting order between chunks (in any
//!    active slot's ring, not only the one warmed: a pass gives way to every algo);
//! 1. the canned order-ring record (an IOC buy at the bottom of the first instrument's
//!    band) decoded as `drain_slot_records` and `on_ouch` do ([`OrderHeader::decode`],
//!    [`Inbound::decode`]), with the account's next UserRefNum read, not consumed;
//! 2. the session checks read-only: the symbol index, [`translate::enter`], the order
//!    map's entry, the command ring's fill; the command encoded by
//!    [`record::encode`](super::record::encode) into scratch (the journal's record),
//!    and, unless orders run directly in the core (shared threading:
//!    `Sessions::run_direct`), the command ring's next slot prefetched for writing
//!    (this thread is its producer);
//! 3. the core's part (shared threading: [`Sessions::set_core_warm`]), given the
//!    command: risk screen, the engine's read-only `warm_enter`, the
//!    journal's and the response ring's next lines;
//! 4. the answer: an Accepted (through the core's event encoder and the session's
//!    decoder when events come through the response ring) and the direct OUCH
//!    encoder the real path uses ([`translate::encode::accepted`]), the lines the
//!    account stream's next message goes to prefetched
//!    ([`ReplayStore::prefetch_tail`](super::store::ReplayStore::prefetch_tail)), the
//!    response-ring record encoded and the slot's next response line prefetched for
//!    writing.
//!
//! No journal record, stream message, ITCH message, order id or UserRefNum is used up,
//! no map, book or risk state changes; only [`SessionCounters::warm_passes`] counts.
//! A pass starts only on a turn that did no work, gives up before the core's part and
//! before the answer if an order came meanwhile (from any slot), and never allocates, locks or calls
//! the kernel.
//!
//! [`SessionCounters::warm_passes`]: super::SessionCounters::warm_passes

use std::hint::black_box;

use super::Sessions;
use super::orders::OrderInfo;
use super::translate::encode::Entered;
use super::translate::{self, Origin};
use crate::engine::event::Accepted;
use crate::engine::{Command, Instrument, OrderEvent, OrderRef, RECORD_BYTES};
use crate::ipc::wire::{
    ORDER_HEADER_BYTES, OrderHeader, RESPONSE_HEADER_BYTES, SLOT_RING_SLOT_BYTES, encode_response,
};
use crate::proto::ouch::{
    Appendage, EnterOrder, Inbound, MAX_OUTBOUND_LEN, OptionValues, Price, Side, TimeInForce,
};
use crate::proto::wire::Alpha;

/// The core's part of a pass: given a command, read what running it would read;
/// returns a word folded from what it read.
pub type CoreWarm = Box<dyn FnMut(&Command) -> u64>;

/// The warm pass's schedule, its canned order and the core's part.
pub(super) struct Warm {
    /// `u64::MAX`: off.
    interval_ns: u64,
    /// A pass is due at this monotonic time (pushed back by every turn with work).
    pub(super) next_ns: u64,
    /// The canned order-ring record: header and OUCH Enter Order (`len` 0: none).
    record: [u8; SLOT_RING_SLOT_BYTES],
    len: usize,
    /// Which active slot the next pass warms.
    turn: usize,
    core: Option<CoreWarm>,
}

impl Warm {
    /// A pass every `interval_us` µs (0: never), warming an order for the first of
    /// `instruments` (none: never).
    pub(super) fn new(interval_us: u64, instruments: &[Instrument]) -> Self {
        let mut record = [0u8; SLOT_RING_SLOT_BYTES];
        OrderHeader { trigger_md_seq: 0 }.encode(&mut record);
        let order = instruments.first().map(|ins| EnterOrder {
            time_in_force: TimeInForce::Ioc,
            ..EnterOrder::new(
                1,
                Side::Buy,
                100,
                Alpha(ins.symbol),
                Price(ins.level_price(0)),
            )
        });
        let len = order
            .and_then(|o| o.encode(&mut record[ORDER_HEADER_BYTES..]).ok())
            .map_or(0, |n| ORDER_HEADER_BYTES + n);
        let interval_ns = match interval_us.saturating_mul(1_000) {
            0 => u64::MAX,
            ns => ns,
        };
        Self {
            interval_ns,
            next_ns: 0,
            record,
            len,
            turn: 0,
            core: None,
        }
    }

    /// The next pass is due `interval` after `now` (a turn with work just ended).
    #[inline]
    pub(super) fn postpone(&mut self, now: u64) {
        self.next_ns = now.saturating_add(self.interval_ns);
    }
}

impl Sessions {
    /// Gives the warm pass the core's part (shared threading: the core runs on this
    /// thread). Without it a pass warms the session layer's part only.
    pub fn set_core_warm(&mut self, core: CoreWarm) {
        self.warm.core = Some(core);
    }

    /// Runs one warm pass if one is due (`now` ≥ its time); call it only on a turn
    /// that did no work. Returns whether a pass ran to its end.
    #[inline]
    pub(super) fn warm_if_due(&mut self, now: u64) -> bool {
        if now < self.warm.next_ns {
            return false;
        }
        self.warm.postpone(now);
        let done = self.warm_pass(now).is_some();
        self.counters.warm_passes += u64::from(done);
        done
    }

    /// One pass (module doc); `None` where it stopped early.
    ///
    /// NB: out of line, so that the idle turn keeps only the compare above and
    /// callgrind's `--toggle-collect='*warm_pass*'` counts a pass alone.
    #[inline(never)]
    fn warm_pass(&mut self, now: u64) -> Option<()> {
        let turn = self.warm.turn;
        self.warm.turn = turn.wrapping_add(1);
        let (slot, acc) = self.warm_slot(turn)?;
        // The code first: its lines go to L2 only, and the data lines below to L1.
        let mut at = 0;
        while let Some(next) = crate::hot::prefetch_chunk(at) {
            if self.algo_order_ready() {
                return None;
            }
            at = next;
        }
        let record = self.warm.record;
        let (header, msg) = OrderHeader::decode(record.get(..self.warm.len)?)?;
        let decoded = Inbound::view(msg);
        let Ok(Inbound::EnterOrder(canned)) = &decoded else {
            return None;
        };
        let (cmd, info) = self.warm_session_checks(acc, canned, now)?;
        let mut input = [0u8; super::INPUT_RECORD_BYTES];
        let command = Command::Enter(cmd);
        super::record::encode(&command, Some(&info), &mut input);
        black_box(&input);
        // Shared threading runs orders directly (`Sessions::run_direct`): no command
        // ring, and the core's events come as they are, not through the event codec.
        let direct = self
            .inline_agent
            .as_ref()
            .is_some_and(|a| a.direct.is_some());
        if !direct {
            self.commands.prefetch_next();
        }
        if self.algo_order_ready() {
            return None;
        }
        let core = self.warm.core.as_mut().map_or(0, |f| f(&command));
        if self.algo_order_ready() {
            return None;
        }
        self.warm_answer(slot, &cmd, &info, direct);
        black_box((header, core));
        Some(())
    }

    /// `on_ouch`'s and `on_enter`'s checks for `canned` from `acc`, read-only: the
    /// command and order-map entry they would make.
    fn warm_session_checks(
        &self,
        acc: u16,
        canned: &EnterOrder<Appendage<'_>>,
        now: u64,
    ) -> Option<(crate::engine::command::Enter, OrderInfo)> {
        let a = self.accounts.get(usize::from(acc))?;
        let idx = canned.options.user_ref_idx().unwrap_or(0);
        let e = EnterOrder {
            user_ref_num: a.user_ref_nums.next(idx),
            ..*canned
        };
        let o = Origin {
            ts_ns: self.ts_ns(now),
            session: acc,
            firm: a.firm_id,
        };
        black_box(self.commands.queued());
        let instrument = self.by_symbol.get(&e.symbol.0)?;
        let cmd = translate::enter(&e, o, instrument).ok()?;
        black_box(a.orders.get(idx, e.user_ref_num));
        let info = OrderInfo {
            order: OrderRef::NONE,
            leaves: 0,
            side: e.side,
            cl_ord_id: e.cl_ord_id,
            capacity: e.capacity,
            iso: e.intermarket_sweep_eligibility,
            cross_type: e.cross_type,
        };
        Some((cmd, info))
    }

    /// The Accepted for `cmd` as the core emits it (`direct`; else through the event
    /// codec, as the response ring carries it) and the session layer turns it into the
    /// account's stream message and slot `slot`'s response, into scratch.
    fn warm_answer(
        &mut self,
        slot: usize,
        cmd: &crate::engine::command::Enter,
        info: &OrderInfo,
        direct: bool,
    ) {
        let ev = OrderEvent::Accepted(Accepted {
            ts_ns: cmd.ts_ns,
            session: cmd.session,
            user_ref_idx: cmd.user_ref_idx,
            user_ref_num: cmd.user_ref_num,
            order: OrderRef::NONE,
            order_number: 0,
            instrument: cmd.instrument,
            side: cmd.side,
            qty: cmd.qty,
            price: cmd.price,
            tif: cmd.tif,
            display: cmd.display,
        });
        let ev = if direct {
            black_box(ev)
        } else {
            let mut wire = [0u8; RECORD_BYTES];
            ev.encode_into(&mut wire);
            match OrderEvent::decode(&wire) {
                Ok(ev) => ev,
                Err(_) => return,
            }
        };
        let OrderEvent::Accepted(e) = ev else {
            return;
        };
        let symbol = self
            .symbols
            .get(usize::from(cmd.instrument))
            .copied()
            .unwrap_or(Alpha::SPACES);
        let mut ouch = [0u8; MAX_OUTBOUND_LEN];
        let entered = Entered::of(info);
        let Ok(n) = translate::encode::accepted(&e, &entered, symbol, &mut ouch) else {
            return;
        };
        let a = &self.accounts[usize::from(cmd.session)];
        let seq = a.store.next_sequence_number();
        a.store.prefetch_tail();
        let mut response = [0u8; RESPONSE_HEADER_BYTES + MAX_OUTBOUND_LEN];
        encode_response(seq, &ouch[..n], &mut response[..RESPONSE_HEADER_BYTES + n]);
        black_box(&response);
        self.prefetch_algo_response(slot);
    }
}
