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

/// Stores a record's body — `seq`, `ts_ns` (little-endian) and `payload` — at `dst`
/// and returns the record's CRC ([`record_crc`] of `payload.len()` and those bytes),
/// reading the payload once.
///
/// # Safety
/// `dst` is valid for `16 + payload.len()` bytes of writes (any alignment) that
/// overlap neither `payload` nor anything another thread reads or writes meanwhile.
#[inline(always)]
pub(crate) unsafe fn store_record_body(dst: *mut u8, seq: u64, ts_ns: u64, payload: &[u8]) -> u32 {
    let len = payload.len() as u32;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2 (checked just above); `dst` by the caller.
        return unsafe { store_record_body_sse42(dst, len, seq, ts_ns, payload) };
    }
    // SAFETY: the caller's contract.
    unsafe { store_record_body_table(dst, len, seq, ts_ns, payload) }
}

/// [`store_record_body`] without SSE 4.2: copy, then the table CRC.
///
/// # Safety
/// As [`store_record_body`].
unsafe fn store_record_body_table(
    dst: *mut u8,
    len: u32,
    seq: u64,
    ts_ns: u64,
    payload: &[u8],
) -> u32 {
    // SAFETY: in bounds and exclusive by the caller's contract.
    let body = unsafe {
        std::ptr::write_unaligned(dst as *mut u64, seq.to_le());
        std::ptr::write_unaligned(dst.add(8) as *mut u64, ts_ns.to_le());
        std::ptr::copy_nonoverlapping(payload.as_ptr(), dst.add(16), payload.len());
        std::slice::from_raw_parts(dst, 16 + payload.len())
    };
    !update_table(update_table(!0, &len.to_le_bytes()), body)
}

/// [`store_record_body`] with the `crc32` instruction: each 8-byte word is loaded
/// once, folded into the CRC and stored.
///
/// NB: the separate copy (a `memcpy` call) and CRC pass cost ≈ 144 instructions per
/// engine record in `append` (callgrind, `bench rtt`).
///
/// NB: the core's records (`serve`'s 80-byte input records, bare 56-byte engine
/// records) take a copy of the loop whose length is a constant, unrolled: through the
/// general loop (a `memcpy` call, then the CRC) it cost ≈ 96 instructions per append,
/// unrolled ≈ 48 (callgrind, `bench rtt`).
///
/// # Safety
/// As [`store_record_body`], and the CPU has SSE 4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn store_record_body_sse42(
    dst: *mut u8,
    len: u32,
    seq: u64,
    ts_ns: u64,
    payload: &[u8],
) -> u32 {
    // SAFETY: the caller's contract, the same as this function's (`dst` writable for
    // `16 + payload.len()` bytes, SSE 4.2 present).
    unsafe {
        match payload.len() {
            // `serve`'s input records (command + session annex).
            INPUT => store_body_sse42(dst, len, seq, ts_ns, &payload[..INPUT]),
            ENGINE => store_body_sse42(dst, len, seq, ts_ns, &payload[..ENGINE]),
            _ => store_body_sse42(dst, len, seq, ts_ns, payload),
        }
    }
}

#[cfg(target_arch = "x86_64")]
const INPUT: usize = crate::session::INPUT_RECORD_BYTES;
#[cfg(target_arch = "x86_64")]
const ENGINE: usize = crate::engine::RECORD_BYTES;

/// The loop of [`store_record_body_sse42`], inlined into each of its calls.
///
/// # Safety
/// As [`store_record_body`], and the CPU has SSE 4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline]
unsafe fn store_body_sse42(dst: *mut u8, len: u32, seq: u64, ts_ns: u64, payload: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u32, _mm_crc32_u64};
    let (words, tail) = payload.as_chunks::<8>();
    let mut c = u64::from(_mm_crc32_u32(!0, len));
    c = _mm_crc32_u64(c, seq);
    c = _mm_crc32_u64(c, ts_ns);
    // SAFETY: `dst..dst + 16 + payload.len()` is writable and ours (the caller's
    // contract); every store below stays inside it.
    unsafe {
        std::ptr::write_unaligned(dst as *mut u64, seq.to_le());
        std::ptr::write_unaligned(dst.add(8) as *mut u64, ts_ns.to_le());
        let mut at = dst.add(16);
        for w in words {
            let word = u64::from_le_bytes(*w);
            c = _mm_crc32_u64(c, word);
            std::ptr::write_unaligned(at as *mut [u8; 8], *w);
            at = at.add(8);
        }
        let mut crc = c as u32;
        for &b in tail {
            crc = _mm_crc32_u8(crc, b);
            at.write(b);
            at = at.add(1);
        }
        !crc
    }
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
    let (words, tail) = bytes.as_chunks::<8>();
    let mut c = u64::from(crc);
    for w in words {
        c = _mm_crc32_u64(c, u64::from_le_bytes(*w));
    }
    let mut crc = c as u32;
    for &b in tail {
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

    #[test]
    fn store_record_body_stores_the_body_and_returns_its_crc() {
        let payload: Vec<u8> = (0..100u32).map(|i| (i * 13 + 5) as u8).collect();
        for n in 0..payload.len() {
            let (seq, ts) = (0x0102_0304_0506_0708u64 + n as u64, 77u64 << 40);
            let mut out = vec![0xAAu8; 16 + n + 1];
            // SAFETY: `out` holds 16 + n bytes and more; `payload` is another buffer.
            let crc = unsafe { store_record_body(out.as_mut_ptr(), seq, ts, &payload[..n]) };
            let mut body = seq.to_le_bytes().to_vec();
            body.extend_from_slice(&ts.to_le_bytes());
            body.extend_from_slice(&payload[..n]);
            assert_eq!(&out[..16 + n], &body[..], "{n} bytes");
            assert_eq!(out[16 + n], 0xAA, "{n} bytes: wrote past the body");
            assert_eq!(crc, record_crc(n as u32, &body), "{n} bytes");
            let mut out = vec![0xAAu8; 16 + n + 1];
            // SAFETY: as above.
            let crc = unsafe {
                store_record_body_table(out.as_mut_ptr(), n as u32, seq, ts, &payload[..n])
            };
            assert_eq!(&out[..16 + n], &body[..], "{n} bytes, table");
            assert_eq!(out[16 + n], 0xAA, "{n} bytes, table: wrote past the body");
            assert_eq!(crc, record_crc(n as u32, &body), "{n} bytes, table");
        }
    }
}
