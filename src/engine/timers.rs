//! GTT expiries: an indexed binary min-heap keyed by (expire time, order number), with
//! each order's heap position stored beside the pool so removal is O(log n) and
//! capacity equals the pool's (never grows).

use super::orders::NIL;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    expire_ns: u64,
    order_number: u64,
    slot: u32,
}

/// Pending expiries of live GTT orders.
#[derive(Debug, Clone)]
pub(crate) struct Timers {
    heap: Vec<Entry>,
    /// Heap position of each pool slot, or `NIL`.
    pos: Vec<u32>,
}

impl Timers {
    /// Room for one timer per pool slot.
    pub fn new(slots: u32) -> Self {
        Timers {
            heap: Vec::with_capacity(slots as usize),
            pos: vec![NIL; slots as usize],
        }
    }

    /// Arms (or re-arms) slot's expiry.
    pub fn insert(&mut self, slot: u32, expire_ns: u64, order_number: u64) {
        self.remove(slot);
        let e = Entry {
            expire_ns,
            order_number,
            slot,
        };
        self.heap.push(e);
        let i = self.heap.len() - 1;
        self.pos[slot as usize] = i as u32;
        self.sift_up(i);
    }

    /// Disarms slot's expiry, if armed.
    pub fn remove(&mut self, slot: u32) {
        let i = self.pos[slot as usize];
        if i == NIL {
            return;
        }
        self.pos[slot as usize] = NIL;
        let last = self.heap.len() - 1;
        let i = i as usize;
        if i != last {
            self.heap.swap(i, last);
            self.heap.pop();
            self.pos[self.heap[i].slot as usize] = i as u32;
            self.sift_down(i);
            self.sift_up(i);
        } else {
            self.heap.pop();
        }
    }

    /// The slot of the earliest timer due at `now_ns`, if any (not removed).
    #[inline]
    pub fn due(&self, now_ns: u64) -> Option<u32> {
        let top = self.heap.first()?;
        (top.expire_ns <= now_ns).then_some(top.slot)
    }

    /// The expire time armed for slot, if any.
    pub fn expiry(&self, slot: u32) -> Option<u64> {
        let p = *self.pos.get(slot as usize)?;
        self.heap.get(p as usize).map(|e| e.expire_ns)
    }

    /// Whether slot has a timer.
    #[cfg(test)]
    pub fn armed(&self, slot: u32) -> bool {
        self.pos.get(slot as usize).is_some_and(|&p| p != NIL)
    }

    /// Number of armed timers.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent] <= self.heap[i] {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < self.heap.len() && self.heap[l] < self.heap[m] {
                m = l;
            }
            if r < self.heap.len() && self.heap[r] < self.heap[m] {
                m = r;
            }
            if m == i {
                break;
            }
            self.swap(i, m);
            i = m;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].slot as usize] = a as u32;
        self.pos[self.heap[b].slot as usize] = b as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_expire_then_order_number_order_and_removes_anywhere() {
        let mut t = Timers::new(8);
        t.insert(0, 50, 1);
        t.insert(1, 10, 2);
        t.insert(2, 10, 1);
        t.insert(3, 30, 4);
        t.remove(0);
        let mut seen = vec![];
        while let Some(s) = t.due(40) {
            seen.push(s);
            t.remove(s);
        }
        assert_eq!(seen, vec![2, 1, 3]);
        assert_eq!(t.len(), 0);
        assert!(!t.armed(0));
    }
}
