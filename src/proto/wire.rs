//! Field primitives shared by every codec: big-endian integers, space-padded alpha
//! fields, one-byte code enums, and the cursor types that read and write them.
//!
//! Decoders check a message's total length *before* reading its fixed fields, so the
//! cursors never run past the end of a correctly sized slice; the property tests in
//! `tests/proto_fuzz.rs` feed random bytes to every decoder to keep that true.

use core::fmt;

/// The caller's output buffer cannot hold the encoded bytes. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the encoding needs.
    pub needed_bytes: usize,
    /// Bytes the caller offered.
    pub available_bytes: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "buffer too small: need {} bytes, have {}",
            self.needed_bytes, self.available_bytes
        )
    }
}

impl std::error::Error for BufferTooSmall {}

/// Returns `out[..len]` or the error saying how much room was missing.
pub(crate) fn room(out: &mut [u8], len: usize) -> Result<&mut [u8], BufferTooSmall> {
    let available_bytes = out.len();
    out.get_mut(..len).ok_or(BufferTooSmall {
        needed_bytes: len,
        available_bytes,
    })
}

/// Which enumerated field held a byte outside its defined set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// OUCH Side (`B`, `S`, `T`, `E`).
    Side,
    /// OUCH Time In Force.
    TimeInForce,
    /// OUCH Display.
    Display,
    /// OUCH Capacity.
    Capacity,
    /// OUCH InterMarket Sweep Eligibility.
    IntermarketSweepEligibility,
    /// OUCH CrossType.
    CrossType,
    /// OUCH Order State.
    OrderState,
    /// OUCH System Event code.
    SystemEventCode,
    /// OUCH Order Cancel Reason (Appendix B).
    CancelReason,
    /// OUCH Order Reject Reason (Appendix C).
    RejectReason,
    /// OUCH Broken Trade reason.
    BrokenTradeReason,
    /// OUCH Order Restated reason.
    RestateReason,
    /// OUCH PostOnly option.
    PostOnly,
    /// OUCH PriceType / DiscretionPriceType option.
    PriceType,
    /// SoupBinTCP Login Rejected reason.
    LoginRejectReason,
    /// ITCH System Event code.
    ItchEventCode,
    /// ITCH buy/sell indicator.
    ItchSide,
    /// ITCH trading state.
    TradingState,
    /// ITCH printable flag.
    Printable,
}

/// A byte (or, for reject reasons, a short) outside the defined values of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidValue {
    /// The field.
    pub kind: FieldKind,
    /// The value found on the wire.
    pub value: u16,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {:?} value {:#x}", self.kind, self.value)
    }
}

/// Reads fixed-width fields front to back.
///
/// The caller has checked that the slice holds every field it will read.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.buf.split_at(N);
        self.buf = rest;
        let mut out = [0; N];
        out.copy_from_slice(head);
        out
    }

    pub(crate) fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }
}

/// Writes fixed-width fields front to back into a slice of exactly the right size.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes(&[value]);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.bytes(&value.to_be_bytes());
    }
}

/// A fixed-width wire field.
pub(crate) trait WireField: Sized + Copy {
    /// Bytes on the wire.
    const LEN: usize;
    /// Reads the field; enumerated fields reject undefined values.
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue>;
    /// Writes the field.
    fn write(&self, w: &mut Writer<'_>);
}

macro_rules! big_endian_field {
    ($($t:ty),*) => {$(
        impl WireField for $t {
            const LEN: usize = size_of::<$t>();
            fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
                Ok(<$t>::from_be_bytes(r.array()))
            }
            fn write(&self, w: &mut Writer<'_>) {
                w.bytes(&self.to_be_bytes());
            }
        }
    )*};
}

big_endian_field!(u8, u16, u32, u64, i32);

/// Reads one field from a slice of exactly its length (TagValue option values).
pub(crate) fn read_exact<T: WireField>(value: &[u8]) -> Result<T, InvalidValue> {
    debug_assert_eq!(value.len(), T::LEN);
    T::read(&mut Reader::new(value))
}

/// A fixed-width alpha field: left-justified, padded on the right with spaces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Alpha<const N: usize>(pub [u8; N]);

/// A string is longer than the alpha field it was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlphaTooLong {
    /// Bytes in the string.
    pub len: usize,
    /// Width of the field.
    pub width: usize,
}

impl<const N: usize> Alpha<N> {
    /// All spaces (the "not specified" value of optional alpha fields).
    pub const SPACES: Self = Self([b' '; N]);

    /// Pads `s` with spaces; an error if it is longer than the field.
    pub const fn try_padded(s: &str) -> Result<Self, AlphaTooLong> {
        let bytes = s.as_bytes();
        if bytes.len() > N {
            return Err(AlphaTooLong {
                len: bytes.len(),
                width: N,
            });
        }
        let mut out = [b' '; N];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        Ok(Self(out))
    }

    /// Pads `s` with spaces. For literals and configuration known to fit.
    ///
    /// # Panics
    /// If `s` is longer than the field (a programmer error).
    pub const fn padded(s: &str) -> Self {
        match Self::try_padded(s) {
            Ok(alpha) => alpha,
            Err(_) => panic!("string longer than the alpha field"),
        }
    }

    /// The bytes without the trailing space padding.
    pub fn trimmed(&self) -> &[u8] {
        let end = self.0.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        &self.0[..end]
    }

    /// True when every byte is a space.
    pub fn is_blank(&self) -> bool {
        self.0.iter().all(|&b| b == b' ')
    }
}

impl<const N: usize> fmt::Debug for Alpha<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl<const N: usize> fmt::Display for Alpha<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.trimmed()))
    }
}

impl<const N: usize> WireField for Alpha<N> {
    const LEN: usize = N;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        Ok(Self(r.array()))
    }
    fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.0);
    }
}

/// Defines a one-byte code enum with its wire conversions.
macro_rules! byte_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $kind:ident {
            $($(#[$vmeta:meta])* $variant:ident = $byte:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $byte,)+
        }

        impl $name {
            /// The byte on the wire.
            pub const fn to_byte(self) -> u8 {
                self as u8
            }

            /// The code for `byte`, or `None` if it is not one of the defined values.
            pub const fn from_byte(byte: u8) -> Option<Self> {
                match byte {
                    $($byte => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl $crate::proto::wire::WireField for $name {
            const LEN: usize = 1;
            // NB: `#[inline]` left six out-of-line calls of ≈ 19 instructions in every
            // Enter Order's decode (callgrind, `on_ouch`).
            #[inline(always)]
            fn read(
                r: &mut $crate::proto::wire::Reader<'_>,
            ) -> Result<Self, $crate::proto::wire::InvalidValue> {
                let byte = r.u8();
                Self::from_byte(byte).ok_or($crate::proto::wire::InvalidValue {
                    kind: $crate::proto::wire::FieldKind::$kind,
                    value: byte as u16,
                })
            }
            fn write(&self, w: &mut $crate::proto::wire::Writer<'_>) {
                w.u8(self.to_byte());
            }
        }
    };
}

pub(crate) use byte_enum;
