//! Reading a host's /proc and /sys under a root directory, and the kernel's CPU-list
//! and CPU-mask notations.
//!
//! Every read is relative to [`Host::root`] so tests can point the audit at a fake tree.
//! A missing or unreadable file is a [`ReadError`] value, never a panic: the caller turns
//! it into a WARN.

use std::fmt;
use std::path::{Path, PathBuf};

/// A host's file tree: `/` for the real machine, a fixture directory in tests.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

/// A file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The path as seen on the host (without the root prefix), e.g. `/proc/cmdline`.
    pub path: String,
    /// The OS error, as text.
    pub reason: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path, self.reason)
    }
}

impl std::error::Error for ReadError {}

impl Host {
    /// A host rooted at `root` (`/` for the real machine).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The root directory every path is read under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the host path `path` (absolute, e.g. `/proc/swaps`) lives under the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The whole text of `path`.
    pub fn read(&self, path: &str) -> Result<String, ReadError> {
        std::fs::read_to_string(self.path(path)).map_err(|e| ReadError {
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    /// The text of `path` without surrounding whitespace.
    pub fn read_trimmed(&self, path: &str) -> Result<String, ReadError> {
        self.read(path).map(|s| s.trim().to_string())
    }

    /// The names of the entries of directory `path`, sorted; empty when it is missing.
    pub fn list_dir(&self, path: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.path(path)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Whether `path` exists under the root.
    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }
}

/// Parses a kernel CPU list such as `0-3,8,10-11` (also accepts empty text, `(null)`
/// and surrounding whitespace, meaning "no CPU"). Returns the CPUs sorted, deduplicated.
///
/// ```
/// use tickgate::tune::host::parse_cpulist;
/// assert_eq!(parse_cpulist("0-2,5").unwrap(), vec![0, 1, 2, 5]);
/// assert_eq!(parse_cpulist("(null)\n").unwrap(), Vec::<usize>::new());
/// ```
pub fn parse_cpulist(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    if text.is_empty() || text == "(null)" {
        return Some(Vec::new());
    }
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Formats CPUs as a kernel CPU list, collapsing runs: `[0,1,2,5]` → `0-2,5`.
///
/// ```
/// use tickgate::tune::host::format_cpulist;
/// assert_eq!(format_cpulist(&[5, 0, 1, 2]), "0-2,5");
/// ```
pub fn format_cpulist(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        parts.push(if sorted[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", sorted[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// Parses a kernel hex CPU mask such as `ff` or `00000000,00000003` (32-bit groups,
/// most significant first) into the CPUs it names.
///
/// ```
/// use tickgate::tune::host::parse_cpumask;
/// assert_eq!(parse_cpumask("5").unwrap(), vec![0, 2]);
/// assert_eq!(parse_cpumask("00000001,00000000").unwrap(), vec![32]);
/// ```
pub fn parse_cpumask(text: &str) -> Option<Vec<usize>> {
    let digits: String = text.trim().chars().filter(|c| *c != ',').collect();
    if digits.is_empty() {
        return None;
    }
    let mut cpus = Vec::new();
    for (nibble_index, c) in digits.chars().rev().enumerate() {
        let nibble = c.to_digit(16)?;
        for bit in 0..4 {
            if nibble & (1 << bit) != 0 {
                cpus.push(nibble_index * 4 + bit);
            }
        }
    }
    Some(cpus)
}

/// The value of `key=` on a kernel command line (the last one wins, as in the kernel).
///
/// ```
/// use tickgate::tune::host::cmdline_value;
/// assert_eq!(cmdline_value("quiet nohz_full=2-3 x", "nohz_full"), Some("2-3"));
/// assert_eq!(cmdline_value("quiet", "nohz_full"), None);
/// ```
pub fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .take_while(|w| *w != "--")
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .last()
}

/// The CPUs of an `isolcpus=` value, skipping its flags (`managed_irq,domain,2-5`).
///
/// ```
/// use tickgate::tune::host::isolcpus_cpus;
/// assert_eq!(isolcpus_cpus("managed_irq,domain,2-3"), Some(vec![2, 3]));
/// ```
pub fn isolcpus_cpus(value: &str) -> Option<Vec<usize>> {
    let list: Vec<&str> = value
        .split(',')
        .filter(|p| p.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    parse_cpulist(&list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulist_round_trips() {
        let cpus = parse_cpulist("0-3,8,10-11").unwrap();
        assert_eq!(cpus, vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(format_cpulist(&cpus), "0-3,8,10-11");
        assert_eq!(format_cpulist(&[]), "");
    }

    #[test]
    fn malformed_cpulist_is_none() {
        assert_eq!(parse_cpulist("3-1"), None);
        assert_eq!(parse_cpulist("a"), None);
    }

    #[test]
    fn cpumask_reads_grouped_hex() {
        assert_eq!(parse_cpumask("3\n").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpumask("zz"), None);
    }

    #[test]
    fn cmdline_stops_at_init_arguments() {
        assert_eq!(cmdline_value("a -- nohz_full=1", "nohz_full"), None);
        assert_eq!(cmdline_value("x=1 x=2", "x"), Some("2"));
    }
}
