//! Configuration: a TOML file, or the default embedded in the binary.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::affinity::IdleKind;

/// The configuration `tickgate` runs on when no `--config` is given.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where each thread runs and how it idles.
    pub threads: ThreadPlan,
}

/// Whether hot agents get a thread each or share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadingMode {
    /// One pinned thread per hot agent (the colo layout).
    Dedicated,
    /// Gateway and core agents round-robin on one pinned thread (small hosts).
    Shared,
}

/// The core plan: which CPU each thread is pinned to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadPlan {
    /// Dedicated or shared threading.
    pub mode: ThreadingMode,
    /// CPU of the matching core.
    pub core_cpu: usize,
    /// CPU of each gateway thread.
    pub gateway_cpus: Vec<usize>,
    /// CPU of the market-data publisher.
    pub publisher_cpu: usize,
    /// CPUs for the journal flusher, liveness checker and logging.
    pub housekeeping_cpus: Vec<usize>,
    /// How hot threads wait when they have no work.
    pub idle: IdleKind,
    /// Whether to `mlockall` at start-up.
    pub lock_memory: bool,
}

impl ThreadPlan {
    /// The CPUs that run a spinning (hot) thread, sorted and without repeats.
    pub fn hot_cpus(&self) -> Vec<usize> {
        let mut cpus = self.gateway_cpus.clone();
        cpus.push(self.core_cpu);
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file named.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not valid TOML for this schema.
    Parse(String),
    /// The values parse but contradict each other.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read config {path}: {source}"),
            Self::Parse(msg) => write!(f, "config is not valid: {msg}"),
            Self::Invalid(msg) => write!(f, "config is inconsistent: {msg}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The embedded default configuration.
    pub fn embedded() -> Self {
        Self::parse(DEFAULT_TOML).expect("the embedded default configuration is valid")
    }

    /// Reads `path`, or the embedded default when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::embedded());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.threads;
        if t.gateway_cpus.is_empty() {
            return Err(ConfigError::Invalid("threads.gateway_cpus is empty".into()));
        }
        if t.mode == ThreadingMode::Dedicated && t.gateway_cpus.contains(&t.core_cpu) {
            return Err(ConfigError::Invalid(format!(
                "threads.mode = \"dedicated\" but core_cpu {} is also a gateway CPU; \
                 use mode = \"shared\" or give the core its own CPU",
                t.core_cpu
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::embedded();
        assert_eq!(c.threads.mode, ThreadingMode::Shared);
        assert_eq!(c.threads.hot_cpus(), vec![1]);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let text = DEFAULT_TOML.replace("lock_memory", "lock_memroy");
        assert!(matches!(Config::parse(&text), Err(ConfigError::Parse(_))));
    }

    #[test]
    fn dedicated_mode_rejects_a_shared_cpu() {
        let text = DEFAULT_TOML.replace("\"shared\"          #", "\"dedicated\"       #");
        assert!(matches!(Config::parse(&text), Err(ConfigError::Invalid(_))));
    }
}
