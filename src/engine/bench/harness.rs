//! The benchmark loop shared by `tickgate bench engine` and `bench/engine.rs`.
//!
//! Venues (our engine, peers) see the same stream, chunk by chunk, interleaved (A B C A B
//! C …, rotating who goes first every two chunks) so drift of this noisy VM hits all alike. Even chunks
//! are timed as a whole (throughput, no per-command clock reads, every phase of every
//! command included); odd chunks time each command's [`Venue::execute`] alone between
//! two fenced TSC reads (`lfence; rdtsc; lfence`: the second read waits until every
//! instruction of the command has completed, and none of the command's loads starts
//! before the first), so a latency sample is the venue's whole matching work plus one
//! clock read, without the harness's bookkeeping (the histogram record, and the id
//! translation a session layer does on its own thread in production). The first chunks
//! warm up and are discarded.

use hdrhistogram::Histogram;

use super::stream::{GenCmd, Stream, StreamConfig};
use crate::bench::report::latency_histogram;
use crate::clock::{Clock, ClockSource};

/// Something that executes generated commands: our engine or a peer.
///
/// A command goes through three phases; only [`Venue::execute`] is in a latency sample.
/// What belongs to `prepare`/`complete` is what a session layer does outside the
/// matching thread: mapping the stream's slots to the venue's ids and back.
pub trait Venue {
    /// Display name (the JSON key).
    fn name(&self) -> &'static str;
    /// Translates a generated command into the venue's own (kept in `self`). Untimed.
    #[inline]
    fn prepare(&mut self, _cmd: &GenCmd) {}
    /// Executes the prepared command: the venue's matching work, timed.
    fn execute(&mut self, cmd: &GenCmd);
    /// Bookkeeping after the command (e.g. remembers the handle an Enter returned). Untimed.
    #[inline]
    fn complete(&mut self, _cmd: &GenCmd) {}
    /// All three phases.
    #[inline]
    fn apply(&mut self, cmd: &GenCmd) {
        self.prepare(cmd);
        self.execute(cmd);
        self.complete(cmd);
    }
    /// A short description of the venue's state at the end (e.g. live orders).
    fn summary(&self) -> String {
        String::new()
    }
}

/// Runs chunks on a venue, monomorphised so the per-command call is static.
pub trait ChunkRunner {
    /// The venue's name.
    fn name(&self) -> &'static str;
    /// Runs a chunk without timing individual commands.
    fn run_untimed(&mut self, cmds: &[GenCmd]);
    /// Runs a chunk, recording each command's latency (ns) into `hist`.
    fn run_timed(&mut self, cmds: &[GenCmd], clock: &Clock, hist: &mut Histogram<u64>);
    /// The venue's end-of-run summary.
    fn summary(&self) -> String;
}

impl<V: Venue> ChunkRunner for V {
    fn name(&self) -> &'static str {
        Venue::name(self)
    }

    #[inline(never)]
    fn run_untimed(&mut self, cmds: &[GenCmd]) {
        for c in cmds {
            self.apply(c);
        }
    }

    #[inline(never)]
    fn run_timed(&mut self, cmds: &[GenCmd], clock: &Clock, hist: &mut Histogram<u64>) {
        for c in cmds {
            self.prepare(c);
            let t0 = fenced_now(clock);
            self.execute(c);
            let t1 = fenced_now(clock);
            hist.saturating_record(clock.ticks_to_ns(t1 - t0).max(1));
            self.complete(c);
        }
    }

    fn summary(&self) -> String {
        Venue::summary(self)
    }
}

/// The clock, read after every earlier instruction has completed and before any later
/// one starts (`lfence; rdtsc; lfence`); `clock.now()` when the clock is not the TSC.
#[inline(always)]
fn fenced_now(clock: &Clock) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if clock.source() == ClockSource::Tsc {
        use core::arch::x86_64::{_mm_lfence, _rdtsc};
        // SAFETY: lfence and rdtsc have no preconditions on x86_64 (SSE2 is baseline).
        return unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        };
    }
    clock.now()
}

/// Run parameters.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Commands in total (per venue).
    pub commands: u64,
    /// Commands per chunk.
    pub chunk: usize,
    /// Chunks discarded as warm-up.
    pub warmup_chunks: u64,
    /// The stream.
    pub stream: StreamConfig,
}

/// What one venue measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Venue name.
    pub name: &'static str,
    /// Commands in the throughput chunks.
    pub throughput_cmds: u64,
    /// Time spent in the throughput chunks.
    pub throughput_ns: u64,
    /// Time of each throughput chunk the venue ran right after its own previous chunk
    /// (its state still in the caches), in run order.
    pub warm_chunk_ns: Vec<u64>,
    /// Per-command latency of the latency chunks.
    pub hist: Histogram<u64>,
    /// The venue's end-of-run summary.
    pub summary: String,
}

impl Measured {
    /// Commands per second over the throughput chunks.
    pub fn cmds_per_s(&self) -> f64 {
        if self.throughput_ns == 0 {
            return 0.0;
        }
        self.throughput_cmds as f64 * 1e9 / self.throughput_ns as f64
    }

    /// The median time of the throughput chunks the venue ran right after its own
    /// previous chunk (`warm_chunk_ns`): with two venues, half of each one's chunks.
    /// The median is robust to a stall that hits one chunk (on this VM the kernel gives
    /// normal tasks 50 ms of every second, even against a SCHED_FIFO spinner, while
    /// others are busy).
    pub fn warm_chunk_median_ns(&self) -> Option<f64> {
        let mut t = self.warm_chunk_ns.clone();
        if t.is_empty() {
            return None;
        }
        t.sort_unstable();
        let n = t.len();
        Some(if n % 2 == 1 {
            t[n / 2] as f64
        } else {
            (t[n / 2 - 1] + t[n / 2]) as f64 / 2.0
        })
    }
}

/// Runs the stream through every venue, interleaved by chunk.
///
/// The whole stream is generated before the run (`commands` rounded up to whole chunks,
/// ≈40 bytes each): generating a chunk between chunks wrote the chunk and the
/// generator's bookkeeping (≈4 MB) through the caches right before each venue ran, so
/// every chunk started with the venue's working set evicted — a cost of the harness,
/// not of the venue. Reading the pre-generated commands streams them in order, as a
/// venue reads its input ring.
pub fn run(venues: &mut [&mut dyn ChunkRunner], cfg: &RunConfig, clock: &Clock) -> Vec<Measured> {
    let chunk = cfg.chunk.max(1);
    let chunks = cfg.commands.div_ceil(chunk as u64);
    let mut out: Vec<Measured> = venues
        .iter()
        .map(|v| Measured {
            name: v.name(),
            throughput_cmds: 0,
            throughput_ns: 0,
            warm_chunk_ns: Vec::with_capacity(chunks.div_ceil(2) as usize),
            hist: latency_histogram(),
            summary: String::new(),
        })
        .collect();
    let mut scratch = latency_histogram();
    let stream = generate(cfg.stream, chunks as usize * chunk);
    // The venue that ran the last chunk: a throughput chunk it runs next starts warm.
    let mut last = None;
    for (c, cmds) in stream.chunks_exact(chunk).enumerate() {
        let c = c as u64;
        let warm = c < cfg.warmup_chunks;
        // Rotate who goes first every *two* chunks: rotating every chunk would, with two
        // venues, always run the same venue first on the throughput (even) chunks and
        // the other first on the latency (odd) chunks, so one of them would always
        // start warm (it ran last) where the other starts after its rival.
        for k in 0..venues.len() {
            let i = (k + (c / 2) as usize) % venues.len();
            let (v, m) = (&mut venues[i], &mut out[i]);
            if c % 2 == 1 {
                v.run_timed(cmds, clock, if warm { &mut scratch } else { &mut m.hist });
            } else {
                let t0 = clock.now();
                v.run_untimed(cmds);
                let dt = clock.ticks_to_ns(clock.now() - t0);
                if !warm {
                    m.throughput_cmds += cmds.len() as u64;
                    m.throughput_ns += dt;
                    if last == Some(i) {
                        m.warm_chunk_ns.push(dt);
                    }
                }
            }
            last = Some(i);
        }
    }
    for (v, m) in venues.iter().zip(&mut out) {
        m.summary = v.summary();
    }
    out
}

/// The first `n` commands of a stream.
fn generate(cfg: StreamConfig, n: usize) -> Vec<GenCmd> {
    let mut stream = Stream::new(cfg);
    let mut cmds = vec![GenCmd::default(); n];
    stream.fill(&mut cmds);
    cmds
}
