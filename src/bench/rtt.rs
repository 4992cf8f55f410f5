//! `tickgate bench rtt`: order → accept round trips through the io_uring gateway and
//! the matching core over SoupBinTCP/OUCH, against the raw TCP ping-pong floor of the
//! same message sizes (an Enter Order packet's bytes out, an Order Accepted packet's
//! bytes back) and the io_uring gateway answering the same sizes with no session layer
//! or core (to split the overhead), interleaved round by round in the same run; then
//! pipelined order throughput with several clients against the raw loopback
//! throughput of the same exchange with as many pipelined clients.
//!
//! Every variant is measured by the same client loop: a pre-built request written to
//! a non-blocking socket, then reads spun until the whole answer is in (for orders:
//! until the SoupBinTCP frame holding the Order Accepted is complete).
//!
//! Layout on the 2-vCPU box: the measuring client spins on `--client-cpu` (0); the
//! server — gateway + core sharing one pinned thread (*shared* threading mode), or
//! the raw server for the floor — spins on `--server-cpu` (1).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::affinity::{IdleKind, pin_current_thread};
use crate::bench::report::{
    Machine, Percentiles, latency_histogram, ratio, table_header, table_row, write_hgrm,
};
use crate::client::{Client, Event, LoginParams};
use crate::clock::Clock;
use crate::config::{AccountConfig, Config, ThreadingMode};
use crate::gateway::tcp_floor::{self, Exchange, ServerIdle};
use crate::proto::ouch::{
    CancelOrder, EnterOrder, Inbound, Options, Price, Side, Symbol, TimeInForce,
};
use crate::proto::soupbin::encode_unsequenced_with;
use crate::server::{Running, spawn};

type Error = Box<dyn std::error::Error>;

/// Bytes of one Enter Order packet without options (the floor's message size).
pub const ENTER_PACKET_BYTES: usize = 3 + 47;

/// Options of `tickgate bench rtt`.
#[derive(Debug, Clone, clap::Args)]
pub struct RttArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Recorded round trips per variant, over all rounds.
    #[arg(long, default_value_t = 200_000)]
    pub iters: u64,
    /// Unrecorded round trips per variant, over all rounds.
    #[arg(long, default_value_t = 40_000)]
    pub warmup: u64,
    /// Interleaved rounds (floor, gateway, floor, gateway, …).
    #[arg(long, default_value_t = 4)]
    pub rounds: u32,
    /// CPU of the measuring client.
    #[arg(long, default_value_t = 0)]
    pub client_cpu: usize,
    /// CPU of the server thread (gateway + core, shared mode).
    #[arg(long, default_value_t = 1)]
    pub server_cpu: usize,
    /// Pipelined clients in the throughput runs.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Orders per throughput run (one run per round).
    #[arg(long, default_value_t = 400_000)]
    pub throughput_orders: u64,
    /// Orders in flight per client in the throughput runs.
    #[arg(long, default_value_t = 128)]
    pub window: usize,
    /// Write `.hgrm` percentile distributions here.
    #[arg(long)]
    pub hgrm_dir: Option<PathBuf>,
}

/// Runs the benchmark and prints the report.
pub fn run(args: &RttArgs) -> Result<ExitCode, Error> {
    if let Err(e) = pin_current_thread(args.client_cpu) {
        eprintln!("tickgate: bench rtt: client not pinned: {e}");
    }
    let clock = Clock::calibrate(Duration::from_millis(200));
    let rounds = u64::from(args.rounds.max(1));
    let (iters, warmup) = (args.iters.div_ceil(rounds), args.warmup / rounds);
    let (mut floor, mut ours) = (latency_histogram(), latency_histogram());
    let mut ours_no_journal = latency_histogram();
    let mut uring = latency_histogram();
    let (mut raw_tp, mut our_tp) = (Vec::new(), Vec::new());
    let mut threads = String::new();
    let ex = Exchange {
        request_bytes: ENTER_PACKET_BYTES,
        response_bytes: accepted_packet_bytes(args)?,
    };
    for _ in 0..rounds {
        raw_tp.push(floor_round(args, ex, &clock, warmup, iters, &mut floor)?);
        uring_echo_round(args, ex, &clock, warmup, iters, &mut uring)?;
        // The default server (journal on, `process`), in a fresh journal each round.
        let journal =
            std::env::temp_dir().join(format!("tickgate-bench-rtt-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&journal);
        let server = spawn(bench_config(args, Some(&journal)), true).map_err(|e| e.to_string())?;
        threads = server.threads.clone();
        order_round(&server, &clock, warmup, iters, &mut ours)?;
        our_tp.push(throughput_round(&server, args)?);
        server.stop_and_join().map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&journal);
        // The same without the journal.
        let server = spawn(bench_config(args, None), true).map_err(|e| e.to_string())?;
        order_round(&server, &clock, warmup, iters, &mut ours_no_journal)?;
        server.stop_and_join().map_err(|e| e.to_string())?;
    }
    let report = Report {
        ex,
        floor,
        uring,
        ours,
        ours_no_journal,
        raw_msgs_per_s: median(&mut raw_tp),
        orders_per_s: median(&mut our_tp),
        threads,
    };
    report.print(args)?;
    Ok(ExitCode::SUCCESS)
}

/// The server's configuration: the embedded default on the server CPU, spinning, with
/// its journal (`process` durability, the default) in `journal`, or none.
fn bench_config(args: &RttArgs, journal: Option<&std::path::Path>) -> Config {
    let mut c = Config::embedded();
    match journal {
        Some(dir) => c.journal.dir = dir.to_path_buf(),
        None => c.journal.enabled = false,
    }
    // The market-data publisher's thread (`threads.publisher_cpu` = 0) would share the
    // client's CPU on this 2-vCPU layout; the core still writes ITCH to its ring.
    c.marketdata.enabled = false;
    // Algo slots play no part in TCP round trips.
    c.ipc.enabled = false;
    c.admin.enabled = false;
    // The raw client reads fixed-size answers: no Start/End of Day in its stream.
    c.gateway.system_events = false;
    c.gateway.listen = "127.0.0.1:0".parse().expect("address");
    c.gateway.log_events = false;
    c.gateway.replay_bytes_per_session = 64 << 20;
    c.threads.mode = ThreadingMode::Shared;
    c.threads.gateway_cpus = vec![args.server_cpu];
    c.threads.core_cpu = args.server_cpu;
    c.threads.idle = IdleKind::Spin;
    c.accounts.clear();
    for i in 0..=args.clients {
        c.accounts.push(AccountConfig {
            username: format!("B{i}"),
            password: "bench".into(),
            firm: format!("B{i}"),
            cancel_on_disconnect: true,
        });
    }
    c.engine.max_sessions = c.engine.max_sessions.max(c.accounts.len() as u16);
    // The pre-trade checks run on every order as in production; the message throttles
    // (10,000 orders/s by default) and the exposure limits would refuse a benchmark
    // that sends hundreds of thousands per second on one account, so they are off.
    let r = &mut c.risk.defaults;
    (r.order_rate_per_s, r.cancel_rate_per_s) = (0, 0);
    (r.max_open_orders, r.max_position) = (0, 0);
    c
}

fn floor_round(
    args: &RttArgs,
    ex: Exchange,
    clock: &Clock,
    warmup: u64,
    iters: u64,
    hist: &mut Histogram<u64>,
) -> Result<f64, Error> {
    let cpu = Some(args.server_cpu);
    let one = tcp_floor::spawn_raw_responder(cpu, ServerIdle::Spin, ex, 1)?;
    let mut s = tcp_floor::connect_spinning(one.addr())?;
    tcp_floor::ping_pong_exchange(&mut s, ex, warmup, iters, clock, hist)?;
    drop(s);
    drop(one);
    let clients = args.clients.max(1);
    let many = tcp_floor::spawn_raw_responder(cpu, ServerIdle::Spin, ex, clients)?;
    let mut streams = (0..clients)
        .map(|_| tcp_floor::connect_spinning(many.addr()))
        .collect::<Result<Vec<_>, _>>()?;
    let n = args.throughput_orders;
    Ok(tcp_floor::pipelined_exchange(
        &mut streams,
        ex,
        n,
        args.window,
    )?)
}

/// The gateway alone (answering the same sizes, no session layer, no core): splits
/// the overhead over the floor into io_uring gateway and session + core.
fn uring_echo_round(
    args: &RttArgs,
    ex: Exchange,
    clock: &Clock,
    warmup: u64,
    iters: u64,
    hist: &mut Histogram<u64>,
) -> Result<(), Error> {
    let opts = crate::gateway::GatewayOptions {
        log_connections: false,
        max_connections: 16,
        ..Default::default()
    };
    let server =
        tcp_floor::spawn_uring_responder(Some(args.server_cpu), ServerIdle::Spin, ex, opts)?;
    let mut s = tcp_floor::connect_spinning(server.addr())?;
    tcp_floor::ping_pong_exchange(&mut s, ex, warmup, iters, clock, hist)?;
    Ok(())
}

fn login(server: &Running, account: usize) -> Result<Client, Error> {
    let params = LoginParams::new(&format!("B{account}"), "bench").from_sequence(0);
    let mut c = Client::connect(server.addr, &params)?;
    c.set_spin(true)?;
    Ok(c)
}

/// The measuring client's side of one session: the logged-in socket, read and
/// written directly with the floor's loop (non-blocking, spinning), and the bytes
/// received but not yet parsed.
pub(crate) struct RawSession {
    s: TcpStream,
    rx: Vec<u8>,
    start: usize,
    end: usize,
}

impl RawSession {
    pub(crate) fn new(server: &Running, account: usize) -> Result<Self, Error> {
        let c = login(server, account)?;
        let s = c.stream().try_clone()?;
        s.set_nonblocking(true)?;
        Ok(Self {
            s,
            rx: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        })
    }

    pub(crate) fn send(&mut self, packet: &[u8]) -> Result<(), Error> {
        let mut bytes = packet;
        while !bytes.is_empty() {
            match self.s.write(bytes) {
                Ok(0) => return Err("server closed".into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Spins until a Sequenced Data packet carrying an OUCH message of type
    /// `message_type` is complete (skipping other packets); returns its framed length.
    fn wait_for(&mut self, message_type: u8) -> Result<usize, Error> {
        loop {
            if let Some(len) = self.poll_for(message_type)? {
                return Ok(len);
            }
            std::hint::spin_loop();
        }
    }

    /// One look: parses what has arrived (skipping other packets) and reads the
    /// socket once; the framed length of a complete Sequenced Data packet carrying an
    /// OUCH message of type `message_type`, if one is in.
    pub(crate) fn poll_for(&mut self, message_type: u8) -> Result<Option<usize>, Error> {
        for _ in 0..2 {
            while let Some(len) = self.next_frame() {
                let frame = &self.rx[self.start..self.start + len];
                self.start += len;
                if frame.get(2..4) == Some(&[b'S', message_type][..]) {
                    return Ok(Some(len));
                }
            }
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.rx.len() - self.end < 4096 {
                self.rx.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            match self.s.read(&mut self.rx[self.end..]) {
                Ok(0) => return Err("server closed".into()),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// The length of the complete SoupBinTCP frame at `start`, if there is one.
    fn next_frame(&self) -> Option<usize> {
        let b = &self.rx[self.start..self.end];
        let len = 2 + usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        (b.len() >= len).then_some(len)
    }
}

fn enter_packet(urn: u32, packet: &mut [u8; 64]) -> Result<usize, Error> {
    let m = EnterOrder::new(
        urn,
        Side::Buy,
        100,
        Symbol::padded("AAPL"),
        Price(1_800_000),
    );
    Ok(encode_unsequenced_with(packet, |b| {
        Inbound::EnterOrder(m).encode(b)
    })?)
}

fn cancel_packet(urn: u32, packet: &mut [u8; 64]) -> Result<usize, Error> {
    let m = CancelOrder {
        user_ref_num: urn,
        quantity: 0,
        options: Options::NONE,
    };
    Ok(encode_unsequenced_with(packet, |b| {
        Inbound::CancelOrder(m).encode(b)
    })?)
}

/// Bytes of the Order Accepted packet the server answers the bench's Enter Order
/// with (the floor's response size), asked of a server started for the purpose.
fn accepted_packet_bytes(args: &RttArgs) -> Result<usize, Error> {
    let server = spawn(bench_config(args, None), false).map_err(|e| e.to_string())?;
    let mut c = RawSession::new(&server, 0)?;
    let mut packet = [0u8; 64];
    let n = enter_packet(1, &mut packet)?;
    assert_eq!(n, ENTER_PACKET_BYTES, "the Enter Order packet changed size");
    c.send(&packet[..n])?;
    let accepted = c.wait_for(b'A')?;
    drop(c);
    server.stop_and_join().map_err(|e| e.to_string())?;
    Ok(accepted)
}

/// Enter → Accepted round trips (recorded), each followed by an unrecorded cancel so
/// the book and the session's order map stay small. The packets are built before the
/// clock starts, as the floor's messages are.
fn order_round(
    server: &Running,
    clock: &Clock,
    warmup: u64,
    iters: u64,
    hist: &mut Histogram<u64>,
) -> Result<(), Error> {
    let mut c = RawSession::new(server, 0)?;
    let (mut enter, mut cancel) = ([0u8; 64], [0u8; 64]);
    for i in 0..warmup + iters {
        let urn = 2 * i as u32 + 1;
        let n = enter_packet(urn, &mut enter)?;
        let t0 = clock.now();
        c.send(&enter[..n])?;
        c.wait_for(b'A')?;
        let t1 = clock.now();
        if i >= warmup {
            hist.saturating_record(clock.ticks_to_ns(t1 - t0).max(1));
        }
        let n = cancel_packet(urn, &mut cancel)?;
        c.send(&cancel[..n])?;
        c.wait_for(b'C')?;
    }
    Ok(())
}

/// One pipelined client: IOC buys that never match (Accepted + Canceled each).
struct Pipe {
    client: Client,
    next_urn: u32,
    sent: u64,
    done: u64,
    buf: Vec<u8>,
}

impl Pipe {
    fn top_up(&mut self, quota: u64, window: usize) -> Result<(), Error> {
        let in_flight = (self.sent - self.done) as usize;
        if in_flight > window / 2 || self.sent >= quota {
            return Ok(());
        }
        self.buf.clear();
        let n = (window - in_flight).min((quota - self.sent) as usize);
        let mut packet = [0u8; 64];
        for _ in 0..n {
            let m = EnterOrder {
                time_in_force: TimeInForce::Ioc,
                ..EnterOrder::new(
                    self.next_urn,
                    Side::Buy,
                    100,
                    Symbol::padded("MSFT"),
                    Price(4_000_000),
                )
            };
            let len = encode_unsequenced_with(&mut packet, |b| Inbound::EnterOrder(m).encode(b))?;
            self.buf.extend_from_slice(&packet[..len]);
            self.next_urn += 1;
        }
        self.client.send_raw(&self.buf)?;
        self.sent += n as u64;
        Ok(())
    }

    fn drain(&mut self) -> Result<(), Error> {
        while let Some(ev) = self.client.try_recv()? {
            if let Event::Sequenced { message, .. } = ev
                && message.message_type() == b'C'
            {
                self.done += 1;
            }
        }
        Ok(())
    }
}

/// Orders per second end to end (Accepted and Canceled received) with pipelined
/// clients served round-robin by this one thread.
fn throughput_round(server: &Running, args: &RttArgs) -> Result<f64, Error> {
    let mut pipes = (1..=args.clients)
        .map(|i| {
            Ok(Pipe {
                client: login(server, i)?,
                next_urn: 1,
                sent: 0,
                done: 0,
                buf: Vec::with_capacity(args.window * ENTER_PACKET_BYTES),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let quota = args.throughput_orders / args.clients.max(1) as u64;
    let start = Instant::now();
    while pipes.iter().any(|p| p.done < quota) {
        for p in &mut pipes {
            p.top_up(quota, args.window)?;
            p.drain()?;
        }
    }
    let total: u64 = pipes.iter().map(|p| p.done).sum();
    Ok(total as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

struct Report {
    ex: Exchange,
    floor: Histogram<u64>,
    uring: Histogram<u64>,
    ours: Histogram<u64>,
    ours_no_journal: Histogram<u64>,
    raw_msgs_per_s: f64,
    orders_per_s: f64,
    threads: String,
}

impl Report {
    fn print(&self, args: &RttArgs) -> Result<(), Error> {
        let (f, o) = (Percentiles::of(&self.floor), Percentiles::of(&self.ours));
        let u = Percentiles::of(&self.uring);
        let nj = Percentiles::of(&self.ours_no_journal);
        if let Some(dir) = &args.hgrm_dir {
            write_hgrm(dir, "rtt_tcp_floor", &self.floor)?;
            write_hgrm(dir, "rtt_uring_echo", &self.uring)?;
            write_hgrm(dir, "rtt_order_accept", &self.ours)?;
            write_hgrm(dir, "rtt_order_accept_no_journal", &self.ours_no_journal)?;
        }
        println!(
            "tickgate bench rtt: {}-byte Enter Order packets answered by {}-byte Order Accepted packets",
            self.ex.request_bytes, self.ex.response_bytes
        );
        println!(
            "client on CPU {}, server {}; {} rounds interleaved",
            args.client_cpu, self.threads, args.rounds
        );
        println!("{}", table_header("(ns)"));
        println!("{}", table_row("tcp_floor", &f, ""));
        println!(
            "{}",
            table_row("uring_echo", &u, "gateway only, same sizes")
        );
        println!("{}", table_row("order_accept", &o, "journal on (process)"));
        println!(
            "{}",
            table_row("order_accept_no_journal", &nj, "journal off")
        );
        let ratios = json!({
            "rtt_p50_vs_floor": ratio(o.p50_ns as f64, f.p50_ns as f64),
            "rtt_p99_vs_floor": ratio(o.p99_ns as f64, f.p99_ns as f64),
            "throughput_vs_raw": ratio(self.orders_per_s, self.raw_msgs_per_s),
            "uring_echo_p50_vs_floor": ratio(u.p50_ns as f64, f.p50_ns as f64),
            "rtt_p50_vs_uring_echo": ratio(o.p50_ns as f64, u.p50_ns as f64),
            "rtt_journal_vs_off": ratio(o.p50_ns as f64, nj.p50_ns as f64),
            "rtt_p99_journal_vs_off": ratio(o.p99_ns as f64, nj.p99_ns as f64),
        });
        println!(
            "throughput ({} pipelined clients, window {}): {:.0} orders/s end to end, \
             raw loopback exchange {:.0} msgs/s",
            args.clients, args.window, self.orders_per_s, self.raw_msgs_per_s
        );
        println!("ratios: {ratios}");
        if args.json {
            let obj = json!({
                "bench": "rtt",
                "machine": Machine::this_host(),
                "threading": self.threads,
                "client_cpu": args.client_cpu,
                "msg_bytes": ENTER_PACKET_BYTES,
                "response_bytes": self.ex.response_bytes,
                "variants": {
                    "tcp_floor": f,
                    "uring_echo": u,
                    "order_accept": o,
                    "order_accept_no_journal": nj,
                },
                "journal": "order_accept runs the default configuration (journal on, process durability); order_accept_no_journal the same server with the journal off",
                "throughput": {
                    "orders_per_s": self.orders_per_s,
                    "raw_loopback_msgs_per_s": self.raw_msgs_per_s,
                    "raw_loopback": "the same exchange, as many pipelined clients, one read + one write per batch",
                    "clients": args.clients,
                    "window_per_client": args.window,
                },
                "ratios": ratios,
            });
            println!("{obj}");
        }
        Ok(())
    }
}
