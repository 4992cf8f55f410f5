//! `tickgate bench jitter` (placeholder until issue 7 lands).

use std::process::ExitCode;

/// Options of `tickgate bench jitter`.
#[derive(Debug, clap::Args)]
pub struct JitterArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the jitter benchmark.
pub fn run(_args: &JitterArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("bench jitter is not built yet (issue 7)".into())
}
