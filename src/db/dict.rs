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
//!
//! Where `dict.c` allocates each entry and chains them by pointer, nodes
//! here live in one dense arena and chains link them by 4-byte index: a
//! bucket takes 4 bytes instead of 8, and a node no allocation of its own.
//! At 100,000 keys that is 5 bytes per key less than Redis's bucket array,
//! which matters most where values are small (a 10-field hash is 160 bytes).

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

/// A link to a node: its arena index plus one, or `NIL`. Zero as "none"
/// lets a new bucket array be zeroed memory, which the kernel fills in
/// lazily.
type Link = u32;
const NIL: Link = 0;

/// One entry. `hash` keeps the low 31 bits of the key's hash, all that a
/// table of at most 2^31 buckets uses: a rehash moves nodes between tables
/// without hashing a key again, and a lookup compares key bytes only where
/// the hashes match. Its top bit is the snapshot mark ([`SNAPSHOT_MARK`]).
/// With a 4-byte link it takes the space that a chain pointer took.
struct Node<V> {
    next: Link,
    hash: u32,
    key: NodeKey,
    value: V,
}

/// The bit of a node's `hash` that says whether the snapshot in progress
/// has written it: it has when the bit equals the dict's `epoch`. Starting
/// a snapshot flips the epoch, which makes every node unwritten at once;
/// nodes added later get the new epoch, so a snapshot never sees them.
const SNAPSHOT_MARK: u32 = 1 << 31;
/// The bits of `hash` that are the key's hash.
const HASH_BITS: u32 = !SNAPSHOT_MARK;
/// The largest bucket array: bucket indexes come from 31 hash bits.
const MAX_BUCKETS: usize = 1 << 31;

/// Nodes a full arena page holds (as a power of two: an index splits into
/// page and slot by shifting).
const PAGE_SHIFT: u32 = 12;
const PAGE_NODES: usize = 1 << PAGE_SHIFT;
/// The capacity a new page starts with.
const FIRST_PAGE_NODES: usize = 4;

/// Every node of a dict, packed densely: node `i` is slot `i % PAGE_NODES`
/// of page `i / PAGE_NODES`, every page but the last is full, and removing
/// a node moves the last node into its place. So nodes cost no allocation
/// of their own, memory follows the number of entries (the last page grows
/// and shrinks by a quarter, not by doubling), and a chain link is 4 bytes.
/// A node's address changes when it moves, which no caller can see: every
/// reference into the dict borrows it.
struct Arena<V> {
    pages: Vec<Vec<Node<V>>>,
    len: usize,
}

impl<V> Arena<V> {
    fn new() -> Arena<V> {
        Arena {
            pages: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn at(&self, link: Link) -> &Node<V> {
        let i = link as usize - 1;
        &self.pages[i >> PAGE_SHIFT][i & (PAGE_NODES - 1)]
    }

    #[inline]
    fn at_mut(&mut self, link: Link) -> &mut Node<V> {
        let i = link as usize - 1;
        &mut self.pages[i >> PAGE_SHIFT][i & (PAGE_NODES - 1)]
    }

    /// Appends `node`; returns its link.
    fn push(&mut self, node: Node<V>) -> Link {
        // 2^32 - 1 entries take over 200 GB; past that a link cannot name
        // a node. Aborting beats corrupting the table.
        assert!(
            self.len < Link::MAX as usize,
            "a dict holds at most 2^32 - 1 entries"
        );
        if self.len.is_multiple_of(PAGE_NODES) {
            self.pages.push(Vec::with_capacity(FIRST_PAGE_NODES));
        }
        let Some(page) = self.pages.last_mut() else {
            unreachable!("a page was pushed above if none had room");
        };
        if page.len() == page.capacity() {
            let cap = page.capacity();
            let grown = (cap + cap / 4).clamp(FIRST_PAGE_NODES, PAGE_NODES);
            page.reserve_exact(grown - cap);
        }
        page.push(node);
        self.len += 1;
        self.len as Link
    }

    /// The link of the last node (the one a removal moves).
    fn last(&self) -> Link {
        self.len as Link
    }

    /// Removes the node at `link`, moving the last node into its place.
    /// The caller has already re-pointed the last node's link to `link`.
    fn swap_remove(&mut self, link: Link) -> Node<V> {
        let Some(page) = self.pages.last_mut() else {
            unreachable!("removing from an empty arena");
        };
        let Some(last) = page.pop() else {
            unreachable!("the last page is never empty");
        };
        if page.is_empty() {
            self.pages.pop();
        } else if page.capacity() > FIRST_PAGE_NODES && page.len() * 2 <= page.capacity() {
            // Half empty: keep a quarter's room, so that growing again
            // does not reallocate at once.
            let keep = page.len() + page.len() / 4;
            page.shrink_to(keep.max(FIRST_PAGE_NODES));
        }
        self.len -= 1;
        if link as usize == self.len + 1 {
            last
        } else {
            std::mem::replace(self.at_mut(link), last)
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Node<V>> {
        self.pages.iter().flat_map(|page| page.iter())
    }
}

/// One bucket array: heads of chains of nodes in the dict's arena.
struct Table {
    buckets: Vec<Link>,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }

    /// `n` empty buckets. `vec![0; n]` allocates zeroed memory: for a large
    /// table the allocator hands back fresh pages that the kernel zeroes
    /// on first touch, so creating a 16M-bucket table is O(1) instead of a
    /// 64 MB write that would stall the loop; the pages are touched bit by
    /// bit as the rehash fills them.
    fn with_buckets(n: usize) -> Table {
        Table {
            buckets: vec![NIL; n],
            used: 0,
        }
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The first node of the chain `hash` falls in, or `NIL`.
    fn head(&self, hash: u32) -> Link {
        match self.buckets.get(hash as usize & self.mask()) {
            Some(&link) => link,
            None => NIL,
        }
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
    tables: [Table; 2],
    nodes: Arena<V>,
    /// The next bucket of `tables[0]` to move, while rehashing.
    rehash_idx: Option<usize>,
    hasher: ahash::RandomState,
    /// The snapshot mark of a written node (see [`SNAPSHOT_MARK`]).
    epoch: bool,
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
        write!(f, "Dict(len {})", self.nodes.len)
    }
}

impl<V: Send + 'static> Dict<V> {
    pub fn new() -> Dict<V> {
        Dict {
            tables: [Table::empty(), Table::empty()],
            nodes: Arena::new(),
            rehash_idx: None,
            hasher: ahash::RandomState::new(),
            epoch: false,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets across both tables (for INFO and MEMORY).
    pub fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// The memory the table itself takes: both bucket arrays and the
    /// node arena, as allocated (O(entries / 4096), one step per page).
    pub fn table_bytes(&self) -> usize {
        let buckets: usize = self.tables.iter().map(|t| t.buckets.capacity()).sum();
        let pages = &self.nodes.pages;
        let nodes: usize = pages.iter().map(Vec::capacity).sum();
        buckets * std::mem::size_of::<Link>()
            + nodes * std::mem::size_of::<Node<V>>()
            + pages.capacity() * std::mem::size_of::<Vec<Node<V>>>()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    fn hash(&self, key: &[u8]) -> u32 {
        self.hasher.hash_one(key) as u32 & HASH_BITS
    }

    /// Moves up to `n` buckets from the old table to the new one. Returns
    /// true while the rehash is still in progress.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * EMPTY_VISITS_PER_STEP;
        let mut moved = 0;
        let [t0, t1] = &mut self.tables;
        let mask1 = t1.mask();
        while moved < n && t0.used > 0 {
            while t0.buckets[idx] == NIL {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut cur = std::mem::replace(&mut t0.buckets[idx], NIL);
            while cur != NIL {
                let node = self.nodes.at_mut(cur);
                let next = node.next;
                let slot = &mut t1.buckets[(node.hash & HASH_BITS) as usize & mask1];
                node.next = *slot;
                *slot = cur;
                t0.used -= 1;
                t1.used += 1;
                cur = next;
            }
            idx += 1;
            moved += 1;
        }
        if t0.used == 0 {
            let old = std::mem::replace(t0, Table::empty());
            std::mem::swap(t0, t1);
            self.rehash_idx = None;
            // The old bucket array can be tens of megabytes; returning its
            // pages to the OS is done off the loop.
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
            self.start_rehash((t0.used + 1).next_power_of_two().min(MAX_BUCKETS));
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
        let h = self.hash(key);
        for t in &self.tables {
            let link = t.head(h);
            if link != NIL {
                // A 56-byte node mostly spans two cache lines: ask for the
                // line of its last byte too.
                let first = self.nodes.at(link) as *const Node<V> as *const u8;
                prefetch(first);
                prefetch(first.wrapping_add(std::mem::size_of::<Node<V>>() - 1));
            }
        }
    }

    /// The link of `key`'s node, in whichever table holds it.
    fn find(&self, key: &[u8]) -> Option<Link> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in &self.tables {
            let mut cur = t.head(h);
            while cur != NIL {
                let node = self.nodes.at(cur);
                if node.hash & HASH_BITS == h && *node.key == *key {
                    return Some(cur);
                }
                cur = node.next;
            }
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|link| &self.nodes.at(link).value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.get_mut_with_aux(key).map(|(v, _)| v)
    }

    /// The value of `key` and its node's owner bits.
    pub fn get_mut_with_aux(&mut self, key: &[u8]) -> Option<(&mut V, Aux<'_>)> {
        self.step_if_rehashing();
        let node = self.nodes.at_mut(self.find(key)?);
        Some((&mut node.value, Aux(node.key.aux_mut())))
    }

    /// The owner bits of `key`'s node.
    pub fn aux_of(&self, key: &[u8]) -> Option<u32> {
        self.find(key).map(|link| self.nodes.at(link).key.aux())
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
        let hash = self.hash(key);
        let table = if self.rehash_idx.is_some() {
            &mut self.tables[1]
        } else {
            &mut self.tables[0]
        };
        let b = hash as usize & table.mask();
        let mark = if self.epoch { SNAPSHOT_MARK } else { 0 };
        table.buckets[b] = self.nodes.push(Node {
            next: table.buckets[b],
            hash: hash | mark,
            key: NodeKey::new(key, aux),
            value,
        });
        table.used += 1;
    }

    /// Returns the value for `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let link = match self.find(key) {
            Some(link) => link,
            None => {
                self.insert_new(key, make());
                self.nodes.last()
            }
        };
        &mut self.nodes.at_mut(link).value
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.remove_with_aux(key).map(|(v, _)| v)
    }

    /// Removes `key`, returning its value and its node's owner bits.
    pub fn remove_with_aux(&mut self, key: &[u8]) -> Option<(V, u32)> {
        self.remove_moving(key).map(|(v, aux, _)| (v, aux))
    }

    /// Removes `key`, returning its value, its node's owner bits, and the
    /// arena index the last node moved into to fill the gap, if one did.
    /// A snapshot walking the arena by index must see that node where it
    /// went.
    pub fn remove_moving(&mut self, key: &[u8]) -> Option<(V, u32, Option<usize>)> {
        if self.is_empty() {
            return None;
        }
        self.step_if_rehashing();
        let h = self.hash(key);
        let link = match self.unlink(0, h, key) {
            Some(link) => link,
            None => self.unlink(1, h, key)?,
        };
        let last = self.nodes.last();
        let moved = (link != last).then(|| {
            self.repoint(last, link);
            link as usize - 1
        });
        let Node { key, value, .. } = self.nodes.swap_remove(link);
        Some((value, key.aux(), moved))
    }

    /// Starts a snapshot: every node becomes unwritten (see
    /// [`SNAPSHOT_MARK`]). The caller must have walked the previous
    /// snapshot to its end, so that every node was written then.
    pub fn begin_snapshot(&mut self) {
        self.epoch = !self.epoch;
    }

    /// The node at arena index `i`, if the snapshot has not written it
    /// yet; it counts as written from now on.
    pub fn visit_at(&mut self, i: usize) -> Option<(&[u8], &V, u32)> {
        if i >= self.len() {
            return None;
        }
        let epoch = self.epoch;
        let node = self.nodes.at_mut(i as Link + 1);
        let written = (node.hash & SNAPSHOT_MARK != 0) == epoch;
        if written {
            return None;
        }
        node.hash ^= SNAPSHOT_MARK;
        Some((&node.key, &node.value, node.key.aux()))
    }

    /// `key`'s node, if the snapshot has not written it yet (as
    /// [`visit_at`](Self::visit_at)).
    pub fn visit(&mut self, key: &[u8]) -> Option<(&[u8], &V, u32)> {
        let link = self.find(key)?;
        self.visit_at(link as usize - 1)
    }

    /// Takes `key`'s node out of its chain in `tables[t]`; returns its link.
    fn unlink(&mut self, t: usize, hash: u32, key: &[u8]) -> Option<Link> {
        let table = &mut self.tables[t];
        let b = hash as usize & table.mask();
        let mut prev = NIL;
        let mut cur = table.head(hash);
        while cur != NIL {
            let node = self.nodes.at(cur);
            let next = node.next;
            if node.hash & HASH_BITS == hash && *node.key == *key {
                match prev {
                    NIL => table.buckets[b] = next,
                    prev => self.nodes.at_mut(prev).next = next,
                }
                table.used -= 1;
                return Some(cur);
            }
            prev = cur;
            cur = next;
        }
        None
    }

    /// Makes whatever links to node `from` (a bucket or the node before it
    /// in its chain) link to `to` instead, before the arena moves it there.
    fn repoint(&mut self, from: Link, to: Link) {
        let hash = self.nodes.at(from).hash & HASH_BITS;
        for table in &mut self.tables {
            if table.buckets.is_empty() {
                continue;
            }
            let b = hash as usize & table.mask();
            if table.buckets[b] == from {
                table.buckets[b] = to;
                return;
            }
            let mut cur = table.buckets[b];
            while cur != NIL {
                let node = self.nodes.at_mut(cur);
                if node.next == from {
                    node.next = to;
                    return;
                }
                cur = node.next;
            }
        }
        unreachable!("every node in the arena is in a chain");
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
        let emit = |t: &Table, idx: usize, f: &mut dyn FnMut(&[u8], &V)| {
            let mut cur = t.buckets[idx];
            while cur != NIL {
                let node = self.nodes.at(cur);
                f(&node.key, &node.value);
                cur = node.next;
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

    /// A random entry, uniformly: the arena is dense, so a random index
    /// is one.
    pub fn random_entry(&self, rng: &mut Rng) -> Option<(&[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        let node = self.nodes.at(rng.below(self.len() as u64) as Link + 1);
        Some((&node.key, &node.value))
    }

    /// A random entry with its node's owner bits, uniformly.
    pub fn random_entry_with_aux(&self, rng: &mut Rng) -> Option<(&[u8], &V, u32)> {
        if self.is_empty() {
            return None;
        }
        let node = self.nodes.at(rng.below(self.len() as u64) as Link + 1);
        Some((&node.key, &node.value, node.key.aux()))
    }

    /// Every entry with its node's owner bits, in arena order (a snapshot
    /// writes each key's access stamp).
    pub fn iter_with_aux(&self) -> impl Iterator<Item = (&[u8], &V, u32)> {
        self.nodes
            .iter()
            .map(|node| (&*node.key, &node.value, node.key.aux()))
    }

    /// Every entry, in arena order. O(n): only for commands that are O(n)
    /// in Redis too (KEYS) and for tests.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.nodes.iter().map(|node| (&*node.key, &node.value))
    }

    /// DEBUG HTSTATS's text for this table, as Redis's `dictGetStats`
    /// writes it: the main table's chain lengths, then the rehash target's
    /// while a rehash is in progress. O(buckets), as in Redis.
    pub fn stats(&self) -> String {
        let mut out = self.table_stats(0);
        if self.is_rehashing() {
            out.push_str(&self.table_stats(1));
        }
        // Redis writes into a 4 KB buffer and cuts what does not fit.
        let mut end = out.len().min(STATS_MAX_BYTES - 1);
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out
    }

    fn table_stats(&self, index: usize) -> String {
        let which = match index {
            0 => "main hash table",
            _ => "rehashing target",
        };
        let table = &self.tables[index];
        if table.used == 0 {
            return format!(
                "Hash table {index} stats ({which}):\nNo stats available for empty dictionaries\n"
            );
        }
        // How many buckets have chains of each length; the last counts
        // every longer chain.
        let mut by_len = [0usize; STATS_CHAIN_LENGTHS];
        let (mut slots, mut max_len, mut total_len) = (0usize, 0usize, 0usize);
        for &head in &table.buckets {
            let mut len = 0;
            let mut link = head;
            while link != NIL {
                len += 1;
                link = self.nodes.at(link).next;
            }
            by_len[len.min(STATS_CHAIN_LENGTHS - 1)] += 1;
            if len > 0 {
                slots += 1;
                max_len = max_len.max(len);
                total_len += len;
            }
        }
        // Redis divides in `float` and prints with "%.02f".
        let size = table.buckets.len();
        let mut out = format!(
            "Hash table {index} stats ({which}):\n table size: {size}\n number of elements: {}\n different slots: {slots}\n max chain length: {max_len}\n avg chain length (counted): {}\n avg chain length (computed): {}\n Chain length distribution:\n",
            table.used,
            crate::util::format_fixed2(f64::from(total_len as f32 / slots as f32)),
            crate::util::format_fixed2(f64::from(table.used as f32 / slots as f32)),
        );
        for (len, &n) in by_len.iter().enumerate().take(STATS_CHAIN_LENGTHS - 1) {
            if n != 0 {
                let pct = f64::from(n as f32 / size as f32 * 100.0);
                out.push_str(&format!(
                    "   {len}: {n} ({}%)\n",
                    crate::util::format_fixed2(pct)
                ));
            }
        }
        out
    }
}

/// Redis's `DICT_STATS_VECTLEN`: chain lengths counted one by one.
const STATS_CHAIN_LENGTHS: usize = 50;
/// The buffer Redis writes DEBUG HTSTATS's table text into.
const STATS_MAX_BYTES: usize = 4096;

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

    /// Random inserts, replaces and removals against std's map, over
    /// several arena pages and through growth and shrinking: removal moves
    /// the last node, and every chain must still reach every node.
    #[test]
    fn matches_a_model_through_moves_and_resizes() {
        let mut d = Dict::new();
        let mut model = std::collections::HashMap::new();
        let mut rng = Rng::new(1234);
        for round in 0..6 {
            // Grow past two pages, then shrink to a handful of keys.
            let (ops, keyspace, p_remove) = if round % 2 == 0 {
                (30_000, 12_000, 20)
            } else {
                (40_000, 12_000, 90)
            };
            for _ in 0..ops {
                let key = format!("key{}", rng.below(keyspace));
                if rng.below(100) < p_remove {
                    assert_eq!(d.remove(key.as_bytes()), model.remove(&key));
                } else {
                    let v = rng.below(1000);
                    assert_eq!(d.insert(key.as_bytes(), v), model.insert(key, v));
                }
                if rng.below(1000) == 0 {
                    d.shrink_if_needed();
                }
            }
            assert_eq!(d.len(), model.len());
            for (k, v) in &model {
                assert_eq!(d.get(k.as_bytes()), Some(v), "{k}");
            }
            let mut seen = 0;
            for (k, v) in d.iter() {
                assert_eq!(model.get(std::str::from_utf8(k).unwrap()), Some(v));
                seen += 1;
            }
            assert_eq!(seen, model.len());
        }
        let keys: Vec<String> = model.keys().cloned().collect();
        for k in keys {
            assert_eq!(d.remove(k.as_bytes()), model.remove(&k));
        }
        assert!(d.is_empty() && d.nodes.pages.is_empty());
    }

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
