//! OUCH 5.0 order entry (`shared/spec/ouch-5.0.txt`).
//!
//! Every message is a type byte, fixed big-endian fields, and — for all types but the
//! System Event — an Appendage Length (u16) followed by TagValue options
//! ([`appendage`]). Messages decode from a receive buffer into small `Copy` structs
//! without allocating, and encode straight into a send buffer:
//!
//! ```
//! use tickgate::proto::ouch::*;
//! let cancel = CancelOrder { user_ref_num: 7, quantity: 0, options: Options::NONE };
//! let mut buf = [0u8; 64];
//! let len = cancel.encode(&mut buf).unwrap();
//! assert_eq!(&buf[..len], &[b'X', 0, 0, 0, 7, 0, 0, 0, 0]);
//! assert_eq!(Inbound::decode(&buf[..len]), Ok(Inbound::CancelOrder(cancel)));
//! ```
//!
//! Decoding checks the exact length (fixed part + Appendage Length + appendage) and
//! every enumerated field; anything else is an [`OuchError`], which names the
//! Rejected reason ([`OuchError::reject_reason`]). Quantities and prices are *not*
//! range-checked here: that is the engine's job (Invalid Quantity, Invalid Price).

pub mod appendage;
mod inbound;
pub(crate) mod message;
mod outbound;
mod reasons;
mod types;
mod user_ref;

use core::fmt;

pub use appendage::{
    Appendage, AppendageError, MAX_APPENDAGE_LEN, OptionValues, Options, Tag, TagSet,
};
pub use inbound::*;
pub use outbound::*;
pub use reasons::{CancelReason, RejectReason};
pub use types::*;
pub use user_ref::UserRefNums;

use crate::proto::wire::{FieldKind, InvalidValue};

/// Why a message could not be decoded. Never a panic: every byte string ends here or
/// in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuchError {
    /// A zero-length message.
    Empty,
    /// A type byte that is not a message of this direction.
    UnknownType(u8),
    /// A type-specific decoder was handed another type.
    UnexpectedType {
        /// The decoder's type.
        expected: u8,
        /// The message's type byte.
        found: u8,
    },
    /// The length does not match the fixed fields plus the declared appendage.
    WrongLength {
        /// The type byte.
        message_type: u8,
        /// The message's length in bytes.
        len: usize,
    },
    /// An enumerated fixed field holds an undefined value.
    InvalidValue(InvalidValue),
    /// The options appendage is malformed or holds a tag this message does not take.
    Appendage(AppendageError),
}

impl OuchError {
    /// The Rejected (`J`) reason for an Enter or Replace Order that failed this way.
    pub fn reject_reason(&self) -> RejectReason {
        match self {
            OuchError::InvalidValue(v) => match v.kind {
                FieldKind::Side => RejectReason::InvalidSide,
                FieldKind::Display => RejectReason::InvalidDisplay,
                FieldKind::CrossType => RejectReason::InvalidCrossOrder,
                _ => RejectReason::Other,
            },
            OuchError::Appendage(a) => a.reject_reason(),
            _ => RejectReason::Other,
        }
    }
}

impl fmt::Display for OuchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OuchError::Empty => f.write_str("empty OUCH message"),
            OuchError::UnknownType(t) => write!(f, "unknown OUCH message type {t:#04x}"),
            OuchError::UnexpectedType { expected, found } => {
                write!(f, "expected OUCH type {expected:#04x}, found {found:#04x}")
            }
            OuchError::WrongLength { message_type, len } => {
                write!(
                    f,
                    "OUCH message type {message_type:#04x} of wrong length {len}"
                )
            }
            OuchError::InvalidValue(v) => write!(f, "OUCH field: {v}"),
            OuchError::Appendage(a) => write!(f, "OUCH {a}"),
        }
    }
}

impl std::error::Error for OuchError {}

/// Largest appendage a message accepting `allowed` can carry (each tag once).
pub const fn max_appendage_len(allowed: TagSet) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < Tag::ALL.len() {
        if allowed.contains(Tag::ALL[i]) {
            total += 2 + Tag::ALL[i].value_len();
        }
        i += 1;
    }
    total
}

const fn max_len(fields_len: usize, allowed: TagSet) -> usize {
    1 + fields_len + 2 + max_appendage_len(allowed)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// Longest valid inbound message (an Enter Order with every tag it accepts).
pub const MAX_INBOUND_LEN: usize = max(
    max_len(EnterOrder::FIELDS_LEN, EnterOrder::ALLOWED_TAGS),
    max_len(ReplaceOrder::FIELDS_LEN, ReplaceOrder::ALLOWED_TAGS),
);

/// Longest valid outbound message (an Order Accepted with every tag it carries).
pub const MAX_OUTBOUND_LEN: usize = max(
    max_len(OrderAccepted::FIELDS_LEN, OrderAccepted::ALLOWED_TAGS),
    max_len(OrderReplaced::FIELDS_LEN, OrderReplaced::ALLOWED_TAGS),
);

/// Longest valid OUCH message in either direction.
pub const MAX_MESSAGE_LEN: usize = max(MAX_INBOUND_LEN, MAX_OUTBOUND_LEN);
