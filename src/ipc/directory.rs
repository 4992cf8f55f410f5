//! The session directory file and the server's side of it.
//!
//! ```text
//! [DirectoryHeader 128 B][SlotDesc 128 B] × slots
//! slot i's rings: <directory path>.<i>.orders  (algo → core, SPSC)
//!                 <directory path>.<i>.responses (core → algo, SPSC)
//! ```
//!
//! Slot states and who moves them:
//!
//! ```text
//!  FREE ──algo CAS──► CLAIMING ──algo (pid, credentials written)──► PENDING
//!  PENDING ──server──► ACTIVE (session id set)  |  REJECTED (reason set)
//!  ACTIVE ──algo detach──► CLOSING ──server (COD)──► FREE
//!  any claimed state ──server: pid gone / heartbeat stopped / rejected too long──► FREE
//! ```
//!
//! Every field another process writes is an atomic, so a hostile or crashed peer can
//! only produce values the server then validates; it can never make the server read
//! torn or out-of-bounds memory.

use std::fmt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::ring::shm::{Layout, ShmError};
use crate::ring::spsc::{self, Consumer, Producer};

/// "TGDIRECT", the first word of a directory file.
pub const DIRECTORY_MAGIC: u64 = u64::from_le_bytes(*b"TGDIRECT");
/// Layout version of the directory file and of its slots' ring records
/// ([`crate::ipc::wire`]); 2: the order-ring header is 8 bytes (no send TSC).
pub const DIRECTORY_VERSION: u32 = 2;
/// Username bytes in a slot (SoupBinTCP usernames are 6; room for 8).
pub const USERNAME_BYTES: usize = 8;
/// Password bytes in a slot (SoupBinTCP passwords are 10; room for 16).
pub const PASSWORD_BYTES: usize = 16;

/// The state word of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum SlotState {
    /// Nobody holds the slot.
    Free = 0,
    /// An algo won the CAS and is writing its claim.
    Claiming = 1,
    /// The claim is written; the server has not looked yet.
    Pending = 2,
    /// The server accepted the claim; the rings are live.
    Active = 3,
    /// The server refused the claim; `reject` says why.
    Rejected = 4,
    /// The algo detached; the server cancels its orders and frees the slot.
    Closing = 5,
}

impl SlotState {
    /// Decodes a state word (`None` for a value no tickgate process writes).
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Free,
            1 => Self::Claiming,
            2 => Self::Pending,
            3 => Self::Active,
            4 => Self::Rejected,
            5 => Self::Closing,
            _ => return None,
        })
    }
}

/// Why the server refused a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ClaimReject {
    /// Unknown username or wrong password (SoupBinTCP `J` `A`).
    NotAuthorized = 1,
    /// The account is already logged in elsewhere (SoupBinTCP `J` `S`).
    SessionUnavailable = 2,
}

impl ClaimReject {
    /// Decodes the slot's reject word.
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::NotAuthorized),
            2 => Some(Self::SessionUnavailable),
            _ => None,
        }
    }
}

#[repr(C, align(128))]
pub(crate) struct DirectoryHeader {
    pub magic: AtomicU64,
    pub version: u32,
    pub slots: u32,
    /// Changes at every server start: an algo that sees it change was orphaned.
    pub generation: AtomicU64,
    pub server_pid: AtomicU32,
    pub ring_capacity: u32,
    pub ring_slot_bytes: u32,
    _pad: u32,
}

#[repr(C, align(128))]
pub(crate) struct SlotDesc {
    pub state: AtomicU32,
    pub pid: AtomicU32,
    /// Bumped by the algo; the server frees the slot when it stops moving.
    pub heartbeat: AtomicU64,
    /// The directory generation the claim was made under.
    pub generation: AtomicU64,
    /// Session id (the core's), valid when Active.
    pub session: AtomicU32,
    /// [`ClaimReject`] code, valid when Rejected.
    pub reject: AtomicU32,
    /// Next response sequence number the algo expects (1 = from the start).
    pub next_seq: AtomicU64,
    pub username: AtomicU64,
    pub password: [AtomicU64; 2],
    /// A pid the server's watcher found dead (0: none; [`super::watch`]).
    pub pid_gone: AtomicU32,
}

const _: () = assert!(size_of::<DirectoryHeader>() == 128);
const _: () = assert!(size_of::<SlotDesc>() == 128);
const _: () = assert!(std::mem::offset_of!(SlotDesc, username) == 40);
const _: () = assert!(std::mem::offset_of!(SlotDesc, pid_gone) == 64);

/// Ring file of slot `i`: `<directory>.<i>.orders` or `.responses`.
pub fn ring_path(directory: &Path, slot: usize, which: &str) -> PathBuf {
    let mut p = directory.as_os_str().to_owned();
    p.push(format!(".{slot}.{which}"));
    PathBuf::from(p)
}

/// The market-data ring algos read: `<directory>.md` (a `ring::broadcast` file).
pub fn md_path(directory: &Path) -> PathBuf {
    let mut p = directory.as_os_str().to_owned();
    p.push(".md");
    PathBuf::from(p)
}

/// Packs text into a fixed field, space-padded; `None` if it does not fit.
pub(crate) fn pack<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() > N {
        return None;
    }
    let mut out = [b' '; N];
    out[..bytes.len()].copy_from_slice(bytes);
    Some(out)
}

/// Creates the file at `path` (0600, must not exist) sized `len` bytes and maps it
/// read-write, every page touched: the server's side of every `/dev/shm` file but the rings.
pub(crate) fn create_mapped(
    path: &Path,
    len: u64,
) -> Result<(std::fs::File, memmap2::MmapRaw), ShmError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ShmError::io(path, "create"))?;
    file.set_len(len).map_err(ShmError::io(path, "size"))?;
    let map = memmap2::MmapRaw::map_raw(&file).map_err(ShmError::io(path, "map"))?;
    // NB: every page is populated now, at start-up, not first touched on the serving
    // thread (the latency board's counter pages faulted in one by one as new buckets
    // were hit: ≈ 100 page faults on the serving loop per fresh bench round).
    crate::ring::shm::populate_write(map.as_mut_ptr(), map.len());
    Ok((file, map))
}

pub(crate) fn unpack(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

/// Why a directory could not be created or used.
#[derive(Debug)]
pub enum IpcError {
    /// Mapping or creating a file failed.
    Shm(ShmError),
    /// Another live server uses the directory (two instances with one `ipc.name`).
    InUse {
        /// The file.
        path: PathBuf,
        /// The other server's pid.
        pid: u32,
    },
    /// The group named in the config does not exist.
    NoSuchGroup(String),
    /// The file is not a directory of this version.
    BadDirectory {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shm(e) => e.fmt(f),
            Self::InUse { path, pid } => write!(
                f,
                "{} belongs to the running server pid {pid}; give this instance \
                 another ipc.name",
                path.display()
            ),
            Self::NoSuchGroup(g) => write!(f, "ipc.group {g:?} is not a group on this host"),
            Self::BadDirectory { path, reason } => {
                write!(
                    f,
                    "{} is not a usable session directory: {reason}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for IpcError {}

impl From<ShmError> for IpcError {
    fn from(e: ShmError) -> Self {
        Self::Shm(e)
    }
}

/// A mapped directory file (either side).
pub(crate) struct Mapping {
    pub map: memmap2::MmapRaw,
    pub slots: usize,
}

impl Mapping {
    pub fn header(&self) -> &DirectoryHeader {
        // SAFETY: the mapping is at least one header long (checked when mapped) and
        // page-aligned; every header field is an integer or atomic.
        unsafe { &*(self.map.as_ptr() as *const DirectoryHeader) }
    }

    pub fn slot(&self, i: usize) -> &SlotDesc {
        assert!(i < self.slots, "slot {i} of {}", self.slots);
        // SAFETY: i < slots and the file holds `slots` descriptors after the header.
        unsafe { &*(self.map.as_ptr().add(128 * (1 + i)) as *const SlotDesc) }
    }

    /// Maps an existing directory and validates its header.
    pub fn open(path: &Path) -> Result<Self, IpcError> {
        let bad = |reason: String| IpcError::BadDirectory {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| bad(e.to_string()))?;
        let len = file.metadata().map_err(|e| bad(e.to_string()))?.len() as usize;
        if len < 128 {
            return Err(bad(format!("{len} bytes is shorter than its header")));
        }
        let map = memmap2::MmapRaw::map_raw(&file).map_err(|e| bad(e.to_string()))?;
        let mut mapping = Self { map, slots: 0 };
        let h = mapping.header();
        // Pairs with the Release store of the magic in `Directory::create`.
        if h.magic.load(Ordering::Acquire) != DIRECTORY_MAGIC {
            return Err(bad(
                "no directory magic (not initialised, or not a directory)".into(),
            ));
        }
        if h.version != DIRECTORY_VERSION {
            return Err(bad(format!(
                "version {} (expected {DIRECTORY_VERSION})",
                h.version
            )));
        }
        let slots = h.slots as usize;
        if len < 128 * (1 + slots) {
            return Err(bad(format!("{len} bytes cannot hold {slots} slots")));
        }
        mapping.slots = slots;
        Ok(mapping)
    }

    pub fn ring_layout(&self) -> Layout {
        let h = self.header();
        Layout {
            capacity: h.ring_capacity as usize,
            slot_bytes: h.ring_slot_bytes as usize,
        }
    }
}

/// What [`Directory::poll_claims`] and [`Directory::check_liveness`] report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotEvent {
    /// A claim was accepted: the session is live on `slot`.
    Activated {
        /// Slot index.
        slot: usize,
        /// The account's session id.
        session: u32,
        /// Next response sequence the algo expects.
        next_seq: u64,
    },
    /// A claim was refused.
    Refused {
        /// Slot index.
        slot: usize,
        /// Why.
        reason: ClaimReject,
    },
    /// A session ended: cancel its orders if the account wants cancel-on-disconnect.
    Ended {
        /// Slot index.
        slot: usize,
        /// The session that held it.
        session: u32,
        /// Why it ended.
        why: EndReason,
    },
}

/// Why a slot's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The algo detached.
    Detached,
    /// The algo's process is gone.
    ProcessGone,
    /// The algo's heartbeat stopped for longer than the liveness timeout.
    Silent,
}

/// The server's handle on the directory: creates it, validates claims, watches
/// liveness, and owns the core's ends of every slot's rings.
pub struct Directory {
    path: PathBuf,
    mapping: Mapping,
    /// Per slot: the core's consumer of the order ring and producer of responses.
    rings: Vec<(Consumer, Producer)>,
    /// Per slot: last heartbeat seen and when it last moved.
    seen: Vec<(u64, Instant)>,
    liveness_timeout: Duration,
    /// Layout of every slot ring.
    ring: Layout,
    /// Group given read-write access to the files (None: owner only).
    group: Option<u32>,
    /// Made by [`Directory::create_for_serve`]: listed in [`SERVING`] until dropped.
    serving: bool,
    /// The thread that checks pids for `check_liveness` (None: it calls `kill` itself).
    pid_watch: Option<super::watch::PidWatch>,
}

/// Directory paths served by this process (a second server in the same process has
/// the same pid, so the pid check cannot tell it from a dead one's files).
static SERVING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Directory {
    /// Creates the directory at `path` with `slots` slots and their ring files (all
    /// 0600; fails if any exists), with a fresh generation number.
    pub fn create(
        path: &Path,
        slots: usize,
        ring: Layout,
        liveness_timeout: Duration,
    ) -> Result<Self, IpcError> {
        let mut rings = Vec::with_capacity(slots);
        for i in 0..slots {
            let (orders, responses) = (
                ring_path(path, i, "orders"),
                ring_path(path, i, "responses"),
            );
            spsc::create(&orders, ring)?;
            spsc::create(&responses, ring)?;
            rings.push((
                Consumer::attach(&orders, Some(ring))?,
                response_producer(&responses, ring)?,
            ));
        }
        let (_file, map) = create_mapped(path, 128 * (1 + slots as u64))?;
        let mapping = Mapping { map, slots };
        init_header(&mapping, slots, ring);
        Ok(Self {
            path: path.to_path_buf(),
            mapping,
            rings,
            seen: vec![(0, Instant::now()); slots],
            liveness_timeout,
            ring,
            group: None,
            serving: false,
            pid_watch: None,
        })
    }

    /// What `tickgate serve` creates for its `[ipc]` section: the directory at
    /// `/dev/shm/<name>`, after removing the files a dead server left there. Refuses
    /// if a live server owns the directory. Its pid watcher runs on `housekeeping_cpu`
    /// if given ([`super::watch`]).
    pub fn create_for_serve(
        section: &super::IpcSection,
        housekeeping_cpu: Option<usize>,
    ) -> Result<Self, IpcError> {
        let path = section.directory_path();
        let in_use = || IpcError::InUse {
            path: path.clone(),
            pid: std::process::id(),
        };
        let mut serving = SERVING.lock().map_err(|_| in_use())?;
        if serving.contains(&path) {
            return Err(in_use());
        }
        remove_stale(&path, section.slots)?;
        let ring = Layout {
            capacity: section.ring_records,
            slot_bytes: super::wire::SLOT_RING_SLOT_BYTES,
        };
        let mut dir = Self::create(&path, section.slots, ring, section.liveness_timeout())?;
        serving.push(path.clone());
        dir.serving = true;
        drop(serving);
        dir.pid_watch = Some(super::watch::PidWatch::spawn(&path, housekeeping_cpu)?);
        if !section.group.is_empty() {
            let gid = group_id(&section.group)?;
            dir.group = Some(gid);
            let files = (0..dir.mapping.slots).flat_map(|i| {
                [
                    ring_path(&path, i, "orders"),
                    ring_path(&path, i, "responses"),
                ]
            });
            for file in std::iter::once(path.clone()).chain(files) {
                share_with_group(&file, gid)?;
            }
        }
        Ok(dir)
    }

    /// Gives `file` the directory's group access, if any.
    fn share(&self, file: &Path) -> Result<(), IpcError> {
        match self.group {
            Some(gid) => share_with_group(file, gid),
            None => Ok(()),
        }
    }

    /// Replaces slot `i`'s two ring files by fresh ones, so that a new session never
    /// reads what a previous holder (or a zombie still mapping the old files) left.
    fn renew_rings(&mut self, i: usize) -> Result<(), IpcError> {
        let (orders, responses) = (
            ring_path(&self.path, i, "orders"),
            ring_path(&self.path, i, "responses"),
        );
        for p in [&orders, &responses] {
            let _ = std::fs::remove_file(p);
            spsc::create(p, self.ring)?;
            self.share(p)?;
        }
        self.rings[i] = (
            Consumer::attach(&orders, Some(self.ring))?,
            response_producer(&responses, self.ring)?,
        );
        Ok(())
    }

    /// The server ends slot `i`'s session (the algo stopped reading, sent garbage, or
    /// the server is stopping): the slot is freed; returns the session it held.
    pub fn end(&mut self, i: usize) -> u32 {
        let slot = self.mapping.slot(i);
        let session = slot.session.load(Ordering::Relaxed);
        free(slot);
        session
    }

    /// Slots of the directory.
    pub fn slots(&self) -> usize {
        self.mapping.slots
    }

    /// The directory file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This server start's generation number.
    pub fn generation(&self) -> u64 {
        self.mapping.header().generation.load(Ordering::Relaxed)
    }

    /// The core's ends of slot `i`'s rings, to look at (their state needs no `&mut`).
    pub fn rings(&self, i: usize) -> &(Consumer, Producer) {
        &self.rings[i]
    }

    /// The core's ends of slot `i`'s rings: (orders consumer, responses producer).
    pub fn rings_mut(&mut self, i: usize) -> &mut (Consumer, Producer) {
        &mut self.rings[i]
    }

    /// The state of slot `i` (`None` if a peer wrote garbage).
    pub fn state(&self, i: usize) -> Option<SlotState> {
        SlotState::from_u32(self.mapping.slot(i).state.load(Ordering::Acquire))
    }

    /// Validates every pending claim with `authenticate(username, password)`, which
    /// returns the account's session id or why the claim is refused. Reports each
    /// decision through `on_event`.
    pub fn poll_claims(
        &mut self,
        mut authenticate: impl FnMut(&str, &str) -> Result<u32, ClaimReject>,
        mut on_event: impl FnMut(SlotEvent),
    ) {
        for i in 0..self.mapping.slots {
            let slot = self.mapping.slot(i);
            // Pairs with the algo's Release store of Pending: its claim fields are visible.
            if slot.state.load(Ordering::Acquire) != SlotState::Pending as u32 {
                continue;
            }
            let (user, pass) = read_credentials(slot);
            // The password has been read; do not leave it in shared memory.
            slot.password
                .iter()
                .for_each(|w| w.store(0, Ordering::Relaxed));
            let event = match authenticate(&user, &pass) {
                Ok(session) => self.activate(i, session),
                Err(reason) => {
                    slot.reject.store(reason as u32, Ordering::Relaxed);
                    slot.state
                        .store(SlotState::Rejected as u32, Ordering::Release);
                    SlotEvent::Refused { slot: i, reason }
                }
            };
            on_event(event);
        }
    }

    fn activate(&mut self, i: usize, session: u32) -> SlotEvent {
        if let Err(e) = self.renew_rings(i) {
            eprintln!("tickgate: ipc: slot {i}: cannot renew its rings ({e}); claim refused");
            let slot = self.mapping.slot(i);
            slot.reject
                .store(ClaimReject::SessionUnavailable as u32, Ordering::Relaxed);
            slot.state
                .store(SlotState::Rejected as u32, Ordering::Release);
            return SlotEvent::Refused {
                slot: i,
                reason: ClaimReject::SessionUnavailable,
            };
        }
        let slot = self.mapping.slot(i);
        slot.session.store(session, Ordering::Relaxed);
        self.seen[i] = (slot.heartbeat.load(Ordering::Relaxed), Instant::now());
        let next_seq = slot.next_seq.load(Ordering::Relaxed);
        // Pairs with the algo's Acquire load while it waits for the decision.
        slot.state
            .store(SlotState::Active as u32, Ordering::Release);
        SlotEvent::Activated {
            slot: i,
            session,
            next_seq,
        }
    }

    /// Frees slots whose algo detached, died, or went silent for the liveness
    /// timeout, and slots stuck mid-claim or rejected by a process that is gone.
    /// Reports each ended session through `on_event`.
    pub fn check_liveness(&mut self, mut on_event: impl FnMut(SlotEvent)) {
        let now = Instant::now();
        for i in 0..self.mapping.slots {
            let slot = self.mapping.slot(i);
            let state = SlotState::from_u32(slot.state.load(Ordering::Acquire));
            let pid = slot.pid.load(Ordering::Relaxed);
            let alive = match self.pid_watch {
                // No syscall here: the watcher thread flagged the dead pids.
                Some(_) => pid != 0 && slot.pid_gone.load(Ordering::Relaxed) != pid,
                None => process_alive(pid),
            };
            let beat = slot.heartbeat.load(Ordering::Relaxed);
            if beat != self.seen[i].0 {
                self.seen[i] = (beat, now);
            }
            let silent = now.duration_since(self.seen[i].1) > self.liveness_timeout;
            let why = match state {
                Some(SlotState::Active) if !alive => Some(EndReason::ProcessGone),
                Some(SlotState::Active) if silent => Some(EndReason::Silent),
                Some(SlotState::Closing) => Some(EndReason::Detached),
                Some(SlotState::Free) | Some(SlotState::Active) => None,
                // Won the CAS, pid not written yet: not dead (freeing it here would
                // let a second algo claim the slot under the first).
                Some(SlotState::Claiming) if pid == 0 => None,
                // Claiming, Pending or Rejected by a dead process, or garbage: reclaim.
                _ if !alive => {
                    free(slot);
                    None
                }
                _ => None,
            };
            if let Some(why) = why {
                let session = slot.session.load(Ordering::Relaxed);
                free(slot);
                on_event(SlotEvent::Ended {
                    slot: i,
                    session,
                    why,
                });
            }
        }
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        // Algos still mapping the files see their session end.
        for i in 0..self.mapping.slots {
            let slot = self.mapping.slot(i);
            if slot.state.load(Ordering::Acquire) != SlotState::Free as u32 {
                free(slot);
            }
        }
        if self.serving
            && let Ok(mut serving) = SERVING.lock()
        {
            serving.retain(|p| p != &self.path);
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(md_path(&self.path));
        for i in 0..self.mapping.slots {
            let _ = std::fs::remove_file(ring_path(&self.path, i, "orders"));
            let _ = std::fs::remove_file(ring_path(&self.path, i, "responses"));
        }
    }
}

/// The server's end of a slot's response ring: its algo polls it from another core,
/// so each answer's commit line is handed to the shared cache once committed
/// ([`Producer::set_demote`]).
fn response_producer(path: &Path, ring: Layout) -> Result<Producer, IpcError> {
    let mut responses = Producer::attach(path, Some(ring))?;
    responses.set_demote(true);
    Ok(responses)
}

/// Removes what a dead server left at `path` (its directory, `slots` or more slot
/// rings, the market-data ring); refuses if the server that made it is alive.
fn remove_stale(path: &Path, slots: usize) -> Result<(), IpcError> {
    let mut old_slots = 0;
    if path.exists() {
        let old = Mapping::open(path)?;
        let pid = old.header().server_pid.load(Ordering::Relaxed);
        if pid != std::process::id() && process_alive(pid) {
            return Err(IpcError::InUse {
                path: path.to_path_buf(),
                pid,
            });
        }
        old_slots = old.slots;
        eprintln!(
            "tickgate: ipc: removing {} left by server pid {pid}, which is gone",
            path.display()
        );
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(md_path(path));
    for i in 0..slots.max(old_slots) {
        let _ = std::fs::remove_file(ring_path(path, i, "orders"));
        let _ = std::fs::remove_file(ring_path(path, i, "responses"));
    }
    Ok(())
}

fn group_id(name: &str) -> Result<u32, IpcError> {
    let missing = || IpcError::NoSuchGroup(name.into());
    let c = std::ffi::CString::new(name).map_err(|_| missing())?;
    // SAFETY: all-zero is a valid `group` (null pointers, gid 0) to be filled in.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    // SAFETY: `c` is a C string; `group`, `buf` (with its true length) and `found` are
    // valid for writes for the duration of the call (the reentrant variant).
    let rc = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return Err(missing());
    }
    Ok(group.gr_gid)
}

/// Gives the group `ipc.group` (if not empty) read-write access to `file`, e.g. the
/// market-data ring (mode 0660).
pub fn share_file(file: &Path, section: &super::IpcSection) -> Result<(), IpcError> {
    if section.group.is_empty() {
        return Ok(());
    }
    share_with_group(file, group_id(&section.group)?)
}

fn share_with_group(file: &Path, gid: u32) -> Result<(), IpcError> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(file, None, Some(gid)).map_err(ShmError::io(file, "chown"))?;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o660))
        .map_err(ShmError::io(file, "chmod"))?;
    Ok(())
}

fn free(slot: &SlotDesc) {
    slot.pid.store(0, Ordering::Relaxed);
    slot.pid_gone.store(0, Ordering::Relaxed);
    slot.session.store(0, Ordering::Relaxed);
    // Pairs with the Acquire CAS of a claiming algo.
    slot.state.store(SlotState::Free as u32, Ordering::Release);
}

fn init_header(mapping: &Mapping, slots: usize, ring: Layout) {
    let h = mapping.map.as_mut_ptr() as *mut DirectoryHeader;
    // SAFETY: the file was just created and sized; the magic is zero, so no other
    // process reads these fields yet.
    unsafe {
        (*h).version = DIRECTORY_VERSION;
        (*h).slots = slots as u32;
        (*h).ring_capacity = ring.capacity as u32;
        (*h).ring_slot_bytes = ring.slot_bytes as u32;
    }
    let header = mapping.header();
    let generation = crate::clock::monotonic_ns() ^ ((std::process::id() as u64) << 48);
    header
        .generation
        .store(generation.max(1), Ordering::Relaxed);
    header
        .server_pid
        .store(std::process::id(), Ordering::Relaxed);
    // Pairs with the Acquire load in `Mapping::open`.
    header.magic.store(DIRECTORY_MAGIC, Ordering::Release);
}

fn read_credentials(slot: &SlotDesc) -> (String, String) {
    let user = slot.username.load(Ordering::Relaxed).to_le_bytes();
    let mut pass = [0u8; PASSWORD_BYTES];
    for (chunk, w) in pass.chunks_exact_mut(8).zip(&slot.password) {
        chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    (unpack(&user), unpack(&pass))
}

/// Whether `pid` names a live process (`kill(pid, 0)`; EPERM means it exists).
pub fn process_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence; no signal is sent.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
