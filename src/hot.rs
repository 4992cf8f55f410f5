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
