//! `tickgate bench journal`: the journal's append cost per record against a memcpy into
//! a pre-faulted buffer (the floor), interleaved in one run; replay speed; and what
//! `sync` mode costs (commit latency, records per `fdatasync`, append cost meanwhile).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::report::{self, Machine, Percentiles, latency_histogram, ratio};
use crate::clock::Clock;
use crate::journal::{
    self, Durability, Flusher, JournalConfig, JournalReader, JournalWriter, ReadOptions, Recovery,
    SegmentPreparer, frame_bytes,
};
use crate::session::INPUT_RECORD_BYTES as RECORD_BYTES;

/// Options of `tickgate bench journal`.
#[derive(Debug, Clone, clap::Args)]
pub struct JournalBenchArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Parent directory of the scratch journal (removed afterwards). On tmpfs
    /// `fdatasync` is free: use a disk-backed directory to measure `sync`.
    #[arg(long, default_value = "/tmp")]
    pub dir: PathBuf,
    /// Recorded appends (and floor copies), over all rounds.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Interleaved rounds (floor, journal, floor, journal …).
    #[arg(long, default_value_t = 8)]
    pub rounds: u64,
    /// Segment size in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub segment_bytes: usize,
    /// Records committed one at a time in `sync` mode (each waits for its fdatasync).
    #[arg(long, default_value_t = 500)]
    pub sync_commits: u64,
    /// Seconds of back-to-back appends in `sync` mode (group commit).
    #[arg(long, default_value_t = 1.0)]
    pub sync_seconds: f64,
    /// CPU of the appending thread (the housekeeping thread is not pinned).
    #[arg(long, default_value_t = 1)]
    pub cpu: usize,
    /// Write the distributions as `DIR/journal-<variant>.hgrm`.
    #[arg(long)]
    pub hgrm_dir: Option<PathBuf>,
}

/// What `tickgate bench journal` measured.
#[derive(Debug, Clone, Serialize)]
pub struct JournalBenchResult {
    /// memcpy of one record frame into a pre-faulted buffer, ns.
    pub floor: Percentiles,
    /// `JournalWriter::append` in `process` mode, ns.
    pub append_process: Percentiles,
    /// Append p50 ÷ floor p50, and p99 ÷ p99.
    pub append_p50_vs_floor: f64,
    /// Append p99 ÷ floor p99.
    pub append_p99_vs_floor: f64,
    /// Records verified and replayed per second (best of 3).
    pub replay_records_per_s: f64,
    /// Append → durable position, one record at a time, `sync` mode, ns.
    pub sync_commit: Percentiles,
    /// `append` while the flusher syncs back-to-back, ns.
    pub append_sync: Percentiles,
    /// Records made durable per second with back-to-back appends.
    pub sync_records_per_s: f64,
    /// Records per `fdatasync` in that run (group commit).
    pub sync_records_per_flush: f64,
    /// Segments the writer had to create itself (process run, sync run).
    pub inline_prepares: [u64; 2],
}

struct Housekeeping {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Housekeeping {
    /// Starts the preparer and flusher on a thread that does not share `writer_cpu`
    /// and runs at normal priority: a thread inherits its creator's affinity and
    /// policy, and a `SCHED_FIFO` writer spinning on its CPU for durability would
    /// otherwise never let the flusher run there.
    fn start(mut prep: SegmentPreparer, mut flusher: Option<Flusher>, writer_cpu: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let other = crate::affinity::available_cpus()
                .into_iter()
                .find(|&c| c != writer_cpu);
            if let Some(cpu) = other {
                let _ = crate::affinity::pin_current_thread(cpu);
            }
            let normal = libc::sched_param { sched_priority: 0 };
            // SAFETY: sets this thread's own policy; `normal` outlives the call.
            unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal) };
            while !s.load(Ordering::Relaxed) {
                let work = prep.do_work() + flusher.as_mut().map_or(0, Flusher::do_work);
                if work == 0 {
                    std::thread::yield_now();
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn payload(seq: u64) -> [u8; RECORD_BYTES] {
    let mut p = [b'O'; RECORD_BYTES];
    p[8..16].copy_from_slice(&seq.to_be_bytes());
    p
}

fn open(
    dir: &Path,
    segment_bytes: usize,
    durability: Durability,
    writer_cpu: usize,
) -> Result<(JournalWriter, Housekeeping), journal::JournalError> {
    let cfg = JournalConfig {
        segment_bytes,
        max_payload_bytes: RECORD_BYTES as u32,
        durability,
        ..JournalConfig::new(dir, journal::fingerprint(b"bench"))
    };
    let (w, prep, flusher) = journal::open_writer(&cfg, &Recovery::default())?;
    let flusher = (durability == Durability::Sync).then_some(flusher);
    Ok((w, Housekeeping::start(prep, flusher, writer_cpu)))
}

/// One floor round: copy a record frame into the next slot of a pre-faulted buffer.
fn floor_round(clock: &Clock, buf: &mut [u8], n: u64, hist: &mut Histogram<u64>) {
    let frame = frame_bytes(RECORD_BYTES);
    let mut off = 0;
    for seq in 0..n {
        let p = payload(seq);
        let t0 = clock.now();
        if off + frame > buf.len() {
            off = 0;
        }
        buf[off + 8..off + 16].copy_from_slice(&seq.to_le_bytes());
        buf[off + 24..off + 24 + RECORD_BYTES].copy_from_slice(std::hint::black_box(&p));
        off += frame;
        let t1 = clock.now();
        let _ = hist.record(clock.ticks_to_ns(t1 - t0).max(1));
    }
    std::hint::black_box(&buf);
}

fn append_round(clock: &Clock, w: &mut JournalWriter, n: u64, hist: &mut Histogram<u64>) {
    let first = w.written_position();
    for seq in first..first + n {
        let p = payload(seq);
        let t0 = clock.now();
        w.append(seq, seq, std::hint::black_box(&p))
            .expect("append");
        let t1 = clock.now();
        let _ = hist.record(clock.ticks_to_ns(t1 - t0).max(1));
    }
}

fn replay_speed(dir: &Path) -> Result<f64, journal::JournalError> {
    let mut best = 0f64;
    for _ in 0..3 {
        let mut sum = 0u64;
        let rec = JournalReader::open(dir, ReadOptions::default())?
            .for_each(|seq, _, p| sum = sum.wrapping_add(seq ^ p.len() as u64))?;
        std::hint::black_box(sum);
        best = best.max(rec.records_per_s());
    }
    Ok(best)
}

/// Closed loop: append one record, spin until it is durable.
fn sync_commits(clock: &Clock, w: &mut JournalWriter, n: u64, hist: &mut Histogram<u64>) {
    for _ in 0..n {
        let seq = w.written_position();
        let t0 = clock.now();
        w.append(seq, seq, &payload(seq)).expect("append");
        while w.durable_position() <= seq {
            std::hint::spin_loop();
        }
        let _ = hist.record(clock.ticks_to_ns(clock.now() - t0).max(1));
    }
}

/// Back-to-back appends for `secs`; returns (durable records/s, records per flush).
fn sync_stream(
    clock: &Clock,
    w: &mut JournalWriter,
    secs: f64,
    hist: &mut Histogram<u64>,
) -> (f64, f64) {
    let (start, d0, f0) = (Instant::now(), w.durable_position(), w.stats().flushes);
    while start.elapsed().as_secs_f64() < secs {
        append_round(clock, w, 1000, hist);
    }
    let end = w.written_position();
    while w.durable_position() < end {
        std::thread::yield_now();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let flushes = (w.stats().flushes - f0).max(1);
    let durable = (end - d0) as f64;
    (durable / elapsed, durable / flushes as f64)
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(parent: &Path, tag: &str) -> Scratch {
    let p = parent.join(format!(
        "tickgate-bench-journal-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&p);
    Scratch(p)
}

fn measure(
    args: &JournalBenchArgs,
    clock: &Clock,
) -> Result<JournalBenchResult, Box<dyn std::error::Error>> {
    if let Err(e) = crate::affinity::pin_current_thread(args.cpu) {
        eprintln!("tickgate bench journal: not pinned: {e}");
    }
    let (mut floor, mut append) = (latency_histogram(), latency_histogram());
    let process_dir = scratch(&args.dir, "process");
    let (mut w, hk) = open(
        &process_dir.0,
        args.segment_bytes,
        Durability::Process,
        args.cpu,
    )?;
    let mut buf = vec![1u8; args.segment_bytes];
    let per_round = (args.records / args.rounds.max(1)).max(1);
    for round in 0..args.rounds + 1 {
        // Round 0 is the warm-up: measured into scratch histograms and discarded.
        let (mut f, mut a) = (latency_histogram(), latency_histogram());
        floor_round(
            clock,
            &mut buf,
            per_round,
            if round == 0 { &mut f } else { &mut floor },
        );
        append_round(
            clock,
            &mut w,
            per_round,
            if round == 0 { &mut a } else { &mut append },
        );
    }
    let inline_process = w.stats().inline_prepares;
    drop((w, hk));
    let replay = replay_speed(&process_dir.0)?;
    drop(process_dir);

    let sync_dir = scratch(&args.dir, "sync");
    let (mut w, hk) = open(&sync_dir.0, args.segment_bytes, Durability::Sync, args.cpu)?;
    let (mut commit, mut append_sync) = (latency_histogram(), latency_histogram());
    sync_commits(clock, &mut w, args.sync_commits, &mut commit);
    let (sync_rate, per_flush) = sync_stream(clock, &mut w, args.sync_seconds, &mut append_sync);
    let inline_sync = w.stats().inline_prepares;
    drop((w, hk));
    if let Some(dir) = &args.hgrm_dir {
        for (name, h) in [
            ("floor", &floor),
            ("append-process", &append),
            ("sync-commit", &commit),
            ("append-sync", &append_sync),
        ] {
            report::write_hgrm(dir, &format!("journal-{name}"), h)?;
        }
    }
    let (floor, append_process) = (Percentiles::of(&floor), Percentiles::of(&append));
    Ok(JournalBenchResult {
        append_p50_vs_floor: ratio(append_process.p50_ns as f64, floor.p50_ns as f64),
        append_p99_vs_floor: ratio(append_process.p99_ns as f64, floor.p99_ns as f64),
        floor,
        append_process,
        replay_records_per_s: replay,
        sync_commit: Percentiles::of(&commit),
        append_sync: Percentiles::of(&append_sync),
        sync_records_per_s: sync_rate,
        sync_records_per_flush: per_flush,
        inline_prepares: [inline_process, inline_sync],
    })
}

/// Runs `tickgate bench journal`.
pub fn run(args: &JournalBenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let clock = Clock::calibrate(Duration::from_millis(20));
    let r = measure(args, &clock)?;
    println!(
        "journal in {}, {}-byte payloads ({}-byte frames), writer on CPU {}",
        args.dir.display(),
        RECORD_BYTES,
        frame_bytes(RECORD_BYTES),
        args.cpu
    );
    println!("{}", report::table_header(""));
    println!("{}", report::table_row("memcpy floor", &r.floor, ""));
    println!(
        "{}",
        report::table_row("append (process)", &r.append_process, "")
    );
    println!(
        "{}",
        report::table_row("append (sync, busy)", &r.append_sync, "")
    );
    println!(
        "{}",
        report::table_row("sync commit (1 rec)", &r.sync_commit, "")
    );
    println!(
        "ratios: append p50 vs floor {:.3}, p99 vs floor {:.3}",
        r.append_p50_vs_floor, r.append_p99_vs_floor
    );
    println!("replay: {:.2} M records/s", r.replay_records_per_s / 1e6);
    println!(
        "segments created inline by the writer: {} (process), {} (sync)",
        r.inline_prepares[0], r.inline_prepares[1]
    );
    println!(
        "sync group commit: {:.0} records/s durable, {:.1} records per fdatasync",
        r.sync_records_per_s, r.sync_records_per_flush
    );
    if args.json {
        let json = serde_json::json!({
            "bench": "journal",
            "machine": Machine::this_host(),
            "dir": args.dir,
            "cpu": args.cpu,
            "records": args.records,
            "result": r,
        });
        println!("{json}");
    }
    Ok(ExitCode::SUCCESS)
}
