//! Benchmark harnesses shared by `tickgate bench …` and the peer comparisons in `bench/`.

pub mod ring;
