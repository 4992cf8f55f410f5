//! Login Request / Accepted / Rejected and their ASCII numeric fields.

use core::fmt;

use super::FrameError;
use crate::proto::wire::{Alpha, Reader, Writer, byte_enum};

byte_enum! {
    /// Login Rejected reason.
    pub enum LoginRejectReason: LoginRejectReason {
        /// `A`: not authorized (bad username or password).
        NotAuthorized = b'A',
        /// `S`: the requested session is not available.
        SessionNotAvailable = b'S',
    }
}

/// An ASCII numeric login field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginField {
    /// Login Request: Requested Sequence Number (20).
    RequestedSequenceNumber,
    /// Login Request: Requested Heartbeat Timeout (5).
    RequestedHeartbeatTimeout,
    /// Login Accepted: Sequence Number (20).
    SequenceNumber,
}

/// A numeric login field that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// Something other than digits surrounded by spaces.
    NonNumeric(LoginField),
    /// Digits beyond `u64`.
    Overflow(LoginField),
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::NonNumeric(field) => write!(f, "{field:?} is not numeric"),
            LoginError::Overflow(field) => write!(f, "{field:?} overflows"),
        }
    }
}

/// `L` Login Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRequest {
    /// Username (6, alpha).
    pub username: Alpha<6>,
    /// Password (10, alpha).
    pub password: Alpha<10>,
    /// Requested Session (10, alpha); all spaces = the current session.
    pub requested_session: Alpha<10>,
    /// Requested Sequence Number: 0 = start with the most recently generated
    /// message; N = replay from message N.
    pub requested_sequence_number: u64,
    /// Requested Heartbeat Timeout in ms (0 = the server's default). At most 99 999
    /// fits the 5-digit field; larger values encode as 99 999.
    pub requested_heartbeat_timeout_ms: u32,
}

impl LoginRequest {
    /// Payload bytes after the type byte (length field = 52).
    pub const PAYLOAD_LEN: usize = 6 + 10 + 10 + 20 + 5;
    /// Largest heartbeat timeout the 5-digit field holds.
    pub const MAX_HEARTBEAT_TIMEOUT_MS: u32 = 99_999;

    pub(crate) fn parse(body: &[u8]) -> Result<Self, FrameError> {
        let mut r = Reader::new(body);
        let username = Alpha(r.array());
        let password = Alpha(r.array());
        let requested_session = Alpha(r.array());
        let requested_sequence_number =
            parse_numeric(&r.array::<20>(), LoginField::RequestedSequenceNumber)?;
        let timeout = parse_numeric(&r.array::<5>(), LoginField::RequestedHeartbeatTimeout)?;
        Ok(Self {
            username,
            password,
            requested_session,
            requested_sequence_number,
            // Five digits always fit.
            requested_heartbeat_timeout_ms: timeout as u32,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.username.0);
        w.bytes(&self.password.0);
        w.bytes(&self.requested_session.0);
        write_numeric(w, self.requested_sequence_number, 20);
        let timeout = self
            .requested_heartbeat_timeout_ms
            .min(Self::MAX_HEARTBEAT_TIMEOUT_MS);
        write_numeric(w, u64::from(timeout), 5);
    }
}

/// `A` Login Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAccepted {
    /// The session logged into (10, alpha).
    pub session: Alpha<10>,
    /// The sequence number of the next Sequenced Data packet the client will receive.
    pub sequence_number: u64,
}

impl LoginAccepted {
    /// Payload bytes after the type byte (length field = 31).
    pub const PAYLOAD_LEN: usize = 10 + 20;

    pub(crate) fn parse(body: &[u8]) -> Result<Self, FrameError> {
        let mut r = Reader::new(body);
        let session = Alpha(r.array());
        let sequence_number = parse_numeric(&r.array::<20>(), LoginField::SequenceNumber)?;
        Ok(Self {
            session,
            sequence_number,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.session.0);
        write_numeric(w, self.sequence_number, 20);
    }
}

/// Parses an ASCII numeric field: digits, right-justified and space-padded. Spaces
/// on either side are accepted and an all-space field reads as 0.
pub(crate) fn parse_numeric(field: &[u8], which: LoginField) -> Result<u64, FrameError> {
    let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    let mut value: u64 = 0;
    for &b in &field[start..end] {
        if !b.is_ascii_digit() {
            return Err(FrameError::Login(LoginError::NonNumeric(which)));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(FrameError::Login(LoginError::Overflow(which)))?;
    }
    Ok(value)
}

/// Writes `value` right-justified and space-padded in `width` bytes (`width` ≥ the
/// digits of `value`; 20 holds any `u64`).
pub(crate) fn write_numeric(w: &mut Writer<'_>, mut value: u64, width: usize) {
    let mut field = [b' '; 20];
    let mut i = width;
    loop {
        i -= 1;
        field[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 || i == 0 {
            break;
        }
    }
    w.bytes(&field[..width]);
}
