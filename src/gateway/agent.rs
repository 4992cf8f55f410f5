//! The gateway agent: the loop turn (`do_work`), CQE dispatch, connection open/close
//! and shutdown.

use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, types};

use super::bufring::BufRing;
use super::conn::{ConnTable, SlotState};
use super::counters::{GatewayCounters, bump};
use super::uring::{RingConfig, RingMode, Uring};
use super::{CloseReason, ConnId, GatewayError, GatewayOptions, Handler, Outbox};
use crate::affinity::Idle;

/// user_data layout: bits 0..8 the op, 8..32 the slot, 32..64 the generation.
const OP_ACCEPT: u64 = 1;
const OP_RECV: u64 = 2;
const OP_SEND: u64 = 3;
const OP_CANCEL: u64 = 4;
const MAX_SLOTS: usize = 1 << 24;

#[inline]
fn user_data(op: u64, id: ConnId) -> u64 {
    op | (id.slot() as u64) << 8 | (id.generation() as u64) << 32
}

#[inline]
fn decode_user_data(ud: u64) -> (u64, ConnId) {
    let slot = ((ud >> 8) & (MAX_SLOTS as u64 - 1)) as u32;
    (ud & 0xff, ConnId::new(slot, (ud >> 32) as u32))
}

/// A CQE copied out of the completion queue, so the queue is released before the
/// handler runs (and may push SQEs).
#[derive(Debug, Clone, Copy)]
struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

/// How often the turn clock's TSC extrapolation re-reads `CLOCK_MONOTONIC`.
const CLOCK_ANCHOR_REFRESH: Duration = Duration::from_millis(1);

/// How long [`Gateway::shutdown`] waits for the kernel to finish in-flight SQEs.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(2);

/// The io_uring TCP server agent. See the [module docs](super).
///
/// Field order matters: the ring is dropped before the memory its SQEs point into.
pub struct Gateway<H: Handler> {
    uring: Uring,
    bufring: BufRing,
    table: ConnTable,
    listener: TcpListener,
    handler: H,
    counters: Arc<GatewayCounters>,
    cqes: Vec<Cqe>,
    opts: GatewayOptions,
    local_addr: SocketAddr,
    started: bool,
    accepting: bool,
    accept_armed: bool,
    shut_down: bool,
    /// The turn clock handed to the handler ([`Outbox::now_ns`]).
    turn_ns: u64,
    /// Where `turn_ns` is read from.
    clock: crate::clock::MonotonicTsc,
    /// Turns since `turn_ns` was read.
    clock_age_turns: u32,
}

impl<H: Handler> std::fmt::Debug for Gateway<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("local_addr", &self.local_addr)
            .field("mode", &self.uring.mode())
            .field("open", &self.table.open_count())
            .finish_non_exhaustive()
    }
}

fn validate(opts: &GatewayOptions) -> Result<(), GatewayError> {
    let bad = |s: String| Err(GatewayError::Options(s));
    if opts.max_connections == 0 || opts.max_connections >= MAX_SLOTS {
        return bad(format!("max_connections must be in 1..{MAX_SLOTS}"));
    }
    if opts.max_outbound_bytes_per_conn == 0 || opts.cqe_batch == 0 {
        return bad("max_outbound_bytes_per_conn and cqe_batch must be > 0".into());
    }
    Ok(())
}

fn listen(opts: &GatewayOptions) -> Result<(TcpListener, SocketAddr), GatewayError> {
    let err = |source| GatewayError::Bind {
        addr: opts.bind,
        source,
    };
    let listener = TcpListener::bind(opts.bind).map_err(err)?;
    // SAFETY: a listening socket we own; listen(2) again only changes the backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), opts.listen_backlog) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    let addr = listener.local_addr().map_err(err)?;
    Ok((listener, addr))
}

impl<H: Handler> Gateway<H> {
    /// Binds, sets up the ring (falling back through [`RingMode::chain`]), registers
    /// the provided-buffer ring and reserves every slot. Nothing is accepted until
    /// the first [`Gateway::do_work`], whose thread then owns the ring.
    pub fn new(opts: GatewayOptions, handler: H) -> Result<Self, GatewayError> {
        validate(&opts)?;
        let (listener, local_addr) = listen(&opts)?;
        let sq_entries = (opts.max_connections * 2)
            .clamp(64, 4096)
            .next_power_of_two() as u32;
        let cfg = RingConfig {
            sq_entries,
            cq_entries: sq_entries * 4,
            sqpoll: opts.sqpoll,
            sqpoll_idle_ms: opts.sqpoll_idle_ms,
            single_issuer: opts.single_issuer,
        };
        let uring = Uring::new(&cfg, RingMode::chain(opts.sqpoll, opts.single_issuer))
            .map_err(GatewayError::Ring)?;
        let mut bufring = BufRing::new(opts.recv_buffers, opts.recv_buffer_bytes, opts.bgid)
            .map_err(GatewayError::Ring)?;
        bufring
            .register(&uring.submitter())
            .map_err(GatewayError::Ring)?;
        let table = ConnTable::new(opts.max_connections, opts.max_outbound_bytes_per_conn)
            .map_err(GatewayError::Ring)?;
        if opts.log_connections {
            eprintln!(
                "tickgate: gateway listening on {local_addr} (ring mode {:?}, refused {:?})",
                uring.mode(),
                uring.refused()
            );
        }
        Ok(Self {
            uring,
            bufring,
            table,
            listener,
            handler,
            counters: Arc::default(),
            cqes: Vec::with_capacity(opts.cqe_batch),
            local_addr,
            started: false,
            accepting: true,
            accept_armed: false,
            shut_down: false,
            turn_ns: crate::clock::monotonic_ns(),
            clock: crate::clock::MonotonicTsc::new(
                crate::clock::MonotonicTsc::shared_clock(),
                CLOCK_ANCHOR_REFRESH,
            ),

            clock_age_turns: 0,
            opts,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The ring mode setup settled on.
    pub fn mode(&self) -> RingMode {
        self.uring.mode()
    }

    /// The counters, shareable with other threads.
    pub fn counters(&self) -> Arc<GatewayCounters> {
        Arc::clone(&self.counters)
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        self.table.open_count()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// One loop turn: at most `cqe_batch` CQEs, the handler's `poll`, the resulting
    /// sends and closes, and one submit. Returns the work done (0 = idle).
    ///
    /// The first call enables the ring: from then on call it only from this thread.
    #[inline]
    pub fn do_work(&mut self) -> usize {
        if !self.started {
            self.start();
        }
        // Completion work the kernel flagged since the last turn (a recv whose data
        // arrived) runs first, so that its CQEs are handled in this same turn.
        self.uring.run_flagged_work();
        let mut work = self.reap();
        work += self
            .handler
            .poll(&mut Outbox::new(&mut self.table, self.turn_ns));
        self.bufring.publish();
        work += self.process_lists();
        // CQEs posted by this enter are work: the idle strategy must not pause before
        // the next turn reaps them.
        if self.uring.submit_turn() && self.uring.has_completions() {
            work += 1;
        }
        work
    }

    /// Between two turns of an idle thread: reads the turn clock, then calls the
    /// handler's [`Handler::poll_hot`] up to `polls` times, until one does work or the
    /// ring has completions (or flagged completion work) for the next turn. Returns
    /// the work (0: none; the caller's idle strategy runs then).
    ///
    /// The clock is read here, off an input's path, so that what the hot polls
    /// handle is stamped at most one idle cycle late. The CPU's pause hint separates
    /// two polls.
    #[inline]
    pub fn poll_hot(&mut self, polls: u32) -> usize {
        self.turn_ns = self.clock.now_ns();
        self.clock_age_turns = 0;
        for _ in 0..polls {
            let work = self
                .handler
                .poll_hot(&mut Outbox::new(&mut self.table, self.turn_ns));
            if work > 0 {
                return work;
            }
            // A socket's input does not wait for the polls to end.
            if self.uring.has_completions() || self.uring.has_flagged_work() {
                return 1;
            }
            // NB: a pause between two looks. Polled back to back, the order line was
            // read so often that the algo's write waited for it: on the Xeon host
            // `order_to_core` at a tick was ≈ 70 ns longer (paired rounds,
            // docs/LATENCY.md § Hot polls with a pause).
            std::hint::spin_loop();
        }
        0
    }

    /// Runs `do_work` with `idle` until `stop` is set, then shuts down. The gateway's
    /// own thread (dedicated mode); in shared mode, call `do_work` from the shared
    /// duty cycle instead.
    pub fn run(&mut self, idle: &mut impl Idle, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            let work = self.do_work();
            idle.idle(work, || false);
        }
        self.shutdown();
    }

    fn start(&mut self) {
        self.started = true;
        if let Err(e) = self.uring.enable() {
            eprintln!("tickgate: gateway: enabling the ring failed: {e}");
        }
        self.arm_accept();
    }

    fn arm_accept(&mut self) {
        let sqe = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(OP_ACCEPT);
        // SAFETY: multishot accept names no memory of ours (no sockaddr out-pointer).
        self.accept_armed = unsafe { self.uring.push(&sqe) }.is_ok();
    }

    fn push_recv(&mut self, id: ConnId) {
        let c = self.table.slot_mut(id.slot());
        let sqe = opcode::RecvMulti::new(types::Fd(c.fd), self.bufring.bgid())
            .build()
            .user_data(user_data(OP_RECV, id));
        // SAFETY: the recv writes only into provided buffers of `self.bufring`, which
        // outlives the ring (field order; `Drop` drains in-flight SQEs first).
        c.recv_armed = unsafe { self.uring.push(&sqe) }.is_ok();
    }

    fn push_cancel(&mut self, target: u64, id: ConnId) {
        let sqe = opcode::AsyncCancel::new(target)
            .build()
            .user_data(user_data(OP_CANCEL, id));
        // SAFETY: a cancel names no memory.
        let _ = unsafe { self.uring.push(&sqe) };
    }

    fn reap(&mut self) -> usize {
        self.cqes.clear();
        let batch = self.opts.cqe_batch;
        for cqe in self.uring.completion().take(batch) {
            self.cqes.push(Cqe {
                user_data: cqe.user_data(),
                res: cqe.result(),
                flags: cqe.flags(),
            });
        }
        let n = self.cqes.len();
        self.tick_clock(n > 0);
        for i in 0..n {
            let cqe = self.cqes[i];
            self.dispatch(cqe);
        }
        n
    }

    /// Reads the turn clock if this turn has completions or it is
    /// [`super::CLOCK_REFRESH_TURNS`] turns old: an idle spinning turn reads no clock.
    #[inline]
    fn tick_clock(&mut self, busy: bool) {
        if busy || self.clock_age_turns >= super::CLOCK_REFRESH_TURNS {
            self.turn_ns = self.clock.now_ns();
            self.clock_age_turns = 0;
        } else {
            self.clock_age_turns += 1;
        }
    }

    #[inline]
    fn dispatch(&mut self, cqe: Cqe) {
        let (op, id) = decode_user_data(cqe.user_data);
        match op {
            OP_RECV => self.on_recv_cqe(id, cqe.res, cqe.flags),
            OP_SEND => self.on_send_cqe(id, cqe.res),
            OP_ACCEPT => self.on_accept_cqe(cqe.res, cqe.flags),
            _ => {} // OP_CANCEL: the cancelled SQE's own CQE does the bookkeeping.
        }
    }

    fn on_accept_cqe(&mut self, res: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.accept_armed = false;
        }
        if res < 0 {
            if self.accepting {
                bump(&self.counters.accept_errors, 1);
                eprintln!("tickgate: gateway: accept failed: errno {}", -res);
            }
            return;
        }
        if !self.accepting {
            // SAFETY: a socket the kernel just gave us and nobody else knows.
            unsafe { libc::close(res) };
            return;
        }
        self.open(res);
    }

    fn open(&mut self, fd: RawFd) {
        let Some(id) = self.table.open(fd) else {
            bump(&self.counters.rejected_max_connections, 1);
            if self.opts.log_connections {
                let max = self.opts.max_connections;
                eprintln!("tickgate: gateway: refused a connection: all {max} slots in use");
            }
            // SAFETY: the accepted socket is ours alone; closing it sends the peer FIN.
            unsafe { libc::close(fd) };
            return;
        };
        // SAFETY: `fd` is an open socket owned by slot `id`; ManuallyDrop keeps the
        // temporary TcpStream from closing it.
        let stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        bump(&self.counters.accepted, 1);
        if self.opts.log_connections {
            eprintln!("tickgate: gateway: {id} accepted from {peer}");
        }
        self.push_recv(id);
        self.handler
            .on_accept(id, peer, &mut Outbox::new(&mut self.table, self.turn_ns));
    }

    #[inline]
    fn on_recv_cqe(&mut self, id: ConnId, res: i32, flags: u32) {
        let bid = cqueue::buffer_select(flags);
        let Some(c) = self.table.get_mut(id) else {
            bump(&self.counters.stale_cqes, 1);
            if let Some(bid) = bid {
                self.bufring.recycle(bid);
            }
            return;
        };
        let more = cqueue::more(flags);
        if !more {
            c.recv_armed = false;
        }
        if c.state == SlotState::Closing {
            if let Some(bid) = bid {
                self.bufring.recycle(bid);
            }
            self.maybe_release(id.slot());
            return;
        }
        match (res, bid) {
            (1.., Some(bid)) => {
                bump(&self.counters.bytes_in, res as u64);
                let data = self.bufring.buf(bid, res as usize);
                self.handler
                    .on_data(id, data, &mut Outbox::new(&mut self.table, self.turn_ns));
                self.bufring.recycle(bid);
                if !more {
                    self.request_rearm(id.slot());
                }
            }
            (1.., None) => self.begin_close(id.slot(), CloseReason::Error(libc::EIO)),
            (0, _) => self.begin_close(id.slot(), CloseReason::PeerClosed),
            (e, _) if e == -libc::ENOBUFS => {
                bump(&self.counters.recv_buffer_exhausted, 1);
                self.request_rearm(id.slot());
            }
            (e, _) => self.begin_close(id.slot(), CloseReason::Error(-e)),
        }
    }

    fn request_rearm(&mut self, slot: u32) {
        let c = self.table.slot_mut(slot);
        if !c.recv_rearm && !c.recv_armed {
            c.recv_rearm = true;
            self.table.rearm.push(slot);
        }
    }

    #[inline]
    fn on_send_cqe(&mut self, id: ConnId, res: i32) {
        let Some(c) = self.table.get_mut(id) else {
            bump(&self.counters.stale_cqes, 1);
            return;
        };
        let asked = c.send_inflight_bytes;
        c.send_inflight_bytes = 0;
        if c.state == SlotState::Closing {
            self.maybe_release(id.slot());
            return;
        }
        if res < 0 {
            self.begin_close(id.slot(), CloseReason::Error(-res));
            return;
        }
        c.out.consume(res as usize);
        bump(&self.counters.bytes_out, res as u64);
        if (res as u32) < asked {
            bump(&self.counters.partial_sends, 1);
        }
        let needs_flush = c.out.queued_bytes() > 0 && !c.dirty;
        let drained_close = c.out.queued_bytes() == 0;
        let close_after_flush = c.close_after_flush;
        if needs_flush {
            c.dirty = true;
            self.table.dirty.push(id.slot());
        } else if let (true, Some(reason)) = (drained_close, close_after_flush) {
            self.table.request_close(id, reason, false);
        }
    }

    /// Carries out close requests, turns queued bytes into send SQEs and re-arms
    /// recvs and the accept. Returns the number of items handled.
    fn process_lists(&mut self) -> usize {
        let mut work = 0;
        while let Some(slot) = self.table.to_close.pop() {
            if let Some(reason) = self.table.slot_mut(slot).close_request.take() {
                self.begin_close(slot, reason);
            }
            work += 1;
        }
        for i in 0..self.table.dirty.len() {
            let slot = self.table.dirty[i];
            self.flush(slot);
        }
        work += self.table.dirty.len();
        self.table.dirty.clear();
        while let Some(slot) = self.table.rearm.pop() {
            let c = self.table.slot_mut(slot);
            c.recv_rearm = false;
            if c.state == SlotState::Open && !c.recv_armed {
                self.push_recv(self.table.id_of(slot));
            }
            work += 1;
        }
        if self.accepting && !self.accept_armed {
            self.arm_accept();
        }
        work
    }

    #[inline]
    fn flush(&mut self, slot: u32) {
        let (cap, base, id) = (
            self.table.out_cap(),
            self.table.out_base(slot),
            self.table.id_of(slot),
        );
        let c = self.table.slot_mut(slot);
        c.dirty = false;
        if c.state != SlotState::Open || c.send_inflight_bytes > 0 || c.out.queued_bytes() == 0 {
            return;
        }
        let (off, len) = c.out.segment(cap);
        let len = len.min(u32::MAX as usize) as u32;
        // SAFETY: `off + len <= cap`, inside this slot's outbound region.
        let ptr = unsafe { base.add(off) };
        let sqe = opcode::Send::new(types::Fd(c.fd), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(OP_SEND, id));
        // SAFETY: the bytes [off, off + len) stay unchanged and mapped until the send
        // CQE: new bytes are only written past the queue's tail, the slot is not
        // released while `send_inflight_bytes > 0`, and `Drop` drains before the
        // region is unmapped.
        if unsafe { self.uring.push(&sqe) }.is_ok() {
            c.send_inflight_bytes = len;
        } else {
            c.dirty = true; // retried next turn, after this turn's submit
        }
    }

    /// Shuts an open connection down: the handler is told, in-flight SQEs are
    /// cancelled, and the slot is freed when their last CQEs arrive.
    fn begin_close(&mut self, slot: u32, reason: CloseReason) {
        let id = self.table.id_of(slot);
        let c = *self.table.slot_mut(slot);
        if c.state != SlotState::Open {
            return;
        }
        self.table.mark_closing(slot);
        bump(self.counters.for_close(reason), 1);
        if self.opts.log_connections {
            eprintln!("tickgate: gateway: {id} closed: {reason}");
        }
        if matches!(reason, CloseReason::SlowConsumer | CloseReason::Error(_)) {
            set_linger_zero(c.fd);
        }
        // SAFETY: `c.fd` is the slot's open socket; shutdown wakes its pending recv
        // and send so they complete.
        unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
        if c.recv_armed {
            self.push_cancel(user_data(OP_RECV, id), id);
        }
        if c.send_inflight_bytes > 0 {
            self.push_cancel(user_data(OP_SEND, id), id);
        }
        self.handler.on_close(id, reason);
        self.maybe_release(slot);
    }

    fn maybe_release(&mut self, slot: u32) {
        let c = self.table.slot_mut(slot);
        if c.state == SlotState::Closing && !c.has_sqes_in_flight() {
            let fd = self.table.release(slot);
            // SAFETY: the slot owned `fd` and no SQE names it any more.
            unsafe { libc::close(fd) };
        }
    }

    /// Stops accepting, closes every connection ([`CloseReason::Shutdown`]) and waits
    /// (up to 2 s) for the kernel to finish every SQE. Idempotent; `Drop` calls it.
    /// Call it on the thread that ran `do_work`.
    pub fn shutdown(&mut self) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        self.accepting = false;
        if !self.started {
            return;
        }
        // SAFETY: the listener is ours; SHUT_RD wakes the armed multishot accept.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RD) };
        if self.accept_armed {
            self.push_cancel(OP_ACCEPT, ConnId::new(0, 0));
        }
        for slot in self.table.slots() {
            self.begin_close(slot, CloseReason::Shutdown);
        }
        let deadline = Instant::now() + SHUTDOWN_DRAIN;
        while (self.table.in_use() > 0 || self.accept_armed) && Instant::now() < deadline {
            self.uring.wait_cqe(10_000_000);
            self.reap();
            self.bufring.publish();
        }
        if self.table.in_use() > 0 || self.accept_armed {
            eprintln!("tickgate: gateway: shutdown left SQEs in flight; leaking their buffers");
            self.bufring.leak();
            self.table.leak();
        }
    }
}

fn set_linger_zero(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid value of the size passed; a bad fd only fails.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

impl<H: Handler> Drop for Gateway<H> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Echoes and counts the bytes it was handed.
    struct CountingEcho(usize);

    impl Handler for CountingEcho {
        fn on_accept(&mut self, _: ConnId, _: SocketAddr, _: &mut Outbox<'_>) {}
        fn on_data(&mut self, conn: ConnId, data: &[u8], out: &mut Outbox<'_>) {
            self.0 += data.len();
            let _ = out.send(conn, data);
        }
        fn on_close(&mut self, _: ConnId, _: CloseReason) {}
    }

    fn pump_until<H: Handler>(gw: &mut Gateway<H>, mut cond: impl FnMut(&Gateway<H>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond(gw) {
            assert!(Instant::now() < deadline, "timed out");
            if gw.do_work() == 0 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    /// A quiet gateway with room for one connection.
    fn one_connection() -> GatewayOptions {
        GatewayOptions {
            max_connections: 1,
            log_connections: false,
            ..GatewayOptions::default()
        }
    }

    #[test]
    fn a_stale_cqe_for_a_reused_slot_is_ignored() {
        let mut gw = Gateway::new(one_connection(), CountingEcho(0)).unwrap();
        let first = TcpStream::connect(gw.local_addr()).unwrap();
        pump_until(&mut gw, |g| g.open_connections() == 1);
        let old = gw.table.id_of(0);
        drop(first);
        pump_until(&mut gw, |g| g.table.in_use() == 0);
        let mut second = TcpStream::connect(gw.local_addr()).unwrap();
        pump_until(&mut gw, |g| g.open_connections() == 1);
        let new = gw.table.id_of(0);
        assert_eq!(new.slot(), old.slot());
        assert_ne!(new.generation(), old.generation());
        // Late CQEs of the first connection, as the kernel could deliver them.
        let more = io_uring_sys_more();
        for (op, res, flags) in [(OP_RECV, 5, more), (OP_SEND, 5, 0), (OP_RECV, 0, 0)] {
            let user_data = user_data(op, old);
            gw.dispatch(Cqe {
                user_data,
                res,
                flags,
            });
        }
        assert_eq!(gw.counters.stale_cqes.load(Ordering::Relaxed), 3);
        assert_eq!(gw.handler().0, 0, "no stale data reached the handler");
        assert_eq!(
            gw.open_connections(),
            1,
            "the new connection was not closed"
        );
        second.write_all(b"fresh").unwrap();
        let mut back = [0u8; 5];
        second.set_nonblocking(true).unwrap();
        let mut got = 0;
        pump_until(&mut gw, |_| {
            got += second.read(&mut back[got..]).unwrap_or(0);
            got == 5
        });
        assert_eq!(&back, b"fresh");
    }

    /// Counts its hot polls; has work at the `work_at`-th.
    struct Hot {
        polls: u32,
        work_at: u32,
    }

    impl Handler for Hot {
        fn on_accept(&mut self, _: ConnId, _: SocketAddr, _: &mut Outbox<'_>) {}
        fn on_data(&mut self, _: ConnId, _: &[u8], _: &mut Outbox<'_>) {}
        fn on_close(&mut self, _: ConnId, _: CloseReason) {}
        fn poll_hot(&mut self, _: &mut Outbox<'_>) -> usize {
            self.polls += 1;
            usize::from(self.polls == self.work_at)
        }
    }

    #[test]
    fn hot_polls_stop_at_work_or_a_socket_event_and_run_their_count_otherwise() {
        let hot = Hot {
            polls: 0,
            work_at: 5,
        };
        let mut gw = Gateway::new(one_connection(), hot).unwrap();
        gw.do_work(); // enables the ring, submits the accept
        assert_eq!(gw.poll_hot(16), 1, "the fifth poll's work");
        assert_eq!(gw.handler().polls, 5);
        assert_eq!(gw.poll_hot(16), 0);
        assert_eq!(gw.handler().polls, 21, "all sixteen when nothing came");
        // A connection's accept completes in the ring: the polls end for the turn.
        let _client = TcpStream::connect(gw.local_addr()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while gw.poll_hot(16) == 0 {
            assert!(Instant::now() < deadline, "the accept never showed");
            std::thread::sleep(Duration::from_millis(1));
        }
        let polls = gw.handler().polls;
        assert_eq!(gw.poll_hot(16), 1, "it is still there: no turn reaped it");
        assert_eq!(
            gw.handler().polls,
            polls + 1,
            "one look, then the socket's turn"
        );
        pump_until(&mut gw, |g| g.open_connections() == 1);
    }

    /// `IORING_CQE_F_MORE`, as a multishot recv CQE carries it.
    fn io_uring_sys_more() -> u32 {
        2
    }

    #[test]
    fn user_data_round_trips_op_slot_and_generation() {
        let id = ConnId::new(MAX_SLOTS as u32 - 1, u32::MAX);
        assert_eq!(decode_user_data(user_data(OP_SEND, id)), (OP_SEND, id));
        assert_eq!(decode_user_data(OP_ACCEPT).0, OP_ACCEPT);
    }
}

/// An instruction-count probe of the idle loop turn (docs/GATEWAY.md, "The loop turn").
#[cfg(test)]
mod idle_turn {
    use super::*;
    use crate::gateway::echo::Echo;

    #[inline(never)]
    fn idle_turn(gw: &mut Gateway<Echo>) -> usize {
        gw.do_work()
    }

    /// 100,000 idle turns of a gateway with no connection; run the release lib test
    /// under `valgrind --tool=callgrind --toggle-collect='*idle_turn*'`.
    #[test]
    #[ignore = "instruction count probe"]
    fn idle_turns() {
        let opts = GatewayOptions {
            log_connections: false,
            max_connections: 16,
            ..GatewayOptions::default()
        };
        let mut gw = Gateway::new(opts, Echo).unwrap();
        for _ in 0..1000 {
            gw.do_work();
        }
        let mut w = 0;
        for _ in 0..100_000 {
            w += idle_turn(&mut gw);
        }
        assert_eq!(w, 0);
    }
}
