//! The core loop: an agent that polls N command inputs round-robin, hands each command
//! to its [`CommandProcessor`] (the [`Engine`], or the engine behind pre-trade risk,
//! `risk::RiskCore`, in `serve`), and writes the events to per-session outputs and the
//! market-data output.
//!
//! Inputs and outputs are traits, so the loop runs over the SPSC rings
//! ([`crate::ring::spsc`], [`crate::ring::broadcast`]; implementations below) in
//! production and over plain vectors in tests. Fairness: each input gives at most
//! `drain_limit` records per [`Core::do_work`] call, and the input polled first rotates.
//!
//! Back-pressure: the core never waits. An event whose session output is full goes to
//! that output's spill queue (preallocated, [`SPILL_EVENTS`] per output), and so does
//! every later event of that output until the queue is flushed, in order, at the start
//! of the next rounds — events are never dropped, because they are the record of
//! trades. Only a consumer that stops draining for longer than the spill holds makes the
//! queue grow (an allocation, counted in [`CoreStats::spill_grows`]). This is what lets
//! the gateway and the core share one thread: the core returns, the gateway drains. The
//! market-data broadcast ring never refuses a record of the right size.
//!
//! Private before public: a market output may stage what it is given until
//! [`MarketOutput::commit`]; each round commits at its end, after the round's session
//! events were written, unless the owner commits later, once it has passed those events
//! on ([`Core::set_market_commit_by_owner`]; `serve`'s shared threading).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::command::Command;
use super::event::{EventSink, MdEvent, OrderEvent};
use super::state::Engine;
use super::types::CONTROL_SESSION;
use super::wire::{MD_RECORD_BYTES, RECORD_BYTES};
use crate::affinity::Idle;
use crate::journal::{Durability, JournalWriter};
use crate::ring::{broadcast, spsc};

/// What the core loop hands each command to: the engine, or the engine behind risk.
pub trait CommandProcessor {
    /// Applies one command; events go to `sink` in a deterministic order.
    fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S);
    /// The matching engine (state queries).
    fn engine(&self) -> &Engine;
    /// Hints the CPU to fetch what processing `cmd` will read first. The loop calls it
    /// as soon as a record is decoded, before the journal append and one record ahead
    /// of processing, so a cold line is in flight meanwhile.
    #[inline(always)]
    fn prefetch(&self, _cmd: &Command) {}
}

impl CommandProcessor for Engine {
    #[inline(always)]
    fn process<S: EventSink>(&mut self, cmd: &Command, sink: &mut S) {
        Engine::process(self, cmd, sink);
    }

    fn engine(&self) -> &Engine {
        self
    }

    #[inline(always)]
    fn prefetch(&self, cmd: &Command) {
        Engine::prefetch(self, cmd);
    }
}

/// Answers to operator commands (`Echoed` events for
/// [`CONTROL_SESSION`](super::types::CONTROL_SESSION)), handed from the core to the
/// control thread: one request in flight at a time. The core stores the result, then
/// the request number with `Release`; the control thread loads the request number with
/// `Acquire` (pairs with it) and then the result. No lock, no wait on the core's side.
#[derive(Debug, Default)]
pub struct ControlReplies {
    request: AtomicU32,
    result: AtomicU64,
}

impl ControlReplies {
    /// Called by the core: the answer to `request`.
    fn complete(&self, request: u32, result: u64) {
        self.result.store(result, Ordering::Relaxed);
        // Release: pairs with the Acquire in `result_of`; the result is visible first.
        self.request.store(request, Ordering::Release);
    }

    /// The result of `request` once the core has answered it.
    pub fn result_of(&self, request: u32) -> Option<u64> {
        // Acquire: pairs with the Release in `complete`.
        (self.request.load(Ordering::Acquire) == request)
            .then(|| self.result.load(Ordering::Relaxed))
    }
}

/// A source of encoded [`Command`] records.
pub trait CommandInput {
    /// Calls `f` with up to `max` records in order; returns how many.
    fn drain(&mut self, max: usize, f: impl FnMut(&[u8])) -> usize;
    /// Whether a record is waiting (for idle strategies).
    fn has_record(&self) -> bool;
}

/// An output is full: the core retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFull;

/// Where one session's events go (its gateway or algo).
pub trait SessionOutput {
    /// Writes one event, or reports back-pressure.
    fn try_send(&mut self, event: &OrderEvent) -> Result<(), OutputFull>;
}

/// Where market-data events go (the ITCH broadcast).
pub trait MarketOutput {
    /// Writes one event, or reports back-pressure. An output may only stage it: it
    /// becomes visible at the next [`MarketOutput::commit`].
    fn try_publish(&mut self, event: &MdEvent) -> Result<(), OutputFull>;
    /// Makes what was staged since the last commit visible, in order; returns how
    /// many. The core commits at the end of each round unless its owner does
    /// ([`Core::set_market_commit_by_owner`]). Outputs that write at once: no-op.
    #[inline]
    fn commit(&mut self) -> usize {
        0
    }
}

/// Counters of the loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Commands processed.
    pub commands: u64,
    /// Records that did not decode (counted and skipped).
    pub bad_records: u64,
    /// Events that found their session output full (or its spill non-empty) and were
    /// queued in the spill.
    pub output_stalls: u64,
    /// Times a spill queue was full and grew (an allocation on the core's thread).
    pub spill_grows: u64,
    /// Session events for a session without an output.
    pub unrouted_events: u64,
    /// Answers to operator commands handed to the control replies.
    pub control_replies: u64,
    /// Input records journaled.
    pub journaled: u64,
    /// Input records dropped unprocessed (and unanswered) because the journal failed.
    pub unjournaled: u64,
    /// Of `commands`, those run by [`Core::run_direct`] instead of from a ring.
    pub direct: u64,
}

/// Why a core could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// No inputs.
    NoInputs,
    /// A ring's slots are smaller than its records.
    SlotTooSmall {
        /// Payload bytes a slot holds.
        max_record_bytes: usize,
        /// Bytes a record needs.
        needed: usize,
    },
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoInputs => write!(f, "the core needs at least one input"),
            Self::SlotTooSmall {
                max_record_bytes,
                needed,
            } => write!(
                f,
                "ring slots hold {max_record_bytes} bytes but engine records need \
                 {needed}; use larger slot_bytes"
            ),
        }
    }
}

impl std::error::Error for CoreError {}

/// Events each session output can queue while its ring is full before the queue grows.
pub const SPILL_EVENTS: usize = 1024;

/// Events held for durability ([`Durability::Sync`]) above which the core stops taking
/// input until the flusher catches up (back-pressure). The check is per round, so one
/// round's events (a sweep, a mass cancel) may take the queue past it: it then grows.
pub const HOLD_EVENTS: usize = 1 << 16;

/// An event waiting until its input is durable.
#[derive(Debug, Clone, Copy)]
enum Held {
    Order(OrderEvent),
    Market(MdEvent),
}

/// The core's input journal: every input record is appended, with its sequence
/// number and timestamp, before its command runs; responses are published only once
/// the journal's [`JournalWriter::ack_position`] passes their input.
#[derive(Debug)]
struct Journal {
    writer: JournalWriter,
    /// Sequence number of the next input record.
    next_seq: u64,
    /// The journal refused an append: the core takes no more input (fail-stop).
    failure: Option<String>,
    /// [`Durability::Sync`]: events of inputs not yet durable, with their input's
    /// sequence number, oldest first. Unused in [`Durability::Process`] (an append is
    /// safe when it returns).
    held: VecDeque<(u64, Held)>,
    hold: bool,
}

/// The matching-core agent.
#[derive(Debug)]
pub struct Core<I, O, M, P = Engine> {
    processor: P,
    inputs: Vec<I>,
    /// Indexed by session id.
    outputs: Vec<O>,
    /// Per output: events waiting for room, oldest first.
    spills: Vec<VecDeque<OrderEvent>>,
    /// Events in all spills, so an idle round skips them with one compare.
    spilled: usize,
    market: M,
    drain_limit: usize,
    next_input: usize,
    stats: CoreStats,
    journal: Option<Journal>,
    control: Option<Arc<ControlReplies>>,
    /// The owner commits the market output ([`Core::set_market_commit_by_owner`]), not
    /// the end of each round.
    owner_commits_market: bool,
}

impl<I: CommandInput, O: SessionOutput, M: MarketOutput, P: CommandProcessor> Core<I, O, M, P> {
    /// Assembles a core; `outputs[s]` receives session `s`'s events.
    pub fn new(
        processor: P,
        inputs: Vec<I>,
        outputs: Vec<O>,
        market: M,
        drain_limit: usize,
    ) -> Result<Self, CoreError> {
        if inputs.is_empty() {
            return Err(CoreError::NoInputs);
        }
        let spills = outputs
            .iter()
            .map(|_| VecDeque::with_capacity(SPILL_EVENTS))
            .collect();
        Ok(Core {
            spills,
            spilled: 0,
            processor,
            inputs,
            outputs,
            market,
            drain_limit: drain_limit.max(1),
            next_input: 0,
            stats: CoreStats::default(),
            journal: None,
            control: None,
            owner_commits_market: false,
        })
    }

    /// Hands answers to operator commands (`Echoed` for `CONTROL_SESSION`) to `replies`.
    pub fn with_control_replies(mut self, replies: Arc<ControlReplies>) -> Self {
        self.control = Some(replies);
        self
    }

    /// Journals every input from now on (see `docs/JOURNAL.md`): `writer` is positioned
    /// after the records already replayed into the engine.
    pub fn with_journal(mut self, writer: JournalWriter) -> Self {
        let hold = writer.durability() == Durability::Sync;
        self.journal = Some(Journal {
            next_seq: writer.written_position(),
            held: VecDeque::with_capacity(if hold { HOLD_EVENTS } else { 0 }),
            hold,
            writer,
            failure: None,
        });
        self
    }

    /// Whether events wait in a spill or for durability: the core has work even with
    /// no input (idle strategies must not sleep on it).
    pub fn has_pending(&self) -> bool {
        self.spilled > 0 || self.holding()
    }

    /// Why the journal stopped the core, if it did (the server then shuts down).
    pub fn journal_failure(&self) -> Option<&str> {
        self.journal.as_ref().and_then(|j| j.failure.as_deref())
    }

    /// The journal's writer (positions, durability), when journaling.
    pub fn journal_writer(&self) -> Option<&JournalWriter> {
        self.journal.as_ref().map(|j| &j.writer)
    }

    /// Private before public: by default each [`Core::do_work`] round ends by
    /// committing the market output, after the round's events were written to the
    /// session outputs. With `by_owner`, the round leaves what it staged there and the
    /// owner calls [`Core::commit_market`] once those session events were handed on
    /// (shared threading: the session layer, after it wrote the turn's answers).
    pub fn set_market_commit_by_owner(&mut self, by_owner: bool) {
        self.owner_commits_market = by_owner;
    }

    /// Commits the market output (see [`MarketOutput::commit`]); returns the messages
    /// it made visible.
    #[inline]
    pub fn commit_market(&mut self) -> usize {
        self.market.commit()
    }

    /// One round: each input drained up to the drain limit, starting with a rotating
    /// input, then (unless the owner does) the market output committed. Returns the
    /// records consumed (0 = idle).
    ///
    /// NB: an idle round is a load per input and two compares, inlined into the
    /// caller; the round proper is out of line. Polling every input through the drain
    /// (its sink, look-ahead and journal set up each time) cost ≈ 176 instructions per
    /// idle round with two inputs (callgrind, `bench rtt`, `Core::do_work`), which
    /// `serve`'s shared loop pays on every gateway turn.
    #[inline]
    pub fn do_work(&mut self) -> usize {
        if self.spilled == 0 && !self.holding() && !self.inputs.iter().any(I::has_record) {
            return 0;
        }
        self.busy_round()
    }

    /// Whether events are held for durability.
    #[inline]
    fn holding(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.held.is_empty())
    }

    /// [`Core::do_work`] with something to do.
    #[inline(never)]
    fn busy_round(&mut self) -> usize {
        let work = self.round();
        if !self.owner_commits_market {
            self.market.commit();
        }
        work
    }

    fn round(&mut self) -> usize {
        let n = self.inputs.len();
        let mut work = self.flush_spills() + self.release_held();
        if let Some(j) = &self.journal
            && (j.failure.is_some() || j.held.len() >= HOLD_EVENTS)
        {
            return work;
        }
        let mut i = self.next_input;
        self.next_input = wrap_next(i, n);
        for _ in 0..n {
            if self.inputs[i].has_record() {
                work += self.drain_input(i);
            }
            i = wrap_next(i, n);
        }
        work
    }

    /// The core's fields split for one entry point (a round's drain, a direct run, the
    /// release of held events): the processor, the inputs, the journal, and a
    /// [`Router`] over the outputs, holding nothing back, with `take`.
    #[inline(always)]
    fn split<T>(&mut self, take: T) -> CoreSplit<'_, I, O, M, P, T> {
        let Core {
            processor,
            inputs,
            outputs,
            spills,
            spilled,
            market,
            stats,
            journal,
            control,
            ..
        } = self;
        let sink = Router {
            outputs,
            spills,
            spilled,
            market,
            stats,
            held: None,
            seq: 0,
            control: control.as_deref(),
            take,
        };
        (processor, inputs, journal.as_mut(), sink)
    }

    /// Shared threading's direct run: the command the owner of input `input` was about
    /// to write to that input's ring, already encoded into `record` (whose decoding is
    /// `cmd`), runs now instead, journaled, counted and processed as
    /// [`Core::do_work`] would run it as that ring's next record; each of
    /// its events that `take` accepts goes to `take` (at once, as the engine emits it)
    /// instead of its output, the others to their outputs as usual.
    ///
    /// Declines (`false`, nothing done: the owner writes the record to the ring) unless
    /// that ring is empty and no event waits in a spill or for durability, so that
    /// the record overtakes nothing of its input's and the owner sees its events in
    /// the order the ring would have given them; also with [`Durability::Sync`]
    /// (events wait for the flusher) and after a journal failure.
    ///
    /// Returns `true` also when the record was counted instead of run (refused
    /// append), as [`Core::do_work`] would have counted it.
    #[unsafe(link_section = "tg_hot")]
    pub fn run_direct(
        &mut self,
        input: usize,
        cmd: &Command,
        record: &[u8],
        take: impl FnMut(&OrderEvent) -> bool,
    ) -> bool {
        crate::hot::stage_stamp!(3);
        let blocked = self
            .journal
            .as_ref()
            .is_some_and(|j| j.hold || j.failure.is_some());
        if blocked || self.spilled > 0 || self.inputs.get(input).is_none_or(I::has_record) {
            return false;
        }
        // NB: the caller's command, not the record decoded again (≈ 70 instructions);
        // `debug_assert`ed to be the same.
        debug_assert_eq!(Command::decode(record).ok().as_ref(), Some(cmd));
        let (processor, _, journal, mut sink) = self.split(take);
        processor.prefetch(cmd);
        let mut journal = journal.map(|j| (&mut j.writer, &mut j.next_seq, &mut j.failure));
        let Some(seq) = journal_input(&mut journal, cmd, record, sink.stats) else {
            return true;
        };
        sink.seq = seq;
        sink.stats.commands += 1;
        sink.stats.direct += 1;
        crate::hot::stage_stamp!(4);
        processor.process(cmd, &mut sink);
        true
    }

    /// Drains input `i` up to the drain limit: each record decoded, journaled and run.
    #[inline]
    fn drain_input(&mut self, i: usize) -> usize {
        let drain_limit = self.drain_limit;
        let (processor, inputs, journal, mut sink) = self.split(no_take);
        let (mut journal, held) = match journal {
            Some(Journal {
                writer,
                next_seq,
                failure,
                held,
                hold,
            }) => (Some((writer, next_seq, failure)), hold.then_some(held)),
            None => (None, None),
        };
        sink.held = held;
        // NB: one-record lookahead: a record is decoded, prefetched and journaled,
        // then the one before it runs, so a queued command's cold lines (a
        // Replace's order and risk-ledger entry, ≈ 100 ns from DRAM under load)
        // load while the previous command runs. An input with one record runs it
        // at once (no added latency).
        let mut pending: Option<(Command, u64)> = None;
        let work = inputs[i].drain(drain_limit, |record| {
            let cmd = match Command::decode(record) {
                Ok(cmd) => cmd,
                Err(_) => return sink.stats.bad_records += 1,
            };
            processor.prefetch(&cmd);
            let Some(seq) = journal_input(&mut journal, &cmd, record, sink.stats) else {
                return;
            };
            // NB: the pending command is run in place and then overwritten: moved out
            // (`pending.replace`, `if let Some(..) = pending`), each command was
            // copied twice more (≈ 35 instructions per round, callgrind `bench rtt`).
            if let Some((prev, prev_seq)) = &pending {
                sink.seq = *prev_seq;
                sink.stats.commands += 1;
                processor.process(prev, &mut sink);
            }
            pending = Some((cmd, seq));
        });
        if let Some((prev, prev_seq)) = &pending {
            sink.seq = *prev_seq;
            sink.stats.commands += 1;
            processor.process(prev, &mut sink);
        }
        work
    }

    /// Publishes held events whose input is now durable; returns how many.
    fn release_held(&mut self) -> usize {
        let Some(j) = &mut self.journal else { return 0 };
        if j.held.is_empty() {
            return 0;
        }
        if j.failure.is_none() && j.writer.flush_failed() {
            // `sync` promises durability before the ack: it can no longer be kept.
            j.failure = Some("fdatasync failed: acks can no longer be made durable".into());
        }
        let ack = j.writer.ack_position();
        let (_, _, Some(j), mut sink) = self.split(no_take) else {
            return 0;
        };
        let mut released = 0;
        while let Some(&(seq, event)) = j.held.front() {
            if seq >= ack {
                break;
            }
            j.held.pop_front();
            released += 1;
            match event {
                Held::Order(e) => sink.order_event(&e),
                Held::Market(e) => sink.market_event(&e),
            }
        }
        released
    }

    /// Moves spilled events into their outputs while they have room; returns how many.
    fn flush_spills(&mut self) -> usize {
        if self.spilled == 0 {
            return 0;
        }
        let mut moved = 0;
        for (out, spill) in self.outputs.iter_mut().zip(&mut self.spills) {
            while let Some(event) = spill.front() {
                if out.try_send(event).is_err() {
                    break;
                }
                spill.pop_front();
                moved += 1;
            }
        }
        self.spilled -= moved;
        moved
    }

    /// Events waiting in spill queues for their outputs to make room.
    pub fn spilled(&self) -> usize {
        self.spilled
    }

    /// Runs [`Core::do_work`] with `idle` between empty rounds until `stop` is set.
    pub fn run(&mut self, idle: &mut impl Idle, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let work = self.do_work();
            let (inputs, spilled, held) = (&self.inputs, self.spilled, self.holding());
            // Spilled and held events wait for a consumer or the flusher, not for
            // input: never sleep on them.
            idle.idle(work, || {
                spilled > 0 || held || inputs.iter().any(|i| i.has_record())
            });
        }
    }

    /// The engine (state queries, `state_hash`).
    pub fn engine(&self) -> &Engine {
        self.processor.engine()
    }

    /// The processor (the engine, or the engine behind risk).
    pub fn processor(&self) -> &P {
        &self.processor
    }

    /// The loop's counters.
    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// The inputs (tests queue records on them).
    pub fn inputs_mut(&mut self) -> &mut [I] {
        &mut self.inputs
    }

    /// The session outputs (tests read them back).
    pub fn outputs(&self) -> &[O] {
        &self.outputs
    }

    /// The market-data output.
    pub fn market(&self) -> &M {
        &self.market
    }
}

/// The production core: SPSC command rings in, an SPSC ring per session out, ITCH-shaped
/// records on the broadcast ring.
pub type RingCore = Core<spsc::Consumer, spsc::Producer, broadcast::Writer>;

impl RingCore {
    /// Assembles a core over rings, checking that every slot holds an engine record.
    pub fn over_rings(
        engine: Engine,
        inputs: Vec<spsc::Consumer>,
        outputs: Vec<spsc::Producer>,
        market: broadcast::Writer,
        drain_limit: usize,
    ) -> Result<Self, CoreError> {
        let sizes = inputs.iter().map(|c| c.max_record_bytes());
        for max in sizes.chain(outputs.iter().map(|p| p.max_record_bytes())) {
            check_slot(max, RECORD_BYTES)?;
        }
        check_slot(market.max_record_bytes(), MD_RECORD_BYTES)?;
        Self::new(engine, inputs, outputs, market, drain_limit)
    }
}

/// What [`Core::split`] gives: processor, inputs, journal, router.
type CoreSplit<'a, I, O, M, P, T> = (
    &'a mut P,
    &'a mut [I],
    Option<&'a mut Journal>,
    Router<'a, 'a, O, M, T>,
);

/// Appends an input record to the journal (none: nothing to do); the sequence number
/// it got (0 without a journal), or `None` (counted) if the journal refused it or had
/// failed before: the record must not run.
#[inline(always)]
fn journal_input(
    journal: &mut Option<(&mut JournalWriter, &mut u64, &mut Option<String>)>,
    cmd: &Command,
    record: &[u8],
    stats: &mut CoreStats,
) -> Option<u64> {
    let Some((writer, next_seq, failure)) = journal.as_mut() else {
        return Some(0);
    };
    if failure.is_some() {
        stats.unjournaled += 1;
        return None;
    }
    if let Err(e) = writer.append(**next_seq, cmd.ts_ns(), record) {
        **failure = Some(e.to_string());
        stats.unjournaled += 1;
        return None;
    }
    stats.journaled += 1;
    let seq = **next_seq;
    **next_seq += 1;
    Some(seq)
}

/// The `take` of a [`Router`] outside a direct run: every event goes to its output.
#[inline(always)]
fn no_take(_: &OrderEvent) -> bool {
    false
}

/// Routes engine events to the outputs; a full output's events go to its spill.
/// `take` sees each session event first and keeps the ones it accepts
/// ([`Core::run_direct`]).
struct Router<'a, 'h, O, M, T = fn(&OrderEvent) -> bool> {
    outputs: &'a mut [O],
    spills: &'a mut [VecDeque<OrderEvent>],
    spilled: &'a mut usize,
    market: &'a mut M,
    stats: &'a mut CoreStats,
    /// Sync durability: the queue events wait in until their input is durable.
    held: Option<&'h mut VecDeque<(u64, Held)>>,
    /// The sequence number of the input being processed (for `held`).
    seq: u64,
    /// Where answers to operator commands go.
    control: Option<&'a ControlReplies>,
    take: T,
}

impl<O, M, T> Router<'_, '_, O, M, T> {
    /// An event for a session without an output: an operator answer, or counted.
    #[cold]
    fn unrouted(&mut self, event: OrderEvent) {
        match (event, self.control) {
            (OrderEvent::Echoed(e), Some(replies)) if e.session == CONTROL_SESSION => {
                let mut result = [0u8; 8];
                result.copy_from_slice(&e.bytes[..8]);
                replies.complete(e.user_ref_num, u64::from_be_bytes(result));
                self.stats.control_replies += 1;
            }
            _ => self.stats.unrouted_events += 1,
        }
    }
}

impl<O: SessionOutput, M: MarketOutput, T> Router<'_, '_, O, M, T> {
    /// An event that did not go straight out: sent if its session's spill is empty and
    /// its output has room, else queued in the spill (order per session: once anything
    /// is spilled, later events queue behind it).
    ///
    /// The event comes by value, as to `unrouted`: a pointer to the emit site's event
    /// handed to an out-of-line function would make the compiler keep that event in
    /// memory on the fast path too (it could no longer see its variant).
    #[cold]
    fn send_behind_spill(&mut self, session: usize, event: OrderEvent) {
        let (Some(out), Some(spill)) =
            (self.outputs.get_mut(session), self.spills.get_mut(session))
        else {
            return self.unrouted(event);
        };
        if spill.is_empty() && out.try_send(&event).is_ok() {
            return;
        }
        self.stats.output_stalls += 1;
        if spill.len() == spill.capacity() {
            self.stats.spill_grows += 1;
        }
        spill.push_back(event);
        *self.spilled += 1;
    }
}

impl<O: SessionOutput, M: MarketOutput, T: FnMut(&OrderEvent) -> bool> EventSink
    for Router<'_, '_, O, M, T>
{
    // NB: inlined into the engine's emit sites (through risk's `Observer`), the event's
    // variant is known there and its fields go from registers into the ring slot: out
    // of line, each event was built in memory, dispatched on its kind and read back.
    #[inline(always)]
    fn order_event(&mut self, event: &OrderEvent) {
        if let Some(held) = &mut self.held {
            return held.push_back((self.seq, Held::Order(*event)));
        }
        if (self.take)(event) {
            return;
        }
        let session = usize::from(event.session());
        // NB: no spill at all (the rule) is one compare, without the session's queue.
        if *self.spilled == 0
            && let Some(out) = self.outputs.get_mut(session)
            && out.try_send(event).is_ok()
        {
            return;
        }
        self.send_behind_spill(session, *event);
    }

    #[inline(always)]
    fn market_event(&mut self, event: &MdEvent) {
        if let Some(held) = &mut self.held {
            return held.push_back((self.seq, Held::Market(*event)));
        }
        while self.market.try_publish(event).is_err() {
            self.stats.output_stalls += 1;
            std::hint::spin_loop();
        }
    }
}

impl CommandInput for spsc::Consumer {
    #[inline]
    fn drain(&mut self, max: usize, f: impl FnMut(&[u8])) -> usize {
        spsc::Consumer::drain(self, max, f)
    }

    fn has_record(&self) -> bool {
        spsc::Consumer::has_record(self)
    }
}

/// The input after `i` of `n`, round-robin (a compare, not a division).
#[inline(always)]
fn wrap_next(i: usize, n: usize) -> usize {
    if i + 1 >= n { 0 } else { i + 1 }
}

/// Checks that a ring's slots hold records of `size` bytes.
pub fn check_slot(max_record_bytes: usize, size: usize) -> Result<(), CoreError> {
    if max_record_bytes < size {
        return Err(CoreError::SlotTooSmall {
            max_record_bytes,
            needed: size,
        });
    }
    Ok(())
}

impl SessionOutput for spsc::Producer {
    #[inline(always)]
    fn try_send(&mut self, event: &OrderEvent) -> Result<(), OutputFull> {
        // NB: no closure (`try_write`): LLVM kept the closure that encodes out of line,
        // with the event read back from memory and dispatched on its kind (≈ 35
        // instructions per event, callgrind); written here, the emit site's known
        // variant is encoded straight into the slot.
        let mut claim = self.try_claim(1).map_err(|_| OutputFull)?;
        // A slot too small for a record is a set-up error (see `check_slot`); it
        // reads as permanent back-pressure here rather than a panic.
        let Some(buf) = claim.payload(0).first_chunk_mut::<RECORD_BYTES>() else {
            return Err(OutputFull);
        };
        event.encode(buf);
        claim.set_len(0, RECORD_BYTES);
        claim.commit();
        Ok(())
    }
}

impl MarketOutput for broadcast::Writer {
    #[inline(always)]
    fn try_publish(&mut self, event: &MdEvent) -> Result<(), OutputFull> {
        self.publish_with(MD_RECORD_BYTES, |buf| {
            event.encode_into(buf);
        })
        .map(|_| ())
        .map_err(|_| OutputFull)
    }
}

/// An in-memory input for tests: records queued in a `Vec`.
#[derive(Debug, Default, Clone)]
pub struct VecInput {
    /// Encoded commands not yet drained.
    pub records: std::collections::VecDeque<[u8; RECORD_BYTES]>,
}

impl VecInput {
    /// Queues a command.
    pub fn push(&mut self, cmd: &Command) {
        let mut buf = [0; RECORD_BYTES];
        cmd.encode(&mut buf);
        self.records.push_back(buf);
    }
}

impl CommandInput for VecInput {
    fn drain(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let n = max.min(self.records.len());
        for r in self.records.drain(..n) {
            f(&r);
        }
        n
    }

    fn has_record(&self) -> bool {
        !self.records.is_empty()
    }
}

/// An in-memory output for tests: events appended to a `Vec`.
#[derive(Debug, Clone)]
pub struct VecOutput<E> {
    /// Events written.
    pub events: Vec<E>,
}

impl<E> Default for VecOutput<E> {
    fn default() -> Self {
        VecOutput { events: Vec::new() }
    }
}

impl SessionOutput for VecOutput<OrderEvent> {
    fn try_send(&mut self, event: &OrderEvent) -> Result<(), OutputFull> {
        self.events.push(*event);
        Ok(())
    }
}

impl MarketOutput for VecOutput<MdEvent> {
    fn try_publish(&mut self, event: &MdEvent) -> Result<(), OutputFull> {
        self.events.push(*event);
        Ok(())
    }
}
