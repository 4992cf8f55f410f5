//! The order path's machine code, kept together and kept warm.
//!
//! The functions an algo's order runs through up to its Order Accepted are placed in
//! one linker section, `tg_hot` (`#[unsafe(link_section = "tg_hot")]` on each; the
//! list is in docs/ARCHITECTURE.md § The hot code section). The warm pass
//! (`session/warm.rs`) prefetches the whole section into the L2 cache, a chunk at a
//! time, so that an order arriving after hundreds of idle microseconds fetches its
//! instructions from L2 instead of from L3 or memory. On this VM that was most of
//! the difference between an order at a tick and one in a closed loop
//! (docs/LATENCY.md § The hot code).
//!
//! The section's bounds come from the linker: `__start_tg_hot` and `__stop_tg_hot`
//! (defined by GNU ld and lld for a section whose name is a C identifier). They are
//! only referenced from the warm pass, which is only linked where the session layer
//! (and so `Sessions::on_ouch`, in the section) is.

/// Lines of hot code prefetched between two looks for a waiting order.
pub const CHUNK_LINES: usize = 64;

const LINE: usize = crate::ring::CACHE_LINE_BYTES;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe extern "C" {
    static __start_tg_hot: u8;
    static __stop_tg_hot: u8;
}

/// The section's address range `[start, end)`; empty where there is none.
#[inline]
pub fn span() -> (usize, usize) {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        (
            (&raw const __start_tg_hot) as usize,
            (&raw const __stop_tg_hot) as usize,
        )
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        (0, 0)
    }
}

/// Prefetches into L2 the chunk of hot code that starts `offset` bytes into the
/// section; returns the next chunk's offset, or `None` past the end (nothing done).
/// A prefetch is a hint: no fault, no architectural effect.
#[inline]
pub fn prefetch_chunk(offset: usize) -> Option<usize> {
    let (start, end) = span();
    let from = start.checked_add(offset).filter(|&f| f < end)?;
    let to = from.saturating_add(CHUNK_LINES * LINE).min(end);
    let mut line = from & !(LINE - 1);
    while line < to {
        prefetch_l2(line);
        line += LINE;
    }
    Some(to - start)
}

#[inline]
fn prefetch_l2(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes nothing architecturally; `addr` is
    // inside the executable's mapped code anyway.
    unsafe {
        use core::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T1>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Callgrind marks (feature `cg-marks`, measurement builds only): collection is
/// toggled on when an Enter Order from an algo slot starts through the session layer
/// and off when its Order Accepted is in the slot's response ring, so that
/// `valgrind --tool=callgrind --collect-atstart=no` counts exactly that path
/// (docs/LATENCY.md § Counting the order path). One order at a time; an Enter that
/// gets no Accepted keeps collecting until the next Accepted (the benchmark's orders
/// are all accepted).
#[cfg(feature = "cg-marks")]
pub mod marks {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    static ON: AtomicBool = AtomicBool::new(false);
    static COUNT: AtomicU64 = AtomicU64::new(0);

    /// Orders counted so far (marks closed).
    pub fn count() -> u64 {
        COUNT.load(Ordering::Relaxed)
    }

    /// An OUCH message from an algo slot enters `on_ouch`.
    #[inline(always)]
    pub fn start(msg: &[u8]) {
        if msg.first() == Some(&b'O') && !ON.load(Ordering::Relaxed) {
            ON.store(true, Ordering::Relaxed);
            toggle_collect();
        }
    }

    /// `msg` was just written to an algo's response ring.
    #[inline(always)]
    pub fn stop(msg: &[u8]) {
        if ON.load(Ordering::Relaxed) && msg.first() == Some(&b'A') {
            toggle_collect();
            ON.store(false, Ordering::Relaxed);
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `CALLGRIND_TOGGLE_COLLECT` (callgrind.h): valgrind's client-request sequence.
    #[inline(always)]
    fn toggle_collect() {
        // VG_USERREQ_TOOL_BASE('C', 'T') + 2, no arguments.
        let args: [u64; 6] = [0x4354_0002, 0, 0, 0, 0, 0];
        // SAFETY: outside valgrind the sequence is a no-op: four rotations of rdi by
        // 128 bits in all (rdi is declared clobbered anyway) and `xchg rbx, rbx`; rax
        // points at `args`, which lives across the asm; rdx is the (ignored) result.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51", "xchg rbx, rbx",
                inout("rdx") 0u64 => _,
                in("rax") args.as_ptr(),
                out("rdi") _,
                options(nostack),
            );
        }
    }
}

/// Stage stamps (feature `stage-stamps`, measurement builds only): `lfence; rdtsc`
/// at the steps of an algo order-ring record's path through the serving thread, one
/// row per record, so that where an order's time goes can be read step by step
/// (`tickgate bench tick-to-trade` prints the steps of the algo's Enter Orders at a
/// tick, in the closed loop after the ticks and in its warm-up: docs/LATENCY.md § Stage
/// stamps). The fence makes each stamp wait for the work before it, so a step's time
/// is where it is incurred — and each stamp costs ≈ 20 ns, which every step includes.
/// One serving thread: the rows are written by it alone (relaxed atomics, read after it
/// stopped); past [`stamps::CAPACITY`] rows, nothing more is kept.
#[cfg(feature = "stage-stamps")]
pub mod stamps {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

    /// The steps, in path order: a row's columns after its tag.
    pub const STEPS: [&str; 10] = [
        "found",    // the record read out of the order ring
        "session",  // into `on_ouch`
        "direct",   // `Sessions::run_direct`: the session checks done
        "core",     // `Core::run_direct`: the journal record encoded
        "process",  // the journal append done, into the risk screen
        "screened", // the screen passed, into the engine
        "accepted", // the engine's Accepted reaches the session layer
        "writing",  // the first answer's response-ring write begins
        "answered", // the Accepted is in the stream and the ring
        "done",     // `on_ouch` returned (the IOC's Canceled included)
    ];

    /// Rows kept at most.
    pub const CAPACITY: usize = 1 << 19;

    const COLS: usize = 1 + STEPS.len();

    static TABLE: [[AtomicU64; COLS]; CAPACITY] =
        [const { [const { AtomicU64::new(0) }; COLS] }; CAPACITY];
    static CURRENT: [AtomicU64; COLS] = [const { AtomicU64::new(0) }; COLS];
    static LEN: AtomicUsize = AtomicUsize::new(0);

    /// One record's stamps.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Row {
        /// The account (session) that sent it.
        pub session: u16,
        /// The OUCH message type.
        pub msg_type: u8,
        /// Its UserRefNum (Enter, Replace's new one, Cancel, Modify: bytes 1..5).
        pub user_ref_num: u32,
        /// TSC per step (`STEPS` order; 0 = not reached).
        pub tsc: [u64; STEPS.len()],
    }

    /// A record of `session` is about to run: `msg` is its OUCH message. Starts the
    /// row that [`end`] closes.
    #[inline(always)]
    pub fn begin(session: u16, msg: &[u8]) {
        let urn = msg
            .get(1..5)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let kind = msg.first().copied().unwrap_or(0);
        let tag = u64::from(session) << 48 | u64::from(kind) << 32 | u64::from(urn);
        CURRENT[0].store(tag, Relaxed);
    }

    /// Stamps step `i` (a `STEPS` index) of the current row.
    #[inline(always)]
    pub fn mark(i: usize) {
        CURRENT[1 + i].store(fenced_tsc(), Relaxed);
    }

    /// Stamps step `i` unless the current row already has it.
    #[inline(always)]
    pub fn mark_first(i: usize) {
        if CURRENT[1 + i].load(Relaxed) == 0 {
            mark(i);
        }
    }

    /// Closes the current row.
    #[inline(never)]
    pub fn end() {
        let n = LEN.load(Relaxed);
        if n < CAPACITY {
            for (to, from) in TABLE[n].iter().zip(&CURRENT) {
                to.store(from.swap(0, Relaxed), Relaxed);
            }
            LEN.store(n + 1, Relaxed);
        }
    }

    /// Every row kept so far, oldest first.
    pub fn rows() -> Vec<Row> {
        TABLE[..LEN.load(Relaxed)]
            .iter()
            .map(|r| {
                let tag = r[0].load(Relaxed);
                let mut tsc = [0; STEPS.len()];
                for (t, c) in tsc.iter_mut().zip(&r[1..]) {
                    *t = c.load(Relaxed);
                }
                Row {
                    session: (tag >> 48) as u16,
                    msg_type: (tag >> 32) as u8,
                    user_ref_num: tag as u32,
                    tsc,
                }
            })
            .collect()
    }

    #[inline(always)]
    fn fenced_tsc() -> u64 {
        // SAFETY: lfence and rdtsc have no preconditions on x86_64.
        unsafe {
            core::arch::x86_64::_mm_lfence();
            core::arch::x86_64::_rdtsc()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_row_holds_its_tag_and_ordered_stamps() {
            let before = rows().len();
            // Enter Order 'O', UserRefNum 7.
            begin(3, &[b'O', 0, 0, 0, 7, 0xff]);
            mark(0);
            mark_first(7);
            mark_first(7);
            mark(9);
            end();
            let rows = rows();
            let r = rows[before];
            assert_eq!((r.session, r.msg_type, r.user_ref_num), (3, b'O', 7));
            assert!(r.tsc[0] > 0 && r.tsc[0] <= r.tsc[7] && r.tsc[7] <= r.tsc[9]);
            assert_eq!(r.tsc[1], 0, "a step not reached stays 0");
        }
    }
}

/// [`stamps`]' calls with the feature `stage-stamps`; nothing without it:
/// `stage_stamp!(i)` marks step `i`, `stage_stamp!(first i)` unless marked,
/// `stage_stamp!(begin session, msg)` tags the row, `stage_stamp!(end)` closes it.
macro_rules! stage_stamp {
    (end) => {
        #[cfg(feature = "stage-stamps")]
        $crate::hot::stamps::end();
    };
    (begin $session:expr, $msg:expr) => {
        #[cfg(feature = "stage-stamps")]
        $crate::hot::stamps::begin($session, $msg);
    };
    (first $i:expr) => {
        #[cfg(feature = "stage-stamps")]
        $crate::hot::stamps::mark_first($i);
    };
    ($i:expr) => {
        #[cfg(feature = "stage-stamps")]
        $crate::hot::stamps::mark($i);
    };
}
pub(crate) use stage_stamp;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_holds_the_order_path() {
        let (start, end) = span();
        assert!(end > start, "no tg_hot section");
        // A function of the path is inside it; one off the path is not.
        let f = crate::session::record::encode as *const () as usize;
        assert!(
            (start..end).contains(&f),
            "{f:#x} not in {start:#x}..{end:#x}"
        );
        let g = crate::session::record::order_info as *const () as usize;
        assert!(!(start..end).contains(&g), "{g:#x} in {start:#x}..{end:#x}");
        // Chunks cover it exactly once.
        let (mut at, mut chunks) = (0, 0);
        while let Some(next) = prefetch_chunk(at) {
            assert!(next > at);
            at = next;
            chunks += 1;
        }
        assert_eq!(at, end - start);
        assert_eq!(chunks, (end - start).div_ceil(CHUNK_LINES * LINE));
    }
}
