//! Fixed-size byte encoding of the core's records (commands and events).
//!
//! Commands and session events are [`RECORD_BYTES`] long, market-data events
//! [`MD_RECORD_BYTES`]: a kind byte, the fields big-endian in declaration order, zero
//! padding. 56 bytes fit one 64-byte SPSC slot with its 8-byte header and 48 bytes one
//! 64-byte broadcast slot with its 16-byte header, so every record is one cache line on
//! its ring. Decoding checks the length, the kind and every enum byte and never panics.

use std::fmt;

use super::types::{
    CancelReason, ControlAction, Display, IgnoreReason, Liquidity, OrderRef, RejectReason, Side,
    StpMode, Tif, TradingState,
};

/// Size of every encoded command and session event.
pub const RECORD_BYTES: usize = 56;

/// Size of every encoded market-data event.
pub const MD_RECORD_BYTES: usize = 48;

/// Why a byte record is not a valid command or event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The record is shorter than its kind's fixed size.
    Short {
        /// Bytes given.
        len: usize,
    },
    /// The kind byte names no record.
    UnknownKind(u8),
    /// A field holds a value its type does not have.
    BadField {
        /// Offset of the bad byte.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short { len } => write!(f, "record of {len} bytes is too short"),
            Self::UnknownKind(k) => write!(f, "unknown record kind 0x{k:02x}"),
            Self::BadField { offset, byte } => {
                write!(f, "bad byte 0x{byte:02x} at offset {offset}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Writes fields into a record buffer.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Starts a record of `kind`, zeroing the (non-empty) buffer.
    pub(crate) fn new(buf: &'a mut [u8], kind: u8) -> Self {
        buf.fill(0);
        if let Some(b) = buf.first_mut() {
            *b = kind;
        }
        Writer { buf, pos: 1 }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        // Sizes are checked at compile time per record; `get_mut` keeps this panic-free.
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

/// Reads fields from a record.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Checks the length against `size` and returns the kind byte and a reader
    /// positioned after it.
    pub(crate) fn new(buf: &'a [u8], size: usize) -> Result<(u8, Self), DecodeError> {
        match buf.first() {
            Some(&kind) if buf.len() >= size => Ok((kind, Reader { buf, pos: 1 })),
            _ => Err(DecodeError::Short { len: buf.len() }),
        }
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let at = self.pos;
        self.pos += N;
        self.buf
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Short {
                len: self.buf.len(),
            })
    }
}

/// A value with a fixed-size big-endian encoding.
pub(crate) trait Field: Sized {
    /// Encoded size.
    const BYTES: usize;
    /// Appends the value.
    fn put(&self, w: &mut Writer<'_>);
    /// Reads the value.
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

macro_rules! int_field {
    ($($t:ty),+) => {$(
        impl Field for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put(&self, w: &mut Writer<'_>) {
                w.put(&self.to_be_bytes());
            }
            #[inline]
            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_be_bytes(r.take()?))
            }
        }
    )+};
}
int_field!(u8, u16, u32, u64);

macro_rules! byte_field {
    ($($t:ty),+) => {$(
        impl Field for $t {
            const BYTES: usize = 1;
            #[inline]
            fn put(&self, w: &mut Writer<'_>) {
                w.put(&[self.to_byte()]);
            }
            #[inline]
            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let offset = r.pos;
                let [b] = r.take::<1>()?;
                <$t>::from_byte(b).ok_or(DecodeError::BadField { offset, byte: b })
            }
        }
    )+};
}
byte_field!(
    Side,
    Tif,
    Display,
    StpMode,
    TradingState,
    CancelReason,
    Liquidity,
    IgnoreReason,
    ControlAction
);

impl Field for bool {
    const BYTES: usize = 1;
    fn put(&self, w: &mut Writer<'_>) {
        w.put(&[u8::from(*self)]);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let offset = r.pos;
        match r.take::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            [b] => Err(DecodeError::BadField { offset, byte: b }),
        }
    }
}

impl Field for OrderRef {
    const BYTES: usize = 8;
    fn put(&self, w: &mut Writer<'_>) {
        self.0.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        u64::get(r).map(OrderRef)
    }
}

impl Field for RejectReason {
    const BYTES: usize = 2;
    fn put(&self, w: &mut Writer<'_>) {
        self.ouch_code().put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let offset = r.pos;
        let code = u16::get(r)?;
        RejectReason::from_ouch_code(code).ok_or(DecodeError::BadField {
            offset,
            byte: code as u8,
        })
    }
}

impl<const N: usize> Field for [u8; N] {
    const BYTES: usize = N;
    fn put(&self, w: &mut Writer<'_>) {
        w.put(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.take()
    }
}

/// Declares a record struct whose fields encode in order.
macro_rules! record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t),+ }

        impl $name {
            /// Encoded size of the fields, without the kind byte.
            pub const FIELDS_BYTES: usize = 0 $(+ <$t as $crate::engine::wire::Field>::BYTES)+;

            #[inline]
            pub(crate) fn put_fields(&self, w: &mut $crate::engine::wire::Writer<'_>) {
                $($crate::engine::wire::Field::put(&self.$f, w);)+
            }

            #[inline]
            pub(crate) fn get_fields(
                r: &mut $crate::engine::wire::Reader<'_>,
            ) -> Result<Self, $crate::engine::wire::DecodeError> {
                Ok(Self { $($f: $crate::engine::wire::Field::get(r)?),+ })
            }
        }

        const _: () = assert!($name::FIELDS_BYTES < $crate::engine::wire::RECORD_BYTES);
    };
}
pub(crate) use record;

/// Declares an enum of records of `$size` bytes with `encode` / `decode` keyed by a kind
/// byte.
macro_rules! record_enum {
    ($size:path; $(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident($t:ty) = $tag:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $var($t)),+ }

        const _: () = { $(assert!(<$t>::FIELDS_BYTES < $size);)+ };

        impl $name {
            /// Size of the encoded record.
            pub const BYTES: usize = $size;

            /// Encodes into exactly [`Self::BYTES`] bytes.
            pub fn encode(&self, buf: &mut [u8; $size]) {
                match self {
                    $(Self::$var(v) => {
                        let mut w = $crate::engine::wire::Writer::new(buf, $tag);
                        v.put_fields(&mut w);
                    })+
                }
            }

            /// Encodes into the front of `buf`; `None` (nothing written) when `buf` is
            /// shorter than a record, else the bytes written.
            pub fn encode_into(&self, buf: &mut [u8]) -> Option<usize> {
                let head = buf.first_chunk_mut::<{ $size }>()?;
                self.encode(head);
                Some($size)
            }

            /// Decodes a record; never panics on any input.
            pub fn decode(buf: &[u8]) -> Result<Self, $crate::engine::wire::DecodeError> {
                let (kind, mut r) = $crate::engine::wire::Reader::new(buf, $size)?;
                match kind {
                    $(k if k == $tag => Ok(Self::$var(<$t>::get_fields(&mut r)?)),)+
                    k => Err($crate::engine::wire::DecodeError::UnknownKind(k)),
                }
            }
        }
    };
}
pub(crate) use record_enum;
