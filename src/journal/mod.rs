//! The matching core's input journal: memory-mapped, segmented, append-only, CRC per
//! record (see `docs/JOURNAL.md`).
//!
//! Data flow:
//!
//! 1. At start-up the core calls [`JournalReader::open`] and [`JournalReader::for_each`]
//!    to verify and replay every record; a torn tail (a half-written last record) is
//!    cut off, a CRC failure before the tail is refused unless the operator asked to
//!    truncate there ([`ReadOptions::truncate_at_corruption`]).
//! 2. [`open_writer`] resumes at the recovered tail and returns the three agents:
//!    the [`JournalWriter`] (owned by the core thread), a [`SegmentPreparer`] and a
//!    [`Flusher`] (run by a housekeeping thread).
//! 3. The core calls [`JournalWriter::append`] for each accepted input — stores into the
//!    mapped page cache, no syscall — and publishes responses only for sequence numbers
//!    below [`JournalWriter::ack_position`].
//! 4. The preparer creates, pre-allocates and pre-faults the next segment before the
//!    writer needs it; in `sync` mode the flusher `fdatasync`s (group commit) and
//!    advances the durable position.

mod cli;
mod crc;
mod flusher;
mod preparer;
mod reader;
mod segment;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cli::{
    DumpArgs, ReplayArgs, StatsArgs, VerifyArgs, run_dump, run_replay, run_stats, run_verify,
};
pub use crc::{crc32c, record_crc};
pub use flusher::Flusher;
pub use preparer::SegmentPreparer;
pub use reader::{Corruption, CorruptionKind, JournalReader, ReadOptions, Recovery, TornTail};
pub use segment::{
    HEADER_BYTES, JOURNAL_MAGIC, JOURNAL_VERSION, RECORD_ALIGN, RECORD_HEADER_BYTES, frame_bytes,
    segment_path,
};
pub use writer::{AppendError, JournalStats, JournalWriter};

use writer::Shared;

/// When an appended record counts as safe, and so when its ack may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// The record is in the page cache when `append` returns: a process crash loses
    /// nothing, a power loss may lose what the kernel had not written back yet.
    #[default]
    Process,
    /// A [`Flusher`] `fdatasync`s (group commit); acks wait for the durable position.
    Sync,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(Self::Process),
            "sync" => Ok(Self::Sync),
            _ => Err(format!("durability `{s}` is neither `process` nor `sync`")),
        }
    }
}

/// How a journal is laid out and how safe its appends are.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Directory of the segment files (created if missing).
    pub dir: PathBuf,
    /// Bytes per segment file, header included: a multiple of 4096.
    pub segment_bytes: usize,
    /// Largest payload an append accepts.
    pub max_payload_bytes: u32,
    /// A hash of the configuration the records depend on (instruments, limits, …),
    /// stored in every segment: a journal written under another fingerprint is refused.
    /// See [`fingerprint`].
    pub fingerprint: u64,
    /// When an append counts as safe.
    pub durability: Durability,
}

impl JournalConfig {
    /// A configuration with 64 MiB segments and payloads up to 256 bytes.
    pub fn new(dir: impl Into<PathBuf>, fingerprint: u64) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            max_payload_bytes: 256,
            fingerprint,
            durability: Durability::Process,
        }
    }

    /// Checks the rules on the fields.
    pub fn validate(&self) -> Result<(), JournalError> {
        let min = HEADER_BYTES + frame_bytes(self.max_payload_bytes as usize);
        if !self.segment_bytes.is_multiple_of(4096) || self.segment_bytes < min {
            return Err(JournalError::Config(format!(
                "segment_bytes {} must be a multiple of 4096 and at least {min} \
                 (header + one largest record)",
                self.segment_bytes
            )));
        }
        Ok(())
    }
}

/// FNV-1a of `bytes`: a stable fingerprint of a configuration's canonical text.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Why a journal could not be opened, recovered, extended or flushed. Each variant
/// names what to fix.
#[derive(Debug)]
pub enum JournalError {
    /// A system call on a file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration breaks a rule.
    Config(String),
    /// A segment header is not a tickgate journal header or does not fit this build.
    BadHeader {
        /// The segment file.
        path: PathBuf,
        /// The field that is wrong.
        field: &'static str,
        /// The value in the file.
        found: u64,
        /// The value expected.
        expected: u64,
    },
    /// The journal was written under another configuration.
    FingerprintMismatch {
        /// The segment file.
        path: PathBuf,
        /// The fingerprint in the file.
        found: u64,
        /// The caller's fingerprint.
        expected: u64,
    },
    /// Segment files are missing between two others.
    MissingSegment {
        /// The journal directory.
        dir: PathBuf,
        /// The first missing index.
        index: u64,
    },
    /// A record before the tail fails its check; nothing was modified.
    Corrupt(Corruption),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, op, source } => write!(f, "{op} {}: {source}", path.display()),
            Self::Config(msg) => write!(f, "journal config: {msg}"),
            Self::BadHeader {
                path,
                field,
                found,
                expected,
            } => write!(
                f,
                "{}: header field {field} is {found:#x}, expected {expected:#x}; \
                 not a tickgate journal segment of this version — move it out of the directory",
                path.display()
            ),
            Self::FingerprintMismatch {
                path,
                found,
                expected,
            } => write!(
                f,
                "{} was written under config fingerprint {found:#018x}, this config is \
                 {expected:#018x}; start with the config that wrote it, or move the \
                 journal away to start empty",
                path.display()
            ),
            Self::MissingSegment { dir, index } => write!(
                f,
                "{}: segment {index} is missing between others; restore it from backup",
                dir.display()
            ),
            Self::Corrupt(c) => write!(
                f,
                "{c}; refusing to start. Restore the journal, or pass the explicit \
                 truncate-at-corruption flag to drop this record and everything after it"
            ),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub(crate) fn io_err(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io { path, op, source }
}

/// Opens the writer at the tail `recovery` found (run [`JournalReader::for_each`] with
/// `repair: true` first; an unrepaired torn tail or truncation is refused), with its segment preparer and flusher. Creates the directory
/// and the first segment of an empty journal.
///
/// The core thread owns the writer; a housekeeping thread runs the other two agents'
/// `do_work` (the flusher only matters in [`Durability::Sync`]).
pub fn open_writer(
    config: &JournalConfig,
    recovery: &Recovery,
) -> Result<(JournalWriter, SegmentPreparer, Flusher), JournalError> {
    config.validate()?;
    if !recovery.repaired && (recovery.torn_tail.is_some() || recovery.truncated.is_some()) {
        return Err(JournalError::Config(
            "the recovery found a torn tail or a truncation but did not repair it; \
             read the journal with ReadOptions::repair set before opening the writer"
                .into(),
        ));
    }
    std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir, "create directory"))?;
    segment::remove_stale_temps(&config.dir)?;
    let writer = JournalWriter::open(config, recovery)?;
    let shared: Arc<Shared> = writer.shared();
    let preparer = SegmentPreparer::new(Arc::clone(&shared));
    let flusher = Flusher::new(shared);
    Ok((writer, preparer, flusher))
}
