//! Always-on tick-to-trade: per-session latency histograms in a `/dev/shm` file.
//!
//! ```text
//! [BoardHeader 128 B][SessionHeader 128 B][counts: u64 × COUNTS_LEN] × sessions
//! ```
//!
//! The server creates the board (0600) next to its session directory and, on the
//! thread that reads algo orders, records for every order that names its trigger tick
//! `arrival_tsc − publish_tsc(trigger)` in nanoseconds ([`LatencyBoard::record_ns`]).
//! A record is a handful of loads and stores to two cache lines: no allocation, no
//! syscall, no lock, no read-modify-write instruction (there is one writer per board).
//!
//! The buckets are HdrHistogram's for 1 ns – 10 s at 3 significant digits: bucket `i` of
//! the board is index `i` of `Histogram::<u64>::new_with_bounds(1, 10 s, 3)`, so a
//! reader ([`BoardReader`], `tickgate latency`) converts a session into an
//! `hdrhistogram::Histogram` exactly, with no re-binning. A reader maps the file
//! read-only and writes nothing the core reads; what it costs the core is that its
//! next write to each line it copied misses once (an RFO), per snapshot.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hdrhistogram::Histogram;

use super::directory::{create_mapped, pack, unpack};
use super::wire::OrderHeader;
use crate::clock::Clock;
use crate::ring::shm::ShmError;

/// "TGLATNCY", the first word of a latency board.
pub const BOARD_MAGIC: u64 = u64::from_le_bytes(*b"TGLATNCY");
/// Layout version of the board file.
pub const BOARD_VERSION: u32 = 1;
/// Significant digits of every session's histogram (HdrHistogram's `sigfig`).
pub const SIGFIG: u8 = 3;
/// The largest value a histogram holds, ns (10 s); larger values are clamped to it and
/// counted in `clamped`.
pub const HIGHEST_NS: u64 = 10_000_000_000;

/// `log2` of HdrHistogram's sub-bucket count for [`SIGFIG`] digits (2048 sub-buckets).
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
/// HdrHistogram's `leading_zero_count_base` with a unit magnitude of 0 (lowest = 1).
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_COUNT_MAGNITUDE;

/// HdrHistogram's bucket count for lowest 1, highest [`HIGHEST_NS`], [`SIGFIG`].
const fn bucket_count() -> usize {
    let mut smallest_untrackable = 1u64 << SUB_BUCKET_COUNT_MAGNITUDE;
    let mut buckets = 1;
    while smallest_untrackable <= HIGHEST_NS {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    buckets
}

/// Counters per session histogram (25,600 for 10 s at 3 digits: 200 KiB).
pub const COUNTS_LEN: usize = (bucket_count() + 1) * SUB_BUCKET_HALF_COUNT;

/// The counter index of `value` (≤ [`HIGHEST_NS`]), as HdrHistogram computes it.
#[inline(always)]
fn index_of(value: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// The lowest value that lands in counter `index` (it maps back to `index`).
fn value_of(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub_bucket as u64) << bucket
}

#[repr(C, align(128))]
struct BoardHeader {
    magic: AtomicU64,
    version: u32,
    sessions: u32,
    sigfig: u32,
    counts_len: u32,
    highest_ns: u64,
    creator_pid: u32,
    _pad: u32,
    /// When the server created the board, Unix time in ns.
    created_unix_ns: u64,
}

/// One session's header line. Only the server writes it.
#[repr(C, align(128))]
struct SessionHeader {
    /// The account's username, space-padded (0 = no account on this index).
    username: AtomicU64,
    /// Orders recorded.
    samples: AtomicU64,
    /// Largest latency recorded, exact (the buckets round to 3 digits).
    max_ns: AtomicU64,
    /// Values above [`HIGHEST_NS`], recorded as [`HIGHEST_NS`].
    clamped: AtomicU64,
    /// Orders whose trigger tick was not on the ring any more (lapped) or not yet
    /// published: not recorded.
    unknown_trigger: AtomicU64,
    /// The last recorded order's trigger publish TSC and arrival TSC, stored before
    /// the order runs: an algo that has read the answer to its order (the response
    /// ring's Release/Acquire pair orders them) finds that order's stamps here (the
    /// benchmark's per-order stages).
    last_publish_tsc: AtomicU64,
    last_arrival_tsc: AtomicU64,
    _pad: AtomicU32,
}

const _: () = assert!(size_of::<BoardHeader>() == 128);
const _: () = assert!(size_of::<SessionHeader>() == 128);
const HEADER_BYTES: usize = 128;
const SESSION_BYTES: usize = (128 + COUNTS_LEN * 8).next_multiple_of(128);

/// Bytes of a board for `sessions` sessions.
pub fn board_bytes(sessions: usize) -> usize {
    HEADER_BYTES + sessions * SESSION_BYTES
}

/// The board file of the session directory at `directory`: `<directory>.latency`.
pub fn board_path(directory: &Path) -> PathBuf {
    let mut p = directory.as_os_str().to_owned();
    p.push(".latency");
    PathBuf::from(p)
}

/// Why a board could not be read.
#[derive(Debug)]
pub enum BoardError {
    /// Creating, opening or mapping the file failed.
    Shm(ShmError),
    /// The file is not a latency board of this version.
    BadBoard {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shm(e) => e.fmt(f),
            Self::BadBoard { path, reason } => {
                write!(f, "{} is not a latency board: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for BoardError {}

impl From<ShmError> for BoardError {
    fn from(e: ShmError) -> Self {
        Self::Shm(e)
    }
}

/// The view of a mapping both sides share.
struct View {
    base: *const u8,
    sessions: usize,
}

impl View {
    fn header(&self) -> &BoardHeader {
        // SAFETY: the mapping is at least `HEADER_BYTES` long (checked when mapped or
        // sized when created) and page-aligned; every field is an integer or atomic.
        unsafe { &*(self.base as *const BoardHeader) }
    }

    fn session(&self, i: usize) -> &SessionHeader {
        assert!(i < self.sessions, "session {i} of {}", self.sessions);
        // SAFETY: i < sessions, and the mapping holds `sessions` strides after the
        // header (checked); each stride starts 128-aligned with a SessionHeader.
        unsafe { &*(self.base.add(HEADER_BYTES + i * SESSION_BYTES) as *const SessionHeader) }
    }

    fn counts(&self, i: usize) -> &[AtomicU64] {
        assert!(i < self.sessions, "session {i} of {}", self.sessions);
        // SAFETY: as in `session`; the stride holds COUNTS_LEN 8-aligned u64 counters
        // after the 128-byte session header.
        unsafe {
            std::slice::from_raw_parts(
                self.base.add(HEADER_BYTES + i * SESSION_BYTES + 128) as *const AtomicU64,
                COUNTS_LEN,
            )
        }
    }
}

/// The server's side: creates the board and records into it. One writer: the thread
/// that reads algo orders (`&self` methods, but not `Sync`).
pub struct LatencyBoard {
    path: PathBuf,
    /// The file's inode: dropping removes the path only while it is still this file.
    ino: u64,
    _map: memmap2::MmapRaw,
    view: View,
    clock: Clock,
}

// SAFETY: the board owns its mapping; moving it to another thread moves the only
// writer with it (it is deliberately not Sync).
unsafe impl Send for LatencyBoard {}

impl LatencyBoard {
    /// Creates the board at `path` (0600) for `usernames.len()` sessions, index =
    /// the core's session id. A file already at `path` (a previous start's) is
    /// replaced; readers that still map it keep the old one. `clock` converts TSC
    /// intervals to ns.
    pub fn create(path: &Path, usernames: &[&str], clock: Clock) -> Result<Self, BoardError> {
        let _ = std::fs::remove_file(path);
        let sessions = usernames.len();
        let (file, map) = create_mapped(path, board_bytes(sessions) as u64)?;
        let ino = std::os::unix::fs::MetadataExt::ino(
            &file.metadata().map_err(ShmError::io(path, "stat"))?,
        );
        let view = View {
            base: map.as_ptr(),
            sessions,
        };
        for (i, name) in usernames.iter().enumerate() {
            let packed = pack::<8>(name).map_or(0, u64::from_le_bytes);
            view.session(i).username.store(packed, Ordering::Relaxed);
        }
        // SAFETY: the mapping is writable, page-aligned and at least a header long;
        // nobody else reads the fields below before the magic is published.
        let h = unsafe { &mut *(map.as_mut_ptr() as *mut BoardHeader) };
        h.version = BOARD_VERSION;
        h.sessions = sessions as u32;
        h.sigfig = u32::from(SIGFIG);
        h.counts_len = COUNTS_LEN as u32;
        h.highest_ns = HIGHEST_NS;
        h.creator_pid = std::process::id();
        h.created_unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // Pairs with the reader's Acquire load of the magic: the header is complete.
        h.magic.store(BOARD_MAGIC, Ordering::Release);
        Ok(Self {
            path: path.to_path_buf(),
            ino,
            _map: map,
            view,
            clock,
        })
    }

    /// `serve`'s board: `<ipc directory>.latency` for the configured accounts (index =
    /// session id), with a freshly calibrated clock.
    pub fn create_for_serve(config: &crate::config::Config) -> Result<Self, BoardError> {
        let names: Vec<&str> = config
            .accounts
            .iter()
            .map(|a| a.username.as_str())
            .collect();
        let clock = Clock::calibrate(std::time::Duration::from_millis(20));
        Self::create(&board_path(&config.ipc.directory_path()), &names, clock)
    }

    /// The board file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sessions on the board.
    pub fn sessions(&self) -> usize {
        self.view.sessions
    }

    /// Records one tick-to-trade latency of `session`. Out-of-range sessions are
    /// ignored (a hot-path call never panics on a peer's data).
    #[inline]
    pub fn record_ns(&self, session: usize, ns: u64) {
        if session >= self.view.sessions {
            return;
        }
        let h = self.view.session(session);
        let v = ns.clamp(1, HIGHEST_NS);
        if v != ns.max(1) {
            bump(&h.clamped);
        }
        // NB: one writer, so load + store rather than `fetch_add` (a `lock xadd`):
        // measured here 1.2 ns against 11–12 ns per counter bump (50M bumps over
        // 2048 counters, one thread). Readers see each counter only move forward.
        bump(&self.view.counts(session)[index_of(v)]);
        bump(&h.samples);
        if ns > h.max_ns.load(Ordering::Relaxed) {
            h.max_ns.store(ns, Ordering::Relaxed);
        }
    }

    /// Records the order of `session` that arrived at `arrival_tsc`, triggered by the
    /// tick published at `publish_tsc`, and keeps both stamps as the session's last.
    #[inline]
    pub fn record_order(&self, session: usize, publish_tsc: u64, arrival_tsc: u64) {
        if session >= self.view.sessions {
            return;
        }
        let h = self.view.session(session);
        h.last_publish_tsc.store(publish_tsc, Ordering::Relaxed);
        // Pairs with the Acquire load in `BoardReader::last_order`: a reader that
        // sees this arrival sees this publish.
        h.last_arrival_tsc.store(arrival_tsc, Ordering::Release);
        let ns = self
            .clock
            .ticks_to_ns(arrival_tsc.saturating_sub(publish_tsc));
        self.record_ns(session, ns);
    }

    /// Counts an order whose trigger tick could not be found (not recorded).
    #[inline]
    pub fn unknown_trigger(&self, session: usize) {
        if session < self.view.sessions {
            bump(&self.view.session(session).unknown_trigger);
        }
    }
}

/// The session layer's algo-order hook (`Sessions::set_algo_order_hook`) that feeds
/// `board`: for an order naming its trigger tick, its arrival TSC (taken by the
/// session layer when it read the record) against `publish_tsc(trigger)` (the core's
/// TSC when that ITCH message was committed; `None` if it is no longer known:
/// counted, not recorded). Orders with no trigger (`trigger_md_seq == 0`) cost one
/// compare.
pub fn order_hook(
    board: LatencyBoard,
    mut publish_tsc: impl FnMut(u64) -> Option<u64> + 'static,
) -> super::wire::AlgoOrderHook {
    Box::new(move |session, header: OrderHeader, arrival| {
        if header.trigger_md_seq == 0 {
            return;
        }
        match publish_tsc(header.trigger_md_seq) {
            Some(publish) => board.record_order(usize::from(session), publish, arrival),
            None => board.unknown_trigger(usize::from(session)),
        }
    })
}

#[inline(always)]
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl Drop for LatencyBoard {
    fn drop(&mut self) {
        let ours = std::fs::metadata(&self.path)
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == self.ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An operator's read-only view of a board (`tickgate latency`).
pub struct BoardReader {
    _map: memmap2::Mmap,
    view: View,
    created_unix_ns: u64,
    creator_pid: u32,
}

/// One session's histogram as read.
#[derive(Debug)]
pub struct SessionLatency {
    /// Index = the core's session id.
    pub session: usize,
    /// The account's username.
    pub username: String,
    /// Tick publish → order arrival, ns.
    pub hist: Histogram<u64>,
    /// Largest value recorded, exact.
    pub max_ns: u64,
    /// Values above 10 s (recorded as 10 s).
    pub clamped: u64,
    /// Orders whose trigger tick was not found (not recorded).
    pub unknown_trigger: u64,
}

impl BoardReader {
    /// Maps the board at `path` read-only and validates its header.
    pub fn open(path: &Path) -> Result<Self, BoardError> {
        let bad = |reason: String| BoardError::BadBoard {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(ShmError::io(path, "open"))?;
        let len = file.metadata().map_err(ShmError::io(path, "stat"))?.len() as usize;
        if len < HEADER_BYTES {
            return Err(bad(format!("{len} bytes is shorter than its header")));
        }
        // SAFETY: a read-only shared mapping; the server changes the counters under
        // us, which is why every access goes through atomics (atomic loads from
        // read-only memory are allowed for lock-free sizes).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(ShmError::io(path, "map"))?;
        let mut view = View {
            base: map.as_ptr(),
            sessions: 0,
        };
        let h = view.header();
        // Pairs with the Release store of the magic in `LatencyBoard::create`.
        if h.magic.load(Ordering::Acquire) != BOARD_MAGIC {
            return Err(bad(
                "no board magic (not initialised, or not a board)".into()
            ));
        }
        if h.version != BOARD_VERSION {
            return Err(bad(format!(
                "version {} (expected {BOARD_VERSION})",
                h.version
            )));
        }
        if h.sigfig != u32::from(SIGFIG)
            || h.counts_len as usize != COUNTS_LEN
            || h.highest_ns != HIGHEST_NS
        {
            return Err(bad("histogram layout differs from this binary's".into()));
        }
        let sessions = h.sessions as usize;
        if len < board_bytes(sessions) {
            return Err(bad(format!("{len} bytes cannot hold {sessions} sessions")));
        }
        let (created_unix_ns, creator_pid) = (h.created_unix_ns, h.creator_pid);
        view.sessions = sessions;
        Ok(Self {
            _map: map,
            view,
            created_unix_ns,
            creator_pid,
        })
    }

    /// Sessions on the board.
    pub fn sessions(&self) -> usize {
        self.view.sessions
    }

    /// When the server created the board, Unix ns.
    pub fn created_unix_ns(&self) -> u64 {
        self.created_unix_ns
    }

    /// The pid of the server that created the board.
    pub fn creator_pid(&self) -> u32 {
        self.creator_pid
    }

    /// Session `i`'s last recorded order: (trigger publish TSC, arrival TSC).
    pub fn last_order(&self, i: usize) -> (u64, u64) {
        let h = self.view.session(i);
        // Pairs with the Release store in `LatencyBoard::record_order`.
        let arrival = h.last_arrival_tsc.load(Ordering::Acquire);
        (h.last_publish_tsc.load(Ordering::Relaxed), arrival)
    }

    /// Copies session `i`'s counters into an HdrHistogram (1 ns – 10 s, 3 digits).
    /// The counters keep moving while they are copied: the copy is a consistent
    /// histogram of a few samples more or less than any single instant's.
    pub fn session(&self, i: usize) -> SessionLatency {
        let h = self.view.session(i);
        let mut hist =
            Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG).expect("valid histogram bounds");
        for (index, c) in self.view.counts(i).iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                hist.saturating_record_n(value_of(index), n);
            }
        }
        SessionLatency {
            session: i,
            username: unpack(&h.username.load(Ordering::Relaxed).to_le_bytes()),
            hist,
            max_ns: h.max_ns.load(Ordering::Relaxed),
            clamped: h.clamped.load(Ordering::Relaxed),
            unknown_trigger: h.unknown_trigger.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tickgate-latency-{tag}-{}", std::process::id()))
    }

    fn values() -> Vec<u64> {
        // Deterministic spread over every bucket: small, boundary and huge values.
        let mut v = vec![0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 123_456];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(x >> (x % 40 + 24));
        }
        v.push(HIGHEST_NS);
        v
    }

    #[test]
    fn counter_indices_round_trip_and_cover_ten_seconds() {
        for i in 0..COUNTS_LEN {
            assert_eq!(index_of(value_of(i)), i, "index {i}");
        }
        assert!(index_of(HIGHEST_NS) < COUNTS_LEN);
        assert_eq!(COUNTS_LEN, 25 * 1024);
    }

    #[test]
    fn board_histogram_equals_hdrhistogram_of_the_same_values() {
        let path = temp_path("equal");
        let board = LatencyBoard::create(&path, &["ALGO1", "ALGO2"], Clock::monotonic()).unwrap();
        let mut direct = Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, SIGFIG).unwrap();
        for v in values() {
            board.record_ns(1, v);
            direct.record(v.clamp(1, HIGHEST_NS)).unwrap();
        }
        let reader = BoardReader::open(&path).unwrap();
        assert_eq!(reader.sessions(), 2);
        let s = reader.session(1);
        assert_eq!(s.username, "ALGO2");
        assert_eq!(s.hist.len(), direct.len());
        let got: Vec<_> = s
            .hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let want: Vec<_> = direct
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        assert_eq!(got, want);
        for q in [0.5, 0.99, 0.999, 1.0] {
            assert_eq!(s.hist.value_at_quantile(q), direct.value_at_quantile(q));
        }
        assert_eq!(s.max_ns, values().into_iter().max().unwrap());
        assert_eq!(reader.session(0).hist.len(), 0);
        assert_eq!(reader.session(0).username, "ALGO1");
    }

    #[test]
    fn out_of_range_values_are_clamped_and_counted_and_bad_sessions_ignored() {
        let path = temp_path("clamp");
        let board = LatencyBoard::create(&path, &["A"], Clock::monotonic()).unwrap();
        board.record_ns(0, HIGHEST_NS * 3);
        board.record_ns(7, 5); // no such session: ignored, no panic
        board.unknown_trigger(0);
        board.unknown_trigger(9);
        let r = BoardReader::open(&path).unwrap();
        let s = r.session(0);
        assert_eq!((s.hist.len(), s.clamped, s.unknown_trigger), (1, 1, 1));
        assert_eq!(s.max_ns, HIGHEST_NS * 3);
        // A monotonic clock's ticks are ns: the order is recorded as 250 ns.
        board.record_order(0, 1_000, 1_250);
        board.record_order(0, 2_000, 1_000); // arrival before publish: 0 → 1 ns
        assert_eq!(r.last_order(0), (2_000, 1_000));
        let s = r.session(0);
        assert_eq!(s.hist.len(), 3);
        assert_eq!(s.hist.count_at(250), 1);
        assert_eq!(s.hist.count_at(1), 1);
    }

    #[test]
    fn board_file_is_private_and_removed_with_the_board() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("mode");
        let board = LatencyBoard::create(&path, &["A"], Clock::monotonic()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second start replaces a stale board.
        let again = LatencyBoard::create(&path, &["A", "B"], Clock::monotonic()).unwrap();
        drop(board); // the old board leaves the new start's file alone
        assert_eq!(BoardReader::open(&path).unwrap().sessions(), 2);
        drop(again);
        assert!(!path.exists());
    }

    #[test]
    fn reader_refuses_files_that_are_not_boards() {
        let path = temp_path("foreign");
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        assert!(matches!(
            BoardReader::open(&path),
            Err(BoardError::BadBoard { .. })
        ));
        std::fs::write(&path, b"short").unwrap();
        assert!(BoardReader::open(&path).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
