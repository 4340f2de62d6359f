//! The set type.
//!
//! Sets of integers only, up to `set-max-intset-entries`, are a sorted
//! array of integers (Redis's `intset`); small sets of strings are a packed
//! array (what Redis 7.2 calls a `listpack`); the rest are a hash table.
//! OBJECT ENCODING reports what Redis 7.0 reports for the same set:
//! `intset` or `hashtable`.
//!
//! The file holds the structure's API first, then the commands.

use bytes::Bytes;

use crate::cmd::keys::{parse_cursor, parse_scan_opts, reply_scan};
use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::dict::Dict;
use crate::db::{Db, Entry, Ttl, Value};
use crate::effects::class;
use crate::resp::Reply;
use crate::types::intset::IntSet;
use crate::types::packed::{Elem, Needle, Packed};
use crate::types::{read_as, write_as};
use crate::util::{Rng, eq_ic, parse_i64};

/// The most members a packed string set holds (Redis 7.2's
/// `set-max-listpack-entries` default; 7.0 has no such setting).
const LISTPACK_MAX_ENTRIES: usize = 128;
/// The longest member, in bytes, a packed string set holds.
const LISTPACK_MAX_VALUE_BYTES: usize = 64;

#[derive(Debug, Clone)]
pub enum Set {
    /// Sorted, distinct integers, at the narrowest width.
    Intset(IntSet),
    /// Distinct members in insertion order.
    Listpack(Packed),
    /// Boxed, so a small set does not carry a table's size.
    Table(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(IntSet::new())
    }
}

impl Set {
    /// An empty set in the encoding Redis starts with for `first`, the
    /// first member to be added: an intset for an integer, else strings.
    pub fn for_first_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Intset(IntSet::new())
        } else if first.len() <= LISTPACK_MAX_VALUE_BYTES {
            Set::Listpack(Packed::new())
        } else {
            Set::Table(Box::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Listpack(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING gives: Redis 7.0 has no packed string set,
    /// so that form is reported as `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Listpack(_) | Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => parse_i64(member).is_some_and(|n| v.contains(n)),
            Set::Listpack(p) => p.find(member).is_some(),
            Set::Table(d) => d.contains_key(member),
        }
    }

    pub fn contains_member(&self, member: Elem) -> bool {
        match (self, member) {
            (Set::Intset(v), Elem::Int(n)) => v.contains(n),
            _ => member.with_bytes(|b| self.contains(b)),
        }
    }

    /// Adds `member`, converting the encoding as Redis does: an intset
    /// becomes a table when a non-integer arrives or it grows past
    /// `max_intset_entries`; a packed set becomes a table past
    /// [`LISTPACK_MAX_ENTRIES`] members or with a member longer than
    /// [`LISTPACK_MAX_VALUE_BYTES`]. Returns false if it was already there.
    pub fn add(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        match self {
            Set::Intset(v) => match parse_i64(member) {
                Some(n) => {
                    if !v.insert(n) {
                        return false;
                    }
                    if v.len() > max_intset_entries.min(crate::types::intset::MAX_ENTRIES) {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    self.add(member, max_intset_entries)
                }
            },
            Set::Listpack(p) => {
                // One walk both looks for the member and counts the rest.
                let needle = Needle::new(member);
                let mut count = 0;
                for at in p.spans() {
                    if p.is_at(at, &needle) {
                        return false;
                    }
                    count += 1;
                }
                if count < LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE_BYTES {
                    p.push_all(&[member]);
                    return true;
                }
                self.convert_to_table();
                self.add(member, max_intset_entries)
            }
            // `insert` (not `insert_new`) so each add also moves the
            // incremental rehash along.
            Set::Table(d) => d.insert(member, ()).is_none(),
        }
    }

    /// Removes `member`. Returns false if it was not there. Like Redis, a
    /// set never goes back to a smaller encoding.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => parse_i64(member).is_some_and(|n| v.remove(n)),
            Set::Listpack(p) => {
                let found = p.find(member);
                if let Some(at) = found {
                    p.replace(at.start, at.end, &[]);
                }
                found.is_some()
            }
            Set::Table(d) => {
                let removed = d.remove(member).is_some();
                // As Redis's setTypeRemove: a table that has lost most of
                // its members shrinks, which also keeps random picks fast.
                if removed {
                    d.shrink_if_needed();
                }
                removed
            }
        }
    }

    fn convert_to_table(&mut self) {
        let mut d = Dict::new();
        self.for_each(|m| {
            m.with_bytes(|b| d.insert(b, ()));
        });
        *self = Set::Table(Box::new(d));
    }

    /// Calls `f` for every member in the set's order: ascending for an
    /// intset, insertion order for a packed set, table order otherwise.
    pub fn for_each(&self, mut f: impl FnMut(Elem)) {
        match self {
            Set::Intset(v) => v.iter().for_each(|n| f(Elem::Int(n))),
            Set::Listpack(p) => p.iter().for_each(f),
            Set::Table(d) => d.iter().for_each(|(k, _)| f(Elem::Bytes(k))),
        }
    }

    /// Every member, owned, in the set's order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m| out.push(m.to_vec()));
        out
    }

    /// A uniformly random member, or `None` for an empty set.
    pub fn random(&self, rng: &mut Rng) -> Option<Elem<'_>> {
        if self.is_empty() {
            return None;
        }
        Some(match self {
            Set::Intset(v) => Elem::Int(v.get(rng.below(v.len() as u64) as usize)),
            Set::Listpack(p) => p.iter().nth(rng.below(p.len() as u64) as usize)?,
            Set::Table(d) => Elem::Bytes(d.random_entry(rng)?.0),
        })
    }

    /// Removes and returns a uniformly random member.
    pub fn pop_random(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    /// `count` distinct members (count < len), chosen uniformly without
    /// replacement, in random order.
    fn sample_distinct(&self, count: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
        if let Set::Table(d) = self
            && count * 3 <= d.len()
        {
            // Few of many: draw until enough distinct members are seen.
            let mut seen: Dict<()> = Dict::new();
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let (k, _) = d.random_entry(rng).expect("count < len");
                if seen.insert(k, ()).is_none() {
                    out.push(k.to_vec());
                }
            }
            return out;
        }
        let mut all = self.members();
        partial_shuffle(&mut all, count, rng);
        all.truncate(count);
        all
    }
}

/// Moves a uniform random choice of `count` elements, in random order, to
/// the front of `v` (the first `count` steps of Fisher-Yates).
fn partial_shuffle<T>(v: &mut [T], count: usize, rng: &mut Rng) {
    for i in 0..count.min(v.len()) {
        let j = i + rng.below((v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Writes a whole set as a RESP3 set (an array in RESP2), in its order.
fn reply_set(out: &mut Reply, set: &Set) {
    out.set(set.len());
    set.for_each(|m| m.reply(out));
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let max = ctx.store.config.set_max_intset_entries;
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    let added = match write_as::<Set>(db, &args[1], now)? {
        Some(set) => args[2..].iter().filter(|m| set.add(m, max)).count(),
        None => {
            let mut set = Set::for_first_member(&args[2]);
            let n = args[2..].iter().filter(|m| set.add(m, max)).count();
            db.set(&args[1], Value::Set(set), Ttl::Clear, now);
            n
        }
    };
    ctx.store.dirty += added as u64;
    if added > 0 {
        ctx.changed(class::SET, "sadd", &args[1]);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    let mut removed = 0;
    if let Some(set) = write_as::<Set>(db, &args[1], now)? {
        for m in &args[2..] {
            if set.remove(m) {
                removed += 1;
                if set.is_empty() {
                    break;
                }
            }
        }
        let emptied = set.is_empty();
        if emptied {
            db.remove(&args[1]);
        }
        if removed > 0 {
            ctx.changed(class::SET, "srem", &args[1]);
            if emptied {
                ctx.notify(class::GENERIC, "del", &args[1]);
            }
        }
    }
    ctx.store.dirty += removed;
    ctx.out.int(removed as i64);
    Ok(())
}

/// SCARD key
pub fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?
        .is_some_and(|s| s.contains(&args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]: integers, in RESP3 too.
pub fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let set = read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        let found = set.as_ref().is_some_and(|s| s.contains(m));
        ctx.out.int(found as i64);
    }
    Ok(())
}

/// SMEMBERS key: in Redis 7.0 this is SINTER of one key.
pub fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? {
        Some(set) => reply_set(ctx.out, set),
        None => ctx.out.set(0),
    }
    Ok(())
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let now = ctx.now_ms;
    let store = &mut *ctx.store;
    let Some(set) = write_as::<Set>(&mut store.dbs[ctx.db_index], &args[1], now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let rng = &mut store.rng;
    let popped: u64;
    // What SPOP replays as: SREM of each member it popped, or DEL when it
    // took the whole set (Redis's rewrite and alsoPropagate).
    let mut removed: Vec<Bytes> = Vec::new();
    let propagating = store.effects.record_propagation;
    match count {
        None => {
            let m = set.pop_random(rng).expect("sets are never empty");
            ctx.out.bulk(&m);
            if propagating {
                removed.push(Bytes::copy_from_slice(&m));
            }
            popped = 1;
        }
        Some(0) => {
            ctx.out.set(0);
            return Ok(());
        }
        Some(n) if n >= set.len() as u64 => {
            // The whole set, in its own order, as Redis's SUNION of it.
            reply_set(ctx.out, set);
            popped = set.len() as u64;
            *set = Set::default();
        }
        Some(n) => {
            let n = n as usize;
            ctx.out.set(n);
            if n * 5 > set.len() {
                // Most of the set goes: choose the survivors' complement
                // with one shuffle, then rebuild from the survivors.
                let mut all = set.members();
                partial_shuffle(&mut all, n, rng);
                let max = store.config.set_max_intset_entries;
                let mut rest = match set {
                    Set::Intset(_) => Set::Intset(IntSet::new()),
                    Set::Listpack(_) => Set::Listpack(Packed::new()),
                    Set::Table(_) => Set::Table(Box::default()),
                };
                for m in &all[n..] {
                    rest.add(m, max.max(all.len()));
                }
                for m in &all[..n] {
                    ctx.out.bulk(m);
                    if propagating {
                        removed.push(Bytes::copy_from_slice(m));
                    }
                }
                *set = rest;
            } else {
                for _ in 0..n {
                    let m = set.pop_random(rng).expect("n < len");
                    ctx.out.bulk(&m);
                    if propagating {
                        removed.push(Bytes::copy_from_slice(&m));
                    }
                }
            }
            popped = n as u64;
        }
    }
    let emptied = set.is_empty();
    if emptied {
        store.dbs[ctx.db_index].remove(&args[1]);
    }
    store.dirty += popped;
    spop_effects(ctx, &args[1], count, emptied, removed);
    Ok(())
}

/// SPOP's events and propagation: `spop`, then `del` if the set went.
fn spop_effects(
    ctx: &mut Ctx,
    key: &Bytes,
    count: Option<u64>,
    emptied: bool,
    removed: Vec<Bytes>,
) {
    ctx.notify(class::SET, "spop", key);
    if emptied {
        ctx.notify(class::GENERIC, "del", key);
    }
    ctx.modified(key);
    let srem = |m: Bytes| vec![Bytes::from_static(b"SREM"), key.clone(), m];
    match count {
        None => {
            if let Some(m) = removed.into_iter().next() {
                ctx.propagate_as(srem(m));
            }
        }
        Some(_) if emptied => ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]),
        Some(_) => {
            for m in removed {
                ctx.also_propagate(srem(m));
            }
            ctx.prevent_propagation();
        }
    }
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => {
            let n = arg_i64(a)?;
            if n == i64::MIN {
                return Err(CmdError::err(
                    "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            Some(n)
        }
    };
    let mut rng = ctx.store.rng.clone();
    let result = srandmember_with(ctx, args, count, &mut rng);
    ctx.store.rng = rng;
    result
}

fn srandmember_with(ctx: &mut Ctx, args: &[Bytes], count: Option<i64>, rng: &mut Rng) -> CmdResult {
    let set = read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let out = &mut *ctx.out;
    let Some(count) = count else {
        match set.and_then(|s| s.random(rng)) {
            Some(m) => m.reply(out),
            None => out.null(),
        }
        return Ok(());
    };
    let Some(set) = set else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
    } else if count < 0 || count == 1 {
        // With repeats: every draw samples the whole set.
        let n = count.unsigned_abs();
        out.array(n as usize);
        for _ in 0..n {
            set.random(rng).expect("non-empty").reply(out);
        }
    } else if count as u64 >= set.len() as u64 {
        out.array(set.len());
        set.for_each(|m| m.reply(out));
    } else {
        let picked = set.sample_distinct(count as usize, rng);
        out.bulk_array(picked.iter());
    }
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    let max = ctx.store.config.set_max_intset_entries;
    let db = &mut ctx.store.dbs[ctx.db_index];
    let dst_exists = match db.lookup(dst, now) {
        None => false,
        Some(e) if matches!(e.value, Value::Set(_)) => true,
        Some(_) => {
            // A missing source answers 0 before the destination's type is
            // looked at.
            if db.lookup(src, now).is_none() {
                ctx.out.int(0);
                return Ok(());
            }
            write_as::<Set>(db, src, now)?;
            return Err(CmdError::WrongType);
        }
    };
    let Some(src_set) = write_as::<Set>(db, src, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if src == dst {
        let found = src_set.contains(member);
        ctx.out.int(found as i64);
        return Ok(());
    }
    if !src_set.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let emptied = src_set.is_empty();
    if emptied {
        db.remove(src);
    }
    ctx.notify(class::SET, "srem", src);
    if emptied {
        ctx.notify(class::GENERIC, "del", src);
    }
    ctx.modified(src);
    let db = &mut ctx.store.dbs[ctx.db_index];
    let added = if dst_exists {
        write_as::<Set>(db, dst, now)?.is_some_and(|d| d.add(member, max))
    } else {
        let mut set = Set::for_first_member(member);
        set.add(member, max);
        db.set(dst, Value::Set(set), Ttl::Clear, now);
        true
    };
    ctx.store.dirty += 1;
    // A destination that already held the member is not modified.
    if added {
        ctx.store.dirty += 1;
        ctx.changed(class::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// Checks the keys of a multi-key command the way Redis 7.0 looks them up
/// one by one, as reads (STORE forms too): lazy expiry, hit/miss counting,
/// and WRONGTYPE if any holds another type.
fn check_sources(ctx: &mut Ctx, keys: &[Bytes]) -> CmdResult {
    for key in keys {
        read_as::<Set>(ctx.store, ctx.db_index, key, ctx.now_ms)?;
    }
    Ok(())
}

/// The sets of checked keys, borrowed together (`None` for a missing key).
/// Borrowing, not copying, keeps SINTER of a small set with a huge one
/// proportional to the small one, as in Redis.
fn sources<'a>(db: &'a Db, keys: &[Bytes], now_ms: u64) -> Vec<Option<&'a Set>> {
    keys.iter()
        .map(|key| match db.get(key, now_ms) {
            Some(Entry {
                value: Value::Set(s),
                ..
            }) => Some(s),
            _ => None,
        })
        .collect()
}

/// Stores `result` at `dst` (or deletes `dst` when it is empty) and
/// replies with its size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &'static str) {
    let n = result.len();
    let db = &mut ctx.store.dbs[ctx.db_index];
    if n == 0 {
        if db.remove(dst) {
            ctx.store.dirty += 1;
            ctx.changed(class::GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::Set(result), Ttl::Clear, ctx.now_ms);
        ctx.store.dirty += 1;
        ctx.changed(class::SET, event, dst);
    }
    ctx.out.int(n as i64);
}

/// What SINTER and its variants do with the intersection.
enum InterOutput<'a> {
    Reply,
    Store(&'a [u8]),
    /// SINTERCARD: count only, stopping at the limit (0 = none).
    Count(usize),
}

fn sinter_generic(ctx: &mut Ctx, keys: &[Bytes], output: InterOutput) -> CmdResult {
    let max = ctx.store.config.set_max_intset_entries;
    check_sources(ctx, keys)?;
    let found = sources(&ctx.store.dbs[ctx.db_index], keys, ctx.now_ms);
    // A missing key is an empty set, which empties the intersection.
    let mut sets: Vec<&Set> = found
        .into_iter()
        .collect::<Option<Vec<&Set>>>()
        .unwrap_or_default();
    // Iterate the smallest set, checking the others smallest first.
    sets.sort_by_key(|s| s.len());
    let mut result = Set::default();
    let mut members: Vec<Vec<u8>> = Vec::new();
    let mut count = 0usize;
    if let Some((first, rest)) = sets.split_first() {
        let limit = match output {
            InterOutput::Count(l) if l > 0 => l,
            _ => usize::MAX,
        };
        first.for_each(|m| {
            if count >= limit || !rest.iter().all(|s| s.contains_member(m)) {
                return;
            }
            count += 1;
            match output {
                InterOutput::Reply => members.push(m.to_vec()),
                InterOutput::Store(_) => {
                    m.with_bytes(|b| result.add(b, max));
                }
                InterOutput::Count(_) => {}
            }
        });
    }
    match output {
        InterOutput::Reply => {
            ctx.out.set(members.len());
            for m in &members {
                ctx.out.bulk(m);
            }
        }
        InterOutput::Store(dst) => store_result(ctx, dst, result, "sinterstore"),
        InterOutput::Count(_) => ctx.out.int(count as i64),
    }
    Ok(())
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sinter_generic(ctx, &args[1..], InterOutput::Reply)
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let dst = args[1].clone();
    sinter_generic(ctx, &args[2..], InterOutput::Store(&dst))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = keys_end;
    while i < args.len() {
        if eq_ic(&args[i], "LIMIT") && i + 1 < args.len() {
            limit = match parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    sinter_generic(ctx, &args[2..keys_end], InterOutput::Count(limit))
}

/// SUNION and SDIFF, replying or storing.
/// Which of SUNION and SDIFF a shared body computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

fn sunion_diff_generic(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&[u8]>, op: SetOp) -> CmdResult {
    let diff = op == SetOp::Diff;
    let max = ctx.store.config.set_max_intset_entries;
    check_sources(ctx, keys)?;
    let found = sources(&ctx.store.dbs[ctx.db_index], keys, ctx.now_ms);
    // Built as Redis builds it, from an empty intset, so its encoding and
    // order are Redis's.
    let mut result = Set::default();
    if diff {
        if let Some(first) = found[0] {
            let others: Vec<&Set> = found[1..].iter().flatten().copied().collect();
            first.for_each(|m| {
                if !others.iter().any(|s| s.contains_member(m)) {
                    m.with_bytes(|b| result.add(b, max));
                }
            });
        }
    } else {
        for s in found.iter().flatten() {
            s.for_each(|m| {
                m.with_bytes(|b| result.add(b, max));
            });
        }
    }
    match dst {
        Some(dst) => store_result(
            ctx,
            dst,
            result,
            if diff { "sdiffstore" } else { "sunionstore" },
        ),
        None => reply_set(ctx.out, &result),
    }
    Ok(())
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &args[1..], None, SetOp::Union)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &args[2..], Some(&args[1]), SetOp::Union)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &args[1..], None, SetOp::Diff)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &args[2..], Some(&args[1]), SetOp::Diff)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is parsed
/// first, then the key, then the options, as Redis does.
pub fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&args[2])?;
    let Some(set) = read_as::<Set>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        reply_scan(ctx, 0, &[] as &[&[u8]]);
        return Ok(());
    };
    let opts = parse_scan_opts(args, 3, false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    match set {
        Set::Table(d) => {
            let mut max_iterations = opts.count.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, |k, _| {
                    if opts.matches(k) {
                        items.push(k.to_vec());
                    }
                });
                max_iterations -= 1;
                if cursor == 0 || max_iterations <= 0 || items.len() as i64 >= opts.count {
                    break;
                }
            }
        }
        _ => {
            // A compact set is returned whole, whatever the cursor.
            set.for_each(|m| {
                m.with_bytes(|b| {
                    if opts.matches(b) {
                        items.push(b.to_vec());
                    }
                })
            });
            cursor = 0;
        }
    }
    reply_scan(ctx, cursor, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(first: &[u8], members: &[&[u8]], max_intset: usize) -> Set {
        let mut s = Set::for_first_member(first);
        for m in members {
            s.add(m, max_intset);
        }
        s
    }

    #[test]
    fn integers_stay_a_sorted_intset() {
        let s = filled(b"3", &[b"3", b"-1", b"2", b"3"], 512);
        assert!(matches!(&s, Set::Intset(v) if v.iter().eq([-1, 2, 3])));
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"x"));
    }

    #[test]
    fn intset_becomes_a_table_when_a_string_is_added() {
        let mut s = filled(b"1", &[b"1", b"2"], 512);
        assert!(s.add(b"abc", 512));
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"2") && s.contains(b"abc"));
        assert!(!s.add(b"1", 512));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn intset_becomes_a_table_past_the_limit() {
        let mut s = filled(b"1", &[b"1", b"2", b"3"], 3);
        assert!(matches!(s, Set::Intset(_)));
        assert!(s.add(b"4", 3));
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), 4);
        // An integer too big for i64 is a string.
        let mut s = filled(b"1", &[b"1"], 512);
        s.add(b"9223372036854775808", 512);
        assert!(matches!(s, Set::Table(_)));
    }

    #[test]
    fn packed_strings_become_a_table_when_too_many_or_too_long() {
        let mut s = filled(b"a", &[b"a", b"b"], 512);
        assert!(matches!(s, Set::Listpack(_)));
        assert_eq!(s.encoding(), "hashtable");
        // Integers join a packed set as strings.
        s.add(b"7", 512);
        assert!(matches!(s, Set::Listpack(_)));
        s.add(&[b'x'; LISTPACK_MAX_VALUE_BYTES + 1], 512);
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), 4);

        let mut s = Set::for_first_member(b"m");
        for i in 0..LISTPACK_MAX_ENTRIES {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        assert!(matches!(s, Set::Listpack(_)));
        s.add(b"one more", 512);
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), LISTPACK_MAX_ENTRIES + 1);
        assert!(s.contains(b"m0") && s.contains(b"one more"));
    }

    #[test]
    fn long_first_member_starts_a_table() {
        let s = Set::for_first_member(&[b'y'; 100]);
        assert!(matches!(s, Set::Table(_)));
    }

    #[test]
    fn removal_keeps_the_encoding() {
        for first in [&b"1"[..], b"a"] {
            let mut s = filled(first, &[first, b"2", b"x"], 512);
            let before = std::mem::discriminant(&s);
            assert!(s.remove(b"x"));
            assert!(!s.remove(b"x"));
            assert_eq!(std::mem::discriminant(&s), before);
        }
    }

    #[test]
    fn sampling_is_distinct() {
        let mut rng = Rng::new(7);
        let mut s = Set::for_first_member(b"a");
        for i in 0..1000 {
            s.add(format!("k{i}").as_bytes(), 512);
        }
        for count in [1, 10, 300, 999] {
            let picked = s.sample_distinct(count, &mut rng);
            let distinct: std::collections::HashSet<_> = picked.iter().collect();
            assert_eq!(distinct.len(), count);
            assert!(picked.iter().all(|m| s.contains(m)));
        }
    }

    /// Random adds and removes against a `BTreeSet`, through every
    /// encoding: integers first (intset), then short strings (packed),
    /// then enough members or a long one for a table.
    #[test]
    fn operations_match_a_model_through_every_encoding() {
        let mut rng = crate::util::Rng::new(0xD1B5_4A32_D192_ED03);
        let mut next = move || rng.next_u64();
        for round in 0..40 {
            let mut set = Set::default();
            let mut model = std::collections::BTreeSet::new();
            let mut encodings = std::collections::BTreeSet::new();
            for step in 0..400u64 {
                let r = next();
                let member: Vec<u8> = match (step * 4 / 400, r % 5) {
                    (0, _) | (_, 0) => ((r >> 8) as i64 % 70_000 - 35_000).to_string().into_bytes(),
                    (_, 1) if round % 4 == 0 => vec![b'L'; 65 + (r % 3) as usize],
                    _ => format!("m{}", r % 150).into_bytes(),
                };
                if next() % 4 == 0 {
                    assert_eq!(set.remove(&member), model.remove(&member));
                } else {
                    assert_eq!(set.add(&member, 64), model.insert(member.clone()));
                }
                encodings.insert(match set {
                    Set::Intset(_) => 0,
                    Set::Listpack(_) => 1,
                    Set::Table(_) => 2,
                });
                assert_eq!(set.len(), model.len());
            }
            let mut got = set.members();
            got.sort();
            assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
            assert!(model.iter().all(|m| set.contains(m)));
            assert!(encodings.len() >= 2, "round {round} stayed in one encoding");
        }
    }
}
