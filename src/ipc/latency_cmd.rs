//! `tickgate latency`: prints the running server's per-session tick-to-trade
//! histograms (tick publish → order arrival) from its latency board, read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::latency::{BoardReader, SessionLatency};
use crate::bench::report::write_hgrm;

/// Options of `tickgate latency`.
#[derive(Debug, Clone, clap::Args)]
pub struct LatencyArgs {
    /// The latency board file (default: `<ipc directory>.latency` of the
    /// configuration).
    #[arg(long)]
    pub board: Option<PathBuf>,
    /// The server's TOML configuration, to find its board (the embedded default
    /// without it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write each session's percentile distribution to `DIR/latency-<user>.hgrm` (µs).
    #[arg(long, value_name = "DIR")]
    pub hgrm: Option<PathBuf>,
    /// Also list sessions that have recorded nothing.
    #[arg(long)]
    pub all: bool,
}

/// The board a configuration's server writes.
pub fn default_board(
    config: Option<&std::path::Path>,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let config = crate::config::Config::load(config)?;
    Ok(super::latency::board_path(&config.ipc.directory_path()))
}

/// Runs `tickgate latency`.
pub fn run(args: &LatencyArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let path = match &args.board {
        Some(p) => p.clone(),
        None => default_board(args.config.as_deref())?,
    };
    let reader = BoardReader::open(&path).map_err(|e| {
        format!("{e} (is tickgate serve running with algo sessions? --board names the file)")
    })?;
    let sessions: Vec<SessionLatency> = (0..reader.sessions())
        .map(|i| reader.session(i))
        .filter(|s| args.all || !s.hist.is_empty() || s.unknown_trigger > 0)
        .collect();
    if let Some(dir) = &args.hgrm {
        for s in &sessions {
            write_hgrm(
                dir,
                &format!("latency-{}", file_safe(&s.username, s.session)),
                &s.hist,
            )?;
        }
    }
    if args.json {
        println!("{}", to_json(&reader, &path, &sessions));
    } else {
        print_table(&reader, &path, &sessions);
    }
    Ok(ExitCode::SUCCESS)
}

fn file_safe(username: &str, session: usize) -> String {
    if !username.is_empty() && username.bytes().all(|b| b.is_ascii_alphanumeric()) {
        username.to_string()
    } else {
        format!("session{session}")
    }
}

fn quantiles(s: &SessionLatency) -> [u64; 3] {
    [0.5, 0.99, 0.999].map(|q| s.hist.value_at_quantile(q))
}

fn print_table(reader: &BoardReader, path: &std::path::Path, sessions: &[SessionLatency]) {
    println!(
        "tick publish → order arrival, ns, since the server (pid {}) started; board {}",
        reader.creator_pid(),
        path.display()
    );
    println!(
        "{:>7} {:<8} {:>10} {:>9} {:>9} {:>9} {:>11} {:>9} {:>8}",
        "session", "user", "count", "p50", "p99", "p99.9", "max", "no_tick", "clamped"
    );
    for s in sessions {
        let [p50, p99, p999] = quantiles(s);
        println!(
            "{:>7} {:<8} {:>10} {:>9} {:>9} {:>9} {:>11} {:>9} {:>8}",
            s.session,
            s.username,
            s.hist.len(),
            p50,
            p99,
            p999,
            s.max_ns,
            s.unknown_trigger,
            s.clamped
        );
    }
    if sessions.is_empty() {
        println!("(no algo order has named a trigger tick yet)");
    }
}

fn to_json(
    reader: &BoardReader,
    path: &std::path::Path,
    sessions: &[SessionLatency],
) -> serde_json::Value {
    let rows: Vec<_> = sessions
        .iter()
        .map(|s| {
            let [p50, p99, p999] = quantiles(s);
            json!({
                "session": s.session,
                "username": s.username,
                "count": s.hist.len(),
                "p50_ns": p50,
                "p99_ns": p99,
                "p999_ns": p999,
                "max_ns": s.max_ns,
                "unknown_trigger": s.unknown_trigger,
                "clamped": s.clamped,
            })
        })
        .collect();
    json!({
        "board": path.display().to_string(),
        "server_pid": reader.creator_pid(),
        "created_unix_ns": reader.created_unix_ns(),
        "measure": "tick publish -> order arrival, ns",
        "sessions": rows,
    })
}
