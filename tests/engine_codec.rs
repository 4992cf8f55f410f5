//! The core's record codecs (`Command`, `OrderEvent`, `MdEvent`) against fixed
//! fingerprints taken from the codec as it was before it was rewritten for speed: the
//! same seeded inputs must decode to the same values (or the same errors) and encode to
//! the same bytes, so journals, rings and replays written by either read the same.
//!
//! Inputs are random bytes under every kind byte; a field byte the decoder refuses is
//! re-drawn (with the next one) until the record decodes, so every variant is covered with random valid
//! field values, and every refusal along the way is part of the fingerprint.

use tickgate::engine::{Command, DecodeError, MD_RECORD_BYTES, MdEvent, OrderEvent, RECORD_BYTES};

/// xorshift64*: a fixed sequence for a given seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// FNV-1a over everything the codec produced.
struct Fingerprint(u64);

impl Fingerprint {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn error(&mut self, e: DecodeError) {
        match e {
            DecodeError::Short { len } => self.bytes(&[1, len as u8]),
            DecodeError::UnknownKind(k) => self.bytes(&[2, k]),
            DecodeError::BadField { offset, byte } => self.bytes(&[3, offset as u8, byte]),
        }
    }
}

/// One codec under test: decode, then encode what was decoded.
trait Codec: Sized + std::fmt::Debug + PartialEq {
    const SIZE: usize;
    fn decode(buf: &[u8]) -> Result<Self, DecodeError>;
    fn encode_vec(&self) -> Vec<u8>;
}

macro_rules! codec {
    ($t:ty, $size:expr) => {
        impl Codec for $t {
            const SIZE: usize = $size;
            fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
                <$t>::decode(buf)
            }
            fn encode_vec(&self) -> Vec<u8> {
                let mut buf = [0xa5u8; $size];
                self.encode(&mut buf);
                let mut longer = [0x5au8; $size + 8];
                assert_eq!(self.encode_into(&mut longer), Some($size));
                assert_eq!(longer[..$size], buf, "encode_into writes what encode does");
                assert_eq!(longer[$size..], [0x5a; 8], "encode_into writes one record");
                assert_eq!(self.encode_into(&mut longer[..$size - 1]), None);
                buf.to_vec()
            }
        }
    };
}
codec!(Command, RECORD_BYTES);
codec!(OrderEvent, RECORD_BYTES);
codec!(MdEvent, MD_RECORD_BYTES);

/// Decodes `rounds` random records per kind byte (all 256) and fingerprints the
/// results: errors, re-encoded bytes, the value's debug form.
fn fingerprint<C: Codec>(seed: u64, rounds: usize) -> u64 {
    let mut rng = Rng(seed);
    let mut fp = Fingerprint(0xcbf2_9ce4_8422_2325);
    for kind in 0..=255u8 {
        for _ in 0..rounds {
            let mut buf: Vec<u8> = (0..C::SIZE).map(|_| rng.byte()).collect();
            buf[0] = kind;
            // Short records are refused whatever they hold.
            let cut = (rng.next() % C::SIZE as u64) as usize;
            match C::decode(&buf[..cut]) {
                Err(e) => fp.error(e),
                Ok(v) => panic!("{cut} bytes decoded to {v:?}"),
            }
            let value = loop {
                match C::decode(&buf) {
                    Ok(v) => break Some(v),
                    Err(e @ DecodeError::BadField { offset, .. }) => {
                        fp.error(e);
                        // Two bytes: a reject reason is a 16-bit code.
                        buf[offset] = rng.byte();
                        if offset + 1 < C::SIZE {
                            buf[offset + 1] = rng.byte();
                        }
                    }
                    Err(e) => {
                        fp.error(e);
                        break None;
                    }
                }
            };
            let Some(value) = value else { continue };
            let bytes = value.encode_vec();
            assert_eq!(C::decode(&bytes).as_ref(), Ok(&value), "round trip");
            // A longer buffer decodes the same (the rings hand whole slots).
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[0xff; 9]);
            assert_eq!(C::decode(&longer).as_ref(), Ok(&value));
            fp.bytes(&bytes);
            fp.bytes(format!("{value:?}").as_bytes());
        }
    }
    fp.0
}

// The fingerprints of the codec before its rewrite (commit 28dda51).
const COMMAND_FINGERPRINT: u64 = 1_218_778_983_248_971_463;
const ORDER_EVENT_FINGERPRINT: u64 = 15_810_838_865_419_253_052;
const MD_EVENT_FINGERPRINT: u64 = 855_297_005_136_875_243;

#[test]
fn command_codec_bytes_are_unchanged() {
    assert_eq!(
        fingerprint::<Command>(0x9e37_79b9_7f4a_7c15, 64),
        COMMAND_FINGERPRINT
    );
}

#[test]
fn order_event_codec_bytes_are_unchanged() {
    assert_eq!(
        fingerprint::<OrderEvent>(0xd1b5_4a32_d192_ed03, 64),
        ORDER_EVENT_FINGERPRINT
    );
}

#[test]
fn md_event_codec_bytes_are_unchanged() {
    assert_eq!(
        fingerprint::<MdEvent>(0x8cb9_2ba7_2f3d_8dd7, 64),
        MD_EVENT_FINGERPRINT
    );
}
