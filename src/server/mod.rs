//! `tickgate serve`: configuration → matching core + gateway + session layer + rings,
//! run in the configured threading mode until SIGINT/SIGTERM.
//!
//! Wiring (see `docs/SERVE.md`): one gateway thread per `threads.gateway_cpus` entry,
//! each with its own listener (`gateway.listen` port + its index) and session layer
//! ([`crate::session::Sessions`], the gateway's handler) serving the accounts
//! [`Config::account_gateway`] gives it. Each writes [`crate::engine::Command`]
//! records to its own SPSC command ring; the core drains them round-robin and writes
//! each session's events to the response ring of the thread that serves it.
//!
//! - **Shared** mode (default, 2-vCPU hosts): gateway thread 0 runs its gateway agent
//!   and the core agent round-robin. The core only runs while thread 0's response ring
//!   has at least [`CORE_GATE_FREE_RECORDS`] free slots, because a core that found the
//!   ring full would spin forever waiting for the gateway that shares its thread.
//!   Other gateway threads, if any, run the gateway only.
//! - **Dedicated** mode (colo): the core runs on its own pinned thread (`core_cpu`)
//!   and gateway thread `i` on `gateway_cpus[i]`.
//!
//! On stop: logins and connections are refused, every client gets End of Session
//! (`Z`) and is closed once it is sent; after at most [`DRAIN_TIMEOUT`] the gateway
//! threads shut down.

mod algos;
pub mod control;
mod gateways;
pub mod recover;
mod run;
pub mod signal;
mod warm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use run::{Finished, Running, StartOptions, spawn, spawn_with};

use crate::config::Config;

/// The core runs (shared mode) only while the response ring has this many free
/// records: one core round (≤ `drain_limit` commands) must never fill it.
pub const CORE_GATE_FREE_RECORDS: usize = 1 << 15;

/// How long shutdown waits for End of Session to reach the clients.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Options of `tickgate serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration (the embedded default without it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Refuse to start when `tune check` reports a FAIL.
    #[arg(long)]
    pub strict: bool,
    /// Listen here instead of `gateway.listen`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Journal directory instead of `journal.dir`.
    #[arg(long)]
    pub journal_dir: Option<PathBuf>,
    /// Run without the journal (a restart then starts the day empty).
    #[arg(long)]
    pub no_journal: bool,
    /// If recovery finds a corrupt journal record before the tail, drop it and every
    /// record after it (the damaged segment is kept as `*.corrupt`) instead of
    /// refusing to start. Orders acknowledged after that point are lost: last resort.
    #[arg(long)]
    pub truncate_journal_at_corruption: bool,
}

/// Per gateway thread, the accounts it serves, for the start-up lines (a login on
/// another thread's port is refused).
fn accounts_by_thread(config: &Config) -> Vec<String> {
    let mut names = vec![Vec::new(); config.gateway_threads()];
    for (i, a) in config.accounts.iter().enumerate() {
        names[config.account_gateway(i)].push(a.username.as_str());
    }
    names
        .into_iter()
        .map(|n| match n.len() {
            0 => "no account".to_string(),
            1..=8 => format!("accounts {}", n.join(", ")),
            k => format!("{k} accounts ({}, …)", n[..4].join(", ")),
        })
        .collect()
}

/// Runs `tickgate serve` until SIGINT/SIGTERM.
pub fn run(args: &ServeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(addr) = args.listen {
        config.gateway.listen = addr;
    }
    if let Some(dir) = &args.journal_dir {
        config.journal.dir.clone_from(dir);
    }
    if args.no_journal {
        config.journal.enabled = false;
    }
    let report = crate::tune::check(&config, std::path::Path::new("/"));
    eprintln!("tickgate: {}", report.summary());
    if args.strict && report.has_fail() {
        return Err(
            "tune check FAILed and --strict was given; run `tickgate tune check` \
                    for the fixes"
                .into(),
        );
    }
    signal::install()?;
    let opts = StartOptions {
        pin_threads: true,
        truncate_journal_at_corruption: args.truncate_journal_at_corruption,
    };
    let accounts = accounts_by_thread(&config);
    let running = spawn_with(config, opts).map_err(|e| e.to_string())?;
    let t = &running.threads;
    println!(
        "tickgate: listening on {} (SoupBinTCP 4.1 / OUCH 5.0), session {}, threading {}",
        running.addr,
        String::from_utf8_lossy(running.session_name.trimmed()),
        t
    );
    if running.addrs.len() > 1 {
        for (i, (addr, names)) in running.addrs.iter().zip(&accounts).enumerate() {
            println!("tickgate: gateway thread {i} listening on {addr} for {names}");
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    while !signal::stop_requested() && !running.finished() {
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("tickgate: stopping: End of Session to every client");
    let finished = running.stop_and_join().map_err(|e| e.to_string())?;
    eprintln!(
        "tickgate: stopped; {:?}; {:?}",
        finished.sessions, finished.core
    );
    if finished.journal_failed {
        return Err("stopped because the journal failed (see the FATAL line above)".into());
    }
    Ok(ExitCode::SUCCESS)
}
