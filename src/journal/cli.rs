//! `tickgate journal dump|verify|stats`: read-only inspection of a journal directory.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{JournalError, JournalReader, ReadOptions, Recovery};
use crate::engine::command::Command;

/// Options of `tickgate journal dump`.
#[derive(Debug, Clone, clap::Args)]
pub struct DumpArgs {
    /// The journal directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// First sequence number to print.
    #[arg(long, default_value_t = 0)]
    pub from_seq: u64,
    /// Most records to print.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Print payloads as hex instead of decoding them as core commands.
    #[arg(long)]
    pub hex: bool,
}

/// Options of `tickgate journal verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The journal directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Refuse segments with another config fingerprint (hex, as `stats` prints it).
    #[arg(long, value_parser = parse_hex)]
    pub fingerprint: Option<u64>,
}

/// Options of `tickgate journal stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// The journal directory.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Options of `tickgate journal replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The journal directory (one trading day: `<journal.dir>/<session>/`).
    #[arg(long)]
    pub dir: PathBuf,
    /// The configuration the journal was written under (the embedded default without
    /// it); its fingerprint must match the segments'.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

fn parse_hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("{s}: {e}"))
}

fn read_only(fingerprint: Option<u64>) -> ReadOptions {
    ReadOptions {
        fingerprint,
        truncate_at_corruption: false,
        repair: false,
    }
}

/// Runs `tickgate journal dump`: one line per record (seq, ts_ns, length, decoded
/// command or hex). Never modifies the journal.
pub fn run_dump(args: &DumpArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reader = JournalReader::open(&args.dir, read_only(None))?;
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut printed = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = reader.for_each(|seq, ts_ns, payload| {
        if seq < args.from_seq || printed >= limit {
            return;
        }
        printed += 1;
        let body = match Command::decode(payload) {
            Ok(cmd) if !args.hex => format!("{cmd:?}"),
            _ => hex(payload),
        };
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!("{seq} {ts_ns} {} {body}\n", payload.len()),
        );
    });
    drop(out);
    report_end(result)
}

/// Runs `tickgate journal verify`: checks every CRC and the sequence; exit status 0 if
/// the journal is whole or only has a torn tail (which recovery cuts), 1 on corruption.
pub fn run_verify(args: &VerifyArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reader = JournalReader::open(&args.dir, read_only(args.fingerprint))?;
    let result = reader.for_each(|_, _, _| {});
    if let Ok(r) = &result {
        print_summary(r);
    }
    report_end(result)
}

/// Runs `tickgate journal stats`: segments, records, sequence and time range, bytes,
/// records per command kind.
pub fn run_stats(args: &StatsArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reader = JournalReader::open(&args.dir, read_only(None))?;
    let mut kinds = [0u64; 256];
    let (mut first_ts, mut last_ts) = (None, 0u64);
    let result = reader.for_each(|_, ts_ns, payload| {
        first_ts.get_or_insert(ts_ns);
        last_ts = ts_ns;
        kinds[payload.first().copied().unwrap_or(0) as usize] += 1;
    });
    println!("segments: {}", reader.segment_count());
    if let Some(fp) = reader.fingerprint() {
        println!("fingerprint: {fp:#018x}");
    }
    if let Ok(r) = &result {
        print_summary(r);
        if let Some(t0) = first_ts {
            println!("ts_ns: {t0} .. {last_ts}");
        }
        for (kind, n) in kinds.iter().enumerate().filter(|(_, n)| **n > 0) {
            println!("kind {:?}: {n}", kind as u8 as char);
        }
    }
    report_end(result)
}

/// Runs `tickgate journal replay`: replays every record through a fresh matching
/// core behind pre-trade risk built from the configuration and prints the record count, the speed and the
/// core's state hash — what `serve` logs after its own recovery. Read-only.
pub fn run_replay(args: &ReplayArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = crate::config::Config::load(args.config.as_deref())?;
    let mut core = crate::risk::RiskCore::from_config(&config)?;
    let reader = JournalReader::open(&args.dir, read_only(Some(config.journal_fingerprint())))?;
    let mut bad = 0u64;
    let result = reader.for_each(|_, _, payload| match Command::decode(payload) {
        Ok(cmd) => core.process(&cmd, &mut crate::engine::NullSink),
        Err(_) => bad += 1,
    });
    if let Ok(r) = &result {
        print_summary(r);
        if bad > 0 {
            println!("records that are not commands: {bad}");
        }
        println!("state hash {:#018x}", core.state_hash());
    }
    report_end(result)
}

fn print_summary(r: &Recovery) {
    println!(
        "records: {} (seq {:?} .. next {:?}), payload bytes {}, {} segments with records",
        r.records, r.first_seq, r.next_seq, r.payload_bytes, r.active_segments
    );
    println!(
        "read in {:.3} s ({:.1} M records/s)",
        r.elapsed.as_secs_f64(),
        r.records_per_s() / 1e6
    );
    if let Some(t) = &r.torn_tail {
        println!(
            "torn tail: segment {} byte {} ({} bytes); recovery will cut it",
            t.segment, t.offset, t.bytes
        );
    }
}

fn report_end(
    result: Result<Recovery, JournalError>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(JournalError::Corrupt(c)) => {
            eprintln!("tickgate journal: {c}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
