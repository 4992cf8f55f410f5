//! Host tuning audit: `tickgate tune check`, and the jitter benchmark.
//!
//! [`check`] reads `/proc` and `/sys` under a root directory and returns a [`Report`]
//! with one PASS / WARN / FAIL [`Item`] per property, judged against the configured core
//! plan (`config.threads`). The scripts in `tuning/` apply what it checks;
//! `docs/OPERATIONS.md` walks through a deployment.
//!
//! `tickgate serve` runs the same audit at start-up:
//!
//! ```
//! let config = tickgate::config::Config::embedded();
//! let report = tickgate::tune::check(&config, std::path::Path::new("/"));
//! eprintln!("{}", report.summary()); // log one line
//! let strict = false; // `serve --strict`
//! if strict && report.has_fail() {
//!     eprint!("{}", report.render_text()); // refuse to start, with every fix
//! }
//! ```
//!
//! A missing file is a WARN, never an error: the audit runs on any Linux host, VM or
//! container, and says what it could not see.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{Config, ConfigError};

mod cpu;
pub mod host;
pub mod jitter;
mod report;
mod system;

pub use cpu::MAX_EXIT_LATENCY_US;
pub use report::{Item, Report, Status};
pub use system::{locked_memory_estimate_bytes, ring_memory_estimate_bytes};

use host::{Host, ReadError, format_cpulist};

/// Options of `tickgate tune check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// TOML configuration whose core plan is checked (the embedded default without it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Read /proc and /sys under this directory instead of / (for tests and fixtures).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Exit with status 1 when any item FAILs (default: always 0, the report is advice).
    #[arg(long)]
    pub strict: bool,
}

/// Why `tickgate tune check` could not run.
#[derive(Debug)]
pub enum TuneError {
    /// The configuration could not be loaded.
    Config(ConfigError),
    /// The `--root` directory does not exist.
    NoRoot(PathBuf),
}

impl fmt::Display for TuneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::NoRoot(p) => write!(
                f,
                "--root {} is not a directory; give / or a tree holding proc/ and sys/",
                p.display()
            ),
        }
    }
}

impl std::error::Error for TuneError {}

/// Runs `tickgate tune check`: prints the report (text or `--json`). The exit status is
/// 0 even when items FAIL — the audit is advice, and a VM or CI box is never tuned —
/// unless `--strict` is given, then 1 when any item FAILs.
pub fn run_check(args: &CheckArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::load(args.config.as_deref()).map_err(TuneError::Config)?;
    if !args.root.is_dir() {
        return Err(TuneError::NoRoot(args.root.clone()).into());
    }
    let report = check(&config, &args.root);
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(if args.strict && report.has_fail() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Audits the host under `root` (`/` for this machine) against `config`'s core plan.
/// Never fails: what cannot be read becomes a WARN item.
pub fn check(config: &Config, root: &Path) -> Report {
    let audit = Audit::new(config, root);
    let mut items = cpu::items(&audit);
    items.extend(system::items(&audit));
    Report {
        root: root.to_path_buf(),
        hot_cpus: audit.hot.clone(),
        housekeeping_cpus: audit.housekeeping.clone(),
        items,
    }
}

/// The kernel command line that isolates `hot` CPUs and sends IRQs to `housekeeping`
/// CPUs; `tuning/cmdline.sh` prints the same line.
///
/// ```
/// let line = tickgate::tune::kernel_cmdline(&[2, 3], &[0, 1]);
/// assert!(line.starts_with("isolcpus=managed_irq,domain,2-3 nohz_full=2-3 "));
/// ```
pub fn kernel_cmdline(hot: &[usize], housekeeping: &[usize]) -> String {
    let (h, k) = (format_cpulist(hot), format_cpulist(housekeeping));
    format!(
        "isolcpus=managed_irq,domain,{h} nohz_full={h} rcu_nocbs={h} rcu_nocb_poll \
         irqaffinity={k} skew_tick=1 nowatchdog transparent_hugepage=never"
    )
}

/// What the audit items read: the host, the plan and the kernel command line.
pub(crate) struct Audit {
    host: Host,
    /// Hot (spinning) CPUs, sorted.
    hot: Vec<usize>,
    /// Housekeeping and publisher CPUs that are not hot, sorted.
    housekeeping: Vec<usize>,
    lock_memory: bool,
    cmdline: Result<String, ReadError>,
}

impl Audit {
    fn new(config: &Config, root: &Path) -> Self {
        let plan = &config.threads;
        let hot = plan.hot_cpus();
        let mut housekeeping = plan.housekeeping_cpus.clone();
        housekeeping.push(plan.publisher_cpu);
        housekeeping.retain(|c| !hot.contains(c));
        housekeeping.sort_unstable();
        housekeeping.dedup();
        let host = Host::new(root);
        let cmdline = host.read("/proc/cmdline");
        Self {
            host,
            hot,
            housekeeping,
            lock_memory: plan.lock_memory,
            cmdline,
        }
    }

    fn hot_list(&self) -> String {
        format_cpulist(&self.hot)
    }

    fn housekeeping_list(&self) -> String {
        format_cpulist(&self.housekeeping)
    }

    /// The command that prints the kernel command line for this plan.
    fn cmdline_hint(&self) -> String {
        format!(
            "full line: tuning/cmdline.sh --hot-cpus {} --housekeeping-cpus {}",
            self.hot_list(),
            self.housekeeping_list()
        )
    }

    /// The command that applies the runtime tuning for this plan.
    fn apply_hint(&self) -> String {
        format!(
            "sudo tuning/apply.sh --hot-cpus {} --housekeeping-cpus {}",
            self.hot_list(),
            self.housekeeping_list()
        )
    }
}
