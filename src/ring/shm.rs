//! The memory a ring lives in, and the header a second process validates.
//!
//! A ring is a [`RingDescriptor`] (one 128-byte block: magic, version, kind, capacity,
//! slot size), then ring-specific position lines, then the slots. The creator writes
//! every field and stores the magic last with `Release`; an opener loads the magic with
//! `Acquire` and then checks every field, so a half-initialised file is never used.

use std::fmt;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapRaw;

use super::CACHE_LINE_BYTES;

/// "TICKGATE" in ASCII, little-endian: the first word of every ring file.
pub const RING_MAGIC: u64 = u64::from_le_bytes(*b"TICKGATE");
/// Layout version; bumped on any change to a header or slot layout.
pub const RING_VERSION: u32 = 1;
/// Alignment of every region, descriptor and position line: two cache lines, because
/// the adjacent-line prefetcher pulls lines in pairs (see `crossbeam_utils::CachePadded`).
pub const REGION_ALIGN: usize = 128;

/// Which protocol a ring file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RingKind {
    /// Single producer, single consumer ([`super::spsc`]).
    Spsc = 1,
    /// One writer, many readers ([`super::broadcast`]).
    Broadcast = 2,
}

/// The shape of a ring: how many slots and how big each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Number of slots; a power of two, at most 2^31.
    pub capacity: usize,
    /// Bytes per slot, header included; a multiple of 64.
    pub slot_bytes: usize,
}

impl Layout {
    /// Checks the rules on the fields.
    pub fn validate(&self) -> Result<(), LayoutError> {
        if !self.capacity.is_power_of_two() || self.capacity > 1 << 31 {
            return Err(LayoutError::Capacity(self.capacity));
        }
        if self.slot_bytes == 0 || !self.slot_bytes.is_multiple_of(CACHE_LINE_BYTES) {
            return Err(LayoutError::SlotBytes(self.slot_bytes));
        }
        if self.slot_bytes > u32::MAX as usize {
            return Err(LayoutError::SlotBytes(self.slot_bytes));
        }
        Ok(())
    }
}

/// A [`Layout`] that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// The capacity is not a power of two in 1..=2^31.
    Capacity(usize),
    /// The slot size is not a non-zero multiple of 64 bytes.
    SlotBytes(usize),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Capacity(c) => write!(f, "ring capacity {c} is not a power of two ≤ 2^31"),
            Self::SlotBytes(b) => write!(f, "ring slot size {b} is not a multiple of 64 bytes"),
        }
    }
}

impl std::error::Error for LayoutError {}

/// The first 128 bytes of every ring, private or mapped.
#[derive(Debug)]
#[repr(C, align(128))]
pub struct RingDescriptor {
    /// [`RING_MAGIC`] once the ring is initialised; 0 before.
    magic: AtomicU64,
    version: u32,
    kind: u32,
    capacity: u64,
    slot_bytes: u32,
    /// Byte offset of slot 0 from the start of the region.
    data_offset: u32,
    /// Process that created the ring.
    creator_pid: u32,
    _reserved: u32,
}

const _: () = assert!(size_of::<RingDescriptor>() == REGION_ALIGN);
const _: () = assert!(std::mem::offset_of!(RingDescriptor, capacity) == 16);

/// Why a ring file could not be created or mapped. Each variant names what to fix.
#[derive(Debug)]
pub enum ShmError {
    /// A system call on the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The requested layout breaks a rule.
    Layout(LayoutError),
    /// The file is shorter than its header says it must be.
    TooSmall {
        /// The file.
        path: PathBuf,
        /// Its length.
        len_bytes: u64,
        /// The length its header needs.
        needed_bytes: u64,
    },
    /// The magic is zero: the creator has not finished (or died while) initialising.
    NotInitialised(PathBuf),
    /// The file is not a tickgate ring (or not this byte order).
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first word found.
        found: u64,
    },
    /// A header field differs from what the opener expects.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The field: `version`, `kind`, `capacity`, `slot_bytes` or `data_offset`.
        field: &'static str,
        /// The value in the file.
        found: u64,
        /// The value expected.
        expected: u64,
    },
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, op, source } => write!(f, "{op} {}: {source}", path.display()),
            Self::Layout(e) => e.fmt(f),
            Self::TooSmall {
                path,
                len_bytes,
                needed_bytes,
            } => write!(
                f,
                "{} is {len_bytes} bytes but its header needs {needed_bytes}; \
                 the file was truncated or is not a ring",
                path.display()
            ),
            Self::NotInitialised(p) => write!(
                f,
                "{} is not initialised yet (creator still starting or crashed); retry or remove it",
                p.display()
            ),
            Self::BadMagic { path, found } => write!(
                f,
                "{} is not a tickgate ring (first word {found:#018x})",
                path.display()
            ),
            Self::Mismatch {
                path,
                field,
                found,
                expected,
            } => write!(
                f,
                "{}: header field {field} is {found}, expected {expected}; \
                 the ring was created by another version or configuration",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ShmError {}

impl ShmError {
    /// Turns an OS error of `op` (create, size, map, …) on `path` into [`ShmError::Io`].
    pub fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| Self::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

impl From<LayoutError> for ShmError {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

enum Backing {
    /// Zeroed heap memory owned by this region.
    Heap(std::alloc::Layout),
    /// A shared file mapping.
    Mapped(#[allow(dead_code)] MmapRaw),
}

/// Memory holding one ring: zeroed heap memory, or a file mapped `MAP_SHARED`.
///
/// Invariant: `base` is [`REGION_ALIGN`]-aligned and valid for reads and writes of
/// `len` bytes for the region's lifetime; it starts with an initialised
/// [`RingDescriptor`] whose `data_offset + capacity * slot_bytes <= len`.
pub struct Region {
    base: *mut u8,
    len: usize,
    backing: Backing,
}

// SAFETY: the region is plain memory; every shared access to it goes through atomics
// or through the ring protocols' ownership rules, which are what make it Send/Sync.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        if let Backing::Heap(layout) = self.backing {
            // SAFETY: `base` came from `alloc_zeroed(layout)` in `Region::heap`.
            unsafe { std::alloc::dealloc(self.base, layout) };
        }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region").field("len", &self.len).finish()
    }
}

/// Bytes from the start of a region to slot 0, for `position_lines` 128-byte lines.
pub fn data_offset(position_lines: usize) -> usize {
    REGION_ALIGN * (1 + position_lines)
}

impl Region {
    /// Zeroed private memory for a ring, with its descriptor written, every page
    /// touched.
    pub fn heap(
        kind: RingKind,
        layout: Layout,
        position_lines: usize,
    ) -> Result<Self, LayoutError> {
        layout.validate()?;
        let offset = data_offset(position_lines);
        let len = offset + layout.capacity * layout.slot_bytes;
        let alloc = std::alloc::Layout::from_size_align(len, REGION_ALIGN)
            .map_err(|_| LayoutError::Capacity(layout.capacity))?;
        // SAFETY: `alloc` has a non-zero size (it includes the descriptor).
        let base = unsafe { std::alloc::alloc_zeroed(alloc) };
        if base.is_null() {
            std::alloc::handle_alloc_error(alloc);
        }
        let region = Self {
            base,
            len,
            backing: Backing::Heap(alloc),
        };
        region.init_descriptor(kind, layout, offset);
        region.prefault();
        Ok(region)
    }

    /// Creates `path` (mode 0600, failing if it exists), sizes it, maps it, writes
    /// the descriptor and touches every page. The caller removes the file when the
    /// ring is retired.
    pub fn create(
        path: &Path,
        kind: RingKind,
        layout: Layout,
        position_lines: usize,
    ) -> Result<Self, ShmError> {
        layout.validate()?;
        let offset = data_offset(position_lines);
        let len = offset + layout.capacity * layout.slot_bytes;
        let io = |op| ShmError::io(path, op);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io("create"))?;
        file.set_len(len as u64).map_err(io("size"))?;
        let map = MmapRaw::map_raw(&file).map_err(io("map"))?;
        let region = Self {
            base: map.as_mut_ptr(),
            len,
            backing: Backing::Mapped(map),
        };
        region.init_descriptor(kind, layout, offset);
        region.prefault();
        Ok(region)
    }

    /// Maps an existing ring file, checks its descriptor against `kind` and, when
    /// given, the expected `layout`, and touches every page. Returns the region and
    /// the layout it holds.
    pub fn open(
        path: &Path,
        kind: RingKind,
        expected: Option<Layout>,
        position_lines: usize,
    ) -> Result<(Self, Layout), ShmError> {
        let io = |op| ShmError::io(path, op);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io("open"))?;
        let len = file.metadata().map_err(io("stat"))?.len();
        if len < REGION_ALIGN as u64 {
            return Err(ShmError::TooSmall {
                path: path.to_path_buf(),
                len_bytes: len,
                needed_bytes: REGION_ALIGN as u64,
            });
        }
        let map = MmapRaw::map_raw(&file).map_err(io("map"))?;
        let region = Self {
            base: map.as_mut_ptr(),
            len: len as usize,
            backing: Backing::Mapped(map),
        };
        let layout = region.check_descriptor(path, kind, expected, position_lines)?;
        region.prefault();
        Ok((region, layout))
    }

    fn init_descriptor(&self, kind: RingKind, layout: Layout, offset: usize) {
        let d = self.base as *mut RingDescriptor;
        // SAFETY: the region is at least 128 bytes, aligned, and not yet shared: the
        // magic is still zero, so no opener reads these fields yet.
        unsafe {
            (*d).version = RING_VERSION;
            (*d).kind = kind as u32;
            (*d).capacity = layout.capacity as u64;
            (*d).slot_bytes = layout.slot_bytes as u32;
            (*d).data_offset = offset as u32;
            (*d).creator_pid = std::process::id();
        }
        // Pairs with the Acquire load in `check_descriptor`: an opener that sees the
        // magic sees every field above.
        self.descriptor().magic.store(RING_MAGIC, Ordering::Release);
    }

    fn check_descriptor(
        &self,
        path: &Path,
        kind: RingKind,
        expected: Option<Layout>,
        position_lines: usize,
    ) -> Result<Layout, ShmError> {
        let d = self.descriptor();
        // Pairs with the Release store in `init_descriptor`.
        let magic = d.magic.load(Ordering::Acquire);
        if magic == 0 {
            return Err(ShmError::NotInitialised(path.to_path_buf()));
        }
        if magic != RING_MAGIC {
            return Err(ShmError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        let mismatch = |field, found: u64, expected: u64| ShmError::Mismatch {
            path: path.to_path_buf(),
            field,
            found,
            expected,
        };
        let layout = Layout {
            capacity: d.capacity as usize,
            slot_bytes: d.slot_bytes as usize,
        };
        let checks = [
            ("version", d.version as u64, RING_VERSION as u64),
            ("kind", d.kind as u64, kind as u64),
            (
                "data_offset",
                d.data_offset as u64,
                data_offset(position_lines) as u64,
            ),
        ];
        for (field, found, want) in checks {
            if found != want {
                return Err(mismatch(field, found, want));
            }
        }
        if let Some(want) = expected {
            if layout.capacity != want.capacity {
                return Err(mismatch(
                    "capacity",
                    layout.capacity as u64,
                    want.capacity as u64,
                ));
            }
            if layout.slot_bytes != want.slot_bytes {
                return Err(mismatch(
                    "slot_bytes",
                    layout.slot_bytes as u64,
                    want.slot_bytes as u64,
                ));
            }
        }
        layout.validate()?;
        let needed = d.data_offset as u64 + d.capacity * d.slot_bytes as u64;
        if needed > self.len as u64 {
            return Err(ShmError::TooSmall {
                path: path.to_path_buf(),
                len_bytes: self.len as u64,
                needed_bytes: needed,
            });
        }
        Ok(layout)
    }

    /// The ring's descriptor.
    pub fn descriptor(&self) -> &RingDescriptor {
        // SAFETY: by the type invariant `base` is aligned and holds a descriptor; all
        // of its fields are plain integers or atomics, valid for any bit pattern.
        unsafe { &*(self.base as *const RingDescriptor) }
    }

    /// Start of the region.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Length of the region in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never, for a valid ring).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region as bytes that may be touched atomically (another process may be
    /// writing it).
    pub fn as_atomic_bytes(&self) -> &[std::sync::atomic::AtomicU8] {
        // SAFETY: `base` is valid for `len` bytes for `self`'s lifetime, and AtomicU8
        // has the size and alignment of u8.
        unsafe { std::slice::from_raw_parts(self.base as *const _, self.len) }
    }

    /// Populates every page of the region writable, so that no side of a ring takes
    /// a page fault on its hot path: zeroed heap memory and a file's pages are
    /// allocated when first touched, and each process maps a file's pages into its
    /// own page table. NB: measured in `bench tick-to-trade`: the market-data ring
    /// (65,536 × 64 B, a file) was faulted in page by page by the core's publish and
    /// by every reader (one fault every 64 ticks on the tick-to-trade path).
    fn prefault(&self) {
        populate_write(self.base, self.len);
    }

    /// The creating process, as written in the descriptor.
    pub fn creator_pid(&self) -> u32 {
        self.descriptor().creator_pid
    }
}

/// Makes the pages under `base .. base + len` present and writable in this process
/// without changing a byte (`madvise(MADV_POPULATE_WRITE)`, Linux 5.14), so that
/// neither this process nor, for a shared file, any other takes the first-touch fault
/// on a hot path. Safe on memory another thread or process is using. On an older
/// kernel each page gets a `compare_exchange` of a byte with itself instead.
///
/// NB: not `fetch_or(0)` on each page: LLVM turns an idempotent atomic RMW into a
/// plain load and, its result unused, drops it — such a loop compiles to nothing
/// (checked with objdump, and a page-fault profile that did not move).
pub fn populate_write(base: *mut u8, len: usize) {
    const PAGE_BYTES: usize = 4096;
    if len == 0 {
        return;
    }
    let start = base as usize & !(PAGE_BYTES - 1);
    let span = base as usize + len - start;
    // SAFETY: madvise only populates page tables over memory this process has
    // mapped (the region, and the start of its first page, which is mapped too).
    let r = unsafe { libc::madvise(start as *mut libc::c_void, span, libc::MADV_POPULATE_WRITE) };
    if r == 0 {
        return;
    }
    // The first byte of the region, then the first byte of every later page.
    let first = std::iter::once(base as usize);
    for byte in first.chain((start + PAGE_BYTES..base as usize + len).step_by(PAGE_BYTES)) {
        // SAFETY: `byte` lies inside the region, valid for an atomic byte access.
        let b = unsafe { &*(byte as *const std::sync::atomic::AtomicU8) };
        let v = b.load(Ordering::Relaxed);
        let _ = b.compare_exchange(v, v, Ordering::Relaxed, Ordering::Relaxed);
    }
}
