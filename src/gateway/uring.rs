//! The io_uring instance: setup with feature fallback, SQE pushes and the one submit
//! per loop turn.
//!
//! Setup tries the fastest ring mode first and falls back when the kernel refuses it:
//! SINGLE_ISSUER + DEFER_TASKRUN (completion work runs only when this thread enters
//! the kernel) → SINGLE_ISSUER + COOP_TASKRUN → COOP_TASKRUN → plain. With SQPOLL:
//! SQPOLL + SINGLE_ISSUER → SQPOLL → the non-SQPOLL chain. Every non-SQPOLL mode sets
//! TASKRUN_FLAG, so an idle loop turn costs a load of the SQ flags and no syscall:
//! the kernel raises `IORING_SQ_TASKRUN` when completion work is waiting, and the loop
//! enters for it at the start of a turn ([`Uring::run_flagged_work`]) and with its
//! sends at the end ([`Uring::submit_turn`]). DEFER_TASKRUN measured ≈ 7% faster than
//! COOP_TASKRUN on the io_uring echo round trip (`docs/GATEWAY.md`).
//!
//! The ring is created disabled (`IORING_SETUP_R_DISABLED`) and enabled by
//! [`Uring::enable`] on the thread that will run it, because a SINGLE_ISSUER ring
//! belongs to the task that enables it: the gateway can be built on one thread and
//! run on another (its pinned agent thread).

use std::io;

use std::os::fd::AsRawFd;

use io_uring::{EnterFlags, IoUring, Probe, opcode, squeue};

/// The ring flags that setup settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// SINGLE_ISSUER + DEFER_TASKRUN + TASKRUN_FLAG: the fastest non-SQPOLL mode.
    DeferTaskrun,
    /// SINGLE_ISSUER + COOP_TASKRUN + TASKRUN_FLAG.
    SingleIssuer,
    /// COOP_TASKRUN + TASKRUN_FLAG.
    Coop,
    /// No optional flags.
    Plain,
    /// SQPOLL + SINGLE_ISSUER: a kernel thread polls the SQ.
    SqpollSingleIssuer,
    /// SQPOLL alone.
    Sqpoll,
}

impl RingMode {
    /// Whether completion work runs only in `io_uring_enter(GETEVENTS)` by this thread.
    pub fn is_defer_taskrun(self) -> bool {
        self == Self::DeferTaskrun
    }

    /// Whether a kernel thread polls the submission queue.
    pub fn is_sqpoll(self) -> bool {
        matches!(self, Self::SqpollSingleIssuer | Self::Sqpoll)
    }

    /// The modes to try, best first, for the requested options.
    pub fn chain(sqpoll: bool, single_issuer: bool) -> &'static [RingMode] {
        use RingMode::*;
        match (sqpoll, single_issuer) {
            (true, true) => &[
                SqpollSingleIssuer,
                Sqpoll,
                DeferTaskrun,
                SingleIssuer,
                Coop,
                Plain,
            ],
            (true, false) => &[Sqpoll, Coop, Plain],
            (false, true) => &[DeferTaskrun, SingleIssuer, Coop, Plain],
            (false, false) => &[Coop, Plain],
        }
    }

    fn builder(self, cq_entries: u32, sqpoll_idle_ms: u32) -> io_uring::Builder {
        let mut b = IoUring::builder();
        b.setup_r_disabled().setup_cqsize(cq_entries).setup_clamp();
        match self {
            Self::DeferTaskrun => b.setup_single_issuer().setup_defer_taskrun(),
            Self::SingleIssuer => b.setup_single_issuer().setup_coop_taskrun(),
            Self::Coop => b.setup_coop_taskrun(),
            Self::Plain => &mut b,
            Self::SqpollSingleIssuer => b.setup_sqpoll(sqpoll_idle_ms).setup_single_issuer(),
            Self::Sqpoll => b.setup_sqpoll(sqpoll_idle_ms),
        };
        if matches!(self, Self::DeferTaskrun | Self::SingleIssuer | Self::Coop) {
            b.setup_taskrun_flag();
        }
        b
    }
}

/// Sizes and options of the ring.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// Submission queue entries (power of two).
    pub sq_entries: u32,
    /// Completion queue entries (power of two, ≥ `sq_entries`).
    pub cq_entries: u32,
    /// Ask for SQPOLL first.
    pub sqpoll: bool,
    /// SQPOLL thread idle time before it sleeps.
    pub sqpoll_idle_ms: u32,
    /// Ask for SINGLE_ISSUER (+ DEFER_TASKRUN) first.
    pub single_issuer: bool,
}

/// An io_uring instance plus the mode it runs in.
pub struct Uring {
    ring: IoUring,
    mode: RingMode,
    /// Modes the kernel refused before `mode` worked, for the start-up log.
    refused: Vec<(RingMode, i32)>,
    /// Failed `io_uring_enter` calls other than EINTR/EAGAIN/EBUSY.
    enter_errors: u64,
    /// The ring's index in the owning thread's registered ring table
    /// (`IORING_REGISTER_RING_FDS`), if registration worked: `io_uring_enter` then
    /// names the ring by this index and the kernel skips the fd table lookup
    /// (`fdget`/`fdput`) on every call.
    registered_index: Option<u32>,
}

/// `IORING_REGISTER_RING_FDS` (Linux 5.18).
const IORING_REGISTER_RING_FDS: libc::c_uint = 20;
/// `IORING_UNREGISTER_RING_FDS` (Linux 5.18).
const IORING_UNREGISTER_RING_FDS: libc::c_uint = 21;
/// `IORING_ENTER_REGISTERED_RING` (Linux 5.18).
const IORING_ENTER_REGISTERED_RING: libc::c_uint = 1 << 4;

/// `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("mode", &self.mode)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

/// Opcodes the gateway cannot work without.
const REQUIRED_OPCODES: [(u8, &str); 4] = [
    (opcode::AcceptMulti::CODE, "ACCEPT"),
    (opcode::RecvMulti::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
];

impl Uring {
    /// Builds the ring in the first mode of `modes` the kernel accepts and checks the
    /// opcodes the gateway needs. The ring starts disabled: call [`Uring::enable`] on
    /// the thread that will submit.
    pub fn new(cfg: &RingConfig, modes: &[RingMode]) -> io::Result<Self> {
        let attempts = modes
            .iter()
            .map(|&m| (m, m.builder(cfg.cq_entries, cfg.sqpoll_idle_ms)));
        Self::build_first(cfg.sq_entries, attempts)
    }

    /// Builds the first attempt the kernel accepts.
    fn build_first(
        sq_entries: u32,
        attempts: impl Iterator<Item = (RingMode, io_uring::Builder)>,
    ) -> io::Result<Self> {
        let mut refused = Vec::new();
        for (mode, builder) in attempts {
            match builder.build(sq_entries) {
                Ok(ring) => {
                    let uring = Self {
                        ring,
                        mode,
                        refused,
                        enter_errors: 0,
                        registered_index: None,
                    };
                    uring.check_opcodes()?;
                    return Ok(uring);
                }
                Err(e) => refused.push((mode, e.raw_os_error().unwrap_or(0))),
            }
        }
        Err(io::Error::other(format!(
            "io_uring_setup refused every mode {refused:?}; check \
             /proc/sys/kernel/io_uring_disabled (must be 0) and the seccomp policy"
        )))
    }

    fn check_opcodes(&self) -> io::Result<()> {
        let mut probe = Probe::new();
        self.ring.submitter().register_probe(&mut probe)?;
        for (code, name) in REQUIRED_OPCODES {
            if !probe.is_supported(code) {
                return Err(io::Error::other(format!(
                    "the kernel's io_uring lacks IORING_OP_{name}; the gateway needs \
                     Linux ≥ 6.0 (multishot accept and recv with provided buffer rings)"
                )));
            }
        }
        Ok(())
    }

    /// Enables the ring; with SINGLE_ISSUER, the calling thread becomes its only
    /// submitter. Also registers the ring's fd with the calling thread (the table of
    /// registered rings is per thread), so that the loop's `io_uring_enter` skips the
    /// fd lookup; if the kernel refuses, the plain fd is used.
    pub fn enable(&mut self) -> io::Result<()> {
        self.ring.submitter().register_enable_rings()?;
        self.registered_index = self.register_ring_fd().ok();
        Ok(())
    }

    /// `IORING_REGISTER_RING_FDS` for this ring on the calling thread.
    fn register_ring_fd(&self) -> io::Result<u32> {
        let mut up = RsrcUpdate {
            offset: u32::MAX, // any free index
            resv: 0,
            data: self.ring.as_raw_fd() as u64,
        };
        self.rsrc_update(IORING_REGISTER_RING_FDS, &mut up)?;
        Ok(up.offset)
    }

    /// One `io_uring_register` call on a single `io_uring_rsrc_update`.
    fn rsrc_update(&self, op: libc::c_uint, up: &mut RsrcUpdate) -> io::Result<()> {
        // SAFETY: `up` is a valid `io_uring_rsrc_update` for the one entry passed; on
        // registration the kernel writes the chosen index into `up.offset`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring.as_raw_fd(),
                op,
                up as *mut RsrcUpdate,
                1u32,
            )
        };
        if r != 1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether `io_uring_enter` names the ring by its registered index.
    pub fn ring_fd_registered(&self) -> bool {
        self.registered_index.is_some()
    }

    /// The mode setup settled on.
    pub fn mode(&self) -> RingMode {
        self.mode
    }

    /// The modes the kernel refused before [`Uring::mode`], with their errno.
    pub fn refused(&self) -> &[(RingMode, i32)] {
        &self.refused
    }

    /// Failed `io_uring_enter` calls (other than EINTR, EAGAIN, EBUSY).
    pub fn enter_errors(&self) -> u64 {
        self.enter_errors
    }

    /// The submitter, for registrations.
    pub fn submitter(&self) -> io_uring::Submitter<'_> {
        self.ring.submitter()
    }

    /// The completion queue, to drain.
    #[inline]
    pub fn completion(&mut self) -> io_uring::CompletionQueue<'_> {
        self.ring.completion()
    }

    /// Pushes `sqe`, submitting first if the SQ is full.
    ///
    /// # Safety
    /// Every buffer `sqe` points to must stay valid and unmoved until its last CQE
    /// (the one without `IORING_CQE_F_MORE`) has been reaped.
    #[inline]
    pub unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller's contract is the push contract.
        if unsafe { self.ring.submission().push(sqe) }.is_ok() {
            return Ok(());
        }
        self.submit_turn();
        // SAFETY: as above.
        unsafe { self.ring.submission().push(sqe) }
            .map_err(|_| io::Error::other("io_uring submission queue full after a submit"))
    }

    /// The one `io_uring_enter` of a loop turn, skipped when there is nothing to submit
    /// and the kernel has not flagged completion work (`IORING_SQ_TASKRUN`) or a CQ
    /// overflow. Returns whether it entered the kernel.
    #[inline]
    pub fn submit_turn(&mut self) -> bool {
        let (to_submit, taskrun, overflow) = {
            let sq = self.ring.submission();
            (sq.len(), sq.taskrun(), sq.cq_overflow())
        };
        if self.mode.is_sqpoll() {
            // The crate wakes the SQ thread only if it sleeps; no syscall otherwise.
            return self.enter_result(self.ring.submitter().submit());
        }
        if to_submit == 0 && !taskrun && !overflow {
            return false;
        }
        self.enter_getevents(to_submit)
    }

    /// Runs the completion work the kernel has flagged (`IORING_SQ_TASKRUN`: e.g. a
    /// recv whose data arrived) or a CQ overflow, so that its CQEs can be reaped at
    /// once; one load of the SQ flags when there is none. Returns whether it entered.
    #[inline]
    pub fn run_flagged_work(&mut self) -> bool {
        if !self.has_flagged_work() {
            return false;
        }
        let to_submit = self.ring.submission().len();
        self.enter_getevents(to_submit)
    }

    /// Whether the kernel flagged completion work or a CQ overflow
    /// ([`Self::run_flagged_work`] would enter); one load of the SQ flags.
    #[inline]
    pub fn has_flagged_work(&mut self) -> bool {
        if self.mode.is_sqpoll() {
            return false;
        }
        let sq = self.ring.submission();
        sq.taskrun() || sq.cq_overflow()
    }

    /// Whether CQEs are waiting to be reaped.
    #[inline]
    pub fn has_completions(&mut self) -> bool {
        !self.ring.completion().is_empty()
    }

    /// `io_uring_enter(to_submit, min_complete = 0, GETEVENTS)`: submits, runs
    /// deferred completion work (DEFER_TASKRUN) and flushes an overflowed CQ; never
    /// blocks.
    #[inline]
    fn enter_getevents(&mut self, to_submit: usize) -> bool {
        let flags = EnterFlags::GETEVENTS.bits();
        let r = match self.registered_index {
            Some(index) => Self::enter_registered(index, to_submit as u32, flags),
            // SAFETY: no argument pointer is passed (`None`); to_submit is the SQ length.
            None => unsafe {
                self.ring
                    .submitter()
                    .enter::<libc::sigset_t>(to_submit as u32, 0, flags, None)
            },
        };
        self.enter_result(r)
    }

    /// `io_uring_enter(index, to_submit, 0, flags | IORING_ENTER_REGISTERED_RING)`.
    #[inline]
    fn enter_registered(index: u32, to_submit: u32, flags: u32) -> io::Result<usize> {
        // SAFETY: `index` is this thread's registration of our ring (made in `enable`
        // on this thread, which is the only one that submits: SINGLE_ISSUER and the
        // `do_work` contract); no argument pointer is passed (NULL, size 0).
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                index,
                to_submit,
                0u32,
                flags | IORING_ENTER_REGISTERED_RING,
                std::ptr::null::<libc::c_void>(),
                0usize,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }

    /// Waits in the kernel until at least one CQE is ready or `timeout_ns` passed
    /// (shutdown only; never on the hot path).
    pub fn wait_cqe(&mut self, timeout_ns: u64) {
        let ts = io_uring::types::Timespec::new()
            .sec(timeout_ns / 1_000_000_000)
            .nsec((timeout_ns % 1_000_000_000) as u32);
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        let r = self.ring.submitter().submit_with_args(1, &args);
        if !matches!(
            r.as_ref().map_err(|e| e.raw_os_error()),
            Err(Some(libc::ETIME))
        ) {
            self.enter_result(r);
        }
    }

    fn enter_result(&mut self, r: io::Result<usize>) -> bool {
        if let Err(e) = r {
            let benign = matches!(
                e.raw_os_error(),
                Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
            );
            if !benign {
                self.enter_errors += 1;
                if self.enter_errors == 1 {
                    eprintln!("tickgate: gateway: io_uring_enter failed: {e}");
                }
            }
        }
        true
    }
}

impl Drop for Uring {
    /// Drops this thread's registration of the ring (a registration holds a reference
    /// to the ring until the thread exits). Dropped on another thread, the call fails
    /// harmlessly and the thread's exit releases it.
    fn drop(&mut self) {
        if let Some(index) = self.registered_index.take() {
            let mut up = RsrcUpdate {
                offset: index,
                resv: 0,
                data: 0,
            };
            let _ = self.rsrc_update(IORING_UNREGISTER_RING_FDS, &mut up);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_fd_is_registered_and_enter_uses_it() {
        let mut u = Uring::new(&cfg(false), RingMode::chain(false, true)).unwrap();
        u.enable().unwrap();
        assert!(u.ring_fd_registered(), "IORING_REGISTER_RING_FDS refused");
        let nop = opcode::Nop::new().build().user_data(7);
        // SAFETY: a NOP names no memory.
        unsafe { u.push(&nop) }.unwrap();
        assert!(u.submit_turn());
        assert_eq!(u.enter_errors(), 0);
        let cqe = u.completion().next().expect("the NOP completed");
        assert_eq!((cqe.user_data(), cqe.result()), (7, 0));
    }

    fn cfg(sqpoll: bool) -> RingConfig {
        RingConfig {
            sq_entries: 8,
            cq_entries: 32,
            sqpoll,
            sqpoll_idle_ms: 10,
            single_issuer: true,
        }
    }

    #[test]
    fn the_best_mode_is_taken_when_the_kernel_has_it() {
        let u = Uring::new(&cfg(false), RingMode::chain(false, true)).unwrap();
        assert_eq!(
            u.mode(),
            RingMode::DeferTaskrun,
            "refused: {:?}",
            u.refused()
        );
    }

    #[test]
    fn a_refused_mode_falls_back_to_the_next() {
        // SQPOLL + DEFER_TASKRUN is invalid: a real kernel refusal (EINVAL).
        let mut bad = IoUring::builder();
        bad.setup_sqpoll(10).setup_defer_taskrun();
        let good = RingMode::Coop.builder(32, 10);
        let attempts = [(RingMode::DeferTaskrun, bad), (RingMode::Coop, good)];
        let u = Uring::build_first(8, attempts.into_iter()).unwrap();
        assert_eq!(u.mode(), RingMode::Coop);
        assert_eq!(u.refused(), &[(RingMode::DeferTaskrun, libc::EINVAL)]);
    }
}
