//! Recovery and replay: verify every record in order, cut a torn tail, refuse (or, when
//! asked, truncate at) corruption before the tail.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::segment::{self, Frame, HEADER_BYTES, RECORD_HEADER_BYTES, Segment, read_frame};
use super::{JournalError, io_err};

/// How to open a journal for reading.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The caller's config fingerprint; a segment with another is refused. `None`
    /// (inspection tools) accepts any, as long as all segments agree.
    pub fingerprint: Option<u64>,
    /// Truncate at a corruption before the tail instead of refusing: the bad record and
    /// everything after it are dropped (with `repair`, the damaged segment is first
    /// copied to `*.corrupt` and later segments are renamed `*.dropped`).
    pub truncate_at_corruption: bool,
    /// Modify the files: zero a torn tail (and apply `truncate_at_corruption`) so a
    /// writer can resume. Without it nothing is written.
    pub repair: bool,
}

/// What is wrong with a record (or a segment's first sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorruptionKind {
    /// The `len` field exceeds the segment's maximum payload or runs past its end.
    BadLength(u32),
    /// The stored CRC differs from the one computed over the record.
    BadCrc {
        /// CRC in the record.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// A whole record with the wrong sequence number: a gap or a repeat.
    SeqGap {
        /// The sequence number that should have followed.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A segment's header says it starts at another sequence number than the previous
    /// segment ended with.
    SegmentFirstSeq {
        /// The sequence number that should have followed.
        expected: u64,
        /// The header's first sequence number.
        found: u64,
    },
    /// A segment that was never activated lies before one holding records.
    InactiveSegment,
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(len) => write!(f, "record length {len} is out of range"),
            Self::BadCrc { stored, computed } => write!(
                f,
                "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Self::SeqGap { expected, found } => {
                write!(f, "sequence gap: expected seq {expected}, found {found}")
            }
            Self::SegmentFirstSeq { expected, found } => write!(
                f,
                "segment starts at seq {found} but the previous one ended before {expected}"
            ),
            Self::InactiveSegment => write!(f, "empty segment before segments with records"),
        }
    }
}

/// Where a journal is corrupt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub path: PathBuf,
    /// Its index.
    pub segment: u64,
    /// Byte offset of the bad record in the file.
    pub offset: usize,
    /// What is wrong.
    pub kind: CorruptionKind,
    /// Records verified before it.
    pub records_before: u64,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal corrupt in {} at byte {} after {} good records: {}",
            self.path.display(),
            self.offset,
            self.records_before,
            self.kind
        )
    }
}

/// A half-written last record (the writer died while storing it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Segment index.
    pub segment: u64,
    /// Byte offset of the torn record.
    pub offset: usize,
    /// Bytes it spans (zeroed when repairing).
    pub bytes: usize,
}

/// What a read of the whole journal found.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Whole, verified records replayed.
    pub records: u64,
    /// Sequence number of the first record.
    pub first_seq: Option<u64>,
    /// The sequence number the next append must carry (`None`: empty journal, any).
    pub next_seq: Option<u64>,
    /// Segments holding records.
    pub active_segments: u64,
    /// Payload bytes replayed.
    pub payload_bytes: u64,
    /// The segment the writer resumes in (`None`: no segment file yet).
    pub tail_segment: Option<u64>,
    /// The byte offset the writer resumes at.
    pub tail_offset: usize,
    /// A torn last record, cut (when repairing) and not replayed.
    pub torn_tail: Option<TornTail>,
    /// Where `truncate_at_corruption` cut the journal.
    pub truncated: Option<Corruption>,
    /// Time spent verifying and replaying.
    pub elapsed: Duration,
    /// Whether the read ran with [`ReadOptions::repair`] (the files match this report).
    pub repaired: bool,
}

impl fmt::Display for Recovery {
    /// One line for the start-up log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal: {} records (seq {:?}, next {:?}) in {} segments verified and replayed \
             in {:.3} s ({:.1} M records/s)",
            self.records,
            self.first_seq,
            self.next_seq,
            self.active_segments,
            self.elapsed.as_secs_f64(),
            self.records_per_s() / 1e6
        )?;
        if let Some(t) = &self.torn_tail {
            write!(
                f,
                "; torn tail of {} bytes cut in segment {}",
                t.bytes, t.segment
            )?;
        }
        if let Some(c) = &self.truncated {
            write!(f, "; TRUNCATED at corruption as asked: {c}")?;
        }
        Ok(())
    }
}

impl Recovery {
    /// Replay speed.
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// An opened journal directory: every segment mapped and its header validated.
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<Segment>,
    opts: ReadOptions,
}

impl JournalReader {
    /// Maps every segment of `dir` (a missing or empty directory is an empty journal)
    /// and validates the headers and the fingerprint.
    pub fn open(dir: &Path, opts: ReadOptions) -> Result<Self, JournalError> {
        let mut segments = Vec::new();
        let mut fingerprint = opts.fingerprint;
        for index in segment::list(dir)? {
            let seg = open_segment(dir, index, opts.repair)?;
            seg.validate(fingerprint, true)?;
            fingerprint = Some(seg.fingerprint());
            segments.push(seg);
        }
        Ok(Self {
            dir: dir.into(),
            segments,
            opts,
        })
    }

    /// Segment files found (active or prepared).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The config fingerprint the segments carry (`None` for an empty journal).
    pub fn fingerprint(&self) -> Option<u64> {
        self.segments.first().map(Segment::fingerprint)
    }

    /// Verifies every record in order and calls `f(seq, ts_ns, payload)` for each whole
    /// one. A torn tail ends the replay (and is zeroed when repairing); corruption before
    /// it returns [`JournalError::Corrupt`] unless `truncate_at_corruption` is set.
    ///
    /// The writer must not be running (a live journal reads as if it had a torn tail).
    pub fn for_each(&self, mut f: impl FnMut(u64, u64, &[u8])) -> Result<Recovery, JournalError> {
        let start = Instant::now();
        let mut rec = Recovery {
            tail_segment: self.segments.first().map(|s| s.index),
            tail_offset: HEADER_BYTES,
            repaired: self.opts.repair,
            ..Recovery::default()
        };
        let Some(last) = self.segments.iter().rposition(Segment::is_active) else {
            rec.elapsed = start.elapsed();
            return Ok(rec);
        };
        for i in 0..=last {
            rec.tail_segment = Some(self.segments[i].index);
            rec.active_segments += 1;
            if !self.scan_segment(i, last, &mut rec, &mut f)? {
                break;
            }
        }
        rec.elapsed = start.elapsed();
        Ok(rec)
    }

    /// Replays segment `i`; returns false when the journal ends inside it.
    fn scan_segment(
        &self,
        i: usize,
        last: usize,
        rec: &mut Recovery,
        f: &mut impl FnMut(u64, u64, &[u8]),
    ) -> Result<bool, JournalError> {
        let seg = &self.segments[i];
        rec.tail_offset = HEADER_BYTES;
        if !seg.is_active() {
            return self.bad(
                i,
                last,
                HEADER_BYTES,
                CorruptionKind::InactiveSegment,
                None,
                rec,
            );
        }
        let mut expect = rec.next_seq.unwrap_or(seg.first_seq());
        if expect != seg.first_seq() {
            let kind = CorruptionKind::SegmentFirstSeq {
                expected: expect,
                found: seg.first_seq(),
            };
            return self.bad(i, last, HEADER_BYTES, kind, None, rec);
        }
        rec.next_seq = Some(expect);
        // SAFETY: the mapping is `len` bytes and stays mapped while `self` lives; the
        // writer is not running (documented precondition), so the bytes do not change.
        let bytes = unsafe { std::slice::from_raw_parts(seg.base(), seg.len()) };
        let max = seg.max_payload_bytes();
        let mut off = HEADER_BYTES;
        loop {
            rec.tail_offset = off;
            let (kind, torn_from) = match read_frame(bytes, off, max) {
                Frame::End => return Ok(true),
                Frame::Record {
                    seq,
                    ts_ns,
                    payload,
                    next,
                } if seq == expect => {
                    f(seq, ts_ns, payload);
                    rec.records += 1;
                    rec.payload_bytes += payload.len() as u64;
                    rec.first_seq.get_or_insert(seq);
                    expect = seq.wrapping_add(1);
                    rec.next_seq = Some(expect);
                    off = next;
                    continue;
                }
                Frame::Record { seq, .. } => (
                    CorruptionKind::SeqGap {
                        expected: expect,
                        found: seq,
                    },
                    None,
                ),
                Frame::Short(len) => (CorruptionKind::BadLength(len), Some(bytes.len())),
                Frame::BadLength(len) => (
                    CorruptionKind::BadLength(len),
                    Some(off + RECORD_HEADER_BYTES),
                ),
                Frame::BadCrc {
                    stored,
                    computed,
                    next,
                } => (CorruptionKind::BadCrc { stored, computed }, Some(next)),
            };
            return self.bad(i, last, off, kind, torn_from, rec);
        }
    }

    /// Handles a bad record at `off` of segment `i`: a torn tail if it is in the last
    /// segment with records and only zeros follow from `torn_from`; otherwise corruption.
    fn bad(
        &self,
        i: usize,
        last: usize,
        off: usize,
        kind: CorruptionKind,
        torn_from: Option<usize>,
        rec: &mut Recovery,
    ) -> Result<bool, JournalError> {
        let seg = &self.segments[i];
        if let Some(from) = torn_from.filter(|_| i == last) {
            let from = from.min(seg.len());
            // SAFETY: as in `scan_segment`.
            let bytes = unsafe { std::slice::from_raw_parts(seg.base(), seg.len()) };
            if bytes[from..].iter().all(|&b| b == 0) {
                if self.opts.repair {
                    seg.zero(off, from);
                }
                rec.torn_tail = Some(TornTail {
                    segment: seg.index,
                    offset: off,
                    bytes: from - off,
                });
                return Ok(false);
            }
        }
        let corruption = Corruption {
            path: seg.path.clone(),
            segment: seg.index,
            offset: off,
            kind,
            records_before: rec.records,
        };
        if !self.opts.truncate_at_corruption {
            return Err(JournalError::Corrupt(corruption));
        }
        if self.opts.repair {
            self.cut(i, off)?;
        }
        rec.truncated = Some(corruption);
        Ok(false)
    }

    /// Drops everything from `off` of segment `i` on, keeping copies for forensics.
    fn cut(&self, i: usize, off: usize) -> Result<(), JournalError> {
        let seg = &self.segments[i];
        let backup = seg.path.with_extension("tgj.corrupt");
        std::fs::copy(&seg.path, &backup).map_err(io_err(&backup, "back up corrupt segment"))?;
        seg.zero(off, seg.len());
        for later in &self.segments[i + 1..] {
            let dropped = later.path.with_extension("tgj.dropped");
            std::fs::rename(&later.path, &dropped)
                .map_err(io_err(&later.path, "move dropped segment aside"))?;
        }
        let _ = std::fs::File::open(&self.dir).and_then(|d| d.sync_all());
        Ok(())
    }
}

/// Maps segment `index`; when repairing, first restores a cut-short segment to its full
/// length (a cut record then reads as a torn tail if it is the last one, as corruption
/// otherwise).
fn open_segment(dir: &Path, index: u64, repair: bool) -> Result<Segment, JournalError> {
    let path = segment::segment_path(dir, index);
    let seg = Segment::open(&path, index, repair)?;
    seg.validate(None, true)?;
    let full = seg.header_segment_bytes();
    if !(repair && (seg.len() as u64) < full) {
        return Ok(seg);
    }
    drop(seg);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(full))
        .map_err(io_err(&path, "restore the length of a cut segment"))?;
    Segment::open(&path, index, repair)
}
