//! The MoldUDP64 publisher over real UDP multicast on `lo` (interface 127.0.0.1 via
//! IP_MULTICAST_IF, so no multicast route is needed).
//!
//! Every receiver binds the group on an ephemeral port, so tests running at once never
//! hear each other. Timeouts below only stop a broken test from hanging; nothing asserts
//! how long anything took.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tickgate::affinity::{Parker, SpinThenPark};
use tickgate::md::{ItchReader, Publisher, PublisherConfig, socket};
use tickgate::proto::itch::{Header, Message, OrderDelete};
use tickgate::proto::moldudp::{DownstreamPacket, RequestPacket, Session};
use tickgate::ring::broadcast;
use tickgate::ring::shm::Layout;

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 0, 0, 1);
const HANG_GUARD: Duration = Duration::from_secs(60);

fn session() -> Session {
    Session::padded("MDTEST0001")
}

/// A receiver joined to the group on `lo`, and the group address it listens on.
fn receiver() -> (UdpSocket, SocketAddrV4) {
    let sock = socket::receiver(SocketAddrV4::new(GROUP, 0), Ipv4Addr::LOCALHOST)
        .expect("join 239.0.0.1 on lo");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    (sock, SocketAddrV4::new(GROUP, port))
}

fn ring(capacity: usize) -> broadcast::Writer {
    broadcast::new(Layout {
        capacity,
        slot_bytes: 64,
    })
    .unwrap()
}

/// The ITCH message published as number `i` (its order ref and timestamp say `i`).
fn message(i: u64) -> [u8; OrderDelete::LEN] {
    let mut buf = [0u8; OrderDelete::LEN];
    OrderDelete {
        header: Header {
            stock_locate: 0,
            tracking_number: 0,
            timestamp_ns: i,
        },
        order_reference_number: i,
    }
    .encode(&mut buf)
    .unwrap();
    buf
}

/// Receives one datagram; `None` on the read timeout.
fn recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<usize> {
    match sock.recv(buf) {
        Ok(n) => Some(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("recv: {e}"),
    }
}

#[test]
fn every_message_arrives_in_sequence_with_no_gap_then_end_of_session() {
    const N: u64 = 20_000;
    const WINDOW: u64 = 500;
    let (rx, group) = receiver();
    let mut writer = ring(1 << 12);
    let reader = ItchReader::new(writer.reader());
    let mut publisher = Publisher::new(reader, PublisherConfig::new(session(), group)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));

    let publisher_thread = {
        let stop = stop.clone();
        thread::spawn(move || {
            let parker = Parker::new();
            let mut idle = SpinThenPark::new(&parker, 100, Duration::from_micros(200));
            publisher.run(&stop, &mut idle)
        })
    };
    let receiver_thread = {
        let received = received.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let (mut next, mut packets, mut eos) = (1u64, 0u64, false);
            let deadline = Instant::now() + HANG_GUARD;
            while !eos && Instant::now() < deadline {
                let Some(n) = recv(&rx, &mut buf) else {
                    continue;
                };
                let p = DownstreamPacket::parse(&buf[..n]).expect("a valid packet");
                assert_eq!(p.header.session, session());
                assert!(n <= 1400, "packet of {n} bytes");
                if p.is_end_of_session() || p.is_heartbeat() {
                    assert_eq!(p.header.sequence_number, next, "control seq");
                    eos = p.is_end_of_session();
                    continue;
                }
                assert_eq!(p.header.sequence_number, next, "gap or reorder");
                packets += 1;
                for m in p.messages() {
                    assert_eq!(m, message(next));
                    next += 1;
                }
                received.store(next - 1, Ordering::Release);
            }
            (next - 1, packets, eos)
        })
    };

    // Keep at most WINDOW messages in flight so the receiver's socket buffer never
    // overflows (UDP would drop, and this test is about the publisher, not loss).
    let deadline = Instant::now() + HANG_GUARD;
    for i in 1..=N {
        while i > received.load(Ordering::Acquire) + WINDOW && Instant::now() < deadline {
            thread::sleep(Duration::from_micros(50));
        }
        writer.publish(&message(i)).unwrap();
    }
    while received.load(Ordering::Acquire) < N && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Release);
    let stats = publisher_thread.join().unwrap();
    let (got, packets, eos) = receiver_thread.join().unwrap();
    assert_eq!(got, N);
    assert!(eos, "no end-of-session packet");
    assert_eq!(stats.messages, N);
    assert_eq!(stats.lost, 0);
    assert_eq!(stats.send_errors, 0);
    assert_eq!(stats.packets, packets);
    assert!(
        packets < N,
        "messages were batched: {packets} packets for {N}"
    );
}

#[test]
fn packets_stay_within_the_bound_and_carry_consecutive_messages() {
    let (rx, group) = receiver();
    let mut writer = ring(256);
    let config = PublisherConfig {
        max_packet_bytes: 200,
        ..PublisherConfig::new(session(), group)
    };
    let mut publisher = Publisher::new(ItchReader::new(writer.reader()), config).unwrap();
    for i in 1..=40 {
        writer.publish(&message(i)).unwrap();
    }
    assert_eq!(publisher.do_work(), 40);
    let mut buf = [0u8; 2048];
    let mut next = 1;
    while next <= 40 {
        let n = recv(&rx, &mut buf).expect("a packet");
        assert!(n <= 200);
        let p = DownstreamPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.header.sequence_number, next);
        // (200 - 20) / (2 + 19) = 8 messages per packet.
        assert!(p.header.message_count <= 8);
        next += u64::from(p.header.message_count);
    }
    assert_eq!(publisher.stats().packets, 5);
}

#[test]
fn a_lapped_publisher_counts_the_loss_and_the_wire_shows_the_gap() {
    let (rx, group) = receiver();
    let mut writer = ring(16);
    let mut publisher = Publisher::new(
        ItchReader::new(writer.reader()),
        PublisherConfig::new(session(), group),
    )
    .unwrap();
    for i in 1..=100 {
        writer.publish(&message(i)).unwrap();
    }
    publisher.do_work();
    assert_eq!(publisher.stats().lost, 100);
    assert_eq!(publisher.next_sequence_number(), 101);
    for i in 101..=105 {
        writer.publish(&message(i)).unwrap();
    }
    assert_eq!(publisher.do_work(), 5);
    let mut buf = [0u8; 2048];
    let n = recv(&rx, &mut buf).expect("a packet");
    let p = DownstreamPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.header.sequence_number, 101);
    assert_eq!(p.messages().next(), Some(&message(101)[..]));
    assert_eq!(p.header.message_count, 5);
}

#[test]
fn an_idle_publisher_sends_heartbeats_with_the_next_sequence_number() {
    let (rx, group) = receiver();
    let mut writer = ring(16);
    let config = PublisherConfig {
        heartbeat_interval: Duration::from_millis(1),
        ..PublisherConfig::new(session(), group)
    };
    let mut publisher = Publisher::new(ItchReader::new(writer.reader()), config).unwrap();
    writer.publish(&message(1)).unwrap();
    publisher.do_work();
    let mut buf = [0u8; 2048];
    recv(&rx, &mut buf).expect("the data packet");
    let deadline = Instant::now() + HANG_GUARD;
    while publisher.stats().heartbeats == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
        publisher.do_work();
    }
    let n = recv(&rx, &mut buf).expect("a heartbeat");
    let p = DownstreamPacket::parse(&buf[..n]).unwrap();
    assert!(p.is_heartbeat());
    assert_eq!(p.header.sequence_number, 2);
}

/// Sends `request` to the publisher's retransmission server and runs the publisher
/// until an answer arrives.
fn request(publisher: &mut Publisher, request: RequestPacket) -> Option<Vec<u8>> {
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    client.set_nonblocking(true).unwrap();
    let mut buf = [0u8; RequestPacket::LEN];
    request.encode(&mut buf).unwrap();
    let server: SocketAddr = publisher.retransmit_addr().unwrap();
    client.send_to(&buf, server).unwrap();
    let refused = publisher.stats().requests_refused;
    let mut answer = [0u8; 2048];
    let deadline = Instant::now() + HANG_GUARD;
    while Instant::now() < deadline {
        publisher.do_work();
        if let Ok(n) = client.recv(&mut answer) {
            return Some(answer[..n].to_vec());
        }
        if publisher.stats().requests_refused > refused {
            return None;
        }
        thread::sleep(Duration::from_micros(100));
    }
    panic!("the request was neither answered nor refused");
}

#[test]
fn a_retransmission_request_is_answered_from_the_recent_messages() {
    let (_rx, group) = receiver();
    let mut writer = ring(256);
    let config = PublisherConfig {
        retransmit: Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        retransmit_messages: 32,
        ..PublisherConfig::new(session(), group)
    };
    let mut publisher = Publisher::new(ItchReader::new(writer.reader()), config).unwrap();
    for i in 1..=100 {
        writer.publish(&message(i)).unwrap();
    }
    while publisher.do_work() > 0 {}

    let ask = |sequence_number, requested_message_count| RequestPacket {
        session: session(),
        sequence_number,
        requested_message_count,
    };
    let answer = request(&mut publisher, ask(90, 5)).expect("an answer");
    let p = DownstreamPacket::parse(&answer).unwrap();
    assert_eq!(p.header.session, session());
    assert_eq!(p.header.sequence_number, 90);
    let got: Vec<&[u8]> = p.messages().collect();
    let want: Vec<[u8; OrderDelete::LEN]> = (90..95).map(message).collect();
    assert_eq!(got, want.iter().map(|m| &m[..]).collect::<Vec<_>>());

    // Past the newest message: only what exists.
    let answer = request(&mut publisher, ask(99, 50)).expect("an answer");
    let p = DownstreamPacket::parse(&answer).unwrap();
    assert_eq!((p.header.sequence_number, p.header.message_count), (99, 2));

    // Older than the 32 kept, another session, nothing yet published: refused.
    assert_eq!(request(&mut publisher, ask(1, 5)), None);
    let other = RequestPacket {
        session: Session::padded("OTHER"),
        ..ask(90, 1)
    };
    assert_eq!(request(&mut publisher, other), None);
    assert_eq!(request(&mut publisher, ask(101, 1)), None);
    let stats = publisher.stats();
    assert_eq!((stats.requests_served, stats.retransmitted), (2, 7));
    assert_eq!(stats.requests_refused, 3);
    assert!(Message::decode(&message(1)).is_ok());
}

/// The operator tool `examples/md_listen.rs` prints what the publisher sends and stops
/// at end of session.
#[test]
fn md_listen_prints_every_message_and_stops_at_end_of_session() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/md_listen");
    if !example.exists() {
        eprintln!("skipped: {} not built", example.display());
        return;
    }
    // Pick a free group port by binding a receiver and closing it.
    let (probe, group) = receiver();
    drop(probe);
    let mut child = Command::new(&example)
        .args(["--group", &group.to_string(), "--interface", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");

    let mut writer = ring(64);
    let mut publisher = Publisher::new(
        ItchReader::new(writer.reader()),
        PublisherConfig::new(session(), group),
    )
    .unwrap();
    for i in 1..=5 {
        writer.publish(&message(i)).unwrap();
    }
    publisher.end_of_session();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.trim_start().starts_with(&(i + 1).to_string()), "{l}");
        assert!(l.contains("OrderDelete"), "{l}");
    }
}
