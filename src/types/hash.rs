//! The hash type.
//!
//! Small hashes are a packed list of field/value pairs in insertion order
//! (Redis's `listpack`); past `hash-max-listpack-entries` fields, or a field
//! or value longer than `hash-max-listpack-value`, they become a hash table.
//! A hash never converts back, as in Redis.
//!
//! The file has the type's own API first, then the commands.

use bytes::Bytes;

use crate::cmd::keys::{lookup_read, parse_cursor, parse_scan_opts, reply_scan, scan_pairs};
use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::bytes::SmallBytes;
use crate::db::dict::Dict;
use crate::db::{Ttl, Value};
use crate::effects::class;
use crate::store::Store;
use crate::types::packed::{Elem, Needle, Packed, Span};
use crate::types::{Typed, read_as, read_with_rng, write_as};
use crate::util::{LdAddError, Rng, long_double_add};

#[derive(Debug, Clone)]
pub enum Hash {
    /// Field/value pairs in insertion order, packed: field, value, field...
    Listpack(Packed),
    /// Boxed, so a small hash does not carry a table's size.
    Table(Box<Dict<SmallBytes>>),
}

/// The two conversion thresholds, read from the config for each command.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `hash-max-listpack-entries`: more fields than this need a table.
    pub max_entries: usize,
    /// `hash-max-listpack-value`: a longer field or value needs a table.
    pub max_value: usize,
}

impl Limits {
    fn of(store: &Store) -> Limits {
        Limits {
            max_entries: store.config.hash_max_listpack_entries,
            max_value: store.config.hash_max_listpack_value,
        }
    }
}

impl Default for Hash {
    fn default() -> Hash {
        Hash::Listpack(Packed::new())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(p) => p.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING gives.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match self {
            Hash::Listpack(p) => find_pair(p, field).map(|(_, v)| p.at(v)),
            Hash::Table(d) => d.get(field).map(|v| Elem::Bytes(v)),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Every pair: in insertion order when packed, in table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Elem<'_>, Elem<'_>)> + '_> {
        match self {
            Hash::Listpack(p) => Box::new(pairs(p)),
            Hash::Table(d) => Box::new(d.iter().map(|(f, v)| (Elem::Bytes(f), Elem::Bytes(v)))),
        }
    }

    /// Turns a packed hash into a table (Redis's `hashTypeConvert`).
    fn convert(&mut self) {
        if let Hash::Listpack(p) = self {
            let mut dict = Dict::new();
            for (f, v) in pairs(p) {
                f.with_bytes(|f| v.with_bytes(|v| dict.insert_new(f, SmallBytes::new(v))));
            }
            *self = Hash::Table(Box::new(dict));
        }
    }

    /// Redis's `hashTypeTryConversion`: before a write of these arguments
    /// (fields and values), converts if any of them is too long to pack.
    pub fn try_conversion(&mut self, args: &[Bytes], limits: Limits) {
        let Hash::Listpack(p) = self else {
            return;
        };
        let total: usize = args.iter().map(|a| a.len()).sum();
        if args.iter().any(|a| a.len() > limits.max_value) || !p.safe_to_add(total) {
            self.convert();
        }
    }

    /// Sets a field, returning true if it is new. Converts first when the
    /// pair is too long to pack (the HINCRBY* path; HSET has converted
    /// already) and after when the hash has too many fields.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if let Hash::Listpack(p) = self
            && (field.len() > limits.max_value
                || value.len() > limits.max_value
                || !p.safe_to_add(field.len() + value.len()))
        {
            self.convert();
        }
        match self {
            Hash::Listpack(p) => match locate_pair(p, field) {
                Ok((_, v)) => {
                    p.replace(v.start, v.end, &[value]);
                    false
                }
                // The walk that missed the field counted the pairs, so the
                // limit needs no second walk.
                Err(pairs) => {
                    p.push_all(&[field, value]);
                    if pairs + 1 > limits.max_entries {
                        self.convert();
                    }
                    true
                }
            },
            Hash::Table(d) => d.insert(field, SmallBytes::new(value)).is_none(),
        }
    }

    /// A hash read from a packed form (an RDB listpack or ziplist): Redis
    /// keeps it packed whatever its values' lengths and converts only when
    /// it has more fields than `max_entries`. `None` if a field repeats.
    pub fn from_packed_pairs(pairs: &[(Vec<u8>, Vec<u8>)], limits: Limits) -> Option<Hash> {
        if pairs.len() > limits.max_entries {
            let mut d: Dict<SmallBytes> = Dict::new();
            for (f, v) in pairs {
                if d.insert(f, SmallBytes::new(v)).is_some() {
                    return None;
                }
            }
            return Some(Hash::Table(Box::new(d)));
        }
        let mut p = Packed::new();
        for (f, v) in pairs {
            if locate_pair(&p, f).is_ok() || !p.safe_to_add(f.len() + v.len()) {
                return None;
            }
            p.push_all(&[f, v]);
        }
        Some(Hash::Listpack(p))
    }

    /// Deletes a field, returning true if it was there.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(p) => match find_pair(p, field) {
                Some((f, v)) => {
                    p.replace(f.start, v.end, &[]);
                    true
                }
                None => false,
            },
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// A uniformly random pair, or `None` when empty.
    pub fn random_pair(&self, rng: &mut Rng) -> Option<(Elem<'_>, Elem<'_>)> {
        match self {
            Hash::Listpack(p) if p.is_empty() => None,
            Hash::Listpack(p) => pairs(p).nth(rng.below(self.len() as u64) as usize),
            Hash::Table(d) => d
                .random_entry(rng)
                .map(|(f, v)| (Elem::Bytes(f), Elem::Bytes(v))),
        }
    }

    /// `count` distinct pairs chosen uniformly (`count < len`). A packed hash
    /// answers them in its own order, as Redis's `lpRandomPairsUnique` does.
    fn random_distinct(&self, count: usize, rng: &mut Rng) -> Vec<(Elem<'_>, Elem<'_>)> {
        match self {
            Hash::Listpack(p) => {
                // Selection sampling: each pair is taken with probability
                // (still needed) / (still left).
                let mut picked = Vec::with_capacity(count);
                let mut left = self.len();
                for (f, v) in pairs(p) {
                    let needed = count - picked.len();
                    if needed == 0 {
                        break;
                    }
                    if (rng.below(left as u64) as usize) < needed {
                        picked.push((f, v));
                    }
                    left -= 1;
                }
                picked
            }
            Hash::Table(d) if count * 3 > d.len() => {
                // Most of the hash: copy it all and drop random pairs.
                let mut all: Vec<(Elem, Elem)> = d
                    .iter()
                    .map(|(f, v)| (Elem::Bytes(f), Elem::Bytes(v)))
                    .collect();
                while all.len() > count {
                    let i = rng.below(all.len() as u64) as usize;
                    all.swap_remove(i);
                }
                all
            }
            Hash::Table(d) => {
                // A small part: draw until enough distinct fields are seen.
                let mut seen: ahash::AHashSet<&[u8]> = ahash::AHashSet::with_capacity(count);
                let mut picked = Vec::with_capacity(count);
                while picked.len() < count {
                    let Some((f, v)) = d.random_entry(rng) else {
                        break;
                    };
                    if seen.insert(f) {
                        picked.push((Elem::Bytes(f), Elem::Bytes(v)));
                    }
                }
                picked
            }
        }
    }
}

/// A packed hash's pairs, in order.
pub fn pairs(p: &Packed) -> impl Iterator<Item = (Elem<'_>, Elem<'_>)> + '_ {
    let mut elements = p.iter();
    std::iter::from_fn(move || Some((elements.next()?, elements.next()?)))
}

/// Where `field` and its value sit in a packed hash.
fn find_pair(p: &Packed, field: &[u8]) -> Option<(Span, Span)> {
    locate_pair(p, field).ok()
}

/// Where `field` and its value sit in a packed hash, or how many pairs it
/// holds when the field is not there.
fn locate_pair(p: &Packed, field: &[u8]) -> Result<(Span, Span), usize> {
    let needle = Needle::new(field);
    let mut spans = p.spans();
    let mut pairs = 0;
    while let (Some(f), Some(v)) = (spans.next(), spans.next()) {
        if p.is_at(f, &needle) {
            return Ok((f, v));
        }
        pairs += 1;
    }
    Err(pairs)
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Redis's `hashTypeLookupWriteOrCreate`: the hash under `key`, created
/// empty (packed) if missing, or WRONGTYPE.
fn write_or_create<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<&'a mut Hash, CmdError> {
    if write_as::<Hash>(&mut store.dbs[db], key, now)?.is_none() {
        store.dbs[db].set(key, Value::Hash(Hash::default()), Ttl::Clear, now);
    }
    Ok(write_as::<Hash>(&mut store.dbs[db], key, now)?.expect("just created"))
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hset_generic(ctx, args, "hset")
}

/// HMSET key field value [field value ...]: HSET answering OK.
pub fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hset_generic(ctx, args, "hmset")
}

fn hset_generic(ctx: &mut Ctx, args: &[Bytes], name: &str) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{name}' command"
        )));
    }
    let limits = Limits::of(ctx.store);
    let hash = write_or_create(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    hash.try_conversion(&args[2..], limits);
    let mut added = 0;
    for pair in args[2..].chunks_exact(2) {
        added += hash.set(&pair[0], &pair[1], limits) as i64;
    }
    ctx.store.dirty += (args.len() as u64 - 2) / 2;
    ctx.changed(class::HASH, "hset", &args[1]);
    if name == "hset" {
        ctx.out.int(added);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let limits = Limits::of(ctx.store);
    let hash = write_or_create(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    if hash.contains(&args[2]) {
        ctx.out.int(0);
    } else {
        hash.try_conversion(&args[2..4], limits);
        hash.set(&args[2], &args[3], limits);
        ctx.store.dirty += 1;
        ctx.changed(class::HASH, "hset", &args[1]);
        ctx.out.int(1);
    }
    Ok(())
}

/// HGET key field
pub fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (store, out) = (&mut *ctx.store, &mut *ctx.out);
    let hash = read_as::<Hash>(store, ctx.db_index, &args[1], ctx.now_ms)?;
    match hash.and_then(|h| h.get(&args[2])) {
        Some(v) => v.reply(out),
        None => out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (store, out) = (&mut *ctx.store, &mut *ctx.out);
    let hash = match lookup_read(store, ctx.db_index, &args[1], ctx.now_ms) {
        None => None,
        Some(e) => Some(&*Hash::of(&mut e.value).ok_or(CmdError::WrongType)?),
    };
    out.array(args.len() - 2);
    for field in &args[2..] {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => v.reply(out),
            None => out.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]: deletes the key when the hash empties.
pub fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(hash) = write_as::<Hash>(&mut ctx.store.dbs[ctx.db_index], &args[1], ctx.now_ms)?
    else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for field in &args[2..] {
        if hash.delete(field) {
            deleted += 1;
            if hash.is_empty() {
                break;
            }
        }
    }
    let emptied = hash.is_empty();
    if emptied {
        ctx.store.dbs[ctx.db_index].remove(&args[1]);
    }
    if deleted > 0 {
        ctx.changed(class::HASH, "hdel", &args[1]);
        if emptied {
            ctx.notify(class::GENERIC, "del", &args[1]);
        }
    }
    ctx.store.dirty += deleted;
    ctx.out.int(deleted as i64);
    Ok(())
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_as::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_as::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?
        .and_then(|h| h.get(&args[2]).map(Elem::len));
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = read_as::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?
        .is_some_and(|h| h.contains(&args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

/// Which halves of each pair HKEYS, HVALS and HGETALL answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Halves {
    Fields,
    Values,
    Both,
}

fn getall_generic(ctx: &mut Ctx, key: &[u8], halves: Halves) -> CmdResult {
    let (store, out) = (&mut *ctx.store, &mut *ctx.out);
    let hash = match lookup_read(store, ctx.db_index, key, ctx.now_ms) {
        None => None,
        Some(e) => Some(&*Hash::of(&mut e.value).ok_or(CmdError::WrongType)?),
    };
    let len = hash.map_or(0, |h| h.len());
    if halves == Halves::Both {
        out.map(len);
    } else {
        out.array(len);
    }
    for (f, v) in hash.into_iter().flat_map(|h| h.iter()) {
        if halves != Halves::Values {
            f.reply(out);
        }
        if halves != Halves::Fields {
            v.reply(out);
        }
    }
    Ok(())
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, &args[1], Halves::Fields)
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, &args[1], Halves::Values)
}

/// HGETALL key: a map in RESP3.
pub fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, &args[1], Halves::Both)
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let incr = arg_i64(&args[3])?;
    let limits = Limits::of(ctx.store);
    let hash = write_or_create(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let old = match hash.get(&args[2]) {
        None => 0,
        Some(Elem::Int(n)) => n,
        Some(Elem::Bytes(v)) => crate::util::parse_i64(v)
            .ok_or_else(|| CmdError::err("hash value is not an integer"))?,
    };
    let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
    hash.set(&args[2], new.to_string().as_bytes(), limits);
    ctx.store.dirty += 1;
    ctx.changed(class::HASH, "hincrby", &args[1]);
    ctx.out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment, in long double as Redis computes it.
pub fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // The increment is checked before the key is looked at.
    match long_double_add(b"0", &args[3]) {
        Err(LdAddError::NanOrInfinity) => return Err(CmdError::err("value is NaN or Infinity")),
        Err(_) => return Err(CmdError::NotFloat),
        Ok(_) => {}
    }
    let limits = Limits::of(ctx.store);
    let hash = write_or_create(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let old = hash
        .get(&args[2])
        .map_or_else(|| b"0".to_vec(), Elem::to_vec);
    let sum = long_double_add(&old, &args[3]).map_err(|e| match e {
        LdAddError::NanOrInfinity => CmdError::err("increment would produce NaN or Infinity"),
        _ => CmdError::err("hash value is not a float"),
    })?;
    hash.set(&args[2], &sum, limits);
    ctx.store.dirty += 1;
    ctx.changed(class::HASH, "hincrbyfloat", &args[1]);
    // Replayed as the value it produced (HSET), so rounding cannot drift.
    let value = Bytes::copy_from_slice(&sum);
    ctx.propagate_as(vec![
        Bytes::from_static(b"HSET"),
        args[1].clone(),
        args[2].clone(),
        value,
    ]);
    ctx.out.bulk(&sum);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() < 3 {
        let (hash, rng) = read_with_rng::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
        let Some(hash) = hash else {
            ctx.out.null();
            return Ok(());
        };
        let out = &mut *ctx.out;
        match hash.random_pair(rng) {
            Some((f, _)) => f.reply(out),
            None => out.null(),
        }
        return Ok(());
    }
    let (n, with_values) = crate::types::parse_random_count(args, "WITHVALUES")?;
    let (hash, rng) = read_with_rng::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let out = &mut *ctx.out;
    let Some(hash) = hash else {
        out.array(0);
        return Ok(());
    };
    let count = n.unsigned_abs() as usize;
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let flat = with_values && !out.is_resp3();
    let emit = |out: &mut crate::resp::Reply, f: Elem, v: Elem| {
        if with_values && !flat {
            out.array(2);
        }
        f.reply(out);
        if with_values {
            v.reply(out);
        }
    };
    // Repeats allowed (and a count of 1, which cannot repeat anyway).
    if n < 0 || count == 1 {
        out.array(if flat { count * 2 } else { count });
        for _ in 0..count {
            let (f, v) = hash.random_pair(rng).expect("a stored hash is never empty");
            emit(out, f, v);
        }
        return Ok(());
    }
    let size = hash.len();
    let reply_len = count.min(size);
    out.array(if flat { reply_len * 2 } else { reply_len });
    if count >= size {
        for (f, v) in hash.iter() {
            emit(out, f, v);
        }
        return Ok(());
    }
    for (f, v) in hash.random_distinct(count, rng) {
        emit(out, f, v);
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&args[2])?;
    if read_as::<Hash>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.is_none() {
        reply_scan(ctx, 0, &[] as &[&[u8]]);
        return Ok(());
    }
    let hash = &*write_as::<Hash>(&mut ctx.store.dbs[ctx.db_index], &args[1], ctx.now_ms)?
        .expect("checked above");
    let opts = parse_scan_opts(args, 3, false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    match hash {
        // A packed hash is small: all of it at once, cursor 0.
        Hash::Listpack(p) => {
            for (f, v) in pairs(p) {
                let f = f.to_vec();
                if opts.matches(&f) {
                    items.push(f);
                    items.push(v.to_vec());
                }
            }
            cursor = 0;
        }
        Hash::Table(d) => cursor = scan_pairs(d, cursor, &opts, |v| v.to_vec(), &mut items),
    }
    reply_scan(ctx, cursor, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    fn packed(pairs: &[(&str, &str)]) -> Hash {
        let mut h = Hash::default();
        for (f, v) in pairs {
            h.set(f.as_bytes(), v.as_bytes(), LIMITS);
        }
        h
    }

    fn fields(h: &Hash) -> Vec<String> {
        h.iter()
            .map(|(f, _)| String::from_utf8(f.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn packed_keeps_insertion_order_and_replaces_in_place() {
        let mut h = packed(&[("b", "1"), ("a", "2"), ("c", "3")]);
        assert!(!h.set(b"a", b"20", LIMITS));
        assert_eq!(fields(&h), ["b", "a", "c"]);
        assert_eq!(h.get(b"a").map(Elem::to_vec), Some(b"20".to_vec()));
        assert!(h.delete(b"b"));
        assert!(!h.delete(b"b"));
        assert_eq!(fields(&h), ["a", "c"]);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_past_max_entries_not_at_it() {
        let mut h = packed(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        assert_eq!(h.encoding(), "listpack");
        // Replacing a field does not grow the hash.
        h.set(b"d", b"44", LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"e", b"5", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"d").map(Elem::to_vec), Some(b"44".to_vec()));
    }

    #[test]
    fn converts_for_a_long_field_or_value() {
        let mut h = packed(&[("a", "12345678")]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"a", b"123456789", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a").map(Elem::to_vec), Some(b"123456789".to_vec()));

        let mut h = packed(&[("a", "1")]);
        h.set(b"123456789", b"x", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn try_conversion_looks_at_every_argument() {
        let mut h = packed(&[("a", "1")]);
        let short: Vec<Bytes> = vec![Bytes::from_static(b"f"), Bytes::from_static(b"12345678")];
        h.try_conversion(&short, LIMITS);
        assert_eq!(h.encoding(), "listpack");
        let long: Vec<Bytes> = vec![Bytes::from_static(b"f"), Bytes::from_static(b"123456789")];
        h.try_conversion(&long, LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a").map(Elem::to_vec), Some(b"1".to_vec()));
    }

    #[test]
    fn never_converts_back() {
        let mut h = packed(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
        assert_eq!(h.encoding(), "hashtable");
        for f in ["a", "b", "c", "d"] {
            h.delete(f.as_bytes());
        }
        assert_eq!(h.len(), 1);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn zero_max_entries_means_always_a_table() {
        let limits = Limits {
            max_entries: 0,
            max_value: 64,
        };
        let mut h = Hash::default();
        h.set(b"a", b"1", limits);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn random_distinct_picks_distinct_fields_in_both_encodings() {
        let mut rng = Rng::new(7);
        let big = Limits {
            max_entries: 1000,
            max_value: 64,
        };
        for limits in [
            big,
            Limits {
                max_entries: 0,
                ..big
            },
        ] {
            let mut h = Hash::default();
            for i in 0..100 {
                h.set(format!("f{i}").as_bytes(), b"v", limits);
            }
            for count in [1, 5, 33, 34, 99] {
                let picked = h.random_distinct(count, &mut rng);
                let unique: std::collections::HashSet<_> =
                    picked.iter().map(|p| p.0.to_vec()).collect();
                assert_eq!(picked.len(), count);
                assert_eq!(unique.len(), count);
            }
        }
    }

    /// Random sets and deletes on a packed hash against a list of pairs in
    /// insertion order (Redis's listpack order), with binary and empty
    /// fields and values of every length class.
    #[test]
    fn packed_operations_match_a_model() {
        let limits = Limits {
            max_entries: 1_000,
            max_value: 1_000,
        };
        let mut rng = crate::util::Rng::new(0x2545_F491_4F6C_DD1D);
        let mut next = move || rng.next_u64();
        for _ in 0..30 {
            let mut h = Hash::default();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..300 {
                // Fields and values that are integers (packed as integers
                // of every width) or look like them, and strings of every
                // header size.
                let field = match next() % 3 {
                    0 => format!("f{}", next() % 40).into_bytes(),
                    1 => ((next() % 40) as i64 - 20).to_string().into_bytes(),
                    _ => [&b"-0"[..], b"007", b"+1", b"0"][(next() % 4) as usize].to_vec(),
                };
                let value = match next() % 3 {
                    0 => ((next() as i64) >> (next() % 64)).to_string().into_bytes(),
                    _ => {
                        let len = [0usize, 1, 8, 63, 64, 127, 128, 300][(next() % 8) as usize];
                        vec![(next() % 256) as u8; len]
                    }
                };
                if next() % 3 == 0 {
                    let at = model.iter().position(|(f, _)| *f == field);
                    assert_eq!(h.delete(&field), at.is_some());
                    if let Some(i) = at {
                        model.remove(i);
                    }
                } else {
                    let at = model.iter().position(|(f, _)| *f == field);
                    assert_eq!(h.set(&field, &value, limits), at.is_none());
                    match at {
                        Some(i) => model[i].1 = value,
                        None => model.push((field, value)),
                    }
                }
                assert_eq!(h.len(), model.len());
            }
            assert_eq!(h.encoding(), "listpack");
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            assert_eq!(got, model);
            for (f, v) in &model {
                assert_eq!(h.get(f).map(Elem::to_vec).as_ref(), Some(v));
            }
        }
    }
}
