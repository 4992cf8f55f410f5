//! The `tickgate` command line.

#[cfg(not(loom))]
use std::path::PathBuf;
#[cfg(not(loom))]
use std::process::ExitCode;

#[cfg(not(loom))]
use clap::{Parser, Subcommand};

/// tickgate: a co-located trading gateway and matching core.
#[cfg(not(loom))]
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[cfg(not(loom))]
#[derive(Subcommand)]
enum Command {
    /// Run a benchmark on this host.
    Bench {
        #[command(subcommand)]
        which: BenchCmd,
    },
    /// Audit this host's tuning against the configured core plan.
    Tune {
        #[command(subcommand)]
        which: TuneCmd,
    },
    /// Run the gateway and matching core: SoupBinTCP/OUCH on TCP until SIGINT/SIGTERM.
    Serve(tickgate::server::ServeArgs),
    /// Inspect a journal directory (read-only).
    Journal {
        #[command(subcommand)]
        which: JournalCmd,
    },
    /// Operator commands to the running server (its local control channel).
    Admin {
        #[command(subcommand)]
        which: AdminCmd,
    },
    /// Per-session tick-to-trade (tick publish → algo order arrival) of a running
    /// server, read from its latency board without disturbing it.
    Latency(tickgate::ipc::latency_cmd::LatencyArgs),
    /// Print the effective configuration (the embedded default without --config).
    Config {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[cfg(not(loom))]
#[derive(Subcommand)]
enum BenchCmd {
    /// SPSC ring round trips and throughput against the cache-line floor.
    Ring(tickgate::bench::ring::RingArgs),
    /// Matching-core throughput and per-command latency.
    Engine(tickgate::engine::bench::EngineBenchArgs),
    /// Order → accept round trips through gateway + core vs the raw TCP floor.
    Rtt(tickgate::bench::rtt::RttArgs),
    /// Per-core jitter (gaps between consecutive TSC reads) on the hot cores.
    Jitter(tickgate::tune::jitter::JitterArgs),
    /// Tick-to-trade: ticks at a fixed rate, an algo answering each, per-stage
    /// percentiles against the cache-line floor.
    #[command(name = "tick-to-trade")]
    TickToTrade(tickgate::bench::t2t::T2tArgs),
    /// The tick-to-trade benchmark's algo process (started by the benchmark).
    #[command(name = "t2t-algo", hide = true)]
    T2tAlgo(tickgate::bench::t2t::T2tAlgoArgs),
    /// Journal append cost per record against a memcpy floor, and replay speed.
    Journal(tickgate::bench::journal::JournalBenchArgs),
}

#[cfg(not(loom))]
#[derive(Subcommand)]
enum JournalCmd {
    /// Print every record.
    Dump(tickgate::journal::DumpArgs),
    /// Check every CRC and the sequence; exit non-zero on corruption.
    Verify(tickgate::journal::VerifyArgs),
    /// Segments, records, sequence range and replay speed.
    Stats(tickgate::journal::StatsArgs),
    /// Replay through a fresh core: record count, speed and state hash.
    Replay(tickgate::journal::ReplayArgs),
}

#[cfg(not(loom))]
#[derive(Subcommand)]
enum AdminCmd {
    /// Kill switch: block the account's new orders and cancel all its open orders.
    Kill(tickgate::server::control::AdminArgs),
    /// Lift a kill switch or Disable Order Entry.
    Enable(tickgate::server::control::AdminArgs),
    /// Whether the account is blocked, and its open orders.
    Status(tickgate::server::control::AdminArgs),
}

#[cfg(not(loom))]
#[derive(Subcommand)]
enum TuneCmd {
    /// Check /proc and /sys against the core plan: PASS / WARN / FAIL per item.
    Check(tickgate::tune::CheckArgs),
}

#[cfg(not(loom))]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench { which } => match which {
            BenchCmd::Ring(args) => tickgate::bench::ring::run(&args),
            BenchCmd::Engine(args) => tickgate::engine::bench::run(&args),
            BenchCmd::Jitter(args) => tickgate::tune::jitter::run(&args),
            BenchCmd::Rtt(args) => tickgate::bench::rtt::run(&args),
            BenchCmd::Journal(args) => tickgate::bench::journal::run(&args),
            BenchCmd::TickToTrade(args) => tickgate::bench::t2t::run(&args),
            BenchCmd::T2tAlgo(args) => tickgate::bench::t2t::run_algo(&args),
        },
        Command::Journal { which } => match which {
            JournalCmd::Dump(args) => tickgate::journal::run_dump(&args),
            JournalCmd::Verify(args) => tickgate::journal::run_verify(&args),
            JournalCmd::Stats(args) => tickgate::journal::run_stats(&args),
            JournalCmd::Replay(args) => tickgate::journal::run_replay(&args),
        },
        Command::Tune { which } => match which {
            TuneCmd::Check(args) => tickgate::tune::run_check(&args),
        },
        Command::Serve(args) => tickgate::server::run(&args),
        Command::Admin { which } => {
            use tickgate::server::control::run_admin;
            match which {
                AdminCmd::Kill(args) => run_admin("kill", &args),
                AdminCmd::Enable(args) => run_admin("enable", &args),
                AdminCmd::Status(args) => run_admin("status", &args),
            }
        }
        Command::Latency(args) => tickgate::ipc::latency_cmd::run(&args),
        Command::Config { config } => show_config(config),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tickgate: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(loom))]
fn show_config(path: Option<PathBuf>) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match path {
        None => print!("{}", tickgate::config::DEFAULT_TOML),
        Some(p) => {
            let config = tickgate::config::Config::load(Some(&p))?;
            println!("{config:#?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The loom build models the ring alone (src/lib.rs): no command line.
#[cfg(loom)]
fn main() {}
