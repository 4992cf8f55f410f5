//! MoldUDP64 1.00: the UDP transport for ITCH (`PROTOCOLS.md` §4).
//!
//! Downstream packet: Session (10 alpha), Sequence Number (u64, of the first message),
//! Message Count (u16), then that many blocks of `u16 length` + message. Count 0 is a
//! heartbeat (sequence = next expected), 0xFFFF is end of session. A Request Packet
//! (Session, Sequence Number, Requested Message Count) asks for a retransmission.
//!
//! ```
//! use tickgate::proto::moldudp::*;
//! let session = Session::padded("TICKGATE01");
//! let mut buf = [0u8; MAX_PACKET_BYTES];
//! let mut packet = PacketBuilder::new(&mut buf, session, 100).unwrap();
//! packet.push(b"first").unwrap();
//! packet.push(b"second").unwrap();
//! let len = packet.finish();
//! let parsed = DownstreamPacket::parse(&buf[..len]).unwrap();
//! assert_eq!(parsed.header.sequence_number, 100);
//! assert_eq!(parsed.messages().collect::<Vec<_>>(), [&b"first"[..], b"second"]);
//! ```

use crate::proto::wire::{Alpha, BufferTooSmall, Reader, WireField, Writer, room};

/// Session name, 10 bytes alpha.
pub type Session = Alpha<10>;

/// Bytes of the downstream header (and the whole of a request packet).
pub const HEADER_LEN: usize = 20;
/// Default bound on a packet, to stay within one Ethernet MTU with IP/UDP headers.
pub const MAX_PACKET_BYTES: usize = 1400;
/// Message Count of an end-of-session packet.
pub const END_OF_SESSION_COUNT: u16 = 0xFFFF;

/// The downstream packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// Session.
    pub session: Session,
    /// Sequence number of the first message (or the next expected, for a heartbeat).
    pub sequence_number: u64,
    /// Message count; 0 = heartbeat, 0xFFFF = end of session.
    pub message_count: u16,
}

impl PacketHeader {
    fn read(buf: &[u8]) -> Self {
        let mut r = Reader::new(buf);
        let session = Alpha(r.array());
        let sequence_number = u64::from_be_bytes(r.array());
        let message_count = u16::from_be_bytes(r.array());
        Self {
            session,
            sequence_number,
            message_count,
        }
    }

    fn write(&self, out: &mut [u8]) {
        let mut w = Writer::new(&mut out[..HEADER_LEN]);
        w.bytes(&self.session.0);
        self.sequence_number.write(&mut w);
        w.u16(self.message_count);
    }
}

/// A message does not fit in the packet being built (by the byte bound or the
/// message count). Nothing was added: send this packet and start another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketFull;

/// Builds one downstream packet in the caller's buffer.
#[derive(Debug)]
pub struct PacketBuilder<'a> {
    buf: &'a mut [u8],
    header: PacketHeader,
    len: usize,
}

impl<'a> PacketBuilder<'a> {
    /// A packet starting at `sequence_number`, bounded by `buf` and [`MAX_PACKET_BYTES`].
    pub fn new(
        buf: &'a mut [u8],
        session: Session,
        sequence_number: u64,
    ) -> Result<Self, BufferTooSmall> {
        Self::with_limit(buf, session, sequence_number, MAX_PACKET_BYTES)
    }

    /// As [`new`](Self::new) with another byte bound (e.g. for jumbo frames).
    pub fn with_limit(
        buf: &'a mut [u8],
        session: Session,
        sequence_number: u64,
        max_packet_bytes: usize,
    ) -> Result<Self, BufferTooSmall> {
        room(buf, HEADER_LEN)?;
        let limit = buf.len().min(max_packet_bytes.max(HEADER_LEN));
        let header = PacketHeader {
            session,
            sequence_number,
            message_count: 0,
        };
        Ok(Self {
            buf: &mut buf[..limit],
            header,
            len: HEADER_LEN,
        })
    }

    /// Appends one message block.
    pub fn push(&mut self, message: &[u8]) -> Result<(), PacketFull> {
        self.push_with(message.len(), |out| out.copy_from_slice(message))
    }

    /// Appends a block of `len` bytes that `write` fills in place (e.g. an ITCH
    /// message's `encode`), so no intermediate copy is needed.
    pub fn push_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), PacketFull> {
        let end = self.len + 2 + len;
        let count_full = self.header.message_count >= END_OF_SESSION_COUNT - 1;
        if end > self.buf.len() || count_full || len > usize::from(u16::MAX) {
            return Err(PacketFull);
        }
        self.buf[self.len..self.len + 2].copy_from_slice(&(len as u16).to_be_bytes());
        write(&mut self.buf[self.len + 2..end]);
        self.len = end;
        self.header.message_count += 1;
        Ok(())
    }

    /// Messages added so far.
    pub fn message_count(&self) -> u16 {
        self.header.message_count
    }

    /// Bytes the packet takes so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no message has been added.
    pub fn is_empty(&self) -> bool {
        self.header.message_count == 0
    }

    /// The sequence number of the message after the last one added.
    pub fn next_sequence_number(&self) -> u64 {
        self.header.sequence_number + u64::from(self.header.message_count)
    }

    /// Writes the header; returns the packet's length.
    pub fn finish(self) -> usize {
        self.header.write(self.buf);
        self.len
    }
}

/// Encodes a heartbeat: count 0, `next_sequence_number` = the next message expected.
pub fn encode_heartbeat(
    out: &mut [u8],
    session: Session,
    next_sequence_number: u64,
) -> Result<usize, BufferTooSmall> {
    let header = PacketHeader {
        session,
        sequence_number: next_sequence_number,
        message_count: 0,
    };
    header.write(room(out, HEADER_LEN)?);
    Ok(HEADER_LEN)
}

/// Encodes an end-of-session packet (count 0xFFFF).
pub fn encode_end_of_session(
    out: &mut [u8],
    session: Session,
    next_sequence_number: u64,
) -> Result<usize, BufferTooSmall> {
    let header = PacketHeader {
        session,
        sequence_number: next_sequence_number,
        message_count: END_OF_SESSION_COUNT,
    };
    header.write(room(out, HEADER_LEN)?);
    Ok(HEADER_LEN)
}

/// Why bytes are not a valid downstream packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoldError {
    /// Shorter than the 20-byte header.
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// Message block `index` runs past the end of the packet.
    TruncatedBlock {
        /// Zero-based block index.
        index: u16,
    },
    /// Bytes after the last announced block (or after a heartbeat/end-of-session header).
    TrailingBytes {
        /// How many.
        len: usize,
    },
}

/// A parsed downstream packet; its blocks were checked by [`parse`](Self::parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownstreamPacket<'a> {
    /// The header.
    pub header: PacketHeader,
    blocks: &'a [u8],
}

impl<'a> DownstreamPacket<'a> {
    /// Parses and checks a whole packet (every block inside it, nothing after).
    pub fn parse(packet: &'a [u8]) -> Result<Self, MoldError> {
        if packet.len() < HEADER_LEN {
            return Err(MoldError::TooShort { len: packet.len() });
        }
        let header = PacketHeader::read(&packet[..HEADER_LEN]);
        let blocks = &packet[HEADER_LEN..];
        let count = if header.message_count == END_OF_SESSION_COUNT {
            0
        } else {
            header.message_count
        };
        let mut rest = blocks;
        for index in 0..count {
            rest = split_block(rest)
                .ok_or(MoldError::TruncatedBlock { index })?
                .1;
        }
        if !rest.is_empty() {
            return Err(MoldError::TrailingBytes { len: rest.len() });
        }
        Ok(Self { header, blocks })
    }

    /// True for a heartbeat (count 0).
    pub fn is_heartbeat(&self) -> bool {
        self.header.message_count == 0
    }

    /// True for end of session (count 0xFFFF).
    pub fn is_end_of_session(&self) -> bool {
        self.header.message_count == END_OF_SESSION_COUNT
    }

    /// The messages, in sequence order.
    pub fn messages(&self) -> Messages<'a> {
        Messages { rest: self.blocks }
    }
}

fn split_block(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let [hi, lo, body @ ..] = buf else {
        return None;
    };
    body.split_at_checked(usize::from(u16::from_be_bytes([*hi, *lo])))
}

/// Iterator over the message blocks of a [`DownstreamPacket`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (message, rest) = split_block(self.rest)?;
        self.rest = rest;
        Some(message)
    }
}

/// A retransmission request, sent by unicast to the re-request server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPacket {
    /// Session.
    pub session: Session,
    /// First sequence number wanted.
    pub sequence_number: u64,
    /// How many messages, from there.
    pub requested_message_count: u16,
}

impl RequestPacket {
    /// Exact length of a request packet.
    pub const LEN: usize = HEADER_LEN;

    /// Decodes a request; `None` unless exactly [`Self::LEN`] bytes.
    pub fn decode(buf: &[u8]) -> Option<Self> {
        if buf.len() != Self::LEN {
            return None;
        }
        let h = PacketHeader::read(buf);
        Some(Self {
            session: h.session,
            sequence_number: h.sequence_number,
            requested_message_count: h.message_count,
        })
    }

    /// Encodes the request; returns [`Self::LEN`].
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let header = PacketHeader {
            session: self.session,
            sequence_number: self.sequence_number,
            message_count: self.requested_message_count,
        };
        header.write(room(out, Self::LEN)?);
        Ok(Self::LEN)
    }
}
