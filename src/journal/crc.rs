//! CRC-32C (Castagnoli), the checksum of journal records: the SSE 4.2 `crc32`
//! instruction where the CPU has it (8 bytes per instruction), a table otherwise; both
//! give the same values.
//!
//! NB: the journal used CRC-32 (IEEE, `crc32fast`) up to layout version 1: for an
//! engine record, two calls (the 4-byte `len` on the scalar path, the 72-byte body
//! folded with `pclmulqdq` and reduced) and a feature check, ≈ 182 instructions per
//! append on the core's thread (callgrind, `bench rtt`). CRC-32C in hardware is one
//! `crc32` instruction per 8 bytes, ten for an engine record.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Byte-at-a-time table for CPUs without SSE 4.2.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The CRC-32C of `len` (little-endian) followed by `body`: what a journal record
/// stores (`body` is its `seq`, `ts_ns` and payload).
///
/// ```
/// use tickgate::journal::{crc32c, record_crc};
/// let body = [7u8; 72];
/// let mut whole = 72u32.to_le_bytes().to_vec();
/// whole.extend_from_slice(&body);
/// assert_eq!(record_crc(72, &body), crc32c(&whole));
/// ```
#[inline]
pub fn record_crc(len: u32, body: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2, checked just above.
        return unsafe { record_crc_sse42(len, body) };
    }
    !update_table(update_table(!0, &len.to_le_bytes()), body)
}

/// The CRC-32C of `bytes` (initial value and final complement as standardised:
/// iSCSI, ext4, the check value `0xE306_9283` for `b"123456789"`).
///
/// ```
/// assert_eq!(tickgate::journal::crc32c(b"123456789"), 0xE306_9283);
/// ```
pub fn crc32c(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2, checked just above.
        return !unsafe { update_sse42(!0, bytes) };
    }
    !update_table(!0, bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn record_crc_sse42(len: u32, body: &[u8]) -> u32 {
    use std::arch::x86_64::_mm_crc32_u32;
    !update_sse42(_mm_crc32_u32(!0, len), body)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn update_sse42(crc: u32, bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};
    let mut words = bytes.chunks_exact(8);
    let mut c = u64::from(crc);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        c = _mm_crc32_u64(c, u64::from_le_bytes(word));
    }
    let mut crc = c as u32;
    for &b in words.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    crc
}

fn update_table(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_the_standard() {
        assert_eq!(!update_table(!0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn record_crc_is_the_crc_of_len_then_body_on_every_path() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..bytes.len() {
            let body = &bytes[..n];
            let mut whole = (n as u32).to_le_bytes().to_vec();
            whole.extend_from_slice(body);
            let table = !update_table(update_table(!0, &(n as u32).to_le_bytes()), body);
            assert_eq!(record_crc(n as u32, body), table, "{n} bytes");
            assert_eq!(crc32c(&whole), table, "{n} bytes");
        }
    }
}
