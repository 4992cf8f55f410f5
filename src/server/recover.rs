//! Start-up recovery: replay the day's journal into the engine and the session layer,
//! then open the writer where the journal ends, and the housekeeping thread that
//! prepares its segments and (in `sync` mode) flushes them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Config;
use crate::engine::{Command, EventSink, MdEvent, OrderEvent};
use crate::journal::{
    self, Durability, Flusher, JournalConfig, JournalReader, JournalWriter, ReadOptions,
    SegmentPreparer,
};
use crate::proto::wire::Alpha;
use crate::risk::RiskCore;

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

/// What replaying the journal hands the session layers (one per gateway thread), in
/// the core's order: the session-side half of each record ([`crate::session::Sessions::recover_input`],
/// [`crate::session::Sessions::recover_event`]).
#[derive(Debug, Clone, Copy)]
pub enum Replayed<'a> {
    /// An input record that used up a UserRefNum of `session` (Enter, Replace, Mass
    /// Cancel, Echo, Control), before the core runs it.
    Input {
        /// The account (session id) whose record it is.
        session: u16,
        /// The journaled input record.
        record: &'a [u8],
    },
    /// An event the core emitted while replaying (market data is not re-published:
    /// its consumers resynchronise from the live feed).
    Event(&'a OrderEvent),
}

/// Feeds the events of replayed commands to the session layers.
struct Replay<'a> {
    sessions: &'a mut dyn FnMut(Replayed<'_>),
}

impl EventSink for Replay<'_> {
    fn order_event(&mut self, event: &OrderEvent) {
        (self.sessions)(Replayed::Event(event));
    }

    fn market_event(&mut self, _: &MdEvent) {}
}

/// The session whose UserRefNum an input record uses (what
/// [`crate::session::Sessions::recover_input`] looks at), if any.
fn input_session(cmd: &Command) -> Option<u16> {
    match cmd {
        Command::Enter(c) => Some(c.session),
        Command::Replace(c) => Some(c.session),
        Command::MassCancel(c) => Some(c.session),
        Command::Echo(c) => Some(c.session),
        Command::Control(c) => Some(c.session),
        _ => None,
    }
}

/// What recovery hands to the running server.
pub struct Recovered {
    /// The exclusive lock on the day's journal directory, held until every thread
    /// that writes there has been joined (`server::Running` drops it last).
    pub lock: DirLock,
    /// The writer, positioned after the last replayed record (owned by the core).
    pub writer: JournalWriter,
    /// The housekeeping agents.
    pub preparer: SegmentPreparer,
    /// Ditto.
    pub flusher: Flusher,
}

/// Replays the day's journal of session `name` (if `journal.enabled`) into `core`
/// (the engine behind pre-trade risk, so positions, open orders and blocked accounts
/// rebuild too) and hands the session layers their half through `sessions` (the
/// caller then calls [`crate::session::Sessions::finish_recovery`] on each), repairing a torn tail; a
/// corruption before the tail is refused unless `truncate_at_corruption`. Logs one
/// line with the record count, time and state hash.
pub fn recover(
    config: &Config,
    core: &mut RiskCore,
    name: Alpha<10>,
    truncate_at_corruption: bool,
    sessions: &mut dyn FnMut(Replayed<'_>),
) -> Result<Option<Recovered>, Error> {
    if !config.journal.enabled {
        return Ok(None);
    }
    let dir = journal_dir(config, &String::from_utf8_lossy(name.trimmed()));
    let jc = journal_config(config, dir.clone());
    jc.validate()?;
    // Before anything reads, repairs or removes a file there: a second server on the
    // same directory would take the live writer's tail for a torn one.
    let lock = DirLock::take(&dir)?;
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
        match Command::decode(record) {
            Ok(cmd) => {
                if let Some(session) = input_session(&cmd) {
                    sessions(Replayed::Input { session, record });
                }
                core.process(&cmd, &mut Replay { sessions });
            }
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
    eprintln!(
        "tickgate: {} in {}; {recovery}; state hash {:#018x}",
        jc.durability_name(),
        dir.display(),
        core.state_hash()
    );
    let (writer, preparer, flusher) = journal::open_writer(&jc, &recovery)?;
    Ok(Some(Recovered {
        lock,
        writer,
        preparer,
        flusher,
    }))
}

/// An exclusive advisory lock (`flock`) on `<journal dir>/LOCK`, held by the server
/// that journals there; released when dropped or when the process exits, however it
/// exits (the kernel drops the lock with the last descriptor).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// The file under the journal directory that carries the lock.
    pub const FILE: &'static str = "LOCK";

    /// Takes the lock on `dir` (created if missing), or says who holds it.
    pub fn take(dir: &std::path::Path) -> Result<Self, Error> {
        let path = dir.join(Self::FILE);
        let open = std::fs::create_dir_all(dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
        });
        let mut file = open.map_err(|e| format!("journal lock {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                return Err(format!(
                    "journal directory {} is in use by another tickgate (pid {}); stop it, \
                     or give this server another journal.dir or session",
                    dir.display(),
                    holder.trim()
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("journal lock {}: {e}", path.display()).into());
            }
        }
        // The holder's pid, for the message above (informational only).
        let _ = file.set_len(0);
        let _ =
            std::io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes());
        Ok(Self { _file: file })
    }
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
