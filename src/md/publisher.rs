//! The MoldUDP64 publisher agent: ITCH messages from the broadcast ring → UDP multicast.
//!
//! Each [`Publisher::do_work`] call reads at most `drain_limit` new messages, keeps a
//! copy of each in a bounded [`RecentMessages`] store, and sends them in as few
//! packets as the packet bound allows (a partial packet goes out at once: nothing
//! waits for more). The MoldUDP64 sequence number of a message is one more than its
//! ring position, so a listener on the feed and an algo on the ring count the same way. A lap
//! (the publisher fell a whole ring behind) is a gap on the wire too, counted in
//! [`PublisherStats::lost`]; it is not hidden by renumbering. When idle for
//! `heartbeat_interval`, a heartbeat (count 0, next sequence number) goes out. If a
//! retransmission address is configured, the same call answers up to `drain_limit`
//! request packets on it, each with one unicast packet of the requested messages still
//! in the store. [`Publisher::end_of_session`] sends what is left and the
//! end-of-session packet.
//!
//! The publisher runs on a non-hot thread: it makes syscalls (`sendto`, `recvfrom`,
//! `clock_gettime` when idle) but never allocates after construction.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::reader::ItchReader;
use super::socket::{self, MulticastTarget};
use super::store::RecentMessages;
use crate::affinity::Idle;
use crate::proto::moldudp::{
    HEADER_LEN, MAX_PACKET_BYTES, PacketBuilder, RequestPacket, Session, encode_end_of_session,
    encode_heartbeat,
};
use crate::ring::broadcast::ReadError;

/// Bytes a stored message may take (any ITCH message, or a 48-byte engine record).
pub const STORE_MESSAGE_BYTES: usize = 64;

/// The smallest packet bound: a header and one block of [`STORE_MESSAGE_BYTES`].
pub const MIN_PACKET_BYTES: usize = HEADER_LEN + 2 + STORE_MESSAGE_BYTES;

/// How the publisher sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherConfig {
    /// MoldUDP64 session name.
    pub session: Session,
    /// Where and how packets go.
    pub target: MulticastTarget,
    /// Largest packet (UDP payload), bytes.
    pub max_packet_bytes: usize,
    /// Silence after which a heartbeat goes out.
    pub heartbeat_interval: Duration,
    /// Messages read (and requests answered) per `do_work` call at most.
    pub drain_limit: usize,
    /// Address to bind the retransmission request server to (port 0: ephemeral).
    pub retransmit: Option<SocketAddrV4>,
    /// Recent messages kept for retransmission.
    pub retransmit_messages: usize,
}

impl PublisherConfig {
    /// Defaults: interface 127.0.0.1 (`lo`), TTL 1, loopback on, 1400-byte packets,
    /// 1 s heartbeats, drain limit 256, no retransmission server, 65536 messages kept.
    pub fn new(session: Session, group: SocketAddrV4) -> Self {
        Self {
            session,
            target: MulticastTarget {
                group,
                interface: std::net::Ipv4Addr::LOCALHOST,
                ttl: 1,
                loopback: true,
            },
            max_packet_bytes: MAX_PACKET_BYTES,
            heartbeat_interval: Duration::from_secs(1),
            drain_limit: 256,
            retransmit: None,
            retransmit_messages: 1 << 16,
        }
    }
}

/// Counters of the publisher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Messages sent on the multicast feed.
    pub messages: u64,
    /// Data packets sent on the multicast feed.
    pub packets: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Messages lost because the ring lapped the publisher (gaps on the wire).
    pub lost: u64,
    /// Messages longer than [`STORE_MESSAGE_BYTES`], not sent (gaps on the wire).
    pub oversized: u64,
    /// `sendto` failures (the packet is lost; listeners re-request).
    pub send_errors: u64,
    /// Retransmission requests answered with at least one message.
    pub requests_served: u64,
    /// Requests for another session, malformed, or for messages no longer held.
    pub requests_refused: u64,
    /// Messages retransmitted.
    pub retransmitted: u64,
}

/// The MoldUDP64 publisher agent. See the module documentation.
pub struct Publisher {
    reader: ItchReader,
    config: PublisherConfig,
    socket: UdpSocket,
    retransmit: Option<UdpSocket>,
    store: RecentMessages,
    /// One packet, `max_packet_bytes` long.
    packet: Box<[u8]>,
    /// The next message read gets this sequence number.
    next_seq: u64,
    last_send: Instant,
    stats: PublisherStats,
}

impl Publisher {
    /// A publisher sending what `reader` reads from its current position on.
    ///
    /// # Errors
    /// The sockets could not be set up (interface address not local, retransmission
    /// port taken, …), or `max_packet_bytes` cannot hold a packet header.
    pub fn new(reader: ItchReader, config: PublisherConfig) -> io::Result<Self> {
        if config.max_packet_bytes < MIN_PACKET_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("max_packet_bytes must be at least {MIN_PACKET_BYTES}"),
            ));
        }
        let socket = socket::sender(&config.target)?;
        let retransmit = match config.retransmit {
            Some(addr) => {
                let s = UdpSocket::bind(addr)?;
                s.set_nonblocking(true)?;
                Some(s)
            }
            None => None,
        };
        Ok(Self {
            next_seq: reader.next_sequence_number(),
            store: RecentMessages::new(config.retransmit_messages, STORE_MESSAGE_BYTES),
            packet: vec![0; config.max_packet_bytes].into_boxed_slice(),
            reader,
            socket,
            retransmit,
            last_send: Instant::now(),
            stats: PublisherStats::default(),
            config,
        })
    }

    /// One duty cycle: new messages out, then retransmission requests, then a
    /// heartbeat if the feed was silent long enough. Returns the work done.
    pub fn do_work(&mut self) -> usize {
        let mut work = self.publish_new();
        work += self.serve_requests();
        if work == 0 && self.last_send.elapsed() >= self.config.heartbeat_interval {
            self.send_control(false);
            work += 1;
        }
        work
    }

    /// Runs the agent on the calling thread until `stop` is set, idling with `idle`
    /// (the publisher is not latency-critical: a spin-then-park strategy suits it),
    /// then sends what is left and the end-of-session packet.
    pub fn run(&mut self, stop: &AtomicBool, idle: &mut impl Idle) -> PublisherStats {
        // Pairs with the Release store of whoever stops the agent.
        while !stop.load(Ordering::Acquire) {
            let work = self.do_work();
            idle.idle(work, || {
                self.reader.lag() > 0 || stop.load(Ordering::Relaxed)
            });
        }
        self.end_of_session();
        self.stats
    }

    /// Sends the messages written to the ring before this call, then the
    /// end-of-session packet. Stop the core first, or later messages go unsent.
    pub fn end_of_session(&mut self) {
        let target = self.next_seq + self.reader.lag();
        while self.next_seq < target && self.publish_new() > 0 {}
        self.send_control(true);
    }

    /// The sequence number the next message sent gets.
    pub fn next_sequence_number(&self) -> u64 {
        self.next_seq
    }

    /// The bound address of the retransmission server, if any.
    pub fn retransmit_addr(&self) -> Option<SocketAddr> {
        self.retransmit.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Counters.
    pub fn stats(&self) -> PublisherStats {
        self.stats
    }

    /// Reads up to `drain_limit` messages into the store and multicasts them.
    fn publish_new(&mut self) -> usize {
        let from = self.next_seq;
        let mut n = 0u64;
        let (store, stats) = (&mut self.store, &mut self.stats);
        let read = self.reader.poll(self.config.drain_limit, |seq, msg| {
            n += 1;
            if !store.record(seq, msg) {
                stats.oversized += 1;
            }
        });
        if let Err(ReadError::Lapped { lost }) = read {
            self.stats.lost += lost;
        }
        // The `n` messages before any lap were consecutive from `from`.
        self.send_range(from, from + n);
        self.next_seq = self.reader.next_sequence_number();
        n as usize
    }

    /// Multicasts the stored messages `from..end`, as few packets as fit.
    fn send_range(&mut self, mut from: u64, end: u64) {
        while let Some((len, first, next)) = self.build_packet(from, end) {
            let sent = self
                .socket
                .send_to(&self.packet[..len], self.config.target.group);
            self.count_send(sent.is_ok());
            self.stats.packets += 1;
            self.stats.messages += next - first;
            from = next;
        }
    }

    /// Builds one packet of the stored messages from `from` (skipping any not held)
    /// up to `end` or the packet bound; returns its length, first and next sequence
    /// numbers, or `None` if none of `from..end` is held.
    fn build_packet(&mut self, mut from: u64, end: u64) -> Option<(usize, u64, u64)> {
        while from < end && self.store.get(from).is_none() {
            from += 1;
        }
        if from >= end {
            return None;
        }
        let limit = self.config.max_packet_bytes;
        let mut packet =
            PacketBuilder::with_limit(&mut self.packet, self.config.session, from, limit).ok()?;
        let mut seq = from;
        while let Some(msg) = self.store.get(seq).filter(|_| seq < end) {
            if packet.push(msg).is_err() {
                break;
            }
            seq += 1;
        }
        // Never empty: `new` checked that a packet holds any stored message.
        (!packet.is_empty()).then(|| (packet.finish(), from, seq))
    }

    fn count_send(&mut self, ok: bool) {
        if !ok {
            self.stats.send_errors += 1;
        }
        self.last_send = Instant::now();
    }

    /// Sends a heartbeat, or the end-of-session packet.
    fn send_control(&mut self, end: bool) {
        let (session, seq) = (self.config.session, self.next_seq);
        let len = if end {
            encode_end_of_session(&mut self.packet, session, seq)
        } else {
            encode_heartbeat(&mut self.packet, session, seq)
        };
        let Ok(len) = len else { return };
        let sent = self
            .socket
            .send_to(&self.packet[..len], self.config.target.group);
        self.count_send(sent.is_ok());
        self.stats.heartbeats += u64::from(!end);
    }

    /// Answers up to `drain_limit` retransmission requests; returns how many.
    fn serve_requests(&mut self) -> usize {
        let mut served = 0;
        let mut req = [0u8; RequestPacket::LEN + 1];
        while served < self.config.drain_limit {
            let Some(sock) = &self.retransmit else { break };
            let Ok((len, from)) = sock.recv_from(&mut req) else {
                break;
            };
            served += 1;
            match RequestPacket::decode(&req[..len]) {
                Some(r) if r.session == self.config.session => self.answer(&r, from),
                _ => self.stats.requests_refused += 1,
            }
        }
        served
    }

    /// Sends one packet of the requested messages still held to `to`.
    fn answer(&mut self, r: &RequestPacket, to: SocketAddr) {
        let end = r
            .sequence_number
            .saturating_add(u64::from(r.requested_message_count))
            .min(self.next_seq);
        let first_held = r.sequence_number.max(1);
        let Some((len, first, next)) = self.build_packet(first_held, end) else {
            self.stats.requests_refused += 1;
            return;
        };
        let Some(sock) = &self.retransmit else { return };
        if sock.send_to(&self.packet[..len], to).is_ok() {
            self.stats.requests_served += 1;
            self.stats.retransmitted += next - first;
        } else {
            self.stats.send_errors += 1;
        }
    }
}
