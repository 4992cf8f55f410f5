//! `tickgate bench ring`: the SPSC ring's round trips and throughput against the
//! cache-line floor, measured interleaved in one run. `cargo bench --bench ring` adds
//! the peer crates with the same harness.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::pingpong::{self, Cpus, Link};
use super::report::{self, Machine, Percentiles, latency_histogram, ratio};
use crate::clock::Clock;

/// Options of `tickgate bench ring` (and of `cargo bench --bench ring`).
#[derive(Debug, Clone, clap::Args)]
pub struct RingArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Recorded round trips per variant, over all rounds.
    #[arg(long, default_value_t = 1_200_000)]
    pub round_trips: u64,
    /// Interleaved rounds (A B C … then again); each starts with a warm-up.
    #[arg(long, default_value_t = 12)]
    pub rounds: u64,
    /// Unrecorded warm-up round trips at the start of each round.
    #[arg(long, default_value_t = 20_000)]
    pub warmup: u64,
    /// Messages per throughput round.
    #[arg(long, default_value_t = 2_000_000)]
    pub messages: u64,
    /// Ring slots, and the floor's swept lines.
    #[arg(long, default_value_t = 1024)]
    pub capacity: usize,
    /// CPU of the measuring thread.
    #[arg(long, default_value_t = 0)]
    pub cpu_ping: usize,
    /// CPU of the echo / producer thread.
    #[arg(long, default_value_t = 1)]
    pub cpu_echo: usize,
    /// Write each variant's round-trip distribution as `DIR/ring-<variant>.hgrm`.
    #[arg(long)]
    pub hgrm_dir: Option<PathBuf>,
}

/// What one transport measured.
#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    /// Transport name.
    pub name: String,
    /// Round-trip percentiles.
    #[serde(flatten)]
    pub rtt: Percentiles,
    /// Median one-way throughput over the rounds; `None` for the floor (not a queue).
    pub msgs_per_s: Option<f64>,
    #[serde(skip)]
    hist: Histogram<u64>,
    #[serde(skip)]
    rates: Vec<f64>,
}

/// A transport under test: how to build a fresh pair of link ends.
pub struct Variant<A, B> {
    /// Name in reports.
    pub name: &'static str,
    /// Builds the two ends for a ring of `capacity` slots.
    pub make: fn(usize) -> (A, B),
    /// Whether to measure throughput (false for the floor).
    pub queue: bool,
}

/// Accumulates interleaved measurements of several variants.
pub struct Runner {
    args: RingArgs,
    clock: Clock,
    cpus: Cpus,
    /// Results in the order variants were first run.
    pub results: Vec<VariantResult>,
}

impl Runner {
    /// A runner with a freshly calibrated clock.
    pub fn new(args: &RingArgs) -> Self {
        Self {
            args: args.clone(),
            clock: Clock::calibrate(Duration::from_millis(50)),
            cpus: Cpus {
                pinger: args.cpu_ping,
                echoer: args.cpu_echo,
            },
            results: Vec::new(),
        }
    }

    fn slot(&mut self, name: &str) -> &mut VariantResult {
        if let Some(i) = self.results.iter().position(|r| r.name == name) {
            return &mut self.results[i];
        }
        self.results.push(VariantResult {
            name: name.into(),
            rtt: Percentiles::of(&latency_histogram()),
            msgs_per_s: None,
            hist: latency_histogram(),
            rates: Vec::new(),
        });
        self.results.last_mut().expect("just pushed")
    }

    /// Runs one round of `v`: a warm-up, the recorded round trips, then throughput.
    pub fn round<A: Link, B: Link>(&mut self, v: &Variant<A, B>) {
        let a = &self.args;
        let per_round = a.round_trips.div_ceil(a.rounds.max(1));
        let (warmup, capacity, messages) = (a.warmup, a.capacity, a.messages);
        let (clock, cpus) = (self.clock, self.cpus);
        let mut hist = latency_histogram();
        pingpong::rtt(
            (v.make)(capacity),
            warmup,
            per_round,
            cpus,
            &clock,
            &mut hist,
        );
        let rate = v
            .queue
            .then(|| pingpong::throughput((v.make)(capacity), messages, cpus));
        let slot = self.slot(v.name);
        slot.hist.add(&hist).expect("same histogram bounds");
        slot.rates.extend(rate);
    }

    /// Number of rounds to run.
    pub fn rounds(&self) -> u64 {
        self.args.rounds.max(1)
    }

    /// Summarises every variant, writes `.hgrm` files if asked, and prints the table.
    pub fn finish(&mut self) -> std::io::Result<()> {
        for r in &mut self.results {
            r.rtt = Percentiles::of(&r.hist);
            r.rates.sort_by(f64::total_cmp);
            r.msgs_per_s = r.rates.get(r.rates.len() / 2).copied();
            if let Some(dir) = &self.args.hgrm_dir {
                report::write_hgrm(dir, &format!("ring-{}", r.name), &r.hist)?;
            }
        }
        println!(
            "round trip, ns (64-byte messages, cpus {} <-> {})",
            self.cpus.pinger, self.cpus.echoer
        );
        println!("{}", report::table_header("throughput, msgs/s"));
        for r in &self.results {
            let tput = r
                .msgs_per_s
                .map_or("-".into(), |t| format!("{:.1}M", t / 1e6));
            println!("{}", report::table_row(&r.name, &r.rtt, &tput));
        }
        Ok(())
    }

    /// The result named `name`.
    pub fn get(&self, name: &str) -> Option<&VariantResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// Ratios of `ours` against `floor` and, if any, the best peer.
    pub fn ratios(&self, ours: &str, floor: &str, peers: &[&str]) -> Ratios {
        let (o, f) = (
            self.get(ours).expect("ours ran"),
            self.get(floor).expect("floor ran"),
        );
        let peer_results: Vec<_> = peers.iter().filter_map(|p| self.get(p)).collect();
        let best_p50 = peer_results.iter().map(|p| p.rtt.p50_ns).min();
        let best_tput = peer_results
            .iter()
            .filter_map(|p| p.msgs_per_s)
            .reduce(f64::max);
        Ratios {
            rtt_p50_vs_floor: ratio(o.rtt.p50_ns as f64, f.rtt.p50_ns as f64),
            rtt_p99_vs_floor: ratio(o.rtt.p99_ns as f64, f.rtt.p99_ns as f64),
            rtt_p50_vs_best_peer: best_p50.map(|b| ratio(o.rtt.p50_ns as f64, b as f64)),
            throughput_vs_best_peer: best_tput.zip(o.msgs_per_s).map(|(b, ours)| ratio(ours, b)),
        }
    }

    /// The JSON object printed as the last line with `--json`.
    pub fn json(&self, ratios: &Ratios) -> String {
        let variants: serde_json::Map<_, _> = self
            .results
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    serde_json::to_value(r).expect("serialisable"),
                )
            })
            .collect();
        serde_json::json!({
            "bench": "ring",
            "machine": Machine::this_host(),
            "cpus": [self.cpus.pinger, self.cpus.echoer],
            "message_bytes": 64,
            "capacity": self.args.capacity,
            "variants": variants,
            "ratios": ratios,
        })
        .to_string()
    }
}

/// Ratios reported by the ring benchmark (lower is better, but throughput).
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// tickgate RTT p50 ÷ floor RTT p50.
    pub rtt_p50_vs_floor: f64,
    /// tickgate RTT p99 ÷ floor RTT p99.
    pub rtt_p99_vs_floor: f64,
    /// tickgate RTT p50 ÷ the lowest peer RTT p50.
    pub rtt_p50_vs_best_peer: Option<f64>,
    /// tickgate throughput ÷ the highest peer throughput (higher is better).
    pub throughput_vs_best_peer: Option<f64>,
}

/// The floor variant.
pub const FLOOR: Variant<pingpong::MailboxLink, pingpong::MailboxLink> = Variant {
    name: "floor",
    make: pingpong::floor_pair,
    queue: false,
};

/// tickgate's SPSC ring.
pub const TICKGATE: Variant<pingpong::SpscLink, pingpong::SpscLink> = Variant {
    name: "tickgate",
    make: pingpong::spsc_pair,
    queue: true,
};

/// Runs `tickgate bench ring`: the ring and the floor, interleaved.
pub fn run(args: &RingArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut runner = Runner::new(args);
    for _ in 0..runner.rounds() {
        runner.round(&FLOOR);
        runner.round(&TICKGATE);
    }
    runner.finish()?;
    let ratios = runner.ratios("tickgate", "floor", &[]);
    println!(
        "ratios: rtt p50 vs floor {:.3}, rtt p99 vs floor {:.3}",
        ratios.rtt_p50_vs_floor, ratios.rtt_p99_vs_floor
    );
    if args.json {
        println!("{}", runner.json(&ratios));
    }
    Ok(ExitCode::SUCCESS)
}
