//! SoupBinTCP 4.1, the TCP session layer (`PROTOCOLS.md` §1).
//!
//! Every packet is `u16 length` (bytes that follow), `u8 type`, payload. A
//! [`Packet`] borrows its payload from the bytes it was decoded from;
//! [`decode_frame`] reads one packet from the front of a buffer and
//! [`Reassembler`] turns arbitrary TCP chunks into packets with one fixed
//! per-connection buffer. Encoders write into the caller's buffer.
//!
//! ```
//! use tickgate::proto::soupbin::*;
//! let mut out = [0u8; 64];
//! let n = encode_sequenced_with(&mut out, |buf| {
//!     buf[..2].copy_from_slice(b"hi");
//!     Ok(2)
//! })
//! .unwrap();
//! assert_eq!(&out[..n], b"\x00\x03Shi");
//! let (packet, used) = decode_frame(&out[..n], Direction::ServerToClient).unwrap().unwrap();
//! assert_eq!((packet, used), (Packet::SequencedData(b"hi"), 5));
//! ```

mod login;
mod reassembler;

use core::fmt;

pub use login::{LoginAccepted, LoginError, LoginField, LoginRejectReason, LoginRequest};
pub use reassembler::Reassembler;

use crate::proto::ouch;
use crate::proto::wire::{BufferTooSmall, Writer, room};

/// Packet type bytes.
pub mod packet_type {
    /// `+` Debug (both directions).
    pub const DEBUG: u8 = b'+';
    /// `A` Login Accepted.
    pub const LOGIN_ACCEPTED: u8 = b'A';
    /// `J` Login Rejected.
    pub const LOGIN_REJECTED: u8 = b'J';
    /// `S` Sequenced Data.
    pub const SEQUENCED_DATA: u8 = b'S';
    /// `H` Server Heartbeat.
    pub const SERVER_HEARTBEAT: u8 = b'H';
    /// `Z` End of Session.
    pub const END_OF_SESSION: u8 = b'Z';
    /// `L` Login Request.
    pub const LOGIN_REQUEST: u8 = b'L';
    /// `U` Unsequenced Data.
    pub const UNSEQUENCED_DATA: u8 = b'U';
    /// `R` Client Heartbeat.
    pub const CLIENT_HEARTBEAT: u8 = b'R';
    /// `O` Logout Request.
    pub const LOGOUT_REQUEST: u8 = b'O';
}

/// Bytes of the packet header: the length field and the type byte.
pub const HEADER_LEN: usize = 3;

/// Largest valid length field in either direction: a type byte plus the longest OUCH
/// message. Each direction has its own, smaller or equal, bound
/// ([`Direction::max_length_field`]); Debug packets are held to it too.
pub const MAX_LENGTH_FIELD: usize = 1 + ouch::MAX_MESSAGE_LEN;

/// Largest valid packet on the wire, length field included.
pub const MAX_PACKET_LEN: usize = 2 + MAX_LENGTH_FIELD;

/// Which side's packets a decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Packets a server receives: `L`, `U`, `R`, `O`, `+`.
    ClientToServer,
    /// Packets a client receives: `A`, `J`, `S`, `H`, `Z`, `+`.
    ServerToClient,
}

impl Direction {
    /// Largest valid length field for this direction: a type byte plus the longest
    /// OUCH message that travels this way (both exceed the Login Request's 52).
    pub const fn max_length_field(self) -> usize {
        match self {
            Direction::ClientToServer => 1 + ouch::MAX_INBOUND_LEN,
            Direction::ServerToClient => 1 + ouch::MAX_OUTBOUND_LEN,
        }
    }
}

/// One SoupBinTCP packet, borrowing any payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `+` free text, to be ignored.
    Debug(&'a [u8]),
    /// `A` Login Accepted.
    LoginAccepted(LoginAccepted),
    /// `J` Login Rejected; the server then closes.
    LoginRejected(LoginRejectReason),
    /// `S` one upper-layer (OUCH outbound) message, implicitly numbered.
    SequencedData(&'a [u8]),
    /// `H` Server Heartbeat.
    ServerHeartbeat,
    /// `Z` End of Session.
    EndOfSession,
    /// `L` Login Request.
    LoginRequest(LoginRequest),
    /// `U` one upper-layer (OUCH inbound) message.
    UnsequencedData(&'a [u8]),
    /// `R` Client Heartbeat.
    ClientHeartbeat,
    /// `O` Logout Request.
    LogoutRequest,
}

/// Why a byte stream is not valid SoupBinTCP. The gateway logs it and disconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A length field of 0 (every packet has at least a type byte).
    ZeroLength,
    /// A length field larger than any valid packet of the direction
    /// ([`Direction::max_length_field`]).
    TooLong {
        /// The length field.
        len: u16,
    },
    /// A type byte that is not a packet of the expected direction.
    UnknownType(u8),
    /// A fixed-size packet type with the wrong length field.
    WrongLength {
        /// The type byte.
        packet_type: u8,
        /// The length field.
        len: u16,
    },
    /// A Login Request or Login Accepted field that does not parse.
    Login(LoginError),
    /// A Login Rejected reason other than `A` or `S`.
    InvalidRejectReason(u8),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ZeroLength => f.write_str("SoupBinTCP length field 0"),
            FrameError::TooLong { len } => write!(f, "SoupBinTCP length field {len} too long"),
            FrameError::UnknownType(t) => write!(f, "unknown SoupBinTCP packet type {t:#04x}"),
            FrameError::WrongLength { packet_type, len } => {
                write!(
                    f,
                    "SoupBinTCP packet type {packet_type:#04x} with wrong length {len}"
                )
            }
            FrameError::Login(e) => write!(f, "SoupBinTCP login: {e}"),
            FrameError::InvalidRejectReason(r) => write!(f, "invalid login reject reason {r:#04x}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The length field a packet type must have, `None` for variable-length types, or
/// the error if the type is not one `direction` receives.
fn required_length(packet_type: u8, direction: Direction) -> Result<Option<u16>, FrameError> {
    use Direction::*;
    use packet_type::*;
    let fixed = match (packet_type, direction) {
        (DEBUG, _) => None,
        (LOGIN_REQUEST, ClientToServer) => Some(1 + LoginRequest::PAYLOAD_LEN as u16),
        (UNSEQUENCED_DATA, ClientToServer) | (SEQUENCED_DATA, ServerToClient) => None,
        (CLIENT_HEARTBEAT | LOGOUT_REQUEST, ClientToServer) => Some(1),
        (SERVER_HEARTBEAT | END_OF_SESSION, ServerToClient) => Some(1),
        (LOGIN_ACCEPTED, ServerToClient) => Some(1 + LoginAccepted::PAYLOAD_LEN as u16),
        (LOGIN_REJECTED, ServerToClient) => Some(2),
        _ => return Err(FrameError::UnknownType(packet_type)),
    };
    Ok(fixed)
}

/// Checks a length field on its own (2 bytes are enough to reject it).
pub(crate) fn check_length_field(len: u16, direction: Direction) -> Result<(), FrameError> {
    match usize::from(len) {
        0 => Err(FrameError::ZeroLength),
        n if n > direction.max_length_field() => Err(FrameError::TooLong { len }),
        _ => Ok(()),
    }
}

/// Checks a packet header (3 bytes are enough to reject it).
pub(crate) fn check_header(
    len: u16,
    packet_type: u8,
    direction: Direction,
) -> Result<(), FrameError> {
    check_length_field(len, direction)?;
    match required_length(packet_type, direction)? {
        Some(required) if required != len => Err(FrameError::WrongLength { packet_type, len }),
        _ => Ok(()),
    }
}

/// Decodes the packet at the front of `buf`: `Ok(None)` if more bytes are needed,
/// else the packet and the bytes it took. Header errors are reported as soon as the
/// header bytes are present, without waiting for the body.
pub fn decode_frame(
    buf: &[u8],
    direction: Direction,
) -> Result<Option<(Packet<'_>, usize)>, FrameError> {
    let [hi, lo, ..] = *buf else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]);
    check_length_field(len, direction)?;
    let Some(&packet_type) = buf.get(2) else {
        return Ok(None);
    };
    check_header(len, packet_type, direction)?;
    let total = 2 + usize::from(len);
    let Some(body) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    Ok(Some((Packet::parse(packet_type, body)?, total)))
}

impl<'a> Packet<'a> {
    /// Builds the packet from a type and a body whose length the header check passed.
    fn parse(packet_type: u8, body: &'a [u8]) -> Result<Packet<'a>, FrameError> {
        use packet_type::*;
        Ok(match packet_type {
            DEBUG => Packet::Debug(body),
            LOGIN_ACCEPTED => Packet::LoginAccepted(LoginAccepted::parse(body)?),
            LOGIN_REJECTED => Packet::LoginRejected(
                LoginRejectReason::from_byte(body[0])
                    .ok_or(FrameError::InvalidRejectReason(body[0]))?,
            ),
            SEQUENCED_DATA => Packet::SequencedData(body),
            SERVER_HEARTBEAT => Packet::ServerHeartbeat,
            END_OF_SESSION => Packet::EndOfSession,
            LOGIN_REQUEST => Packet::LoginRequest(LoginRequest::parse(body)?),
            UNSEQUENCED_DATA => Packet::UnsequencedData(body),
            CLIENT_HEARTBEAT => Packet::ClientHeartbeat,
            LOGOUT_REQUEST => Packet::LogoutRequest,
            other => return Err(FrameError::UnknownType(other)),
        })
    }

    /// The packet type byte.
    pub fn packet_type(&self) -> u8 {
        use packet_type::*;
        match self {
            Packet::Debug(_) => DEBUG,
            Packet::LoginAccepted(_) => LOGIN_ACCEPTED,
            Packet::LoginRejected(_) => LOGIN_REJECTED,
            Packet::SequencedData(_) => SEQUENCED_DATA,
            Packet::ServerHeartbeat => SERVER_HEARTBEAT,
            Packet::EndOfSession => END_OF_SESSION,
            Packet::LoginRequest(_) => LOGIN_REQUEST,
            Packet::UnsequencedData(_) => UNSEQUENCED_DATA,
            Packet::ClientHeartbeat => CLIENT_HEARTBEAT,
            Packet::LogoutRequest => LOGOUT_REQUEST,
        }
    }

    /// Payload bytes after the type byte.
    pub fn payload_len(&self) -> usize {
        match self {
            Packet::Debug(b) | Packet::SequencedData(b) | Packet::UnsequencedData(b) => b.len(),
            Packet::LoginAccepted(_) => LoginAccepted::PAYLOAD_LEN,
            Packet::LoginRejected(_) => 1,
            Packet::LoginRequest(_) => LoginRequest::PAYLOAD_LEN,
            _ => 0,
        }
    }

    /// Bytes the encoded packet takes, length field included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Encodes the packet into the front of `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let len = self.encoded_len();
        let mut w = Writer::new(room(out, len)?);
        w.u16((len - 2) as u16);
        w.u8(self.packet_type());
        match self {
            Packet::Debug(b) | Packet::SequencedData(b) | Packet::UnsequencedData(b) => w.bytes(b),
            Packet::LoginAccepted(a) => a.write(&mut w),
            Packet::LoginRejected(r) => w.u8(r.to_byte()),
            Packet::LoginRequest(l) => l.write(&mut w),
            _ => {}
        }
        Ok(len)
    }
}

/// Writes a packet header for `payload_len` bytes of payload into `out[..3]`.
pub fn encode_header(
    out: &mut [u8],
    packet_type: u8,
    payload_len: usize,
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(room(out, HEADER_LEN)?);
    w.u16((payload_len + 1) as u16);
    w.u8(packet_type);
    Ok(HEADER_LEN)
}

/// Encodes a data packet whose payload `write_payload` puts straight into `out`
/// after the header (e.g. an OUCH message's `encode`). Returns the packet's length.
pub fn encode_data_with(
    out: &mut [u8],
    packet_type: u8,
    write_payload: impl FnOnce(&mut [u8]) -> Result<usize, BufferTooSmall>,
) -> Result<usize, BufferTooSmall> {
    room(out, HEADER_LEN)?;
    let payload_len = write_payload(&mut out[HEADER_LEN..]).map_err(|e| BufferTooSmall {
        needed_bytes: e.needed_bytes + HEADER_LEN,
        available_bytes: out.len(),
    })?;
    encode_header(out, packet_type, payload_len)?;
    Ok(HEADER_LEN + payload_len)
}

/// [`encode_data_with`] for a Sequenced Data (`S`) packet.
pub fn encode_sequenced_with(
    out: &mut [u8],
    write_payload: impl FnOnce(&mut [u8]) -> Result<usize, BufferTooSmall>,
) -> Result<usize, BufferTooSmall> {
    encode_data_with(out, packet_type::SEQUENCED_DATA, write_payload)
}

/// [`encode_data_with`] for an Unsequenced Data (`U`) packet.
pub fn encode_unsequenced_with(
    out: &mut [u8],
    write_payload: impl FnOnce(&mut [u8]) -> Result<usize, BufferTooSmall>,
) -> Result<usize, BufferTooSmall> {
    encode_data_with(out, packet_type::UNSEQUENCED_DATA, write_payload)
}
