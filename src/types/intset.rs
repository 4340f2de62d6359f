//! Redis's intset: a set of integers kept sorted, each stored at the
//! narrowest width (2, 4 or 8 bytes) that holds every member, found by
//! binary search.
//!
//! The set is one allocation of exactly its size: a width byte, then the
//! members, little-endian. Adding a member that needs a wider width
//! rewrites every member at the new width (Redis's `intsetUpgradeAndAdd`);
//! like Redis, the width never narrows again. Adding or removing a member
//! resizes the allocation by one member (a `realloc`, in place within the
//! allocator's size class) and moves the members after it, as Redis's
//! `intsetResize` and `memmove` do: O(N) per change, for sets kept small
//! by `set-max-intset-entries`.

/// The narrowest width, in bytes, that holds `n`.
fn width_of(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    /// Empty for no members; else the width, then the members.
    buf: Box<[u8]>,
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl IntSet {
    pub fn new() -> IntSet {
        IntSet::default()
    }

    /// The width every member is stored at (2 for an empty set, as Redis's
    /// `INTSET_ENC_INT16`).
    pub fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        match self.buf.len() {
            0 => 0,
            n => (n - 1) / self.width(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The member at sorted position `i` (which must be in range).
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = 1 + i * w;
        let b = &self.buf[at..at + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    /// Where `n` is (`Ok`) or would go (`Err`), by binary search.
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        // A member wider than the set's width cannot be in it.
        width_of(n) <= self.width() && self.search(n).is_ok()
    }

    /// Adds `n`; returns false if it was already there.
    pub fn insert(&mut self, n: i64) -> bool {
        let need = width_of(n);
        if need > self.width() || self.is_empty() {
            if self.contains(n) {
                return false;
            }
            self.rewrite_with(n, need.max(self.width()));
            return true;
        }
        let Err(pos) = self.search(n) else {
            return false;
        };
        let w = self.width();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(w);
        let at = 1 + pos * w;
        v.splice(at..at, n.to_le_bytes()[..w].iter().copied());
        self.buf = v.into_boxed_slice();
        true
    }

    /// Rebuilds the set at `width` with `n` added (a new member wider than
    /// the rest, or the first one).
    fn rewrite_with(&mut self, n: i64, width: usize) {
        let mut members: Vec<i64> = self.iter().collect();
        let pos = members.partition_point(|&m| m < n);
        members.insert(pos, n);
        let mut v = Vec::with_capacity(1 + members.len() * width);
        v.push(width as u8);
        for m in members {
            v.extend_from_slice(&m.to_le_bytes()[..width]);
        }
        self.buf = v.into_boxed_slice();
    }

    /// Removes `n`; returns false if it was not there.
    pub fn remove(&mut self, n: i64) -> bool {
        if width_of(n) > self.width() {
            return false;
        }
        let Ok(pos) = self.search(n) else {
            return false;
        };
        if self.len() == 1 {
            // Redis keeps the width of an emptied intset; an empty set is
            // deleted by its command anyway, so nothing can observe it.
            self.buf = Box::default();
            return true;
        }
        let w = self.width();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        let at = 1 + pos * w;
        v.drain(at..at + w);
        self.buf = v.into_boxed_slice();
        true
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The size Redis's intset of the same members has: an 8-byte header
    /// and the members at this width (Redis never narrows either).
    pub fn redis_bytes(&self) -> usize {
        8 + self.width() * self.len()
    }

    /// The heap this set holds.
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn widths_grow_at_the_boundaries_and_never_narrow() {
        let mut s = IntSet::new();
        assert_eq!((s.len(), s.width()), (0, 2));
        for (n, width) in [
            (0, 2),
            (i16::MAX as i64, 2),
            (i16::MIN as i64, 2),
            (i16::MAX as i64 + 1, 4),
            (i32::MIN as i64, 4),
            (i32::MIN as i64 - 1, 8),
            (i64::MAX, 8),
            (i64::MIN, 8),
        ] {
            assert!(s.insert(n), "{n}");
            assert!(!s.insert(n), "{n} twice");
            assert_eq!(s.width(), width, "after {n}");
            assert!(s.contains(n));
        }
        assert_eq!(s.heap_bytes(), 1 + 8 * 8);
        assert_eq!(s.redis_bytes(), 8 + 8 * 8);
        for n in [i64::MIN, i64::MAX, i32::MIN as i64 - 1] {
            assert!(s.remove(n));
            assert!(!s.remove(n));
        }
        assert_eq!(s.width(), 8);
        let got: Vec<i64> = s.iter().collect();
        assert_eq!(
            got,
            [
                i32::MIN as i64,
                i16::MIN as i64,
                0,
                i16::MAX as i64,
                i16::MAX as i64 + 1
            ]
        );
    }

    #[test]
    fn a_wide_number_is_not_found_in_a_narrow_set() {
        let mut s = IntSet::new();
        s.insert(1);
        // 65537's low 16 bits are 1: a narrow compare must not match it.
        assert!(!s.contains(65_537));
        assert!(!s.remove(65_537));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn ten_small_members_take_21_bytes() {
        let mut s = IntSet::new();
        for n in 0..10 {
            s.insert(n * 1000);
        }
        assert_eq!(s.heap_bytes(), 21);
        assert_eq!(s.redis_bytes(), 28);
    }

    /// Random inserts and removes against a `BTreeSet`, across widths.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = crate::util::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next_u64();
        for round in 0..50 {
            let mut s = IntSet::new();
            let mut model = BTreeSet::new();
            for _ in 0..400 {
                let r = next();
                let n = match r % 4 {
                    0 => (r >> 8) as i64 % 100,
                    1 => (r >> 8) as i16 as i64,
                    2 if round % 2 == 0 => (r >> 8) as i32 as i64,
                    _ => (r >> 8) as i64,
                };
                if next() % 3 == 0 {
                    assert_eq!(s.remove(n), model.remove(&n), "remove {n}");
                } else {
                    assert_eq!(s.insert(n), model.insert(n), "insert {n}");
                }
                assert_eq!(s.len(), model.len());
            }
            assert!(s.iter().eq(model.iter().copied()));
            for &m in &model {
                assert!(s.contains(m));
            }
        }
    }
}
