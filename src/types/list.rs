//! The list type.
//!
//! A list is a deque of packed chunks, like Redis's quicklist of listpacks:
//! O(1) push and pop at both ends, and compact memory for small elements.
//! Each chunk holds its elements back to back in one byte buffer, each one
//! prefixed by its length as a LEB128 varint (one byte below 128), so an
//! 8-byte element costs 9 bytes. A chunk grows until it reaches the limit
//! that `list-max-listpack-size` sets (a byte size for -1..-5, an element
//! count otherwise). Walking backwards inside a chunk decodes the chunk's
//! offsets first; a chunk is at most a few KB, so that is cheap.
//!
//! OBJECT ENCODING answers `quicklist`, as Redis 7.0 does for every list.
//!
//! The file holds the structure's API first, then the commands. The pop
//! and move internals ([`List::pop`], [`pop_count`], [`move_element`]) are
//! public so the blocking commands can reuse them.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::cmd::keys::{lookup_read, lookup_write};
use crate::cmd::{CmdError, CmdResult, Ctx, Unblocked, arg_i64};
use crate::db::Value;
use crate::store::Store;
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
}

/// Appends `n` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// The encoded entry for `val`: its length prefix, then its bytes.
fn encode(val: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(varint_len(val.len()) + val.len());
    put_varint(&mut e, val.len());
    e.extend_from_slice(val);
    e
}

/// One packed run of elements.
#[derive(Debug, Clone, Default)]
struct Chunk {
    buf: Vec<u8>,
    count: usize,
}

impl Chunk {
    /// The data range of the entry starting at `off`; its end is where the
    /// next entry starts.
    fn entry_at(&self, off: usize) -> (usize, usize) {
        let (mut n, mut shift, mut i) = (0usize, 0, off);
        loop {
            let b = self.buf[i];
            i += 1;
            n |= ((b & 0x7f) as usize) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        (i, i + n)
    }

    fn data(&self, off: usize) -> &[u8] {
        let (s, e) = self.entry_at(off);
        &self.buf[s..e]
    }

    /// The start offset of every entry, in order.
    fn offsets(&self) -> Vec<usize> {
        let mut offs = Vec::with_capacity(self.count);
        let mut off = 0;
        while off < self.buf.len() {
            offs.push(off);
            off = self.entry_at(off).1;
        }
        offs
    }

    /// The start offset of entry `i` (`count` gives the end of the buffer).
    fn nth_offset(&self, i: usize) -> usize {
        let mut off = 0;
        for _ in 0..i {
            off = self.entry_at(off).1;
        }
        off
    }

    fn fits(&self, extra: usize, fill: Fill) -> bool {
        self.count < fill.max_count && self.buf.len() + extra <= fill.max_bytes
    }

    /// Grows the buffer geometrically but never past the fill limit, so a
    /// full chunk's allocation is exactly the limit (an allocator class).
    fn reserve(&mut self, extra: usize, fill: Fill) {
        let needed = self.buf.len() + extra;
        if needed > self.buf.capacity() {
            let target = (self.buf.capacity() * 2).min(fill.max_bytes).max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    /// Inserts an encoded entry at byte offset `off`.
    fn insert_at(&mut self, off: usize, entry: &[u8], fill: Fill) {
        self.reserve(entry.len(), fill);
        let old = self.buf.len();
        self.buf.resize(old + entry.len(), 0);
        self.buf.copy_within(off..old, off + entry.len());
        self.buf[off..off + entry.len()].copy_from_slice(entry);
        self.count += 1;
    }

    /// Removes the entry at `off` and returns its data.
    fn remove_at(&mut self, off: usize) -> Vec<u8> {
        let (s, e) = self.entry_at(off);
        let val = self.buf[s..e].to_vec();
        self.buf.drain(off..e);
        self.count -= 1;
        val
    }

    /// Splits off the second half of the entries into a new chunk.
    fn split(&mut self) -> Chunk {
        let keep = self.count / 2;
        let off = self.nth_offset(keep);
        let tail = Chunk {
            buf: self.buf[off..].to_vec(),
            count: self.count - keep,
        };
        self.buf.truncate(off);
        self.buf.shrink_to_fit();
        self.count = keep;
        tail
    }
}

/// A list: a deque of packed chunks and the total element count.
#[derive(Debug, Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    fill: Fill,
}

impl List {
    pub fn new(fill: Fill) -> List {
        List {
            chunks: VecDeque::new(),
            len: 0,
            fill,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Changes the chunk limit for later inserts (existing chunks stay).
    pub fn set_fill(&mut self, fill: Fill) {
        self.fill = fill;
    }

    /// Adds `val` at `end`.
    pub fn push(&mut self, end: End, val: &[u8]) {
        let entry = encode(val);
        let fill = self.fill;
        match end {
            End::Left => {
                if !self
                    .chunks
                    .front()
                    .is_some_and(|c| c.fits(entry.len(), fill))
                {
                    self.chunks.push_front(Chunk::default());
                }
                self.chunks[0].insert_at(0, &entry, fill);
            }
            End::Right => {
                if !self
                    .chunks
                    .back()
                    .is_some_and(|c| c.fits(entry.len(), fill))
                {
                    self.chunks.push_back(Chunk::default());
                }
                let c = self.chunks.back_mut().expect("just ensured");
                c.reserve(entry.len(), fill);
                c.buf.extend_from_slice(&entry);
                c.count += 1;
            }
        }
        self.len += 1;
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let (ci, val) = match end {
            End::Left => {
                let c = self.chunks.front_mut()?;
                (0, c.remove_at(0))
            }
            End::Right => {
                let ci = self.chunks.len().checked_sub(1)?;
                let c = &mut self.chunks[ci];
                let off = c.nth_offset(c.count - 1);
                (ci, c.remove_at(off))
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

    /// The element at `index` counted from the head.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (ci, i) = self.locate(index);
        let c = &self.chunks[ci];
        Some(c.data(c.nth_offset(i)))
    }

    /// Splits chunk `ci` if an insert or replace pushed it past the limit.
    fn split_if_needed(&mut self, ci: usize) {
        let c = &self.chunks[ci];
        if c.count > 1 && (c.count > self.fill.max_count || c.buf.len() > self.fill.max_bytes) {
            let tail = self.chunks[ci].split();
            self.chunks.insert(ci + 1, tail);
        }
    }

    /// Replaces the element at `index` (< len).
    pub fn set(&mut self, index: usize, val: &[u8]) {
        let (ci, i) = self.locate(index);
        let fill = self.fill;
        let c = &mut self.chunks[ci];
        let off = c.nth_offset(i);
        c.remove_at(off);
        c.insert_at(off, &encode(val), fill);
        self.split_if_needed(ci);
    }

    /// Inserts `val` before the element at `index`; `index == len` appends.
    pub fn insert(&mut self, index: usize, val: &[u8]) {
        if index == 0 {
            return self.push(End::Left, val);
        }
        if index >= self.len {
            return self.push(End::Right, val);
        }
        let (ci, i) = self.locate(index);
        let fill = self.fill;
        let c = &mut self.chunks[ci];
        let off = c.nth_offset(i);
        c.insert_at(off, &encode(val), fill);
        self.len += 1;
        self.split_if_needed(ci);
    }

    /// Removes the element at `index` (< len) and returns it.
    pub fn remove(&mut self, index: usize) -> Vec<u8> {
        let (ci, i) = self.locate(index);
        let c = &mut self.chunks[ci];
        let off = c.nth_offset(i);
        let val = c.remove_at(off);
        self.after_remove(ci);
        val
    }

    /// Calls `f` with each element's index and bytes from `start` towards
    /// the tail until it returns false.
    pub fn walk_forward(&self, start: usize, mut f: impl FnMut(usize, &[u8]) -> bool) {
        if start >= self.len {
            return;
        }
        let (ci, i) = self.locate(start);
        let mut index = start;
        let mut off = self.chunks[ci].nth_offset(i);
        for c in self.chunks.range(ci..) {
            while off < c.buf.len() {
                let (s, e) = c.entry_at(off);
                if !f(index, &c.buf[s..e]) {
                    return;
                }
                index += 1;
                off = e;
            }
            off = 0;
        }
    }

    /// Calls `f` with each element's index and bytes from the tail towards
    /// the head until it returns false.
    pub fn walk_backward(&self, mut f: impl FnMut(usize, &[u8]) -> bool) {
        let mut index = self.len;
        for c in self.chunks.iter().rev() {
            for off in c.offsets().into_iter().rev() {
                index -= 1;
                if !f(index, c.data(off)) {
                    return;
                }
            }
        }
    }

    /// Every element, head first, owned.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len);
        self.walk_forward(0, |_, v| {
            out.push(v.to_vec());
            true
        });
        out
    }

    /// Removes `front` elements from the head and `back` from the tail.
    pub fn trim(&mut self, mut front: usize, mut back: usize) {
        if front + back >= self.len {
            self.chunks.clear();
            self.len = 0;
            return;
        }
        self.len -= front + back;
        while front > 0 {
            let c = &mut self.chunks[0];
            if front >= c.count {
                front -= c.count;
                self.chunks.pop_front();
            } else {
                let off = c.nth_offset(front);
                c.buf.drain(..off);
                c.count -= front;
                front = 0;
            }
        }
        while back > 0 {
            let c = self.chunks.back_mut().expect("elements remain");
            if back >= c.count {
                back -= c.count;
                self.chunks.pop_back();
            } else {
                let off = c.nth_offset(c.count - back);
                c.buf.truncate(off);
                c.count -= back;
                back = 0;
            }
        }
    }

    /// Removes elements equal to `val`: the first `count` from the head for
    /// a positive count, the last `-count` from the tail for a negative
    /// one, all of them for zero. Returns how many went.
    pub fn remove_matching(&mut self, val: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let from_tail = count < 0;
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.chunks.len()).rev().collect()
        } else {
            (0..self.chunks.len()).collect()
        };
        for ci in order {
            if removed == limit {
                break;
            }
            let c = &mut self.chunks[ci];
            let offs = c.offsets();
            let mut drop = vec![false; offs.len()];
            let mut any = false;
            let positions: Box<dyn Iterator<Item = usize>> = if from_tail {
                Box::new((0..offs.len()).rev())
            } else {
                Box::new(0..offs.len())
            };
            for i in positions {
                if removed == limit {
                    break;
                }
                if c.data(offs[i]) == val {
                    drop[i] = true;
                    any = true;
                    removed += 1;
                }
            }
            if any {
                let mut buf = Vec::with_capacity(c.buf.len());
                let mut kept = 0;
                for (i, &off) in offs.iter().enumerate() {
                    if !drop[i] {
                        let end = c.entry_at(off).1;
                        buf.extend_from_slice(&c.buf[off..end]);
                        kept += 1;
                    }
                }
                c.buf = buf;
                c.count = kept;
            }
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
                        && last.buf.len() + c.buf.len() <= fill.max_bytes =>
                {
                    last.reserve(c.buf.len(), fill);
                    last.buf.extend_from_slice(&c.buf);
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
    let n = store
        .config
        .get("list-max-listpack-size")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(-2);
    Fill::from_config(n)
}

fn as_list(value: &mut Value) -> Result<&mut List, CmdError> {
    match value {
        Value::List(l) => Ok(l),
        _ => Err(CmdError::WrongType),
    }
}

/// The list under `key` for a read (counting a hit or miss), or WRONGTYPE.
fn read<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut List>, CmdError> {
    match lookup_read(store, db, key, now) {
        None => Ok(None),
        Some(e) => as_list(&mut e.value).map(Some),
    }
}

/// The list under `key` for a write, or WRONGTYPE.
fn write<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut List>, CmdError> {
    let fill = config_fill(store);
    match lookup_write(store, db, key, now) {
        None => Ok(None),
        Some(e) => {
            let list = as_list(&mut e.value)?;
            list.set_fill(fill);
            Ok(Some(list))
        }
    }
}

/// Deletes `key` if its list has been emptied.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    if let Some(Value::List(l)) = ctx.store.dbs[ctx.db_index].get(key, now).map(|e| &e.value)
        && l.is_empty()
    {
        ctx.store.dbs[ctx.db_index].remove(key);
    }
}

/// Pushes `elements` at `end` of the list under `key`, creating it unless
/// `only_existing`. Returns the new length (0 when nothing was there and
/// it was not created). Shared by the push commands and LMOVE.
fn push_generic(
    ctx: &mut Ctx,
    key: &[u8],
    elements: &[Bytes],
    end: End,
    only_existing: bool,
) -> Result<usize, CmdError> {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    if write(ctx.store, db, key, now)?.is_none() {
        if only_existing {
            return Ok(0);
        }
        let list = List::new(config_fill(ctx.store));
        ctx.store.dbs[db].set(key, Value::List(Box::new(list)), false, now);
    }
    let list = write(ctx.store, db, key, now)?.expect("just created");
    for e in elements {
        list.push(end, e);
    }
    let len = list.len();
    ctx.dirty(elements.len() as u64);
    Ok(len)
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Left, false)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Right, false)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Left, true)?;
    ctx.out.int(n as i64);
    Ok(())
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = push_generic(ctx, &args[1], &args[2..], End::Right, true)?;
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
    let Some(list) = write(ctx.store, db, key, now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.null_array(),
        }
        return Ok(());
    };
    match count {
        None => {
            let v = list.pop(end).expect("stored lists are not empty");
            ctx.out.bulk(&v);
            ctx.dirty(1);
        }
        Some(n) => {
            let popped = pop_count(list, end, n);
            ctx.out.bulk_array(popped.iter());
            ctx.dirty(popped.len() as u64);
        }
    }
    delete_if_empty(ctx, key);
    Ok(())
}

/// LLEN key
pub fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |l| l.len());
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
    let Some(list) = read(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
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
        out.bulk(v);
        (i as i64) < stop
    });
    Ok(())
}

/// LINDEX key index
pub fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = read(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = arg_i64(&args[2])?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some(list) = write(ctx.store, db, &args[1], now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = arg_i64(&args[2])?;
    let Some(i) = resolve_index(index, list.len()) else {
        return Err(CmdError::err("index out of range"));
    };
    list.set(i, &args[3]);
    ctx.dirty(1);
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
    let Some(list) = write(ctx.store, db, &args[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut found = None;
    list.walk_forward(0, |i, v| {
        if v == &args[3][..] {
            found = Some(i);
        }
        found.is_none()
    });
    let Some(pos) = found else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(if after { pos + 1 } else { pos }, &args[4]);
    let len = list.len();
    ctx.dirty(1);
    ctx.out.int(len as i64);
    Ok(())
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some(list) = write(ctx.store, db, &args[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = list.remove_matching(&args[3], count);
    ctx.dirty(removed as u64);
    delete_if_empty(ctx, &args[1]);
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Some(list) = write(ctx.store, db, &args[1], now)? else {
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
    delete_if_empty(ctx, &args[1]);
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
    let Some(list) = read(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
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
    let mut visit = |i: usize, v: &[u8]| {
        if maxlen != 0 && compared >= maxlen {
            return false;
        }
        compared += 1;
        if v == &element[..] {
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
    let list = write(ctx.store, db, src, now)?.expect("checked above");
    let value = list.pop(from).expect("stored lists are not empty");
    if src == dst {
        list.push(to, &value);
    } else {
        delete_if_empty(ctx, src);
        push_generic(ctx, dst, &[Bytes::copy_from_slice(&value)], to, false)?;
    }
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

/// The parsed arguments of LMPOP (and, later, BLMPOP).
pub struct MpopArgs {
    /// Argument positions of the keys.
    pub keys: std::ops::Range<usize>,
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at
/// argument `numkeys_at`.
pub fn parse_mpop(args: &[Bytes], numkeys_at: usize) -> Result<MpopArgs, CmdError> {
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
    let end = End::parse(&args[where_at])?;
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
        let Some(list) = write(ctx.store, db, key, now)? else {
            continue;
        };
        let popped = pop_count(list, end, count);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk_array(popped.iter());
        ctx.dirty(popped.len() as u64);
        delete_if_empty(ctx, key);
        return Ok(true);
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let parsed = parse_mpop(args, 1)?;
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
/// forever) into an absolute deadline.
///
/// Redis converts `seconds * 1000` to a C `long long`; on x86-64 a value
/// out of that range (or infinite) converts to `LLONG_MIN`, which is why
/// `inf` is reported as negative. The same conversion is kept here.
fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let secs = crate::util::parse_f64(arg)
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    let ms: i64 = if ms.is_finite() && ms.abs() < 9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(CmdError::err("timeout is out of range"));
    }
    Ok(Some(now_ms + ms as u64))
}

/// BLPOP and BRPOP: the first non-empty list in argument order.
fn bpop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    let (db, now) = (ctx.db_index, ctx.now_ms);
    for key in keys {
        let Some(list) = write(ctx.store, db, key, now)? else {
            continue;
        };
        let Some(value) = list.pop(end) else {
            continue;
        };
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&value);
        delete_if_empty(ctx, key);
        ctx.store.dirty += 1;
        return Ok(());
    }
    ctx.block_on(keys, deadline, Unblocked::NullArray);
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
        None => ctx.block_on(std::slice::from_ref(src), deadline, Unblocked::Null),
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = End::parse(&args[3])?;
    let to = End::parse(&args[4])?;
    bmove(ctx, &args[1], &args[2], from, to, &args[5])
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bmove(ctx, &args[1], &args[2], End::Right, End::Left, &args[3])
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&args[1], ctx.now_ms)?;
    let parsed = parse_mpop(args, 2)?;
    let keys = &args[parsed.keys];
    if !mpop_from(ctx, keys, parsed.end, parsed.count)? {
        ctx.block_on(keys, deadline, Unblocked::NullArray);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list with `max_count` elements per chunk, so small tests cross
    /// chunk boundaries.
    fn small(max_count: i64) -> List {
        List::new(Fill::from_config(max_count))
    }

    fn contents(l: &List) -> Vec<String> {
        l.to_vec()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    /// Checks the list's bookkeeping against its chunks.
    fn check(l: &List) {
        assert_eq!(l.chunks.iter().map(|c| c.count).sum::<usize>(), l.len());
        for c in &l.chunks {
            assert!(c.count > 0, "empty chunk kept");
            assert_eq!(c.offsets().len(), c.count);
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
        assert!(l.chunks.len() >= 7);
        assert_eq!(l.get(0), Some(&b"l9"[..]));
        assert_eq!(l.get(19), Some(&b"r9"[..]));
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
        assert!(l.chunks.is_empty());
        assert_eq!(l.pop(End::Right), None);
    }

    #[test]
    fn byte_limited_chunks_and_long_elements() {
        let mut l = List::new(Fill::from_config(-1));
        let long = vec![b'x'; 300];
        for _ in 0..100 {
            l.push(End::Right, &long);
        }
        check(&l);
        assert!(l.chunks.iter().all(|c| c.buf.len() <= 4096));
        assert!(l.chunks.iter().all(|c| c.buf.capacity() <= 4096));
        // An element bigger than a chunk gets a chunk of its own.
        let huge = vec![b'y'; 10_000];
        l.push(End::Left, &huge);
        l.push(End::Right, &huge);
        check(&l);
        assert_eq!(l.get(0).unwrap(), &huge[..]);
        assert_eq!(l.get(101).unwrap(), &huge[..]);
        assert_eq!(l.get(50).unwrap(), &long[..]);
    }

    #[test]
    fn index_set_insert_remove() {
        let mut l = small(4);
        for i in 0..20 {
            l.push(End::Right, i.to_string().as_bytes());
        }
        for i in 0..20 {
            assert_eq!(l.get(i), Some(i.to_string().as_bytes()));
        }
        assert_eq!(l.get(20), None);
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
        assert!(l.chunks.iter().all(|c| c.count <= 4));
        assert_eq!(l.get(3), Some(&b"x"[..]));
        assert_eq!(l.get(13), Some(&b"3"[..]));
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
        assert_eq!(l.chunks.len(), 1, "thinned chunks are merged");
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
            assert_eq!(v, i.to_string().as_bytes());
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
        let mut l = List::default();
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            l.push(End::Right, &vec![b'q'; n]);
        }
        for (i, n) in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000]
            .into_iter()
            .enumerate()
        {
            assert_eq!(l.get(i).unwrap().len(), n);
        }
        check(&l);
    }
}
