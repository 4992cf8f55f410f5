//! HdrHistogram's percentile-distribution text format (`.hgrm`), the file
//! `HistogramLogProcessor` and the online plotter read.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Formats `hist` as a percentile distribution, dividing values by `unit_ratio`
/// (e.g. 1000.0 to turn recorded nanoseconds into microseconds).
///
/// ```
/// let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
/// h.record(1500).unwrap();
/// let text = tickgate::bench::hgrm::percentile_distribution(&h, 1000.0);
/// assert!(text.contains("Total count    =            1"));
/// ```
pub fn percentile_distribution(hist: &Histogram<u64>, unit_ratio: f64) -> String {
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    let mut total = 0;
    for v in hist.iter_quantiles(5) {
        let value = v.value_iterated_to() as f64 / unit_ratio;
        let q = v.quantile_iterated_to();
        total += v.count_since_last_iteration();
        let _ = if q < 1.0 {
            writeln!(
                out,
                "{value:12.3} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            )
        } else {
            writeln!(out, "{value:12.3} {q:2.12} {total:10}")
        };
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        hist.mean() / unit_ratio,
        hist.stdev() / unit_ratio
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        hist.max() as f64 / unit_ratio,
        hist.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        hist.buckets(),
        sub_buckets(hist.sigfig())
    );
    out
}

/// Sub-buckets per bucket for `sigfig` significant digits: the power of two that holds
/// 2·10^sigfig distinct values (2048 for 3 digits).
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}
