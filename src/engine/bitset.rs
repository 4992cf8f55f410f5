//! A two-level bitmap of occupied price levels: finds the next best level in a few
//! word scans however sparse the book is.

/// Occupancy bitmap over `0..len` with a summary word per 64 words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LevelBits {
    words: Vec<u64>,
    summary: Vec<u64>,
}

impl LevelBits {
    /// All clear, for `len` levels.
    pub fn new(len: u32) -> Self {
        let words = (len as usize).div_ceil(64).max(1);
        LevelBits {
            words: vec![0; words],
            summary: vec![0; words.div_ceil(64)],
        }
    }

    /// Marks level `i` occupied.
    #[inline]
    pub fn set(&mut self, i: u32) {
        let w = (i / 64) as usize;
        self.words[w] |= 1 << (i % 64);
        self.summary[w / 64] |= 1 << (w % 64);
    }

    /// Marks level `i` empty.
    #[inline]
    pub fn clear(&mut self, i: u32) {
        let w = (i / 64) as usize;
        self.words[w] &= !(1 << (i % 64));
        if self.words[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
    }

    /// Whether level `i` is occupied.
    #[inline]
    pub fn get(&self, i: u32) -> bool {
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Lowest occupied level `>= i`.
    pub fn next_at_or_after(&self, i: u32) -> Option<u32> {
        let w = (i / 64) as usize;
        let word = *self.words.get(w)? & (u64::MAX << (i % 64));
        if word != 0 {
            return Some((w * 64) as u32 + word.trailing_zeros());
        }
        let w = self.next_word(w + 1)?;
        Some((w * 64) as u32 + self.words[w].trailing_zeros())
    }

    /// Highest occupied level `<= i`.
    pub fn prev_at_or_before(&self, i: u32) -> Option<u32> {
        let w = ((i / 64) as usize).min(self.words.len() - 1);
        let bit = if (i / 64) as usize > w { 63 } else { i % 64 };
        let word = self.words[w] & (u64::MAX >> (63 - bit));
        if word != 0 {
            return Some((w * 64) as u32 + 63 - word.leading_zeros());
        }
        let w = self.prev_word(w.checked_sub(1)?)?;
        Some((w * 64) as u32 + 63 - self.words[w].leading_zeros())
    }

    /// First non-empty word index `>= w`.
    fn next_word(&self, w: usize) -> Option<usize> {
        let s = w / 64;
        let first = *self.summary.get(s)? & u64::MAX.checked_shl((w % 64) as u32).unwrap_or(0);
        if first != 0 {
            return Some(s * 64 + first.trailing_zeros() as usize);
        }
        let (k, word) = self
            .summary
            .iter()
            .enumerate()
            .skip(s + 1)
            .find(|(_, x)| **x != 0)?;
        Some(k * 64 + word.trailing_zeros() as usize)
    }

    /// Last non-empty word index `<= w`.
    fn prev_word(&self, w: usize) -> Option<usize> {
        let s = w / 64;
        let first = self.summary[s] & (u64::MAX >> (63 - (w % 64)));
        if first != 0 {
            return Some(s * 64 + 63 - first.leading_zeros() as usize);
        }
        let (k, word) = self.summary[..s]
            .iter()
            .enumerate()
            .rev()
            .find(|(_, x)| **x != 0)?;
        Some(k * 64 + 63 - word.leading_zeros() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_neighbours_across_words_and_summaries() {
        let mut b = LevelBits::new(10_000);
        for i in [3, 64, 4095, 4096, 9999] {
            b.set(i);
        }
        assert_eq!(b.next_at_or_after(0), Some(3));
        assert_eq!(b.next_at_or_after(4), Some(64));
        assert_eq!(b.next_at_or_after(65), Some(4095));
        assert_eq!(b.next_at_or_after(4097), Some(9999));
        assert_eq!(b.prev_at_or_before(9998), Some(4096));
        assert_eq!(b.prev_at_or_before(4095), Some(4095));
        assert_eq!(b.prev_at_or_before(63), Some(3));
        assert_eq!(b.prev_at_or_before(2), None);
        b.clear(4096);
        b.clear(4095);
        assert_eq!(b.next_at_or_after(65), Some(9999));
        assert_eq!(b.prev_at_or_before(9998), Some(64));
        assert!(b.get(3) && !b.get(4));
    }
}
