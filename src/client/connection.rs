//! The client's socket: buffered framing of received packets, writes that survive a
//! nonblocking socket, and the heartbeat timers.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::ClientError;
use crate::proto::soupbin::{Direction, LoginAccepted, MAX_PACKET_LEN, Packet, decode_frame};

/// How long one blocking read waits before the timers are checked.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Receive buffer size: many packets per read when the server bursts.
const RECEIVE_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct Connection {
    stream: TcpStream,
    /// `rx[start..end]` holds received bytes not yet decoded.
    rx: Box<[u8]>,
    start: usize,
    end: usize,
    last_sent: Instant,
    last_received: Instant,
    pub(super) heartbeat_interval: Duration,
    peer_timeout: Duration,
}

impl Connection {
    pub(super) fn new(stream: TcpStream, peer_timeout: Duration) -> Result<Self, ClientError> {
        stream.set_read_timeout(Some(POLL_INTERVAL))?;
        let now = Instant::now();
        Ok(Self {
            stream,
            rx: vec![0; RECEIVE_BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            last_sent: now,
            last_received: now,
            heartbeat_interval: Duration::from_secs(1),
            peer_timeout,
        })
    }

    pub(super) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub(super) fn set_spin(&mut self, spin: bool) -> Result<(), ClientError> {
        self.stream.set_nonblocking(spin)?;
        Ok(())
    }

    /// Writes all of `bytes`, spinning through `WouldBlock` on a nonblocking socket.
    pub(super) fn send_bytes(&mut self, mut bytes: &[u8]) -> Result<(), ClientError> {
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.last_sent = Instant::now();
        Ok(())
    }

    pub(super) fn send_packet(&mut self, packet: &Packet<'_>) -> Result<(), ClientError> {
        let mut buf = [0u8; MAX_PACKET_LEN];
        let len = packet.encode(&mut buf)?;
        self.send_bytes(&buf[..len])
    }

    /// Decodes the next buffered packet, if a whole one is buffered, and hands it to `f`.
    pub(super) fn poll_packet<R>(
        &mut self,
        f: impl FnOnce(Packet<'_>) -> R,
    ) -> Result<Option<R>, ClientError> {
        let buffered = &self.rx[self.start..self.end];
        let Some((packet, len)) = decode_frame(buffered, Direction::ServerToClient)? else {
            return Ok(None);
        };
        let result = f(packet);
        self.start += len;
        Ok(Some(result))
    }

    /// One read attempt, then the heartbeat timers.
    pub(super) fn fill_once(&mut self) -> Result<(), ClientError> {
        self.make_room();
        match self.stream.read(&mut self.rx[self.end..]) {
            Ok(0) => return Err(ClientError::Closed),
            Ok(n) => {
                self.end += n;
                self.last_received = Instant::now();
                return Ok(());
            }
            Err(e) if is_no_data(e.kind()) => {}
            Err(e) => return Err(e.into()),
        }
        self.check_timers()
    }

    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.rx.len() - self.end < MAX_PACKET_LEN {
            self.rx.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    fn check_timers(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        if now.duration_since(self.last_received) > self.peer_timeout {
            return Err(ClientError::HeartbeatTimeout);
        }
        if now.duration_since(self.last_sent) >= self.heartbeat_interval {
            self.send_packet(&Packet::ClientHeartbeat)?;
        }
        Ok(())
    }

    /// Waits for Login Accepted (or Rejected), ignoring heartbeats and debug packets.
    pub(super) fn wait_login(&mut self) -> Result<LoginAccepted, ClientError> {
        loop {
            let answer = self.poll_packet(|packet| match packet {
                Packet::LoginAccepted(accepted) => Some(Ok(accepted)),
                Packet::LoginRejected(reason) => Some(Err(ClientError::LoginRejected(reason))),
                Packet::ServerHeartbeat | Packet::Debug(_) => None,
                other => Some(Err(ClientError::UnexpectedPacket(other.packet_type()))),
            })?;
            match answer {
                Some(Some(result)) => return result,
                Some(None) => {}
                None => self.fill_once()?,
            }
        }
    }
}

fn is_no_data(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}
