//! SIGINT/SIGTERM → an [`AtomicBool`], with `sigaction(2)` (no signal-hook).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the handler when SIGINT or SIGTERM arrives; polled by the serve loop.
pub static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // Async-signal-safe: one atomic store. Release pairs with the Acquire load in
    // `stop_requested`.
    STOP_REQUESTED.store(true, Ordering::Release);
}

/// Installs the handler for SIGINT and SIGTERM (process-wide).
pub fn install() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the
        // handler only stores to an atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether a stop signal has arrived.
#[inline]
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::Acquire)
}
