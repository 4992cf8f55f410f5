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
use crate::proto::wire::Alpha;

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
///
/// Two tiers. In front, a direct-mapped *window* of [`WINDOW`] entries indexed by the
/// UserRefNum's low bits: a client numbers its orders upward, so the orders it has just
/// sent sit in neighbouring entries on lines the session layer touched a moment ago,
/// and an Enter → Accepted → fill costs no hashing and no cold line. Behind it, a
/// SipHash `HashMap` (keyed at random per process, so crafted UserRefNums cannot
/// flood it) holds the orders pushed out of the window by a newer one with the same
/// low bits — long-resting orders. A key lives in exactly one tier: its window entry,
/// or the map. The worst case an adversarial numbering can force is one map insert per
/// order, what every order cost before the window.
#[derive(Debug)]
pub struct OrderMap {
    window: Box<[Entry]>,
    /// Occupied window entries.
    in_window: usize,
    map: HashMap<u64, OrderInfo>,
    capacity: usize,
}

/// Entries in the direct-mapped window (40 bytes each: 40 KiB per account).
pub const WINDOW: usize = 1024;

/// A window entry; `key == EMPTY` when free.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u64,
    info: OrderInfo,
}

/// No (UserRefIdx, UserRefNum) packs to this (the index has 8 bits).
const EMPTY: u64 = u64::MAX;

#[inline]
fn key(user_ref_idx: u8, user_ref_num: u32) -> u64 {
    (u64::from(user_ref_idx) << 32) | u64::from(user_ref_num)
}

/// The window entry of a key: consecutive UserRefNums of a channel are neighbours;
/// channels are spread by their index.
#[inline]
fn slot(key: u64) -> usize {
    let urn = key as u32 as usize;
    let idx = (key >> 32) as usize;
    (urn ^ idx.wrapping_mul(97)) & (WINDOW - 1)
}

impl OrderMap {
    /// A map for at most `capacity` open orders (allocated now).
    pub fn new(capacity: usize) -> Self {
        let free = Entry {
            key: EMPTY,
            info: OrderInfo {
                order: OrderRef::NONE,
                leaves: 0,
                side: Side::Buy,
                cl_ord_id: Alpha([b' '; 14]),
                capacity: Capacity::Agency,
                iso: IntermarketSweepEligibility::NotEligible,
                cross_type: CrossType::ContinuousMarket,
            },
        };
        let mut m = Self {
            window: vec![free; WINDOW].into_boxed_slice(),
            in_window: 0,
            // Room for every order, so moving one out of the window never grows it.
            map: HashMap::with_capacity(capacity),
            capacity,
        };
        m.prefault(free.info);
        m
    }

    /// Fills the map to its capacity once and empties it, so every page of its table
    /// is mapped now rather than faulted in (≈ 1–3 µs each on this VM) by the first
    /// orders of the day. Keys `0..capacity` with UserRefIdx 0 land on random buckets
    /// (SipHash), about half the table, which touches every page with near certainty.
    fn prefault(&mut self, info: OrderInfo) {
        for k in 0..self.capacity as u64 {
            self.map.insert(k, info);
        }
        self.map.clear();
    }

    /// Orders tracked.
    pub fn len(&self) -> usize {
        self.in_window + self.map.len()
    }

    /// Whether no order is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tracks a new order (or replaces what the key named); `false` when the map is
    /// full (nothing changed).
    #[inline]
    pub fn insert(&mut self, user_ref_idx: u8, user_ref_num: u32, info: OrderInfo) -> bool {
        if self.len() >= self.capacity {
            return false;
        }
        let k = key(user_ref_idx, user_ref_num);
        let e = &mut self.window[slot(k)];
        if e.key != k {
            // The key may have been pushed out of this entry earlier: one tier only.
            if !self.map.is_empty() {
                self.map.remove(&k);
            }
            if e.key == EMPTY {
                self.in_window += 1;
            } else {
                self.map.insert(e.key, e.info);
            }
            e.key = k;
        }
        e.info = info;
        true
    }

    /// The order named by a UserRefNum on a channel.
    #[inline]
    pub fn get(&self, user_ref_idx: u8, user_ref_num: u32) -> Option<&OrderInfo> {
        let k = key(user_ref_idx, user_ref_num);
        let e = &self.window[slot(k)];
        if e.key == k {
            return Some(&e.info);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.get(&k)
    }

    /// Mutable access to an order.
    #[inline]
    pub fn get_mut(&mut self, user_ref_idx: u8, user_ref_num: u32) -> Option<&mut OrderInfo> {
        let k = key(user_ref_idx, user_ref_num);
        let e = &mut self.window[slot(k)];
        if e.key == k {
            return Some(&mut e.info);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.get_mut(&k)
    }

    /// Forgets an order.
    pub fn remove(&mut self, user_ref_idx: u8, user_ref_num: u32) -> Option<OrderInfo> {
        let k = key(user_ref_idx, user_ref_num);
        let e = &mut self.window[slot(k)];
        if e.key == k {
            e.key = EMPTY;
            self.in_window -= 1;
            return Some(e.info);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.remove(&k)
    }

    /// Forgets the order named by (idx, urn) if it is still waiting for the core's
    /// first answer (a placeholder); `true` if it was.
    pub fn remove_in_flight(&mut self, user_ref_idx: u8, user_ref_num: u32) -> bool {
        let in_flight = self
            .get(user_ref_idx, user_ref_num)
            .is_some_and(|i| i.order == OrderRef::NONE);
        if in_flight {
            self.remove(user_ref_idx, user_ref_num);
        }
        in_flight
    }

    /// Forgets the orders still waiting for the core's first answer (after a
    /// journal replay: their commands never reached the journal).
    pub fn forget_in_flight(&mut self) {
        for e in self.window.iter_mut() {
            if e.key != EMPTY && e.info.order == OrderRef::NONE {
                e.key = EMPTY;
                self.in_window -= 1;
            }
        }
        self.map.retain(|_, info| info.order != OrderRef::NONE);
    }

    /// Subtracts `qty` open shares; forgets the order when none are left.
    #[inline]
    pub fn reduce(&mut self, user_ref_idx: u8, user_ref_num: u32, qty: u32) {
        let k = key(user_ref_idx, user_ref_num);
        let e = &mut self.window[slot(k)];
        if e.key == k {
            e.info.leaves = e.info.leaves.saturating_sub(qty);
            if e.info.leaves == 0 {
                e.key = EMPTY;
                self.in_window -= 1;
            }
            return;
        }
        if self.map.is_empty() {
            return;
        }
        if let Some(info) = self.map.get_mut(&k) {
            info.leaves = info.leaves.saturating_sub(qty);
            if info.leaves == 0 {
                self.map.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: u64) -> OrderInfo {
        OrderInfo {
            order: OrderRef(n),
            leaves: 100,
            side: Side::Buy,
            cl_ord_id: Alpha([b' '; 14]),
            capacity: Capacity::Agency,
            iso: IntermarketSweepEligibility::NotEligible,
            cross_type: CrossType::ContinuousMarket,
        }
    }

    /// The two tiers behave as one map: a model `HashMap` checked after every step,
    /// with UserRefNums that collide in the window on purpose.
    #[test]
    fn window_and_map_behave_as_one_map() {
        let mut m = OrderMap::new(5000);
        let mut model: HashMap<(u8, u32), OrderInfo> = HashMap::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let idx = (x % 3) as u8;
            // Few distinct low bits: many keys share a window entry.
            let urn = ((x >> 8) % 4096) as u32 * if x & 1 == 0 { 1 } else { WINDOW as u32 };
            match (x >> 40) % 6 {
                0 | 1 => {
                    let ok = m.insert(idx, urn, info(step));
                    if model.len() < 5000 {
                        assert!(ok);
                        model.insert((idx, urn), info(step));
                    } else {
                        assert!(!ok);
                    }
                }
                2 => assert_eq!(m.remove(idx, urn), model.remove(&(idx, urn))),
                3 => {
                    m.reduce(idx, urn, 40);
                    if let Some(i) = model.get_mut(&(idx, urn)) {
                        i.leaves = i.leaves.saturating_sub(40);
                        if i.leaves == 0 {
                            model.remove(&(idx, urn));
                        }
                    }
                }
                4 => {
                    if let Some(i) = m.get_mut(idx, urn) {
                        i.order = OrderRef::NONE;
                    }
                    if let Some(i) = model.get_mut(&(idx, urn)) {
                        i.order = OrderRef::NONE;
                    }
                }
                _ => {
                    let was = model
                        .get(&(idx, urn))
                        .is_some_and(|i| i.order == OrderRef::NONE);
                    if was {
                        model.remove(&(idx, urn));
                    }
                    assert_eq!(m.remove_in_flight(idx, urn), was);
                }
            }
            assert_eq!(m.get(idx, urn), model.get(&(idx, urn)));
            assert_eq!(m.len(), model.len());
        }
        m.forget_in_flight();
        model.retain(|_, i| i.order != OrderRef::NONE);
        assert_eq!(m.len(), model.len());
        for (&(idx, urn), i) in &model {
            assert_eq!(m.get(idx, urn), Some(i));
        }
    }

    #[test]
    fn a_full_map_refuses_and_keeps_what_it_has() {
        let mut m = OrderMap::new(3);
        for urn in 1..=3 {
            assert!(m.insert(0, urn * WINDOW as u32, info(urn.into())));
        }
        assert!(!m.insert(0, 7, info(7)));
        assert_eq!(m.len(), 3);
        for urn in 1..=3 {
            assert_eq!(m.get(0, urn * WINDOW as u32), Some(&info(urn.into())));
        }
    }
}
