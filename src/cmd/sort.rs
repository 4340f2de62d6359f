//! SORT and SORT_RO, as Redis 7.0's sort.c: the elements of a list, set
//! or sorted set, ordered by themselves or by values of other keys found
//! through a pattern (`BY weight_*`, `BY obj_*->field`), optionally
//! limited, and either replied with (the elements, or other keys' values
//! through `GET` patterns) or stored as a list.
//!
//! The elements are copied into one buffer (`Vector`) before anything else
//! is read, so BY and GET lookups, and STORE overwriting the sorted key
//! itself, see them unchanged. The order follows Redis exactly: a full
//! sort is glibc's `qsort`, a merge sort and so stable, and a BY sort
//! with a LIMIT is Redis's partial quicksort (`crate::csort`), whose
//! order among equal weights is its own.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::Value;
use crate::effects::class;
use crate::store::Store;
use crate::types::list::{End, Fill, List};
use crate::types::packed::Elem;
use crate::types::zset::Dir;
use crate::util::{eq_ic, until_nul};

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
///      [ASC|DESC] [ALPHA] [STORE destination]
pub fn sort(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, Variant::Sort)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
///         [ASC|DESC] [ALPHA]
pub fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, Variant::ReadOnly)
}

/// Which command is running: SORT_RO knows no STORE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Sort,
    ReadOnly,
}

/// Which way the comparison runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Asc,
    Desc,
}

/// How elements compare: by their numeric weight, or as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Numeric,
    Alpha,
}

/// SORT's options, as parsed.
struct Options {
    order: Order,
    compare: Compare,
    limit_start: i64,
    limit_count: i64,
    by: Option<Bytes>,
    /// BY with a pattern that has no `*`: nothing is looked up or sorted.
    dontsort: bool,
    gets: Vec<Bytes>,
    store: Option<Bytes>,
}

const DENIED_BY: &str = "BY option of SORT denied due to insufficient ACL permissions.";
const DENIED_GET: &str = "GET option of SORT denied due to insufficient ACL permissions.";

/// Parses the options with Redis's rules: the last of repeated options
/// wins, an option missing its arguments is a syntax error, and BY with a
/// real pattern or GET needs read access to every key.
fn parse_options(ctx: &mut Ctx, args: &[Bytes], variant: Variant) -> Result<Options, CmdError> {
    let mut o = Options {
        order: Order::Asc,
        compare: Compare::Numeric,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut full_key_access = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if eq_ic(a, "asc") {
            o.order = Order::Asc;
        } else if eq_ic(a, "desc") {
            o.order = Order::Desc;
        } else if eq_ic(a, "alpha") {
            o.compare = Compare::Alpha;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.limit_start = arg_i64(&args[j + 1])?;
            o.limit_count = arg_i64(&args[j + 2])?;
            j += 2;
        } else if variant == Variant::Sort && eq_ic(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let pattern = &args[j + 1];
            o.by = Some(pattern.clone());
            // A pattern without `*` names one key for every element: there
            // is nothing to sort by, even if a later BY has a `*`.
            if !until_nul(pattern).contains(&b'*') {
                o.dontsort = true;
            } else if !*full_key_access.get_or_insert_with(|| may_read_any_key(ctx, args)) {
                return Err(CmdError::err(DENIED_BY));
            }
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            if !*full_key_access.get_or_insert_with(|| may_read_any_key(ctx, args)) {
                return Err(CmdError::err(DENIED_GET));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Whether the client's user may run this command reading any key at all.
fn may_read_any_key(ctx: &mut Ctx, args: &[Bytes]) -> bool {
    let Some(user) = ctx.client().user else {
        return true;
    };
    let Some(cmd) = crate::cmd::lookup(&args[0]) else {
        return false;
    };
    ctx.store.acl.user(user).may_read_any_key(cmd, args)
}

/// One element to sort: its bytes and, once weighed, its weight.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// The element, as a range of `Vector::bytes`.
    elem: (usize, usize),
    score: f64,
    /// ALPHA with BY: the looked-up value compared, if there was one, as a
    /// range of `Vector::by_bytes`.
    by: Option<(usize, usize)>,
}

/// The elements to sort, their bytes in one buffer and the values BY
/// found for ALPHA in another.
#[derive(Default)]
struct Vector {
    bytes: Vec<u8>,
    by_bytes: Vec<u8>,
    items: Vec<Item>,
}

impl Vector {
    fn with_capacity(n: usize) -> Vector {
        Vector {
            bytes: Vec::new(),
            by_bytes: Vec::new(),
            items: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, elem: Elem) {
        let start = self.bytes.len();
        elem.with_bytes(|b| self.bytes.extend_from_slice(b));
        self.items.push(Item {
            elem: (start, self.bytes.len()),
            score: 0.0,
            by: None,
        });
    }

    fn elem(&self, i: usize) -> &[u8] {
        let (s, e) = self.items[i].elem;
        &self.bytes[s..e]
    }
}

/// The kinds of value SORT reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// What was loaded, and which of it the LIMIT keeps: positions
/// `start..=end` of the vector (none when `end < start`).
struct Loaded {
    vector: Vector,
    start: i64,
    end: i64,
}

/// The shared body of SORT and SORT_RO (Redis's sortCommandGeneric).
fn sort_generic(ctx: &mut Ctx, args: &[Bytes], variant: Variant) -> CmdResult {
    let mut o = parse_options(ctx, args, variant)?;
    let kind = match crate::cmd::keys::lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        None => None,
        Some(e) => match &e.value {
            Value::List(_) => Some(Kind::List),
            Value::Set(_) => Some(Kind::Set),
            Value::ZSet(_) => Some(Kind::ZSet),
            _ => return Err(CmdError::WrongType),
        },
    };
    // A set has no order of its own: where the result must be the same
    // everywhere (stored, or in a script, both replicated), it is sorted.
    if o.dontsort && kind == Some(Kind::Set) && (o.store.is_some() || ctx.client().script) {
        o.dontsort = false;
        o.compare = Compare::Alpha;
        o.by = None;
    }
    let mut loaded = load(ctx, &args[1], kind, &o);
    if !o.dontsort {
        // A weight that is not a number fails the command once every
        // weight was looked up, as in Redis (lookups expire keys); nothing
        // is sorted then, since a NaN would make the order inconsistent.
        if weigh(ctx, &mut loaded.vector, &o) {
            return Err(CmdError::err(
                "One or more scores can't be converted into double",
            ));
        }
        order(&mut loaded, &o);
    }
    match &o.store {
        None => reply(ctx, &loaded, &o.gets),
        Some(dest) => store(ctx, &loaded, &o.gets, dest),
    }
    Ok(())
}

/// Loads the elements of `key` (of `kind`, or absent) and applies the
/// LIMIT, reading only the kept range where the value's own order is the
/// answer (a list or sorted set not sorted).
fn load(ctx: &mut Ctx, key: &[u8], kind: Option<Kind>, o: &Options) -> Loaded {
    let db = &mut ctx.store.dbs[ctx.db_index];
    let mut value = kind
        .and_then(|_| db.lookup(key, ctx.now_ms))
        .map(|e| &mut e.value);
    // Redis converts a packed sorted set for SORT, for good.
    if let Some(Value::ZSet(z)) = value.as_deref_mut() {
        z.convert_to_skiplist();
    }
    let len = match &value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let (mut start, mut end) = limit_range(o.limit_start, o.limit_count, len);
    let ranged = o.dontsort && matches!(kind, Some(Kind::List | Kind::ZSet));
    let wanted = if ranged && (start != 0 || end != len - 1) {
        (end - start + 1).max(0) as usize
    } else {
        len as usize
    };
    let mut vector = Vector::with_capacity(wanted);
    match value.as_deref() {
        Some(Value::List(l)) if ranged && end >= start => {
            load_list_range(l, &mut vector, start as usize, wanted, o.order);
            end -= start;
            start = 0;
        }
        // Nothing kept: nothing to load.
        Some(Value::List(_)) if ranged => {}
        Some(Value::List(l)) => l.walk_forward(0, |_, e| {
            vector.push(e);
            true
        }),
        Some(Value::Set(s)) => s.for_each(|e| vector.push(e)),
        Some(Value::ZSet(z)) if ranged => {
            let dir = match o.order {
                Order::Asc => Dir::Forward,
                Order::Desc => Dir::Reverse,
            };
            for (e, _) in z.iter_from(start.max(0) as usize, dir).take(wanted) {
                vector.push(e);
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(z)) => z.iter().for_each(|(e, _)| vector.push(e)),
        _ => {}
    }
    Loaded { vector, start, end }
}

/// Redis's LIMIT arithmetic: the kept positions `start..=end` of `len`,
/// clamped so that nothing overflows (none kept when `end < start`).
fn limit_range(limit_start: i64, limit_count: i64, len: i64) -> (i64, i64) {
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// Loads `n` elements of a list from position `start`, counted from the
/// head, or from the tail for DESC.
fn load_list_range(l: &List, vector: &mut Vector, start: usize, n: usize, order: Order) {
    if n == 0 {
        return;
    }
    match order {
        Order::Asc => l.walk_forward(start, |_, e| {
            vector.push(e);
            vector.items.len() < n
        }),
        Order::Desc => {
            let mut skip = start;
            l.walk_backward(|_, e| {
                if skip > 0 {
                    skip -= 1;
                    return true;
                }
                vector.push(e);
                vector.items.len() < n
            })
        }
    }
}

/// Gives every element its weight: the element itself or the value BY
/// finds, as a number (C `strtod`) or, for ALPHA with BY, the value to
/// compare. An element whose BY key is missing weighs 0 (or compares
/// first). Returns whether some weight was not a number.
fn weigh(ctx: &mut Ctx, vector: &mut Vector, o: &Options) -> bool {
    let mut error = false;
    let mut key = Vec::new();
    for i in 0..vector.items.len() {
        let (s, e) = vector.items[i].elem;
        match (&o.by, o.compare) {
            (None, Compare::Alpha) => {}
            (None, Compare::Numeric) => match sort_score(&vector.bytes[s..e]) {
                Some(score) => vector.items[i].score = score,
                None => error = true,
            },
            (Some(by), compare) => {
                let Vector {
                    bytes,
                    by_bytes,
                    items,
                } = &mut *vector;
                with_pattern_value(
                    keyspace(ctx.store, ctx.db_index, ctx.now_ms),
                    by,
                    &bytes[s..e],
                    &mut key,
                    |v| {
                        let Some(v) = v else { return };
                        match compare {
                            Compare::Alpha => {
                                let start = by_bytes.len();
                                by_bytes.extend_from_slice(v);
                                items[i].by = Some((start, by_bytes.len()));
                            }
                            Compare::Numeric => match sort_score(v) {
                                Some(score) => items[i].score = score,
                                None => error = true,
                            },
                        }
                    },
                );
            }
        }
    }
    error
}

/// A weight as SORT reads it: C `strtod` up to the first NUL, which must
/// consume it all, with no NaN and no overflow or underflow.
fn sort_score(b: &[u8]) -> Option<f64> {
    if let Some(n) = crate::util::parse_i64(b) {
        return Some(n as f64);
    }
    let (v, consumed, range_error) = crate::util::c_strtod(b);
    (consumed == until_nul(b).len() && !range_error && !v.is_nan()).then_some(v)
}

/// Sorts the vector: all of it, stably (glibc's qsort), or with BY and a
/// LIMIT only as far as the kept range needs (Redis's pqsort).
fn order(loaded: &mut Loaded, o: &Options) {
    let Loaded { vector, start, end } = loaded;
    let Vector {
        bytes,
        by_bytes,
        items,
    } = vector;
    let cmp = |a: &Item, b: &Item| compare_items(bytes, by_bytes, a, b, o);
    let len = items.len() as i64;
    if o.by.is_some() && (*start != 0 || *end != len - 1) {
        // An empty kept range replies nothing, however the rest is left.
        if *start >= 0 && *end >= *start {
            let cmp = |a: &Item, b: &Item| cmp(a, b) as i32;
            crate::csort::partial_quicksort(items, *start as usize, *end as usize, cmp);
        }
    } else {
        items.sort_by(cmp);
    }
}

/// Redis's sortCompare.
fn compare_items(bytes: &[u8], by_bytes: &[u8], a: &Item, b: &Item, o: &Options) -> Ordering {
    let get = |r: (usize, usize)| &bytes[r.0..r.1];
    let get_by = |r: (usize, usize)| &by_bytes[r.0..r.1];
    // Stored results compare bytes; replies compare as C strings (strcoll
    // in Redis, which the C and C.UTF-8 locales make strcmp).
    let strings = |x: &[u8], y: &[u8]| match o.store {
        Some(_) => x.cmp(y),
        None => until_nul(x).cmp(until_nul(y)),
    };
    let cmp = match (o.compare, o.by.is_some()) {
        (Compare::Numeric, _) => match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => get(a.elem).cmp(get(b.elem)),
            Some(other) => other,
        },
        (Compare::Alpha, true) => match (a.by, b.by) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => strings(get_by(x), get_by(y)),
        },
        (Compare::Alpha, false) => strings(get(a.elem), get(b.elem)),
    };
    match o.order {
        Order::Asc => cmp,
        Order::Desc => cmp.reverse(),
    }
}

/// What pattern lookups read: the command's database at its instant.
struct Keyspace<'a> {
    store: &'a mut Store,
    db: usize,
    now_ms: u64,
}

/// The keyspace of `ctx`, borrowed apart from its reply.
fn keyspace<'a>(store: &'a mut Store, ctx_db: usize, now_ms: u64) -> Keyspace<'a> {
    Keyspace {
        store,
        db: ctx_db,
        now_ms,
    }
}

/// Calls `f` with what `pattern` finds for the element `subst` (Redis's
/// lookupKeyByPattern): `#` is the element itself; otherwise the first `*`
/// becomes the element, and the key's string value is found, or with
/// `->field` the field of the key's hash. A pattern without `*`, a missing
/// key or field, and a key of another type find nothing. `key` is scratch
/// space for the key name.
fn with_pattern_value<R>(
    ks: Keyspace,
    pattern: &[u8],
    subst: &[u8],
    key: &mut Vec<u8>,
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> R {
    // Redis reads the pattern as a C string when it searches it.
    let text = until_nul(pattern);
    if text == b"#" {
        return f(Some(subst));
    }
    let Some(star) = text.iter().position(|&c| c == b'*') else {
        return f(None);
    };
    let field_at = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| at + 2 < text.len());
    let key_end = field_at.unwrap_or(pattern.len());
    key.clear();
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let found = crate::cmd::keys::lookup_read(ks.store, ks.db, key, ks.now_ms);
    match (found.map(|e| &e.value), field_at) {
        (Some(Value::Str(s)), None) => s.with_bytes(|b| f(Some(b))),
        (Some(Value::Hash(h)), Some(at)) => match h.get(&pattern[at + 2..]) {
            Some(v) => v.with_bytes(|b| f(Some(b))),
            None => f(None),
        },
        _ => f(None),
    }
}

/// The kept range of positions (empty when `end < start`).
fn kept(loaded: &Loaded) -> std::ops::Range<usize> {
    if loaded.end < loaded.start {
        return 0..0;
    }
    loaded.start as usize..loaded.end as usize + 1
}

/// Replies with the kept elements, or what each GET pattern finds for
/// them (a null where nothing is found).
fn reply(ctx: &mut Ctx, loaded: &Loaded, gets: &[Bytes]) {
    let range = kept(loaded);
    ctx.out.array(range.len() * gets.len().max(1));
    let mut key = Vec::new();
    for i in range {
        let elem = loaded.vector.elem(i);
        if gets.is_empty() {
            ctx.out.bulk(elem);
        }
        for get in gets {
            with_pattern_value(
                keyspace(ctx.store, ctx.db_index, ctx.now_ms),
                get,
                elem,
                &mut key,
                |v| match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                },
            );
        }
    }
}

/// Stores the kept elements, or what each GET pattern finds for them (an
/// empty string where nothing is found), as a list at `dest`; an empty
/// result deletes `dest`. Replies with the list's length.
fn store(ctx: &mut Ctx, loaded: &Loaded, gets: &[Bytes], dest: &Bytes) {
    let range = kept(loaded);
    // The kept range is bounded by the value; the GETs multiply it by a
    // count the client chose, so they grow the list as it fills.
    let mut values: Vec<Vec<u8>> = Vec::with_capacity(range.len());
    let mut key = Vec::new();
    for i in range {
        let elem = loaded.vector.elem(i);
        if gets.is_empty() {
            values.push(elem.to_vec());
        }
        for get in gets {
            let v = with_pattern_value(
                keyspace(ctx.store, ctx.db_index, ctx.now_ms),
                get,
                elem,
                &mut key,
                |v| v.map(<[u8]>::to_vec).unwrap_or_default(),
            );
            values.push(v);
        }
    }
    let n = values.len();
    if n > 0 {
        let mut list = List::new();
        list.push_all(End::Right, &values, list_fill(ctx.store));
        let now_ms = ctx.now_ms;
        ctx.db().set_result(dest, Value::List(list), now_ms);
        ctx.changed(class::LIST, "sortstore", dest);
        ctx.dirty(n as u64);
    } else if ctx.db().remove(dest) {
        ctx.changed(class::GENERIC, "del", dest);
        ctx.dirty(1);
    }
    ctx.out.int(n as i64);
}

/// The list chunk limit the config asks for now.
fn list_fill(store: &Store) -> Fill {
    Fill::from_config(store.config.list_max_listpack_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_range_clamps_as_redis() {
        assert_eq!(limit_range(0, -1, 5), (0, 4));
        assert_eq!(limit_range(1, 2, 5), (1, 2));
        assert_eq!(limit_range(-3, 2, 5), (0, 1));
        assert_eq!(limit_range(5, 2, 5), (4, 3));
        assert_eq!(limit_range(2, 0, 5), (2, 1));
        assert_eq!(limit_range(i64::MAX, i64::MAX, 5), (4, 3));
        assert_eq!(limit_range(3, i64::MAX, 5), (3, 4));
        assert_eq!(limit_range(0, 0, 0), (-1, -2));
        assert_eq!(limit_range(i64::MIN, i64::MIN, 0), (-1, -2));
    }

    #[test]
    fn ties_keep_the_order_redis_gives() {
        // Ten equal elements, numbered by where they started; Redis
        // answers SORT of such a list BY a constant with LIMIT 0 9 as
        // below, the last one left at the end (tests/diff/sort.redis
        // checks it).
        let mut v: Vec<(u8, u8)> = (0..10).map(|i| (0, i)).collect();
        crate::csort::partial_quicksort(&mut v, 0, 8, |a, b| a.0.cmp(&b.0) as i32);
        let order: Vec<u8> = v.iter().map(|x| x.1).collect();
        assert_eq!(order, [9, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
    }

    #[test]
    fn sort_scores_are_strtod() {
        assert_eq!(sort_score(b"12"), Some(12.0));
        assert_eq!(sort_score(b" 1.5"), Some(1.5));
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"3\0junk"), Some(3.0));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"1e-320"), None);
        assert_eq!(sort_score(b"1x"), None);
        assert_eq!(sort_score(b"9007199254740993"), Some(9007199254740992.0));
    }
}
