//! `tickgate bench engine`: the matching core on a synthetic ITCH-day-shaped stream.
//!
//! The generator ([`stream`]), the interleaved harness ([`harness`]) and our engine's
//! adapter ([`ours`]) live here so that `bench/engine.rs` runs the same stream through
//! the peers (orderbook-rs, matchcore; dev-dependencies) in the same process. This CLI
//! runs our engine alone (no peer ratio).

pub mod harness;
pub mod ours;
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

/// Prints the results table (and the JSON line with `--json`); `ours` names the
/// variant whose throughput is compared with the best of the others.
pub fn report(
    args: &EngineBenchArgs,
    results: &[Measured],
    ours: &str,
    peer_notes: &str,
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
    let best_peer = results
        .iter()
        .filter(|m| m.name != ours)
        .map(Measured::cmds_per_s)
        .fold(None, |b: Option<f64>, x| Some(b.map_or(x, |b| b.max(x))));
    let vs_best = match (mine, best_peer) {
        (Some(a), Some(b)) => json!(ratio(a, b)),
        _ => json!(null),
    };
    println!("throughput vs best peer: {vs_best}   {peer_notes}");
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
                       5% of chunks discarded; one pinned thread",
            "variants": variants,
            "ratios": { "throughput_vs_best_peer": vs_best },
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
    let mut venues: [&mut dyn ChunkRunner; 1] = [&mut venue];
    let results = harness::run(&mut venues, &cfg, &clock);
    report(
        args,
        &results,
        "tickgate",
        "(peers run in `cargo bench --bench engine`)",
    )?;
    Ok(ExitCode::SUCCESS)
}
