//! The risk chain per order, timed by rdtsc: what the gateway and the core add in front
//! of the engine for one message — the session's throttle, the input ring's overload
//! check and the core's pre-trade screen ([`RiskCore::screen`]; for a Replace,
//! [`RiskCore::screen_replace`], which the engine runs through
//! `EventSink::admit_replace` once it has found the order).
//!
//! Each sample reads the TSC (`lfence; rdtsc`) before and after the chain, so it
//! includes one fenced clock read; the same loop times an empty pair of fenced reads
//! (the floor) interleaved sample by sample, so the chain's own cost is the difference.
//! The fence keeps the command's own loads (e.g. a cancel's handle, a cache miss in the
//! harness) out of the chain's sample. A Replace's screen is given the engine's view of
//! its order (instrument, open shares), read untimed just before the sample: in
//! production that is the engine's own lookup of the order, done with or without risk,
//! and the check runs on the line it loaded; the risk tables the check reads are inside
//! the sample. Each command is then applied through [`RiskCore::process`] so the books,
//! positions and collar references evolve as in the throughput run. The observer's cost
//! (positions from events) is not in the chain; it is in `ratios.risk_overhead`.
//!
//! Commands alternate between two modes: **cold** (nothing prefetched: the risk lines
//! the screen reads miss as they may), and **as in serve with queued
//! input** — `serve`'s core decodes a record, calls [`RiskCore::prefetch`], appends it to
//! the journal, and only then runs the record before it (one-record lookahead,
//! `engine::core`): here the prefetch is issued before the previous command is applied
//! and a CRC-32 of the 80-byte record stands in for the append, both untimed. With one
//! record in the ring the core has nothing to look ahead to: the cold rows apply.

use std::hint::black_box;

use hdrhistogram::Histogram;
use serde_json::json;

use super::harness::RunConfig;
use super::ours::TickgateVenue;
use super::stream::{GenCmd, Stream, StreamConfig};
use crate::bench::report::{Percentiles, latency_histogram, table_header, table_row};
use crate::clock::Clock;
use crate::engine::Command;
use crate::risk::throttle::ClassLimits;
use crate::risk::{MessageClass, Overload, RiskCore, SessionThrottle};

/// Name of the with-risk variant.
pub const VARIANT: &str = "tickgate+risk";

/// Commands timed (after as many again of warm-up).
const SAMPLES: usize = 1_000_000;

/// Capacity and free slots of the simulated command ring (never past its mark).
const RING_SLOTS: usize = 65_536;
const RING_FREE: usize = 60_000;

/// `lfence; rdtsc`: the read waits until every earlier instruction (the command's
/// loads, the chain's work) has completed, so neither leaks into the other's sample.
#[inline(always)]
fn fenced_now(clock: &Clock) -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence needs SSE2, which every x86_64 CPU has; it has no other effect.
    unsafe {
        std::arch::x86_64::_mm_lfence();
    }
    clock.now()
}

/// Per-order timing of the risk chain and of an empty clock-read pair.
#[derive(Debug)]
pub struct ChainTiming {
    /// Chain + one clock read, per command (ns).
    pub chain: Histogram<u64>,
    /// The same, Enter commands only (new orders, incl. marketable and market).
    pub enter: Histogram<u64>,
    /// The same, Replace commands only.
    pub replace: Histogram<u64>,
    /// The same, Cancel commands only.
    pub cancel: Histogram<u64>,
    /// One clock read (ns), interleaved with `chain`.
    pub floor: Histogram<u64>,
    /// As `chain`, `enter`, `replace`, `cancel`, for commands timed as in serve (the
    /// prefetch issued before the journal append).
    pub serve: [Histogram<u64>; 4],
}

impl ChainTiming {
    fn new() -> Self {
        ChainTiming {
            chain: latency_histogram(),
            enter: latency_histogram(),
            replace: latency_histogram(),
            cancel: latency_histogram(),
            floor: latency_histogram(),
            serve: std::array::from_fn(|_| latency_histogram()),
        }
    }

    fn record(&mut self, cmd: &Command, chain_ns: u64, floor_ns: u64, serve: bool) {
        self.floor.saturating_record(floor_ns);
        if serve {
            self.serve[0].saturating_record(chain_ns);
            let kind = match cmd {
                Command::Enter(_) => 1,
                Command::Replace(_) => 2,
                Command::Cancel(_) => 3,
                _ => return,
            };
            self.serve[kind].saturating_record(chain_ns);
            return;
        }
        self.chain.saturating_record(chain_ns);
        match cmd {
            Command::Enter(_) => self.enter.saturating_record(chain_ns),
            Command::Replace(_) => self.replace.saturating_record(chain_ns),
            Command::Cancel(_) => self.cancel.saturating_record(chain_ns),
            _ => {}
        }
    }
}

impl ChainTiming {
    /// Prints a table and returns the JSON object for the report.
    pub fn print_and_json(&self) -> serde_json::Value {
        let f = Percentiles::of(&self.floor);
        println!(
            "{}",
            table_header("risk chain per command (one fenced clock read)")
        );
        let mut rows = serde_json::Map::new();
        let [s_all, s_enter, s_replace, s_cancel] = &self.serve;
        for (name, h) in [
            ("all", &self.chain),
            ("enter", &self.enter),
            ("replace", &self.replace),
            ("cancel", &self.cancel),
            ("serve-all", s_all),
            ("serve-enter", s_enter),
            ("serve-replace", s_replace),
            ("serve-cancel", s_cancel),
        ] {
            let p = Percentiles::of(h);
            let net_p99 = p.p99_ns.saturating_sub(f.p50_ns);
            let note = format!("p99 - floor p50 = {net_p99} ns");
            println!("{}", table_row(&format!("chain-{name}"), &p, &note));
            rows.insert(
                name.into(),
                json!({ "percentiles": p, "p99_minus_floor_p50_ns": net_p99 }),
            );
        }
        println!("{}", table_row("clock-floor", &f, ""));
        json!({
            "method": "per command: throttle check + overload check + RiskCore::screen between \
                       two lfence+rdtsc reads (a Replace: RiskCore::screen_replace on the \
                       engine's view of its order, read untimed before the sample as the \
                       engine's own lookup does in production); floor = two such reads, \
                       interleaved per sample; \
                       commands alternate: cold (no prefetch) and serve-* (RiskCore::prefetch, \
                       then an untimed CRC-32 of the 80-byte record standing in for the \
                       journal append, as serve's core runs them); \
                       target: p99 - floor p50 < 30 ns",
            "chain": rows,
            "floor": f,
        })
    }
}

/// A Cancel naming `order`: what [`RiskCore::prefetch`] needs to fetch its lines.
fn lookahead(order: crate::engine::OrderRef) -> Command {
    Command::Cancel(crate::engine::command::Cancel {
        ts_ns: 0,
        session: 0,
        user_ref_idx: 0,
        user_ref_num: 0,
        order,
        qty: 0,
    })
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
    let mut out = ChainTiming::new();
    let mut warm = ChainTiming::new();
    let mut chunk = vec![GenCmd::default(); cfg.chunk.max(1)];
    let mut done = 0;
    let mut record = [0u8; 80];
    let mut serve = false;
    while done < 2 * SAMPLES {
        stream.fill(&mut chunk);
        let h = if done < SAMPLES { &mut warm } else { &mut out };
        for (i, c) in chunk.iter().enumerate() {
            let cmd = venue.command(c);
            let class = MessageClass::of(&cmd).unwrap_or(MessageClass::Cancel);
            let cmd = black_box(cmd);
            serve = !serve;
            if serve {
                cmd.encode_into(&mut record);
                black_box(crate::journal::crc32c(black_box(&record)));
            }
            // A Replace is screened inside `Engine::process` once the engine has found
            // its order (`EventSink::admit_replace`): the order's instrument and open
            // shares come from the line the engine reads with or without risk, so that
            // read is the engine's, not the chain's.
            let order = match &cmd {
                Command::Replace(r) => venue.engine.engine().order_instrument_leaves(r.order),
                _ => None,
            };
            let t0 = fenced_now(clock);
            let v = throttle.check(class, c.ts_ns);
            let o = overload.admit(class, RING_FREE);
            let s = match (&cmd, order) {
                (Command::Replace(r), Some((instrument, leaves))) => {
                    venue.engine.screen_replace(r, instrument, leaves)
                }
                _ => venue.engine.screen(&cmd),
            };
            let _ = black_box((v, o, s));
            let t1 = fenced_now(clock);
            let t2 = fenced_now(clock);
            let t3 = fenced_now(clock);
            let chain_ns = clock.ticks_to_ns(t1 - t0).max(1);
            h.record(&cmd, chain_ns, clock.ticks_to_ns(t3 - t2).max(1), serve);
            if !serve {
                // The next command is timed as in serve: prefetched one record ahead.
                let next = chunk.get(i + 1).and_then(|n| venue.order_of(n));
                if let Some(order) = next {
                    venue.engine.prefetch(&lookahead(order));
                }
            }
            venue.apply_command(c, &cmd);
        }
        done += chunk.len();
    }
    out
}
