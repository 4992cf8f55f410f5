//! `serve`'s `[ipc]` wiring: the session directory handed to the session layer, and
//! the market-data ring as a `/dev/shm` file algos map (`docs/ALGOS.md`).

use crate::config::Config;
use crate::ipc::directory::{Directory, md_path, share_file};
use crate::ring::broadcast;
use crate::ring::shm::Layout;
use crate::session::Sessions;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// With `ipc.enabled`: creates the directory (replacing what a dead server left, its
/// pid watcher on the first housekeeping CPU when `pin_threads`) and lets the session
/// layer serve its slots.
pub(super) fn attach(
    config: &Config,
    sessions: &mut Sessions,
    pin_threads: bool,
) -> Result<(), Error> {
    let ipc = &config.ipc;
    if !ipc.enabled {
        return Ok(());
    }
    let hk_cpu = config
        .threads
        .housekeeping_cpus
        .first()
        .copied()
        .filter(|_| pin_threads);
    let dir = Directory::create_for_serve(ipc, hk_cpu)?;
    sessions.attach_directory(
        dir,
        config.engine.drain_limit as usize,
        ipc.liveness_timeout_ms,
    );
    Ok(())
}

/// The core's market-data ring: `/dev/shm/<ipc.name>.md` (0600, or 0660 for
/// `ipc.group`) with `ipc.enabled`, private memory otherwise.
pub(super) fn market_ring(
    config: &Config,
    record_bytes: usize,
) -> Result<broadcast::Writer, Error> {
    let slot_bytes = (record_bytes + broadcast::SLOT_HEADER_BYTES).next_multiple_of(64);
    let ipc = &config.ipc;
    if !ipc.enabled {
        let layout = Layout {
            capacity: 1 << 16,
            slot_bytes,
        };
        return broadcast::new(layout).map_err(|e| format!("market-data ring: {e:?}").into());
    }
    let layout = Layout {
        capacity: ipc.md_ring_records,
        slot_bytes,
    };
    let path = md_path(&ipc.directory_path());
    let mut writer = broadcast::Writer::create(&path, layout)?;
    share_file(&path, ipc)?;
    // Read by algo processes polling from other cores.
    writer.set_demote(true);
    Ok(writer)
}
