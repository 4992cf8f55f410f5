//! Host tuning audit: `tickgate tune check` (placeholder until issue 7 lands).

use std::process::ExitCode;

pub mod jitter;

/// Options of `tickgate tune check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tickgate tune check`.
pub fn run_check(_args: &CheckArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("tune check is not built yet (issue 7)".into())
}
