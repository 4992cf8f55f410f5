//! `tickgate bench journal` runs end to end (tiny sizes), and the ignored
//! `bench_journal_full` runs it for real until `main.rs` has the `bench journal` arm:
//! `TICKGATE_BENCH_ARGS="--json" cargo test --release --test journal_bench -- --ignored --nocapture`.

use clap::Parser;
use tickgate::bench::journal::{JournalBenchArgs, run};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: JournalBenchArgs,
}

fn parse(extra: &str) -> JournalBenchArgs {
    let argv = std::iter::once("bench-journal").chain(extra.split_whitespace());
    Cli::parse_from(argv).args
}

#[test]
fn bench_journal_runs_on_tiny_sizes() {
    let args = parse(
        "--dir /dev/shm --records 20000 --rounds 2 --segment-bytes 262144 \
         --sync-commits 5 --sync-seconds 0.05 --cpu 0",
    );
    assert!(run(&args).is_ok());
}

#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn bench_journal_full() {
    let extra = std::env::var("TICKGATE_BENCH_ARGS").unwrap_or_default();
    assert!(run(&parse(&extra)).is_ok());
}
