//! The list type.
//!
//! A list is packed chunks of entries, like Redis's quicklist of listpacks:
//! O(1) push and pop at both ends, and compact memory for small elements.
//! An entry is exactly a listpack entry: the element in the packed element
//! encoding (`types::packed`: a short string costs one byte of header, an
//! integer is stored as one in 1 to 9 bytes), then its "back length", the
//! size of that encoding written so that it reads from its last byte
//! leftwards. The back length finds the entry before any offset without
//! decoding the chunk from its start. An 8-byte string costs 10 bytes.
//!
//! A list that fits one chunk (the usual small list) is [`List::Small`]:
//! the entries in one exact-size allocation held inside the key's value,
//! so it costs its entries and nothing else, as a Redis listpack does. A
//! longer one is [`List::Quick`], a boxed deque of chunks. A chunk grows
//! until it reaches the limit that `list-max-listpack-size` sets (a byte
//! size for -1..-5, an element count otherwise). A quicklist chunk's
//! buffer may keep free space at the front as well as at the back, so that
//! pushing and popping at the head of a list does not move the rest of
//! the head chunk each time.
//!
//! OBJECT ENCODING answers `quicklist`, as Redis 7.0 does for every list.
//!
//! The file holds the structure's API first, then the commands. The pop
//! and move internals ([`List::pop`], [`pop_count`], [`move_element`]) are
//! public so the blocking commands can reuse them.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::blocking::WaitFor;
use crate::cmd::{CmdError, CmdResult, Ctx, Unblocked, arg_i64};
use crate::db::{Ttl, Value};
use crate::effects::class;
use crate::store::Store;
use crate::types::packed::{self, Elem, Needle};
use crate::types::thin::{PACKED_MAX_SAFETY_BYTES, ThinBytes};
use crate::types::{read_as, write_as};
use crate::util::eq_ic;

/// Redis's `SIZE_SAFETY_LIMIT`: a count-limited chunk still stops at 8 KB.
const SIZE_SAFETY_LIMIT_BYTES: usize = 8192;

/// How full a chunk may get, from `list-max-listpack-size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    max_bytes: usize,
    max_count: usize,
}

impl Fill {
    /// The limit for a `list-max-listpack-size` value: -1..-5 mean 4, 8,
    /// 16, 32 or 64 KB per chunk; a positive value is an element count.
    pub fn from_config(n: i64) -> Fill {
        if n < 0 {
            let level = (-n).min(5) as u32;
            Fill {
                max_bytes: 4096 << (level - 1),
                max_count: usize::MAX,
            }
        } else {
            Fill {
                max_bytes: SIZE_SAFETY_LIMIT_BYTES,
                max_count: (n as usize).max(1),
            }
        }
    }
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::from_config(-2)
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// Parses `LEFT` or `RIGHT`, case-insensitively.
    pub fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if eq_ic(arg, "left") {
            Ok(End::Left)
        } else if eq_ic(arg, "right") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }

    /// The keyspace event of a push at this end.
    pub fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The keyspace event of a pop from this end.
    pub fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    /// The command a pop from this end replays as.
    pub fn pop_command(self) -> Bytes {
        match self {
            End::Left => Bytes::from_static(b"LPOP"),
            End::Right => Bytes::from_static(b"RPOP"),
        }
    }
}

/// The entry for `val`: its element encoding (shared with the packed
/// hashes and sets, `types::packed`), then listpack's back length.
fn encode(val: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(encoded_len(val));
    encode_into(&mut e, val);
    e
}

/// Appends the entry for `val`.
fn encode_into(out: &mut Vec<u8>, val: &[u8]) {
    let start = out.len();
    packed::encode(out, val);
    let elem = out.len() - start;
    packed::put_backlen(out, elem);
}

/// The bytes `encode` makes of `val`.
fn encoded_len(val: &[u8]) -> usize {
    let elem = packed::encoded_len(val);
    elem + packed::backlen_len(elem)
}

/// Where one entry lies inside a chunk, as offsets from the chunk's first
/// entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The first byte of the element's encoding.
    start: usize,
    /// The first byte of the back length, just past the element.
    back: usize,
    /// Just past the back length: where the next entry starts.
    next: usize,
}

/// A chunk's entries, read-only: a small list's one allocation or a
/// quicklist chunk's bytes.
#[derive(Debug, Clone, Copy)]
struct ChunkRef<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> ChunkRef<'a> {
    fn used(self) -> usize {
        self.bytes.len()
    }

    /// The entry whose encoding starts at `off`.
    fn entry_at(self, off: usize) -> Entry {
        let back = packed::element_end(self.bytes, off);
        Entry {
            start: off,
            back,
            next: back + packed::backlen_len(back - off),
        }
    }

    /// The entry that ends just before `end` (an entry boundary above 0),
    /// found by reading its back length leftwards.
    fn entry_before(self, end: usize) -> Entry {
        let (n, back) = packed::read_backlen(self.bytes, end);
        Entry {
            start: back - n,
            back,
            next: end,
        }
    }

    fn data(self, e: Entry) -> Elem<'a> {
        packed::decode(self.bytes, e.start).0
    }

    /// Whether entry `e` holds `needle`.
    fn holds(self, e: Entry, needle: &Needle) -> bool {
        needle.matches(&self.bytes[e.start..e.back])
    }

    /// The start offset of entry `i` (`count` gives the end of the
    /// entries), walking from whichever end of the chunk is nearer.
    fn nth_offset(self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut off = 0;
            for _ in 0..i {
                off = self.entry_at(off).next;
            }
            off
        } else {
            let mut off = self.used();
            for _ in i..self.count {
                off = self.entry_before(off).start;
            }
            off
        }
    }

    /// Calls `f` with each element from offset `off` on, numbered from
    /// `index`; returns false if `f` asked to stop.
    fn walk_forward(
        self,
        mut off: usize,
        mut index: usize,
        f: &mut impl FnMut(usize, Elem) -> bool,
    ) -> bool {
        while off < self.used() {
            let e = self.entry_at(off);
            if !f(index, self.data(e)) {
                return false;
            }
            index += 1;
            off = e.next;
        }
        true
    }

    /// Calls `f` with each element from the last to the first, numbered
    /// down from `end_index` (one past the last's index); returns false if
    /// `f` asked to stop.
    fn walk_backward(self, mut index: usize, f: &mut impl FnMut(usize, Elem) -> bool) -> bool {
        let mut end = self.used();
        while end > 0 {
            let e = self.entry_before(end);
            index -= 1;
            if !f(index, self.data(e)) {
                return false;
            }
            end = e.start;
        }
        true
    }

    /// The start offset of every entry, in order (for the tests' checks).
    #[cfg(test)]
    fn offsets(self) -> Vec<usize> {
        let mut offs = Vec::with_capacity(self.count);
        let mut off = 0;
        while off < self.used() {
            offs.push(off);
            off = self.entry_at(off).next;
        }
        offs
    }
}

/// One packed run of elements in a quicklist, or a small list's entries
/// while a command changes them.
///
/// The entries occupy `buf[head..]`; `buf[..head]` is free space kept at
/// the front, so a push or pop at the head of the list touches only the
/// bytes of the one entry. Offsets passed to and returned by the methods
/// below count from `head`, so they stay valid when the free space at the
/// front changes.
#[derive(Debug, Clone, Default)]
struct Chunk {
    buf: Vec<u8>,
    head: usize,
    count: usize,
}

impl Chunk {
    fn view(&self) -> ChunkRef<'_> {
        ChunkRef {
            bytes: self.bytes(),
            count: self.count,
        }
    }

    /// The encoded entries, without the free space at the front.
    fn bytes(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// How many bytes the entries take.
    fn used(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Whether a push of an element `raw_len` bytes long goes into this
    /// chunk (see [`accepts`]).
    fn accepts(&self, raw_len: usize, fill: Fill) -> bool {
        accepts(self.count, self.used(), raw_len, fill)
    }

    /// The capacity to grow to when `needed` bytes must fit: geometric, but
    /// never past the fill limit unless one entry alone is bigger, so a
    /// full chunk's allocation is exactly the limit (an allocator class).
    fn grown_capacity(&self, needed: usize, fill: Fill) -> usize {
        (self.buf.capacity() * 2).min(fill.max_bytes).max(needed)
    }

    /// Moves the entries to the start of the buffer, giving up the free
    /// space at the front.
    fn compact(&mut self) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Makes room for `extra` more bytes after the entries.
    fn reserve_back(&mut self, extra: usize, fill: Fill) {
        if self.buf.len() + extra <= self.buf.capacity() {
            return;
        }
        // Reclaiming the space that head pops freed comes before growing;
        // it moves the entries once per buffer's worth of pushes.
        self.compact();
        let needed = self.buf.len() + extra;
        if needed > self.buf.capacity() {
            let target = self.grown_capacity(needed, fill);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    /// Makes at least `extra` bytes of free space at the front. All the
    /// buffer's free space goes to the front, so pushes at the head move
    /// the entries only when that space runs out, and the buffer grows
    /// geometrically as it does at the back.
    fn reserve_front(&mut self, extra: usize, fill: Fill) {
        if self.head >= extra {
            return;
        }
        let used = self.used();
        let needed = used + extra;
        let cap = if needed > self.buf.capacity() {
            self.grown_capacity(needed, fill)
        } else {
            self.buf.capacity()
        };
        if cap > self.buf.capacity() {
            let mut buf = Vec::with_capacity(cap);
            buf.resize(cap - used, 0);
            buf.extend_from_slice(self.bytes());
            self.buf = buf;
        } else {
            let old = self.buf.len();
            self.buf.resize(cap, 0);
            self.buf.copy_within(self.head..old, cap - used);
        }
        self.head = cap - used;
    }

    fn push_front(&mut self, entry: &[u8], fill: Fill) {
        self.reserve_front(entry.len(), fill);
        self.head -= entry.len();
        self.buf[self.head..self.head + entry.len()].copy_from_slice(entry);
        self.count += 1;
    }

    fn push_back(&mut self, entry: &[u8], fill: Fill) {
        self.reserve_back(entry.len(), fill);
        self.buf.extend_from_slice(entry);
        self.count += 1;
    }

    /// Inserts an encoded entry at offset `off` (an entry boundary).
    fn insert_at(&mut self, off: usize, entry: &[u8], fill: Fill) {
        if off == 0 {
            return self.push_front(entry, fill);
        }
        self.reserve_back(entry.len(), fill);
        // `reserve_back` may have moved the entries; `off` counts from
        // `head`, so it still names the same place.
        let at = self.head + off;
        let old = self.buf.len();
        self.buf.resize(old + entry.len(), 0);
        self.buf.copy_within(at..old, at + entry.len());
        self.buf[at..at + entry.len()].copy_from_slice(entry);
        self.count += 1;
    }

    /// Removes the entry at `off` and returns its element. Removing the
    /// first or the last entry moves no other bytes.
    fn remove_at(&mut self, off: usize) -> Vec<u8> {
        let view = self.view();
        let e = view.entry_at(off);
        let val = view.data(e).to_vec();
        if off == 0 {
            self.head += e.next;
        } else if e.next == self.used() {
            self.buf.truncate(self.head + off);
        } else {
            self.buf.drain(self.head + off..self.head + e.next);
        }
        self.count -= 1;
        val
    }

    /// Removes the last entry and returns its element.
    fn pop_back(&mut self) -> Vec<u8> {
        let view = self.view();
        let e = view.entry_before(view.used());
        let val = view.data(e).to_vec();
        self.buf.truncate(self.head + e.start);
        self.count -= 1;
        val
    }

    /// Drops the first `n` entries (fewer than `count`).
    fn drop_front(&mut self, n: usize) {
        self.head += self.view().nth_offset(n);
        self.count -= n;
    }

    /// Drops the last `n` entries (fewer than `count`).
    fn drop_back(&mut self, n: usize) {
        let off = self.view().nth_offset(self.count - n);
        self.buf.truncate(self.head + off);
        self.count -= n;
    }

    /// Splits off the second half of the entries into a new chunk.
    fn split(&mut self) -> Chunk {
        let keep = self.count / 2;
        let off = self.view().nth_offset(keep);
        let tail = Chunk {
            buf: self.bytes()[off..].to_vec(),
            head: 0,
            count: self.count - keep,
        };
        self.buf.truncate(self.head + off);
        self.compact();
        self.buf.shrink_to_fit();
        self.count = keep;
        tail
    }

    /// Removes the entries that match `val`, at most `limit` of them,
    /// scanning from the tail when `from_tail`. Returns how many went.
    fn remove_matching(&mut self, val: &[u8], limit: usize, from_tail: bool) -> usize {
        let needle = Needle::new(val);
        let view = self.view();
        // The start and end offsets of the entries to drop, in scan order.
        let mut drop: Vec<(usize, usize)> = Vec::new();
        if from_tail {
            let mut end = view.used();
            while end > 0 && drop.len() < limit {
                let e = view.entry_before(end);
                if view.holds(e, &needle) {
                    drop.push((e.start, e.next));
                }
                end = e.start;
            }
            drop.reverse();
        } else {
            let mut off = 0;
            while off < view.used() && drop.len() < limit {
                let e = view.entry_at(off);
                if view.holds(e, &needle) {
                    drop.push((e.start, e.next));
                }
                off = e.next;
            }
        }
        if drop.is_empty() {
            return 0;
        }
        let removed_bytes: usize = drop.iter().map(|(s, e)| e - s).sum();
        let mut buf = Vec::with_capacity(self.used() - removed_bytes);
        let mut kept_from = 0;
        for &(s, e) in &drop {
            buf.extend_from_slice(&self.bytes()[kept_from..s]);
            kept_from = e;
        }
        buf.extend_from_slice(&self.bytes()[kept_from..]);
        self.buf = buf;
        self.head = 0;
        self.count -= drop.len();
        drop.len()
    }
}

/// A list. One that fits a single chunk is that chunk's entries in one
/// exact-size allocation held in the key's `Value` (its element count in
/// the spare 16 bits, see `types::thin`): a small list costs its elements
/// and nothing else. A longer one is a quicklist, boxed.
#[derive(Debug, Clone)]
pub enum List {
    Small(ThinBytes),
    Quick(Box<Quick>),
}

impl Default for List {
    fn default() -> List {
        List::Small(ThinBytes::new())
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        match self {
            List::Small(t) => t.aux() as usize,
            List::Quick(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A small list's one chunk.
    fn small(t: &ThinBytes) -> ChunkRef<'_> {
        ChunkRef {
            bytes: t.as_slice(),
            count: t.aux() as usize,
        }
    }

    /// Takes `c` (a small list's entries after a change that may have
    /// grown them) as the whole list: small if it fits one chunk under
    /// `fill`, else a quicklist of it (split once, as after one insert).
    fn settle(&mut self, mut c: Chunk, fill: Fill) {
        if small_fits(c.count, c.used(), fill) {
            c.compact();
            let count = c.count as u16;
            *self = List::Small(ThinBytes::with_aux(c.buf, count));
            return;
        }
        let mut q = Quick {
            len: c.count,
            chunks: VecDeque::from([c]),
            fill,
        };
        q.split_if_needed(0);
        *self = List::Quick(Box::new(q));
    }

    /// Adds `val` at `end`.
    pub fn push(&mut self, end: End, val: &[u8], fill: Fill) {
        self.push_all(end, std::slice::from_ref(&val), fill);
    }

    /// Adds each of `vals` at `end` in turn (LPUSH's order: the last one
    /// ends up at the head). A small list that stays small grows once, to
    /// its exact new size.
    pub fn push_all<V: AsRef<[u8]>>(&mut self, end: End, vals: &[V], fill: Fill) {
        if let List::Small(t) = self {
            let count = t.aux() as usize + vals.len();
            let added: usize = vals.iter().map(|v| encoded_len(v.as_ref())).sum();
            let mut used = t.len();
            let one_chunk = vals.iter().enumerate().all(|(i, v)| {
                let ok = accepts(t.aux() as usize + i, used, v.as_ref().len(), fill);
                used += encoded_len(v.as_ref());
                ok
            });
            if one_chunk && count <= SMALL_MAX_COUNT && used <= PACKED_MAX_SAFETY_BYTES {
                t.edit(|buf| {
                    buf.reserve_exact(added);
                    match end {
                        // The new entries go after the old ones, last
                        // pushed first, and turn round to the front.
                        End::Left => {
                            vals.iter().rev().for_each(|v| encode_into(buf, v.as_ref()));
                            buf.rotate_right(added);
                        }
                        End::Right => vals.iter().for_each(|v| encode_into(buf, v.as_ref())),
                    }
                });
                t.set_aux(count as u16);
                return;
            }
            // The elements so far fit one chunk; they become the
            // quicklist's first.
            let c = take_chunk(t);
            let len = c.count;
            let chunks = if len == 0 {
                VecDeque::new()
            } else {
                VecDeque::from([c])
            };
            *self = List::Quick(Box::new(Quick { chunks, len, fill }));
        }
        if let List::Quick(q) = self {
            q.fill = fill;
            for v in vals {
                q.push(end, v.as_ref());
            }
        }
    }

    /// Removes and returns the element at `end`. Both ends take O(1): the
    /// last element is found through its back length.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match self {
            List::Small(t) if t.is_empty() => None,
            List::Small(t) => Some(shrink_small(t, |c| match end {
                End::Left => c.remove_at(0),
                End::Right => c.pop_back(),
            })),
            List::Quick(q) => q.pop(end),
        }
    }

    /// The element at `index` counted from the head.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        if index >= self.len() {
            return None;
        }
        match self {
            List::Small(t) => {
                let c = List::small(t);
                Some(c.data(c.entry_at(c.nth_offset(index))))
            }
            List::Quick(q) => Some(q.get(index)),
        }
    }

    /// Replaces the element at `index` (< len).
    pub fn set(&mut self, index: usize, val: &[u8], fill: Fill) {
        match self {
            List::Small(t) => {
                let mut c = take_chunk(t);
                let off = c.view().nth_offset(index);
                c.remove_at(off);
                c.insert_at(off, &encode(val), fill);
                self.settle(c, fill);
            }
            List::Quick(q) => {
                q.fill = fill;
                q.set(index, val);
            }
        }
    }

    /// Inserts `val` before the element at `index`; `index == len` appends.
    pub fn insert(&mut self, index: usize, val: &[u8], fill: Fill) {
        match self {
            List::Small(t) => {
                let mut c = take_chunk(t);
                let off = c.view().nth_offset(index.min(c.count));
                c.insert_at(off, &encode(val), fill);
                self.settle(c, fill);
            }
            List::Quick(q) => {
                q.fill = fill;
                q.insert(index, val);
            }
        }
    }

    /// Removes the element at `index` (< len) and returns it.
    pub fn remove(&mut self, index: usize) -> Vec<u8> {
        match self {
            List::Small(t) => shrink_small(t, |c| {
                let off = c.view().nth_offset(index);
                c.remove_at(off)
            }),
            List::Quick(q) => q.remove(index),
        }
    }

    /// Calls `f` with each element's index and bytes from `start` towards
    /// the tail until it returns false.
    pub fn walk_forward(&self, start: usize, mut f: impl FnMut(usize, Elem) -> bool) {
        if start >= self.len() {
            return;
        }
        match self {
            List::Small(t) => {
                let c = List::small(t);
                c.walk_forward(c.nth_offset(start), start, &mut f);
            }
            List::Quick(q) => q.walk_forward(start, &mut f),
        }
    }

    /// Calls `f` with each element's index and bytes from the tail towards
    /// the head until it returns false. Each step reads one back length,
    /// so stopping early costs only the elements visited.
    pub fn walk_backward(&self, mut f: impl FnMut(usize, Elem) -> bool) {
        match self {
            List::Small(t) => {
                List::small(t).walk_backward(self.len(), &mut f);
            }
            List::Quick(q) => {
                let mut index = q.len;
                for c in q.chunks.iter().rev() {
                    if !c.view().walk_backward(index, &mut f) {
                        return;
                    }
                    index -= c.count;
                }
            }
        }
    }

    /// Appends a chunk holding exactly `vals`, as quicklist appends a node
    /// read from an RDB file or a DUMP payload: the file's node boundaries
    /// stay whatever `list-max-listpack-size` says now, as in Redis, so the
    /// value dumps again as it came.
    pub fn append_chunk<V: AsRef<[u8]>>(&mut self, vals: &[V], fill: Fill) {
        if vals.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(vals.iter().map(|v| encoded_len(v.as_ref())).sum());
        for v in vals {
            encode_into(&mut buf, v.as_ref());
        }
        let chunk = Chunk {
            buf,
            head: 0,
            count: vals.len(),
        };
        let mut q = match std::mem::take(self) {
            List::Small(t) if t.aux() == 0 => {
                if chunk.count <= SMALL_MAX_COUNT && chunk.used() <= PACKED_MAX_SAFETY_BYTES {
                    *self = List::Small(ThinBytes::with_aux(chunk.buf, chunk.count as u16));
                    return;
                }
                Quick {
                    chunks: VecDeque::new(),
                    len: 0,
                    fill,
                }
            }
            List::Small(mut t) => {
                let first = take_chunk(&mut t);
                Quick {
                    len: first.count,
                    chunks: VecDeque::from([first]),
                    fill,
                }
            }
            List::Quick(q) => *q,
        };
        q.len += chunk.count;
        q.chunks.push_back(chunk);
        *self = List::Quick(Box::new(q));
    }

    /// Each chunk's entries (listpack entries, back lengths included) and
    /// element count, head first: with a header and end byte, a quicklist
    /// node's listpack as RDB and DUMP hold it.
    pub fn chunks(&self) -> Vec<(&[u8], usize)> {
        match self {
            List::Small(t) if t.aux() == 0 => Vec::new(),
            List::Small(t) => vec![(t.as_slice(), t.aux() as usize)],
            List::Quick(q) => q.chunks.iter().map(|c| (c.bytes(), c.count)).collect(),
        }
    }

    /// Every element, head first, owned.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.walk_forward(0, |_, v| {
            out.push(v.to_vec());
            true
        });
        out
    }

    /// Removes `front` elements from the head and `back` from the tail.
    pub fn trim(&mut self, front: usize, back: usize) {
        match self {
            List::Small(_) if front.saturating_add(back) >= self.len() => *self = List::new(),
            List::Small(t) => shrink_small(t, |c| {
                c.drop_front(front);
                c.drop_back(back);
            }),
            List::Quick(q) => q.trim(front, back),
        }
    }

    /// Removes elements equal to `val`: the first `count` from the head for
    /// a positive count, the last `-count` from the tail for a negative
    /// one, all of them for zero. Returns how many went.
    pub fn remove_matching(&mut self, val: &[u8], count: i64, fill: Fill) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        match self {
            List::Small(t) => shrink_small(t, |c| c.remove_matching(val, limit, count < 0)),
            List::Quick(q) => {
                q.fill = fill;
                q.remove_matching(val, limit, count < 0)
            }
        }
    }

    /// The chunks' bytes and counts (for the tests' checks).
    #[cfg(test)]
    fn chunk_views(&self) -> Vec<ChunkRef<'_>> {
        match self {
            List::Small(t) => vec![List::small(t)],
            List::Quick(q) => q.chunks.iter().map(Chunk::view).collect(),
        }
    }
}

/// The most elements a small list holds (its count is 16 bits).
const SMALL_MAX_COUNT: usize = u16::MAX as usize;

/// Redis's estimate of what one element adds to a listpack
/// (`SIZE_ESTIMATE_OVERHEAD`).
const SIZE_ESTIMATE_OVERHEAD_BYTES: usize = 8;

/// Whether a push of an element `raw_len` bytes long (as sent, not as
/// encoded) goes into a chunk of `count` elements taking `used` bytes, by
/// quicklist's own rule (`_quicklistNodeAllowInsert`): the listpack's size
/// with header and end byte, plus the raw length, plus 8, within the byte
/// limit; under a count limit, also fewer than that many elements and
/// within 8 KB. Pushes break chunks exactly where Redis breaks nodes, so
/// DUMP and RDB files hold the same listpacks.
fn accepts(count: usize, used: usize, raw_len: usize, fill: Fill) -> bool {
    if count == 0 {
        return true;
    }
    let new_size =
        packed::LISTPACK_HEADER_BYTES + 1 + used + raw_len + SIZE_ESTIMATE_OVERHEAD_BYTES;
    if fill.max_count == usize::MAX {
        new_size <= fill.max_bytes
    } else {
        new_size <= SIZE_SAFETY_LIMIT_BYTES && count < fill.max_count
    }
}

/// Whether `count` elements in `bytes` bytes make a small list under
/// `fill`: they fit one chunk (or are one element), and the count fits.
fn small_fits(count: usize, bytes: usize, fill: Fill) -> bool {
    count <= SMALL_MAX_COUNT
        && bytes <= PACKED_MAX_SAFETY_BYTES
        && (count <= 1 || (count <= fill.max_count && bytes <= fill.max_bytes))
}

/// A small list's entries as a chunk to change, leaving it empty.
fn take_chunk(t: &mut ThinBytes) -> Chunk {
    let count = t.aux() as usize;
    Chunk {
        buf: t.take_vec(),
        head: 0,
        count,
    }
}

/// Runs `op`, which only removes elements, on a small list's entries; the
/// list stays small, at its new exact size.
fn shrink_small<R>(t: &mut ThinBytes, op: impl FnOnce(&mut Chunk) -> R) -> R {
    let mut c = take_chunk(t);
    let r = op(&mut c);
    c.compact();
    *t = ThinBytes::with_aux(c.buf, c.count as u16);
    r
}

/// A list longer than one chunk: Redis's quicklist, a deque of packed
/// chunks and the total element count.
#[derive(Debug, Clone, Default)]
pub struct Quick {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// The chunk limit the config set at the last write.
    fill: Fill,
}

impl Quick {
    /// Adds `val` at `end`.
    fn push(&mut self, end: End, val: &[u8]) {
        let entry = encode(val);
        let fill = self.fill;
        match end {
            End::Left => {
                if !self
                    .chunks
                    .front()
                    .is_some_and(|c| c.accepts(val.len(), fill))
                {
                    self.chunks.push_front(Chunk::default());
                }
                if let Some(c) = self.chunks.front_mut() {
                    c.push_front(&entry, fill);
                }
            }
            End::Right => {
                if !self
                    .chunks
                    .back()
                    .is_some_and(|c| c.accepts(val.len(), fill))
                {
                    self.chunks.push_back(Chunk::default());
                }
                if let Some(c) = self.chunks.back_mut() {
                    c.push_back(&entry, fill);
                }
            }
        }
        self.len += 1;
    }

    fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let (ci, val) = match end {
            End::Left => {
                let c = self.chunks.front_mut()?;
                (0, c.remove_at(0))
            }
            End::Right => {
                let ci = self.chunks.len().checked_sub(1)?;
                (ci, self.chunks[ci].pop_back())
            }
        };
        self.after_remove(ci);
        Some(val)
    }

    /// Drops chunk `ci` if it is empty and counts one removal.
    fn after_remove(&mut self, ci: usize) {
        self.len -= 1;
        if self.chunks[ci].count == 0 {
            self.chunks.remove(ci);
        }
    }

    /// The chunk holding element `index` (< len) and the element's position
    /// in it, walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut i = index;
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count {
                    return (ci, i);
                }
                i -= c.count;
            }
        } else {
            let mut from_end = self.len - 1 - index;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_end < c.count {
                    return (ci, c.count - 1 - from_end);
                }
                from_end -= c.count;
            }
        }
        unreachable!("index {index} within a list of {}", self.len)
    }

    fn get(&self, index: usize) -> Elem<'_> {
        let (ci, i) = self.locate(index);
        let c = self.chunks[ci].view();
        c.data(c.entry_at(c.nth_offset(i)))
    }

    /// Splits chunk `ci` if an insert or replace pushed it past the limit.
    fn split_if_needed(&mut self, ci: usize) {
        let c = &self.chunks[ci];
        if c.count > 1 && (c.count > self.fill.max_count || c.used() > self.fill.max_bytes) {
            let tail = self.chunks[ci].split();
            self.chunks.insert(ci + 1, tail);
        }
    }

    fn set(&mut self, index: usize, val: &[u8]) {
        let (ci, i) = self.locate(index);
        let fill = self.fill;
        let c = &mut self.chunks[ci];
        let off = c.view().nth_offset(i);
        c.remove_at(off);
        c.insert_at(off, &encode(val), fill);
        self.split_if_needed(ci);
    }

    fn insert(&mut self, index: usize, val: &[u8]) {
        if index == 0 {
            return self.push(End::Left, val);
        }
        if index >= self.len {
            return self.push(End::Right, val);
        }
        let (ci, i) = self.locate(index);
        let fill = self.fill;
        let c = &mut self.chunks[ci];
        let off = c.view().nth_offset(i);
        c.insert_at(off, &encode(val), fill);
        self.len += 1;
        self.split_if_needed(ci);
    }

    fn remove(&mut self, index: usize) -> Vec<u8> {
        let (ci, i) = self.locate(index);
        let c = &mut self.chunks[ci];
        let off = c.view().nth_offset(i);
        let val = c.remove_at(off);
        self.after_remove(ci);
        val
    }

    fn walk_forward(&self, start: usize, f: &mut impl FnMut(usize, Elem) -> bool) {
        let (ci, mut skipped) = self.locate(start);
        let mut index = start;
        let mut off = self.chunks[ci].view().nth_offset(skipped);
        for c in self.chunks.range(ci..) {
            if !c.view().walk_forward(off, index, f) {
                return;
            }
            index += c.count - skipped;
            (off, skipped) = (0, 0);
        }
    }

    fn trim(&mut self, mut front: usize, mut back: usize) {
        if front.saturating_add(back) >= self.len {
            self.chunks.clear();
            self.len = 0;
            return;
        }
        self.len -= front + back;
        while front > 0 {
            let Some(c) = self.chunks.front_mut() else {
                break;
            };
            if front >= c.count {
                front -= c.count;
                self.chunks.pop_front();
            } else {
                c.drop_front(front);
                front = 0;
            }
        }
        while back > 0 {
            let Some(c) = self.chunks.back_mut() else {
                break;
            };
            if back >= c.count {
                back -= c.count;
                self.chunks.pop_back();
            } else {
                c.drop_back(back);
                back = 0;
            }
        }
    }

    fn remove_matching(&mut self, val: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let n = self.chunks.len();
        for k in 0..n {
            if removed == limit {
                break;
            }
            let ci = if from_tail { n - 1 - k } else { k };
            removed += self.chunks[ci].remove_matching(val, limit - removed, from_tail);
        }
        self.chunks.retain(|c| c.count > 0);
        self.len -= removed;
        if removed > 0 {
            self.merge_small_chunks();
        }
        removed
    }

    /// Joins neighbouring chunks whose elements fit in one, as quicklist
    /// merges nodes after deletions, so a list thinned out by LREM does
    /// not keep many nearly empty chunks.
    fn merge_small_chunks(&mut self) {
        let fill = self.fill;
        let mut merged: VecDeque<Chunk> = VecDeque::with_capacity(self.chunks.len());
        for c in self.chunks.drain(..) {
            match merged.back_mut() {
                Some(last)
                    if last.count + c.count <= fill.max_count
                        && last.used() + c.used() <= fill.max_bytes =>
                {
                    last.reserve_back(c.used(), fill);
                    last.buf.extend_from_slice(c.bytes());
                    last.count += c.count;
                }
                _ => merged.push_back(c),
            }
        }
        self.chunks = merged;
    }
}

/// Pops up to `count` elements from `end`, in pop order.
pub fn pop_count(list: &mut List, end: End, count: usize) -> Vec<Vec<u8>> {
    let n = count.min(list.len());
    (0..n).filter_map(|_| list.pop(end)).collect()
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// The chunk limit the config asks for now.
fn config_fill(store: &Store) -> Fill {
    Fill::from_config(store.config.list_max_listpack_size)
}

/// The list under `key` for a write, with the chunk limit the config
/// asks for now (CONFIG SET may have changed it), or WRONGTYPE.
fn write<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<(&'a mut List, Fill)>, CmdError> {
    let fill = config_fill(store);
    let list = write_as::<List>(&mut store.dbs[db], key, now)?;
    Ok(list.map(|l| (l, fill)))
}

/// Deletes `key` if its list has been emptied; returns whether it did.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let now = ctx.now_ms;
    if let Some(Value::List(l)) = ctx.store.dbs[ctx.db_index].get(key, now).map(|e| &e.value)
        && l.is_empty()
    {
        ctx.store.dbs[ctx.db_index].remove(key);
        return true;
    }
    false
}

/// After elements were popped from `end` of `key`: the `lpop`/`rpop`
/// event, the key deleted (and `del`) if emptied, the key modified
/// (Redis's listElementsRemoved).
fn elements_removed(ctx: &mut Ctx, key: &[u8], end: End) {
    ctx.notify(class::LIST, end.pop_event(), key);
    if delete_if_empty(ctx, key) {
        ctx.notify(class::GENERIC, "del", key);
    }
    ctx.modified(key);
}

/// Whether a push creates a missing list (LPUSH) or does nothing (LPUSHX).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfMissing {
    Create,
    Skip,
}

/// Pushes `elements` at `end` of the list under `key`, creating it unless
/// `only_existing`. Returns the new length (0 when nothing was there and
/// it was not created). Shared by the push commands and LMOVE.
fn push_generic(
    ctx: &mut Ctx,
    key: &[u8],
    elements: &[Bytes],
    end: End,
    missing: IfMissing,
) -> Result<usize, CmdError> {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    // One key lookup per command: a second one shows in LPUSH's and
    // RPUSH's throughput.
    let len = match write(ctx.store, db, key, now)? {
        Some((list, fill)) => {
            list.push_all(end, elements, fill);
            list.len()
        }
        None if missing == IfMissing::Skip => return Ok(0),
        None => {
            let mut list = List::new();
            list.push_all(end, elements, config_fill(ctx.store));
            let len = list.len();
            ctx.store.dbs[db].set(key, Value::List(list), Ttl::Clear, now);
            len
        }
    };
    ctx.dirty(elements.len() as u64);
    ctx.changed(class::LIST, end.push_event(), key);
    Ok(len)
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Left, IfMissing::Create)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Right, IfMissing::Create)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Left, IfMissing::Skip)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Right, IfMissing::Skip)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Left)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Right)
}

fn pop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    if args.len() > 3 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{name}' command"
        )));
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::util::parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let (db, now, key) = (ctx.db_index, ctx.now_ms, &args[1]);
    let Some((list, _)) = write(ctx.store, db, key, now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.null_array(),
        }
        return Ok(());
    };
    let popped = match count {
        // Emptied lists are deleted, so a stored list always has an element.
        None => match list.pop(end) {
            Some(v) => {
                ctx.out.bulk(&v);
                1
            }
            None => {
                ctx.out.null();
                0
            }
        },
        Some(n) => {
            let popped = pop_count(list, end, n);
            ctx.out.bulk_array(popped.iter());
            popped.len()
        }
    };
    if popped > 0 {
        ctx.dirty(popped as u64);
        elements_removed(ctx, key, end);
    }
    Ok(())
}

/// LLEN key
pub fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_as::<List>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's index rule: a negative index counts from the tail.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    let Some(list) = read_as::<List>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = list.len() as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    start = start.max(0);
    if start > stop || start >= len {
        ctx.out.array(0);
        return Ok(());
    }
    stop = stop.min(len - 1);
    let out = &mut *ctx.out;
    out.array((stop - start + 1) as usize);
    list.walk_forward(start as usize, |i, v| {
        v.reply(out);
        (i as i64) < stop
    });
    Ok(())
}

/// LINDEX key index
pub fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = read_as::<List>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = arg_i64(&args[2])?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(v) => v.reply(ctx.out),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some((list, fill)) = write(ctx.store, db, &args[1], now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = arg_i64(&args[2])?;
    let Some(i) = resolve_index(index, list.len()) else {
        return Err(CmdError::err("index out of range"));
    };
    list.set(i, &args[3], fill);
    ctx.dirty(1);
    ctx.changed(class::LIST, "lset", &args[1]);
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let after = if eq_ic(&args[2], "after") {
        true
    } else if eq_ic(&args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some((list, fill)) = write(ctx.store, db, &args[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = Needle::new(&args[3]);
    let mut found = None;
    list.walk_forward(0, |i, v| {
        if pivot.is(v) {
            found = Some(i);
        }
        found.is_none()
    });
    let Some(pos) = found else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(if after { pos + 1 } else { pos }, &args[4], fill);
    let len = list.len();
    ctx.dirty(1);
    ctx.changed(class::LIST, "linsert", &args[1]);
    ctx.out.int(len as i64);
    Ok(())
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some((list, fill)) = write(ctx.store, db, &args[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = list.remove_matching(&args[3], count, fill);
    ctx.dirty(removed as u64);
    let emptied = delete_if_empty(ctx, &args[1]);
    if removed > 0 {
        ctx.changed(class::LIST, "lrem", &args[1]);
        if emptied {
            ctx.notify(class::GENERIC, "del", &args[1]);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some((list, _)) = write(ctx.store, db, &args[1], now)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = list.len() as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    start = start.max(0);
    let (front, back) = if start > stop || start >= len {
        (len, 0)
    } else {
        stop = stop.min(len - 1);
        (start, len - stop - 1)
    };
    list.trim(front as usize, back as usize);
    ctx.dirty((front + back) as u64);
    // Redis counts LTRIM as modifying the list even when it kept every
    // element.
    ctx.notify(class::LIST, "ltrim", &args[1]);
    if delete_if_empty(ctx, &args[1]) {
        ctx.notify(class::GENERIC, "del", &args[1]);
    }
    ctx.modified(&args[1]);
    ctx.out.ok();
    Ok(())
}

/// Parses a non-negative integer option of LPOS (COUNT, MAXLEN); anything
/// else is "`NAME` can't be negative", as Redis answers.
fn arg_positive(arg: &[u8], name: &str) -> Result<usize, CmdError> {
    match crate::util::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(CmdError::err(format!("{name} can't be negative"))),
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen = 0usize;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(&args[j], "rank") && more {
            j += 1;
            rank = arg_i64(&args[j])?;
            if rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq_ic(&args[j], "count") && more {
            j += 1;
            count = Some(arg_positive(&args[j], "COUNT")?);
        } else if eq_ic(&args[j], "maxlen") && more {
            j += 1;
            maxlen = arg_positive(&args[j], "MAXLEN")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let element = args[2].clone();
    let Some(list) = read_as::<List>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    // Redis negates a negative rank in a C long, so -2^63 stays negative:
    // every match counts from the first, with no COUNT limit.
    let (mut skip, want) = if rank == i64::MIN {
        (0, usize::MAX)
    } else {
        let want = match count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        (rank.unsigned_abs() - 1, want)
    };
    let mut matches = Vec::new();
    let mut compared = 0usize;
    let needle = Needle::new(&element);
    let mut visit = |i: usize, v: Elem| {
        if maxlen != 0 && compared >= maxlen {
            return false;
        }
        compared += 1;
        if needle.is(v) {
            if skip > 0 {
                skip -= 1;
            } else {
                matches.push(i);
                if matches.len() >= want {
                    return false;
                }
            }
        }
        true
    };
    if rank > 0 {
        list.walk_forward(0, &mut visit);
    } else {
        list.walk_backward(&mut visit);
    }
    match count {
        None => match matches.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(matches.len());
            for i in matches {
                ctx.out.int(i as i64);
            }
        }
    }
    Ok(())
}

/// Pops from `from` of the list at `src` and pushes onto `to` of `dst`
/// (which may be the same key), as LMOVE does. Returns the moved element,
/// or `None` when `src` holds nothing. WRONGTYPE for either key is
/// reported before anything moves. Reusable by BLMOVE.
pub fn move_element(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CmdError> {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    if write(ctx.store, db, src, now)?.is_none() {
        return Ok(None);
    }
    // The destination's type is checked before the source is touched.
    write(ctx.store, db, dst, now)?;
    let Some((list, fill)) = write(ctx.store, db, src, now)? else {
        return Ok(None);
    };
    // Emptied lists are deleted, so a stored list always has an element.
    let Some(value) = list.pop(from) else {
        return Ok(None);
    };
    // As Redis: the push (and its event) first, then the pop's.
    if src == dst {
        list.push(to, &value, fill);
        ctx.changed(class::LIST, to.push_event(), dst);
    } else {
        push_generic(
            ctx,
            dst,
            &[Bytes::copy_from_slice(&value)],
            to,
            IfMissing::Create,
        )?;
    }
    elements_removed(ctx, src, from);
    ctx.dirty(1);
    Ok(Some(value))
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = End::parse(&args[3])?;
    let to = End::parse(&args[4])?;
    lmove_generic(ctx, &args[1], &args[2], from, to)
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, &args[1], &args[2], End::Right, End::Left)
}

fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    match move_element(ctx, src, dst, from, to)? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `numkeys key [key ...] <end> [COUNT count]` (LMPOP, BLMPOP, ZMPOP,
/// BZMPOP), with the end (LEFT|RIGHT, MIN|MAX) read by `parse_end`.
pub struct MpopArgs<E> {
    /// Argument positions of the keys.
    pub keys: std::ops::Range<usize>,
    pub end: E,
    pub count: usize,
}

/// Parses `numkeys key [key ...] <end> [COUNT count]` starting at
/// argument `numkeys_at`, with Redis's errors in Redis's order.
pub fn parse_mpop<E>(
    args: &[Bytes],
    numkeys_at: usize,
    parse_end: impl Fn(&[u8]) -> Result<E, CmdError>,
) -> Result<MpopArgs<E>, CmdError> {
    let numkeys = match crate::util::parse_i64(&args[numkeys_at]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    let where_at = (numkeys_at as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let end = parse_end(&args[where_at])?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match crate::util::parse_i64(&args[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(CmdError::err("count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: numkeys_at + 1..where_at,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list among `keys` and replies
/// `[key, [elements]]`; replies nothing and returns false when all are
/// empty. Reusable by BLMPOP.
pub fn mpop_from(ctx: &mut Ctx, keys: &[Bytes], end: End, count: usize) -> Result<bool, CmdError> {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    for key in keys {
        let Some((list, _)) = write(ctx.store, db, key, now)? else {
            continue;
        };
        let popped = pop_count(list, end, count);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk_array(popped.iter());
        ctx.dirty(popped.len() as u64);
        elements_removed(ctx, key, end);
        // Replayed as the plain pop of as many as it took.
        let n = Bytes::from(popped.len().to_string());
        ctx.propagate_as(vec![end.pop_command(), key.clone(), n]);
        return Ok(true);
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let parsed = parse_mpop(args, 1, End::parse)?;
    if !mpop_from(ctx, &args[parsed.keys], parsed.end, parsed.count)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking commands: each tries its non-blocking form and, when nothing can
// be served, asks the loop to park the client on its keys (see
// src/blocking.rs). When a key becomes ready the command is run again.

/// Parses a blocking timeout in seconds (decimals allowed; 0 waits
/// forever) into an absolute deadline, with Redis's rounding (see
/// [`crate::util::timeout_seconds_to_ms`]).
///
/// Redis adds the timeout to the current time without an overflow check;
/// a timeout so large that the sum overflows never fires there, so the
/// deadline saturates here, which also never fires.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let ms = crate::util::timeout_seconds_to_ms(arg)
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    match u64::try_from(ms) {
        Err(_) => Err(CmdError::err("timeout is negative")),
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(now_ms.saturating_add(ms))),
    }
}

/// BLPOP and BRPOP: the first non-empty list in argument order, or for a
/// woken client the key that became ready.
fn bpop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    // A woken client is served from the key that became ready alone
    // (see `Ctx::serving`); it blocks again on all of its keys.
    let serving = ctx.serving.clone();
    let candidates = serving
        .as_ref()
        .map_or(keys, |s| std::slice::from_ref(&s.key));
    let (db, now) = (ctx.db_index, ctx.now_ms);
    for key in candidates {
        let Some((list, _)) = write(ctx.store, db, key, now)? else {
            continue;
        };
        let Some(value) = list.pop(end) else {
            continue;
        };
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&value);
        ctx.store.dirty += 1;
        elements_removed(ctx, key, end);
        ctx.propagate_as(vec![end.pop_command(), key.clone()]);
        return Ok(());
    }
    ctx.block_on(keys, deadline, WaitFor::ListElement, Unblocked::NullArray);
    Ok(())
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, End::Left)
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, End::Right)
}

/// The shared body of BLMOVE and BRPOPLPUSH.
fn bmove(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End, timeout: &[u8]) -> CmdResult {
    let deadline = parse_timeout(timeout, ctx.now_ms)?;
    match move_element(ctx, src, dst, from, to)? {
        Some(value) => ctx.out.bulk(&value),
        None => ctx.block_on(
            std::slice::from_ref(src),
            deadline,
            WaitFor::ListElement,
            Unblocked::Null,
        ),
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = End::parse(&args[3])?;
    let to = End::parse(&args[4])?;
    ctx.propagate_as(vec![
        Bytes::from_static(b"LMOVE"),
        args[1].clone(),
        args[2].clone(),
        args[3].clone(),
        args[4].clone(),
    ]);
    bmove(ctx, &args[1], &args[2], from, to, &args[5])
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let replay = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        args[1].clone(),
        args[2].clone(),
    ];
    ctx.propagate_as(replay);
    bmove(ctx, &args[1], &args[2], End::Right, End::Left, &args[3])
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis validates numkeys, the direction and COUNT before the timeout.
    let parsed = parse_mpop(args, 2, End::parse)?;
    let deadline = parse_timeout(&args[1], ctx.now_ms)?;
    let keys = &args[parsed.keys];
    let serving = ctx.serving.clone();
    let from = serving
        .as_ref()
        .map_or(keys, |s| std::slice::from_ref(&s.key));
    if !mpop_from(ctx, from, parsed.end, parsed.count)? {
        ctx.block_on(keys, deadline, WaitFor::ListElement, Unblocked::NullArray);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list and the chunk limit its writes use, as a command has them.
    struct Filled {
        l: List,
        fill: Fill,
    }

    impl Filled {
        fn push(&mut self, end: End, v: &[u8]) {
            self.l.push(end, v, self.fill);
        }

        fn set(&mut self, i: usize, v: &[u8]) {
            self.l.set(i, v, self.fill);
        }

        fn insert(&mut self, i: usize, v: &[u8]) {
            self.l.insert(i, v, self.fill);
        }

        fn remove_matching(&mut self, v: &[u8], count: i64) -> usize {
            self.l.remove_matching(v, count, self.fill)
        }
    }

    impl std::ops::Deref for Filled {
        type Target = List;

        fn deref(&self) -> &List {
            &self.l
        }
    }

    impl std::ops::DerefMut for Filled {
        fn deref_mut(&mut self) -> &mut List {
            &mut self.l
        }
    }

    fn filled(fill: Fill) -> Filled {
        Filled {
            l: List::new(),
            fill,
        }
    }

    /// A list with `max_count` elements per chunk, so small tests cross
    /// chunk boundaries.
    fn small(max_count: i64) -> Filled {
        filled(Fill::from_config(max_count))
    }

    /// The element at `i`, owned.
    fn at(l: &List, i: usize) -> Option<Vec<u8>> {
        l.get(i).map(Elem::to_vec)
    }

    fn contents(l: &List) -> Vec<String> {
        l.to_vec()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    /// Checks the list's bookkeeping against its chunks, and that walking
    /// each chunk backwards by back lengths finds the same entries as
    /// walking it forwards by length prefixes.
    fn check(l: &List) {
        let chunks = l.chunk_views();
        assert_eq!(chunks.iter().map(|c| c.count).sum::<usize>(), l.len());
        if let List::Small(t) = l {
            assert_eq!(chunks[0].count, t.aux() as usize);
        }
        for c in chunks.iter().filter(|_| !l.is_empty()) {
            assert!(c.count > 0, "empty chunk kept");
            let offs = c.offsets();
            assert_eq!(offs.len(), c.count);
            let mut back = Vec::new();
            let mut end = c.used();
            while end > 0 {
                let e = c.entry_before(end);
                assert_eq!(e.next, end);
                back.push(e.start);
                end = e.start;
            }
            back.reverse();
            assert_eq!(back, offs);
            for (i, &off) in offs.iter().enumerate() {
                assert_eq!(c.nth_offset(i), off);
            }
        }
    }

    /// A small deterministic PRNG (xorshift64*), so the random tests
    /// repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn fill_from_config() {
        assert_eq!(Fill::from_config(-2).max_bytes, 8192);
        assert_eq!(Fill::from_config(-5).max_bytes, 65536);
        assert_eq!(Fill::from_config(-9).max_bytes, 65536);
        assert_eq!(Fill::from_config(3).max_count, 3);
        assert_eq!(Fill::from_config(0).max_count, 1);
    }

    #[test]
    fn push_pop_both_ends_across_chunks() {
        let mut l = small(3);
        for i in 0..10 {
            l.push(End::Right, format!("r{i}").as_bytes());
            l.push(End::Left, format!("l{i}").as_bytes());
        }
        check(&l);
        assert_eq!(l.len(), 20);
        assert!(l.chunk_views().len() >= 7);
        assert_eq!(at(&l, 0), Some(b"l9".to_vec()));
        assert_eq!(at(&l, 19), Some(b"r9".to_vec()));
        assert_eq!(l.pop(End::Left).unwrap(), b"l9");
        assert_eq!(l.pop(End::Right).unwrap(), b"r9");
        let mut from_left = Vec::new();
        while let Some(v) = l.pop(End::Left) {
            from_left.push(String::from_utf8(v).unwrap());
            check(&l);
        }
        assert_eq!(from_left.len(), 18);
        assert_eq!(from_left[0], "l8");
        assert_eq!(from_left[17], "r8");
        assert!(l.is_empty());
        assert_eq!(l.pop(End::Right), None);
    }

    #[test]
    fn byte_limited_chunks_and_long_elements() {
        let mut l = filled(Fill::from_config(-1));
        let long = vec![b'x'; 300];
        for _ in 0..100 {
            l.push(End::Right, &long);
        }
        check(&l);
        assert!(l.chunk_views().iter().all(|c| c.used() <= 4096));
        // An element bigger than a chunk gets a chunk of its own.
        let huge = vec![b'y'; 10_000];
        l.push(End::Left, &huge);
        l.push(End::Right, &huge);
        check(&l);
        assert_eq!(at(&l, 0).unwrap(), huge);
        assert_eq!(at(&l, 101).unwrap(), huge);
        assert_eq!(at(&l, 50).unwrap(), long);
    }

    #[test]
    fn index_set_insert_remove() {
        let mut l = small(4);
        for i in 0..20 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        for i in 0..20 {
            assert_eq!(at(&l, i), Some(i.to_string().into_bytes()));
        }
        assert_eq!(at(&l, 20), None);
        l.set(5, b"five-but-longer");
        l.insert(0, b"head");
        l.insert(21, b"tail");
        l.insert(10, b"mid");
        check(&l);
        let mut want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        want[5] = "five-but-longer".into();
        want.insert(0, "head".into());
        want.push("tail".into());
        want.insert(10, "mid".into());
        assert_eq!(contents(&l), want);
        assert_eq!(l.remove(10), b"mid");
        assert_eq!(l.remove(0), b"head");
        want.remove(10);
        want.remove(0);
        check(&l);
        assert_eq!(contents(&l), want);
        // Inserting many times into one chunk splits it.
        for _ in 0..10 {
            l.insert(3, b"x");
        }
        check(&l);
        assert!(l.chunk_views().iter().all(|c| c.count <= 4));
        assert_eq!(at(&l, 3), Some(b"x".to_vec()));
        assert_eq!(at(&l, 13), Some(b"3".to_vec()));
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut l = small(3);
        for v in ["a", "b", "a", "c", "a", "b", "a", "a"] {
            l.push(End::Right, v.as_bytes());
        }
        assert_eq!(l.remove_matching(b"a", 2), 2);
        assert_eq!(contents(&l), ["b", "c", "a", "b", "a", "a"]);
        assert_eq!(l.remove_matching(b"a", -2), 2);
        assert_eq!(contents(&l), ["b", "c", "a", "b"]);
        assert_eq!(l.remove_matching(b"b", 0), 2);
        assert_eq!(contents(&l), ["c", "a"]);
        assert_eq!(l.remove_matching(b"z", 0), 0);
        check(&l);
        assert_eq!(l.chunk_views().len(), 1, "thinned chunks are merged");
        assert_eq!(l.remove_matching(b"c", 0), 1);
        assert_eq!(l.remove_matching(b"a", -1), 1);
        assert!(l.is_empty());
        check(&l);
    }

    #[test]
    fn trim_across_chunks() {
        let mut l = small(3);
        for i in 0..20 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        l.trim(4, 5);
        check(&l);
        let want: Vec<String> = (4..15).map(|i| i.to_string()).collect();
        assert_eq!(contents(&l), want);
        l.trim(0, 0);
        assert_eq!(l.len(), 11);
        l.trim(10, 0);
        assert_eq!(contents(&l), ["14"]);
        l.trim(1, 0);
        assert!(l.is_empty());
        check(&l);
    }

    #[test]
    fn walks_forward_and_backward() {
        let mut l = small(3);
        for i in 0..10 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        let mut seen = Vec::new();
        l.walk_forward(4, |i, v| {
            seen.push((i, v.to_vec()));
            i < 6
        });
        assert_eq!(
            seen,
            [(4, b"4".to_vec()), (5, b"5".to_vec()), (6, b"6".to_vec())]
        );
        let mut back = Vec::new();
        l.walk_backward(|i, v| {
            assert!(Needle::new(i.to_string().as_bytes()).is(v));
            back.push(i);
            true
        });
        assert_eq!(back, (0..10).rev().collect::<Vec<_>>());
    }

    #[test]
    fn pop_count_stops_at_len() {
        let mut l = small(2);
        for i in 0..5 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        let got = pop_count(&mut l, End::Right, 3);
        assert_eq!(got, [b"4".to_vec(), b"3".to_vec(), b"2".to_vec()]);
        let got = pop_count(&mut l, End::Left, 10);
        assert_eq!(got, [b"0".to_vec(), b"1".to_vec()]);
        assert!(l.is_empty());
    }

    #[test]
    fn varint_lengths() {
        let mut l = filled(Fill::default());
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            l.push(End::Right, &vec![b'q'; n]);
        }
        for (i, n) in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000]
            .into_iter()
            .enumerate()
        {
            assert_eq!(at(&l, i).unwrap().len(), n);
        }
        check(&l);
    }

    /// A list entry is a listpack entry: the element's encoding, then its
    /// size as a back length (one byte up to 127, two below 16,383).
    #[test]
    fn entries_are_listpack_entries() {
        let mut want = vec![0xF3];
        want.extend_from_slice(&12_345_678i32.to_le_bytes());
        want.push(5);
        assert_eq!(encode(b"12345678"), want);
        assert_eq!(encode(b"abcdefgh").len(), 1 + 8 + 1);
        assert_eq!(encode(b"7"), [7, 1]);
        for (len, size) in [
            (63, 1 + 63 + 1),
            (64, 2 + 64 + 1),
            (125, 2 + 125 + 1),
            (126, 2 + 126 + 2),
            (4095, 2 + 4095 + 2),
            (4096, 5 + 4096 + 2),
            (16_377, 5 + 16_377 + 2),
            (16_378, 5 + 16_378 + 3),
        ] {
            let e = encode(&vec![b'x'; len]);
            assert_eq!(
                (e.len(), encoded_len(&vec![b'x'; len])),
                (size, size),
                "{len}"
            );
            let c = ChunkRef {
                bytes: &e,
                count: 1,
            };
            assert_eq!(c.entry_before(e.len()), c.entry_at(0));
        }
    }

    #[test]
    fn a_list_that_fits_one_chunk_is_one_exact_allocation() {
        let mut l = small(-2);
        for i in 0..10 {
            l.push(End::Right, format!("item:{i:05}").as_bytes());
        }
        let List::Small(t) = &l.l else {
            panic!("ten short elements make a small list");
        };
        assert_eq!(t.len(), 10 * (1 + 10 + 1));
        assert_eq!(std::mem::size_of::<List>(), 16);
        // Past the chunk limit it becomes a quicklist, and stays one.
        for _ in 0..1000 {
            l.push(End::Left, b"abcdefgh");
        }
        assert!(matches!(l.l, List::Quick(_)));
        check(&l);
        assert_eq!(at(&l, 1009), Some(b"item:00009".to_vec()));
        // A count limit applies to small lists too.
        let mut l = small(3);
        l.push(End::Right, b"a");
        l.push(End::Right, b"b");
        l.push(End::Right, b"c");
        assert!(matches!(l.l, List::Small(_)));
        l.insert(1, b"x");
        assert!(matches!(l.l, List::Quick(_)));
        check(&l);
        assert_eq!(contents(&l), ["a", "x", "b", "c"]);
    }

    #[test]
    fn long_elements_round_trip_at_both_ends() {
        let sizes = [
            0usize, 1, 125, 126, 127, 128, 200, 16_380, 16_381, 16_382, 16_383, 16_384, 20_000,
            70_000,
        ];
        let elem = |i: usize, n: usize| -> Vec<u8> { (0..n).map(|k| (k * 7 + i) as u8).collect() };
        for fill in [
            Fill::from_config(-5),
            Fill::from_config(3),
            Fill::from_config(100),
        ] {
            let mut l = filled(fill);
            for (i, &n) in sizes.iter().enumerate() {
                l.push(End::Right, &elem(i, n));
                l.push(End::Left, &elem(i, n));
            }
            check(&l);
            let k = sizes.len();
            for (i, &n) in sizes.iter().enumerate() {
                assert_eq!(at(&l, k + i).unwrap(), elem(i, n));
                assert_eq!(at(&l, k - 1 - i).unwrap(), elem(i, n));
            }
            let mut back = Vec::new();
            l.walk_backward(|i, v| {
                back.push((i, v.to_vec()));
                true
            });
            let all = l.to_vec();
            assert_eq!(back.len(), all.len());
            for (i, v) in back {
                assert_eq!(all[i], v);
            }
            for (i, &n) in sizes.iter().enumerate().rev() {
                assert_eq!(l.pop(End::Right).unwrap(), elem(i, n));
                assert_eq!(l.pop(End::Left).unwrap(), elem(i, n));
                check(&l);
            }
            assert!(l.is_empty());
        }
    }

    #[test]
    fn walk_backward_stops_early() {
        let mut l = small(4);
        for i in 0..10 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        let mut seen = Vec::new();
        l.walk_backward(|i, v| {
            seen.push(String::from_utf8(v.to_vec()).unwrap());
            i > 7
        });
        assert_eq!(seen, ["9", "8", "7"]);
    }

    #[test]
    fn head_pushes_and_pops_reuse_the_front_space() {
        fn quick(l: &List) -> &Quick {
            match l {
                List::Quick(q) => q,
                List::Small(_) => panic!("a list of 1,500 elements is a quicklist"),
            }
        }
        let fill = Fill::default();
        let mut l = filled(fill);
        for _ in 0..1500 {
            l.push(End::Left, b"abcdefgh");
        }
        check(&l);
        let cap = quick(&l).chunks[0].buf.capacity();
        assert!(cap <= fill.max_bytes);
        // Popping and pushing at the head only moves `head`.
        for _ in 0..100 {
            let v = l.pop(End::Left).unwrap();
            l.push(End::Left, &v);
            assert_eq!(quick(&l).chunks[0].buf.capacity(), cap);
        }
        // A queue (push at the tail, pop at the head) reuses the space that
        // the pops free instead of growing the buffer past the limit.
        for i in 0..20_000u32 {
            l.push(End::Right, &i.to_le_bytes());
            l.pop(End::Left).unwrap();
            let chunks = &quick(&l).chunks;
            assert!(chunks.iter().all(|c| c.buf.capacity() <= fill.max_bytes));
        }
        check(&l);
        assert_eq!(l.len(), 1500);
        assert_eq!(at(&l, 1499).unwrap(), 19_999u32.to_le_bytes());
    }

    /// Runs random operations on a list and on a `VecDeque` model and
    /// compares them after each one.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for fill in [1, 2, 5, 16, 128, -1, -2] {
            let mut l = filled(Fill::from_config(fill));
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut most_chunks = 0;
            for step in 0..3000 {
                // Short values repeat, so LREM and LPOS find matches; a
                // few are long enough to need multi-byte lengths.
                let val = match rng.below(20) {
                    0 => vec![b'L'; 100 + rng.below(300)],
                    // Integers of every encoded width, and look-alikes.
                    2 => ((rng.next() as i64) >> rng.below(64))
                        .to_string()
                        .into_bytes(),
                    3 => [&b"0"[..], b"-0", b"007", b"+1"][rng.below(4)].to_vec(),
                    1 if step % 50 == 0 => vec![b'H'; 16_380 + rng.below(10)],
                    _ => vec![b'a' + rng.below(4) as u8; rng.below(3)],
                };
                let len = model.len();
                match rng.below(15) {
                    0..=2 => {
                        l.push(End::Right, &val);
                        model.push_back(val);
                    }
                    3..=5 => {
                        l.push(End::Left, &val);
                        model.push_front(val);
                    }
                    6 => assert_eq!(l.pop(End::Right), model.pop_back()),
                    7 => assert_eq!(l.pop(End::Left), model.pop_front()),
                    8 if len > 0 => {
                        let i = rng.below(len);
                        l.set(i, &val);
                        model[i] = val;
                    }
                    9 | 10 => {
                        let i = rng.below(len + 1);
                        l.insert(i, &val);
                        model.insert(i, val);
                    }
                    11 if len > 0 => {
                        let i = rng.below(len);
                        assert_eq!(Some(l.remove(i)), model.remove(i));
                    }
                    12 => {
                        let (front, back) = (rng.below(2), rng.below(2));
                        l.trim(front, back);
                        for _ in 0..front {
                            model.pop_front();
                        }
                        for _ in 0..back {
                            model.pop_back();
                        }
                    }
                    13 => {
                        let count = rng.below(7) as i64 - 3;
                        let limit = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        let mut want = 0;
                        let mut keep: Vec<bool> = vec![true; len];
                        let order: Vec<usize> = if count < 0 {
                            (0..len).rev().collect()
                        } else {
                            (0..len).collect()
                        };
                        for i in order {
                            if want < limit && model[i] == val {
                                keep[i] = false;
                                want += 1;
                            }
                        }
                        let mut i = 0;
                        model.retain(|_| {
                            i += 1;
                            keep[i - 1]
                        });
                        assert_eq!(l.remove_matching(&val, count), want);
                    }
                    _ => {
                        let n = rng.below(3);
                        let end = if rng.below(2) == 0 {
                            End::Left
                        } else {
                            End::Right
                        };
                        let got = pop_count(&mut l, end, n);
                        let want: Vec<Vec<u8>> = (0..n)
                            .filter_map(|_| match end {
                                End::Left => model.pop_front(),
                                End::Right => model.pop_back(),
                            })
                            .collect();
                        assert_eq!(got, want);
                    }
                }
                check(&l);
                most_chunks = most_chunks.max(l.chunk_views().len());
                assert_eq!(l.len(), model.len(), "fill {fill} step {step}");
                assert_eq!(l.to_vec(), Vec::from(model.clone()));
                if !model.is_empty() {
                    let i = rng.below(model.len());
                    assert_eq!(at(&l, i).as_ref(), Some(&model[i]));
                    let k = rng.below(model.len()) + 1;
                    let mut back = Vec::new();
                    l.walk_backward(|i, v| {
                        back.push((i, v.to_vec()));
                        back.len() < k
                    });
                    let want: Vec<(usize, Vec<u8>)> = (0..model.len())
                        .rev()
                        .take(k)
                        .map(|i| (i, model[i].clone()))
                        .collect();
                    assert_eq!(back, want);
                }
            }
            // The run must have grown the list across several chunks for
            // the comparison to mean much.
            assert!(
                most_chunks >= 3,
                "fill {fill}: at most {most_chunks} chunks"
            );
        }
    }
}
