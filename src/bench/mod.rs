//! Benchmark harnesses shared by `tickgate bench …` and the peer comparisons in `bench/`.
//!
//! Every benchmark follows `MEASURING.md`: calibrated TSC timestamps, hdrhistogram
//! percentiles, a floor or peer measured in the same run (interleaved), pinned threads,
//! warm-up discarded, and the machine named in the report.

pub mod hgrm;
pub mod journal;
pub mod pingpong;
pub mod report;
pub mod ring;
pub mod rtt;
pub mod t2t;
