//! The risk chain per order, timed by rdtsc: what the gateway and the core add in front
//! of the engine for one message — the session's throttle, the input ring's overload
//! check and the core's pre-trade screen ([`RiskCore::screen`]).
//!
//! Each sample reads the TSC before and after the chain, so it includes one clock read;
//! the same loop times an empty pair of reads (the floor) interleaved sample by sample,
//! so the chain's own cost is the difference. Each command is then applied through
//! [`RiskCore::process`] so the books, positions and collar references evolve as in the
//! throughput run. The observer's cost (positions from events) is not in the chain; it is
//! in `ratios.risk_overhead`.

use std::hint::black_box;

use hdrhistogram::Histogram;
use serde_json::json;

use super::harness::RunConfig;
use super::ours::TickgateVenue;
use super::stream::{GenCmd, Stream, StreamConfig};
use crate::bench::report::{Percentiles, latency_histogram, table_header, table_row};
use crate::clock::Clock;
use crate::risk::throttle::ClassLimits;
use crate::risk::{MessageClass, Overload, RiskCore, SessionThrottle};

/// Name of the with-risk variant.
pub const VARIANT: &str = "tickgate+risk";

/// Commands timed (after as many again of warm-up).
const SAMPLES: usize = 1_000_000;

/// Capacity and free slots of the simulated command ring (never past its mark).
const RING_SLOTS: usize = 65_536;
const RING_FREE: usize = 60_000;

/// Per-order timing of the risk chain and of an empty clock-read pair.
#[derive(Debug)]
pub struct ChainTiming {
    /// Chain + one clock read, per order (ns).
    pub chain: Histogram<u64>,
    /// One clock read (ns), interleaved with `chain`.
    pub floor: Histogram<u64>,
}

impl ChainTiming {
    /// Prints a table and returns the JSON object for the report.
    pub fn print_and_json(&self) -> serde_json::Value {
        let (c, f) = (Percentiles::of(&self.chain), Percentiles::of(&self.floor));
        println!(
            "{}",
            table_header("risk chain per order (includes one clock read)")
        );
        println!("{}", table_row("risk-chain", &c, ""));
        println!("{}", table_row("clock-floor", &f, ""));
        let net_p99 = c.p99_ns.saturating_sub(f.p50_ns);
        println!("risk chain p99 − clock floor p50 = {net_p99} ns (target < 30 ns)");
        json!({
            "method": "per order: throttle check + overload check + RiskCore::screen between \
                       two TSC reads; floor = two TSC reads, interleaved per sample",
            "chain": c,
            "floor": f,
            "chain_p99_minus_floor_p50_ns": net_p99,
        })
    }
}

/// Times the chain over [`SAMPLES`] commands of a fresh stream (a different seed from
/// the throughput run), applied to `venue` as they are timed.
pub fn time_chain(
    venue: &mut TickgateVenue<RiskCore>,
    cfg: &RunConfig,
    clock: &Clock,
) -> ChainTiming {
    let limits = ClassLimits {
        rate_per_s: 10_000_000,
        burst: 1_000_000,
        window_ns: 1_000_000_000,
        logout_after: 0,
    };
    let mut throttle = SessionThrottle::new(limits, limits);
    let mut overload = Overload::new(RING_SLOTS, 75, 50);
    let mut stream = Stream::new(StreamConfig {
        seed: cfg.stream.seed ^ 0x5A5A_5A5A,
        ..cfg.stream
    });
    let mut out = ChainTiming {
        chain: latency_histogram(),
        floor: latency_histogram(),
    };
    let mut warm = ChainTiming {
        chain: latency_histogram(),
        floor: latency_histogram(),
    };
    let mut chunk = vec![GenCmd::default(); cfg.chunk.max(1)];
    let mut done = 0;
    while done < 2 * SAMPLES {
        stream.fill(&mut chunk);
        let h = if done < SAMPLES { &mut warm } else { &mut out };
        for c in &chunk {
            let cmd = venue.command(c);
            let class = MessageClass::of(&cmd).unwrap_or(MessageClass::Cancel);
            let t0 = clock.now();
            let v = throttle.check(class, c.ts_ns);
            let o = overload.admit(class, RING_FREE);
            let s = venue.engine.screen(&cmd);
            let _ = black_box((v, o, s));
            let t1 = clock.now();
            let t2 = clock.now();
            let t3 = clock.now();
            h.chain.saturating_record(clock.ticks_to_ns(t1 - t0).max(1));
            h.floor.saturating_record(clock.ticks_to_ns(t3 - t2).max(1));
            venue.apply_command(c, &cmd);
        }
        done += chunk.len();
    }
    out
}
