//! Timestamps: the TSC, calibrated once against `CLOCK_MONOTONIC`.
//!
//! A TSC read costs ≈ 20 ns here against ≈ 35–40 ns for `Instant::now()`, and the same
//! counter is read by every thread and process on the host, so timestamps that cross
//! threads or processes are comparable. The TSC is only trusted when the CPU says it is
//! invariant (`constant_tsc` and `nonstop_tsc`); otherwise [`Clock`] falls back to
//! `clock_gettime(CLOCK_MONOTONIC)` and says so in [`Clock::source`].

use std::time::Duration;

/// What the clock counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The invariant TSC, converted with the calibrated rate.
    Tsc,
    /// `clock_gettime(CLOCK_MONOTONIC)`; ticks are nanoseconds.
    Monotonic,
}

/// A calibrated tick source. Cheap to copy; every copy converts identically.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    source: ClockSource,
    /// Nanoseconds per tick as a 32.32 fixed-point number.
    ns_per_tick_q32: u64,
    /// Ticks per second, as measured.
    ticks_per_s: f64,
}

/// Reads the time-stamp counter. Not serialising: surrounding loads may be reordered
/// around it by a few cycles, which is below the resolution this crate reports.
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        monotonic_ns()
    }
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Whether `/proc/cpuinfo` reports an invariant TSC (`constant_tsc` and `nonstop_tsc`).
pub fn tsc_is_invariant() -> bool {
    cpuinfo_has_invariant_tsc(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
}

/// Whether a `/proc/cpuinfo` text's first `flags` line has both invariant-TSC flags.
pub fn cpuinfo_has_invariant_tsc(cpuinfo: &str) -> bool {
    let Some(flags) = cpuinfo.lines().find(|l| l.starts_with("flags")) else {
        return false;
    };
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("constant_tsc") && has("nonstop_tsc")
}

impl Clock {
    /// Calibrates against the monotonic clock for `window` (20 ms is plenty: the error
    /// is a few parts per million). Falls back to the monotonic clock, with a warning on
    /// stderr, when the TSC is not invariant.
    pub fn calibrate(window: Duration) -> Self {
        if !cfg!(target_arch = "x86_64") || !tsc_is_invariant() {
            eprintln!("tickgate: warning: no invariant TSC; timestamps use clock_gettime");
            return Self::monotonic();
        }
        let (t0, c0) = (monotonic_ns(), rdtsc());
        std::thread::sleep(window);
        let (t1, c1) = (monotonic_ns(), rdtsc());
        let ticks_per_s = (c1 - c0) as f64 * 1e9 / (t1 - t0) as f64;
        Self::from_rate(ClockSource::Tsc, ticks_per_s)
    }

    /// A clock that counts nanoseconds of `CLOCK_MONOTONIC`.
    pub fn monotonic() -> Self {
        Self::from_rate(ClockSource::Monotonic, 1e9)
    }

    fn from_rate(source: ClockSource, ticks_per_s: f64) -> Self {
        let ns_per_tick_q32 = (1e9 / ticks_per_s * (1u64 << 32) as f64) as u64;
        Self {
            source,
            ns_per_tick_q32,
            ticks_per_s,
        }
    }

    /// What this clock counts.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// Ticks per second, as calibrated.
    pub fn ticks_per_s(&self) -> f64 {
        self.ticks_per_s
    }

    /// The current tick count.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        match self.source {
            ClockSource::Tsc => rdtsc(),
            ClockSource::Monotonic => monotonic_ns(),
        }
    }

    /// Converts a tick interval to nanoseconds (one multiply and a shift).
    #[inline(always)]
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((ticks as u128 * self.ns_per_tick_q32 as u128) >> 32) as u64
    }
}

/// `CLOCK_MONOTONIC` nanoseconds for a loop that wants "now" often: the TSC read
/// (not serialising, so it overlaps the surrounding work, unlike the vDSO's ordered
/// read and sequence-lock loop) and extrapolated with the calibrated rate from the
/// last real `clock_gettime`, which is re-read once `refresh` has passed. Values never
/// go backwards. With a [`ClockSource::Monotonic`] clock every read is a real one.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicTsc {
    clock: Clock,
    anchor_ticks: u64,
    anchor_ns: u64,
    refresh_ticks: u64,
    last_ns: u64,
}

impl MonotonicTsc {
    /// Extrapolates with `clock`, re-reading `CLOCK_MONOTONIC` every `refresh`.
    pub fn new(clock: Clock, refresh: Duration) -> Self {
        let refresh_ticks = (refresh.as_secs_f64() * clock.ticks_per_s()) as u64;
        let mut c = Self {
            clock,
            anchor_ticks: 0,
            anchor_ns: 0,
            refresh_ticks,
            last_ns: 0,
        };
        c.last_ns = c.reanchor();
        c
    }

    /// A process-wide TSC clock, calibrated once (20 ms, on the first call).
    pub fn shared_clock() -> Clock {
        static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
        *CLOCK.get_or_init(|| Clock::calibrate(Duration::from_millis(20)))
    }

    fn reanchor(&mut self) -> u64 {
        self.anchor_ns = monotonic_ns();
        self.anchor_ticks = self.clock.now();
        self.anchor_ns
    }

    /// Nanoseconds of `CLOCK_MONOTONIC`, now.
    #[inline]
    pub fn now_ns(&mut self) -> u64 {
        let elapsed = self.clock.now().wrapping_sub(self.anchor_ticks);
        let ns = if elapsed < self.refresh_ticks {
            self.anchor_ns + self.clock.ticks_to_ns(elapsed)
        } else {
            self.reanchor()
        };
        self.last_ns = self.last_ns.max(ns);
        self.last_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariant_tsc_needs_both_flags() {
        assert!(cpuinfo_has_invariant_tsc(
            "flags\t: fpu constant_tsc nonstop_tsc\n"
        ));
        assert!(!cpuinfo_has_invariant_tsc("flags\t: fpu constant_tsc\n"));
        assert!(!cpuinfo_has_invariant_tsc("model name : x\n"));
    }

    #[test]
    fn calibrated_clock_tracks_the_monotonic_clock() {
        let clock = Clock::calibrate(Duration::from_millis(20));
        let (c0, t0) = (clock.now(), monotonic_ns());
        std::thread::sleep(Duration::from_millis(30));
        let (c1, t1) = (clock.now(), monotonic_ns());
        let measured = clock.ticks_to_ns(c1 - c0) as f64;
        let truth = (t1 - t0) as f64;
        // Correctness, not timing: a 5% band catches a wrong unit or a wrong shift.
        assert!(
            (measured / truth - 1.0).abs() < 0.05,
            "{measured} vs {truth}"
        );
    }

    #[test]
    fn tsc_extrapolation_tracks_the_monotonic_clock_and_never_goes_back() {
        let mut c = MonotonicTsc::new(MonotonicTsc::shared_clock(), Duration::from_millis(1));
        let mut last = 0;
        for _ in 0..5 {
            let (before, ours, after) = (monotonic_ns(), c.now_ns(), monotonic_ns());
            assert!(ours >= last);
            // Correctness, not timing: within 1 ms of the real clock either side.
            assert!(ours + 1_000_000 >= before && ours <= after + 1_000_000);
            last = ours;
            std::thread::sleep(Duration::from_micros(700));
        }
    }

    #[test]
    fn monotonic_clock_ticks_are_nanoseconds() {
        let c = Clock::monotonic();
        assert_eq!(c.ticks_to_ns(1_000_000), 1_000_000);
    }
}
