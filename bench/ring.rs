//! Peer comparison for the SPSC ring: tickgate's ring, the cache-line floor, and the
//! Rust SPSC/queue crates rtrb, crossbeam-queue's ArrayQueue, ringbuf and disruptor,
//! all measured interleaved in one run with the same harness (`tickgate::bench`).
//!
//! `cargo bench --bench ring -- --json` prints one JSON object as the last line.
//! Every transport moves one 64-byte, line-aligned message per operation; each peer is
//! used through its ordinary single-message API to send, and its batch API (where it
//! has one) to drain in the throughput test.

use std::sync::Arc;

use clap::Parser;
use disruptor::{
    BusySpin, EventPoller, Producer as _, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};
use ringbuf::traits::{Consumer as _, Producer as _, Split as _};
use tickgate::bench::pingpong::{Link, Msg};
use tickgate::bench::ring::{FLOOR, RingArgs, Runner, TICKGATE, Variant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ring: RingArgs,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// rtrb: the reference wait-free SPSC ring in Rust.
struct Rtrb {
    tx: rtrb::Producer<Msg>,
    rx: rtrb::Consumer<Msg>,
}

impl Link for Rtrb {
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx.push(*msg).is_ok()
    }
    fn try_recv(&mut self) -> Option<Msg> {
        self.rx.pop().ok()
    }
}

fn rtrb_pair(capacity: usize) -> (Rtrb, Rtrb) {
    let (tx_ab, rx_ab) = rtrb::RingBuffer::new(capacity);
    let (tx_ba, rx_ba) = rtrb::RingBuffer::new(capacity);
    (
        Rtrb {
            tx: tx_ab,
            rx: rx_ba,
        },
        Rtrb {
            tx: tx_ba,
            rx: rx_ab,
        },
    )
}

/// crossbeam-queue's bounded MPMC ArrayQueue, used SPSC.
struct ArrayQ {
    tx: Arc<crossbeam_queue::ArrayQueue<Msg>>,
    rx: Arc<crossbeam_queue::ArrayQueue<Msg>>,
}

impl Link for ArrayQ {
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx.push(*msg).is_ok()
    }
    fn try_recv(&mut self) -> Option<Msg> {
        self.rx.pop()
    }
}

fn arrayq_pair(capacity: usize) -> (ArrayQ, ArrayQ) {
    let ab = Arc::new(crossbeam_queue::ArrayQueue::new(capacity));
    let ba = Arc::new(crossbeam_queue::ArrayQueue::new(capacity));
    (
        ArrayQ {
            tx: ab.clone(),
            rx: ba.clone(),
        },
        ArrayQ { tx: ba, rx: ab },
    )
}

/// ringbuf's heap ring with cached indices.
struct RingBuf {
    tx: ringbuf::HeapProd<Msg>,
    rx: ringbuf::HeapCons<Msg>,
}

impl Link for RingBuf {
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx.try_push(*msg).is_ok()
    }
    fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_pop()
    }
}

fn ringbuf_pair(capacity: usize) -> (RingBuf, RingBuf) {
    let (tx_ab, rx_ab) = ringbuf::HeapRb::new(capacity).split();
    let (tx_ba, rx_ba) = ringbuf::HeapRb::new(capacity).split();
    (
        RingBuf {
            tx: tx_ab,
            rx: rx_ba,
        },
        RingBuf {
            tx: tx_ba,
            rx: rx_ab,
        },
    )
}

/// disruptor: the LMAX design; a single producer and an event poller per direction.
struct Disruptor {
    tx: SingleProducer<Msg, SingleConsumerBarrier>,
    rx: EventPoller<Msg, SingleProducerBarrier>,
}

impl Link for Disruptor {
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx.try_publish(|e| *e = *msg).is_ok()
    }
    fn try_recv(&mut self) -> Option<Msg> {
        let mut guard = self.rx.take(1).ok()?;
        (&mut guard).next().copied()
    }
    fn recv_batch(&mut self, max: usize, mut f: impl FnMut(&Msg)) -> usize {
        let mut n = 0;
        if let Ok(mut guard) = self.rx.take(max as u64) {
            for e in &mut guard {
                f(e);
                n += 1;
            }
        }
        n
    }
}

fn disruptor_direction(
    capacity: usize,
) -> (
    SingleProducer<Msg, SingleConsumerBarrier>,
    EventPoller<Msg, SingleProducerBarrier>,
) {
    let builder = disruptor::build_single_producer(capacity, || Msg([0; 8]), BusySpin);
    let (poller, builder) = builder.new_event_poller();
    (builder.build(), poller)
}

fn disruptor_pair(capacity: usize) -> (Disruptor, Disruptor) {
    let (tx_ab, rx_ab) = disruptor_direction(capacity);
    let (tx_ba, rx_ba) = disruptor_direction(capacity);
    (
        Disruptor {
            tx: tx_ab,
            rx: rx_ba,
        },
        Disruptor {
            tx: tx_ba,
            rx: rx_ab,
        },
    )
}

const PEERS: [&str; 4] = ["rtrb", "crossbeam-arrayqueue", "ringbuf", "disruptor"];

fn main() {
    let cli = Cli::parse();
    let mut runner = Runner::new(&cli.ring);
    let rtrb = Variant {
        name: PEERS[0],
        make: rtrb_pair,
        queue: true,
    };
    let arrayq = Variant {
        name: PEERS[1],
        make: arrayq_pair,
        queue: true,
    };
    let ringbuf = Variant {
        name: PEERS[2],
        make: ringbuf_pair,
        queue: true,
    };
    let disruptor = Variant {
        name: PEERS[3],
        make: disruptor_pair,
        queue: true,
    };
    for _ in 0..runner.rounds() {
        runner.round(&FLOOR);
        runner.round(&TICKGATE);
        runner.round(&rtrb);
        runner.round(&arrayq);
        runner.round(&ringbuf);
        runner.round(&disruptor);
    }
    runner.finish().expect("write .hgrm files");
    let ratios = runner.ratios("tickgate", "floor", &PEERS);
    println!(
        "ratios: rtt p50 vs floor {:.3}, rtt p99 vs floor {:.3}, rtt p50 vs best peer {:.3}, \
         throughput vs best peer {:.3}",
        ratios.rtt_p50_vs_floor,
        ratios.rtt_p99_vs_floor,
        ratios.rtt_p50_vs_best_peer.unwrap_or(f64::NAN),
        ratios.throughput_vs_best_peer.unwrap_or(f64::NAN),
    );
    if cli.ring.json {
        println!("{}", runner.json(&ratios));
    }
}
