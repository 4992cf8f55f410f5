//! One segment file: a 128-byte [`SegmentHeader`], then records back to back.
//!
//! A record is `{len u32, crc32c u32, seq u64, ts_ns u64, payload}` padded to 8 bytes;
//! `len` is the payload length and is stored last (with `Release`), so a record whose
//! `len` is non-zero has all its bytes in the page cache. The CRC covers `len`, `seq`,
//! `ts_ns` and the payload. A zero `len` ends the segment's records.
//!
//! A segment is created under a temporary name, pre-allocated, given its header with the
//! magic stored last, then linked to its final name (never replacing an existing file),
//! so a half-created segment is never seen. It starts *prepared*; the writer *activates*
//! it (stores the first sequence number, then the state) just before its first record.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use super::{Durability, JournalConfig, JournalError, io_err};

/// "TGJOURNL" in ASCII, little-endian: the first word of every segment.
pub const JOURNAL_MAGIC: u64 = u64::from_le_bytes(*b"TGJOURNL");
/// Layout version; bumped on any change to the header or record layout. 2: records
/// carry a CRC-32C (version 1: CRC-32, IEEE).
pub const JOURNAL_VERSION: u32 = 2;
/// Bytes of the segment header; records start here.
pub const HEADER_BYTES: usize = 128;
/// Bytes of a record's header: `len`, `crc32c`, `seq`, `ts_ns`.
pub const RECORD_HEADER_BYTES: usize = 24;
/// Records start on multiples of this.
pub const RECORD_ALIGN: usize = 8;

pub(crate) const STATE_PREPARED: u32 = 1;
pub(crate) const STATE_ACTIVE: u32 = 2;

/// Bytes a record with a `payload_bytes` payload takes, padding included.
#[inline]
pub const fn frame_bytes(payload_bytes: usize) -> usize {
    (RECORD_HEADER_BYTES + payload_bytes + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1)
}

/// The file of segment `index` in `dir`.
pub fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("seg-{index:010}.tgj"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".tgj")?
        .parse()
        .ok()
}

/// The first 128 bytes of every segment.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct SegmentHeader {
    /// [`JOURNAL_MAGIC`] once the header is written; 0 before.
    magic: AtomicU64,
    version: u32,
    header_bytes: u32,
    index: u64,
    segment_bytes: u64,
    fingerprint: u64,
    max_payload_bytes: u32,
    record_align: u32,
    /// Sequence number of the first record; meaningful once `state` is active.
    first_seq: AtomicU64,
    /// [`STATE_PREPARED`] or [`STATE_ACTIVE`].
    state: AtomicU32,
    creator_pid: u32,
}

const _: () = assert!(size_of::<SegmentHeader>() == HEADER_BYTES);
const _: () = assert!(std::mem::offset_of!(SegmentHeader, first_seq) == 48);

/// A mapped segment file.
pub(crate) struct Segment {
    map: MmapRaw,
    /// Kept open for `fdatasync` by its owner.
    file: File,
    pub(crate) index: u64,
    pub(crate) path: PathBuf,
}

// SAFETY: the mapping is plain shared memory; every access goes through raw pointers
// whose exclusivity the owner (writer, reader) guarantees, as documented on each use.
unsafe impl Send for Segment {}

impl Segment {
    /// Creates (or reuses an existing prepared) segment `index` for `config`, mapped
    /// writable and pre-faulted.
    pub(crate) fn prepare(config: &JournalConfig, index: u64) -> Result<Self, JournalError> {
        let path = segment_path(&config.dir, index);
        if !path.exists() {
            create(config, index, &path)?;
        }
        let seg = Self::open(&path, index, true)?;
        seg.validate(Some(config.fingerprint), false)?;
        if seg.max_payload_bytes() != config.max_payload_bytes {
            return Err(seg.mismatch(
                "max_payload_bytes",
                seg.max_payload_bytes() as u64,
                config.max_payload_bytes as u64,
            ));
        }
        seg.prefault();
        if config.durability == Durability::Sync && !seg.is_active() {
            // NB: the pre-fault dirtied every page. Writing them back here, off the hot
            // path, keeps the flusher's first fdatasync of this segment from writing the
            // whole segment, and turns ext4's unwritten extents into written ones, so
            // later fdatasyncs carry no extent conversion.
            seg.sync_data()?;
        }
        Ok(seg)
    }

    /// Maps an existing segment file (header not yet validated).
    pub(crate) fn open(path: &Path, index: u64, writable: bool) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_err(path, "open segment"))?;
        let len = file.metadata().map_err(io_err(path, "stat segment"))?.len();
        if len < HEADER_BYTES as u64 {
            return Err(JournalError::BadHeader {
                path: path.into(),
                field: "file length",
                found: len,
                expected: HEADER_BYTES as u64,
            });
        }
        let opts = MmapOptions::new();
        let map = if writable {
            opts.map_raw(&file)
        } else {
            opts.map_raw_read_only(&file)
        }
        .map_err(io_err(path, "map segment"))?;
        Ok(Self {
            map,
            file,
            index,
            path: path.into(),
        })
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Bytes of the mapping (the file's length).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn header(&self) -> &SegmentHeader {
        // SAFETY: the mapping is at least HEADER_BYTES long (checked in `open`) and
        // page-aligned; every header field is plain data or an atomic.
        unsafe { &*(self.base() as *const SegmentHeader) }
    }

    pub(crate) fn is_active(&self) -> bool {
        // Acquire pairs with the Release in `activate`: first_seq is visible.
        self.header().state.load(Ordering::Acquire) == STATE_ACTIVE
    }

    pub(crate) fn first_seq(&self) -> u64 {
        self.header().first_seq.load(Ordering::Relaxed)
    }

    pub(crate) fn max_payload_bytes(&self) -> u32 {
        self.header().max_payload_bytes
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.header().fingerprint
    }

    /// Marks the segment as holding records from `first_seq` on.
    pub(crate) fn activate(&self, first_seq: u64) {
        let h = self.header();
        h.first_seq.store(first_seq, Ordering::Relaxed);
        // Release pairs with the Acquire in `is_active`.
        h.state.store(STATE_ACTIVE, Ordering::Release);
    }

    /// `fdatasync`s the file.
    pub(crate) fn sync_data(&self) -> Result<(), JournalError> {
        self.file
            .sync_data()
            .map_err(io_err(&self.path, "fdatasync segment"))
    }

    fn mismatch(&self, field: &'static str, found: u64, expected: u64) -> JournalError {
        JournalError::BadHeader {
            path: self.path.clone(),
            field,
            found,
            expected,
        }
    }

    /// The length the header says the file has.
    pub(crate) fn header_segment_bytes(&self) -> u64 {
        self.header().segment_bytes
    }

    /// Checks every header field; `fingerprint` `None` accepts any. `allow_short`
    /// accepts a file shorter than its header says (a last segment cut by hand or by a
    /// file-system repair: recovery treats the cut record as a torn tail).
    pub(crate) fn validate(
        &self,
        fingerprint: Option<u64>,
        allow_short: bool,
    ) -> Result<(), JournalError> {
        let h = self.header();
        // Acquire pairs with the Release of the magic in `create`.
        let magic = h.magic.load(Ordering::Acquire);
        let state = h.state.load(Ordering::Relaxed);
        let checks = [
            ("magic", magic, JOURNAL_MAGIC),
            ("version", h.version as u64, JOURNAL_VERSION as u64),
            ("header_bytes", h.header_bytes as u64, HEADER_BYTES as u64),
            ("index", h.index, self.index),
            ("record_align", h.record_align as u64, RECORD_ALIGN as u64),
        ];
        for (field, found, expected) in checks {
            if found != expected {
                return Err(self.mismatch(field, found, expected));
            }
        }
        let len = self.len() as u64;
        if h.segment_bytes < len || (h.segment_bytes > len && !allow_short) {
            return Err(self.mismatch("segment_bytes (file length)", len, h.segment_bytes));
        }
        if state != STATE_PREPARED && state != STATE_ACTIVE {
            return Err(self.mismatch("state", state as u64, STATE_ACTIVE as u64));
        }
        match fingerprint {
            Some(want) if want != h.fingerprint => Err(JournalError::FingerprintMismatch {
                path: self.path.clone(),
                found: h.fingerprint,
                expected: want,
            }),
            _ => Ok(()),
        }
    }

    /// Write-faults every page so the writer never takes a page fault on a fresh page
    /// (no byte changes, even if another mapping of the file is being written).
    fn prefault(&self) {
        crate::ring::shm::populate_write(self.base(), self.len());
    }

    /// Zeroes `[from, to)`: cuts a torn or dropped tail.
    pub(crate) fn zero(&self, from: usize, to: usize) {
        assert!(
            from <= to && to <= self.len(),
            "zero range out of the segment"
        );
        // SAFETY: in bounds (asserted); the caller (recovery) is the only user of the
        // mapping, which is writable.
        unsafe { std::ptr::write_bytes(self.base().add(from), 0, to - from) };
    }
}

/// Creates segment `index` at `path` through a temporary file, never replacing a file
/// that appeared meanwhile (the writer and the preparer may race to create it).
fn create(config: &JournalConfig, index: u64, path: &Path) -> Result<(), JournalError> {
    static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = config
        .dir
        .join(format!("seg-{index:010}.tmp-{}-{n}", std::process::id()));
    let result =
        write_new(config, index, &tmp).and_then(|()| match std::fs::hard_link(&tmp, path) {
            Ok(()) => sync_dir(&config.dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_err(path, "link new segment")(e)),
        });
    let _ = std::fs::remove_file(&tmp);
    result
}

fn write_new(config: &JournalConfig, index: u64, tmp: &Path) -> Result<(), JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io_err(tmp, "create segment"))?;
    allocate(&file, config.segment_bytes, tmp)?;
    let seg = Segment {
        map: MmapOptions::new()
            .map_raw(&file)
            .map_err(io_err(tmp, "map new segment"))?,
        file,
        index,
        path: tmp.into(),
    };
    write_header(&seg, config);
    seg.sync_data()
}

/// Reserves the blocks (so the hot path never meets ENOSPC), falling back to `set_len`.
fn allocate(file: &File, bytes: usize, path: &Path) -> Result<(), JournalError> {
    // SAFETY: a plain syscall on a valid open descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, bytes as libc::off_t) };
    if rc == 0 {
        return Ok(());
    }
    if rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
        return Err(io_err(path, "fallocate segment")(
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    file.set_len(bytes as u64)
        .map_err(io_err(path, "size segment"))
}

fn write_header(seg: &Segment, config: &JournalConfig) {
    let h = seg.base() as *mut SegmentHeader;
    // SAFETY: the mapping is `segment_bytes` ≥ HEADER_BYTES long, page-aligned and
    // private to this function until the file is linked under its final name.
    unsafe {
        (*h).version = JOURNAL_VERSION;
        (*h).header_bytes = HEADER_BYTES as u32;
        (*h).index = seg.index;
        (*h).segment_bytes = config.segment_bytes as u64;
        (*h).fingerprint = config.fingerprint;
        (*h).max_payload_bytes = config.max_payload_bytes;
        (*h).record_align = RECORD_ALIGN as u32;
        (*h).creator_pid = std::process::id();
        (*h).state.store(STATE_PREPARED, Ordering::Relaxed);
        // Release pairs with the Acquire in `validate`: the fields above are visible.
        (*h).magic.store(JOURNAL_MAGIC, Ordering::Release);
    }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "fsync journal directory"))
}

/// Segment indices present in `dir`, ascending and contiguous.
pub(crate) fn list(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, "list journal directory")(e)),
    };
    let mut indices = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir, "list journal directory"))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_segment_name) {
            indices.push(i);
        }
    }
    indices.sort_unstable();
    for pair in indices.windows(2) {
        if pair[1] != pair[0] + 1 {
            return Err(JournalError::MissingSegment {
                dir: dir.into(),
                index: pair[0] + 1,
            });
        }
    }
    Ok(indices)
}

/// Removes temporary files a crashed segment creation left behind.
pub(crate) fn remove_stale_temps(dir: &Path) -> Result<(), JournalError> {
    let entries = std::fs::read_dir(dir).map_err(io_err(dir, "list journal directory"))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("seg-") && name.contains(".tmp-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// One record as found in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A zero `len`, or no room for another record header: no more records here.
    End,
    /// A whole record whose CRC matches.
    Record {
        seq: u64,
        ts_ns: u64,
        payload: &'a [u8],
        next: usize,
    },
    /// The `len` field is larger than the segment allows.
    BadLength(u32),
    /// A plausible `len` whose record runs past the end of the file (cut short).
    Short(u32),
    /// The stored CRC differs from the computed one; `next` is where the record ends.
    BadCrc {
        stored: u32,
        computed: u32,
        next: usize,
    },
}

/// Reads the record at `off` of `bytes` (a whole segment).
pub(crate) fn read_frame(bytes: &[u8], off: usize, max_payload: u32) -> Frame<'_> {
    if off + RECORD_HEADER_BYTES > bytes.len() {
        return Frame::End;
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let dword = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let len = word(off);
    if len == 0 {
        return Frame::End;
    }
    let next = off + frame_bytes(len as usize);
    if len > max_payload {
        return Frame::BadLength(len);
    }
    if next > bytes.len() {
        return Frame::Short(len);
    }
    let body = &bytes[off + 8..off + RECORD_HEADER_BYTES + len as usize];
    let computed = record_crc(len, body);
    let stored = word(off + 4);
    if stored != computed {
        return Frame::BadCrc {
            stored,
            computed,
            next,
        };
    }
    Frame::Record {
        seq: dword(off + 8),
        ts_ns: dword(off + 16),
        payload: &body[16..],
        next,
    }
}

/// The CRC of a record: CRC-32C over `len` (little-endian) then `seq`, `ts_ns` and the
/// payload.
#[inline]
pub(crate) fn record_crc(len: u32, body: &[u8]) -> u32 {
    super::crc::record_crc(len, body)
}
