//! `tickgate bench jitter`: how long a pinned, spinning thread loses its CPU.
//!
//! jHiccup-style: a thread pinned to one CPU reads the TSC in a tight loop for N seconds
//! and records every gap between consecutive reads in an hdrhistogram (ns, through the
//! calibrated [`Clock`]). On a quiet, isolated core the gaps stay at the loop's own cost;
//! every interrupt, tick, IPI, SMI or preemption shows as a longer gap. The in-run
//! reference is the **floor**: the smallest gap of the same loop (the cost of an rdtsc
//! pair plus one histogram record); every percentile is also reported as a multiple of it.
//!
//! ```
//! use std::time::Duration;
//! use tickgate::{affinity::available_cpus, clock::Clock, tune::jitter::measure};
//!
//! let clock = Clock::calibrate(Duration::from_millis(20));
//! let cpu = available_cpus()[0];
//! let run = measure(cpu, clock, Duration::from_millis(10), Duration::ZERO, 3).unwrap();
//! assert!(run.hist.len() > 0 && run.floor_ns() <= run.hist.max());
//! ```

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::affinity::{AffinityError, pin_current_thread};
use crate::clock::{Clock, ClockSource, monotonic_ns};
use crate::config::{Config, ConfigError};
use crate::tune::host::{format_cpulist, parse_cpulist};

/// The quantiles reported, with their labels.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

/// Highest gap the histogram holds (10 s); longer gaps are recorded as 10 s.
const HIGHEST_NS: u64 = 10_000_000_000;

/// Options of `tickgate bench jitter`.
#[derive(Debug, clap::Args)]
pub struct JitterArgs {
    /// TOML configuration whose hot CPUs are measured (the embedded default without it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// CPUs to measure instead, as a kernel CPU list (`1`, `0-3`, `2,5`).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Measured seconds per CPU.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Warm-up before each measurement, discarded (page faults, caches, frequency).
    #[arg(long, default_value_t = 200)]
    pub warmup_ms: u64,
    /// How many of the worst gaps to report per CPU, with their timestamps.
    #[arg(long, default_value_t = 10)]
    pub worst: usize,
    /// Write each CPU's distribution to DIR/jitter-cpuN.hgrm (HdrHistogram text, µs).
    #[arg(long, value_name = "DIR")]
    pub hgrm: Option<PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Why the jitter benchmark could not run.
#[derive(Debug)]
pub enum JitterError {
    /// The configuration could not be loaded.
    Config(ConfigError),
    /// `--cpu` is not a CPU list.
    BadCpuList(String),
    /// `--seconds` is not a positive number of seconds.
    BadDuration(f64),
    /// A CPU could not be pinned to.
    Pin(AffinityError),
    /// The histogram could not be created.
    Histogram(String),
    /// An `.hgrm` file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl fmt::Display for JitterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::BadCpuList(s) => write!(f, "--cpu {s:?} is not a CPU list; use e.g. 1 or 0-3,6"),
            Self::BadDuration(s) => write!(f, "--seconds {s} must be a positive number"),
            Self::Pin(e) => write!(f, "{e}"),
            Self::Histogram(e) => write!(f, "cannot create the histogram: {e}"),
            Self::Write { path, source } => {
                write!(
                    f,
                    "cannot write {}: {source}; check --hgrm DIR exists",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for JitterError {}

/// One gap between consecutive TSC reads, among the worst of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// How long the loop did not run, in ns.
    pub gap_ns: u64,
    /// When the gap began, in ms since the measurement started.
    pub at_ms: f64,
    /// When the gap began, in seconds of `CLOCK_MONOTONIC` (compare with `dmesg` or traces).
    pub monotonic_s: f64,
}

/// The result of spinning on one CPU.
#[derive(Debug, Clone)]
pub struct CoreJitter {
    /// The CPU measured.
    pub cpu: usize,
    /// Every gap, in ns.
    pub hist: Histogram<u64>,
    /// The worst gaps, longest first.
    pub worst: Vec<Gap>,
    /// How long the measurement ran, in ns.
    pub elapsed_ns: u64,
}

impl CoreJitter {
    /// The loop's smallest gap (at least 1 ns): the cost of an rdtsc pair and a record.
    pub fn floor_ns(&self) -> u64 {
        self.hist.min().max(1)
    }

    /// `value_ns` as a multiple of the floor.
    pub fn ratio(&self, value_ns: u64) -> f64 {
        value_ns as f64 / self.floor_ns() as f64
    }
}

/// The `k` longest gaps seen, as (gap ticks, tick at the end of the gap).
struct Worst {
    k: usize,
    gaps: Vec<(u64, u64)>,
    /// A gap must exceed this to enter: the shortest kept once `k` are kept.
    threshold: u64,
}

impl Worst {
    fn new(k: usize) -> Self {
        let threshold = if k == 0 { u64::MAX } else { 0 };
        Self {
            k,
            gaps: Vec::with_capacity(k),
            threshold,
        }
    }

    #[inline(always)]
    fn offer(&mut self, gap: u64, at: u64) {
        if gap > self.threshold {
            self.insert(gap, at);
        }
    }

    #[cold]
    #[inline(never)]
    fn insert(&mut self, gap: u64, at: u64) {
        if self.gaps.len() < self.k {
            self.gaps.push((gap, at));
        } else if let Some(min) = self.gaps.iter_mut().min_by_key(|g| g.0) {
            *min = (gap, at);
        }
        if self.gaps.len() == self.k {
            self.threshold = self.gaps.iter().map(|g| g.0).min().unwrap_or(0);
        }
    }
}

/// Spins until the clock passes `end`, recording each gap; returns the last tick.
#[inline(never)]
fn spin(clock: &Clock, end: u64, hist: &mut Histogram<u64>, worst: &mut Worst) -> u64 {
    let mut prev = clock.now();
    loop {
        let now = clock.now();
        let gap = now.wrapping_sub(prev);
        hist.saturating_record(clock.ticks_to_ns(gap));
        worst.offer(gap, now);
        if now >= end {
            return now;
        }
        prev = now;
    }
}

/// At least `d` in TSC ticks: rounded up, plus one tick, because the report's
/// ticks → ns conversion truncates (a run of exactly `d` read back as `d` − 1 ns).
fn duration_ticks(clock: &Clock, d: Duration) -> u64 {
    (d.as_secs_f64() * clock.ticks_per_s()).ceil() as u64 + 1
}

/// Pins a new thread to `cpu`, spins there for `warmup` (discarded) and then `duration`,
/// and returns the gaps with the `worst` longest.
pub fn measure(
    cpu: usize,
    clock: Clock,
    duration: Duration,
    warmup: Duration,
    worst: usize,
) -> Result<CoreJitter, JitterError> {
    let thread = std::thread::spawn(move || measure_pinned(cpu, clock, duration, warmup, worst));
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn measure_pinned(
    cpu: usize,
    clock: Clock,
    duration: Duration,
    warmup: Duration,
    k: usize,
) -> Result<CoreJitter, JitterError> {
    pin_current_thread(cpu).map_err(JitterError::Pin)?;
    let mut hist = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
        .map_err(|e| JitterError::Histogram(format!("{e:?}")))?;
    let mut worst = Worst::new(k);
    spin(
        &clock,
        clock.now() + duration_ticks(&clock, warmup),
        &mut hist,
        &mut worst,
    );
    // Zeroing every counter also faults in the histogram's pages before measuring.
    hist.reset();
    let mut worst = Worst::new(k);
    let (start, start_mono_ns) = (clock.now(), monotonic_ns());
    let end = spin(
        &clock,
        start + duration_ticks(&clock, duration),
        &mut hist,
        &mut worst,
    );
    Ok(CoreJitter {
        cpu,
        worst: worst_gaps(worst, &clock, start, start_mono_ns),
        hist,
        elapsed_ns: clock.ticks_to_ns(end - start),
    })
}

/// The kept gaps, longest first, with when each began (since `start` and in
/// `CLOCK_MONOTONIC`, which read `start_mono_ns` at tick `start`).
fn worst_gaps(mut worst: Worst, clock: &Clock, start: u64, start_mono_ns: u64) -> Vec<Gap> {
    worst.gaps.sort_unstable_by_key(|g| std::cmp::Reverse(g.0));
    let to_gap = |&(gap, at): &(u64, u64)| {
        let began_ns = clock.ticks_to_ns(at.saturating_sub(gap).saturating_sub(start));
        Gap {
            gap_ns: clock.ticks_to_ns(gap),
            at_ms: began_ns as f64 / 1e6,
            monotonic_s: (start_mono_ns + began_ns) as f64 / 1e9,
        }
    };
    worst.gaps.iter().map(to_gap).collect()
}

/// Runs `tickgate bench jitter`: measures each CPU in turn and prints the table, the
/// worst gaps and (with `--json`) one JSON object as the last line.
pub fn run(args: &JitterArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::load(args.config.as_deref()).map_err(JitterError::Config)?;
    let cpus = cpus_to_measure(args, &config)?;
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err(JitterError::BadDuration(args.seconds).into());
    }
    let clock = Clock::calibrate(Duration::from_millis(50));
    let tuning = crate::tune::check(&config, std::path::Path::new("/")).summary();
    print!("{}", header(args, &clock, &cpus, &tuning));
    let mut runs = Vec::new();
    for &cpu in &cpus {
        let duration = Duration::from_secs_f64(args.seconds);
        let warmup = Duration::from_millis(args.warmup_ms);
        let run = measure(cpu, clock, duration, warmup, args.worst)?;
        print!("{}", render_cpu(&run));
        if let Some(dir) = &args.hgrm {
            write_hgrm(dir, &run)?;
        }
        runs.push(run);
    }
    if args.json {
        println!("{}", to_json(args, &clock, &tuning, &runs));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--cpu`, else the plan's hot CPUs; each must be available to this process.
fn cpus_to_measure(args: &JitterArgs, config: &Config) -> Result<Vec<usize>, JitterError> {
    let cpus = match &args.cpu {
        Some(list) => parse_cpulist(list)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| JitterError::BadCpuList(list.clone()))?,
        None => config.threads.hot_cpus(),
    };
    let available = crate::affinity::available_cpus();
    match cpus.iter().find(|c| !available.contains(c)) {
        Some(&cpu) => Err(JitterError::Pin(AffinityError::NoSuchCpu {
            cpu,
            available,
        })),
        None => Ok(cpus),
    }
}

fn header(args: &JitterArgs, clock: &Clock, cpus: &[usize], tuning: &str) -> String {
    let source = match clock.source() {
        ClockSource::Tsc => format!("tsc {:.3} GHz", clock.ticks_per_s() / 1e9),
        ClockSource::Monotonic => "clock_gettime (no invariant TSC)".to_string(),
    };
    let mut out = format!(
        "tickgate bench jitter: cpus [{}], {} s each after {} ms warm-up, clock {source}\n",
        format_cpulist(cpus),
        args.seconds,
        args.warmup_ms
    );
    let _ = writeln!(out, "host {tuning}");
    out.push_str("gaps between consecutive TSC reads, ns; ×floor = multiple of the loop's ");
    out.push_str("smallest gap (an rdtsc pair + a record)\n");
    let labels: Vec<String> = QUANTILES.iter().map(|(l, _)| format!("{l:>8}")).collect();
    let _ = writeln!(
        out,
        "{:>4} {:>12} {:>7} {} {:>10}",
        "cpu",
        "count",
        "floor",
        labels.concat(),
        "max"
    );
    out
}

/// The percentile values of a run, in [`QUANTILES`] order.
fn percentiles(run: &CoreJitter) -> Vec<u64> {
    QUANTILES
        .iter()
        .map(|(_, q)| run.hist.value_at_quantile(*q))
        .collect()
}

/// One CPU's table rows (ns, then ×floor) and its worst gaps.
pub fn render_cpu(run: &CoreJitter) -> String {
    let values = percentiles(run);
    let ns: String = values.iter().map(|v| format!("{v:>8}")).collect();
    let ratios: String = values
        .iter()
        .map(|v| format!("{:>8.2}", run.ratio(*v)))
        .collect();
    let mut out = format!(
        "{:>4} {:>12} {:>7} {ns} {:>10}\n",
        run.cpu,
        run.hist.len(),
        run.floor_ns(),
        run.hist.max()
    );
    let max_ratio = run.ratio(run.hist.max());
    let _ = writeln!(
        out,
        "{:>17} {:>7} {ratios} {max_ratio:>10.1}",
        "×floor", "1.00"
    );
    if !run.worst.is_empty() {
        let _ = writeln!(out, "     worst gaps on cpu {}:", run.cpu);
    }
    for g in &run.worst {
        let _ = writeln!(
            out,
            "       {:>10.3} µs at +{:.3} ms (monotonic {:.6} s)",
            g.gap_ns as f64 / 1e3,
            g.at_ms,
            g.monotonic_s
        );
    }
    out
}

fn write_hgrm(dir: &std::path::Path, run: &CoreJitter) -> Result<(), JitterError> {
    let path = dir.join(format!("jitter-cpu{}.hgrm", run.cpu));
    let text = crate::bench::hgrm::percentile_distribution(&run.hist, 1000.0);
    std::fs::write(&path, text).map_err(|source| JitterError::Write { path, source })
}

fn cpu_json(run: &CoreJitter) -> serde_json::Value {
    let values = percentiles(run);
    let mut obj = serde_json::json!({
        "cpu": run.cpu,
        "count": run.hist.len(),
        "elapsed_ns": run.elapsed_ns,
        "floor_ns": run.floor_ns(),
        "max_ns": run.hist.max(),
        "max_x_floor": run.ratio(run.hist.max()),
    });
    for ((label, _), v) in QUANTILES.iter().zip(values) {
        let key = label.replace('.', "");
        obj[format!("{key}_ns")] = v.into();
        obj[format!("{key}_x_floor")] = run.ratio(v).into();
    }
    let worst: Vec<serde_json::Value> = (run.worst.iter())
        .map(|g| serde_json::json!({"gap_ns": g.gap_ns, "at_ms": g.at_ms, "monotonic_s": g.monotonic_s}))
        .collect();
    obj["worst"] = worst.into();
    obj
}

fn to_json(args: &JitterArgs, clock: &Clock, tuning: &str, runs: &[CoreJitter]) -> String {
    let source = match clock.source() {
        ClockSource::Tsc => "tsc",
        ClockSource::Monotonic => "monotonic",
    };
    serde_json::json!({
        "bench": "jitter",
        "seconds": args.seconds,
        "warmup_ms": args.warmup_ms,
        "clock": {"source": source, "ticks_per_s": clock.ticks_per_s()},
        "host_tuning": tuning,
        "cpus": runs.iter().map(cpu_json).collect::<Vec<_>>(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_keeps_the_k_longest_gaps() {
        let mut w = Worst::new(3);
        for (i, gap) in [5u64, 1, 9, 3, 7, 2, 8].into_iter().enumerate() {
            w.offer(gap, i as u64);
        }
        let mut gaps: Vec<u64> = w.gaps.iter().map(|g| g.0).collect();
        gaps.sort_unstable();
        assert_eq!(gaps, vec![7, 8, 9]);
    }

    #[test]
    fn worst_of_zero_keeps_nothing() {
        let mut w = Worst::new(0);
        w.offer(u64::MAX - 1, 0);
        assert!(w.gaps.is_empty());
    }
}
