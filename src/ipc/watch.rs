//! Pid checks off the serving thread: a housekeeping thread (`tickgate-hk-ipc`)
//! looks at every claimed slot's pid with `kill(pid, 0)` every [`PID_WATCH_PERIOD`]
//! and writes the pids it found dead into the slots' `pid_gone` words; the session
//! layer's liveness check then reads one atomic per slot and makes no syscall.
//!
//! The thread is started by the serving thread before that pins itself, so it would
//! inherit its CPU set (every CPU, the serving one included) and its policy
//! (SCHED_FIFO under `chrt -f`): it pins itself to the housekeeping CPU it is given
//! and takes the normal policy, so that its wake-ups never land on, or queue
//! behind, a spinning thread's CPU.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::directory::{IpcError, Mapping, SlotState, process_alive};
use crate::ring::shm::ShmError;

/// How often the watcher checks the pids.
pub const PID_WATCH_PERIOD: Duration = Duration::from_millis(10);

/// The watcher thread; stopped and joined when dropped.
pub(crate) struct PidWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PidWatch {
    /// Starts watching the directory at `path` (mapped a second time, for the thread),
    /// on `cpu` if given, with the normal scheduling policy.
    pub fn spawn(path: &Path, cpu: Option<usize>) -> Result<Self, IpcError> {
        let mapping = Mapping::open(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tickgate-hk-ipc".into())
            .spawn(move || {
                housekeeping_thread(cpu);
                // Pairs with the Release store in `drop`.
                while !flag.load(Ordering::Acquire) {
                    check_pids(&mapping);
                    std::thread::park_timeout(PID_WATCH_PERIOD);
                }
            })
            .map_err(ShmError::io(path, "start the pid watcher thread"))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PidWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Pins the calling thread to `cpu` (if any) and gives it the normal policy
/// (SCHED_OTHER): housekeeping never competes with a spinning thread at its priority.
/// Failures leave the thread as it was (it still works, only less out of the way).
pub(crate) fn housekeeping_thread(cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        let _ = crate::affinity::pin_current_thread(cpu);
    }
    let normal = libc::sched_param { sched_priority: 0 };
    // SAFETY: sets the calling thread's own policy; `normal` outlives the call.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal) };
}

/// One pass: every claimed slot's `pid_gone` is its pid if that process is gone, else 0.
fn check_pids(mapping: &Mapping) {
    for i in 0..mapping.slots {
        let slot = mapping.slot(i);
        if slot.state.load(Ordering::Acquire) == SlotState::Free as u32 {
            continue;
        }
        let pid = slot.pid.load(Ordering::Relaxed);
        let gone = if process_alive(pid) { 0 } else { pid };
        slot.pid_gone.store(gone, Ordering::Relaxed);
    }
}
