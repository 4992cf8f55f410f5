//! Percentile summaries, machine facts and the JSON/table output of benchmarks.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A latency histogram in nanoseconds: 3 significant digits, 1 ns to 10 s.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid histogram bounds")
}

/// The percentiles every benchmark reports, in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// 99.99th percentile.
    pub p9999_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
}

impl Percentiles {
    /// Summarises a histogram of nanoseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
        }
    }
}

/// The machine a benchmark ran on (MEASURING.md rule 8).
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Online CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// Compiler the binary was built with.
    pub rustc: String,
    /// Commit the binary was built from (`-dirty` with uncommitted changes).
    pub commit: String,
    /// Whether the invariant-TSC flags are present.
    pub invariant_tsc: bool,
}

impl Machine {
    /// Reads the facts of this host.
    pub fn this_host() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Self {
            cpu,
            cpus: crate::affinity::available_cpus().len(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            rustc: env!("TICKGATE_RUSTC").into(),
            commit: env!("TICKGATE_COMMIT").into(),
            invariant_tsc: crate::clock::tsc_is_invariant(),
        }
    }
}

/// A fixed-width table row: name, then the percentiles in ns, then an extra column.
pub fn table_header(extra: &str) -> String {
    format!(
        "{:<22} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  {extra}",
        "variant", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    )
}

/// One row of [`table_header`]'s table.
pub fn table_row(name: &str, p: &Percentiles, extra: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{name:<22} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  {extra}",
        p.count, p.p50_ns, p.p90_ns, p.p99_ns, p.p999_ns, p.p9999_ns, p.max_ns
    );
    s
}

/// Writes `hist` (ns) as HdrHistogram's percentile text (`.hgrm`, values in µs) to
/// `dir/name.hgrm`.
pub fn write_hgrm(dir: &Path, name: &str, hist: &Histogram<u64>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = crate::bench::hgrm::percentile_distribution(hist, 1000.0);
    std::fs::write(dir.join(format!("{name}.hgrm")), text)
}

/// `a / b`, rounded to three decimals for reports.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return f64::NAN;
    }
    (a / b * 1000.0).round() / 1000.0
}
