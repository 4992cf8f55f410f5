//! Pid checks off the serving thread: a housekeeping thread (`tickgate-hk-ipc`)
//! looks at every claimed slot's pid with `kill(pid, 0)` every [`PID_WATCH_PERIOD`]
//! and writes the pids it found dead into the slots' `pid_gone` words; the session
//! layer's liveness check then reads one atomic per slot and makes no syscall.

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
    /// Starts watching the directory at `path` (mapped a second time, for the thread).
    pub fn spawn(path: &Path) -> Result<Self, IpcError> {
        let mapping = Mapping::open(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tickgate-hk-ipc".into())
            .spawn(move || {
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
