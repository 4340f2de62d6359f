//! An order-statistics B+tree: the ordered index of a large sorted set.
//!
//! Entries are `(score, member)` pairs ordered by score, then by member
//! bytes (Redis's `sdscmp`: memcmp, then shorter first). Members are
//! distinct; the sorted set keeps a member-to-score map beside the tree, so
//! the tree answers only questions of order: rank, the entry at a rank,
//! where a range starts, and the entries from there on.
//!
//! # Why a B+tree and not Redis's skiplist
//!
//! Memory. A skiplist node holds the score, a pointer to the member, a back
//! pointer and 16 bytes per level (4/3 levels on average), in an
//! allocation of its own: about 48 bytes once the allocator has rounded
//! it, and the member is another allocation. Here an entry is 32 bytes
//! (the score and a [`SmallBytes`], which keeps members of up to 22 bytes
//! inline) stored side by side with its neighbours in a leaf, and the tree
//! adds 1.5 to 4.5 bytes per entry when built by inserts (see the tests). Scans read leaves front
//! to back instead of chasing a pointer per entry.
//!
//! # Layout
//!
//! A leaf is a `Vec<Entry>`, held directly in its parent's array of
//! children: one allocation per leaf, and no box around it. An inner node
//! keeps three arrays side by side: its children, the number of entries
//! under each child (the order statistics: rank, `get` and `count_while`
//! add up counts instead of visiting subtrees), and a separator per child
//! but the first: an exact copy of that child's first entry. A search
//! compares against the separators and never leaves the node it is in.
//!
//! The separators are exact, not mere bounds, so that `count_while` calls
//! its predicate only on entries the tree holds: the caller's predicate
//! needs to be monotone over the entries, not over every possible key.
//! Keeping them exact costs little: an entry's removal changes a separator
//! only when it was the first of its leaf, and then the new first is copied
//! into the one ancestor that holds it.
//!
//! The root is always an inner node (held inline in [`Tree`]); an empty
//! tree's root has no children, and a small tree's root has one leaf.
//!
//! # Capacity
//!
//! Every array grows through the allocator's size classes (four per
//! doubling, as in mimalloc and jemalloc: 1024, 1280, 1536, 1792, 2048
//! bytes, ...), one class at a time, and is reallocated smaller when it has
//! shrunk well below its class. Fixed-capacity leaves would cost their full
//! size whatever their fill, and random insertion leaves B-tree nodes about
//! 70% full: 46 bytes per 32-byte entry. Growing by a class keeps the slack
//! to a fraction of one class step, and asks for what the allocator would
//! round the request up to anyway. Shrinking allocates a fresh array rather
//! than calling `realloc`, because mimalloc's `realloc` keeps a block in
//! place when the new size is at least half the old, and the memory would
//! not be given back.
//!
//! # Splits and merges
//!
//! A full node splits in half, except when the new entry (or child) goes
//! past its end: then three quarters stay and a quarter moves, the new one
//! joining the smaller side. Ascending inserts (timestamps as scores, the
//! common case) thus leave nodes three quarters full behind them rather
//! than half full, and since every array is allocated to its size class,
//! such a node wastes nothing; only the parent's per-child overhead
//! (64 bytes) is spread over fewer entries than it would be in a full node.
//! Inserts before the start get the mirror image. Leaving the full node
//! whole and starting a new one with just the new entry would be fuller
//! still for a pure ascending run, but a descending run into the gap after
//! a full leaf would then leave a trail of one-entry leaves; splitting by
//! quarters keeps every node at least a quarter full whatever the order.
//!
//! A node that falls below a quarter full merges with a sibling when the
//! two fit in one node, and otherwise takes entries from it until the two
//! are even. A quarter rather than a half leaves room between the split and
//! the merge thresholds, so inserts and removals alternating at one spot do
//! not split and merge a node every time.
//!
//! `remove_range` descends along the range's two edges, drops the subtrees
//! between them whole (after showing each entry to the caller), and trims
//! the edge nodes: O(log N + M). Its edge nodes can be left with a single
//! child; the merge that fixes such a node then repairs the seam it leaves
//! inside the merged node, down to the leaves.

use std::cmp::Ordering;
use std::fmt;
use std::iter::FusedIterator;
use std::mem;

use crate::db::bytes::SmallBytes;

/// The most entries a leaf holds (2 KB). Measured at a million entries,
/// 32 costs a byte more per entry (the parent's 64 bytes per child spread
/// over fewer entries) and is no faster; 128 saves half a byte per entry
/// but an insert then moves 2 KB on average.
const LEAF_MAX_ENTRIES: usize = 64;
/// Below this a leaf merges with or borrows from a sibling.
const LEAF_MIN_ENTRIES: usize = LEAF_MAX_ENTRIES / 4;
/// The most children an inner node has: a million entries fit under three
/// levels of inner nodes (32 would need four, and was slower).
const INNER_MAX_KIDS: usize = 64;
/// Below this an inner node merges with or borrows from a sibling.
const INNER_MIN_KIDS: usize = INNER_MAX_KIDS / 4;

/// One element of the set: 32 bytes, with members of up to 22 bytes
/// inline.
#[derive(Clone)]
struct Entry {
    score: f64,
    member: SmallBytes,
}

impl Entry {
    fn new(score: f64, member: &[u8]) -> Entry {
        Entry {
            score,
            member: SmallBytes::new(member),
        }
    }

    /// A stand-in that owns nothing, for a moment's `mem::replace`.
    fn placeholder() -> Entry {
        Entry::new(0.0, b"")
    }

    /// This entry's place relative to the key `(score, member)`: the sorted
    /// set's order, by score (never NaN; -0.0 equals 0.0), then by member
    /// bytes. The member is looked at only when the scores are equal:
    /// reading it first (its inline-or-heap tag) would put a branch on every
    /// comparison.
    fn cmp_key(&self, score: f64, member: &[u8]) -> Ordering {
        if self.score < score {
            Ordering::Less
        } else if self.score > score {
            Ordering::Greater
        } else {
            self.member.as_slice().cmp(member)
        }
    }

    fn pair(&self) -> (f64, &[u8]) {
        (self.score, self.member.as_slice())
    }
}

/// The child of an inner node whose range holds the key: the number of
/// separators at or before it.
fn child_index(seps: &[Entry], score: f64, member: &[u8]) -> usize {
    seps.partition_point(|s| s.cmp_key(score, member) != Ordering::Greater)
}

#[derive(Clone, Default)]
struct Leaf {
    entries: Vec<Entry>,
}

#[derive(Clone, Default)]
struct Inner {
    /// `seps[j - 1]` is a copy of the first entry under `kids[j]`.
    seps: Vec<Entry>,
    /// `counts[j]` is the number of entries under `kids[j]`.
    counts: Vec<usize>,
    kids: Kids,
}

/// An inner node's children: all at one height, so all leaves or all
/// inner nodes.
#[derive(Clone)]
enum Kids {
    Leaves(Vec<Leaf>),
    Inners(Vec<Inner>),
}

impl Default for Kids {
    fn default() -> Kids {
        Kids::Leaves(Vec::new())
    }
}

/// What a node that had to split hands its parent: the new right sibling,
/// its first entry and its entry count.
struct Split<C> {
    sep: Entry,
    node: C,
    count: usize,
}

/// What leaves and inner nodes have in common, so that splitting, merging
/// and borrowing are written once for both.
trait Node: Sized {
    /// The most slots (entries or children) the node holds.
    const MAX: usize;
    /// The fewest slots a node other than the root keeps.
    const MIN: usize;

    /// Entries in a leaf, children in an inner node.
    fn slots(&self) -> usize;
    /// The node's first entry (the node is not empty).
    fn first(&self) -> &Entry;
    /// An inner node's children, of this type.
    fn wrap(kids: Vec<Self>) -> Kids;
    /// Appends the right sibling's slots; `sep` is its first entry.
    fn absorb(&mut self, sep: Entry, right: Self);
    /// Moves the first `n` slots of the right sibling to this node's end;
    /// `sep` is the parent's separator between the two. Returns the number
    /// of entries moved.
    fn take_front(&mut self, right: &mut Self, n: usize, sep: &mut Entry) -> usize;
    /// Moves this node's last `n` slots to the front of the right sibling.
    fn give_back(&mut self, right: &mut Self, n: usize, sep: &mut Entry) -> usize;
    /// Restores the minimum fill of the children, which a merge may have
    /// brought together with an underfull one among them.
    fn repair(&mut self);
    /// Removes entries `start..end`, showing each to `f`. (A child wholly in
    /// a range is not asked: its parent drops it.)
    fn remove_range<F: FnMut(&Entry)>(&mut self, start: usize, end: usize, f: &mut F);
    /// Shows every entry to `f`, in order.
    fn visit<F: FnMut(&Entry)>(&self, f: &mut F);
}

impl Node for Leaf {
    const MAX: usize = LEAF_MAX_ENTRIES;
    const MIN: usize = LEAF_MIN_ENTRIES;

    fn slots(&self) -> usize {
        self.entries.len()
    }

    fn first(&self) -> &Entry {
        &self.entries[0]
    }

    fn wrap(kids: Vec<Leaf>) -> Kids {
        Kids::Leaves(kids)
    }

    fn absorb(&mut self, _sep: Entry, right: Leaf) {
        concat(&mut self.entries, right.entries);
    }

    fn take_front(&mut self, right: &mut Leaf, n: usize, sep: &mut Entry) -> usize {
        make_room(&mut self.entries, n);
        self.entries.extend(right.entries.drain(..n));
        trim(&mut right.entries);
        *sep = right.first().clone();
        n
    }

    fn give_back(&mut self, right: &mut Leaf, n: usize, sep: &mut Entry) -> usize {
        let at = self.entries.len() - n;
        prepend(&mut self.entries, at, &mut right.entries);
        *sep = right.first().clone();
        n
    }

    fn repair(&mut self) {}

    fn remove_range<F: FnMut(&Entry)>(&mut self, start: usize, end: usize, f: &mut F) {
        self.entries[start..end].iter().for_each(&mut *f);
        self.entries.drain(start..end);
        trim(&mut self.entries);
    }

    fn visit<F: FnMut(&Entry)>(&self, f: &mut F) {
        self.entries.iter().for_each(f);
    }
}

impl Leaf {
    /// Inserts an entry the leaf does not hold; a full leaf splits, and
    /// hands back its new right sibling.
    fn insert(&mut self, e: Entry) -> Option<Split<Leaf>> {
        let entries = &mut self.entries;
        let p = entries.partition_point(|x| x.cmp_key(e.score, &e.member) == Ordering::Less);
        if entries.len() < LEAF_MAX_ENTRIES {
            insert_at(entries, p, e);
            return None;
        }
        let right = split_around(entries, split_point::<Leaf>(p), p, e);
        Some(Split {
            sep: right[0].clone(),
            count: right.len(),
            node: Leaf { entries: right },
        })
    }

    /// Removes the entry with this key; also says whether it was the first.
    fn remove(&mut self, score: f64, member: &[u8]) -> Option<(Entry, bool)> {
        let p = self
            .entries
            .binary_search_by(|x| x.cmp_key(score, member))
            .ok()?;
        let e = self.entries.remove(p);
        trim(&mut self.entries);
        Some((e, p == 0))
    }
}

impl Node for Inner {
    const MAX: usize = INNER_MAX_KIDS;
    const MIN: usize = INNER_MIN_KIDS;

    fn slots(&self) -> usize {
        self.counts.len()
    }

    fn first(&self) -> &Entry {
        self.kid_first(0)
    }

    fn wrap(kids: Vec<Inner>) -> Kids {
        Kids::Inners(kids)
    }

    fn absorb(&mut self, sep: Entry, right: Inner) {
        make_room(&mut self.seps, 1 + right.seps.len());
        self.seps.push(sep);
        self.seps.extend(right.seps);
        concat(&mut self.counts, right.counts);
        match (&mut self.kids, right.kids) {
            (Kids::Leaves(a), Kids::Leaves(b)) => concat(a, b),
            (Kids::Inners(a), Kids::Inners(b)) => concat(a, b),
            _ => unreachable!("siblings are at one height"),
        }
    }

    fn take_front(&mut self, right: &mut Inner, n: usize, sep: &mut Entry) -> usize {
        let moved = right.counts[..n].iter().sum();
        // The parent's separator is the first entry of right's first child,
        // which becomes ours; right's separator after the moved children
        // goes up in its place.
        make_room(&mut self.seps, n);
        self.seps.push(mem::replace(sep, Entry::placeholder()));
        for (k, s) in right.seps.drain(..n).enumerate() {
            if k + 1 < n {
                self.seps.push(s);
            } else {
                *sep = s;
            }
        }
        trim(&mut right.seps);
        make_room(&mut self.counts, n);
        self.counts.extend(right.counts.drain(..n));
        trim(&mut right.counts);
        match (&mut self.kids, &mut right.kids) {
            (Kids::Leaves(a), Kids::Leaves(b)) => take_front_of(a, b, n),
            (Kids::Inners(a), Kids::Inners(b)) => take_front_of(a, b, n),
            _ => unreachable!("siblings are at one height"),
        }
        moved
    }

    fn give_back(&mut self, right: &mut Inner, n: usize, sep: &mut Entry) -> usize {
        let at = self.counts.len() - n;
        let moved = self.counts[at..].iter().sum();
        // Our separator before the moved children goes up; the parent's
        // comes down in front of right's.
        let mut seps = Vec::with_capacity(class_len::<Entry>(n + right.seps.len()));
        let mut drained = self.seps.drain(at - 1..);
        let up = drained.next();
        seps.extend(drained);
        if let Some(up) = up {
            seps.push(mem::replace(sep, up));
        }
        seps.append(&mut right.seps);
        right.seps = seps;
        trim(&mut self.seps);
        prepend(&mut self.counts, at, &mut right.counts);
        match (&mut self.kids, &mut right.kids) {
            (Kids::Leaves(a), Kids::Leaves(b)) => prepend(a, at, b),
            (Kids::Inners(a), Kids::Inners(b)) => prepend(a, at, b),
            _ => unreachable!("siblings are at one height"),
        }
        moved
    }

    fn repair(&mut self) {
        match &mut self.kids {
            Kids::Leaves(v) => repair_kids(v, &mut self.seps, &mut self.counts),
            Kids::Inners(v) => repair_kids(v, &mut self.seps, &mut self.counts),
        }
    }

    fn remove_range<F: FnMut(&Entry)>(&mut self, start: usize, end: usize, f: &mut F) {
        match &mut self.kids {
            Kids::Leaves(v) => range_kids(v, &mut self.seps, &mut self.counts, start, end, f),
            Kids::Inners(v) => range_kids(v, &mut self.seps, &mut self.counts, start, end, f),
        }
    }

    fn visit<F: FnMut(&Entry)>(&self, f: &mut F) {
        match &self.kids {
            Kids::Leaves(v) => v.iter().for_each(|k| k.visit(f)),
            Kids::Inners(v) => v.iter().for_each(|k| k.visit(f)),
        }
    }
}

impl Inner {
    /// The child holding rank `i` of this subtree; `i` becomes the rank
    /// within that child.
    fn kid_at_rank(&self, i: &mut usize) -> usize {
        let mut c = 0;
        while c + 1 < self.counts.len() && *i >= self.counts[c] {
            *i -= self.counts[c];
            c += 1;
        }
        c
    }

    fn kid_first(&self, j: usize) -> &Entry {
        match &self.kids {
            Kids::Leaves(v) => v[j].first(),
            Kids::Inners(v) => v[j].first(),
        }
    }

    /// Merges or evens out child `j` with a sibling if it is underfull.
    fn fix(&mut self, j: usize) {
        match &mut self.kids {
            Kids::Leaves(v) => fix_kids(v, &mut self.seps, &mut self.counts, j),
            Kids::Inners(v) => fix_kids(v, &mut self.seps, &mut self.counts, j),
        }
    }

    /// Heap bytes of this node's arrays and of everything below it, but
    /// not the members' heap (the tree counts that as it goes).
    fn node_bytes(&self) -> usize {
        let own = self.seps.capacity() * mem::size_of::<Entry>()
            + self
                .seps
                .iter()
                .map(|s| s.member.heap_size())
                .sum::<usize>()
            + self.counts.capacity() * mem::size_of::<usize>();
        own + match &self.kids {
            Kids::Leaves(v) => {
                v.capacity() * mem::size_of::<Leaf>()
                    + v.iter()
                        .map(|l| l.entries.capacity() * mem::size_of::<Entry>())
                        .sum::<usize>()
            }
            Kids::Inners(v) => {
                v.capacity() * mem::size_of::<Inner>()
                    + v.iter().map(Inner::node_bytes).sum::<usize>()
            }
        }
    }
}

/// Inserts into the subtree under `n`; if `n` split, returns its new right
/// sibling.
fn insert_in(n: &mut Inner, e: Entry) -> Option<Split<Inner>> {
    let i = child_index(&n.seps, e.score, &e.member);
    n.counts[i] += 1;
    match &mut n.kids {
        Kids::Leaves(v) => {
            let split = v[i].insert(e)?;
            n.counts[i] -= split.count;
            add_child(v, &mut n.seps, &mut n.counts, i + 1, split)
        }
        Kids::Inners(v) => {
            let split = insert_in(&mut v[i], e)?;
            n.counts[i] -= split.count;
            add_child(v, &mut n.seps, &mut n.counts, i + 1, split)
        }
    }
}

/// Adds a child at `at` (never 0: a split child's new sibling goes right of
/// it). A full node splits, and hands back its new right sibling.
fn add_child<C: Node>(
    kids: &mut Vec<C>,
    seps: &mut Vec<Entry>,
    counts: &mut Vec<usize>,
    at: usize,
    new: Split<C>,
) -> Option<Split<Inner>> {
    if kids.len() < INNER_MAX_KIDS {
        insert_at(kids, at, new.node);
        insert_at(seps, at - 1, new.sep);
        insert_at(counts, at, new.count);
        return None;
    }
    let mid = split_point::<Inner>(at);
    let right_kids = split_around(kids, mid, at, new.node);
    let right_counts = split_around(counts, mid, at, new.count);
    // Separator `j` belongs to child `j + 1`; the one of the right node's
    // first child goes up.
    let mut right_seps = split_around(seps, mid - 1, at - 1, new.sep);
    let up = right_seps.remove(0);
    trim(&mut right_seps);
    let count = right_counts.iter().sum();
    Some(Split {
        sep: up,
        node: Inner {
            seps: right_seps,
            counts: right_counts,
            kids: C::wrap(right_kids),
        },
        count,
    })
}

/// Where a full node splits when a slot is added at `at`: in the middle,
/// except at the edges, where runs of ascending (or descending) inserts
/// add, so that the node left behind is three quarters full rather than
/// half. Both sides keep at least the minimum.
fn split_point<C: Node>(at: usize) -> usize {
    if at == C::MAX {
        C::MAX - C::MIN
    } else if at <= 1 {
        C::MIN
    } else {
        C::MAX / 2
    }
}

/// Splits the full `v` at `mid` while inserting `x` at `at` (a position in
/// the whole), and returns the right part. Each part gets an allocation of
/// exactly its class, so the part an ascending run leaves behind holds no
/// slack.
fn split_around<T>(v: &mut Vec<T>, mid: usize, at: usize, x: T) -> Vec<T> {
    let (head_len, tail_len) = if at <= mid {
        (mid + 1, v.len() - mid)
    } else {
        (mid, v.len() - mid + 1)
    };
    let mut tail = Vec::with_capacity(class_len::<T>(tail_len));
    tail.extend(v.drain(mid..));
    let mut head = Vec::with_capacity(class_len::<T>(head_len));
    head.append(v);
    *v = head;
    if at <= mid {
        v.insert(at, x);
    } else {
        tail.insert(at - mid, x);
    }
    tail
}

/// Removes the entry with this key from the subtree under `n`; also says
/// whether it was the subtree's first entry.
fn remove_in(n: &mut Inner, score: f64, member: &[u8]) -> Option<(Entry, bool)> {
    let i = child_index(&n.seps, score, member);
    let (entry, first_changed) = match &mut n.kids {
        Kids::Leaves(v) => v.get_mut(i)?.remove(score, member)?,
        Kids::Inners(v) => remove_in(v.get_mut(i)?, score, member)?,
    };
    n.counts[i] -= 1;
    if first_changed && i > 0 && n.counts[i] > 0 {
        n.seps[i - 1] = n.kid_first(i).clone();
    }
    n.fix(i);
    Some((entry, first_changed && i == 0))
}

/// If child `i` is underfull, merges it with a sibling when the two fit in
/// one node, and otherwise evens the two out.
fn fix_kids<C: Node>(kids: &mut Vec<C>, seps: &mut Vec<Entry>, counts: &mut Vec<usize>, i: usize) {
    if kids.len() < 2 || kids[i].slots() >= C::MIN {
        return;
    }
    let l = i.saturating_sub(1);
    let r = l + 1;
    let (left_slots, right_slots) = (kids[l].slots(), kids[r].slots());
    if left_slots + right_slots <= C::MAX {
        let right = kids.remove(r);
        let sep = seps.remove(l);
        counts[l] += counts.remove(r);
        kids[l].absorb(sep, right);
        // An underfull child of the underfull node (what `remove_range`
        // can leave) now has siblings to merge with.
        kids[l].repair();
        trim(kids);
        trim(seps);
        trim(counts);
    } else {
        let even = (left_slots + right_slots) / 2;
        let (head, tail) = kids.split_at_mut(r);
        let (left, right) = (&mut head[l], &mut tail[0]);
        if left_slots < even {
            let moved = left.take_front(right, even - left_slots, &mut seps[l]);
            counts[l] += moved;
            counts[r] -= moved;
        } else {
            let moved = left.give_back(right, left_slots - even, &mut seps[l]);
            counts[l] -= moved;
            counts[r] += moved;
        }
        kids[i].repair();
    }
}

/// Fixes every underfull child (when there is a sibling to fix it with).
fn repair_kids<C: Node>(kids: &mut Vec<C>, seps: &mut Vec<Entry>, counts: &mut Vec<usize>) {
    let mut j = 0;
    while j < kids.len() && kids.len() >= 2 {
        if kids[j].slots() < C::MIN {
            fix_kids(kids, seps, counts, j);
            // A merge into the left sibling may leave that one underfull.
            j = j.saturating_sub(1);
        } else {
            j += 1;
        }
    }
}

/// Removes entries `start..end` of the node whose arrays these are, showing
/// each to `f` in order.
fn range_kids<C: Node, F: FnMut(&Entry)>(
    kids: &mut Vec<C>,
    seps: &mut Vec<Entry>,
    counts: &mut Vec<usize>,
    start: usize,
    end: usize,
    f: &mut F,
) {
    // Children wholly inside the range (a run of them), and the at most two
    // that the range's edges cut.
    let (mut whole_from, mut whole_to) = (usize::MAX, 0);
    let mut cut = [usize::MAX; 2];
    let mut at = 0;
    for j in 0..kids.len() {
        let (from, to) = (at, at + counts[j]);
        at = to;
        if to <= start {
            continue;
        }
        if from >= end {
            break;
        }
        let (a, b) = (start.max(from) - from, end.min(to) - from);
        if a == 0 && b == counts[j] {
            kids[j].visit(f);
            whole_from = whole_from.min(j);
            whole_to = j + 1;
        } else {
            kids[j].remove_range(a, b, f);
            counts[j] -= b - a;
            cut[usize::from(cut[0] != usize::MAX)] = j;
        }
    }
    if whole_from < whole_to {
        kids.drain(whole_from..whole_to);
        counts.drain(whole_from..whole_to);
        if whole_from == 0 {
            // The new first child's separator goes too.
            seps.drain(..whole_to.min(seps.len()));
        } else {
            seps.drain(whole_from - 1..whole_to - 1);
        }
        for j in cut
            .iter_mut()
            .filter(|j| **j != usize::MAX && **j > whole_from)
        {
            *j -= whole_to - whole_from;
        }
    }
    // A cut child may have lost its first entries; merging relies on the
    // separators, so they are put right first.
    for &j in cut.iter().filter(|&&j| j != usize::MAX && j > 0) {
        seps[j - 1] = kids[j].first().clone();
    }
    repair_kids(kids, seps, counts);
    trim(kids);
    trim(seps);
    trim(counts);
}

/// The capacity to allocate for `n` items of `T`: as many as fit in the
/// allocator's size class for `n` of them.
fn class_len<T>(n: usize) -> usize {
    let size = mem::size_of::<T>().max(1);
    class_bytes(n.saturating_mul(size)) / size
}

/// The size class a request of `bytes` gets: multiples of 8 up to 64
/// bytes, then four classes per doubling (mimalloc's bins, which jemalloc's
/// match above 64 bytes).
fn class_bytes(bytes: usize) -> usize {
    if bytes <= 64 {
        return bytes.next_multiple_of(8);
    }
    let bits = usize::BITS - (bytes - 1).leading_zeros();
    bytes.next_multiple_of(1 << (bits - 3))
}

/// Makes room for `extra` more items, growing to the class of the new
/// length.
fn make_room<T>(v: &mut Vec<T>, extra: usize) {
    let n = v.len() + extra;
    if v.capacity() < n {
        v.reserve_exact(class_len::<T>(n) - v.len());
    }
}

/// Gives memory back once `v` has shrunk more than an eighth below its
/// class; the margin keeps an insert and a removal from reallocating back
/// and forth. The items move to a fresh allocation, not through `realloc`
/// (see the module comment).
fn trim<T>(v: &mut Vec<T>) {
    if v.capacity() > class_len::<T>(v.len() + v.len() / 8) {
        let mut w = Vec::with_capacity(class_len::<T>(v.len()));
        w.append(v);
        *v = w;
    }
}

fn insert_at<T>(v: &mut Vec<T>, i: usize, x: T) {
    make_room(v, 1);
    v.insert(i, x);
}

fn vec_of<T>(x: T) -> Vec<T> {
    let mut v = Vec::with_capacity(class_len::<T>(1));
    v.push(x);
    v
}

fn concat<T>(a: &mut Vec<T>, b: Vec<T>) {
    make_room(a, b.len());
    a.extend(b);
}

/// Moves `b`'s first `n` items to the end of `a`.
fn take_front_of<T>(a: &mut Vec<T>, b: &mut Vec<T>, n: usize) {
    make_room(a, n);
    a.extend(b.drain(..n));
    trim(b);
}

/// Moves `a[at..]` to the front of `b`.
fn prepend<T>(a: &mut Vec<T>, at: usize, b: &mut Vec<T>) {
    let mut v = Vec::with_capacity(class_len::<T>(a.len() - at + b.len()));
    v.extend(a.drain(at..));
    v.append(b);
    *b = v;
    trim(a);
}

/// The ordered index of a large sorted set (see the module comment).
#[derive(Clone, Default)]
pub struct Tree {
    root: Inner,
    len: usize,
    /// The members' own heap (members longer than `SmallBytes` keeps
    /// inline), kept as they come and go so that `heap_bytes` needs to
    /// visit only nodes, not entries.
    member_heap: usize,
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("len", &self.len)
            .field("height", &self.height())
            .finish()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Levels of inner nodes, the root's included.
    fn height(&self) -> usize {
        let mut h = 1;
        let mut n = &self.root;
        while let Kids::Inners(v) = &n.kids {
            let Some(first) = v.first() else { break };
            n = first;
            h += 1;
        }
        h
    }

    /// Inserts an entry the tree does not hold. O(log N).
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let e = Entry::new(score, member);
        self.member_heap += e.member.heap_size();
        self.len += 1;
        if self.len == 1 {
            self.root = Inner {
                seps: Vec::new(),
                counts: vec_of(1),
                kids: Kids::Leaves(vec_of(Leaf { entries: vec_of(e) })),
            };
            return;
        }
        if let Some(split) = insert_in(&mut self.root, e) {
            let left = mem::take(&mut self.root);
            let mut counts = Vec::with_capacity(class_len::<usize>(2));
            counts.extend([self.len - split.count, split.count]);
            let mut kids = Vec::with_capacity(class_len::<Inner>(2));
            kids.extend([left, split.node]);
            self.root = Inner {
                seps: vec_of(split.sep),
                counts,
                kids: Kids::Inners(kids),
            };
        }
    }

    /// Removes the entry; false if absent. O(log N).
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        if self.len == 0 {
            return false;
        }
        let Some((e, _)) = remove_in(&mut self.root, score, member) else {
            return false;
        };
        self.member_heap -= e.member.heap_size();
        self.len -= 1;
        self.collapse_root();
        true
    }

    /// Moves `member` from score `old` to `new` (present at `old`). When the
    /// entry stays between its neighbours in its leaf (a small increment,
    /// say), only its score changes; otherwise it is removed and inserted
    /// again. O(log N).
    pub fn update_score(&mut self, member: &[u8], old: f64, new: f64) {
        if !self.rescore_in_place(member, old, new) {
            self.remove(old, member);
            self.insert(new, member);
        }
    }

    /// Sets the score of `(old, member)` to `new` if that keeps it between
    /// its neighbours and leaves every separator as it is.
    fn rescore_in_place(&mut self, member: &[u8], old: f64, new: f64) -> bool {
        if self.len == 0 {
            return false;
        }
        // Whether the new key sorts before the separators right of the
        // path, and whether the path is the leftmost (so no separator
        // copies the leaf's first entry).
        let mut before_next = true;
        let mut leftmost = true;
        let mut n = &mut self.root;
        loop {
            let i = child_index(&n.seps, old, member);
            if let Some(next) = n.seps.get(i) {
                before_next &= next.cmp_key(new, member) == Ordering::Greater;
            }
            leftmost &= i == 0;
            match &mut n.kids {
                Kids::Inners(v) => n = &mut v[i],
                Kids::Leaves(v) => {
                    let entries = &mut v[i].entries;
                    let Ok(p) = entries.binary_search_by(|e| e.cmp_key(old, member)) else {
                        return false;
                    };
                    let after_prev = match p.checked_sub(1) {
                        Some(q) => entries[q].cmp_key(new, member) == Ordering::Less,
                        None => leftmost,
                    };
                    let before_next = match entries.get(p + 1) {
                        Some(e) => e.cmp_key(new, member) == Ordering::Greater,
                        None => before_next,
                    };
                    if after_prev && before_next {
                        entries[p].score = new;
                        return true;
                    }
                    return false;
                }
            }
        }
    }

    /// How many entries, from the first in order, satisfy `pred`; `pred`
    /// is monotone (true on a prefix of the order, false after). It is
    /// called only on entries the tree holds, O(log N) times.
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        if self.len == 0 {
            return 0;
        }
        let mut before = 0;
        let mut n = &self.root;
        loop {
            let i = n.seps.partition_point(|s| pred(s.score, &s.member));
            before += n.counts[..i].iter().sum::<usize>();
            match &n.kids {
                Kids::Inners(v) => n = &v[i],
                Kids::Leaves(v) => {
                    return before + v[i].entries.partition_point(|e| pred(e.score, &e.member));
                }
            }
        }
    }

    /// The 0-based rank of an entry, if present. O(log N).
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut before = 0;
        let mut n = &self.root;
        loop {
            let i = child_index(&n.seps, score, member);
            before += n.counts[..i].iter().sum::<usize>();
            match &n.kids {
                Kids::Inners(v) => n = &v[i],
                Kids::Leaves(v) => {
                    let p = v[i]
                        .entries
                        .binary_search_by(|e| e.cmp_key(score, member))
                        .ok()?;
                    return Some(before + p);
                }
            }
        }
    }

    /// The entry at rank `i`. O(log N).
    pub fn get(&self, i: usize) -> Option<(f64, &[u8])> {
        if i >= self.len {
            return None;
        }
        let mut i = i;
        let mut n = &self.root;
        loop {
            let c = n.kid_at_rank(&mut i);
            match &n.kids {
                Kids::Inners(v) => n = &v[c],
                Kids::Leaves(v) => return v[c].entries.get(i).map(Entry::pair),
            }
        }
    }

    /// Entries from rank `i` on, ascending; O(log N) to start, O(1)
    /// amortised per step.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                cursor: Cursor::default(),
                left: 0,
            };
        }
        Iter {
            cursor: Cursor::seek(&self.root, i),
            left: self.len - i,
        }
    }

    /// Entries from rank `i` down to rank 0, descending (empty if
    /// `i >= len`). Same costs as [`Tree::iter_from`].
    pub fn iter_rev_from(&self, i: usize) -> RevIter<'_> {
        if i >= self.len {
            return RevIter {
                cursor: Cursor::default(),
                left: 0,
            };
        }
        let mut cursor = Cursor::seek(&self.root, i);
        // A reverse cursor stands after the entry it yields next.
        cursor.pos += 1;
        RevIter {
            cursor,
            left: i + 1,
        }
    }

    /// Removes ranks `start..end` (end exclusive, clamped to len), calling
    /// `f` with each removed entry in ascending order. O(log N + M).
    pub fn remove_range(&mut self, start: usize, end: usize, mut f: impl FnMut(f64, &[u8])) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        let mut heap = 0;
        self.root.remove_range(start, end, &mut |e: &Entry| {
            heap += e.member.heap_size();
            f(e.score, &e.member);
        });
        self.member_heap -= heap;
        self.len -= end - start;
        self.collapse_root();
    }

    /// Heap bytes the tree holds (nodes, entry arrays, members' heap), for
    /// MEMORY USAGE. Visits the nodes but not the entries in leaves: about
    /// N / 48 steps.
    pub fn heap_bytes(&self) -> usize {
        self.member_heap + self.root.node_bytes()
    }

    /// Makes a root with a single inner child into that child, and an
    /// empty tree's root into a fresh one.
    fn collapse_root(&mut self) {
        loop {
            match &mut self.root.kids {
                Kids::Inners(v) if v.len() <= 1 => {
                    let only = v.pop().unwrap_or_default();
                    self.root = only;
                }
                Kids::Leaves(v) if self.len == 0 && !v.is_empty() => self.root = Inner::default(),
                _ => return,
            }
        }
    }
}

/// Which end of a subtree a cursor descends to.
#[derive(Clone, Copy)]
enum Edge {
    First,
    Last,
}

/// A position among the entries: the path of inner nodes from the root,
/// each with the child the path takes, then the leaf and an index in it.
#[derive(Default)]
struct Cursor<'a> {
    path: Vec<(&'a Inner, usize)>,
    leaf: &'a [Entry],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The cursor at rank `i` (which the tree holds).
    fn seek(root: &'a Inner, mut i: usize) -> Cursor<'a> {
        let mut path = Vec::with_capacity(8);
        let mut n = root;
        loop {
            let c = n.kid_at_rank(&mut i);
            path.push((n, c));
            match &n.kids {
                Kids::Inners(v) => n = &v[c],
                Kids::Leaves(v) => {
                    return Cursor {
                        path,
                        leaf: &v[c].entries,
                        pos: i,
                    };
                }
            }
        }
    }

    /// Moves to the start of the next leaf (there is one).
    fn next_leaf(&mut self) {
        while let Some((n, c)) = self.path.last_mut() {
            if *c + 1 < n.counts.len() {
                *c += 1;
                break;
            }
            self.path.pop();
        }
        self.descend(Edge::First);
    }

    /// Moves to the end of the previous leaf (there is one).
    fn prev_leaf(&mut self) {
        while let Some((_, c)) = self.path.last_mut() {
            if *c > 0 {
                *c -= 1;
                break;
            }
            self.path.pop();
        }
        self.descend(Edge::Last);
    }

    /// Goes down from the path's last step to the leaf at `edge` of it.
    fn descend(&mut self, edge: Edge) {
        while let Some(&(n, c)) = self.path.last() {
            match &n.kids {
                Kids::Inners(v) => {
                    let kid = &v[c];
                    let at = match edge {
                        Edge::First => 0,
                        Edge::Last => kid.counts.len().saturating_sub(1),
                    };
                    self.path.push((kid, at));
                }
                Kids::Leaves(v) => {
                    self.leaf = &v[c].entries;
                    self.pos = match edge {
                        Edge::First => 0,
                        Edge::Last => self.leaf.len(),
                    };
                    return;
                }
            }
        }
    }
}

/// Entries in ascending order from a rank on ([`Tree::iter_from`]).
pub struct Iter<'a> {
    cursor: Cursor<'a>,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        if self.left == 0 {
            return None;
        }
        if self.cursor.pos == self.cursor.leaf.len() {
            self.cursor.next_leaf();
        }
        let e = self.cursor.leaf.get(self.cursor.pos)?;
        self.cursor.pos += 1;
        self.left -= 1;
        Some(e.pair())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}

/// Entries in descending order from a rank down ([`Tree::iter_rev_from`]).
pub struct RevIter<'a> {
    cursor: Cursor<'a>,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        if self.left == 0 {
            return None;
        }
        if self.cursor.pos == 0 {
            self.cursor.prev_leaf();
        }
        self.cursor.pos = self.cursor.pos.checked_sub(1)?;
        self.left -= 1;
        self.cursor.leaf.get(self.cursor.pos).map(Entry::pair)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RevIter<'_> {}

impl FusedIterator for RevIter<'_> {}

#[cfg(test)]
impl Tree {
    /// Asserts every invariant: counts, exact separators, order, fill,
    /// equal depth, capacities within a class of the lengths, and the
    /// members' heap.
    fn check(&self) {
        let root = &self.root;
        if self.len == 0 {
            assert!(
                root.counts.is_empty() && matches!(&root.kids, Kids::Leaves(v) if v.is_empty())
            );
        }
        if let Kids::Inners(v) = &root.kids {
            assert!(v.len() >= 2, "root with {} inner kids", v.len());
        }
        let (count, _) = check_inner(root, true);
        assert_eq!(count, self.len);
        let mut prev: Option<Entry> = None;
        let mut heap = 0;
        let mut seen = 0;
        root.visit(&mut |e: &Entry| {
            if let Some(p) = &prev {
                assert_eq!(p.cmp_key(e.score, &e.member), Ordering::Less);
            }
            prev = Some(e.clone());
            heap += e.member.heap_size();
            seen += 1;
        });
        assert_eq!(seen, self.len);
        assert_eq!(heap, self.member_heap);
    }
}

#[cfg(test)]
fn check_fit<T>(v: &Vec<T>) {
    assert!(
        v.capacity() <= class_len::<T>(v.len() + v.len() / 8 + 1),
        "capacity {} for {} items",
        v.capacity(),
        v.len()
    );
}

/// Checks the subtree under `n`; returns its entry count and leaf depth.
#[cfg(test)]
fn check_inner(n: &Inner, is_root: bool) -> (usize, usize) {
    let kids = n.counts.len();
    assert!(kids <= INNER_MAX_KIDS);
    assert!(
        is_root || kids >= INNER_MIN_KIDS,
        "inner node with {kids} kids"
    );
    assert_eq!(n.seps.len(), kids.saturating_sub(1));
    check_fit(&n.seps);
    check_fit(&n.counts);
    let mut total = 0;
    let mut depth = None;
    for j in 0..kids {
        let (count, d) = match &n.kids {
            Kids::Leaves(v) => {
                assert_eq!(v.len(), kids);
                check_fit(v);
                let leaf = &v[j].entries;
                assert!(leaf.len() <= LEAF_MAX_ENTRIES);
                assert!(
                    (is_root && kids == 1) || leaf.len() >= LEAF_MIN_ENTRIES,
                    "leaf with {} entries",
                    leaf.len()
                );
                check_fit(leaf);
                (leaf.len(), 0)
            }
            Kids::Inners(v) => {
                assert_eq!(v.len(), kids);
                check_fit(v);
                let (count, d) = check_inner(&v[j], false);
                (count, d + 1)
            }
        };
        assert!(count > 0);
        assert_eq!(n.counts[j], count, "count of kid {j}");
        assert_eq!(*depth.get_or_insert(d), d, "leaves at one depth");
        if j > 0 {
            // An exact copy, down to the sign of a zero.
            let (sep, first) = (&n.seps[j - 1], n.kid_first(j));
            assert_eq!(sep.score.to_bits(), first.score.to_bits());
            assert_eq!(sep.member, first.member);
        }
        total += count;
    }
    (total, depth.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;
    use std::collections::HashMap;
    use std::time::Instant;

    /// The order, written again for the model.
    fn cmp_keys(a: f64, a_member: &[u8], b: f64, b_member: &[u8]) -> Ordering {
        a.partial_cmp(&b)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a_member.cmp(b_member))
    }

    /// The same set as a sorted `Vec`, the obvious way.
    #[derive(Default)]
    struct Model {
        v: Vec<(f64, Vec<u8>)>,
        scores: HashMap<Vec<u8>, f64>,
    }

    impl Model {
        fn pos(&self, score: f64, member: &[u8]) -> Result<usize, usize> {
            self.v
                .binary_search_by(|(s, m)| cmp_keys(*s, m, score, member))
        }

        fn insert(&mut self, score: f64, member: &[u8]) {
            let Err(p) = self.pos(score, member) else {
                panic!("model: present");
            };
            self.v.insert(p, (score, member.to_vec()));
            self.scores.insert(member.to_vec(), score);
        }

        fn remove(&mut self, score: f64, member: &[u8]) -> bool {
            let Ok(p) = self.pos(score, member) else {
                return false;
            };
            self.v.remove(p);
            self.scores.remove(member);
            true
        }
    }

    fn random_score(rng: &mut Rng) -> f64 {
        const SPECIAL: [f64; 8] = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1.0,
            2.0,
            3.0,
            f64::INFINITY,
        ];
        match rng.below(4) {
            0 => SPECIAL[rng.below(8) as usize],
            1 => rng.below(20) as f64,
            2 => (rng.next_u64() >> 11) as f64 / (1u64 << 40) as f64 - 1000.0,
            _ => 7.0,
        }
    }

    fn random_member(rng: &mut Rng, space: u64) -> Vec<u8> {
        let k = rng.below(space);
        let mut m = format!("m{k}").into_bytes();
        // Some members are too long to keep inline.
        if k.is_multiple_of(5) {
            m.resize(30 + (k % 7) as usize, b'x');
        }
        m
    }

    fn as_owned(it: impl Iterator<Item = (f64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
        // Scores compared by bits, so -0.0 and 0.0 must match exactly.
        it.map(|(s, m)| (s.to_bits(), m)).collect()
    }

    fn tree_items<'a>(it: impl Iterator<Item = (f64, &'a [u8])>) -> Vec<(u64, Vec<u8>)> {
        as_owned(it.map(|(s, m)| (s, m.to_vec())))
    }

    fn model_items<'a>(it: impl Iterator<Item = &'a (f64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
        as_owned(it.cloned())
    }

    /// What a stretch of random operations does to the size.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Phase {
        Grow,
        Churn,
        Shrink,
    }

    /// One random operation on both, comparing what they say.
    fn step(rng: &mut Rng, t: &mut Tree, m: &mut Model, space: u64, phase: Phase) {
        let len = m.v.len();
        let inserts = match phase {
            Phase::Grow => 8,
            Phase::Churn => 6,
            Phase::Shrink => 1,
        };
        let op = rng.below(20);
        match op {
            _ if op < inserts => {
                let member = random_member(rng, space);
                if !m.scores.contains_key(&member) {
                    let s = random_score(rng);
                    t.insert(s, &member);
                    m.insert(s, &member);
                }
            }
            0..=8 if len > 0 => {
                let (s, member) = m.v[rng.below(len as u64) as usize].clone();
                assert!(t.remove(s, &member));
                assert!(m.remove(s, &member));
            }
            0..=9 => {
                let member = random_member(rng, space);
                let s = random_score(rng);
                assert_eq!(t.remove(s, &member), m.remove(s, &member));
            }
            10 | 11 if len > 0 => {
                let (old, member) = m.v[rng.below(len as u64) as usize].clone();
                let new = match rng.below(4) {
                    0 => -old,
                    1 => old + 1e-9,
                    2 => old,
                    _ => random_score(rng),
                };
                t.update_score(&member, old, new);
                m.remove(old, &member);
                m.insert(new, &member);
            }
            12 => {
                let start = rng.below(len as u64 + 2) as usize;
                let n = match rng.below(16) {
                    _ if phase != Phase::Shrink => rng.below(4) as usize,
                    0 => rng.below(len as u64 + 2) as usize,
                    _ => rng.below(150) as usize,
                };
                let end = start + n;
                let mut got = Vec::new();
                t.remove_range(start, end, |s, mem| got.push((s.to_bits(), mem.to_vec())));
                let (a, b) = (start.min(len), end.min(len));
                let want: Vec<_> = m.v.drain(a..b.max(a)).collect();
                for (_, mem) in &want {
                    m.scores.remove(mem);
                }
                assert_eq!(got, model_items(want.iter()));
            }
            13 => {
                let (s, member) = if len > 0 && rng.below(2) == 0 {
                    m.v[rng.below(len as u64) as usize].clone()
                } else {
                    (random_score(rng), random_member(rng, space))
                };
                assert_eq!(t.rank(s, &member), m.pos(s, &member).ok());
            }
            14 => {
                let i = rng.below(len as u64 + 2) as usize;
                let want = m.v.get(i).map(|(s, mem)| (s.to_bits(), mem.clone()));
                let got = t.get(i).map(|(s, mem)| (s.to_bits(), mem.to_vec()));
                assert_eq!(got, want);
            }
            15 => {
                // A bound by score alone (with an inclusive or exclusive
                // end), or by the whole key.
                let bound = random_score(rng);
                let member = random_member(rng, space);
                let (got, want) = match rng.below(3) {
                    0 => (
                        t.count_while(|s, _| s < bound),
                        m.v.partition_point(|(s, _)| *s < bound),
                    ),
                    1 => (
                        t.count_while(|s, _| s <= bound),
                        m.v.partition_point(|(s, _)| *s <= bound),
                    ),
                    _ => (
                        t.count_while(|s, mem| cmp_keys(s, mem, bound, &member).is_le()),
                        m.v.partition_point(|(s, mem)| cmp_keys(*s, mem, bound, &member).is_le()),
                    ),
                };
                assert_eq!(got, want);
            }
            16 => {
                let i = rng.below(len as u64 + 2) as usize;
                let n = rng.below(300) as usize;
                let got = tree_items(t.iter_from(i).take(n));
                let want = model_items(m.v.iter().skip(i).take(n));
                assert_eq!(got, want);
                assert_eq!(t.iter_from(i).len(), len.saturating_sub(i));
            }
            17 => {
                let i = rng.below(len as u64 + 2) as usize;
                let n = rng.below(300) as usize;
                let got = tree_items(t.iter_rev_from(i).take(n));
                let want = if i < len {
                    model_items(m.v[..=i].iter().rev().take(n))
                } else {
                    Vec::new()
                };
                assert_eq!(got, want);
            }
            _ => {
                assert_eq!(t.len(), len);
                assert_eq!(t.is_empty(), len == 0);
            }
        }
    }

    #[test]
    fn random_operations_match_a_sorted_vec() {
        for seed in 1..=4 {
            let mut rng = Rng::new(seed * 0x9E37_79B9);
            let mut t = Tree::new();
            let mut m = Model::default();
            // Grow past several levels, shrink to nothing, and again; the
            // member space bounds the size.
            for (space, phase, ops) in [
                (300, Phase::Grow, 3_000u32),
                (300, Phase::Shrink, 2_000),
                (60_000, Phase::Grow, 90_000),
                (60_000, Phase::Churn, 40_000),
                (60_000, Phase::Shrink, 20_000),
                (60_000, Phase::Grow, 20_000),
                (60_000, Phase::Shrink, 60_000),
            ] {
                for k in 0..ops {
                    step(&mut rng, &mut t, &mut m, space, phase);
                    if k.is_multiple_of(1000) {
                        t.check();
                    }
                }
                t.check();
                println!("seed {seed} {phase:?}: {t:?}");
                assert_eq!(tree_items(t.iter_from(0)), model_items(m.v.iter()));
                assert_eq!(
                    tree_items(t.iter_rev_from(usize::MAX)),
                    Vec::<(u64, Vec<u8>)>::new()
                );
            }
        }
    }

    #[test]
    fn ascending_and_descending_runs_fill_nodes() {
        let mut up = Tree::new();
        let mut down = Tree::new();
        for i in 0..20_000u32 {
            up.insert(i as f64, b"m");
            down.insert(-(i as f64), b"m");
        }
        up.check();
        down.check();
        for t in [&up, &down] {
            let per_entry = t.heap_bytes() as f64 / t.len() as f64;
            assert!(per_entry < 34.5, "{per_entry} bytes per entry, {t:?}");
        }
        assert_eq!(up.get(12_345), Some((12_345.0, &b"m"[..])));
        assert_eq!(down.rank(-5.0, b"m"), Some(20_000 - 6));
    }

    #[test]
    fn remove_range_of_everything_but_the_ends() {
        for (keep_front, keep_back) in [(0, 0), (1, 0), (0, 1), (1, 1), (70, 5000), (3000, 3)] {
            let mut t = Tree::new();
            let n = 30_000;
            for i in 0..n {
                t.insert((i % 1000) as f64, format!("{i:08}").as_bytes());
            }
            let first: Vec<_> = tree_items(t.iter_from(0));
            let mut seen = 0;
            t.remove_range(keep_front, n - keep_back, |_, _| seen += 1);
            assert_eq!(seen, n - keep_front - keep_back);
            t.check();
            let mut want = first[..keep_front].to_vec();
            want.extend_from_slice(&first[n - keep_back..]);
            assert_eq!(tree_items(t.iter_from(0)), want);
        }
    }

    /// Heap bytes per entry for a million entries (a hundred thousand in
    /// debug builds), in ascending and in random order; prints rough
    /// timings for `--nocapture`.
    #[test]
    fn memory_per_entry_at_scale() {
        let n: u64 = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        // 16-byte members, made beforehand so the timings are the tree's.
        let members: Vec<[u8; 16]> = (0..n)
            .map(|i| {
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .to_be_bytes()
                    .repeat(2)
            })
            .map(|v| v.try_into().unwrap_or_default())
            .collect();

        let mut t = Tree::new();
        let start = Instant::now();
        for (i, m) in members.iter().enumerate() {
            t.insert(1.7e12 + i as f64, m);
        }
        let insert_ns = start.elapsed().as_nanos() as f64 / n as f64;
        t.check();
        let ascending = t.heap_bytes() as f64 / n as f64;
        println!("ascending: {ascending:.2} bytes/entry, insert {insert_ns:.0} ns, {t:?}");
        assert!(ascending <= 40.0, "ascending: {ascending} bytes per entry");

        let mut rng = Rng::new(7);
        let scores: Vec<f64> = (0..n).map(|_| rng.below(1 << 40) as f64).collect();
        let mut t = Tree::new();
        let start = Instant::now();
        for (&s, m) in scores.iter().zip(&members) {
            t.insert(s, m);
        }
        let insert_ns = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        let mut sum = 0;
        for (&s, m) in scores.iter().zip(&members).step_by(4) {
            sum += t.rank(s, m).unwrap_or(0);
        }
        let rank_ns = start.elapsed().as_nanos() as f64 / (n / 4) as f64;
        t.check();
        let random = t.heap_bytes() as f64 / n as f64;
        println!(
            "random: {random:.2} bytes/entry, insert {insert_ns:.0} ns, rank {rank_ns:.0} ns \
             ({sum}), {t:?}"
        );
        assert!(random <= 40.0, "random: {random} bytes per entry");

        // Memory follows the size down: remove three entries in four.
        for (i, (&s, m)) in scores.iter().zip(&members).enumerate() {
            if !i.is_multiple_of(4) {
                assert!(t.remove(s, m));
            }
        }
        t.check();
        let thinned = t.heap_bytes() as f64 / t.len() as f64;
        println!("thinned to a quarter: {thinned:.2} bytes/entry, {t:?}");
        assert!(thinned <= 44.0, "thinned: {thinned} bytes per entry");

        // Removing ranges of a big tree, then nearly all of it.
        let len = t.len();
        t.remove_range(len / 3, len / 3 * 2, |_, _| {});
        t.check();
        t.remove_range(1, t.len() - 1, |_, _| {});
        t.check();
        assert_eq!(t.len(), 2);
    }
}
