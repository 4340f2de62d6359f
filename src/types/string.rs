//! String commands. Values are stored as [`Str`]: integers compactly, short
//! strings as `embstr`, modified ones as `raw`, so OBJECT ENCODING answers as
//! Redis does.

use bytes::Bytes;

use crate::cmd::keys::{lookup_read, lookup_write};
use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::value::{Shared, grow_like_sds};
use crate::db::{Entry, Str, Value};
use crate::effects::class;
use crate::util::eq_ic;

/// The string under `key`, or WRONGTYPE.
pub(crate) fn as_str(entry: &Entry) -> Result<&Str, CmdError> {
    match &entry.value {
        Value::Str(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

pub(crate) fn as_str_mut(entry: &mut Entry) -> Result<&mut Str, CmdError> {
    match &mut entry.value {
        Value::Str(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

/// Checks a new length against `proto-max-bulk-len`.
fn check_length(ctx: &Ctx, len: u64) -> CmdResult {
    if len > ctx.store.config.proto_max_bulk_len as u64 {
        return Err(CmdError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

/// Replies with a string value; a big one is sent from its own buffer.
fn reply_str(out: &mut crate::resp::Reply, s: &Str) {
    match s {
        Str::Big(b) => out.bulk_shared(b),
        other => other.with_bytes(|b| out.bulk(b)),
    }
}

/// GET key
pub fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        None => ctx.out.null(),
        Some(e) => reply_str(ctx.out, as_str(e)?),
    }
    Ok(())
}

/// How SET-family options asked for the TTL to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    /// Drop any TTL (plain SET).
    Clear,
    Keep,
    /// An absolute deadline in Unix milliseconds.
    At(i64),
}

/// Which command is parsing the shared SET/GETEX options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptsFor {
    Set,
    GetEx,
}

#[derive(Debug, Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// (option, value): EX, PX, EXAT or PXAT.
    expire: Option<(&'static str, Bytes)>,
}

/// Parses SET's and GETEX's options with Redis's rules: conflicting
/// options are a syntax error, repeating one is allowed.
fn parse_set_opts(args: &[Bytes], start: usize, for_cmd: OptsFor) -> Result<SetOpts, CmdError> {
    let mut o = SetOpts::default();
    let mut j = start;
    while j < args.len() {
        let a = &args[j];
        let has_next = j + 1 < args.len();
        let expire_kind = o.expire.as_ref().map(|(k, _)| *k);
        let other_expire = |k: &str| expire_kind.is_some_and(|e| e != k);
        if eq_ic(a, "NX") && !o.xx && for_cmd == OptsFor::Set {
            o.nx = true;
        } else if eq_ic(a, "XX") && !o.nx && for_cmd == OptsFor::Set {
            o.xx = true;
        } else if eq_ic(a, "GET") && for_cmd == OptsFor::Set {
            o.get = true;
        } else if eq_ic(a, "KEEPTTL")
            && !o.persist
            && expire_kind.is_none()
            && for_cmd == OptsFor::Set
        {
            o.keepttl = true;
        } else if eq_ic(a, "PERSIST")
            && for_cmd == OptsFor::GetEx
            && expire_kind.is_none()
            && !o.keepttl
        {
            o.persist = true;
        } else if let Some(kind) = ["EX", "PX", "EXAT", "PXAT"]
            .into_iter()
            .find(|k| eq_ic(a, k))
            && !o.keepttl
            && !o.persist
            && !other_expire(kind)
            && has_next
        {
            o.expire = Some((kind, args[j + 1].clone()));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Turns an EX/PX/EXAT/PXAT value into an absolute deadline, with Redis's
/// checks and its error naming the command.
fn expire_deadline(kind: &str, value: &[u8], now_ms: u64, cmd: &str) -> Result<i64, CmdError> {
    let invalid = || CmdError::err(format!("invalid expire time in '{cmd}' command"));
    let n = arg_i64(value)?;
    let seconds = kind == "EX" || kind == "EXAT";
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if kind == "EX" || kind == "PX" {
        ms = ms.wrapping_add(now_ms as i64);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// Stores a string, applying the TTL choice.
pub(crate) fn store_string(ctx: &mut Ctx, key: &[u8], value: Str, ttl: Ttl) {
    if !ctx.store.exec_shared.is_empty() {
        let db = ctx.db_index;
        ctx.store
            .exec_shared
            .retain(|(d, k)| !(*d == db && k == key));
    }
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    let keep = match ttl {
        Ttl::Keep => crate::db::Ttl::Keep,
        Ttl::Clear | Ttl::At(_) => crate::db::Ttl::Clear,
    };
    db.set(key, Value::Str(value), keep, now);
    if let Ttl::At(when) = ttl {
        db.set_expire(key, when.max(1) as u64);
    }
    ctx.store.dirty += 1;
}

/// Stores a string value taken from the command's argument `key`'s
/// command. Inside EXEC, Redis's stored object is still the queued
/// command's argument until the transaction ends (its refcount is 2), so a
/// later command of the same transaction that changes it in place copies
/// it first (see [`shared`]); the loop forgets these keys after EXEC.
fn store_argument(ctx: &mut Ctx, key: &Bytes, value: &Bytes, ttl: Ttl) {
    let value = Str::from_argument(value);
    let raw = matches!(value, Str::Raw(_) | Str::Big(_));
    store_string(ctx, key, value, ttl);
    if raw && ctx.deny_blocking {
        ctx.store.exec_shared.push((ctx.db_index, key.clone()));
    }
}

/// Whether `key`'s value is still shared with a queued command of the
/// running transaction (see [`store_argument`]); it is not once copied.
pub(crate) fn shared(ctx: &mut Ctx, key: &[u8]) -> Shared {
    let db = ctx.db_index;
    let shared = &mut ctx.store.exec_shared;
    match shared.iter().position(|(d, k)| *d == db && k == key) {
        Some(i) => {
            shared.swap_remove(i);
            Shared::Yes
        }
        None => Shared::No,
    }
}

/// The shared body of SET, SETNX, SETEX and PSETEX.
fn set_generic(
    ctx: &mut Ctx,
    key: &Bytes,
    value: &Bytes,
    opts: &SetOpts,
    ttl: Ttl,
    ok_reply: Option<i64>,
) -> CmdResult {
    if opts.get {
        match lookup_read(ctx.store, ctx.db_index, key, ctx.now_ms) {
            None => ctx.out.null(),
            Some(e) => as_str(e)?.with_bytes(|b| ctx.out.bulk(b)),
        }
    }
    let found = lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        if !opts.get {
            match ok_reply {
                Some(_) => ctx.out.int(0),
                None => ctx.out.null(),
            }
        }
        return Ok(());
    }
    store_argument(ctx, key, value, ttl);
    ctx.changed(class::STRING, "set", key);
    match ttl {
        Ttl::At(when) => {
            ctx.notify(class::GENERIC, "expire", key);
            ctx.propagate_as(vec![
                Bytes::from_static(b"SET"),
                key.clone(),
                value.clone(),
                Bytes::from_static(b"PXAT"),
                Bytes::from(when.max(1).to_string()),
            ]);
        }
        Ttl::Clear | Ttl::Keep => {}
    }
    if !opts.get {
        match ok_reply {
            Some(n) => ctx.out.int(n),
            None => ctx.out.ok(),
        }
    }
    Ok(())
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = parse_set_opts(args, 3, OptsFor::Set)?;
    let ttl = match &opts.expire {
        Some((kind, v)) => Ttl::At(expire_deadline(kind, v, ctx.now_ms, "set")?),
        None if opts.keepttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    // SET ... GET replays without its GETs (with an expiry, set_generic
    // rewrote it whole).
    if opts.get && opts.expire.is_none() {
        let argv = args
            .iter()
            .enumerate()
            .filter(|(i, a)| *i < 3 || !eq_ic(a, "GET"));
        ctx.propagate_as(argv.map(|(_, a)| a.clone()).collect());
    }
    set_generic(ctx, &args[1], &args[2], &opts, ttl, None)
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = SetOpts {
        nx: true,
        ..SetOpts::default()
    };
    set_generic(ctx, &args[1], &args[2], &opts, Ttl::Clear, Some(1))
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_expiring(ctx, args, "EX", "setex")
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_expiring(ctx, args, "PX", "psetex")
}

/// SETEX and PSETEX: `key time value`, the time in the unit of `kind`.
fn set_expiring(ctx: &mut Ctx, args: &[Bytes], kind: &str, name: &str) -> CmdResult {
    let when = expire_deadline(kind, &args[2], ctx.now_ms, name)?;
    let opts = SetOpts::default();
    set_generic(ctx, &args[1], &args[3], &opts, Ttl::At(when), None)
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = SetOpts {
        get: true,
        ..SetOpts::default()
    };
    let argv = vec![Bytes::from_static(b"SET"), args[1].clone(), args[2].clone()];
    ctx.propagate_as(argv);
    set_generic(ctx, &args[1], &args[2], &opts, Ttl::Clear, None)
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        None => ctx.out.null(),
        Some(e) => {
            reply_str(ctx.out, as_str(e)?);
            ctx.store.dbs[ctx.db_index].remove(&args[1]);
            ctx.store.dirty += 1;
            ctx.changed(class::GENERIC, "del", &args[1]);
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), args[1].clone()]);
        }
    }
    Ok(())
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
pub fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = parse_set_opts(args, 2, OptsFor::GetEx)?;
    let now = ctx.now_ms;
    // Redis looks the key up before it validates the expire time, so a
    // missing key answers nil whatever the time says.
    let Some(entry) = lookup_read(ctx.store, ctx.db_index, &args[1], now) else {
        ctx.out.null();
        return Ok(());
    };
    as_str(entry)?;
    let deadline = match &opts.expire {
        Some((kind, v)) => Some((*kind, expire_deadline(kind, v, ctx.now_ms, "getex")?)),
        None => None,
    };
    if let Some(e) = lookup_write(ctx.store, ctx.db_index, &args[1], now) {
        reply_str(ctx.out, as_str(e)?);
    }
    let key = &args[1];
    let db = &mut ctx.store.dbs[ctx.db_index];
    let (event, argv) = match deadline {
        Some((kind, when))
            if (kind == "EXAT" || kind == "PXAT")
                && when as u64 <= now
                && db.expiry != crate::db::Expiry::Off =>
        {
            db.remove(key);
            ("del", vec![Bytes::from_static(b"DEL"), key.clone()])
        }
        Some((_, when)) => {
            db.set_expire(key, when as u64);
            let at = Bytes::from(when.to_string());
            (
                "expire",
                vec![Bytes::from_static(b"PEXPIREAT"), key.clone(), at],
            )
        }
        None if opts.persist && db.persist(key) => {
            ("persist", vec![Bytes::from_static(b"PERSIST"), key.clone()])
        }
        None => return Ok(()),
    };
    ctx.store.dirty += 1;
    ctx.changed(class::GENERIC, event, key);
    ctx.propagate_as(argv);
    Ok(())
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        match lookup_read(ctx.store, ctx.db_index, key, ctx.now_ms) {
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => reply_str(ctx.out, s),
            // Missing keys and other types are both nil in MGET.
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::err(
            "wrong number of arguments for 'mset' command",
        ));
    }
    for pair in args[1..].chunks(2) {
        store_argument(ctx, &pair[0], &pair[1], Ttl::Clear);
        ctx.changed(class::STRING, "set", &pair[0]);
    }
    ctx.out.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::err(
            "wrong number of arguments for 'msetnx' command",
        ));
    }
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db_index];
    if args[1..].chunks(2).any(|pair| db.exists(&pair[0], now)) {
        ctx.out.int(0);
        return Ok(());
    }
    for pair in args[1..].chunks(2) {
        store_argument(ctx, &pair[0], &pair[1], Ttl::Clear);
        ctx.changed(class::STRING, "set", &pair[0]);
    }
    ctx.out.int(1);
    Ok(())
}

/// APPEND key value
pub fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, suffix) = (&args[1], &args[2]);
    let existing_len = match lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms) {
        None => None,
        Some(e) => Some(as_str(e)?.len()),
    };
    let new_len = match existing_len {
        None => {
            store_argument(ctx, key, suffix, Ttl::Clear);
            suffix.len()
        }
        Some(len) => {
            check_length(ctx, (len + suffix.len()) as u64)?;
            let now = ctx.now_ms;
            let shared = shared(ctx, key);
            let entry = ctx.store.dbs[ctx.db_index]
                .lookup(key, now)
                .ok_or(CmdError::NoSuchKey)?;
            let buf = as_str_mut(entry)?.make_raw(shared);
            grow_like_sds(buf, buf.len() + suffix.len());
            buf.extend_from_slice(suffix);
            ctx.store.dirty += 1;
            buf.len()
        }
    };
    ctx.changed(class::STRING, "append", key);
    ctx.out.int(new_len as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = match lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        None => 0,
        Some(e) => as_str(e)?.len(),
    };
    ctx.out.int(len as i64);
    Ok(())
}

/// GETRANGE key start end
pub fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut start = arg_i64(&args[2])?;
    let mut end = arg_i64(&args[3])?;
    let Some(e) = lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = as_str(e)?;
    s.with_bytes(|bytes| {
        let len = bytes.len() as i64;
        if start < 0 && end < 0 && start > end {
            ctx.out.bulk(b"");
            return;
        }
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        end = end.max(0);
        if end >= len {
            end = len - 1;
        }
        if start > end || len == 0 {
            ctx.out.bulk(b"");
        } else {
            ctx.out.bulk(&bytes[start as usize..=end as usize]);
        }
    });
    Ok(())
}

/// SUBSTR key start end (the old name of GETRANGE)
pub fn substr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getrange(ctx, args)
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let value = &args[3];
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let offset = offset as usize;
    let now = ctx.now_ms;
    let existing = match lookup_write(ctx.store, ctx.db_index, key, now) {
        None => None,
        Some(e) => Some(as_str(e)?.len()),
    };
    match existing {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check_length(ctx, (offset + value.len()) as u64)?;
            // A new raw string of that many zero bytes, with the room
            // `sdsnewlen` gives it, then the value written in.
            let len = offset + value.len();
            let mut buf = Vec::with_capacity(crate::db::value::sds_new_capacity(len));
            buf.resize(len, 0);
            buf[offset..].copy_from_slice(value);
            let len = buf.len();
            store_string(ctx, key, Str::raw(buf), Ttl::Clear);
            ctx.changed(class::STRING, "setrange", key);
            ctx.out.int(len as i64);
        }
        Some(len) => {
            if value.is_empty() {
                ctx.out.int(len as i64);
                return Ok(());
            }
            check_length(ctx, (offset + value.len()) as u64)?;
            let shared = shared(ctx, key);
            let entry = ctx.store.dbs[ctx.db_index]
                .lookup(key, now)
                .ok_or(CmdError::NoSuchKey)?;
            let buf = as_str_mut(entry)?.make_raw(shared);
            if buf.len() < offset + value.len() {
                grow_like_sds(buf, offset + value.len());
                buf.resize(offset + value.len(), 0);
            }
            buf[offset..offset + value.len()].copy_from_slice(value);
            let len = buf.len();
            ctx.store.dirty += 1;
            ctx.changed(class::STRING, "setrange", key);
            ctx.out.int(len as i64);
        }
    }
    Ok(())
}

/// The shared body of INCR, DECR, INCRBY and DECRBY.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let current = match lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms) {
        None => 0,
        Some(e) => as_str(e)?.as_i64().ok_or(CmdError::NotInteger)?,
    };
    let Some(next) = current.checked_add(delta) else {
        return Err(CmdError::Overflow);
    };
    match lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms) {
        // Update in place so the TTL stays, as Redis does.
        Some(e) => {
            e.value = Value::Str(Str::Int(next));
            ctx.store.dirty += 1;
        }
        None => store_string(ctx, key, Str::Int(next), Ttl::Clear),
    }
    ctx.changed(class::STRING, "incrby", key);
    ctx.out.int(next);
    Ok(())
}

/// INCR key
pub fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[2])?;
    incr_by(ctx, &args[1], delta)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[2])?;
    if delta == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_by(ctx, &args[1], -delta)
}

/// INCRBYFLOAT key increment, computed in long double as Redis does.
pub fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let current: Vec<u8> = match lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms) {
        None => b"0".to_vec(),
        Some(e) => as_str(e)?.as_bytes().into_owned(),
    };
    let sum = crate::util::long_double_add(&current, &args[2]).map_err(|e| match e {
        crate::util::LdAddError::NanOrInfinity => {
            CmdError::err("increment would produce NaN or Infinity")
        }
        _ => CmdError::NotFloat,
    })?;
    match lookup_write(ctx.store, ctx.db_index, key, ctx.now_ms) {
        Some(e) => {
            e.value = Value::Str(Str::plain(&sum));
            ctx.store.dirty += 1;
        }
        None => store_string(ctx, key, Str::plain(&sum), Ttl::Clear),
    }
    ctx.changed(class::STRING, "incrbyfloat", key);
    // Replayed as the value it produced, so float rounding on a replica
    // cannot drift; KEEPTTL because INCRBYFLOAT keeps the key's TTL.
    let value = Bytes::copy_from_slice(&sum);
    ctx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        value,
        Bytes::from_static(b"KEEPTTL"),
    ]);
    ctx.out.bulk(&sum);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, CmdError> {
        match lookup_read(ctx.store, ctx.db_index, key, now) {
            None => Ok(Vec::new()),
            Some(e) => match as_str(e) {
                Ok(s) => Ok(s.as_bytes().into_owned()),
                Err(_) => Err(CmdError::err(
                    "The specified keys must contain string values",
                )),
            },
        }
    };
    // Redis looks both keys up before it checks their types, so the
    // second one's miss is counted (and `keymiss` sent) either way.
    let a = fetch(&args[1]);
    let b = fetch(&args[2]);
    let (a, b) = (a?, b?);
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(&args[j], "IDX") {
            getidx = true;
        } else if eq_ic(&args[j], "LEN") {
            getlen = true;
        } else if eq_ic(&args[j], "WITHMATCHLEN") {
            withmatchlen = true;
        } else if eq_ic(&args[j], "MINMATCHLEN") && more > 0 {
            minmatchlen = arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > ctx.store.config.proto_max_bulk_len as u64 {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    // dp[i][j] is the LCS length of a[..i] and b[..j], row-major.
    let w = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    let computelcs = getidx || !getlen;
    let mut result = vec![0u8; if computelcs { total as usize } else { 0 }];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let mut idx = total as usize;
    let (mut i, mut j) = (alen, blen);
    // `None` means no range is being tracked.
    let mut range: Option<[usize; 4]> = None;
    while computelcs && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(r) => {
                    if r[0] == i && r[2] == j {
                        r[0] -= 1;
                        r[2] -= 1;
                    } else {
                        emit = true;
                    }
                }
            }
            if let Some(r) = range
                && (r[0] == 0 || r[2] == 0)
            {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit && let Some(r) = range.take() {
            let match_len = r[1] - r[0] + 1;
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push([r[0], r[1], r[2], r[3], match_len]);
            }
        }
    }
    if getidx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(ranges.len());
        for r in &ranges {
            ctx.out.array(if withmatchlen { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(r[0] as i64);
            ctx.out.int(r[1] as i64);
            ctx.out.array(2);
            ctx.out.int(r[2] as i64);
            ctx.out.int(r[3] as i64);
            if withmatchlen {
                ctx.out.int(r[4] as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if getlen {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}
