//! A stream's entries: Redis's listpack blocks under an ordered index.
//!
//! Each block is a complete Redis 7.0 listpack, byte for byte what Redis's
//! radix tree holds under the block's master ID, so the RDB and DUMP
//! writers copy [`Log::nodes`] out as they are and a block read from a
//! file is kept as it came. The index is a `BTreeMap` from master ID to
//! block: the block that may hold an ID is the one with the greatest
//! master ID not above it, found in O(log N).
//!
//! # A block
//! A master entry, then the entries, each element followed by its back
//! length (see `packed.rs` for the element encoding):
//!
//! ```text
//! count | deleted | num-fields | field-1 .. field-N | 0
//! flags | ms-diff | seq-diff | num-fields | field-1 | value-1 .. | lp-count
//! flags | ms-diff | seq-diff | value-1 .. value-N | lp-count   (SAMEFIELDS)
//! ```
//!
//! `count` is the block's live entries and `deleted` those flagged
//! DELETED: Redis never takes an entry out of a block, it flags it, and
//! drops the whole block when its last live entry goes (XDEL) or when
//! trimming can drop every entry in it. An entry's ID is its differences
//! from the master ID (the block's first entry's ID); an entry whose
//! fields are the master fields, in order, stores only its values
//! (SAMEFIELDS). `lp-count` is how many elements the entry has before it,
//! so a walk backwards reads it and steps back that many elements.
//!
//! Appending, deleting and trimming change the bytes as Redis's
//! `streamAppendItem`, `streamIteratorRemoveEntry` and `streamTrim` do,
//! block boundaries included, so that DUMP payloads match Redis's.
//!
//! # Trust
//! Blocks this file builds are well-formed by construction, and a loaded
//! block is checked whole before it is kept ([`Log::push_loaded_node`],
//! as Redis's deep `streamValidateListpackIntegrity`, and stricter where
//! the walks below rely on it: entry counts agree with the flags, IDs
//! increase, flags are one byte). After that, walks read blocks without
//! bounds checks of their own.

use std::collections::BTreeMap;
use std::collections::btree_map;

use bytes::Bytes;

use super::packed::{
    Elem, LISTPACK_END, LISTPACK_HEADER_BYTES, backlen_len, decode, element_end, encode,
    put_backlen, read_backlen,
};
use crate::resp::writer::format_i64;
use crate::util::parse_i64;

/// An entry's flags (Redis's STREAM_ITEM_FLAG_*), always stored as a
/// one-byte integer element, so that flagging an entry rewrites one byte.
const FLAG_DELETED: u8 = 1;
const FLAG_SAMEFIELDS: u8 = 2;

/// The block size limit when `stream-node-max-bytes` is 0 or above it
/// (Redis's STREAM_LISTPACK_MAX_SIZE).
const BLOCK_MAX_BYTES: usize = 1 << 30;
/// What a new block reserves (STREAM_LISTPACK_MAX_PRE_ALLOCATE), so that
/// appends do not reallocate every time; a block is shrunk to fit when
/// the next one opens.
const BLOCK_PREALLOC_BYTES: usize = 4096;
/// The index's share per block: a B-tree slot (16-byte key, 24-byte
/// `Vec`) in nodes about two-thirds full.
const INDEX_BYTES_PER_BLOCK: usize = 64;
/// A listpack header's element count once it no longer knows
/// (LP_HDR_NUMELE_UNKNOWN).
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Where the master entry's `count` element starts.
const COUNT_AT: usize = LISTPACK_HEADER_BYTES;
/// A stream entry ID: milliseconds and a sequence number, ordered as a
/// pair (Redis's `streamID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The ID right after this one, `None` after `MAX` (streamIncrID).
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq + 1,
            })
        } else if self.ms < u64::MAX {
            Some(StreamId {
                ms: self.ms + 1,
                seq: 0,
            })
        } else {
            None
        }
    }

    /// The ID right before this one, `None` before `MIN` (streamDecrID).
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq - 1,
            })
        } else if self.ms > 0 {
            Some(StreamId {
                ms: self.ms - 1,
                seq: u64::MAX,
            })
        } else {
            None
        }
    }

    /// The 16-byte big-endian form Redis keys its radix tree with and
    /// writes in RDB files.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn from_be_bytes(b: [u8; 16]) -> StreamId {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

/// `stream-node-max-bytes` and `stream-node-max-entries` (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

/// How XADD and XTRIM trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries with IDs below this one.
    MinId(StreamId),
}

/// The live entries of a stream, in ID order.
#[derive(Debug, Default)]
pub struct Log {
    /// The blocks by master ID.
    nodes: BTreeMap<StreamId, Vec<u8>>,
    /// Live entries in all blocks.
    len: u64,
    /// The blocks' allocated capacities, kept as they change so that
    /// [`Log::heap_bytes`] is O(1).
    heap: usize,
}

impl Clone for Log {
    /// A clone's blocks are allocated to fit, so its `heap` is recounted.
    fn clone(&self) -> Log {
        let nodes = self.nodes.clone();
        let heap = nodes.values().map(Vec::capacity).sum();
        Log {
            nodes,
            len: self.len,
            heap,
        }
    }
}

/// One entry as a block holds it: its field-value pairs, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    lp: &'a [u8],
    /// The first field (or, with SAMEFIELDS, the first value).
    at: usize,
    /// The block's first master field, which SAMEFIELDS entries use.
    master_fields_at: usize,
    count: usize,
    layout: Layout,
}

/// Where an entry's field names are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Field, value, field, value... in the entry.
    Pairs,
    /// Values only; the fields are the master entry's (SAMEFIELDS).
    MasterFields,
}

impl<'a> Entry<'a> {
    /// How many field-value pairs the entry has.
    pub fn field_count(&self) -> usize {
        self.count
    }

    /// Its field-value pairs, in the order they were added.
    pub fn fields(&self) -> impl Iterator<Item = (Elem<'a>, Elem<'a>)> + 'a {
        let Entry {
            lp,
            mut at,
            master_fields_at: mut master_at,
            count,
            layout,
        } = *self;
        (0..count).map(move |_| {
            let field_at = match layout {
                Layout::Pairs => {
                    let field_at = at;
                    at = next(lp, at);
                    field_at
                }
                Layout::MasterFields => {
                    let field_at = master_at;
                    master_at = next(lp, master_at);
                    field_at
                }
            };
            let value = decode(lp, at).0;
            at = next(lp, at);
            (decode(lp, field_at).0, value)
        })
    }

    /// Where the element after the entry's `lp-count` starts.
    fn end(&self) -> usize {
        let per_pair = match self.layout {
            Layout::Pairs => 2,
            Layout::MasterFields => 1,
        };
        let mut at = self.at;
        for _ in 0..self.count * per_pair {
            at = next(self.lp, at);
        }
        next(self.lp, at)
    }
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Blocks (Redis's radix-tree keys, XINFO STREAM's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry. `id` is greater than every ID appended before
    /// (the caller checks); `fields` is field, value, field, value...
    /// (a trailing odd element is ignored), and their lengths add up to
    /// at most 1 GiB (the caller checks, as XADD's ERANGE).
    ///
    /// The entry goes into the last block unless that one is full by
    /// `limits`, exactly as Redis decides, so blocks split where Redis's
    /// do.
    pub fn append(&mut self, id: StreamId, fields: &[Bytes], limits: NodeLimits) {
        let pairs = &fields[..fields.len() / 2 * 2];
        let data_bytes = pairs.iter().map(Bytes::len).sum();
        let (master, lp) = match self.nodes.last_entry() {
            Some(tail) if !is_full(tail.get(), data_bytes, limits) => {
                (*tail.key(), tail.into_mut())
            }
            tail => {
                if let Some(mut tail) = tail {
                    let lp = tail.get_mut();
                    self.heap -= lp.capacity();
                    lp.shrink_to_fit();
                    self.heap += lp.capacity();
                }
                let lp = new_block(pairs, limits);
                self.heap += lp.capacity();
                (id, self.nodes.entry(id).or_insert(lp))
            }
        };
        let before = lp.capacity();
        append_entry(lp, master, id, pairs);
        self.heap = self.heap + lp.capacity() - before;
        self.len += 1;
    }

    /// The first and last live entries' IDs.
    pub fn first_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, false)
            .next()
            .map(|(id, _)| id)
    }

    pub fn last_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, true)
            .next()
            .map(|(id, _)| id)
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        self.range(id, id, false).next().map(|(_, entry)| entry)
    }

    /// Live entries with `start <= id <= end`, ascending, or descending
    /// from `end` when `rev`; finding the first is O(log N).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> impl Iterator<Item = (StreamId, Entry<'_>)> + '_ {
        let order = if rev {
            Order::Descending
        } else {
            Order::Ascending
        };
        Range::new(&self.nodes, start, end, order)
    }

    /// Deletes one live entry (XDEL); false if there is none.
    ///
    /// The entry is flagged, not removed, and the master entry's counts
    /// change; the block goes when its last live entry does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, lp)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(flags_at) = find_live(master, lp, id) else {
            return false;
        };
        self.len -= 1;
        let m = Master::read(lp);
        if m.count <= 1 {
            self.heap -= lp.capacity();
            self.nodes.remove(&master);
            return true;
        }
        lp[flags_at] |= FLAG_DELETED;
        let before = lp.capacity();
        set_counts(lp, m.count - 1, m.deleted + 1);
        self.heap = self.heap + lp.capacity() - before;
        true
    }

    /// Trims as Redis's streamTrim; returns how many entries went.
    ///
    /// Whole blocks go from the front while the trim allows (and `limit`,
    /// when not 0, is not passed); then, unless `approx`, entries in the
    /// next block are flagged deleted until the trim is met. A block left
    /// with no live entries that way stays, as in Redis.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0;
        while let Some((&master, lp)) = self.nodes.first_key_value() {
            if let Trim::MaxLen(max) = trim
                && self.len <= max
            {
                break;
            }
            let live = Master::read(lp).count as u64;
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match trim {
                Trim::MaxLen(max) => self.len - live >= max,
                Trim::MinId(min) => last_entry_id(master, lp).is_none_or(|last| last < min),
            };
            if whole {
                self.heap -= lp.capacity();
                self.nodes.remove(&master);
                self.len -= live;
                removed += live;
                continue;
            }
            if !approx {
                removed += self.trim_block(master, trim);
            }
            break;
        }
        removed
    }

    /// Flags entries deleted from the start of one block until `trim` is
    /// met; returns how many were live.
    fn trim_block(&mut self, master: StreamId, trim: Trim) -> u64 {
        let Some(lp) = self.nodes.get_mut(&master) else {
            return 0;
        };
        let m = Master::read(lp);
        let mut flagged = Vec::new();
        let mut cursor = Cursor::new(master, lp, Order::Ascending);
        let mut len = self.len;
        while let Some(raw) = cursor.step() {
            let done = match trim {
                Trim::MaxLen(max) => len <= max,
                Trim::MinId(min) => raw.id >= min,
            };
            if done {
                break;
            }
            if raw.flags & FLAG_DELETED == 0 {
                flagged.push(raw.flags_at);
                len -= 1;
            }
        }
        for &at in &flagged {
            lp[at] |= FLAG_DELETED;
        }
        let n = flagged.len() as i64;
        let before = lp.capacity();
        set_counts(lp, m.count - n, m.deleted + n);
        self.heap = self.heap + lp.capacity() - before;
        self.len = len;
        n as u64
    }

    /// The bytes the blocks and index take.
    pub fn heap_bytes(&self) -> usize {
        self.heap + self.nodes.len() * INDEX_BYTES_PER_BLOCK
    }

    /// Each block's master ID and its listpack, as Redis's RDB holds it.
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &[u8])> + '_ {
        self.nodes.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    /// Adds a block read from an RDB file, after every block before it.
    ///
    /// The block is checked whole first (see the module's "Trust"), and
    /// its master ID must follow every ID of the blocks before it.
    pub fn push_loaded_node(&mut self, master: StreamId, lp: Vec<u8>) -> Result<(), String> {
        if let Some((&prev, prev_lp)) = self.nodes.last_key_value() {
            let prev_last = last_entry_id(prev, prev_lp).unwrap_or(prev);
            if master <= prev_last {
                return Err("stream node key not above the previous node's entries".into());
            }
        }
        let live = check_block(master, &lp)?;
        self.len += live;
        self.heap += lp.capacity();
        self.nodes.insert(master, lp);
        Ok(())
    }
}

/// Which way a walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Ascending,
    Descending,
}

/// The live entries of a range, block after block.
struct Range<'a> {
    blocks: btree_map::Range<'a, StreamId, Vec<u8>>,
    cursor: Option<Cursor<'a>>,
    start: StreamId,
    end: StreamId,
    order: Order,
    done: bool,
}

impl<'a> Range<'a> {
    fn new(
        nodes: &'a BTreeMap<StreamId, Vec<u8>>,
        start: StreamId,
        end: StreamId,
        order: Order,
    ) -> Range<'a> {
        let blocks = if start > end {
            nodes.range(start..start)
        } else if order == Order::Ascending {
            // The block that may hold `start` is the last one whose master
            // ID is not above it; blocks before it hold smaller IDs only.
            let from = nodes.range(..=start).next_back().map_or(start, |(&k, _)| k);
            nodes.range(from..=end)
        } else {
            nodes.range(..=end)
        };
        Range {
            blocks,
            cursor: None,
            start,
            end,
            order,
            done: start > end,
        }
    }

    /// The next block with live entries in it.
    fn next_block(&mut self) -> Option<Cursor<'a>> {
        loop {
            let (&master, lp) = match self.order {
                Order::Ascending => self.blocks.next(),
                Order::Descending => self.blocks.next_back(),
            }?;
            // A trim may leave a block of deleted entries only.
            if int_at(lp, COUNT_AT) > 0 {
                return Some(Cursor::new(master, lp, self.order));
            }
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (StreamId, Entry<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(raw) = self.cursor.as_mut().and_then(Cursor::step) else {
                self.cursor = self.next_block();
                self.done = self.cursor.is_none();
                continue;
            };
            if raw.flags & FLAG_DELETED != 0 {
                continue;
            }
            let (before, past) = match self.order {
                Order::Ascending => (raw.id < self.start, raw.id > self.end),
                Order::Descending => (raw.id > self.end, raw.id < self.start),
            };
            if past {
                self.done = true;
            } else if !before {
                return Some((raw.id, raw.entry));
            }
        }
        None
    }
}

/// A block's master entry, as a walk reads it.
#[derive(Debug, Clone, Copy)]
struct Master {
    count: i64,
    deleted: i64,
    fields: usize,
    fields_at: usize,
    entries_at: usize,
}

impl Master {
    fn read(lp: &[u8]) -> Master {
        let deleted_at = next(lp, COUNT_AT);
        let fields_count_at = next(lp, deleted_at);
        let fields_at = next(lp, fields_count_at);
        let fields = int_at(lp, fields_count_at) as usize;
        let mut at = fields_at;
        for _ in 0..fields {
            at = next(lp, at);
        }
        Master {
            count: int_at(lp, COUNT_AT),
            deleted: int_at(lp, deleted_at),
            fields,
            fields_at,
            entries_at: next(lp, at),
        }
    }
}

/// An entry as a walk meets it, deleted or not.
struct Raw<'a> {
    id: StreamId,
    flags: u8,
    flags_at: usize,
    entry: Entry<'a>,
}

/// A walk over one block's entries, either way.
struct Cursor<'a> {
    lp: &'a [u8],
    master_id: StreamId,
    master: Master,
    /// Ascending: the next entry's flags (or the end byte). Descending:
    /// the next entry's `lp-count` (the master's 0 once all are read).
    at: usize,
    order: Order,
}

impl<'a> Cursor<'a> {
    fn new(master_id: StreamId, lp: &'a [u8], order: Order) -> Cursor<'a> {
        let master = Master::read(lp);
        let at = match order {
            Order::Ascending => master.entries_at,
            Order::Descending => prev(lp, lp.len() - 1),
        };
        Cursor {
            lp,
            master_id,
            master,
            at,
            order,
        }
    }

    fn step(&mut self) -> Option<Raw<'a>> {
        match self.order {
            Order::Ascending => self.forward(),
            Order::Descending => self.backward(),
        }
    }

    fn forward(&mut self) -> Option<Raw<'a>> {
        if self.lp[self.at] == LISTPACK_END {
            return None;
        }
        let raw = self.read(self.at);
        self.at = raw.entry.end();
        Some(raw)
    }

    /// Steps back over `lp-count` elements to the entry's flags, and
    /// leaves `at` on the `lp-count` before them.
    fn backward(&mut self) -> Option<Raw<'a>> {
        let mut at = self.at;
        for _ in 0..int_at(self.lp, self.at) {
            at = prev(self.lp, at);
        }
        if at == self.at {
            return None;
        }
        self.at = prev(self.lp, at);
        Some(self.read(at))
    }

    /// The entry whose flags start at `at`.
    fn read(&self, at: usize) -> Raw<'a> {
        let lp = self.lp;
        // Flags are one-byte integers: the byte is the value.
        let flags = lp[at];
        let ms_at = next(lp, at);
        let seq_at = next(lp, ms_at);
        let id = StreamId {
            ms: self.master_id.ms.wrapping_add(int_at(lp, ms_at) as u64),
            seq: self.master_id.seq.wrapping_add(int_at(lp, seq_at) as u64),
        };
        let rest = next(lp, seq_at);
        let (count, layout, values_at) = if flags & FLAG_SAMEFIELDS != 0 {
            (self.master.fields, Layout::MasterFields, rest)
        } else {
            (int_at(lp, rest) as usize, Layout::Pairs, next(lp, rest))
        };
        Raw {
            id,
            flags,
            flags_at: at,
            entry: Entry {
                lp,
                at: values_at,
                master_fields_at: self.master.fields_at,
                count,
                layout,
            },
        }
    }
}

/// Where the live entry `id` of a block has its flags.
///
/// Deleted entries are passed over, not taken as the answer: XSETID can
/// lower the last ID to below a deleted entry's, and the next XADD then
/// appends a live entry with that same ID after its tombstone (Redis's
/// iterator skips the tombstone the same way).
fn find_live(master: StreamId, lp: &[u8], id: StreamId) -> Option<usize> {
    let mut cursor = Cursor::new(master, lp, Order::Ascending);
    while let Some(raw) = cursor.step() {
        if raw.flags & FLAG_DELETED != 0 {
            continue;
        }
        if raw.id >= id {
            return (raw.id == id).then_some(raw.flags_at);
        }
    }
    None
}

/// The ID of a block's last entry, deleted or not (lpGetEdgeStreamID).
fn last_entry_id(master: StreamId, lp: &[u8]) -> Option<StreamId> {
    Cursor::new(master, lp, Order::Descending)
        .step()
        .map(|raw| raw.id)
}

/// Whether an entry of `data_bytes` (fields and values) must open a new
/// block after `lp`, as streamAppendItem decides.
fn is_full(lp: &[u8], data_bytes: usize, limits: NodeLimits) -> bool {
    let max_bytes = match limits.max_bytes {
        0 => BLOCK_MAX_BYTES,
        n => n.min(BLOCK_MAX_BYTES),
    };
    if lp.len() + data_bytes >= max_bytes {
        return true;
    }
    // Deleted entries count too.
    let entries = int_at(lp, COUNT_AT) + int_at(lp, next(lp, COUNT_AT));
    limits.max_entries != 0 && entries as u64 >= limits.max_entries as u64
}

/// A block with only the master entry, its fields those of `pairs`, and
/// a count of 0 that the first append makes 1.
fn new_block(pairs: &[Bytes], limits: NodeLimits) -> Vec<u8> {
    let prealloc = match limits.max_bytes {
        n @ 1..BLOCK_PREALLOC_BYTES => n,
        _ => BLOCK_PREALLOC_BYTES,
    };
    let mut lp = Vec::with_capacity(prealloc.max(LISTPACK_HEADER_BYTES + 1));
    lp.resize(LISTPACK_HEADER_BYTES, 0);
    push_int(&mut lp, 0);
    push_int(&mut lp, 0);
    push_int(&mut lp, (pairs.len() / 2) as i64);
    for field in pairs.iter().step_by(2) {
        push_elem(&mut lp, field);
    }
    push_int(&mut lp, 0);
    lp.push(LISTPACK_END);
    grow_header(&mut lp, 4 + pairs.len() / 2);
    lp
}

/// Appends an entry to a block and counts it live.
fn append_entry(lp: &mut Vec<u8>, master: StreamId, id: StreamId, pairs: &[Bytes]) {
    let fields = pairs.len() / 2;
    let same = same_fields(lp, pairs);
    let count = int_at(lp, COUNT_AT);
    lp.pop();
    let flags = if same { FLAG_SAMEFIELDS } else { 0 };
    push_int(lp, flags as i64);
    push_int(lp, id.ms.wrapping_sub(master.ms) as i64);
    push_int(lp, id.seq.wrapping_sub(master.seq) as i64);
    if !same {
        push_int(lp, fields as i64);
    }
    for pair in pairs.chunks_exact(2) {
        if !same {
            push_elem(lp, &pair[0]);
        }
        push_elem(lp, &pair[1]);
    }
    let elements = if same { 3 + fields } else { 4 + 2 * fields };
    push_int(lp, elements as i64);
    lp.push(LISTPACK_END);
    grow_header(lp, elements + 1);
    set_int(lp, COUNT_AT, count + 1);
}

/// Whether `pairs` has the block's master fields, in order.
fn same_fields(lp: &[u8], pairs: &[Bytes]) -> bool {
    let m = Master::read(lp);
    let mut at = m.fields_at;
    m.fields == pairs.len() / 2
        && pairs.iter().step_by(2).all(|field| {
            let same = decode(lp, at).0.with_bytes(|f| f == &field[..]);
            at = next(lp, at);
            same
        })
}

/// Where the element after the one at `at` starts (past its back length).
fn next(lp: &[u8], at: usize) -> usize {
    let end = element_end(lp, at);
    end + backlen_len(end - at)
}

/// Where the element before the one at `at` starts.
fn prev(lp: &[u8], at: usize) -> usize {
    let (len, backlen_at) = read_backlen(lp, at);
    backlen_at - len
}

/// The integer element at `at` (a string reads as lpGetInteger reads it).
fn int_at(lp: &[u8], at: usize) -> i64 {
    match decode(lp, at).0 {
        Elem::Int(n) => n,
        Elem::Bytes(b) => parse_i64(b).unwrap_or(0),
    }
}

/// Appends an element and its back length.
fn push_elem(lp: &mut Vec<u8>, e: &[u8]) {
    let start = lp.len();
    encode(lp, e);
    put_backlen(lp, lp.len() - start);
}

fn push_int(lp: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 24];
    push_elem(lp, format_i64(n, &mut tmp));
}

/// Replaces the integer element at `at` (lpReplaceInteger): in place when
/// its encoding keeps its width, else by moving what follows.
fn set_int(lp: &mut Vec<u8>, at: usize, n: i64) {
    let end = next(lp, at);
    let mut new = Vec::with_capacity(16);
    push_int(&mut new, n);
    if new.len() == end - at {
        lp[at..end].copy_from_slice(&new);
    } else {
        lp.splice(at..end, new);
        grow_header(lp, 0);
    }
}

/// Rewrites the master entry's `count` and `deleted`.
fn set_counts(lp: &mut Vec<u8>, count: i64, deleted: i64) {
    set_int(lp, COUNT_AT, count);
    let deleted_at = next(lp, COUNT_AT);
    set_int(lp, deleted_at, deleted);
}

/// Sets the header's total bytes, and adds `added` elements to its count
/// as listpack does, one at a time (so it sticks at "unknown").
fn grow_header(lp: &mut [u8], added: usize) {
    let total = lp.len() as u32;
    lp[..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    if count != COUNT_UNKNOWN {
        let count = (count as usize + added).min(COUNT_UNKNOWN as usize) as u16;
        lp[4..6].copy_from_slice(&count.to_le_bytes());
    }
}

/// Checks a loaded block whole (see the module's "Trust"); returns its
/// live entries.
fn check_block(master: StreamId, lp: &[u8]) -> Result<u64, String> {
    check_header(lp)?;
    let mut r = Checker {
        lp,
        at: LISTPACK_HEADER_BYTES,
        elements: 0,
        backlen: Vec::new(),
    };
    let (count, deleted, fields) = r.master()?;
    let entries = count
        .checked_add(deleted)
        .ok_or("stream entry counts overflow")?;
    let mut seen = [0i64; 2];
    let mut prev = None;
    for _ in 0..entries {
        let (id, flags) = r.entry(master, fields)?;
        if prev.map_or(id < master, |p| id <= p) {
            return Err("stream listpack entry IDs out of order".into());
        }
        prev = Some(id);
        seen[(flags & FLAG_DELETED) as usize] += 1;
    }
    if r.at != lp.len() - 1 {
        return Err("stream listpack has elements past its entries".into());
    }
    let header_count = u16::from_le_bytes([lp[4], lp[5]]);
    if header_count != COUNT_UNKNOWN && header_count as usize != r.elements {
        return Err("listpack header element count is wrong".into());
    }
    if seen != [count, deleted] {
        return Err("stream listpack counts disagree with entry flags".into());
    }
    Ok(count as u64)
}

/// The listpack header's total bytes and the end byte.
fn check_header(lp: &[u8]) -> Result<(), String> {
    if lp.len() < LISTPACK_HEADER_BYTES + 1 {
        return Err("listpack shorter than its header".into());
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]);
    if total as usize != lp.len() {
        return Err("listpack header total bytes is wrong".into());
    }
    if lp[lp.len() - 1] != LISTPACK_END {
        return Err("listpack does not end with its end byte".into());
    }
    Ok(())
}

/// A checked walk over a loaded block's elements, which stops at the
/// end byte (the header was checked first).
struct Checker<'a> {
    lp: &'a [u8],
    at: usize,
    elements: usize,
    /// The back length expected after an element.
    backlen: Vec<u8>,
}

impl Checker<'_> {
    /// Steps over one element and its back length, both before the end
    /// byte; returns where the element starts.
    fn element(&mut self) -> Result<usize, String> {
        let start = self.at;
        let end = checked_element_end(self.lp, start).ok_or("malformed listpack element")?;
        self.backlen.clear();
        put_backlen(&mut self.backlen, end - start);
        let next = end + self.backlen.len();
        if next >= self.lp.len() || self.lp[end..next] != self.backlen[..] {
            return Err("listpack back length is wrong".into());
        }
        self.at = next;
        self.elements += 1;
        Ok(start)
    }

    fn int(&mut self) -> Result<i64, String> {
        let at = self.element()?;
        match decode(self.lp, at).0 {
            Elem::Int(n) => Ok(n),
            Elem::Bytes(_) => Err("stream listpack: integer expected".into()),
        }
    }

    fn count(&mut self) -> Result<i64, String> {
        match self.int()? {
            n if n >= 0 => Ok(n),
            _ => Err("stream listpack: negative count".into()),
        }
    }

    /// The master entry: `count`, `deleted` and the number of fields.
    fn master(&mut self) -> Result<(i64, i64, i64), String> {
        let count = self.count()?;
        let deleted = self.count()?;
        let fields = self.count()?;
        for _ in 0..fields {
            self.element()?;
        }
        if self.int()? != 0 {
            return Err("stream master entry not terminated by 0".into());
        }
        Ok((count, deleted, fields))
    }

    /// One entry, with `lp-count` checked; returns its ID and flags.
    fn entry(&mut self, master: StreamId, master_fields: i64) -> Result<(StreamId, u8), String> {
        let flags_at = self.element()?;
        let flags = self.lp[flags_at];
        if flags > FLAG_DELETED | FLAG_SAMEFIELDS {
            return Err("stream entry flags are not a known one-byte value".into());
        }
        let id = StreamId {
            ms: master.ms.wrapping_add(self.int()? as u64),
            seq: master.seq.wrapping_add(self.int()? as u64),
        };
        let (fields, fixed) = if flags & FLAG_SAMEFIELDS != 0 {
            (master_fields, 3)
        } else {
            let n = self.count()?;
            for _ in 0..n {
                self.element()?;
            }
            (n, 4 + n as i128)
        };
        for _ in 0..fields {
            self.element()?;
        }
        if self.int()? as i128 != fields as i128 + fixed {
            return Err("stream entry lp-count is wrong".into());
        }
        Ok((id, flags))
    }
}

/// Where the element at `at` ends, if its encoding is a known one and
/// lies inside `lp`.
fn checked_element_end(lp: &[u8], at: usize) -> Option<usize> {
    let b = *lp.get(at)?;
    let (data_at, len) = match b {
        0..0x80 => (at + 1, 0),
        0x80..0xC0 => (at + 1, (b & 0x3F) as usize),
        0xC0..0xE0 => (at + 2, 0),
        0xE0..0xF0 => (
            at + 2,
            ((b & 0x0F) as usize) << 8 | *lp.get(at + 1)? as usize,
        ),
        0xF0 => {
            let len = lp.get(at + 1..at + 5)?;
            (
                at + 5,
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
            )
        }
        0xF1 => (at + 3, 0),
        0xF2 => (at + 4, 0),
        0xF3 => (at + 5, 0),
        0xF4 => (at + 9, 0),
        _ => return None,
    };
    let end = data_at.checked_add(len)?;
    (end <= lp.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    type Model = BTreeMap<StreamId, Vec<(Vec<u8>, Vec<u8>)>>;

    const SMALL: NodeLimits = NodeLimits {
        max_bytes: 0,
        max_entries: 3,
    };

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn bytes(items: &[&[u8]]) -> Vec<Bytes> {
        items.iter().map(|b| Bytes::copy_from_slice(b)).collect()
    }

    fn pairs(e: Entry) -> Vec<(Vec<u8>, Vec<u8>)> {
        e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    fn ids(log: &Log, start: StreamId, end: StreamId, rev: bool) -> Vec<StreamId> {
        log.range(start, end, rev).map(|(id, _)| id).collect()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Checks the log against the model: every way of reading it, the
    /// blocks' own consistency, and the heap count.
    fn assert_matches(log: &Log, model: &Model) {
        let want: Vec<_> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
        let got: Vec<_> = log
            .range(StreamId::MIN, StreamId::MAX, false)
            .map(|(id, e)| (id, pairs(e)))
            .collect();
        assert_eq!(got, want);
        let mut back: Vec<_> = log
            .range(StreamId::MIN, StreamId::MAX, true)
            .map(|(id, e)| (id, pairs(e)))
            .collect();
        back.reverse();
        assert_eq!(back, want);
        assert_eq!(log.len(), model.len() as u64);
        assert_eq!(log.first_id(), model.keys().next().copied());
        assert_eq!(log.last_id(), model.keys().next_back().copied());
        let mut copy = Log::new();
        for (master, lp) in log.nodes() {
            copy.push_loaded_node(master, lp.to_vec()).unwrap();
        }
        assert_eq!(copy.len(), log.len());
        let capacities: usize = log.nodes.values().map(Vec::capacity).sum();
        assert_eq!(log.heap, capacities);
    }

    #[test]
    fn blocks_are_byte_identical_to_redis() {
        // XADD s 1-1 f v; XADD s 1-2 f 123; XADD s 2-0 g x h -5000;
        // XDEL s 1-2, with stream-node-max-entries 2: DUMP's blocks.
        let mut log = Log::new();
        let limits = NodeLimits {
            max_bytes: 4096,
            max_entries: 2,
        };
        log.append(id(1, 1), &bytes(&[b"f", b"v"]), limits);
        log.append(id(1, 2), &bytes(&[b"f", b"123"]), limits);
        log.append(id(2, 0), &bytes(&[b"g", b"x", b"h", b"-5000"]), limits);
        assert!(log.delete(id(1, 2)));
        let first = hex("270000000f0001010101010181660200010201000100018176020401030100010101");
        let second =
            hex("240000000c000101000102018167028168020001020100010001817802f178ec030501ff");
        let got: Vec<_> = log.nodes().map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(got[0].0, id(1, 1));
        assert_eq!(got[0].1, [&first[..], &hex("7b010401ff")].concat());
        assert_eq!(got[1], (id(2, 0), second));
    }

    #[test]
    fn entries_read_back_across_blocks_both_ways() {
        let mut log = Log::new();
        let mut model = Model::new();
        for i in 0..50u64 {
            let f = if i % 4 == 0 { "other" } else { "f" };
            let value = match i % 3 {
                0 => i.to_string(),
                1 => "x".repeat(i as usize * 400),
                _ => format!("-{i}"),
            };
            let fields = bytes(&[f.as_bytes(), value.as_bytes(), b"g", b"0"]);
            let key = id(10 + i / 4, i % 4);
            log.append(key, &fields, SMALL);
            let row = vec![
                (f.into(), value.into_bytes()),
                (b"g".to_vec(), b"0".to_vec()),
            ];
            model.insert(key, row);
        }
        assert_eq!(log.node_count(), 17);
        assert_matches(&log, &model);
        for (&key, row) in &model {
            assert_eq!(pairs(log.get(key).unwrap()), *row);
            assert_eq!(log.get(key).unwrap().field_count(), 2);
        }
        assert!(log.get(id(10, 9)).is_none());
        assert!(log.get(id(0, 0)).is_none());
        let (from, to) = (id(11, 2), id(14, 0));
        let want: Vec<_> = model.range(from..=to).map(|(k, _)| *k).collect();
        assert_eq!(ids(&log, from, to, false), want);
        let rev: Vec<_> = want.iter().rev().copied().collect();
        assert_eq!(ids(&log, from, to, true), rev);
        assert!(ids(&log, to, from, false).is_empty());
        assert!(ids(&log, to, from, true).is_empty());
        assert!(ids(&log, id(100, 0), StreamId::MAX, false).is_empty());
    }

    #[test]
    fn samefields_only_for_the_master_fields_in_order() {
        let mut log = Log::new();
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: 0,
        };
        log.append(id(1, 0), &bytes(&[b"a", b"1", b"b", b"2"]), limits);
        log.append(id(1, 1), &bytes(&[b"a", b"3", b"b", b"4"]), limits);
        log.append(id(1, 2), &bytes(&[b"b", b"3", b"a", b"4"]), limits);
        log.append(id(1, 3), &bytes(&[b"a", b"3"]), limits);
        let (master, lp) = log.nodes().next().unwrap();
        let mut cursor = Cursor::new(master, lp, Order::Ascending);
        let flags: Vec<u8> = std::iter::from_fn(|| cursor.step().map(|r| r.flags)).collect();
        assert_eq!(flags, [2, 2, 0, 0]);
        let got = pairs(log.get(id(1, 2)).unwrap());
        assert_eq!(
            got,
            [
                (b"b".to_vec(), b"3".to_vec()),
                (b"a".to_vec(), b"4".to_vec())
            ]
        );
        assert_eq!(pairs(log.get(id(1, 3)).unwrap()).len(), 1);
    }

    #[test]
    fn integers_and_lookalikes_keep_their_bytes() {
        let mut log = Log::new();
        let values: [&[u8]; 8] = [
            b"0",
            b"-1",
            b"007",
            b"9223372036854775807",
            b"9223372036854775808",
            b"-4096",
            b"+5",
            b"",
        ];
        for (i, v) in values.iter().enumerate() {
            log.append(id(1, i as u64), &bytes(&[v, v]), SMALL);
        }
        for (i, v) in values.iter().enumerate() {
            let got = pairs(log.get(id(1, i as u64)).unwrap());
            assert_eq!(got, [(v.to_vec(), v.to_vec())]);
        }
    }

    #[test]
    fn an_id_appended_again_after_its_tombstone_is_found_live() {
        // XDEL of the top entry, XSETID back below it, XADD of the same
        // ID: the block holds the tombstone and then the live entry.
        let mut log = Log::new();
        const ROOMY: NodeLimits = NodeLimits {
            max_bytes: 0,
            max_entries: 100,
        };
        for i in 0..3 {
            log.append(id(5, i), &bytes(&[b"a", b"1"]), ROOMY);
        }
        assert!(log.delete(id(5, 2)));
        log.append(id(5, 2), &bytes(&[b"a", b"2"]), ROOMY);
        assert_eq!(
            pairs(log.get(id(5, 2)).unwrap()),
            [(b"a".to_vec(), b"2".to_vec())]
        );
        assert!(log.delete(id(5, 2)));
        assert!(!log.delete(id(5, 2)));
        assert_eq!((log.len(), log.node_count()), (2, 1));
    }

    #[test]
    fn delete_flags_entries_and_drops_emptied_blocks() {
        let mut log = Log::new();
        for i in 0..6 {
            log.append(id(1, i), &bytes(&[b"f", b"v"]), SMALL);
        }
        assert!(log.delete(id(1, 1)));
        assert!(!log.delete(id(1, 1)));
        assert!(!log.delete(id(1, 9)));
        assert!(!log.delete(id(0, 9)));
        assert_eq!((log.len(), log.node_count()), (5, 2));
        let lp = &log.nodes[&id(1, 0)];
        let m = Master::read(lp);
        assert_eq!((m.count, m.deleted), (2, 1));
        assert!(log.delete(id(1, 0)));
        assert!(log.delete(id(1, 2)));
        assert_eq!((log.len(), log.node_count()), (3, 1));
        assert_eq!(log.first_id(), Some(id(1, 3)));
        assert!(log.delete(id(1, 5)));
        assert_eq!(log.last_id(), Some(id(1, 4)));
    }

    #[test]
    fn counts_that_change_width_rewrite_the_block() {
        let mut log = Log::new();
        let mut model = Model::new();
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: 0,
        };
        for i in 0..300 {
            log.append(id(5, i), &bytes(&[b"a", b"b"]), limits);
            model.insert(id(5, i), vec![(b"a".to_vec(), b"b".to_vec())]);
        }
        for i in 0..200 {
            let key = id(5, i * 7 % 300);
            assert_eq!(log.delete(key), model.remove(&key).is_some());
        }
        assert_matches(&log, &model);
    }

    fn numbered(n: u64) -> Log {
        let mut log = Log::new();
        for i in 0..n {
            log.append(id(i, 0), &bytes(&[b"f", b"v"]), SMALL);
        }
        log
    }

    #[test]
    fn maxlen_trims_blocks_then_entries_unless_approx() {
        let mut log = numbered(10);
        assert_eq!(log.trim(Trim::MaxLen(8), true, 0), 0);
        assert_eq!(log.trim(Trim::MaxLen(7), true, 0), 3);
        assert_eq!(log.first_id(), Some(id(3, 0)));
        assert_eq!(log.trim(Trim::MaxLen(5), false, 0), 2);
        assert_eq!((log.len(), log.first_id()), (5, Some(id(5, 0))));
        assert_eq!(log.node_count(), 3);
        assert_eq!(log.trim(Trim::MaxLen(5), false, 0), 0);
        assert_eq!(log.trim(Trim::MaxLen(0), false, 0), 5);
        assert!(log.is_empty() && log.node_count() == 0);
    }

    #[test]
    fn minid_trims_blocks_then_entries_unless_approx() {
        let mut log = numbered(10);
        assert_eq!(log.trim(Trim::MinId(id(2, 0)), true, 0), 0);
        assert_eq!(log.trim(Trim::MinId(id(4, 0)), true, 0), 3);
        assert_eq!(log.trim(Trim::MinId(id(5, 0)), false, 0), 2);
        assert_eq!(log.first_id(), Some(id(5, 0)));
        assert_eq!(log.trim(Trim::MinId(StreamId::MAX), false, 0), 5);
        assert!(log.is_empty());
    }

    #[test]
    fn limit_stops_before_a_block_it_would_pass() {
        let mut log = numbered(10);
        assert_eq!(log.trim(Trim::MaxLen(0), true, 5), 3);
        assert_eq!(log.trim(Trim::MaxLen(0), false, 2), 0);
        assert_eq!(log.trim(Trim::MaxLen(0), false, 6), 6);
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn minid_can_leave_a_block_of_deleted_entries() {
        let mut log = numbered(3);
        assert!(log.delete(id(2, 0)));
        assert_eq!(log.trim(Trim::MinId(id(2, 0)), false, 0), 2);
        assert_eq!((log.len(), log.node_count()), (0, 1));
        assert_eq!((log.first_id(), log.last_id()), (None, None));
        log.append(
            id(7, 0),
            &bytes(&[b"f", b"v"]),
            NodeLimits {
                max_bytes: 0,
                max_entries: 5,
            },
        );
        assert_eq!(log.node_count(), 1);
        assert_eq!(ids(&log, StreamId::MIN, StreamId::MAX, true), [id(7, 0)]);
        let mut copy = Log::new();
        for (master, lp) in log.nodes() {
            copy.push_loaded_node(master, lp.to_vec()).unwrap();
        }
        assert_eq!(copy.len(), 1);
    }

    #[test]
    fn long_values_walk_back_over_wide_back_lengths() {
        let mut log = Log::new();
        let mut model = Model::new();
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: 0,
        };
        for (i, len) in [0usize, 63, 64, 127, 128, 4095, 4096, 16_383, 20_000, 70_000]
            .into_iter()
            .enumerate()
        {
            let value = vec![b'q'; len];
            log.append(
                id(9, i as u64),
                &[Bytes::from_static(b"f"), value.clone().into()],
                limits,
            );
            model.insert(id(9, i as u64), vec![(b"f".to_vec(), value)]);
        }
        assert_matches(&log, &model);
    }

    #[test]
    fn random_operations_match_a_model() {
        let mut rng = Rng::new(0x5EED);
        for _ in 0..20 {
            let limits = NodeLimits {
                max_bytes: [0, 1, 80, 300, 4096][rng.below(5) as usize],
                max_entries: [0, 1, 2, 7, 100][rng.below(5) as usize],
            };
            let (mut log, mut model) = (Log::new(), Model::new());
            let mut last = id(rng.below(100), 0);
            for step in 0..300 {
                random_step(&mut rng, &mut log, &mut model, &mut last, limits);
                if step % 60 == 59 {
                    assert_matches(&log, &model);
                }
            }
            assert_matches(&log, &model);
        }
    }

    fn random_step(
        rng: &mut Rng,
        log: &mut Log,
        model: &mut Model,
        last: &mut StreamId,
        limits: NodeLimits,
    ) {
        let any_id = |rng: &mut Rng, last: StreamId| id(rng.below(last.ms + 2), rng.below(4));
        match rng.below(10) {
            0..=5 => {
                *last = match rng.below(3) {
                    0 => last.next().unwrap(),
                    _ => id(last.ms + 1 + rng.below(3), rng.below(5)),
                };
                let row: Vec<(Vec<u8>, Vec<u8>)> = (0..1 + rng.below(3))
                    .map(|k| {
                        let field = if rng.below(5) == 0 {
                            b"z".to_vec()
                        } else {
                            vec![b'a' + k as u8]
                        };
                        let value = match rng.below(3) {
                            0 => (rng.next_u64() as i64 >> rng.below(64))
                                .to_string()
                                .into_bytes(),
                            1 => vec![b'x'; rng.below(200) as usize],
                            _ => b"v".to_vec(),
                        };
                        (field, value)
                    })
                    .collect();
                let flat: Vec<Bytes> = row
                    .iter()
                    .flat_map(|(f, v)| [f.clone().into(), v.clone().into()])
                    .collect();
                log.append(*last, &flat, limits);
                model.insert(*last, row);
            }
            6 | 7 => {
                let key = any_id(rng, *last);
                assert_eq!(log.delete(key), model.remove(&key).is_some());
            }
            8 => {
                let (start, end) = (any_id(rng, *last), any_id(rng, *last));
                let rev = rng.below(2) == 0;
                let mut want: Vec<_> = if start <= end {
                    model.range(start..=end).map(|(k, _)| *k).collect()
                } else {
                    Vec::new()
                };
                if rev {
                    want.reverse();
                }
                assert_eq!(ids(log, start, end, rev), want);
            }
            _ => random_trim(rng, log, model, *last),
        }
    }

    /// Trims exactly (the model can follow that) and checks the count.
    fn random_trim(rng: &mut Rng, log: &mut Log, model: &mut Model, last: StreamId) {
        let trim = if rng.below(2) == 0 {
            Trim::MaxLen(rng.below(model.len() as u64 + 2))
        } else {
            Trim::MinId(id(rng.below(last.ms + 2), rng.below(4)))
        };
        let before = model.len();
        match trim {
            Trim::MaxLen(n) => {
                while model.len() as u64 > n {
                    model.pop_first();
                }
            }
            Trim::MinId(min) => model.retain(|k, _| *k >= min),
        }
        assert_eq!(log.trim(trim, false, 0), (before - model.len()) as u64);
    }

    #[test]
    fn loaded_nodes_must_follow_each_other() {
        let log = numbered(6);
        let blocks: Vec<_> = log.nodes().map(|(k, v)| (k, v.to_vec())).collect();
        let [(first, lp1), (second, lp2)] = [blocks[0].clone(), blocks[1].clone()];
        let mut copy = Log::new();
        assert!(copy.push_loaded_node(second, lp2.clone()).is_ok());
        assert!(copy.push_loaded_node(first, lp1.clone()).is_err());
        assert!(copy.push_loaded_node(second, lp2).is_err());
        // Differences from this master wrap around: IDs would go down.
        assert!(copy.push_loaded_node(id(u64::MAX, 0), lp1).is_err());
        assert_eq!(copy.len(), 3);
        let no_elements = hex("070000000000ff");
        assert!(Log::new().push_loaded_node(first, no_elements).is_err());
    }

    #[test]
    fn corrupt_blocks_are_refused_or_safe_to_use() {
        let mut log = Log::new();
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: 4,
        };
        log.append(id(1, 0), &bytes(&[b"f", b"v", b"n", b"12"]), limits);
        log.append(id(1, 1), &bytes(&[b"f", b"w", b"n", b"-7000"]), limits);
        log.append(id(2, 5), &bytes(&[b"g", &[b'y'; 70]]), limits);
        log.append(id(3, 0), &bytes(&[b"f", b"v", b"n", b"1"]), limits);
        log.append(id(3, 1), &bytes(&[b"f", b"v"]), limits);
        assert!(log.delete(id(1, 1)));
        for (master, lp) in log.nodes() {
            for cut in 0..lp.len() {
                let mut short = lp[..cut].to_vec();
                if cut >= 4 {
                    short[..4].copy_from_slice(&(cut as u32).to_le_bytes());
                }
                exercise(master, short);
            }
            for at in 0..lp.len() {
                for mask in [0x01, 0x02, 0x10, 0x40, 0x80, 0xFF] {
                    let mut bad = lp.to_vec();
                    bad[at] ^= mask;
                    exercise(master, bad);
                }
            }
        }
    }

    /// Loads one block; if it is accepted, every operation must work.
    fn exercise(master: StreamId, lp: Vec<u8>) {
        let mut log = Log::new();
        if log.push_loaded_node(master, lp).is_err() {
            return;
        }
        let all: Vec<_> = log.range(StreamId::MIN, StreamId::MAX, false).collect();
        let back = log.range(StreamId::MIN, StreamId::MAX, true).count();
        assert_eq!((all.len(), back), (log.len() as usize, log.len() as usize));
        for (key, e) in &all {
            assert_eq!(e.fields().count(), e.field_count());
            assert!(log.get(*key).is_some());
        }
        let ids: Vec<StreamId> = all.iter().map(|(k, _)| *k).collect();
        if let Some(&first) = ids.first() {
            log.append(StreamId::MAX, &bytes(&[b"f", b"v"]), SMALL);
            assert!(log.delete(first));
        }
        log.trim(Trim::MaxLen(1), false, 0);
        log.trim(Trim::MinId(StreamId::MAX), false, 0);
        assert!(log.len() <= 1);
    }
}
