//! `tickgate bench engine` (placeholder until the matching core lands).

use std::process::ExitCode;

/// Options of `tickgate bench engine`.
#[derive(Debug, clap::Args)]
pub struct EngineBenchArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the engine benchmark.
pub fn run(_args: &EngineBenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("the matching core is not built yet (issue 3)".into())
}
