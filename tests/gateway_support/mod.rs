//! Shared helpers of the gateway tests: a gateway on its own thread with a backoff
//! idle strategy, a recording echo handler, and client helpers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickgate::affinity::{Parker, SpinThenPark};
use tickgate::gateway::{
    CloseReason, ConnId, Gateway, GatewayCounters, GatewayOptions, Handler, Outbox,
};

/// Options for tests: quiet, small.
pub fn opts() -> GatewayOptions {
    GatewayOptions {
        log_connections: false,
        max_connections: 64,
        recv_buffers: 64,
        ..Default::default()
    }
}

/// What the recording handler saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub accepted: Vec<ConnId>,
    pub closed: Vec<(ConnId, CloseReason)>,
}

/// Echoes, and records accepts and closes.
#[derive(Debug, Clone, Default)]
pub struct RecordingEcho {
    pub seen: Arc<Mutex<Seen>>,
}

impl Handler for RecordingEcho {
    fn on_accept(&mut self, conn: ConnId, _peer: SocketAddr, _out: &mut Outbox<'_>) {
        self.seen.lock().unwrap().accepted.push(conn);
    }

    fn on_data(&mut self, conn: ConnId, data: &[u8], out: &mut Outbox<'_>) {
        let _ = out.send(conn, data);
    }

    fn on_close(&mut self, conn: ConnId, reason: CloseReason) {
        self.seen.lock().unwrap().closed.push((conn, reason));
    }
}

/// A gateway running on its own thread, idling with spin-then-park (never a second
/// busy spinner). Stopped and joined on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub counters: Arc<GatewayCounters>,
    pub mode: tickgate::gateway::uring::RingMode,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    pub fn start<H: Handler + Send + 'static>(opts: GatewayOptions, handler: H) -> Self {
        let gw = Gateway::new(opts, handler).expect("gateway setup");
        let (addr, counters, mode) = (gw.local_addr(), gw.counters(), gw.mode());
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut gw = gw;
            let parker = Parker::new();
            let mut idle = SpinThenPark::new(&parker, 200, Duration::from_micros(50));
            gw.run(&mut idle, &s);
        });
        Self {
            addr,
            counters,
            mode,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the gateway (it shuts down on its thread) and joins it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A blocking client with TCP_NODELAY and a read timeout (a hung test fails, never
/// hangs).
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `msg` and reads back exactly as many bytes.
pub fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).unwrap();
    back
}

/// Waits until `cond` holds, up to 10 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A `Relaxed` read.
pub fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
