//! The session layer's input records to the core: a [`Command`] followed by an annex
//! of what the session layer must remember about it but the core does not need.
//!
//! The core journals every input record whole (see `docs/JOURNAL.md`), so the annex is
//! what lets a replay rebuild the session layer exactly: for Enter and Replace it holds
//! the OUCH fields the core does not echo (side as entered, ClOrdID, Capacity, ISO
//! eligibility, CrossType), which the Accepted / Replaced messages carry.
//!
//! ```text
//! 0        56                                     80
//! | Command | side | ClOrdID (14) | cap | iso | cross | 0… |
//! ```

use super::orders::OrderInfo;
use crate::engine::{Command, OrderRef, RECORD_BYTES};
use crate::proto::ouch::{Capacity, CrossType, IntermarketSweepEligibility, Side};
use crate::proto::wire::Alpha;

/// Bytes of the annex after the command.
pub const ANNEX_BYTES: usize = 24;

/// Bytes of one input record (command + annex): the command ring's record size.
pub const INPUT_RECORD_BYTES: usize = RECORD_BYTES + ANNEX_BYTES;

/// Annex marker: the annex holds an [`OrderInfo`].
const ORDER_INFO: u8 = b'I';

/// Writes `cmd` and, for an Enter/Replace, the order's `info` into `buf` (at least
/// [`INPUT_RECORD_BYTES`] long; a shorter one is left untouched and `false` returned).
#[unsafe(link_section = "tg_hot")]
pub fn encode(cmd: &Command, info: Option<&OrderInfo>, buf: &mut [u8]) -> bool {
    let Some(buf) = buf.get_mut(..INPUT_RECORD_BYTES) else {
        return false;
    };
    let (head, annex) = buf.split_at_mut(RECORD_BYTES);
    cmd.encode_into(head);
    annex.fill(0);
    if let Some(i) = info {
        annex[0] = ORDER_INFO;
        annex[1] = i.side.to_byte();
        annex[2..16].copy_from_slice(&i.cl_ord_id.0);
        annex[16] = i.capacity.to_byte();
        annex[17] = i.iso.to_byte();
        annex[18] = i.cross_type.to_byte();
    }
    true
}

/// The [`OrderInfo`] an input record's annex holds (as it was when the command went
/// to the core: no handle, no open shares yet), if any and well-formed.
pub fn order_info(record: &[u8]) -> Option<OrderInfo> {
    let annex = record.get(RECORD_BYTES..INPUT_RECORD_BYTES)?;
    if annex[0] != ORDER_INFO {
        return None;
    }
    let mut cl = [0u8; 14];
    cl.copy_from_slice(&annex[2..16]);
    Some(OrderInfo {
        order: OrderRef::NONE,
        leaves: 0,
        side: Side::from_byte(annex[1])?,
        cl_ord_id: Alpha(cl),
        capacity: Capacity::from_byte(annex[16])?,
        iso: IntermarketSweepEligibility::from_byte(annex[17])?,
        cross_type: CrossType::from_byte(annex[18])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::command::Tick;

    #[test]
    fn order_info_round_trips_and_other_records_have_none() {
        let info = OrderInfo {
            order: OrderRef::NONE,
            leaves: 0,
            side: Side::SellShort,
            cl_ord_id: Alpha::padded("CL-42"),
            capacity: Capacity::Principal,
            iso: IntermarketSweepEligibility::Eligible,
            cross_type: CrossType::Opening,
        };
        let cmd = Command::Tick(Tick { ts_ns: 7 });
        let mut buf = [0xAAu8; INPUT_RECORD_BYTES];
        assert!(encode(&cmd, Some(&info), &mut buf));
        assert_eq!(Command::decode(&buf).unwrap(), cmd);
        assert_eq!(order_info(&buf), Some(info));
        assert!(encode(&cmd, None, &mut buf));
        assert_eq!(order_info(&buf), None);
        assert_eq!(order_info(&buf[..RECORD_BYTES]), None);
        assert!(!encode(&cmd, None, &mut [0u8; RECORD_BYTES]));
    }
}
