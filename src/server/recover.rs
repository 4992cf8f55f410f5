//! Start-up recovery: replay the day's journal into the engine and the session layer,
//! then open the writer where the journal ends, and the housekeeping thread that
//! prepares its segments and (in `sync` mode) flushes them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Config;
use crate::engine::{EventSink, MdEvent, OrderEvent};
use crate::journal::{
    self, Durability, Flusher, JournalConfig, JournalReader, JournalWriter, ReadOptions,
    SegmentPreparer,
};
use crate::risk::RiskCore;
use crate::session::Sessions;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Largest journal record: an input record (command + annex) with room to grow.
pub const MAX_RECORD_BYTES: u32 = 256;

/// The journal directory of `config` for the trading day `session` (the SoupBinTCP
/// session name): `<journal.dir>/<session>/`.
pub fn journal_dir(config: &Config, session: &str) -> PathBuf {
    config.journal.dir.join(session)
}

/// The journal layout and fingerprint `config` writes with.
pub fn journal_config(config: &Config, dir: PathBuf) -> JournalConfig {
    JournalConfig {
        dir,
        segment_bytes: config.journal.segment_mib << 20,
        max_payload_bytes: MAX_RECORD_BYTES,
        fingerprint: config.journal_fingerprint(),
        durability: config.journal.durability,
    }
}

/// Feeds the events of replayed commands to the session layer (market data is not
/// re-published: its consumers resynchronise from the live feed).
struct Replay<'a> {
    sessions: &'a mut Sessions,
}

impl EventSink for Replay<'_> {
    fn order_event(&mut self, event: &OrderEvent) {
        self.sessions.recover_event(event);
    }

    fn market_event(&mut self, _: &MdEvent) {}
}

/// What recovery hands to the running server.
pub struct Recovered {
    /// The writer, positioned after the last replayed record (owned by the core).
    pub writer: JournalWriter,
    /// The housekeeping agents.
    pub preparer: SegmentPreparer,
    /// Ditto.
    pub flusher: Flusher,
}

/// Replays the day's journal (if `journal.enabled`) into `core` (the engine behind
/// pre-trade risk, so positions, open orders and blocked accounts rebuild too) and
/// `sessions`,
/// repairing a torn tail; a corruption before the tail is refused unless
/// `truncate_at_corruption`. Logs one line with the record count, time and state hash.
pub fn recover(
    config: &Config,
    core: &mut RiskCore,
    sessions: &mut Sessions,
    truncate_at_corruption: bool,
) -> Result<Option<Recovered>, Error> {
    if !config.journal.enabled {
        return Ok(None);
    }
    let name = sessions.session_name();
    let dir = journal_dir(config, &String::from_utf8_lossy(name.trimmed()));
    let jc = journal_config(config, dir.clone());
    jc.validate()?;
    let reader = JournalReader::open(
        &dir,
        ReadOptions {
            fingerprint: Some(jc.fingerprint),
            truncate_at_corruption,
            repair: true,
        },
    )?;
    let mut bad = None;
    let recovery = reader.for_each(|seq, _ts, record| {
        if bad.is_some() {
            return;
        }
        match sessions.recover_input(record) {
            Ok(cmd) => core.process(&cmd, &mut Replay { sessions }),
            Err(e) => bad = Some(format!("journal record {seq} is not a command: {e:?}")),
        }
    })?;
    drop(reader);
    if let Some(why) = bad {
        return Err(format!(
            "{}: {why}; written by an incompatible build? Move the directory away to start empty",
            dir.display()
        )
        .into());
    }
    sessions.finish_recovery();
    eprintln!(
        "tickgate: {} in {}; {recovery}; state hash {:#018x}",
        jc.durability_name(),
        dir.display(),
        core.state_hash()
    );
    let (writer, preparer, flusher) = journal::open_writer(&jc, &recovery)?;
    Ok(Some(Recovered {
        writer,
        preparer,
        flusher,
    }))
}

/// Runs the segment preparer and the flusher until `stop`, then flushes once more.
/// In `sync` mode the flusher's turn is the acks' latency: it polls every 20 µs. In
/// `process` mode only the preparer runs, and a segment lasts far longer than its
/// 10 ms nap (64 MiB is ≈ 0.6 s of a million inputs/s): fewer wake-ups on a CPU that
/// may be shared.
pub fn spawn_housekeeping(
    mut preparer: SegmentPreparer,
    mut flusher: Flusher,
    durability: Durability,
    cpu: Option<usize>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let nap = match durability {
        Durability::Sync => Duration::from_micros(20),
        Durability::Process => Duration::from_millis(10),
    };
    std::thread::Builder::new()
        .name("tickgate-hk".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                let _ = crate::affinity::pin_current_thread(cpu);
            }
            let mut sync = durability == Durability::Sync;
            while !stop.load(Ordering::Acquire) {
                let mut work = preparer.do_work();
                if sync {
                    work += flusher.do_work();
                }
                if let Some(e) = preparer.take_error() {
                    eprintln!("tickgate: journal: preparing the next segment failed: {e}");
                }
                if let Some(e) = flusher.take_error() {
                    eprintln!("tickgate: journal: fdatasync failed, acks stop: {e}");
                    sync = false;
                }
                if work == 0 {
                    std::thread::sleep(nap);
                }
            }
            if sync {
                flusher.do_work();
            }
        })
}

impl JournalConfig {
    fn durability_name(&self) -> &'static str {
        match self.durability {
            Durability::Process => "journal (durability process)",
            Durability::Sync => "journal (durability sync)",
        }
    }
}
