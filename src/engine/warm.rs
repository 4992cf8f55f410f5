//! A read-only entry point for `serve`'s warm pass (`docs/LATENCY.md` § The warm
//! pass): what an Enter reads first, read through the engine's own functions, with
//! nothing changed.

use super::command::Enter;
use super::enter::Params;
use super::orders::{NIL, prefetch};
use super::state::Engine;

impl Engine {
    /// Reads, without changing anything, what processing the Enter `c` reads first:
    /// its channel's UserRefNum mark, the instrument and its checks (the engine's own
    /// `validate`), the book's crossing level, and (prefetched) the pool slot and the
    /// session-list link an acceptance would take. Returns a word folded from what it
    /// read, for the caller to keep alive (`black_box`). Never panics.
    pub fn warm_enter(&self, c: &Enter) -> u64 {
        let Some(ch) = self.channel(c.session, c.user_ref_idx) else {
            return 0;
        };
        let mut word = u64::from(self.hwm[ch]) ^ self.next_order_number;
        let Some(book) = self.books.get(usize::from(c.instrument)) else {
            return word;
        };
        let p = Params::of_enter(c);
        word ^= match self.validate(c.instrument, &p) {
            Ok(spec) => u64::from(
                book.crossing_level(c.side.is_buy(), spec.level)
                    .unwrap_or(NIL),
            ),
            Err(reason) => reason as u64,
        };
        let free = self.pool.next_free() as usize;
        if let (Some(o), Some(l)) = (self.pool.orders.get(free), self.pool.sess.get(free)) {
            prefetch(o);
            prefetch(l);
        }
        if let Some(&tail) = self.sess_tail.get(usize::from(c.session))
            && let Some(l) = self.pool.sess.get(tail as usize)
        {
            prefetch(l);
        }
        word
    }
}
