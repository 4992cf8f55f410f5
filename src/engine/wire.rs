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

/// Writes fields into a record buffer of `N` bytes.
///
/// NB: the buffer is a fixed-size array and every field's offset a constant once
/// `put_fields` is inlined, so a record encodes as a few stores with no bounds
/// checks; only the padding after the fields is zeroed (`finish`). Over a slice with a
/// zero-fill of the whole buffer first, `OrderEvent::encode` was an out-of-line call of
/// ≈ 35 instructions per event (callgrind, `bench tick-to-trade`).
pub(crate) struct Writer<'a, const N: usize> {
    buf: &'a mut [u8; N],
    pos: usize,
}

impl<'a, const N: usize> Writer<'a, N> {
    /// Starts a record of `kind` (the buffer is non-empty: checked per record at
    /// compile time).
    #[inline(always)]
    pub(crate) fn new(buf: &'a mut [u8; N], kind: u8) -> Self {
        if let Some(b) = buf.first_mut() {
            *b = kind;
        }
        Writer { buf, pos: 1 }
    }

    #[inline(always)]
    fn put<const M: usize>(&mut self, bytes: [u8; M]) {
        // Sizes are checked at compile time per record; `get_mut` keeps this panic-free.
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + M) {
            dst.copy_from_slice(&bytes);
        }
        self.pos += M;
    }

    /// Zeroes the padding after the fields written.
    #[inline(always)]
    pub(crate) fn finish(self) {
        if let Some(rest) = self.buf.get_mut(self.pos..) {
            rest.fill(0);
        }
    }
}

/// Reads fields from a record of `N` bytes.
pub(crate) struct Reader<'a, const N: usize> {
    buf: &'a [u8; N],
    pos: usize,
}

impl<'a, const N: usize> Reader<'a, N> {
    /// A reader positioned after the kind byte.
    #[inline(always)]
    pub(crate) fn new(buf: &'a [u8; N]) -> Self {
        Reader { buf, pos: 1 }
    }

    #[inline(always)]
    fn take<const M: usize>(&mut self) -> Result<[u8; M], DecodeError> {
        let at = self.pos;
        self.pos += M;
        // Sizes are checked at compile time per record: never short.
        match self.buf.get(at..at + M).and_then(|s| s.first_chunk::<M>()) {
            Some(bytes) => Ok(*bytes),
            None => Err(DecodeError::Short { len: N }),
        }
    }
}

/// A value with a fixed-size big-endian encoding.
pub(crate) trait Field: Sized {
    /// Encoded size.
    const BYTES: usize;
    /// Appends the value.
    fn put<const N: usize>(&self, w: &mut Writer<'_, N>);
    /// Reads the value.
    fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError>;
}

macro_rules! int_field {
    ($($t:ty),+) => {$(
        impl Field for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
                w.put(self.to_be_bytes());
            }
            #[inline(always)]
            fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
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
            #[inline(always)]
            fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
                w.put([self.to_byte()]);
            }
            #[inline(always)]
            fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
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
    #[inline(always)]
    fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
        w.put([u8::from(*self)]);
    }
    #[inline(always)]
    fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
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
    #[inline(always)]
    fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
        self.0.put(w);
    }
    #[inline(always)]
    fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
        u64::get(r).map(OrderRef)
    }
}

impl Field for RejectReason {
    const BYTES: usize = 2;
    #[inline(always)]
    fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
        self.ouch_code().put(w);
    }
    #[inline(always)]
    fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
        let offset = r.pos;
        let code = u16::get(r)?;
        RejectReason::from_ouch_code(code).ok_or(DecodeError::BadField {
            offset,
            byte: code as u8,
        })
    }
}

impl<const M: usize> Field for [u8; M] {
    const BYTES: usize = M;
    #[inline(always)]
    fn put<const N: usize>(&self, w: &mut Writer<'_, N>) {
        w.put(*self);
    }
    #[inline(always)]
    fn get<const N: usize>(r: &mut Reader<'_, N>) -> Result<Self, DecodeError> {
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

            #[inline(always)]
            pub(crate) fn put_fields<const N: usize>(
                &self,
                w: &mut $crate::engine::wire::Writer<'_, N>,
            ) {
                $($crate::engine::wire::Field::put(&self.$f, w);)+
            }

            #[inline(always)]
            pub(crate) fn get_fields<const N: usize>(
                r: &mut $crate::engine::wire::Reader<'_, N>,
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
///
/// NB: `encode` and `decode` are always inlined so that a caller that knows the variant
/// (an engine emit site through the core's router, the session layer's translation)
/// gets only its arm, and the core's loop decodes without a call and a copy of the
/// result; the per-field work is a load or store at a constant offset (see [`Writer`]).
macro_rules! record_enum {
    ($size:path; $(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident($t:ty) = $tag:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $var($t)),+ }

        const _: () = { $(assert!(<$t>::FIELDS_BYTES < $size);)+ };

        impl $name {
            /// Size of the encoded record.
            pub const BYTES: usize = $size;

            /// Encodes into exactly [`Self::BYTES`] bytes.
            #[inline(always)]
            pub fn encode(&self, buf: &mut [u8; $size]) {
                match self {
                    $(Self::$var(v) => {
                        let mut w = $crate::engine::wire::Writer::new(buf, $tag);
                        v.put_fields(&mut w);
                        w.finish();
                    })+
                }
            }

            /// Encodes into the front of `buf`; `None` (nothing written) when `buf` is
            /// shorter than a record, else the bytes written.
            #[inline(always)]
            pub fn encode_into(&self, buf: &mut [u8]) -> Option<usize> {
                let head = buf.first_chunk_mut::<{ $size }>()?;
                self.encode(head);
                Some($size)
            }

            /// Decodes a record; never panics on any input.
            #[inline(always)]
            pub fn decode(buf: &[u8]) -> Result<Self, $crate::engine::wire::DecodeError> {
                let Some(record) = buf.first_chunk::<{ $size }>() else {
                    return Err($crate::engine::wire::DecodeError::Short { len: buf.len() });
                };
                let mut r = $crate::engine::wire::Reader::new(record);
                match record[0] {
                    $($tag => Ok(Self::$var(<$t>::get_fields(&mut r)?)),)+
                    k => Err($crate::engine::wire::DecodeError::UnknownKind(k)),
                }
            }
        }
    };
}
pub(crate) use record_enum;
