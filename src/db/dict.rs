//! A chained hash table with incremental rehashing and a resize-safe scan
//! cursor, after Redis's `dict.c`.
//!
//! Why not `std::collections::HashMap`: growing a std map rehashes every
//! entry at once, which at 8M keys pauses the single-threaded loop for tens
//! of milliseconds, and it offers no cursor that survives a resize. Here a
//! resize allocates the new bucket array (zeroed lazily by the kernel) and
//! then moves one bucket per operation, plus a bounded slice of time from the
//! server's cron, while lookups consult both tables. SCAN uses Redis's
//! reverse-binary cursor, so every key present for a whole scan is returned
//! at least once even if the table grows or shrinks in between.

use crate::util::Rng;

/// Buckets a rehash step may skip over when they are empty, so one step
/// stays O(1) even in a sparse table.
const EMPTY_VISITS_PER_STEP: usize = 10;
/// The smallest non-empty table.
const INITIAL_BUCKETS: usize = 4;

/// The most key bytes a node holds inline.
pub const KEY_INLINE_CAP: usize = 19;

/// A node's key and 24 bits its owner keeps beside it, in 24 bytes. The
/// keyspace keeps each key's access stamp there (Redis's 24-bit `lru`
/// field): outside the value, the stamp would take 8 more bytes per key
/// (a 24-byte value and a 4-byte stamp pad to 32), and a key's node would
/// be 64 bytes instead of 56. Short keys live inside the node, so a small
/// key costs one allocation.
#[derive(Clone)]
enum NodeKey {
    Inline {
        len: u8,
        buf: [u8; KEY_INLINE_CAP],
        aux: [u8; 3],
    },
    Heap {
        aux: [u8; 3],
        bytes: Box<[u8]>,
    },
}

impl NodeKey {
    fn new(key: &[u8], aux: u32) -> NodeKey {
        let aux = aux_bytes(aux);
        if key.len() <= KEY_INLINE_CAP {
            let mut buf = [0u8; KEY_INLINE_CAP];
            buf[..key.len()].copy_from_slice(key);
            NodeKey::Inline {
                len: key.len() as u8,
                buf,
                aux,
            }
        } else {
            NodeKey::Heap {
                aux,
                bytes: key.into(),
            }
        }
    }

    fn aux_mut(&mut self) -> &mut [u8; 3] {
        match self {
            NodeKey::Inline { aux, .. } | NodeKey::Heap { aux, .. } => aux,
        }
    }

    fn aux(&self) -> u32 {
        match self {
            NodeKey::Inline { aux, .. } | NodeKey::Heap { aux, .. } => aux_value(*aux),
        }
    }
}

impl std::ops::Deref for NodeKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            NodeKey::Inline { len, buf, .. } => &buf[..*len as usize],
            NodeKey::Heap { bytes, .. } => bytes,
        }
    }
}

/// The low 24 bits of `n`, as a node keeps them.
fn aux_bytes(n: u32) -> [u8; 3] {
    let b = n.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn aux_value(b: [u8; 3]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

/// A node's owner bits, to read and change in place.
pub struct Aux<'a>(&'a mut [u8; 3]);

impl Aux<'_> {
    pub fn get(&self) -> u32 {
        aux_value(*self.0)
    }

    /// Keeps the low 24 bits of `n`.
    pub fn set(&mut self, n: u32) {
        *self.0 = aux_bytes(n);
    }
}

/// One entry.
struct Node<V> {
    next: Option<Box<Node<V>>>,
    key: NodeKey,
    value: V,
}

struct Table<V> {
    buckets: Vec<Option<Box<Node<V>>>>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Table<V> {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }

    fn with_buckets(n: usize) -> Table<V> {
        Table {
            buckets: zeroed_buckets(n),
            used: 0,
        }
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<&Node<V>> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[hash as usize & self.mask()].as_deref();
        while let Some(node) = cur {
            if *node.key == *key {
                return Some(node);
            }
            cur = node.next.as_deref();
        }
        None
    }

    fn find_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Node<V>> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut cur = self.buckets[hash as usize & mask].as_deref_mut();
        while let Some(node) = cur {
            if *node.key == *key {
                return Some(node);
            }
            cur = node.next.as_deref_mut();
        }
        None
    }

    fn unlink(&mut self, hash: u64, key: &[u8]) -> Option<Box<Node<V>>> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut link = &mut self.buckets[hash as usize & mask];
        while link.as_ref().is_some_and(|n| *n.key != *key) {
            link = match link {
                Some(node) => &mut node.next,
                None => unreachable!("checked by the loop condition"),
            };
        }
        let mut node = link.take()?;
        *link = node.next.take();
        self.used -= 1;
        Some(node)
    }
}

/// Allocates `n` empty buckets as zeroed memory. For a large table the
/// allocator hands back fresh pages that the kernel zeroes on first touch,
/// so creating a 16M-bucket table is O(1) instead of a 128 MB write that
/// would stall the loop; the pages are touched bit by bit as the rehash
/// fills them.
fn zeroed_buckets<V>(n: usize) -> Vec<Option<Box<Node<V>>>> {
    if n == 0 {
        return Vec::new();
    }
    let layout = match std::alloc::Layout::array::<Option<Box<Node<V>>>>(n) {
        Ok(l) => l,
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<u8>()),
    };
    // SAFETY: `Option<Box<T>>` is guaranteed to have the layout of a
    // nullable pointer with `None` as null, so zeroed memory holds `n` valid
    // `None`s. The pointer comes from the global allocator with exactly the
    // layout `Vec` will free it with (capacity `n` of this element type).
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut Option<Box<Node<V>>>;
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(ptr, n, n)
    }
}

/// A cache hint; it never faults, whatever the address.
#[inline(always)]
fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only hints the cache; it reads nothing the program
    // sees and cannot fault, even for an invalid address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// A hash table keyed by binary-safe byte strings.
pub struct Dict<V> {
    /// `tables[1]` is non-empty only while a rehash is in progress.
    tables: [Table<V>; 2],
    /// The next bucket of `tables[0]` to move, while rehashing.
    rehash_idx: Option<usize>,
    hasher: ahash::RandomState,
}

impl<V: Send + 'static> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<V: Clone + Send + 'static> Clone for Dict<V> {
    /// A copy with the same entries (COPY of a hash or set).
    fn clone(&self) -> Dict<V> {
        let mut copy = Dict::new();
        for (k, v) in self.iter() {
            copy.insert_new(k, v.clone());
        }
        copy
    }
}

impl<V> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dict(len {})", self.tables[0].used + self.tables[1].used)
    }
}

impl<V: Send + 'static> Dict<V> {
    pub fn new() -> Dict<V> {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: None,
            hasher: ahash::RandomState::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets across both tables (for INFO and MEMORY).
    pub fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Moves up to `n` buckets from the old table to the new one. Returns
    /// true while the rehash is still in progress.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * EMPTY_VISITS_PER_STEP;
        let mut moved = 0;
        while moved < n && self.tables[0].used > 0 {
            while self.tables[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.tables[0].buckets[idx].take();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let h = self.hash(&node.key) as usize & self.tables[1].mask();
                node.next = self.tables[1].buckets[h].take();
                self.tables[1].buckets[h] = Some(node);
                self.tables[0].used -= 1;
                self.tables[1].used += 1;
            }
            idx += 1;
            moved += 1;
        }
        if self.tables[0].used == 0 {
            let old = std::mem::replace(&mut self.tables[0], Table::empty());
            self.tables[0] = std::mem::replace(&mut self.tables[1], Table::empty());
            self.rehash_idx = None;
            // The old bucket array can be hundreds of megabytes; returning
            // its pages to the OS is done off the loop.
            crate::lazyfree::drop_later(old.buckets);
            false
        } else {
            self.rehash_idx = Some(idx);
            true
        }
    }

    /// Rehashes for up to `budget`, in batches of 100 buckets. Returns true
    /// while the rehash is still in progress.
    pub fn rehash_for(&mut self, budget: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        while self.rehash_steps(100) {
            if start.elapsed() >= budget {
                return true;
            }
        }
        false
    }

    fn step_if_rehashing(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash_steps(1);
        }
    }

    /// Starts a rehash into a table of `buckets` (a power of two).
    fn start_rehash(&mut self, buckets: usize) {
        if self.tables[0].buckets.is_empty() {
            self.tables[0] = Table::with_buckets(buckets);
            return;
        }
        self.tables[1] = Table::with_buckets(buckets);
        self.rehash_idx = Some(0);
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let t0 = &self.tables[0];
        if t0.buckets.is_empty() {
            self.start_rehash(INITIAL_BUCKETS);
        } else if t0.used >= t0.buckets.len() {
            self.start_rehash((t0.used + 1).next_power_of_two());
        }
    }

    /// Starts shrinking when fewer than 10% of the buckets are used, as
    /// Redis's cron does. The move itself is incremental.
    pub fn shrink_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].buckets.len();
        let used = self.tables[0].used;
        if size > INITIAL_BUCKETS && used * 100 / size < 10 {
            self.start_rehash(used.max(INITIAL_BUCKETS).next_power_of_two());
        }
    }

    /// Starts loading the bucket slot `key` hashes to into the cache. The
    /// first of two prefetch steps for a batch of lookups: issued for every
    /// key of a pipeline before any is looked up, so their cache misses
    /// overlap instead of queueing.
    pub fn prefetch_slot(&self, key: &[u8]) {
        let h = self.hash(key) as usize;
        for t in &self.tables {
            if let Some(slot) = t.buckets.get(h & t.mask()) {
                prefetch(slot as *const _);
            }
        }
    }

    /// Starts loading the first node of `key`'s chain: the second prefetch
    /// step, once the slot is (likely) in cache.
    pub fn prefetch_head(&self, key: &[u8]) {
        let h = self.hash(key) as usize;
        for t in &self.tables {
            if let Some(Some(node)) = t.buckets.get(h & t.mask()) {
                // A 56-byte node mostly spans two cache lines: ask for the
                // line of its last byte too.
                let first = &**node as *const Node<V> as *const u8;
                prefetch(first);
                prefetch(first.wrapping_add(std::mem::size_of::<Node<V>>() - 1));
            }
        }
    }

    /// The node of `key`, in whichever table holds it.
    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.tables[0]
            .find(h, key)
            .or_else(|| self.tables[1].find(h, key))
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.get_mut_with_aux(key).map(|(v, _)| v)
    }

    /// The value of `key` and its node's owner bits.
    pub fn get_mut_with_aux(&mut self, key: &[u8]) -> Option<(&mut V, Aux<'_>)> {
        if self.is_empty() {
            return None;
        }
        self.step_if_rehashing();
        let h = self.hash(key);
        let [t0, t1] = &mut self.tables;
        let node = match t0.find_mut(h, key) {
            Some(n) => n,
            None => t1.find_mut(h, key)?,
        };
        Some((&mut node.value, Aux(node.key.aux_mut())))
    }

    /// The owner bits of `key`'s node.
    pub fn aux_of(&self, key: &[u8]) -> Option<u32> {
        self.find(key).map(|n| n.key.aux())
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(key, value);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], value: V) {
        self.insert_new_with_aux(key, value, 0);
    }

    /// Inserts a key known to be absent, with its node's owner bits.
    pub fn insert_new_with_aux(&mut self, key: &[u8], value: V, aux: u32) {
        // Every write moves the rehash along, so a table filled only through
        // here still finishes growing (and can grow again).
        self.step_if_rehashing();
        self.expand_if_needed();
        let h = self.hash(key);
        let key = NodeKey::new(key, aux);
        let table = if self.rehash_idx.is_some() {
            &mut self.tables[1]
        } else {
            &mut self.tables[0]
        };
        let idx = h as usize & table.mask();
        let next = table.buckets[idx].take();
        table.buckets[idx] = Some(Box::new(Node { key, value, next }));
        table.used += 1;
    }

    /// Returns the value for `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        if !self.contains_key(key) {
            self.insert_new(key, make());
        }
        let h = self.hash(key);
        let [t0, t1] = &mut self.tables;
        match t0.find_mut(h, key) {
            Some(n) => &mut n.value,
            None => match t1.find_mut(h, key) {
                Some(n) => &mut n.value,
                None => unreachable!("key inserted above"),
            },
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.remove_with_aux(key).map(|(v, _)| v)
    }

    /// Removes `key`, returning its value and its node's owner bits.
    pub fn remove_with_aux(&mut self, key: &[u8]) -> Option<(V, u32)> {
        if self.is_empty() {
            return None;
        }
        self.step_if_rehashing();
        let h = self.hash(key);
        let node = match self.tables[0].unlink(h, key) {
            Some(n) => n,
            None => self.tables[1].unlink(h, key)?,
        };
        let Node { key, value, .. } = *node;
        Some((value, key.aux()))
    }

    /// Takes every entry out, leaving an empty dict, and returns the old
    /// contents as a value the caller can drop (or hand to lazyfree).
    pub fn take(&mut self) -> Dict<V> {
        std::mem::take(self)
    }

    /// One step of Redis's SCAN: calls `f` for every entry in the bucket(s)
    /// under `cursor` and returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let emit = |t: &Table<V>, idx: usize, f: &mut dyn FnMut(&[u8], &V)| {
            let mut cur = t.buckets[idx].as_deref();
            while let Some(n) = cur {
                f(&n.key, &n.value);
                cur = n.next.as_deref();
            }
        };
        if self.rehash_idx.is_none() {
            let t0 = &self.tables[0];
            let m0 = t0.mask() as u64;
            emit(t0, (v & m0) as usize, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, big) = if self.tables[0].buckets.len() <= self.tables[1].buckets.len() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let m0 = small.mask() as u64;
            let m1 = big.mask() as u64;
            emit(small, (v & m0) as usize, &mut f);
            loop {
                emit(big, (v & m1) as usize, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// A random entry, uniformly: pick a random bucket and a random position
    /// below `FAIR_CHAIN`, and retry when that position is empty. Every entry
    /// then has the same chance per try (picking a random element of a random
    /// non-empty bucket would favour entries in short chains). A chain longer
    /// than `FAIR_CHAIN`, which a random hash makes vanishingly rare, is
    /// sampled within its own length.
    pub fn random_entry(&self, rng: &mut Rng) -> Option<(&[u8], &V)> {
        const FAIR_CHAIN: u64 = 16;
        if self.is_empty() {
            return None;
        }
        let (t0, t1) = (&self.tables[0], &self.tables[1]);
        // Buckets below the rehash index in the old table are already empty.
        let start = self.rehash_idx.unwrap_or(0);
        let span = (t0.buckets.len() - start + t1.buckets.len()) as u64;
        loop {
            let i = start + rng.below(span) as usize;
            let bucket = if i < t0.buckets.len() {
                &t0.buckets[i]
            } else {
                &t1.buckets[i - t0.buckets.len()]
            };
            let Some(head) = bucket.as_deref() else {
                continue;
            };
            let mut chain_len = 0u64;
            let mut cur = Some(head);
            while let Some(n) = cur {
                chain_len += 1;
                cur = n.next.as_deref();
            }
            let mut pick = rng.below(FAIR_CHAIN.max(chain_len));
            if pick >= chain_len {
                continue;
            }
            let mut node = head;
            while pick > 0 {
                node = node.next.as_deref()?;
                pick -= 1;
            }
            return Some((&node.key, &node.value));
        }
    }

    /// Every entry, in table order. O(n): only for commands that are O(n) in
    /// Redis too (KEYS) and for tests.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.tables.iter().flat_map(|t| {
            t.buckets.iter().flat_map(|b| {
                let mut cur = b.as_deref();
                std::iter::from_fn(move || {
                    let n = cur?;
                    cur = n.next.as_deref();
                    Some((&*n.key, &n.value))
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_key_and_its_bits_take_24_bytes() {
        assert_eq!(std::mem::size_of::<NodeKey>(), 24);
        assert_eq!(std::mem::size_of::<Node<[u64; 3]>>(), 56);
        let mut d: Dict<u8> = Dict::new();
        for len in [0, KEY_INLINE_CAP, KEY_INLINE_CAP + 1, 100] {
            let key = vec![b'k'; len];
            d.insert_new_with_aux(&key, 1, 0xAB_CDEF);
            assert_eq!(d.aux_of(&key), Some(0xAB_CDEF));
            let (v, mut aux) = d.get_mut_with_aux(&key).unwrap();
            *v = 2;
            aux.set(0x1FF_FFFF);
            assert_eq!(d.aux_of(&key), Some(0xFF_FFFF), "24 bits kept");
            assert_eq!(d.remove_with_aux(&key), Some((2, 0xFF_FFFF)));
        }
    }
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove_across_rehash() {
        let mut d = Dict::new();
        for i in 0..10_000u32 {
            assert!(d.insert(format!("k{i}").as_bytes(), i).is_none());
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000u32 {
            assert_eq!(d.get(format!("k{i}").as_bytes()), Some(&i));
        }
        assert_eq!(d.insert(b"k5", 55), Some(5));
        for i in 0..9_990u32 {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        d.shrink_if_needed();
        while d.rehash_steps(100) {}
        assert!(d.buckets() <= 16);
        assert_eq!(d.get(b"k9999"), Some(&9999));
    }

    #[test]
    fn scan_returns_every_key_across_resizes() {
        let mut d = Dict::new();
        for i in 0..1000u32 {
            d.insert(format!("k{i}").as_bytes(), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            round += 1;
            // Grow the table mid-scan, then shrink it.
            if round == 50 {
                for i in 1000..5000u32 {
                    d.insert(format!("k{i}").as_bytes(), ());
                }
            }
            if round == 300 {
                for i in 1000..5000u32 {
                    d.remove(format!("k{i}").as_bytes());
                }
                d.shrink_if_needed();
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000u32 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missing k{i}");
        }
    }

    #[test]
    fn insert_new_alone_completes_rehashes() {
        let mut d = Dict::new();
        for i in 0..100_000u32 {
            d.insert_new(format!("k{i}").as_bytes(), ());
        }
        // Had the rehash stalled, the table would have stopped growing at the
        // first resize and its chains would be thousands long.
        assert!(d.buckets() >= 65_536, "buckets {}", d.buckets());
    }

    #[test]
    fn random_entry_is_uniform() {
        // Chains of different lengths must not skew the choice: a
        // chi-square test over 10 keys in a table with collisions.
        let mut d = Dict::new();
        for i in 0..10u32 {
            d.insert(format!("k{i}").as_bytes(), i as usize);
        }
        let mut rng = Rng::new(42);
        let draws = 50_000;
        let mut counts = [0f64; 10];
        for _ in 0..draws {
            counts[*d.random_entry(&mut rng).unwrap().1] += 1.0;
        }
        let expected = draws as f64 / 10.0;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        // The 99.9% critical value for 9 degrees of freedom.
        assert!(chi2 < 27.88, "chi-square {chi2} for {counts:?}");
    }

    #[test]
    fn random_entry_hits_everything() {
        let mut d = Dict::new();
        for i in 0..20u32 {
            d.insert(format!("k{i}").as_bytes(), i);
        }
        let mut rng = Rng::new(7);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            seen.insert(*d.random_entry(&mut rng).unwrap().1);
        }
        assert_eq!(seen.len(), 20);
    }
}
