//! `tickgate bench rtt`: order → accept round trips through the io_uring gateway and
//! the matching core over SoupBinTCP/OUCH, against the raw TCP ping-pong floor of the
//! same message size (and the io_uring gateway's bare echo, to split the overhead),
//! interleaved round by round in the same run; then pipelined
//! order throughput with several clients against raw loopback echo throughput.
//!
//! Layout on the 2-vCPU box: the measuring client spins on `--client-cpu` (0); the
//! server — gateway + core sharing one pinned thread (*shared* threading mode), or
//! the raw echo server for the floor — spins on `--server-cpu` (1).

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
use crate::gateway::tcp_floor::{self, ServerIdle};
use crate::proto::ouch::{EnterOrder, Inbound, Outbound, Price, Side, Symbol, TimeInForce};
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
    let mut uring = latency_histogram();
    let (mut raw_tp, mut our_tp) = (Vec::new(), Vec::new());
    let mut threads = String::new();
    for _ in 0..rounds {
        raw_tp.push(floor_round(args, &clock, warmup, iters, &mut floor)?);
        uring_echo_round(args, &clock, warmup, iters, &mut uring)?;
        let server = spawn(bench_config(args), true).map_err(|e| e.to_string())?;
        threads = server.threads.clone();
        order_round(&server, &clock, warmup, iters, &mut ours)?;
        our_tp.push(throughput_round(&server, args)?);
        server.stop_and_join().map_err(|e| e.to_string())?;
    }
    let report = Report {
        floor,
        uring,
        ours,
        raw_msgs_per_s: median(&mut raw_tp),
        orders_per_s: median(&mut our_tp),
        threads,
    };
    report.print(args)?;
    Ok(ExitCode::SUCCESS)
}

fn bench_config(args: &RttArgs) -> Config {
    let mut c = Config::embedded();
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
    c
}

fn floor_round(
    args: &RttArgs,
    clock: &Clock,
    warmup: u64,
    iters: u64,
    hist: &mut Histogram<u64>,
) -> Result<f64, Error> {
    let echo = tcp_floor::spawn_raw_echo(Some(args.server_cpu), ServerIdle::Spin)?;
    let mut s = tcp_floor::connect_spinning(echo.addr())?;
    tcp_floor::ping_pong(&mut s, ENTER_PACKET_BYTES, warmup, iters, clock, hist)?;
    let window_bytes = args.clients * args.window * ENTER_PACKET_BYTES;
    let n = args.throughput_orders;
    Ok(tcp_floor::throughput(
        &mut s,
        ENTER_PACKET_BYTES,
        n,
        window_bytes,
    )?)
}

/// The gateway alone (its echo handler, no session layer, no core): splits the
/// overhead over the floor into io_uring gateway and session + core.
fn uring_echo_round(
    args: &RttArgs,
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
    let echo = tcp_floor::spawn_uring_echo(Some(args.server_cpu), ServerIdle::Spin, opts)?;
    let mut s = tcp_floor::connect_spinning(echo.addr())?;
    tcp_floor::ping_pong(&mut s, ENTER_PACKET_BYTES, warmup, iters, clock, hist)?;
    Ok(())
}

fn login(server: &Running, account: usize) -> Result<Client, Error> {
    let params = LoginParams::new(&format!("B{account}"), "bench").from_sequence(0);
    let mut c = Client::connect(server.addr, &params)?;
    c.set_spin(true)?;
    Ok(c)
}

fn wait_for(c: &mut Client, message_type: u8) -> Result<Outbound, Error> {
    loop {
        if let Event::Sequenced { message, .. } = c.recv()?
            && message.message_type() == message_type
        {
            return Ok(message);
        }
    }
}

/// Enter → Accepted round trips (recorded), each followed by an unrecorded cancel so
/// the book and the session's order map stay small.
fn order_round(
    server: &Running,
    clock: &Clock,
    warmup: u64,
    iters: u64,
    hist: &mut Histogram<u64>,
) -> Result<(), Error> {
    let mut c = login(server, 0)?;
    let aapl = Symbol::padded("AAPL");
    for i in 0..warmup + iters {
        let t0 = clock.now();
        let urn = c.enter_order(Side::Buy, 100, aapl, Price(1_800_000))?;
        wait_for(&mut c, b'A')?;
        let t1 = clock.now();
        if i >= warmup {
            hist.saturating_record(clock.ticks_to_ns(t1 - t0).max(1));
        }
        c.cancel(urn, 0)?;
        wait_for(&mut c, b'C')?;
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
    floor: Histogram<u64>,
    uring: Histogram<u64>,
    ours: Histogram<u64>,
    raw_msgs_per_s: f64,
    orders_per_s: f64,
    threads: String,
}

impl Report {
    fn print(&self, args: &RttArgs) -> Result<(), Error> {
        let (f, o) = (Percentiles::of(&self.floor), Percentiles::of(&self.ours));
        let u = Percentiles::of(&self.uring);
        if let Some(dir) = &args.hgrm_dir {
            write_hgrm(dir, "rtt_tcp_floor", &self.floor)?;
            write_hgrm(dir, "rtt_uring_echo", &self.uring)?;
            write_hgrm(dir, "rtt_order_accept", &self.ours)?;
        }
        println!("tickgate bench rtt: {ENTER_PACKET_BYTES}-byte Enter Order packets");
        println!(
            "client on CPU {}, server {}; {} rounds interleaved",
            args.client_cpu, self.threads, args.rounds
        );
        println!("{}", table_header("(ns)"));
        println!("{}", table_row("tcp_floor", &f, ""));
        println!("{}", table_row("uring_echo", &u, "gateway only"));
        println!("{}", table_row("order_accept", &o, ""));
        let ratios = json!({
            "rtt_p50_vs_floor": ratio(o.p50_ns as f64, f.p50_ns as f64),
            "rtt_p99_vs_floor": ratio(o.p99_ns as f64, f.p99_ns as f64),
            "throughput_vs_raw": ratio(self.orders_per_s, self.raw_msgs_per_s),
            "uring_echo_p50_vs_floor": ratio(u.p50_ns as f64, f.p50_ns as f64),
            "rtt_p50_vs_uring_echo": ratio(o.p50_ns as f64, u.p50_ns as f64),
        });
        println!(
            "throughput: {:.0} orders/s end to end ({} clients), raw loopback {:.0} msgs/s",
            self.orders_per_s, args.clients, self.raw_msgs_per_s
        );
        println!("ratios: {ratios}");
        if args.json {
            let obj = json!({
                "bench": "rtt",
                "machine": Machine::this_host(),
                "threading": self.threads,
                "client_cpu": args.client_cpu,
                "msg_bytes": ENTER_PACKET_BYTES,
                "variants": { "tcp_floor": f, "uring_echo": u, "order_accept": o },
                "throughput": {
                    "orders_per_s": self.orders_per_s,
                    "raw_loopback_msgs_per_s": self.raw_msgs_per_s,
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
