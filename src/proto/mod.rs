//! Wire protocols: the public Nasdaq family (`shared/spec/PROTOCOLS.md`).
//!
//! - [`soupbin`]: SoupBinTCP 4.1 session layer — packets, login fields, and a
//!   [`soupbin::Reassembler`] that frames arbitrary TCP chunks without allocating.
//! - [`ouch`]: OUCH 5.0 order entry, carried in SoupBinTCP data packets.
//! - [`itch`]: ITCH 5.0 market data messages and the length-prefixed ITCH file format.
//! - [`moldudp`]: MoldUDP64 downstream and request packets that carry ITCH over UDP.
//!
//! All integers are big-endian, alpha fields are space-padded ([`wire::Alpha`]).
//! Decoders read in place from the caller's bytes and answer every input with a
//! value or a typed error; encoders write into the caller's buffer and report
//! [`wire::BufferTooSmall`] instead of writing a partial message.

pub mod itch;
pub mod moldudp;
pub mod ouch;
pub mod soupbin;
pub mod wire;
