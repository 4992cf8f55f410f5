//! Rings: how every order and every tick moves between threads and processes.
//!
//! - [`spsc`]: one producer, one consumer; the order path (gateway or algo → core) and
//!   the response path (core → gateway or algo).
//! - [`broadcast`]: one writer, many readers that never slow the writer; market data.
//! - [`shm`]: the memory both live in, private or a file in `/dev/shm` mapped by several
//!   processes, with the `#[repr(C)]` header that a second process validates.

pub mod broadcast;
pub mod shm;
pub mod spsc;
mod sync;

/// Size of one cache line on x86_64, the unit every ring slot is a multiple of.
pub const CACHE_LINE_BYTES: usize = 64;

/// Moves the line at `p` from this core's private caches to the shared L3
/// (`cldemote`), so that a consumer polling it from another core reads it there
/// instead of snooping this core for it: what a producer does with a record's commit
/// line once committed, when its consumer is on another core. A hint: it never faults
/// and changes nothing the program sees; on a CPU without it, it is a NOP (the
/// instruction sits in the reserved-NOP encodings). Why and what it gains:
/// `docs/LATENCY.md` § Commit lines demoted.
#[inline(always)]
pub(crate) fn demote(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a cache hint: no fault, no architectural effect, whatever `p` is.
    unsafe {
        core::arch::asm!("cldemote [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks the CPU to fetch the line at `p` for reading: the producers' `touch_next`
/// (its page's TLB entry at hand; other cores polling the line keep their copy).
/// A hint: prefetch never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing the program sees and never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
