//! The client's error type.

use core::fmt;
use std::io;

use crate::proto::ouch::OuchError;
use crate::proto::soupbin::{FrameError, LoginRejectReason};
use crate::proto::wire::BufferTooSmall;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// A socket error.
    Io(io::Error),
    /// The server sent bytes that are not SoupBinTCP.
    Frame(FrameError),
    /// A Sequenced Data packet that is not a valid OUCH outbound message.
    Ouch {
        /// Its sequence number (consumed: the next message has the next number).
        sequence_number: u64,
        /// What was wrong.
        error: OuchError,
    },
    /// The server answered the login with Login Rejected.
    LoginRejected(LoginRejectReason),
    /// A packet type the server should not send at this point (e.g. data before
    /// Login Accepted).
    UnexpectedPacket(u8),
    /// Nothing heard from the server within the heartbeat timeout.
    HeartbeatTimeout,
    /// The server closed the connection.
    Closed,
    /// A message too large for the send buffer (a programmer error in the caller).
    Encode(BufferTooSmall),
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<BufferTooSmall> for ClientError {
    fn from(e: BufferTooSmall) -> Self {
        ClientError::Encode(e)
    }
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        ClientError::Frame(e)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "socket: {e}"),
            ClientError::Frame(e) => write!(f, "{e}"),
            ClientError::Ouch {
                sequence_number,
                error,
            } => write!(f, "message {sequence_number}: {error}"),
            ClientError::LoginRejected(reason) => write!(f, "login rejected: {reason:?}"),
            ClientError::UnexpectedPacket(t) => write!(f, "unexpected packet type {t:#04x}"),
            ClientError::HeartbeatTimeout => {
                f.write_str("server silent past the heartbeat timeout")
            }
            ClientError::Closed => f.write_str("server closed the connection"),
            ClientError::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}
