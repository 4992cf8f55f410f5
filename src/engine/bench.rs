//! `tickgate bench engine`: the matching core on a synthetic ITCH-day-shaped stream.
//!
//! The generator ([`stream`]), the interleaved harness ([`harness`]) and our engine's
//! adapter ([`ours`]) live here so that `bench/engine.rs` runs the same stream through
//! the peers (orderbook-rs, matchcore; dev-dependencies) in the same process. This CLI
//! runs our engine alone and behind pre-trade risk (`tickgate+risk`, interleaved in the
//! same run: `ratios.risk_overhead`), then times the risk chain per order ([`risk`]).

pub mod harness;
pub mod ours;
pub mod risk;
pub mod stream;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::bench::report::{Machine, Percentiles, ratio, table_header, table_row, write_hgrm};
use crate::clock::Clock;
use harness::{ChunkRunner, Measured, RunConfig};
use stream::StreamConfig;

/// Options of `tickgate bench engine`.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineBenchArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Commands per venue.
    #[arg(long, default_value_t = 10_000_000)]
    pub commands: u64,
    /// Instruments in the stream.
    #[arg(long, default_value_t = 100)]
    pub instruments: u16,
    /// Stream seed.
    #[arg(long, default_value_t = 0x5EED_0000_71C6_6A7E)]
    pub seed: u64,
    /// CPU to pin the benchmark thread to.
    #[arg(long, default_value_t = 1)]
    pub cpu: usize,
    /// Commands per interleaved chunk. Venues share the caches, so a small chunk
    /// measures each venue cold after the others evicted it; 64k keeps ~150 interleaved
    /// chunks in a 10M run.
    #[arg(long, default_value_t = 65_536)]
    pub chunk: usize,
    /// Write each variant's latency distribution as `<dir>/engine-<variant>.hgrm`.
    #[arg(long)]
    pub hgrm_dir: Option<PathBuf>,
    /// Run the engine alone, without the `tickgate+risk` variant and the risk-chain
    /// timing.
    #[arg(long)]
    pub no_risk: bool,
}

impl Default for EngineBenchArgs {
    fn default() -> Self {
        Self {
            json: false,
            commands: 10_000_000,
            instruments: 100,
            seed: 0x5EED_0000_71C6_6A7E,
            cpu: 1,
            chunk: 65_536,
            hgrm_dir: None,
            no_risk: false,
        }
    }
}

impl EngineBenchArgs {
    /// The harness configuration these options describe (5% of chunks warm up).
    pub fn run_config(&self) -> RunConfig {
        let chunk = self.chunk.max(1);
        let chunks = self.commands.div_ceil(chunk as u64);
        RunConfig {
            commands: self.commands,
            chunk,
            warmup_chunks: (chunks / 20).max(2).min(chunks.saturating_sub(2)),
            stream: StreamConfig {
                instruments: self.instruments.max(1),
                seed: self.seed,
                ..StreamConfig::default()
            },
        }
    }
}

/// Pins this thread (warning on failure) and calibrates the TSC.
pub fn prepare(args: &EngineBenchArgs) -> Clock {
    if let Err(e) = crate::affinity::pin_current_thread(args.cpu) {
        eprintln!("tickgate bench engine: warning: not pinned: {e}");
    }
    Clock::calibrate(Duration::from_millis(50))
}

/// Our engine's venue for a run.
pub fn our_venue(cfg: &RunConfig) -> Result<ours::TickgateVenue, Box<dyn std::error::Error>> {
    let s = &cfg.stream;
    let instruments = ours::bench_instruments(s.instruments, s.tick, s.reference_price);
    let slots = stream::Stream::new(*s).slots();
    Ok(ours::TickgateVenue::new(&instruments, 1 << 20, slots)?)
}

/// Our engine behind pre-trade risk, for a run.
pub fn our_risk_venue(
    cfg: &RunConfig,
) -> Result<ours::TickgateVenue<crate::risk::RiskCore>, Box<dyn std::error::Error>> {
    let s = &cfg.stream;
    let instruments = ours::bench_instruments(s.instruments, s.tick, s.reference_price);
    let slots = stream::Stream::new(*s).slots();
    let limits = ours::bench_limits();
    Ok(ours::TickgateVenue::with_risk(
        &instruments,
        1 << 20,
        slots,
        limits,
    )?)
}

/// Prints the results table (and the JSON line with `--json`); `ours` names the
/// variant whose throughput is compared with the best of the others (variants named
/// `<ours>+…`, e.g. `tickgate+risk`, are ours too, not peers).
pub fn report(
    args: &EngineBenchArgs,
    results: &[Measured],
    ours: &str,
    peer_notes: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    report_with(args, results, ours, peer_notes, None)
}

/// [`report`], plus the risk-chain timing when it was measured.
pub fn report_with(
    args: &EngineBenchArgs,
    results: &[Measured],
    ours: &str,
    peer_notes: &str,
    chain: Option<&risk::ChainTiming>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("{}", table_header("Mcmd/s   summary"));
    let mut variants = serde_json::Map::new();
    for m in results {
        let p = Percentiles::of(&m.hist);
        let extra = format!("{:>7.2}   {}", m.cmds_per_s() / 1e6, m.summary);
        println!("{}", table_row(m.name, &p, &extra));
        if let Some(dir) = &args.hgrm_dir {
            write_hgrm(dir, &format!("engine-{}", m.name), &m.hist)?;
        }
        let mut v = serde_json::to_value(p)?;
        v["cmds_per_s"] = json!(m.cmds_per_s().round());
        v["summary"] = json!(m.summary);
        variants.insert(m.name.to_string(), v);
    }
    let mine = results
        .iter()
        .find(|m| m.name == ours)
        .map(Measured::cmds_per_s);
    let is_ours = |name: &str| name == ours || name.starts_with(&format!("{ours}+"));
    let best_peer = results
        .iter()
        .filter(|m| !is_ours(m.name))
        .map(Measured::cmds_per_s)
        .fold(None, |b: Option<f64>, x| Some(b.map_or(x, |b| b.max(x))));
    let vs_best = match (mine, best_peer) {
        (Some(a), Some(b)) => json!(ratio(a, b)),
        _ => json!(null),
    };
    println!("throughput vs best peer: {vs_best}   {peer_notes}");
    let base = results.iter().find(|m| m.name == ours);
    let with_risk = results.iter().find(|m| m.name == risk::VARIANT);
    // Time per command with ÷ without: the median time of the throughput chunks each
    // ran right after its own previous chunk (warm, as a core alone on its CPU); and
    // over the whole run (throughput without ÷ with: half of each venue's chunks start
    // after the other evicted it, and one stall of the host moves it by 10%).
    let (risk_overhead, risk_overhead_total) = match (base, with_risk) {
        (Some(a), Some(b)) => (
            json!(
                b.warm_chunk_median_ns()
                    .zip(a.warm_chunk_median_ns())
                    .map(|(b, a)| ratio(b, a))
            ),
            json!(ratio(a.cmds_per_s(), b.cmds_per_s())),
        ),
        _ => (json!(null), json!(null)),
    };
    if with_risk.is_some() {
        println!(
            "risk overhead (time per command with ÷ without risk, warm chunks' medians): \
             {risk_overhead} (whole run: {risk_overhead_total})"
        );
    }
    let mut chain_json = json!(null);
    if let Some(c) = chain {
        chain_json = c.print_and_json();
        if let Some(dir) = &args.hgrm_dir {
            write_hgrm(dir, "engine-risk-chain", &c.chain)?;
            write_hgrm(dir, "engine-risk-chain-enter", &c.enter)?;
            write_hgrm(dir, "engine-risk-chain-floor", &c.floor)?;
        }
    }
    if args.json {
        let out = json!({
            "bench": "engine",
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "commands": args.commands,
            "instruments": args.instruments,
            "chunk": args.chunk,
            "machine": Machine::this_host(),
            "method": "same stream, generated before the run; venues interleaved per chunk; \
                       even chunks timed whole (cmds_per_s, all work included), odd chunks \
                       time each command's execute (our engine: one Engine::process) between \
                       fenced TSC reads (lfence; rdtsc; lfence; includes one clock read, \
                       excludes the histogram record and the session-layer id map); first \
                       5% of chunks discarded; one pinned thread; in throughput chunks \
                       our venues get each command opaque (black_box), as read from the \
                       core's input ring; ratios.risk_overhead = \
                       median time of tickgate+risk's throughput chunks run right after \
                       its own previous chunk ÷ the same for tickgate (warm: half of each \
                       venue's chunks, alternating), risk_overhead_total = the whole \
                       run's throughput ratio",
            "variants": variants,
            "ratios": {
                "throughput_vs_best_peer": vs_best,
                "risk_overhead": risk_overhead,
                "risk_overhead_total": risk_overhead_total,
            },
            "risk_chain": chain_json,
        });
        println!("{out}");
    }
    Ok(())
}

/// Runs the engine benchmark (our engine only; `cargo bench --bench engine` adds peers).
pub fn run(args: &EngineBenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cfg = args.run_config();
    let clock = prepare(args);
    let mut venue = our_venue(&cfg)?;
    let notes = "(peers run in `cargo bench --bench engine`)";
    if args.no_risk {
        let mut venues: [&mut dyn ChunkRunner; 1] = [&mut venue];
        let results = harness::run(&mut venues, &cfg, &clock);
        report(args, &results, "tickgate", notes)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut with_risk = our_risk_venue(&cfg)?;
    let mut venues: [&mut dyn ChunkRunner; 2] = [&mut venue, &mut with_risk];
    let results = harness::run(&mut venues, &cfg, &clock);
    let chain = risk::time_chain(&mut with_risk, &cfg, &clock);
    report_with(args, &results, "tickgate", notes, Some(&chain))?;
    Ok(ExitCode::SUCCESS)
}
