//! `tickgate bench ring` (being built).

use std::process::ExitCode;

/// Options of `tickgate bench ring`.
#[derive(Debug, clap::Args)]
pub struct RingArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the ring benchmark.
pub fn run(_args: &RingArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("not yet".into())
}
