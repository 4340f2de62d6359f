//! Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, MOVE,
//! the EXPIRE family and TTL queries.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, arg_i32, arg_i64};
use crate::db::{Detached, Entry, Liveness};
use crate::effects::class;
use crate::glob::glob_match;
use crate::store::Store;
use crate::util::eq_ic;

/// Looks a key up for reading, counting a keyspace hit or miss.
pub fn lookup_read<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
) -> Option<&'a mut Entry> {
    // A miss publishes `keymiss` when asked; looking twice only then
    // keeps the common path to one lookup.
    if store.effects.notify_flags & class::KEY_MISS != 0 && !store.dbs[db].exists(key, now_ms) {
        store.stats.keyspace_misses += 1;
        store.notify(db, class::KEY_MISS, "keymiss", key);
        return None;
    }
    let found = store.dbs[db].lookup(key, now_ms);
    store.stats.count_lookup(found.is_some());
    found
}

/// Whether a key exists, looked up as a read that leaves its access time
/// alone (Redis's lookupKeyReadWithFlags with LOOKUP_NOTOUCH: EXISTS,
/// TYPE, the TTL family): a keyspace hit or miss, `keymiss` on a miss.
pub fn probe_read(store: &mut Store, db: usize, key: &[u8], now_ms: u64) -> bool {
    let found = store.dbs[db].exists(key, now_ms);
    store.stats.count_lookup(found);
    if !found {
        store.notify(db, class::KEY_MISS, "keymiss", key);
    }
    found
}

/// Looks a key up before modifying it (no hit/miss accounting).
pub fn lookup_write<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
) -> Option<&'a mut Entry> {
    store.dbs[db].lookup(key, now_ms)
}

/// DEL key [key ...]
pub fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let mut n = 0;
    for key in &args[1..] {
        let db = &mut ctx.store.dbs[ctx.db_index];
        // An expired key is deleted by the lookup and not counted.
        if db.exists(key, now) && db.remove(key) {
            ctx.changed(class::GENERIC, "del", key);
            n += 1;
        }
    }
    ctx.store.dirty += n;
    ctx.out.int(n as i64);
    Ok(())
}

/// UNLINK key [key ...]: DEL, with large values always freed off the loop.
pub fn unlink(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    del(ctx, args)
}

/// EXISTS key [key ...]: counts repeats.
pub fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let n = args[1..]
        .iter()
        .filter(|k| probe_read(ctx.store, db, k, now))
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let n = args[1..]
        .iter()
        .filter(|k| lookup_read(ctx.store, db, k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TYPE key
pub fn r#type(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    probe_read(ctx.store, ctx.db_index, &args[1], now);
    let name = match ctx.store.dbs[ctx.db_index].peek(&args[1], now) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

/// KEYS pattern
pub fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let all = pattern.as_ref() == b"*";
    let now = ctx.now_ms;
    let db = &ctx.store.dbs[ctx.db_index];
    let matched: Vec<&[u8]> = db
        .iter(now)
        .map(|(k, _)| k)
        .filter(|k| all || glob_match(pattern, k, false))
        .collect();
    ctx.out.array(matched.len());
    for k in matched {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let store = &mut *ctx.store;
    match store.dbs[ctx.db_index].random_key(now, &mut store.rng) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

/// The shared body of RENAME and RENAMENX.
/// RENAME replaces an existing destination; RENAMENX leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Replace,
    Keep,
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], existing: Existing) -> CmdResult {
    let nx = existing == Existing::Keep;
    let (src, dst) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    if !db.exists(src, now) {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && db.exists(dst, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(moving) = db.take(src) else {
        return Err(CmdError::NoSuchKey);
    };
    // Redis deletes the old destination silently (expiring it first if it
    // is past its deadline), then adds the key.
    if db.exists(dst, now) {
        db.remove(dst);
    }
    db.insert_detached(dst, moving);
    ctx.store.dirty += 1;
    ctx.changed(class::GENERIC, "rename_from", src);
    ctx.changed(class::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, Existing::Replace)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, Existing::Keep)
}

/// Checks a database index is in range.
fn db_index(ctx: &Ctx, n: i64) -> Result<usize, CmdError> {
    if n < 0 || n as usize >= ctx.store.dbs.len() {
        return Err(CmdError::err("DB index is out of range"));
    }
    Ok(n as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut dst_db = ctx.db_index;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if eq_ic(&args[j], "REPLACE") {
            replace = true;
        } else if eq_ic(&args[j], "DB") && j + 1 < args.len() {
            dst_db = db_index(ctx, arg_i32(&args[j + 1])? as i64)?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (src, dst) = (&args[1], &args[2]);
    if dst_db == ctx.db_index && src == dst {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let now = ctx.now_ms;
    let Some(entry) = lookup_read(ctx.store, ctx.db_index, src, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let value = entry.value.duplicate();
    let src_db = &ctx.store.dbs[ctx.db_index];
    let copy = Detached {
        entry: Entry { value },
        access: src_db.access_of(src).unwrap_or(0),
        expire_ms: src_db.expire_of(src),
    };
    let target = &mut ctx.store.dbs[dst_db];
    if target.exists(dst, now) && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    target.remove(dst);
    target.insert_detached(dst, copy);
    ctx.store.dirty += 1;
    ctx.touches_other_dbs();
    ctx.store.changed(dst_db, class::GENERIC, "copy_to", dst);
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db
pub fn r#move(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let dst_db = db_index(ctx, arg_i32(&args[2])? as i64)?;
    if dst_db == ctx.db_index {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let key = &args[1];
    let now = ctx.now_ms;
    if !ctx.store.dbs[ctx.db_index].exists(key, now) || ctx.store.dbs[dst_db].exists(key, now) {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(moving) = ctx.store.dbs[ctx.db_index].take(key) {
        ctx.store.dbs[dst_db].insert_detached(key, moving);
        ctx.store.dirty += 1;
        ctx.touches_other_dbs();
        // Redis adds the key there (its `new` event) before the move events.
        ctx.store.absorb(dst_db);
        ctx.changed(class::GENERIC, "move_from", key);
        ctx.store.changed(dst_db, class::GENERIC, "move_to", key);
    }
    ctx.out.int(1);
    Ok(())
}

/// Parses a SCAN-family cursor as Redis does, with C's `strtoul`: an empty
/// string is 0, a sign is allowed (`-1` wraps to the largest cursor), and
/// leading space, trailing junk or overflow are errors. `strtoul` reads a C
/// string, so a NUL ends the cursor (`"1\0x"` is 1, `"\0"` is 0).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("invalid cursor");
    let arg = crate::util::until_nul(arg);
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul consumes nothing: the whole input must be empty too.
        return if arg.is_empty() {
            Ok(0)
        } else {
            Err(invalid())
        };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// The options of SCAN, HSCAN, SSCAN and ZSCAN.
#[derive(Debug, Clone)]
pub struct ScanOpts {
    pub count: i64,
    /// `None` for no pattern, or `*`.
    pub pattern: Option<Bytes>,
    /// SCAN's TYPE filter.
    pub type_name: Option<Bytes>,
}

impl ScanOpts {
    /// True if `member` passes the MATCH pattern.
    pub fn matches(&self, member: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, member, false))
    }
}

/// Parses `[MATCH pattern] [COUNT count]` (and `[TYPE type]` where
/// `allow_type`) from `args[start..]`, with Redis's errors.
pub fn parse_scan_opts(
    args: &[Bytes],
    start: usize,
    allow_type: bool,
) -> Result<ScanOpts, CmdError> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = start;
    while i < args.len() {
        let remaining = args.len() - i;
        if eq_ic(&args[i], "COUNT") && remaining >= 2 {
            opts.count = arg_i64(&args[i + 1])?;
            if opts.count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if eq_ic(&args[i], "MATCH") && remaining >= 2 {
            opts.pattern = if args[i + 1].as_ref() == b"*" {
                None
            } else {
                Some(args[i + 1].clone())
            };
        } else if allow_type && eq_ic(&args[i], "TYPE") && remaining >= 2 {
            opts.type_name = Some(args[i + 1].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// Redis's scan loop over a hash table of pairs (HSCAN of a table, ZSCAN
/// of a skiplist): buckets are scanned until COUNT items are gathered (a
/// field and its value count two) or 10*COUNT buckets were visited; MATCH
/// then filters by field, each kept with `value`'s text of its value.
/// Returns the next cursor.
pub fn scan_pairs<V: Send + 'static>(
    d: &crate::db::dict::Dict<V>,
    mut cursor: u64,
    opts: &ScanOpts,
    value: impl Fn(&V) -> Vec<u8>,
    items: &mut Vec<Vec<u8>>,
) -> u64 {
    let mut max_iterations = opts.count.saturating_mul(10);
    let mut collected: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        cursor = d.scan(cursor, |f, v| collected.push((f.to_vec(), value(v))));
        let go_on =
            cursor != 0 && max_iterations != 0 && ((collected.len() * 2) as i64) < opts.count;
        max_iterations -= 1;
        if !go_on {
            break;
        }
    }
    for (f, v) in collected {
        if opts.matches(&f) {
            items.push(f);
            items.push(v);
        }
    }
    cursor
}

/// Writes a SCAN-family reply: the cursor as a bulk string, then the items.
pub fn reply_scan<T: AsRef<[u8]>>(ctx: &mut Ctx, cursor: u64, items: &[T]) {
    ctx.out.array(2);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array(items.len());
    for item in items {
        ctx.out.bulk(item.as_ref());
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&args[1])?;
    let opts = parse_scan_opts(args, 2, true)?;
    let count = opts.count;
    let now = ctx.now_ms;
    let db = &ctx.store.dbs[ctx.db_index];
    // Keys matching the pattern, with their type and liveness; filtered
    // by type and expiry afterwards, when the table may be changed.
    let mut met: Vec<(Vec<u8>, &'static str, Liveness)> = Vec::new();
    // Like Redis 7.0, stop after COUNT keys met (matching or not), or
    // after 10*COUNT more buckets, so a sparse table cannot make one call
    // walk the whole keyspace.
    let mut seen: i64 = 0;
    let mut max_iterations = count.saturating_mul(10);
    loop {
        cursor = db.scan(cursor, now, |k, e, liveness| {
            seen += 1;
            if opts.matches(k) {
                met.push((k.to_vec(), e.value.type_name(), liveness));
            }
        });
        if cursor == 0 || max_iterations == 0 {
            break;
        }
        max_iterations -= 1;
        if seen >= count {
            break;
        }
    }
    // Redis 7.0 deletes the expired keys it would show: the TYPE filter
    // looks each key up (a hit or a miss; an expired key is deleted and
    // typed "none"), then an expired key left is deleted and skipped.
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(met.len());
    for (key, type_name, liveness) in met {
        let mut expired = liveness == Liveness::Expired;
        if let Some(wanted) = &opts.type_name {
            ctx.store.stats.count_lookup(!expired);
            let found = if expired {
                ctx.store.dbs[ctx.db_index].exists(&key, now);
                expired = false;
                "none"
            } else {
                type_name
            };
            // strcasecmp: the wanted type ends at a NUL.
            if !crate::util::eq_ic_c(wanted, found) {
                continue;
            }
        }
        if expired {
            ctx.store.dbs[ctx.db_index].exists(&key, now);
            continue;
        }
        keys.push(key);
    }
    reply_scan(ctx, cursor, &keys);
    Ok(())
}

/// Which unit and base an EXPIRE-family command uses.
#[derive(Clone, Copy)]
struct ExpireKind {
    name: &'static str,
    seconds: bool,
    relative: bool,
}

fn expire_generic(ctx: &mut Ctx, args: &[Bytes], kind: ExpireKind) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if eq_ic(opt, "NX") {
            nx = true;
        } else if eq_ic(opt, "XX") {
            xx = true;
        } else if eq_ic(opt, "GT") {
            gt = true;
        } else if eq_ic(opt, "LT") {
            lt = true;
        } else {
            return Err(CmdError::err_quoting("Unsupported option ", opt, ""));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let invalid = || CmdError::err(format!("invalid expire time in '{}' command", kind.name));
    let mut when = arg_i64(&args[2])?;
    if kind.seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if kind.relative {
        when = when.checked_add(ctx.now_ms as i64).ok_or_else(invalid)?;
    }
    let now = ctx.now_ms;
    let key = &args[1];
    let db = &mut ctx.store.dbs[ctx.db_index];
    if db.peek(key, now).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let current: i64 = match db.expire_of(key) {
        0 => -1,
        when => when as i64,
    };
    let refused = (nx && current != -1)
        || (xx && current == -1)
        || (gt && (when <= current || current == -1))
        || (lt && current != -1 && when >= current);
    if refused {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.store.dirty += 1;
    ctx.out.int(1);
    // Redis's checkAlreadyExpired, which a replaying AOF never meets.
    if when <= now as i64 && db.expiry != crate::db::Expiry::Off {
        db.remove(key);
        ctx.changed(class::GENERIC, "del", key);
        ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
    } else {
        db.set_expire(key, when as u64);
        ctx.changed(class::GENERIC, "expire", key);
        // Replayed as PEXPIREAT at the absolute deadline, with its options.
        let mut argv = vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(when.to_string()),
        ];
        argv.extend(args[3..].iter().cloned());
        ctx.propagate_as(argv);
    }
    Ok(())
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(
        ctx,
        args,
        ExpireKind {
            name: "expire",
            seconds: true,
            relative: true,
        },
    )
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(
        ctx,
        args,
        ExpireKind {
            name: "pexpire",
            seconds: false,
            relative: true,
        },
    )
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(
        ctx,
        args,
        ExpireKind {
            name: "expireat",
            seconds: true,
            relative: false,
        },
    )
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(
        ctx,
        args,
        ExpireKind {
            name: "pexpireat",
            seconds: false,
            relative: false,
        },
    )
}

/// The shared body of TTL, PTTL, EXPIRETIME and PEXPIRETIME.
/// The unit a TTL-family command answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// Whether a TTL-family command answers the time left or the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Left,
    Deadline,
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], unit: Unit, answer: Answer) -> CmdResult {
    let now = ctx.now_ms;
    let found = probe_read(ctx.store, ctx.db_index, key, now);
    let db = &ctx.store.dbs[ctx.db_index];
    let deadline = found.then(|| db.expire_of(key));
    let reply = match deadline {
        None => -2,
        Some(0) => -1,
        Some(when) => {
            // Inside a script the key lives by the script's start time,
            // but Redis 7.0 counts what is left of it by the clock.
            let clock = if ctx.clients.get(ctx.me).is_some_and(|c| c.script) {
                crate::store::unix_ms()
            } else {
                now
            };
            let t = if answer == Answer::Deadline {
                when as i64
            } else {
                (when as i64 - clock as i64).max(0)
            };
            // Redis's (ttl+500)/1000 without its overflow at the top of the
            // range.
            if unit == Unit::Millis {
                t
            } else {
                ((t as i128 + 500) / 1000) as i64
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

/// TTL key
pub fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Seconds, Answer::Left)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Millis, Answer::Left)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Seconds, Answer::Deadline)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Millis, Answer::Deadline)
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    let removed = db.exists(&args[1], now) && db.persist(&args[1]);
    if removed {
        ctx.store.dirty += 1;
        ctx.changed(class::GENERIC, "persist", &args[1]);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// DUMP key
pub fn dump(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let comp = crate::persist::compression(&ctx.store.config);
    match lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        Some(entry) => {
            let payload = crate::persist::rdb::dump_payload(&entry.value, comp);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE-ASKING: RESTORE, for a cluster's migrations; the same here.
pub fn restore_asking(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    restore(ctx, args)
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]
///
/// Checks in Redis's order: the options, then an existing key (BUSYKEY),
/// the TTL, the payload's version and checksum, and the payload itself. A
/// relative TTL is propagated as an absolute one with ABSTTL, and a TTL
/// already past restores nothing (a replaced key is deleted and that is
/// propagated as DEL).
pub fn restore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::persist::rdb::{PayloadError, restore_payload};
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(&args[j], "REPLACE") {
            replace = true;
        } else if eq_ic(&args[j], "ABSTTL") {
            absttl = true;
        } else if eq_ic(&args[j], "IDLETIME") && more && freq.is_none() {
            let n = arg_i64(&args[j + 1])?;
            if n < 0 {
                return Err(CmdError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n as u64);
            j += 1;
        } else if eq_ic(&args[j], "FREQ") && more && idle.is_none() {
            let n = arg_i64(&args[j + 1])?;
            if !(0..=255).contains(&n) {
                return Err(CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(n as u8);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = &args[1];
    let now = ctx.now_ms;
    if !replace && ctx.db().exists(key, now) {
        return Err(CmdError::Msg(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let shapes = crate::persist::shapes(&ctx.store.config);
    let value = match restore_payload(&args[3], &shapes) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => {
            return Err(CmdError::err("DUMP payload version or checksum are wrong"));
        }
        Err(PayloadError::BadFormat) => return Err(CmdError::err("Bad data format")),
    };
    // Like Redis's dbDelete: a key past its deadline but not yet reclaimed
    // counts as deleted too.
    let deleted = replace && ctx.db().remove(key);
    // Redis adds the clock in signed 64 bits, so a relative TTL near
    // i64::MAX wraps to a deadline in the past and restores nothing.
    let deadline = match absttl {
        true => ttl,
        false if ttl == 0 => 0,
        false => ttl.wrapping_add(now as i64),
    };
    // Redis's checkAlreadyExpired: a deadline at or before now.
    if deadline != 0 && deadline <= now as i64 && ctx.db().expiry != crate::db::Expiry::Off {
        if deleted {
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
            ctx.changed(class::GENERIC, "del", key);
            ctx.dirty(1);
        }
        ctx.out.ok();
        return Ok(());
    }
    let expire_ms = deadline as u64;
    let db = ctx.db();
    let access = db.restored_access(idle, freq, now);
    db.insert_detached(
        key,
        Detached {
            entry: Entry { value },
            access,
            expire_ms,
        },
    );
    if expire_ms != 0 && !absttl {
        let mut argv = args.to_vec();
        argv[2] = Bytes::from(expire_ms.to_string());
        argv.push(Bytes::from_static(b"ABSTTL"));
        ctx.propagate_as(argv);
    }
    ctx.changed(class::GENERIC, "restore", key);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key [key ...]]
///
/// Moves keys to another server as Redis does: DUMP payloads sent as
/// RESTORE commands (after AUTH and SELECT) over a connection made for the
/// call, with the loop blocked for at most `timeout` ms per read or write,
/// as Redis's is. Each key the target accepted is deleted here unless
/// COPY, and the command is propagated as DEL of those keys.
pub fn migrate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Bytes>, Bytes)> = None;
    let mut keys: Vec<Bytes> = vec![args[3].clone()];
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(&args[j], "COPY") {
            copy = true;
        } else if eq_ic(&args[j], "REPLACE") {
            replace = true;
        } else if eq_ic(&args[j], "AUTH") {
            if more < 1 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            ctx.redact(j);
            auth = Some((None, args[j].clone()));
        } else if eq_ic(&args[j], "AUTH2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            ctx.redact(j + 1);
            ctx.redact(j + 2);
            auth = Some((Some(args[j + 1].clone()), args[j + 2].clone()));
            j += 2;
        } else if eq_ic(&args[j], "KEYS") {
            if !args[3].is_empty() {
                return Err(CmdError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys = args[j + 1..].to_vec();
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout_ms = arg_i64(&args[5])?;
    let dbid = arg_i64(&args[4])?;
    let timeout_ms = if timeout_ms <= 0 {
        1000
    } else {
        timeout_ms as u64
    };
    let now = ctx.now_ms;
    let comp = crate::persist::compression(&ctx.store.config);
    // The keys that are here, with what goes over the wire for each.
    let mut batch = Vec::new();
    for key in &keys {
        let Some(entry) = lookup_read(ctx.store, ctx.db_index, key, now) else {
            continue;
        };
        let payload = crate::persist::rdb::dump_payload(&entry.value, comp);
        let ttl = match ctx.db().expire_of(key) {
            0 => 0,
            when => when.saturating_sub(now).max(1),
        };
        batch.push((key.clone(), ttl, payload));
    }
    if batch.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = String::from_utf8_lossy(&args[2]).into_owned();
    let outcome = migrate_to(
        &host,
        &port,
        timeout_ms,
        auth.as_ref(),
        dbid,
        replace,
        &batch,
    );
    let mut deleted = vec![Bytes::from_static(b"DEL")];
    for (i, (key, ..)) in batch.iter().enumerate() {
        if copy || !outcome.accepted.get(i).copied().unwrap_or(false) {
            continue;
        }
        if ctx.db().remove(key) {
            ctx.changed(class::GENERIC, "del", key);
            ctx.dirty(1);
            deleted.push(key.clone());
        }
    }
    if !copy {
        if deleted.len() > 1 {
            ctx.propagate_as(deleted);
        } else {
            ctx.prevent_propagation();
        }
    }
    match outcome.error {
        None => ctx.out.ok(),
        Some(MigrateError::Target(msg)) => {
            return Err(CmdError::err(format!(
                "Target instance replied with error: {msg}"
            )));
        }
        Some(MigrateError::Connect) => {
            return Err(CmdError::Msg(
                "IOERR error or timeout connecting to the client".into(),
            ));
        }
        Some(MigrateError::Io { writing }) => {
            let what = if writing { "writing" } else { "reading" };
            return Err(CmdError::Msg(format!(
                "IOERR error or timeout {what} to target instance"
            )));
        }
    }
    Ok(())
}

enum MigrateError {
    Connect,
    Io { writing: bool },
    Target(String),
}

struct MigrateOutcome {
    /// Which keys the target restored, in order.
    accepted: Vec<bool>,
    /// The first error, as Redis replies with it.
    error: Option<MigrateError>,
}

/// Sends AUTH, SELECT and one RESTORE per key to `host:port`, then reads
/// the replies: a key the target restored (with AUTH and SELECT accepted)
/// counts as moved, whatever happened to the others.
fn migrate_to(
    host: &str,
    port: &str,
    timeout_ms: u64,
    auth: Option<&(Option<Bytes>, Bytes)>,
    dbid: i64,
    replace: bool,
    batch: &[(Bytes, u64, Vec<u8>)],
) -> MigrateOutcome {
    use std::io::{BufRead, Write};
    use std::net::ToSocketAddrs;
    let timeout = std::time::Duration::from_millis(timeout_ms);
    let fail = |error| MigrateOutcome {
        accepted: Vec::new(),
        error: Some(error),
    };
    let Some(addr) = format!("{host}:{port}")
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
    else {
        return fail(MigrateError::Connect);
    };
    // Redis connects without blocking and waits until the socket is
    // writable, which a refused connection also makes it: only a timeout
    // reads as a connect error there, a refusal as a failed write.
    let stream = match std::net::TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return fail(MigrateError::Connect),
        Err(_) => return fail(MigrateError::Io { writing: true }),
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_nodelay(true);
    let mut cmd = Vec::new();
    let put = |cmd: &mut Vec<u8>, parts: &[&[u8]]| {
        cmd.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for p in parts {
            cmd.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
            cmd.extend_from_slice(p);
            cmd.extend_from_slice(b"\r\n");
        }
    };
    if let Some((user, pass)) = auth {
        match user {
            Some(user) => put(&mut cmd, &[b"AUTH", user, pass]),
            None => put(&mut cmd, &[b"AUTH", pass]),
        }
    }
    put(&mut cmd, &[b"SELECT", dbid.to_string().as_bytes()]);
    for (key, ttl, payload) in batch {
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if replace {
            parts.push(b"REPLACE");
        }
        put(&mut cmd, &parts);
    }
    let mut writer = &stream;
    if writer.write_all(&cmd).is_err() {
        return fail(MigrateError::Io { writing: true });
    }
    let mut reader = std::io::BufReader::new(&stream);
    // A reply line is a status or an error; one longer than this is no
    // reply of a Redis server, and reading it whole would let the target
    // grow this server's memory without bound.
    const MAX_REPLY_LINE_BYTES: u64 = 64 << 10;
    let mut read_line = || {
        use std::io::Read;
        let mut line = Vec::new();
        match (&mut reader)
            .take(MAX_REPLY_LINE_BYTES)
            .read_until(b'\n', &mut line)
        {
            Ok(n) if n > 0 && line.ends_with(b"\n") => {
                Some(String::from_utf8_lossy(line.trim_ascii_end()).into_owned())
            }
            _ => None,
        }
    };
    // AUTH's and SELECT's replies first: an error there refuses every key.
    let mut early_error = None;
    for _ in 0..(auth.is_some() as usize + 1) {
        match read_line() {
            Some(line) if line.starts_with('-') && early_error.is_none() => {
                early_error = Some(line)
            }
            Some(_) => {}
            None => return fail(MigrateError::Io { writing: false }),
        }
    }
    let preamble_ok = early_error.is_none();
    let mut error = early_error.map(|l| MigrateError::Target(l[1..].to_string()));
    let mut accepted = Vec::with_capacity(batch.len());
    for _ in batch {
        match read_line() {
            None => {
                return MigrateOutcome {
                    accepted,
                    error: Some(error.unwrap_or(MigrateError::Io { writing: false })),
                };
            }
            Some(line) if line.starts_with('-') => {
                accepted.push(false);
                if error.is_none() {
                    error = Some(MigrateError::Target(line[1..].to_string()));
                }
            }
            Some(_) => accepted.push(preamble_ok),
        }
    }
    MigrateOutcome { accepted, error }
}
