//! `[ipc]`: the shared-memory session directory `tickgate serve` creates for
//! co-located algos (`docs/ALGOS.md`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[ipc]`: co-located algo sessions over shared memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpcSection {
    /// Create the directory and serve algo slots.
    pub enabled: bool,
    /// File name in `/dev/shm` of the directory (one per server instance); the slot
    /// rings are `<name>.<i>.orders` / `.responses`, the market data `<name>.md`.
    pub name: String,
    /// Session slots (algos connected at once).
    pub slots: usize,
    /// Records of each slot's order ring and response ring (power of two).
    pub ring_records: usize,
    /// Records of the market-data broadcast ring (power of two): how far an algo
    /// may fall behind before it is lapped.
    pub md_ring_records: usize,
    /// An active algo whose heartbeat has not moved for this long is ended
    /// (cancel-on-disconnect) and its slot freed; a dead pid is noticed within
    /// `min(liveness_timeout_ms, 20)` ms.
    pub liveness_timeout_ms: u64,
    /// Group given read-write access to the files (mode 0660); empty: owner only (0600).
    pub group: String,
}

impl Default for IpcSection {
    fn default() -> Self {
        Self {
            enabled: true,
            name: "tickgate".into(),
            slots: 8,
            ring_records: 4096,
            md_ring_records: 1 << 16,
            liveness_timeout_ms: 1000,
            group: String::new(),
        }
    }
}

/// An `[ipc]` value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcConfigError(pub String);

impl fmt::Display for IpcConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[ipc]: {}", self.0)
    }
}

impl std::error::Error for IpcConfigError {}

impl IpcSection {
    /// Checks the values; each error names the key and the fix.
    pub fn validate(&self) -> Result<(), IpcConfigError> {
        let err = |s: String| Err(IpcConfigError(s));
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !self.name.starts_with('.');
        if !name_ok {
            return err(format!(
                "name {:?} must be 1..=64 characters of [A-Za-z0-9._-], not starting with '.'",
                self.name
            ));
        }
        if self.slots == 0 || self.slots > 1024 {
            return err(format!("slots = {} must be within 1..=1024", self.slots));
        }
        for (key, v) in [
            ("ring_records", self.ring_records),
            ("md_ring_records", self.md_ring_records),
        ] {
            if !v.is_power_of_two() || !(8..=1 << 24).contains(&v) {
                return err(format!(
                    "{key} = {v} must be a power of two within 8..=2^24"
                ));
            }
        }
        if self.liveness_timeout_ms == 0 {
            return err("liveness_timeout_ms must be at least 1".into());
        }
        Ok(())
    }

    /// The directory file: `/dev/shm/<name>`.
    pub fn directory_path(&self) -> PathBuf {
        PathBuf::from("/dev/shm").join(&self.name)
    }

    /// The liveness timeout.
    pub fn liveness_timeout(&self) -> Duration {
        Duration::from_millis(self.liveness_timeout_ms)
    }
}
