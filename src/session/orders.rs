//! A session's open orders by UserRefNum: the OUCH name of an order → the core's
//! [`OrderRef`] handle, plus what the core does not echo (ClOrdID, Capacity, …).
//!
//! An entry is made when an Enter or Replace goes to the core (`order` is
//! [`OrderRef::NONE`] until its Accepted/Replaced comes back) and dropped when its
//! open shares reach 0 or it is rejected. Capacity is reserved up front; a full map
//! refuses new orders (Rejected, Processing Error) rather than grow.

use std::collections::HashMap;

use crate::engine::OrderRef;
use crate::proto::ouch::{Capacity, ClOrdId, CrossType, IntermarketSweepEligibility, Side};

/// What the session remembers about one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderInfo {
    /// The core's handle ([`OrderRef::NONE`] while the Enter/Replace is in flight).
    pub order: OrderRef,
    /// Open shares as last reported by the core.
    pub leaves: u32,
    /// Side as last accepted.
    pub side: Side,
    /// ClOrdID of the Enter or Replace.
    pub cl_ord_id: ClOrdId,
    /// Capacity of the Enter Order (echoed in Accepted / Replaced).
    pub capacity: Capacity,
    /// ISO eligibility as entered.
    pub iso: IntermarketSweepEligibility,
    /// CrossType as entered.
    pub cross_type: CrossType,
}

/// The map from (UserRefIdx, UserRefNum) to [`OrderInfo`].
#[derive(Debug)]
pub struct OrderMap {
    map: HashMap<u64, OrderInfo>,
    capacity: usize,
}

#[inline]
fn key(user_ref_idx: u8, user_ref_num: u32) -> u64 {
    (u64::from(user_ref_idx) << 32) | u64::from(user_ref_num)
}

impl OrderMap {
    /// A map for at most `capacity` open orders (allocated now).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::with_capacity(capacity),
            capacity,
        }
    }

    /// Orders tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no order is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Tracks a new order; `false` when the map is full (nothing changed).
    pub fn insert(&mut self, user_ref_idx: u8, user_ref_num: u32, info: OrderInfo) -> bool {
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(key(user_ref_idx, user_ref_num), info);
        true
    }

    /// The order named by a UserRefNum on a channel.
    pub fn get(&self, user_ref_idx: u8, user_ref_num: u32) -> Option<&OrderInfo> {
        self.map.get(&key(user_ref_idx, user_ref_num))
    }

    /// Mutable access to an order.
    pub fn get_mut(&mut self, user_ref_idx: u8, user_ref_num: u32) -> Option<&mut OrderInfo> {
        self.map.get_mut(&key(user_ref_idx, user_ref_num))
    }

    /// Forgets an order.
    pub fn remove(&mut self, user_ref_idx: u8, user_ref_num: u32) -> Option<OrderInfo> {
        self.map.remove(&key(user_ref_idx, user_ref_num))
    }

    /// Forgets the order named by (idx, urn) if it is still waiting for the core's
    /// first answer (a placeholder); `true` if it was.
    pub fn remove_in_flight(&mut self, user_ref_idx: u8, user_ref_num: u32) -> bool {
        let k = key(user_ref_idx, user_ref_num);
        let in_flight = self.map.get(&k).is_some_and(|i| i.order == OrderRef::NONE);
        if in_flight {
            self.map.remove(&k);
        }
        in_flight
    }

    /// Forgets the orders still waiting for the core's first answer (after a
    /// journal replay: their commands never reached the journal).
    pub fn forget_in_flight(&mut self) {
        self.map.retain(|_, info| info.order != OrderRef::NONE);
    }

    /// Subtracts `qty` open shares; forgets the order when none are left.
    pub fn reduce(&mut self, user_ref_idx: u8, user_ref_num: u32, qty: u32) {
        let k = key(user_ref_idx, user_ref_num);
        if let Some(info) = self.map.get_mut(&k) {
            info.leaves = info.leaves.saturating_sub(qty);
            if info.leaves == 0 {
                self.map.remove(&k);
            }
        }
    }
}
