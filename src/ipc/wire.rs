//! The records of a slot's two rings.
//!
//! ```text
//! order ring (algo → server), one record per OUCH inbound message:
//!   [trigger_md_seq u64 LE][OUCH inbound message]
//! response ring (server → algo), one record per message of the account's stream:
//!   [seq u64 LE][OUCH outbound message]
//! ```
//!
//! `trigger_md_seq` is the market-data sequence number (MoldUDP64 numbering: ring
//! position + 1) of the last ITCH message the algo had read when it decided to send,
//! 0 if none. It does not change what the server does with the order: it is the
//! measurement tag of tick-to-trade. `seq` is the
//! message's number in the account's sequenced stream, the number a SoupBinTCP
//! client would see in its Sequenced Data, so an algo that re-attaches asks for
//! `last seq + 1`. Both sides run on one host: the integers are little-endian.

use crate::proto::ouch::{EnterOrder, MAX_INBOUND_LEN, MAX_OUTBOUND_LEN};
use crate::ring::spsc::SLOT_HEADER_BYTES;

/// Bytes of the header in front of each OUCH message on the order ring.
///
/// NB: 8, so that an Enter Order without appendages (47 bytes) fits the slot's first
/// cache line with the ring's 8-byte slot header (63 bytes): the server's read of an
/// order is then one line transfer, like the floor, not two. With a second 8-byte tag
/// (the algo's send TSC, unused by the server) the record was 71 bytes and the order
/// hop measured 216–224 ns p50 against a one-way line transfer of ≈ 130 ns.
pub const ORDER_HEADER_BYTES: usize = 8;
/// Bytes of the header in front of each OUCH message on the response ring.
pub const RESPONSE_HEADER_BYTES: usize = 8;

/// Slot size of both rings of a session slot: holds the longest OUCH message of
/// either direction with its header, rounded up to whole cache lines (192 bytes; an
/// Enter Order without appendages touches the first line only).
pub const SLOT_RING_SLOT_BYTES: usize = {
    let inbound = ORDER_HEADER_BYTES + MAX_INBOUND_LEN;
    let outbound = RESPONSE_HEADER_BYTES + MAX_OUTBOUND_LEN;
    let record = if inbound > outbound {
        inbound
    } else {
        outbound
    };
    (SLOT_HEADER_BYTES + record).next_multiple_of(64)
};

const _: () = assert!(SLOT_RING_SLOT_BYTES == 192);
const _: () = assert!(SLOT_HEADER_BYTES + ORDER_HEADER_BYTES + ENTER_ORDER_LEN <= 64);

/// Bytes of an Enter Order without appendages: type, fields, appendage length.
const ENTER_ORDER_LEN: usize = 1 + EnterOrder::FIELDS_LEN + 2;

/// The session layer's order hook (`Sessions::set_algo_order_hook`): `(session,
/// header, arrival TSC)` of each order-ring record that names a trigger tick.
pub type AlgoOrderHook = Box<dyn FnMut(u16, OrderHeader, u64)>;

/// The measurement tag in front of an order-ring message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderHeader {
    /// Market-data sequence number of the last ITCH message read (0 = none).
    pub trigger_md_seq: u64,
}

impl OrderHeader {
    /// Writes the header into the first [`ORDER_HEADER_BYTES`] of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than the header (a programmer error).
    #[inline]
    pub fn encode(&self, buf: &mut [u8]) {
        buf[..8].copy_from_slice(&self.trigger_md_seq.to_le_bytes());
    }

    /// Splits an order-ring record into its header and OUCH message; `None` if the
    /// record is shorter than the header (a broken peer).
    #[inline]
    pub fn decode(record: &[u8]) -> Option<(Self, &[u8])> {
        let (head, msg) = record.split_at_checked(ORDER_HEADER_BYTES)?;
        let trigger_md_seq = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        Some((Self { trigger_md_seq }, msg))
    }
}

/// Splits a response-ring record into its stream sequence number and OUCH message;
/// `None` if the record is shorter than the header.
///
/// ```
/// use tickgate::ipc::wire::decode_response;
/// let mut rec = 7u64.to_le_bytes().to_vec();
/// rec.extend_from_slice(b"A...");
/// assert_eq!(decode_response(&rec), Some((7, &b"A..."[..])));
/// ```
#[inline]
pub fn decode_response(record: &[u8]) -> Option<(u64, &[u8])> {
    let (head, msg) = record.split_at_checked(RESPONSE_HEADER_BYTES)?;
    Some((u64::from_le_bytes(head.try_into().expect("8 bytes")), msg))
}

/// Writes a response record (`seq`, then `msg`) into `buf`, which must be exactly
/// `RESPONSE_HEADER_BYTES + msg.len()` long.
#[inline]
pub fn encode_response(seq: u64, msg: &[u8], buf: &mut [u8]) {
    buf[..RESPONSE_HEADER_BYTES].copy_from_slice(&seq.to_le_bytes());
    buf[RESPONSE_HEADER_BYTES..].copy_from_slice(msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_header_round_trips_and_short_records_are_refused() {
        let h = OrderHeader { trigger_md_seq: 42 };
        let mut rec = [0u8; 12];
        h.encode(&mut rec);
        rec[8..].copy_from_slice(b"Oxyz");
        assert_eq!(OrderHeader::decode(&rec), Some((h, &b"Oxyz"[..])));
        assert_eq!(OrderHeader::decode(&rec[..7]), None);
        assert_eq!(decode_response(&rec[..7]), None);
    }
}
