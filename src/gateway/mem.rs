//! Anonymous, page-aligned memory the kernel reads and writes behind our back: the
//! provided-buffer ring, its buffers and the per-connection outbound queues.
//!
//! Memory handed to io_uring must not move and must outlive every SQE that names it, so
//! it lives in its own `mmap` (never in a `Vec` that could reallocate) and is only ever
//! touched through raw pointers: the kernel is a second writer Rust's borrow rules do
//! not see, so no `&mut [u8]` to the whole region is ever formed.

use std::io;
use std::ptr::NonNull;

/// An anonymous private mapping, unmapped on drop. Pages are faulted in on first touch,
/// so a large region that is mostly unused costs address space, not memory.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len_bytes: usize,
    /// Never unmap: the kernel may still hold a pointer into it.
    leaked: bool,
}

// SAFETY: `Region` owns its mapping exclusively; the raw pointer is not shared with any
// other Rust value, so moving the owner to another thread is sound.
unsafe impl Send for Region {}

impl Region {
    /// Maps `len_bytes` (rounded up to whole pages) of zeroed memory.
    pub fn new(len_bytes: usize) -> io::Result<Self> {
        let len_bytes = len_bytes.max(1).next_multiple_of(page_bytes());
        // SAFETY: an anonymous private mapping with a null hint has no preconditions.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Self {
            ptr,
            len_bytes,
            leaked: false,
        })
    }

    /// The first byte; page-aligned.
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapped length (a whole number of pages).
    #[inline]
    pub fn len_bytes(&self) -> usize {
        self.len_bytes
    }

    /// Keeps the mapping alive past drop, for memory the kernel may still write into
    /// (a ring whose in-flight SQEs could not be drained).
    pub fn leak(&mut self) {
        self.leaked = true;
    }

    /// Writes every page once, so the hot path never takes a page fault on it.
    pub fn prefault(&self) {
        for off in (0..self.len_bytes).step_by(page_bytes()) {
            // SAFETY: `off < len_bytes`, inside the mapping; a volatile write of 0 into
            // zeroed memory changes nothing another reader could observe.
            unsafe { self.ptr.as_ptr().add(off).write_volatile(0) };
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        // SAFETY: `ptr`/`len_bytes` are exactly what mmap returned; the owner guarantees
        // (see `Gateway`'s field order and `Drop`) that the kernel no longer uses it.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len_bytes) };
    }
}

/// The system page size.
pub fn page_bytes() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_page_aligned_zeroed_and_rounded_up() {
        let r = Region::new(100).unwrap();
        assert_eq!(r.len_bytes(), page_bytes());
        assert_eq!(r.as_ptr() as usize % page_bytes(), 0);
        r.prefault();
        // SAFETY: inside the mapping.
        assert_eq!(unsafe { r.as_ptr().add(99).read() }, 0);
    }
}
