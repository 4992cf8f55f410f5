//! The raw TCP floor and the io_uring echo it is compared with.
//!
//! - [`spawn_raw_echo`]: a non-blocking, busy-polling `read`/`write` echo server on one
//!   connection at a time: the cheapest way this kernel can bounce TCP bytes.
//! - [`spawn_uring_echo`]: the same job done by a [`Gateway`] running the
//!   [`Echo`] handler.
//! - [`ping_pong`]: a spinning client sends an N-byte message (TCP_NODELAY) and spins
//!   until the N bytes come back, recording each round trip (ns) in a histogram.
//! - [`throughput`]: the same client pipelines N-byte messages (bounded bytes in
//!   flight) and reports echoed messages per second.
//! - [`compare`]: both servers, interleaved rounds (floor, uring, floor, uring …),
//!   client and server pinned to their own CPUs (MEASURING.md rules 3 and 5).
//!
//! Request/response shapes ([`Exchange`]: the client sends `request_bytes`, the
//! server answers each whole request with `response_bytes`, e.g. an Enter Order
//! packet answered by an Order Accepted packet):
//!
//! - [`spawn_raw_responder`]: the raw floor for that shape, serving a fixed number of
//!   connections at once, with one `read` and one `write` per connection per batch.
//! - [`spawn_uring_responder`]: the same through the io_uring gateway ([`Responder`]).
//! - [`ping_pong_exchange`] and [`pipelined_exchange`]: the latency and the
//!   message-paced throughput (several pipelined clients) of an exchange.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::echo::{Echo, Responder};
use super::{Gateway, GatewayError, GatewayOptions};
use crate::affinity::{BusySpin, Idle, Parker, SpinThenPark, pin_current_thread};
use crate::bench::report::latency_histogram;
use crate::clock::Clock;

/// How an echo server waits when there is nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerIdle {
    /// Busy-poll (benchmarks: the server owns its core).
    Spin,
    /// Spin a little, then sleep 50 µs (tests: never a second busy spinner).
    Backoff,
}

/// An echo server thread; stopped and joined on drop.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pin(cpu: Option<usize>) {
    if let Some(cpu) = cpu
        && let Err(e) = pin_current_thread(cpu)
    {
        eprintln!("tickgate: tcp_floor: {e}");
    }
}

/// Runs `body(idle)` on `ServerIdle`'s strategy.
fn with_idle(idle: ServerIdle, body: impl FnOnce(&mut dyn FnMut(usize))) {
    let parker = Parker::new();
    match idle {
        ServerIdle::Spin => body(&mut |w| BusySpin.idle(w, || false)),
        ServerIdle::Backoff => {
            let mut s = SpinThenPark::new(&parker, 1000, Duration::from_micros(50));
            body(&mut |w| s.idle(w, || false))
        }
    }
}

/// Starts the raw floor: a non-blocking, busy-polling echo server on 127.0.0.1,
/// pinned to `cpu`, serving one connection at a time.
pub fn spawn_raw_echo(cpu: Option<usize>, idle: ServerIdle) -> io::Result<EchoServer> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        pin(cpu);
        with_idle(idle, |idle| raw_echo_loop(&listener, &s, idle));
    });
    Ok(EchoServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

fn raw_echo_loop(listener: &TcpListener, stop: &AtomicBool, idle: &mut dyn FnMut(usize)) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                let _ = conn.set_nonblocking(true);
                serve_raw(conn, &mut buf, stop, idle);
            }
            Err(_) => idle(0),
        }
    }
}

/// Echoes one connection until EOF, error or stop.
fn serve_raw(mut conn: TcpStream, buf: &mut [u8], stop: &AtomicBool, idle: &mut dyn FnMut(usize)) {
    while !stop.load(Ordering::Relaxed) {
        match conn.read(buf) {
            Ok(0) => return,
            Ok(n) => {
                if write_all_spin(&mut conn, &buf[..n], stop).is_err() {
                    return;
                }
                idle(1);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => idle(0),
            Err(_) => return,
        }
    }
}

/// The message sizes of a request/response exchange: every whole request of
/// `request_bytes` is answered by `response_bytes`, whose first 8 bytes repeat the
/// request's first 8 (so a client can check that answers come in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// Bytes of one request (≥ 8).
    pub request_bytes: usize,
    /// Bytes of one response (≥ 8).
    pub response_bytes: usize,
}

impl Exchange {
    /// Responses as large as requests.
    pub const fn echo(bytes: usize) -> Self {
        Self {
            request_bytes: bytes,
            response_bytes: bytes,
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.request_bytes < 8 || self.response_bytes < 8 {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "exchange messages must be at least 8 bytes",
            ));
        }
        Ok(())
    }

    /// Writes the answers to the whole requests at the start of `requests` into `out`
    /// (cleared first); returns how many request bytes were answered.
    pub fn answer(&self, requests: &[u8], out: &mut Vec<u8>) -> usize {
        out.clear();
        let whole = requests.len() / self.request_bytes;
        for r in requests.chunks_exact(self.request_bytes) {
            let at = out.len();
            out.resize(at + self.response_bytes, 0x5a);
            out[at..at + 8].copy_from_slice(&r[..8]);
        }
        whole * self.request_bytes
    }
}

/// Starts the raw floor of an exchange on 127.0.0.1, pinned to `cpu`: a
/// non-blocking, busy-polling server that waits for `clients` connections, then
/// serves them round-robin — per connection one `read` of whatever has arrived and
/// one `write` of the answers to its whole requests — until they all close (then
/// it waits for the next `clients`). With one client it is the ping-pong floor.
pub fn spawn_raw_responder(
    cpu: Option<usize>,
    idle: ServerIdle,
    exchange: Exchange,
    clients: usize,
) -> io::Result<EchoServer> {
    exchange.check()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        pin(cpu);
        with_idle(idle, |idle| {
            while !s.load(Ordering::Acquire) {
                let Some(conns) = accept_n(&listener, clients.max(1), &s, idle) else {
                    return;
                };
                serve_exchange(conns, exchange, &s, idle);
            }
        });
    });
    Ok(EchoServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

fn accept_n(
    listener: &TcpListener,
    n: usize,
    stop: &AtomicBool,
    idle: &mut dyn FnMut(usize),
) -> Option<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        if stop.load(Ordering::Acquire) {
            return None;
        }
        match listener.accept() {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                let _ = conn.set_nonblocking(true);
                conns.push(conn);
            }
            Err(_) => idle(0),
        }
    }
    Some(conns)
}

/// One connection of the raw responder: its socket and its partial request.
struct RawConn {
    conn: TcpStream,
    buf: Vec<u8>,
    /// `buf[..carry]` is an incomplete request from the previous read.
    carry: usize,
}

fn serve_exchange(
    conns: Vec<TcpStream>,
    ex: Exchange,
    stop: &AtomicBool,
    idle: &mut dyn FnMut(usize),
) {
    let mut conns: Vec<RawConn> = conns
        .into_iter()
        .map(|conn| RawConn {
            conn,
            buf: vec![0u8; 64 * 1024],
            carry: 0,
        })
        .collect();
    let mut out = Vec::with_capacity(64 * 1024 / ex.request_bytes * ex.response_bytes + 64);
    while !conns.is_empty() && !stop.load(Ordering::Relaxed) {
        let mut work = 0;
        conns.retain_mut(|c| match c.conn.read(&mut c.buf[c.carry..]) {
            Ok(0) => false,
            Ok(n) => {
                work += 1;
                let have = c.carry + n;
                let used = ex.answer(&c.buf[..have], &mut out);
                c.buf.copy_within(used..have, 0);
                c.carry = have - used;
                write_all_spin(&mut c.conn, &out, stop).is_ok()
            }
            Err(e) => e.kind() == ErrorKind::WouldBlock,
        });
        idle(work);
    }
}

/// Starts the io_uring counterpart of [`spawn_raw_responder`]: a [`Gateway`] with the
/// [`Responder`] handler on its own thread pinned to `cpu`.
pub fn spawn_uring_responder(
    cpu: Option<usize>,
    idle: ServerIdle,
    exchange: Exchange,
    opts: GatewayOptions,
) -> Result<EchoServer, GatewayError> {
    exchange
        .check()
        .map_err(|e| GatewayError::Options(e.to_string()))?;
    let handler = Responder::new(exchange, opts.max_connections);
    spawn_gateway(cpu, idle, opts, handler)
}

/// Starts the io_uring echo: a [`Gateway`] with the [`Echo`] handler on its own
/// thread pinned to `cpu` (logging off unless `opts` says otherwise).
pub fn spawn_uring_echo(
    cpu: Option<usize>,
    idle: ServerIdle,
    opts: GatewayOptions,
) -> Result<EchoServer, GatewayError> {
    spawn_gateway(cpu, idle, opts, Echo)
}

fn spawn_gateway<H: super::Handler + Send + 'static>(
    cpu: Option<usize>,
    idle: ServerIdle,
    opts: GatewayOptions,
    handler: H,
) -> Result<EchoServer, GatewayError> {
    let gw = Gateway::new(opts, handler)?;
    let addr = gw.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut gw = gw;
        pin(cpu);
        with_idle(idle, |idle| {
            while !s.load(Ordering::Acquire) {
                let work = gw.do_work();
                idle(work);
            }
        });
        gw.shutdown();
    });
    Ok(EchoServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Connects a client socket: TCP_NODELAY, non-blocking (the client spins on it).
pub fn connect_spinning(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Writes all of `bytes` to a non-blocking socket, spinning on `WouldBlock`.
fn write_all_spin(s: &mut TcpStream, mut bytes: &[u8], stop: &AtomicBool) -> io::Result<()> {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
                std::hint::spin_loop();
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills `buf` from a non-blocking socket, spinning on `WouldBlock`.
fn read_exact_spin(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Round trips of `msg_bytes`-byte messages (≥ 8: the first 8 carry the sequence) on
/// a spinning client socket; the first `warmup` are not recorded. Checks every echo.
pub fn ping_pong(
    s: &mut TcpStream,
    msg_bytes: usize,
    warmup: u64,
    iters: u64,
    clock: &Clock,
    hist: &mut Histogram<u64>,
) -> io::Result<()> {
    let ex = Exchange::echo(msg_bytes.max(8));
    ping_pong_exchange(s, ex, warmup, iters, clock, hist)
}

/// Round trips of an exchange (a request of `request_bytes` answered by
/// `response_bytes`) on a spinning client socket, as [`ping_pong`] does for echoes.
pub fn ping_pong_exchange(
    s: &mut TcpStream,
    ex: Exchange,
    warmup: u64,
    iters: u64,
    clock: &Clock,
    hist: &mut Histogram<u64>,
) -> io::Result<()> {
    ex.check()?;
    let never = AtomicBool::new(false);
    let mut msg = vec![0xa5u8; ex.request_bytes];
    let mut back = vec![0u8; ex.response_bytes];
    for i in 0..warmup + iters {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let t0 = clock.now();
        write_all_spin(s, &msg, &never)?;
        read_exact_spin(s, &mut back)?;
        let t1 = clock.now();
        if back[..8] != msg[..8] {
            return Err(io::Error::other(format!("echo {i} out of order")));
        }
        if i >= warmup {
            hist.saturating_record(clock.ticks_to_ns(t1 - t0).max(1));
        }
    }
    Ok(())
}

/// Pipelined echo throughput: `n_msgs` messages of `msg_bytes`, at most
/// `window_bytes` in flight (kept below the socket buffers, so neither side blocks
/// the other), on one spinning client socket. Returns echoed messages per second.
pub fn throughput(
    s: &mut TcpStream,
    msg_bytes: usize,
    n_msgs: u64,
    window_bytes: usize,
) -> io::Result<f64> {
    let total = n_msgs * msg_bytes as u64;
    let out = vec![0x3cu8; window_bytes.max(msg_bytes)];
    let mut inp = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = std::time::Instant::now();
    while received < total {
        let room = (window_bytes as u64)
            .saturating_sub(sent - received)
            .min(total - sent);
        if room > 0 {
            match s.write(&out[..room.min(out.len() as u64) as usize]) {
                Ok(n) => sent += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        match s.read(&mut inp) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => received += n as u64,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n_msgs as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

/// Message-paced throughput of an exchange with several pipelined clients, all
/// driven round-robin by the calling thread: each keeps at most `window` requests in
/// flight (topped up in one `write` once half are answered) and reads answers as
/// they come. `n_msgs` requests are split evenly over `streams`. Returns answered
/// requests per second.
pub fn pipelined_exchange(
    streams: &mut [TcpStream],
    ex: Exchange,
    n_msgs: u64,
    window: usize,
) -> io::Result<f64> {
    ex.check()?;
    let window = window.max(1);
    let quota = n_msgs / streams.len().max(1) as u64;
    let out = vec![0x3cu8; window * ex.request_bytes];
    let mut inp = vec![0u8; 64 * 1024];
    // Per stream: requests sent, response bytes received.
    let mut state = vec![(0u64, 0u64); streams.len()];
    let done = |st: &(u64, u64)| st.1 / ex.response_bytes as u64;
    let start = std::time::Instant::now();
    while state.iter().any(|st| done(st) < quota) {
        for (s, st) in streams.iter_mut().zip(state.iter_mut()) {
            let in_flight = (st.0 - done(st)) as usize;
            if in_flight <= window / 2 && st.0 < quota {
                let n = (window - in_flight).min((quota - st.0) as usize);
                write_all_spin(s, &out[..n * ex.request_bytes], &AtomicBool::new(false))?;
                st.0 += n as u64;
            }
            match s.read(&mut inp) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => st.1 += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    let total: u64 = state.iter().map(done).sum();
    Ok(total as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

/// What [`compare`] measures.
#[derive(Debug, Clone, Copy)]
pub struct CompareArgs {
    /// Message size in bytes (≥ 8).
    pub msg_bytes: usize,
    /// Unrecorded round trips at the start of each round.
    pub warmup: u64,
    /// Recorded round trips per round and variant.
    pub iters: u64,
    /// Interleaved rounds (floor, uring, floor, uring, …).
    pub rounds: u32,
    /// Messages per throughput run (one per round and variant).
    pub throughput_msgs: u64,
    /// Bytes in flight in the throughput runs.
    pub window_bytes: usize,
    /// CPU of the measuring client (the caller's thread is pinned there).
    pub client_cpu: Option<usize>,
    /// CPU of the echo server.
    pub server_cpu: Option<usize>,
    /// How the servers idle.
    pub server_idle: ServerIdle,
}

/// Results of [`compare`]: one histogram (ns) and one throughput (msgs/s, best round)
/// per variant.
#[derive(Debug)]
pub struct Comparison {
    /// Raw TCP floor round trips.
    pub floor_rtt: Histogram<u64>,
    /// io_uring gateway echo round trips.
    pub uring_rtt: Histogram<u64>,
    /// Raw TCP pipelined echo, messages per second (median of rounds).
    pub floor_msgs_per_s: f64,
    /// io_uring gateway pipelined echo, messages per second (median of rounds).
    pub uring_msgs_per_s: f64,
}

/// Measures the floor and the io_uring echo in interleaved rounds.
pub fn compare(
    args: &CompareArgs,
    clock: &Clock,
) -> Result<Comparison, Box<dyn std::error::Error>> {
    pin(args.client_cpu);
    let (mut floor_rtt, mut uring_rtt) = (latency_histogram(), latency_histogram());
    let (mut floor_tp, mut uring_tp) = (Vec::new(), Vec::new());
    let opts = GatewayOptions {
        log_connections: false,
        max_connections: 16,
        ..GatewayOptions::default()
    };
    for _ in 0..args.rounds {
        let raw = spawn_raw_echo(args.server_cpu, args.server_idle)?;
        floor_tp.push(one_round(raw.addr(), args, clock, &mut floor_rtt)?);
        drop(raw);
        let uring = spawn_uring_echo(args.server_cpu, args.server_idle, opts.clone())?;
        uring_tp.push(one_round(uring.addr(), args, clock, &mut uring_rtt)?);
    }
    Ok(Comparison {
        floor_rtt,
        uring_rtt,
        floor_msgs_per_s: median(&mut floor_tp),
        uring_msgs_per_s: median(&mut uring_tp),
    })
}

fn one_round(
    addr: SocketAddr,
    args: &CompareArgs,
    clock: &Clock,
    hist: &mut Histogram<u64>,
) -> io::Result<f64> {
    let mut s = connect_spinning(addr)?;
    ping_pong(&mut s, args.msg_bytes, args.warmup, args.iters, clock, hist)?;
    throughput(
        &mut s,
        args.msg_bytes,
        args.throughput_msgs,
        args.window_bytes,
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
