//! Redis's intset: a set of integers kept sorted, each stored at the
//! narrowest width that holds every member, found by binary search.
//!
//! Redis's widths are 2, 4 and 8 bytes; here a width is any whole number
//! of bytes from 1 to 8, so the common sets of ids below 2^23 take 3 bytes
//! a member instead of 4. Redis's width follows from ours (the next of 2,
//! 4 or 8), so MEMORY USAGE reports Redis's figure and the RDB writer
//! widens each member as it goes.
//!
//! The set is one allocation of exactly its size: a 4-byte header (the
//! count and the width), then the members, little-endian. Adding a member
//! that needs a wider width rewrites every member at the new width (Redis's
//! `intsetUpgradeAndAdd`); like Redis, the width never narrows again.
//! Adding or removing a member resizes the allocation by one member (a
//! `realloc`, in place within the allocator's size class) and moves the
//! members after it, as Redis's `intsetResize` and `memmove` do: O(N) per
//! change, for sets kept small by `set-max-intset-entries`.

use std::ptr::NonNull;

use crate::types::thin;

/// The narrowest width, in bytes, that holds `n` in two's complement.
fn width_of(n: i64) -> usize {
    // The bits that differ from the sign, plus the sign bit.
    let bits = 64 - (n ^ (n >> 63)).leading_zeros() as usize + 1;
    bits.div_ceil(8)
}

/// The width Redis's intset would give members that need `width` bytes.
fn redis_width(width: usize) -> usize {
    match width {
        0..=2 => 2,
        3..=4 => 4,
        _ => 8,
    }
}

/// The header before the members: the count in the high 29 bits, the
/// width less one in the low 3.
const HEADER_BYTES: usize = 4;

/// The most members an intset keeps: its owner converts it to a table once
/// an insert takes it past this, so the header's 29 bits of count must hold
/// one more. (Redis's limit is 2^30; no set that large is small.)
pub const MAX_ENTRIES: usize = (1 << 29) - 2;

/// A set of integers in one exact-size allocation: the header, then the
/// members, little-endian. One pointer, so that the `Set` enum holding it
/// stays 16 bytes (see `types::thin`); an empty set allocates nothing.
#[derive(Default)]
pub struct IntSet {
    ptr: Option<NonNull<u8>>,
}

// SAFETY: an `IntSet` owns its allocation alone, like a `Box<[u8]>`.
unsafe impl Send for IntSet {}
// SAFETY: as above; `&IntSet` only reads.
unsafe impl Sync for IntSet {}

impl Drop for IntSet {
    fn drop(&mut self) {
        drop(self.take_vec());
    }
}

impl Clone for IntSet {
    fn clone(&self) -> IntSet {
        let mut copy = IntSet::new();
        copy.put_vec(self.bytes().to_vec());
        copy
    }
}

impl PartialEq for IntSet {
    fn eq(&self, other: &IntSet) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for IntSet {}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Reads a header: the count and the width.
fn read_header(b: &[u8]) -> (usize, usize) {
    let h = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    ((h >> 3) as usize, (h & 7) as usize + 1)
}

fn write_header(b: &mut [u8], count: usize, width: usize) {
    let h = (count as u32) << 3 | (width as u32 - 1);
    b[..HEADER_BYTES].copy_from_slice(&h.to_le_bytes());
}

impl IntSet {
    pub fn new() -> IntSet {
        IntSet::default()
    }

    /// The whole allocation: header and members (empty for no members).
    fn bytes(&self) -> &[u8] {
        let Some(ptr) = self.ptr else {
            return &[];
        };
        // SAFETY: `ptr` points to this set's allocation, whose first
        // bytes are the header, and whose size the header gives.
        unsafe {
            let head = std::slice::from_raw_parts(ptr.as_ptr(), HEADER_BYTES);
            let (count, width) = read_header(head);
            std::slice::from_raw_parts(ptr.as_ptr(), HEADER_BYTES + count * width)
        }
    }

    /// Gives up the allocation as a `Vec`, leaving the set empty.
    fn take_vec(&mut self) -> Vec<u8> {
        let len = self.bytes().len();
        match self.ptr.take() {
            // SAFETY: the pointer came from `thin::into_raw` of a box of
            // `len` bytes, and `take` leaves nothing else owning it.
            Some(ptr) => unsafe { thin::from_raw(ptr, len) }.into_vec(),
            None => Vec::new(),
        }
    }

    /// Takes `v` (a header and the members it counts) as the set's
    /// allocation, exactly sized; no members frees it.
    fn put_vec(&mut self, v: Vec<u8>) {
        debug_assert!(self.ptr.is_none());
        if v.len() > HEADER_BYTES {
            self.ptr = Some(thin::into_raw(v.into_boxed_slice()));
        }
    }

    /// The width every member is stored at (1 for an empty set).
    pub fn width(&self) -> usize {
        match self.bytes() {
            [] => 1,
            b => read_header(b).1,
        }
    }

    pub fn len(&self) -> usize {
        match self.bytes() {
            [] => 0,
            b => read_header(b).0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ptr.is_none()
    }

    /// The member at sorted position `i` (which must be in range).
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = HEADER_BYTES + i * w;
        let mut le = [0u8; 8];
        le[..w].copy_from_slice(&self.bytes()[at..at + w]);
        // Sign-extends from the member's top byte.
        let shift = 64 - 8 * w as u32;
        (i64::from_le_bytes(le) << shift) >> shift
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
        let (w, count) = (self.width(), self.len());
        let mut v = self.take_vec();
        v.reserve_exact(w);
        let at = HEADER_BYTES + pos * w;
        v.splice(at..at, n.to_le_bytes()[..w].iter().copied());
        write_header(&mut v, count + 1, w);
        self.put_vec(v);
        true
    }

    /// Rebuilds the set at `width` with `n` added (a new member wider than
    /// the rest, or the first one).
    fn rewrite_with(&mut self, n: i64, width: usize) {
        let mut members: Vec<i64> = self.iter().collect();
        let pos = members.partition_point(|&m| m < n);
        members.insert(pos, n);
        let mut v = vec![0; HEADER_BYTES];
        v.reserve_exact(members.len() * width);
        write_header(&mut v, members.len(), width);
        for m in members {
            v.extend_from_slice(&m.to_le_bytes()[..width]);
        }
        drop(self.take_vec());
        self.put_vec(v);
    }

    /// Removes `n`; returns false if it was not there.
    pub fn remove(&mut self, n: i64) -> bool {
        if width_of(n) > self.width() {
            return false;
        }
        let Ok(pos) = self.search(n) else {
            return false;
        };
        // Redis keeps the width of an emptied intset; an empty set is
        // deleted by its command anyway, so nothing can observe that this
        // one frees its allocation instead.
        let (w, count) = (self.width(), self.len());
        let mut v = self.take_vec();
        let at = HEADER_BYTES + pos * w;
        v.drain(at..at + w);
        write_header(&mut v, count - 1, w);
        self.put_vec(v);
        true
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The size Redis's intset of the same members has: an 8-byte header
    /// and the members at its width for ours (neither ever narrows, so
    /// both follow the widest member the set has held).
    pub fn redis_bytes(&self) -> usize {
        8 + redis_width(self.width()) * self.len()
    }

    /// Appends Redis's intset of these members (what RDB and DUMP hold):
    /// the encoding (2, 4 or 8 bytes per member), the count, then the
    /// sorted members, all little-endian.
    pub fn put_redis_intset(&self, out: &mut Vec<u8>) {
        let width = redis_width(self.width());
        out.extend_from_slice(&(width as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        for n in self.iter() {
            out.extend_from_slice(&n.to_le_bytes()[..width]);
        }
    }

    /// The heap this set holds.
    pub fn heap_bytes(&self) -> usize {
        self.bytes().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn widths_grow_at_the_boundaries_and_never_narrow() {
        let mut s = IntSet::new();
        assert_eq!((s.len(), s.width()), (0, 1));
        // Each member, the width after it, and Redis's width for that.
        let steps: [(i64, usize, usize); 14] = [
            (0, 1, 2),
            (127, 1, 2),
            (-128, 1, 2),
            (128, 2, 2),
            (i16::MIN as i64, 2, 2),
            (i16::MAX as i64 + 1, 3, 4),
            (-(1 << 23), 3, 4),
            (1 << 23, 4, 4),
            (i32::MIN as i64, 4, 4),
            (i32::MIN as i64 - 1, 5, 8),
            (1 << 47, 7, 8),
            (-(1 << 55) - 1, 8, 8),
            (i64::MAX, 8, 8),
            (i64::MIN, 8, 8),
        ];
        for (n, width, redis) in steps {
            assert!(s.insert(n), "{n}");
            assert!(!s.insert(n), "{n} twice");
            assert_eq!(s.width(), width, "after {n}");
            assert_eq!(redis_width(s.width()), redis, "after {n}");
            assert!(s.contains(n));
        }
        assert_eq!(s.heap_bytes(), 4 + 8 * steps.len());
        assert_eq!(s.redis_bytes(), 8 + 8 * steps.len());
        for (n, ..) in &steps[9..] {
            assert!(s.remove(*n));
            assert!(!s.remove(*n));
        }
        assert_eq!(s.width(), 8);
        let got: Vec<i64> = s.iter().collect();
        let mut want: Vec<i64> = steps[..9].iter().map(|s| s.0).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn every_width_boundary_round_trips() {
        for w in 1..=8u32 {
            let max = if w == 8 {
                i64::MAX
            } else {
                (1i64 << (8 * w - 1)) - 1
            };
            let min = -max - 1;
            assert_eq!(width_of(max), w as usize, "{max}");
            assert_eq!(width_of(min), w as usize, "{min}");
            if w < 8 {
                assert_eq!(width_of(max + 1), w as usize + 1);
                assert_eq!(width_of(min - 1), w as usize + 1);
            }
            let mut s = IntSet::new();
            for n in [min, -1, 0, 1, max] {
                s.insert(n);
            }
            assert_eq!(s.iter().collect::<Vec<_>>(), [min, -1, 0, 1, max]);
        }
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
    fn ten_ids_below_a_million_take_34_bytes() {
        let mut s = IntSet::new();
        for n in 0..10 {
            s.insert(n * 99_999);
        }
        assert_eq!(s.heap_bytes(), 4 + 10 * 3);
        assert_eq!(s.redis_bytes(), 8 + 10 * 4);
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
                let n = match r % 5 {
                    0 => (r >> 8) as i64 % 100,
                    1 => (r >> 8) as i16 as i64,
                    2 if round % 2 == 0 => (r >> 8) as i32 as i64,
                    // Every width from 1 to 8 bytes, each sign.
                    3 => ((r >> 8) as i64) >> (round % 57),
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
