//! Pinning, memory locking and idle strategies: how a hot thread owns its core.
//!
//! Every hot thread runs an agent's duty cycle and, when a cycle did no work, asks its
//! [`Idle`] strategy what to do. Busy-spinning threads must never outnumber cores.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Duration;

use serde::Deserialize;

/// Why a thread could not take its core or lock its memory. Each names the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AffinityError {
    /// The configured CPU does not exist or is outside this process's cpuset.
    NoSuchCpu {
        /// The CPU asked for.
        cpu: usize,
        /// The CPUs this process may run on.
        available: Vec<usize>,
    },
    /// `sched_setaffinity` refused.
    PinFailed {
        /// The CPU asked for.
        cpu: usize,
    },
    /// `mlockall` failed, usually because `RLIMIT_MEMLOCK` is too small.
    MemLock {
        /// The current soft limit in bytes (`u64::MAX` = unlimited).
        limit_bytes: u64,
        /// The OS error number.
        errno: i32,
    },
}

impl fmt::Display for AffinityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchCpu { cpu, available } => write!(
                f,
                "cpu {cpu} is not available to this process (available: {available:?}); \
                 fix threads.*_cpu in the config or the process cpuset"
            ),
            Self::PinFailed { cpu } => write!(f, "sched_setaffinity to cpu {cpu} failed"),
            Self::MemLock { limit_bytes, errno } => write!(
                f,
                "mlockall failed (errno {errno}) with RLIMIT_MEMLOCK = {limit_bytes} bytes; \
                 set LimitMEMLOCK=infinity in the systemd unit or `ulimit -l unlimited`"
            ),
        }
    }
}

impl std::error::Error for AffinityError {}

/// The CPUs that are online (`/sys/devices/system/cpu/online`), independent of the
/// calling thread's own affinity (which pinning narrows).
pub fn available_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|s| parse_cpu_list(&s))
        .unwrap_or_else(|_| {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        })
}

/// Parses a kernel CPU list such as `0-3,8,10-11`; malformed parts are skipped.
pub fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let mut ends = part.splitn(2, '-').map(|n| n.trim().parse::<usize>());
        match (ends.next(), ends.next()) {
            (Some(Ok(a)), None) => cpus.push(a),
            (Some(Ok(a)), Some(Ok(b))) if a <= b => cpus.extend(a..=b),
            _ => {}
        }
    }
    cpus
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> Result<(), AffinityError> {
    let no_such_cpu = || AffinityError::NoSuchCpu {
        cpu,
        available: available_cpus(),
    };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(no_such_cpu());
    }
    // SAFETY: an all-zero cpu_set_t is a valid empty set, and cpu < CPU_SETSIZE.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; 0 = the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        return Ok(());
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EINVAL) => Err(no_such_cpu()),
        _ => Err(AffinityError::PinFailed { cpu }),
    }
}

/// Locks all current and future pages into memory, so no hot path ever page-faults.
pub fn lock_all_memory() -> Result<(), AffinityError> {
    // SAFETY: mlockall has no memory-safety preconditions.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc == 0 {
        return Ok(());
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    Err(AffinityError::MemLock {
        limit_bytes: lim.rlim_cur,
        errno,
    })
}

/// How a hot thread waits, as named in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleKind {
    /// Spin forever: lowest latency, burns the core. Only on a core of its own.
    Spin,
    /// Spin, then `sched_yield`: lets another thread on the same core run.
    SpinYield,
    /// Spin, then sleep on a futex until woken by a [`Parker::unpark`] or a timeout.
    SpinPark,
}

/// What a thread does after a duty cycle (Aeron's idle strategies).
pub trait Idle {
    /// Called after each duty cycle with the work it did. A strategy that sleeps calls
    /// `ready` after announcing the sleep and stays awake if it returns true, so work
    /// published in between is never slept through.
    fn idle(&mut self, work_count: usize, ready: impl FnMut() -> bool);
}

/// Spins with the CPU's pause hint; never gives the core away.
#[derive(Debug, Default, Clone, Copy)]
pub struct BusySpin;

impl Idle for BusySpin {
    #[inline]
    fn idle(&mut self, work_count: usize, _ready: impl FnMut() -> bool) {
        if work_count == 0 {
            std::hint::spin_loop();
        }
    }
}

/// Spins `max_spins` idle cycles, then yields the CPU on every further idle cycle.
#[derive(Debug, Clone, Copy)]
pub struct SpinThenYield {
    spins: u32,
    max_spins: u32,
}

impl SpinThenYield {
    /// A strategy that spins `max_spins` times before it starts yielding.
    pub fn new(max_spins: u32) -> Self {
        Self {
            spins: 0,
            max_spins,
        }
    }
}

/// The spin phase both backing-off strategies share: returns true while the thread
/// should keep spinning (and spins once), false once it should back off.
#[inline]
fn spin_phase(spins: &mut u32, max_spins: u32, work_count: usize) -> bool {
    if work_count > 0 {
        *spins = 0;
        return true;
    }
    if *spins < max_spins {
        *spins += 1;
        std::hint::spin_loop();
        return true;
    }
    false
}

impl Idle for SpinThenYield {
    #[inline]
    fn idle(&mut self, work_count: usize, _ready: impl FnMut() -> bool) {
        if !spin_phase(&mut self.spins, self.max_spins, work_count) {
            std::thread::yield_now();
        }
    }
}

const RUNNING: u32 = 0;
const PARKED: u32 = 1;

/// A futex word a waiter sleeps on and a waker pokes. `#[repr(C)]` and address-free, so
/// it can live in a shared-memory file and wake a thread of another process.
///
/// Cost to the waker while the waiter is spinning: one fence and one load of a cache
/// line the waiter does not write, so no line transfer and no syscall.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Parker {
    state: AtomicU32,
}

impl Parker {
    /// A parker whose waiter is running.
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(RUNNING),
        }
    }

    /// Sleeps until [`Parker::unpark`] or `timeout`, unless `ready()` says there is work
    /// once the sleep is announced. Returns whether it slept.
    pub fn park(&self, timeout: Duration, ready: impl FnOnce() -> bool) -> bool {
        self.state.store(PARKED, Ordering::Relaxed);
        // Pairs with the fence in `unpark`: either the waker sees PARKED, or this
        // thread's `ready()` sees the waker's published work (Dekker).
        fence(Ordering::SeqCst);
        if ready() {
            self.state.store(RUNNING, Ordering::Relaxed);
            return false;
        }
        futex_wait(&self.state, PARKED, timeout);
        self.state.store(RUNNING, Ordering::Relaxed);
        true
    }

    /// Wakes the waiter if it sleeps. Call after publishing the work it waits for.
    #[inline]
    pub fn unpark(&self) {
        // Pairs with the fence in `park` (see there).
        fence(Ordering::SeqCst);
        if self.state.load(Ordering::Relaxed) == PARKED
            && self
                .state
                .compare_exchange(PARKED, RUNNING, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            futex_wake(&self.state);
        }
    }
}

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; FUTEX_WAIT
    // (not _PRIVATE) so a waker in another process that maps the same page can wake it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        )
    };
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; waking has no other preconditions.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

/// Spins `max_spins` idle cycles, then parks on a [`Parker`] for at most `park_timeout`.
#[derive(Debug)]
pub struct SpinThenPark<'a> {
    parker: &'a Parker,
    spins: u32,
    max_spins: u32,
    park_timeout: Duration,
}

impl<'a> SpinThenPark<'a> {
    /// A strategy that sleeps on `parker` after `max_spins` idle cycles.
    pub fn new(parker: &'a Parker, max_spins: u32, park_timeout: Duration) -> Self {
        Self {
            parker,
            spins: 0,
            max_spins,
            park_timeout,
        }
    }
}

impl Idle for SpinThenPark<'_> {
    #[inline]
    fn idle(&mut self, work_count: usize, ready: impl FnMut() -> bool) {
        if !spin_phase(&mut self.spins, self.max_spins, work_count) {
            self.parker.park(self.park_timeout, ready);
            self.spins = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    #[test]
    fn pinning_to_a_missing_cpu_names_the_available_ones() {
        let err = pin_current_thread(100_000).unwrap_err();
        assert!(matches!(err, AffinityError::NoSuchCpu { cpu: 100_000, .. }));
        assert!(err.to_string().contains("available"));
    }

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list("1"), vec![1]);
        assert_eq!(parse_cpu_list("x,2,5-3"), vec![2]);
    }

    #[test]
    fn pinning_to_an_available_cpu_works() {
        let cpu = available_cpus()[0];
        std::thread::spawn(move || pin_current_thread(cpu))
            .join()
            .unwrap()
            .unwrap();
    }

    #[test]
    fn park_returns_at_once_when_work_is_ready() {
        let p = Parker::new();
        assert!(!p.park(Duration::from_secs(10), || true));
    }

    #[test]
    fn unpark_wakes_a_parked_thread_long_before_its_timeout() {
        let parker = Arc::new(Parker::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (p, f) = (parker.clone(), flag.clone());
        let waiter = std::thread::spawn(move || {
            let start = Instant::now();
            while !f.load(Ordering::Acquire) {
                p.park(Duration::from_secs(30), || f.load(Ordering::Acquire));
            }
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        parker.unpark();
        // Correctness, not speed: without a wake-up the waiter would sleep 30 s.
        assert!(waiter.join().unwrap() < Duration::from_secs(20));
    }

    #[test]
    fn spin_then_yield_resets_after_work() {
        let mut s = SpinThenYield::new(2);
        s.idle(0, || false);
        s.idle(0, || false);
        assert_eq!(s.spins, 2);
        s.idle(1, || false);
        assert_eq!(s.spins, 0);
    }
}
