//! Streams: an append-only log of entries with strictly increasing IDs,
//! and the consumer groups that read it.
//!
//! The entries are Redis's own listpack blocks under an ordered index
//! (`stream_log.rs`); this file holds what surrounds them, as Redis's
//! `stream` struct does: the last ID handed out, the first live entry's
//! ID, the greatest ID ever deleted and the count of entries ever added
//! (Redis 7.0's `entries-read`/`lag` accounting needs the last two), and
//! the consumer groups, each with its pending-entries list (PEL) shared
//! with its consumers' own.
//!
//! Then the commands, as Redis's `t_stream.c` has them, with its argument
//! parsing order and error texts; blocked readers wait through
//! [`StreamWait`], which the loop asks whether a ready key can serve them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

pub use super::stream_log::{Entry, Log, NodeLimits, StreamId, Trim};
use crate::blocking::WaitFor;
use crate::cmd::connection::{reply_help, subcommand_syntax_error};
use crate::cmd::{CmdError, CmdResult, Ctx, Unblocked, arg_i64};
use crate::db::{Db, Ttl, Value};
use crate::effects::class;
use crate::resp::Reply;
use crate::types::{read_as, write_as};
use crate::util::{eq_ic, parse_i64, until_nul};

/// `entries_read` when it is not known (Redis's SCG_INVALID_ENTRIES_READ).
const INVALID_ENTRIES_READ: i64 = -1;
/// Redis's STREAM_LISTPACK_MAX_SIZE: an entry's fields and values together
/// may not be larger.
const MAX_ENTRY_BYTES: usize = 1 << 30;
/// What a blocked XREAD without COUNT is served at most.
const BLOCKED_READ_DEFAULT_COUNT: usize = 1000;

/// A stream value.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub log: Log,
    /// The greatest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID, 0-0 when empty.
    pub first_id: StreamId,
    /// The greatest ID deleted by XDEL (or set by XSETID).
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// By name, in byte order (Redis's rax order).
    pub groups: BTreeMap<Bytes, Group>,
}

/// A consumer group.
#[derive(Debug, Clone)]
pub struct Group {
    pub last_id: StreamId,
    /// The logical read counter of `last_id`, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Delivered and not yet acknowledged entries.
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// A pending entry: who has it, since when, how often delivered.
#[derive(Debug, Clone)]
pub struct Nack {
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

#[derive(Debug, Clone, Default)]
pub struct Consumer {
    pub seen_time: i64,
    /// The IDs of the group PEL's entries this consumer holds.
    pub pel: BTreeSet<StreamId>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates consumer `name` unless it exists; true if it did.
    fn create_consumer(&mut self, name: &Bytes, now_ms: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.clone(),
            Consumer {
                seen_time: now_ms,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Drops a pending entry from the group and its consumer.
    fn ack(&mut self, id: StreamId) -> Option<Nack> {
        let nack = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        Some(nack)
    }

    /// Gives pending entry `id` to `consumer` (which exists).
    fn assign(&mut self, id: StreamId, consumer: &Bytes) {
        let Some(nack) = self.pel.get_mut(&id) else {
            return;
        };
        if nack.consumer != *consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = consumer.clone();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

impl Stream {
    pub fn len(&self) -> u64 {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The last live entry's ID (Redis's streamLastValidID).
    fn last_valid_id(&self) -> Option<StreamId> {
        self.log.last_id()
    }

    /// Appends an entry under `id` (greater than `last_id`).
    pub fn append(&mut self, id: StreamId, fields: &[Bytes], limits: NodeLimits) {
        self.log.append(id, fields, limits);
        self.entries_added += 1;
        self.last_id = id;
        if self.log.len() == 1 {
            self.first_id = id;
        }
    }

    /// Trims as Redis's streamTrim, keeping `first_id` current.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let deleted = self.log.trim(trim, approx, limit);
        if self.log.is_empty() {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.log.first_id().unwrap_or(StreamId::MIN);
        }
        deleted
    }

    /// Deletes one entry (XDEL), keeping `first_id` and `max_deleted`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if !self.log.delete(id) {
            return false;
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        if self.log.is_empty() {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.log.first_id().unwrap_or(StreamId::MIN);
        }
        true
    }

    /// Redis's streamRangeHasTombstones for `start..=MAX`.
    fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.is_empty() || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the logical read
    /// counter of `id`, or [`INVALID_ENTRIES_READ`] where it is unknown.
    fn estimate_entries_read(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.is_empty() && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            let len = self.len() as i64;
            // Wrapping, as in C: XSETID's ENTRIESADDED can put the
            // counter at i64::MAX, and the next XADD past it.
            if id < self.first_id {
                return added.wrapping_sub(len);
            } else if id == self.first_id {
                return added.wrapping_sub(len).wrapping_add(1);
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (Redis's streamReplyWithCGLag); `None` when unknown.
    fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if g.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones_from(g.last_id) {
            return Some(added.wrapping_sub(g.entries_read));
        }
        let read = self.estimate_entries_read(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| added.wrapping_sub(read))
    }

    /// Advances a group past `id`, delivered to it now, counting reads as
    /// Redis 7.0 does.
    fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones_from(id) {
            g.entries_read = g.entries_read.wrapping_add(1);
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_entries_read(id);
        }
        g.last_id = id;
    }

    /// What the value takes in memory, as Redis estimates it.
    pub fn redis_usage(&self) -> usize {
        const ROBJ_AND_STREAM: usize = 16 + 80;
        let nodes = self.log.node_count();
        let mut size = ROBJ_AND_STREAM + rax_usage(nodes);
        size += self
            .log
            .nodes()
            .map(|(_, lp)| crate::db::value::jemalloc_class(lp.len()))
            .sum::<usize>();
        for (name, g) in &self.groups {
            size += 40 + rax_usage(g.pel.len()) + 24 * g.pel.len() + name.len();
            for (cname, c) in &g.consumers {
                size += 32 + cname.len() + rax_usage(c.pel.len());
            }
        }
        size
    }
}

/// Redis's streamRadixTreeMemoryUsage, with the node count estimated.
fn rax_usage(elements: usize) -> usize {
    let nodes = rax_nodes(elements);
    elements * 16 + nodes * 4 + nodes * 8 * 30
}

impl crate::types::Typed for Stream {
    fn of(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// IDs as clients write them
// ---------------------------------------------------------------------------

fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// Redis's string2ull: a canonical integer that is not negative, or what
/// C's strtoull accepts whole (leading blanks, a sign, leading zeros;
/// a `-` negates modulo 2^64).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(n) = parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// How an ID argument may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdForm {
    /// `-` and `+` allowed (range ends).
    Loose,
    /// `-` and `+` refused.
    Strict,
    /// Strict, and `ms-*` allowed (XADD).
    SeqAuto,
}

/// Redis's streamGenericParseIDOrReply: the ID, and whether its sequence
/// was given (false for `ms-*`). A missing sequence is `missing_seq`.
fn parse_id_form(arg: &[u8], missing_seq: u64, form: IdForm) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis copies the argument into a C string: a NUL ends it.
    let buf = until_nul(arg);
    if form != IdForm::Loose && (buf == b"-" || buf == b"+") {
        return Err(invalid_id());
    }
    if buf == b"-" {
        return Ok((StreamId::MIN, true));
    } else if buf == b"+" {
        return Ok((StreamId::MAX, true));
    }
    let (ms_part, seq_part) = match buf.iter().position(|&b| b == b'-') {
        Some(dash) => (&buf[..dash], Some(&buf[dash + 1..])),
        None => (buf, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid_id)?;
    let (seq, given) = match seq_part {
        None => (missing_seq, true),
        Some(b"*") if form == IdForm::SeqAuto => (0, false),
        Some(s) => (string2ull(s).ok_or_else(invalid_id)?, true),
    };
    Ok((StreamId { ms, seq }, given))
}

/// An ID where `-` and `+` are allowed.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_form(arg, missing_seq, IdForm::Loose).map(|(id, _)| id)
}

/// An ID where `-` and `+` are refused.
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_form(arg, 0, IdForm::Strict).map(|(id, _)| id)
}

/// A range end, inclusive, or exclusive when written `(id`: the inclusive
/// bound it means (Redis's streamParseIntervalIDOrReply and the
/// increment or decrement that follows it).
fn parse_bound(arg: &[u8], end: bool) -> Result<StreamId, CmdError> {
    let missing_seq = if end { u64::MAX } else { 0 };
    if arg.len() > 1 && arg[0] == b'(' {
        let (id, _) = parse_id_form(&arg[1..], missing_seq, IdForm::Strict)?;
        let moved = if end { id.prev() } else { id.next() };
        return moved.ok_or_else(|| {
            CmdError::err(if end {
                "invalid end ID for the interval"
            } else {
                "invalid start ID for the interval"
            })
        });
    }
    parse_id(arg, missing_seq)
}

/// An ID as Redis writes it, `ms-seq`.
pub fn id_text(id: StreamId) -> Bytes {
    Bytes::from(format!("{}-{}", id.ms, id.seq))
}

fn reply_id(out: &mut Reply, id: StreamId) {
    let mut buf = [0u8; 41];
    let n = write_id(&mut buf, id);
    out.bulk(&buf[..n]);
}

/// Writes `ms-seq` into `buf`; returns its length.
fn write_id(buf: &mut [u8; 41], id: StreamId) -> usize {
    let mut at = write_u64(buf, 0, id.ms);
    buf[at] = b'-';
    at += 1;
    write_u64(buf, at, id.seq)
}

fn write_u64(buf: &mut [u8; 41], at: usize, mut n: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut len = 0;
    loop {
        tmp[19 - len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[at..at + len].copy_from_slice(&tmp[20 - len..]);
    at + len
}

/// One entry as `[id, [field, value, ...]]`.
fn reply_entry(out: &mut Reply, id: StreamId, entry: &Entry) {
    out.array(2);
    reply_id(out, id);
    out.array(entry.field_count() * 2);
    for (f, v) in entry.fields() {
        f.reply(out);
        v.reply(out);
    }
}

/// Entries `start..=end` (at most `count`, 0 for all), as an array.
fn reply_range(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    let entries: Vec<_> = s.log.range(start, end, rev).take(limit).collect();
    out.array(entries.len());
    for (id, e) in &entries {
        reply_entry(out, *id, e);
    }
}

fn node_limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.store.config.stream_node_max_bytes,
        max_entries: ctx.store.config.stream_node_max_entries,
    }
}

/// The error for a missing key or group in XREADGROUP, XPENDING, XCLAIM
/// and XAUTOCLAIM.
fn no_group(key: &[u8], group: &[u8], suffix: &str) -> CmdError {
    let mut msg = b"NOGROUP No such key '".to_vec();
    msg.extend_from_slice(until_nul(key));
    msg.extend_from_slice(b"' or consumer group '");
    msg.extend_from_slice(until_nul(group));
    msg.extend_from_slice(b"'");
    msg.extend_from_slice(suffix.as_bytes());
    CmdError::Raw(msg)
}

/// XGROUP's and XINFO's error for a missing group.
fn no_such_group(group: &[u8], key: &[u8]) -> CmdError {
    let mut msg = b"NOGROUP No such consumer group '".to_vec();
    msg.extend_from_slice(until_nul(group));
    msg.extend_from_slice(b"' for key name '");
    msg.extend_from_slice(until_nul(key));
    msg.extend_from_slice(b"'");
    CmdError::Raw(msg)
}

// ---------------------------------------------------------------------------
// XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID
// ---------------------------------------------------------------------------

/// XADD's and XTRIM's options (Redis's streamAddTrimArgs).
#[derive(Debug, Clone, Copy, Default)]
struct AddTrimArgs {
    /// XADD's ID, when one other than `*` was given.
    id: Option<StreamId>,
    /// False for `ms-*`.
    seq_given: bool,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Where the trim's count or ID is, for rewriting it.
    trim_arg: usize,
    approx: bool,
    /// At most this many entries trimmed; 0 means no limit.
    limit: u64,
}

/// Which command the trim options belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrimCmd {
    Xadd,
    Xtrim,
}

/// Redis's streamParseAddOrTrimArgsOrReply: the options, and for XADD
/// where its ID is.
fn parse_add_or_trim(
    ctx: &Ctx,
    args: &[Bytes],
    cmd: TrimCmd,
) -> Result<(AddTrimArgs, usize), CmdError> {
    let xadd = cmd == TrimCmd::Xadd;
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = until_nul(&args[i]);
        if xadd && opt == b"*" {
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(CmdError::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = until_nul(&args[i + 1]);
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            let value = &args[i + 1];
            a.trim = Some(if eq_ic(opt, "maxlen") {
                let n = arg_i64(value)?;
                if n < 0 {
                    return Err(CmdError::err("The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict_id(value)?)
            });
            i += 1;
            a.trim_arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_form(&args[i], 0, IdForm::SeqAuto)?;
            a.id = Some(id);
            a.seq_given = seq_given;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if a.limit > 0 && a.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if ctx.must_obey() {
        // A replayed trim was rewritten exact; it must not stop early.
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(CmdError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.approx {
        let per_node = ctx.store.config.stream_node_max_entries as u64;
        a.limit = per_node.saturating_mul(100);
        if a.limit == 0 {
            a.limit = 10_000;
        }
        a.limit = a.limit.min(1_000_000);
    } else {
        a.limit = 0;
    }
    Ok((a, i))
}

/// The ID XADD gives a new entry (Redis's streamAppendItem's first half),
/// or its error.
fn next_id(s: &Stream, a: &AddTrimArgs, now_ms: u64) -> Result<StreamId, CmdError> {
    let too_small = || {
        CmdError::err(
            "The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    let id = match a.id {
        Some(given) if a.seq_given => given,
        Some(given) if s.last_id.ms == given.ms => {
            if s.last_id.seq == u64::MAX {
                // Redis fails here without setting errno, and reports
                // what the last failed call left in it.
                return Err(CmdError::err("Elements are too large to be stored"));
            }
            StreamId {
                ms: given.ms,
                seq: s.last_id.seq + 1,
            }
        }
        Some(given) => given,
        None if now_ms > s.last_id.ms => StreamId { ms: now_ms, seq: 0 },
        // The clock went back (or this millisecond is taken): the next ID
        // after the last; the caller checked one exists.
        None => s.last_id.next().unwrap_or(StreamId::MAX),
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    Ok(id)
}

/// Trims `s` by `a`; returns how many entries went.
fn apply_trim(s: &mut Stream, a: &AddTrimArgs) -> u64 {
    match a.trim {
        Some(trim) => s.trim(trim, a.approx, a.limit),
        None => 0,
    }
}

/// What an approximate trim propagates as: `=` and the exact result
/// (Redis's streamRewriteTrimArgument), so a replay trims the same.
fn rewrite_trim(argv: &mut [Bytes], s: &Stream, a: &AddTrimArgs) {
    if !a.approx {
        return;
    }
    argv[a.trim_arg - 1] = Bytes::from_static(b"=");
    argv[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(s.len().to_string()),
        _ => id_text(s.log.first_id().unwrap_or(StreamId::MAX)),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
pub fn xadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (a, idpos) = parse_add_or_trim(ctx, args, TrimCmd::Xadd)?;
    // The options may have taken every argument, the ID's place too.
    let fields = args.get(idpos + 1..).unwrap_or_default();
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(CmdError::err(
            "wrong number of arguments for 'xadd' command",
        ));
    }
    if a.seq_given && a.id == Some(StreamId::MIN) {
        return Err(CmdError::err(
            "The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &args[1];
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let limits = node_limits(ctx);
    let propagating = ctx.store.effects.record_propagation;
    // A new stream is built aside and stored once it has its entry.
    let mut created: Option<Box<Stream>> = None;
    let s = match write_as::<Stream>(&mut ctx.store.dbs[db], key, now)? {
        Some(s) => s,
        None if a.no_mkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => created.insert(Box::default()),
    };
    let (id, trimmed) = add_entry(s, &a, fields, now, limits)?;
    // Propagated with the ID it got and the exact trim it did.
    let rewrite = a.approx || a.id.is_none() || !a.seq_given;
    let argv = (rewrite && propagating).then(|| {
        let mut argv = args.to_vec();
        rewrite_trim(&mut argv, s, &a);
        argv[idpos] = id_text(id);
        argv
    });
    if let Some(new) = created {
        ctx.store.dbs[db].set(key, Value::Stream(new), Ttl::Clear, now);
    }
    reply_id(ctx.out, id);
    ctx.changed(class::STREAM, "xadd", key);
    ctx.dirty(1);
    if trimmed > 0 {
        ctx.notify(class::STREAM, "xtrim", key);
    }
    if let Some(argv) = argv {
        ctx.propagate_as(argv);
    }
    ctx.ready(key);
    Ok(())
}

/// XADD's checks in Redis's order, the append and the trim: the new ID and
/// how many entries the trim took.
fn add_entry(
    s: &mut Stream,
    a: &AddTrimArgs,
    fields: &[Bytes],
    now: u64,
    limits: NodeLimits,
) -> Result<(StreamId, u64), CmdError> {
    if s.last_id == StreamId::MAX {
        return Err(CmdError::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = next_id(s, a, now)?;
    if fields.iter().map(Bytes::len).sum::<usize>() > MAX_ENTRY_BYTES {
        return Err(CmdError::err("Elements are too large to be stored"));
    }
    s.append(id, fields, limits);
    Ok((id, apply_trim(s, a)))
}

/// The stream at `key`, created empty if missing (the caller checked the
/// type).
fn stream_or_create<'a>(db: &'a mut Db, key: &[u8], now: u64) -> &'a mut Stream {
    if !matches!(
        db.lookup(key, now).map(|e| &e.value),
        Some(Value::Stream(_))
    ) {
        db.set(key, Value::Stream(Box::default()), Ttl::Clear, now);
    }
    match db.lookup(key, now).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("a stream was just stored at this key"),
    }
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (a, _) = parse_add_or_trim(ctx, args, TrimCmd::Xtrim)?;
    let key = &args[1];
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = apply_trim(s, &a);
    if deleted > 0 {
        let mut argv = args.to_vec();
        rewrite_trim(&mut argv, s, &a);
        ctx.notify(class::STREAM, "xtrim", key);
        if a.approx {
            ctx.propagate_as(argv);
        }
        ctx.modified(key);
        ctx.dirty(deleted);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        ctx.out.int(0);
        return Ok(());
    };
    // Every ID is checked first: the command applies fully or not at all.
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|&id| s.delete(id)).count();
    if deleted > 0 {
        ctx.changed(class::STREAM, "xdel", key);
        ctx.dirty(deleted as u64);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n =
        read_as::<Stream>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, true)
}

fn range_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = parse_bound(start_arg, false)?;
    let end = parse_bound(end_arg, true)?;
    let mut count = None;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(&args[j], "count") && j + 1 < args.len() {
            count = Some(arg_i64(&args[j + 1])?.max(0) as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = read_as::<Stream>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match count {
        Some(0) => ctx.out.null_array(),
        _ => reply_range(ctx.out, s, start, end, count.unwrap_or(0), rev),
    }
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&args[2])?;
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq_ic(&args[i], "entriesadded") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if eq_ic(&args[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(&args[i + 1])?;
            if id < max_deleted {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let key = &args[1];
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        return Err(CmdError::NoSuchKey);
    };
    if let Some(top) = s.last_valid_id() {
        if id < top {
            return Err(CmdError::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(CmdError::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        s.max_deleted = max_deleted;
    }
    ctx.out.ok();
    ctx.dirty(1);
    ctx.notify(class::STREAM, "xsetid", key);
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD and XREADGROUP, and their blocking
// ---------------------------------------------------------------------------

/// What a blocked XREAD or XREADGROUP waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamWait {
    /// XREAD: each key with the ID its entries must follow, resolved when
    /// the client blocked (`$` is the last ID then).
    pub after: Vec<(Bytes, StreamId)>,
    /// XREADGROUP's group: served from its last delivered ID at the time.
    pub group: Option<Bytes>,
}

impl StreamWait {
    /// Whether `value`, now at ready `key`, can serve this waiter: new
    /// entries; for a group reader also its group or stream gone (it is
    /// then told so).
    pub fn can_serve(&self, key: &[u8], value: Option<&Value>) -> bool {
        match (&self.group, value) {
            (Some(group), Some(Value::Stream(s))) => {
                s.groups.get(group).is_none_or(|g| s.last_id > g.last_id)
            }
            (Some(_), _) => true,
            (None, Some(Value::Stream(s))) => self
                .after
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .is_some_and(|(_, gt)| s.last_id > *gt),
            (None, _) => false,
        }
    }

    /// Whether a value of this type concerns the waiter: a group reader
    /// learns that its stream was replaced.
    pub fn wants_type_of(&self, value: &Value) -> bool {
        self.group.is_some() || matches!(value, Value::Stream(_))
    }
}

/// XREAD's and XREADGROUP's options.
struct ReadArgs {
    /// BLOCK's deadline: `None` without BLOCK, `Some(None)` for ever.
    block: Option<Option<u64>>,
    /// 0 for no limit.
    count: usize,
    /// Where the keys start, and how many there are.
    keys_at: usize,
    streams: usize,
    /// GROUP's group and consumer.
    group: Option<(Bytes, Bytes)>,
    noack: bool,
}

/// Which command a read is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadCmd {
    Xread,
    Xreadgroup,
}

fn parse_read(
    args: &[Bytes],
    cmd: ReadCmd,
    now_ms: u64,
    from_script: bool,
) -> Result<ReadArgs, CmdError> {
    let group_cmd = cmd == ReadCmd::Xreadgroup;
    let mut r = ReadArgs {
        block: None,
        count: 0,
        keys_at: 0,
        streams: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if eq_ic(o, "block") && more > 0 {
            // Redis refuses BLOCK in a script outright rather than
            // answering as if it timed out, for compatibility. The
            // message names the command as the script wrote it.
            if from_script {
                let name = String::from_utf8_lossy(&args[0]);
                return Err(CmdError::err(format!(
                    "{name} command is not allowed with BLOCK option from scripts"
                )));
            }
            i += 1;
            let ms = parse_i64(&args[i])
                .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::err("timeout is negative"));
            }
            r.block = Some((ms > 0).then(|| now_ms.saturating_add(ms as u64)));
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            r.count = arg_i64(&args[i])?.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            r.keys_at = i + 1;
            let n = args.len() - r.keys_at;
            if !n.is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.streams = n / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !group_cmd {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if r.keys_at == 0 {
        return Err(CmdError::Syntax);
    }
    if group_cmd && r.group.is_none() {
        return Err(CmdError::err("Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Where a read starts on one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    /// Entries after this ID (XREAD, or XREADGROUP's history from it).
    After(StreamId),
    /// XREADGROUP's `>`: entries never delivered to the group.
    New,
}

/// Resolves each stream's ID, checking types and groups in argument order
/// as Redis does.
fn resolve_ids(ctx: &mut Ctx, args: &[Bytes], r: &ReadArgs) -> Result<Vec<ReadFrom>, CmdError> {
    let mut from = Vec::with_capacity(r.streams);
    for i in 0..r.streams {
        let key = &args[r.keys_at + i];
        let arg = &args[r.keys_at + r.streams + i];
        let s = read_as::<Stream>(ctx.store, ctx.db_index, key, ctx.now_ms)?;
        if let Some((group, _)) = &r.group
            && s.as_ref().is_none_or(|s| !s.groups.contains_key(group))
        {
            return Err(no_group(key, group, " in XREADGROUP with GROUP option"));
        }
        if arg.as_ref() == b"$" {
            if r.group.is_some() {
                return Err(CmdError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(s.map_or(StreamId::MIN, |s| s.last_id)));
        } else if arg.as_ref() == b">" {
            if r.group.is_none() {
                return Err(CmdError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            // Redis marks `>` with the greatest ID: written out, it is `>`.
            match parse_strict_id(arg)? {
                StreamId::MAX if r.group.is_some() => from.push(ReadFrom::New),
                id => from.push(ReadFrom::After(id)),
            }
        }
    }
    Ok(from)
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    read_generic(ctx, args, ReadCmd::Xread)
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    read_generic(ctx, args, ReadCmd::Xreadgroup)
}

fn read_generic(ctx: &mut Ctx, args: &[Bytes], cmd: ReadCmd) -> CmdResult {
    let from_script = ctx.clients.get(ctx.me).is_some_and(|c| c.script);
    let r = parse_read(args, cmd, ctx.now_ms, from_script)?;
    // The reads propagate as what they did to groups (XCLAIM, XGROUP
    // SETID), never as themselves.
    ctx.prevent_propagation();
    if let Some(serving) = ctx.serving.clone()
        && let WaitFor::Stream(wait) = &serving.wait
    {
        return serve_blocked(ctx, &r, &serving.key, wait);
    }
    let from = resolve_ids(ctx, args, &r)?;
    let mut body = Reply::scratch(ctx.out.proto);
    let mut served = 0;
    for (i, &start) in from.iter().enumerate() {
        let key = &args[r.keys_at + i];
        if read_one(ctx, &mut body, &r, key, start)? {
            served += 1;
        }
    }
    if served > 0 {
        if ctx.out.is_resp3() {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    match r.block {
        Some(deadline) => {
            let keys = args[r.keys_at..r.keys_at + r.streams].to_vec();
            let after = keys
                .iter()
                .zip(&from)
                .map(|(k, f)| match f {
                    ReadFrom::After(id) => (k.clone(), *id),
                    ReadFrom::New => (k.clone(), StreamId::MAX),
                })
                .collect();
            let wait = StreamWait {
                after,
                group: r.group.as_ref().map(|(g, _)| g.clone()),
            };
            ctx.block_on(&keys, deadline, WaitFor::Stream(wait), Unblocked::NullArray);
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// Serves one stream of a read into `body` if it has something for it
/// (Redis's serve_synchronously); true if it did.
fn read_one(
    ctx: &mut Ctx,
    body: &mut Reply,
    r: &ReadArgs,
    key: &Bytes,
    from: ReadFrom,
) -> Result<bool, CmdError> {
    let Some(s) = read_as::<Stream>(ctx.store, ctx.db_index, key, ctx.now_ms)? else {
        return Ok(false);
    };
    let start = match (&r.group, from) {
        // History: always served, from the consumer's own PEL.
        (Some(_), ReadFrom::After(id)) => ReadStart::History(id),
        (Some((group, _)), ReadFrom::New) => {
            let Some(g) = s.groups.get(group) else {
                return Ok(false);
            };
            match s.last_valid_id() {
                Some(top) if top > g.last_id => ReadStart::After(g.last_id),
                _ => return Ok(false),
            }
        }
        (None, ReadFrom::After(gt)) => match s.last_valid_id() {
            Some(top) if top > gt => ReadStart::After(gt),
            _ => return Ok(false),
        },
        (None, ReadFrom::New) => return Ok(false),
    };
    if !body.is_resp3() {
        body.array(2);
    }
    body.bulk(key);
    deliver(ctx, body, r, key, start, r.count);
    Ok(true)
}

/// Where delivery starts.
#[derive(Debug, Clone, Copy)]
enum ReadStart {
    /// Entries after this ID.
    After(StreamId),
    /// The consumer's pending entries from this ID on.
    History(StreamId),
}

/// Writes a stream's entries for a read (`count` 0: all); for a group,
/// what Redis's streamReplyWithRange does besides: the consumer created if
/// need be, the group advanced, the entries added to the PELs, and all of
/// it propagated.
fn deliver(
    ctx: &mut Ctx,
    out: &mut Reply,
    r: &ReadArgs,
    key: &Bytes,
    start: ReadStart,
    count: usize,
) {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Ok(Some(s)) = write_as::<Stream>(&mut ctx.store.dbs[db], key, now) else {
        out.array(0);
        return;
    };
    let Some((group, consumer)) = &r.group else {
        match start {
            ReadStart::After(gt) if gt < StreamId::MAX => reply_range(
                out,
                s,
                gt.next().unwrap_or(StreamId::MAX),
                StreamId::MAX,
                count,
                false,
            ),
            _ => out.array(0),
        }
        return;
    };
    let reader = Reader {
        key,
        group,
        consumer,
        noack: r.noack,
        now_ms: now as i64,
    };
    let Some(done) = deliver_to_group(s, &reader, start, count, out) else {
        out.array(0);
        return;
    };
    if done.created {
        ctx.notify(class::STREAM, "xgroup-createconsumer", key);
        ctx.dirty(1);
        if r.noack {
            ctx.also_propagate(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATECONSUMER"),
                key.clone(),
                group.clone(),
                consumer.clone(),
            ]);
        }
    }
    for argv in done.propagate {
        ctx.also_propagate(argv);
    }
    ctx.dirty(1);
}

/// Who reads, for a group delivery.
struct Reader<'a> {
    key: &'a Bytes,
    group: &'a Bytes,
    consumer: &'a Bytes,
    noack: bool,
    now_ms: i64,
}

/// What a group delivery did, for the caller to report.
struct Delivered {
    created: bool,
    propagate: Vec<Vec<Bytes>>,
}

fn deliver_to_group(
    s: &mut Stream,
    reader: &Reader,
    start: ReadStart,
    count: usize,
    out: &mut Reply,
) -> Option<Delivered> {
    // The group is taken out while it is read, so the stream's own fields
    // can be read beside it.
    let mut g = s.groups.remove(reader.group)?;
    let created = g.create_consumer(reader.consumer, reader.now_ms);
    if let Some(c) = g.consumers.get_mut(reader.consumer) {
        c.seen_time = reader.now_ms;
    }
    let propagate = match start {
        ReadStart::History(from) => {
            deliver_history(&s.log, &mut g, reader, from, count, out);
            Vec::new()
        }
        ReadStart::After(gt) => deliver_new(s, &mut g, reader, gt, count, out),
    };
    s.groups.insert(reader.group.clone(), g);
    Some(Delivered { created, propagate })
}

/// XREADGROUP with an ID: the consumer's own pending entries after `from`,
/// each counted as delivered again; one deleted since shows as its ID
/// with a null.
fn deliver_history(
    log: &Log,
    g: &mut Group,
    reader: &Reader,
    from: StreamId,
    count: usize,
    out: &mut Reply,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    // Entries after the ID given, as for XREAD.
    let ids: Vec<StreamId> = match (from.next(), g.consumers.get(reader.consumer)) {
        (Some(first), Some(c)) => c.pel.range(first..).take(limit).copied().collect(),
        _ => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match log.get(id) {
            Some(e) => {
                reply_entry(out, id, &e);
                if let Some(nack) = g.pel.get_mut(&id) {
                    nack.delivery_time = reader.now_ms;
                    nack.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

/// XREADGROUP with `>`: entries after `gt`, each added to the PEL (unless
/// NOACK) and propagated as the XCLAIM that recreates its pending entry.
fn deliver_new(
    s: &Stream,
    g: &mut Group,
    reader: &Reader,
    gt: StreamId,
    count: usize,
    out: &mut Reply,
) -> Vec<Vec<Bytes>> {
    let mut propagate = Vec::new();
    let Some(first) = gt.next() else {
        out.array(0);
        return propagate;
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let entries: Vec<_> = s
        .log
        .range(first, StreamId::MAX, false)
        .take(limit)
        .collect();
    out.array(entries.len());
    let mut advanced = false;
    for (id, e) in &entries {
        if *id > g.last_id {
            s.advance_group(g, *id);
            advanced = true;
        }
        reply_entry(out, *id, e);
        if reader.noack {
            continue;
        }
        match g.pel.get_mut(id) {
            Some(nack) => {
                nack.delivery_time = reader.now_ms;
                nack.delivery_count = 1;
            }
            None => {
                g.pel.insert(
                    *id,
                    Nack {
                        delivery_time: reader.now_ms,
                        delivery_count: 1,
                        consumer: reader.consumer.clone(),
                    },
                );
            }
        }
        g.assign(*id, reader.consumer);
        propagate.push(xclaim_argv(reader.key, reader.group, &id_text(*id), g, *id));
    }
    if advanced && reader.noack {
        propagate.push(setid_argv(reader.key, reader.group, g));
    }
    propagate
}

/// The XCLAIM that recreates pending entry `id` as it is now (Redis's
/// streamPropagateXCLAIM); `id_arg` is the ID as the command wrote it.
fn xclaim_argv(key: &Bytes, group: &Bytes, id_arg: &Bytes, g: &Group, id: StreamId) -> Vec<Bytes> {
    let (consumer, time, count) = match g.pel.get(&id) {
        Some(n) => (n.consumer.clone(), n.delivery_time, n.delivery_count),
        None => (Bytes::new(), 0, 0),
    };
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        consumer,
        Bytes::from_static(b"0"),
        id_arg.clone(),
        Bytes::from_static(b"TIME"),
        Bytes::from(time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        id_text(g.last_id),
    ]
}

/// XGROUP SETID for a group's last ID and read counter (Redis's
/// streamPropagateGroupID).
fn setid_argv(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        id_text(g.last_id),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

/// A blocked read woken because `key` is ready: served from it alone,
/// or told that its group or stream is gone.
fn serve_blocked(ctx: &mut Ctx, r: &ReadArgs, key: &Bytes, wait: &StreamWait) -> CmdResult {
    let count = if r.count == 0 {
        BLOCKED_READ_DEFAULT_COUNT
    } else {
        r.count
    };
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let value = ctx.store.dbs[db].get(key, now).map(|e| &e.value);
    let start = match (&r.group, value) {
        (Some((group, _)), Some(Value::Stream(s))) => match s.groups.get(group) {
            None => {
                return Err(CmdError::Msg(
                    "NOGROUP the consumer group this client was blocked on no longer exists".into(),
                ));
            }
            Some(g) if s.last_id > g.last_id => Some(g.last_id),
            Some(_) => None,
        },
        (Some(_), _) => {
            return Err(CmdError::Msg(
                "UNBLOCKED the stream key no longer exists".into(),
            ));
        }
        (None, Some(Value::Stream(s))) => wait
            .after
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, gt)| *gt)
            .filter(|gt| s.last_id > *gt),
        (None, _) => None,
    };
    let Some(gt) = start else {
        let keys: Vec<Bytes> = wait.after.iter().map(|(k, _)| k.clone()).collect();
        ctx.block_on(
            &keys,
            None,
            WaitFor::Stream(wait.clone()),
            Unblocked::NullArray,
        );
        return Ok(());
    };
    let mut body = Reply::scratch(ctx.out.proto);
    deliver(ctx, &mut body, r, key, ReadStart::After(gt), count);
    if ctx.out.is_resp3() {
        ctx.out.map(1);
    } else {
        ctx.out.array(1);
        ctx.out.array(2);
    }
    ctx.out.bulk(key);
    ctx.out.raw(&body.buf);
    Ok(())
}

// ---------------------------------------------------------------------------
// Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------

/// XGROUP's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupCmd {
    Create,
    SetId,
    Destroy,
    CreateConsumer,
    DelConsumer,
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]
pub fn xgroup_create(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    xgroup(ctx, args, GroupCmd::Create)
}

/// XGROUP SETID key group id|$ [ENTRIESREAD entries-read]
pub fn xgroup_setid(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    xgroup(ctx, args, GroupCmd::SetId)
}

/// XGROUP DESTROY key group
pub fn xgroup_destroy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    xgroup(ctx, args, GroupCmd::Destroy)
}

/// XGROUP CREATECONSUMER key group consumer
pub fn xgroup_createconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    xgroup(ctx, args, GroupCmd::CreateConsumer)
}

/// XGROUP DELCONSUMER key group consumer
pub fn xgroup_delconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    xgroup(ctx, args, GroupCmd::DelConsumer)
}

/// XGROUP HELP
pub fn xgroup_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, crate::cmd::help::XGROUP);
    Ok(())
}

/// XGROUP's options after the ID: MKSTREAM and ENTRIESREAD.
fn parse_group_options(args: &[Bytes], sub: GroupCmd) -> Result<(bool, i64), CmdError> {
    let (mut mkstream, mut entries_read) = (false, INVALID_ENTRIES_READ);
    let mut i = 5;
    while i < args.len() {
        if sub == GroupCmd::Create && eq_ic(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if matches!(sub, GroupCmd::Create | GroupCmd::SetId)
            && eq_ic(&args[i], "entriesread")
            && i + 1 < args.len()
        {
            entries_read = arg_i64(&args[i + 1])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err(CmdError::err(
                    "value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax_error(args));
        }
    }
    Ok((mkstream, entries_read))
}

/// Redis's xgroupCommand: the checks every subcommand shares, in its
/// order, then the subcommand.
fn xgroup(ctx: &mut Ctx, args: &[Bytes], sub: GroupCmd) -> CmdResult {
    let (mkstream, entries_read) = parse_group_options(args, sub)?;
    let (key, name) = (&args[2], &args[3]);
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let s = write_as::<Stream>(&mut ctx.store.dbs[db], key, now)?;
    if !mkstream {
        let Some(s) = &s else {
            return Err(CmdError::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        if !s.groups.contains_key(name)
            && matches!(
                sub,
                GroupCmd::SetId | GroupCmd::CreateConsumer | GroupCmd::DelConsumer
            )
        {
            return Err(no_such_group(name, key));
        }
    }
    match sub {
        GroupCmd::Create => group_create(ctx, args, entries_read),
        GroupCmd::SetId => group_setid(ctx, args, entries_read),
        GroupCmd::Destroy => group_destroy(ctx, args),
        GroupCmd::CreateConsumer => group_createconsumer(ctx, args),
        GroupCmd::DelConsumer => group_delconsumer(ctx, args),
    }
}

fn group_create(ctx: &mut Ctx, args: &[Bytes], entries_read: i64) -> CmdResult {
    if args.len() > 8 {
        return Err(subcommand_syntax_error(args));
    }
    let (key, name) = (&args[2], &args[3]);
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let existing = write_as::<Stream>(&mut ctx.store.dbs[db], key, now)?;
    let created_key = existing.is_none();
    let id = if args[4].as_ref() == b"$" {
        existing.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict_id(&args[4])?
    };
    let s = stream_or_create(&mut ctx.store.dbs[db], key, now);
    let added = !s.groups.contains_key(name);
    if added {
        s.groups.insert(name.clone(), Group::new(id, entries_read));
    }
    if created_key {
        ctx.modified(key);
    }
    if !added {
        return Err(CmdError::Msg(
            "BUSYGROUP Consumer Group name already exists".into(),
        ));
    }
    ctx.out.ok();
    ctx.dirty(1);
    ctx.notify(class::STREAM, "xgroup-create", key);
    Ok(())
}

fn group_setid(ctx: &mut Ctx, args: &[Bytes], entries_read: i64) -> CmdResult {
    if args.len() != 5 && args.len() != 7 {
        return Err(subcommand_syntax_error(args));
    }
    let (key, name) = (&args[2], &args[3]);
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        return Ok(());
    };
    let id = if args[4].as_ref() == b"$" {
        s.last_id
    } else {
        parse_id(&args[4], 0)?
    };
    if let Some(g) = s.groups.get_mut(name) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    ctx.out.ok();
    ctx.dirty(1);
    ctx.notify(class::STREAM, "xgroup-setid", key);
    Ok(())
}

fn group_destroy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() != 4 {
        return Err(subcommand_syntax_error(args));
    }
    let (key, name) = (&args[2], &args[3]);
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        return Ok(());
    };
    if s.groups.remove(name).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.out.int(1);
    ctx.dirty(1);
    ctx.notify(class::STREAM, "xgroup-destroy", key);
    // Its blocked readers are told the group is gone.
    ctx.ready(key);
    Ok(())
}

fn group_createconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() != 5 {
        return Err(subcommand_syntax_error(args));
    }
    let (key, name, consumer) = (&args[2], &args[3], &args[4]);
    let now = ctx.now_ms as i64;
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        return Ok(());
    };
    let created = s
        .groups
        .get_mut(name)
        .is_some_and(|g| g.create_consumer(consumer, now));
    ctx.out.int(i64::from(created));
    if created {
        ctx.dirty(1);
        ctx.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

fn group_delconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() != 5 {
        return Err(subcommand_syntax_error(args));
    }
    let (key, name, consumer) = (&args[2], &args[3], &args[4]);
    let Some(s) = write_as::<Stream>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        return Ok(());
    };
    let Some(g) = s.groups.get_mut(name) else {
        return Ok(());
    };
    let Some(c) = g.consumers.remove(consumer) else {
        ctx.out.int(0);
        return Ok(());
    };
    for id in &c.pel {
        g.pel.remove(id);
    }
    ctx.out.int(c.pel.len() as i64);
    ctx.dirty(1);
    ctx.notify(class::STREAM, "xgroup-delconsumer", key);
    Ok(())
}

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, name) = (&args[1], &args[2]);
    let Some(s) = read_as::<Stream>(ctx.store, ctx.db_index, key, ctx.now_ms)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(g) = s.groups.get_mut(name) else {
        ctx.out.int(0);
        return Ok(());
    };
    // Every ID is checked first: the command applies fully or not at all.
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|&id| g.ack(id).is_some()).count();
    ctx.out.int(acked as i64);
    ctx.dirty(acked as u64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() != 3 && !(6..=9).contains(&args.len()) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    if args.len() >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if eq_ic(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if args.len() < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = arg_i64(&args[at + 2])?.max(0) as usize;
        let start = parse_bound(&args[at], false)?;
        let end = parse_bound(&args[at + 1], true)?;
        range = Some((min_idle, start, end, count, args.get(at + 3)));
    }
    let (key, name) = (&args[1], &args[2]);
    let s = read_as::<Stream>(ctx.store, ctx.db_index, key, ctx.now_ms)?;
    let Some(g) = s.and_then(|s| s.groups.get(name)) else {
        return Err(no_group(key, name, ""));
    };
    let now = ctx.now_ms as i64;
    match range {
        None => pending_summary(ctx.out, g),
        Some((min_idle, start, end, count, consumer)) => {
            let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                Some(c) => match g.consumers.get(c) {
                    Some(c) => Box::new(c.pel.range(start..).copied()),
                    None => Box::new(std::iter::empty()),
                },
                None => Box::new(g.pel.range(start..).map(|(id, _)| *id)),
            };
            let rows: Vec<(StreamId, &Nack)> = ids
                .take_while(|id| *id <= end)
                .filter_map(|id| g.pel.get(&id).map(|n| (id, n)))
                .filter(|(_, n)| min_idle == 0 || now - n.delivery_time >= min_idle)
                .take(count)
                .collect();
            ctx.out.array(rows.len());
            for (id, n) in rows {
                ctx.out.array(4);
                reply_id(ctx.out, id);
                ctx.out.bulk(&n.consumer);
                ctx.out.int((now - n.delivery_time).max(0));
                ctx.out.int(n.delivery_count as i64);
            }
        }
    }
    Ok(())
}

/// XPENDING's summary: count, smallest and greatest ID, and per consumer.
fn pending_summary(out: &mut Reply, g: &Group) {
    out.array(4);
    out.int(g.pel.len() as i64);
    let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value())
    else {
        out.null();
        out.null();
        out.null_array();
        return;
    };
    reply_id(out, *first);
    reply_id(out, *last);
    let holders: Vec<_> = g
        .consumers
        .iter()
        .filter(|(_, c)| !c.pel.is_empty())
        .collect();
    out.array(holders.len());
    for (name, c) in holders {
        out.array(2);
        out.bulk(name);
        out.bulk_int(c.pel.len() as i64);
    }
}

/// What a claim does to the delivery count.
#[derive(Debug, Clone, Copy)]
enum Recount {
    Set(u64),
    Increment,
    /// JUSTID leaves it.
    Keep,
}

/// Hands pending entry `id` to `consumer` (created if need be) with a new
/// delivery time, as XCLAIM and XAUTOCLAIM do; true if the consumer was
/// created.
fn claim(
    g: &mut Group,
    id: StreamId,
    consumer: &Bytes,
    now: i64,
    delivery_time: i64,
    recount: Recount,
) -> bool {
    let created = g.create_consumer(consumer, now);
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.seen_time = now;
    }
    g.assign(id, consumer);
    if let Some(nack) = g.pel.get_mut(&id) {
        nack.delivery_time = delivery_time;
        match recount {
            Recount::Set(n) => nack.delivery_count = n,
            Recount::Increment => nack.delivery_count += 1,
            Recount::Keep => {}
        }
    }
    created
}

/// XCLAIM's options after its IDs.
struct ClaimOptions {
    /// IDLE or TIME: the delivery time to set.
    delivery_time: Option<i64>,
    retry_count: Option<u64>,
    force: bool,
    just_id: bool,
    last_id: StreamId,
}

/// Parses XCLAIM's options from `args[at..]` with Redis's messages.
fn parse_claim_options(args: &[Bytes], mut at: usize, now: i64) -> Result<ClaimOptions, CmdError> {
    let mut o = ClaimOptions {
        delivery_time: None,
        retry_count: None,
        force: false,
        just_id: false,
        last_id: StreamId::MIN,
    };
    let number = |arg: &[u8], what: &str| {
        parse_i64(arg)
            .ok_or_else(|| CmdError::err(format!("Invalid {what} option argument for XCLAIM")))
    };
    while at < args.len() {
        let more = args.len() - 1 - at;
        let opt = &args[at];
        if eq_ic(opt, "force") {
            o.force = true;
        } else if eq_ic(opt, "justid") {
            o.just_id = true;
        } else if eq_ic(opt, "idle") && more > 0 {
            at += 1;
            o.delivery_time = Some(now.wrapping_sub(number(&args[at], "IDLE")?));
        } else if eq_ic(opt, "time") && more > 0 {
            at += 1;
            o.delivery_time = Some(number(&args[at], "TIME")?);
        } else if eq_ic(opt, "retrycount") && more > 0 {
            at += 1;
            let n = number(&args[at], "RETRYCOUNT")?;
            // A negative count leaves the counter to the usual rule.
            o.retry_count = u64::try_from(n).ok();
        } else if eq_ic(opt, "lastid") && more > 0 {
            at += 1;
            o.last_id = parse_strict_id(&args[at])?;
        } else {
            return Err(CmdError::err_quoting(
                "Unrecognized XCLAIM option '",
                opt,
                "'",
            ));
        }
        at += 1;
    }
    Ok(o)
}

/// Who claims, and what a pass of claims did, for its command to report.
struct Claims<'a> {
    key: &'a Bytes,
    group: &'a Bytes,
    consumer: &'a Bytes,
    now: i64,
    /// The claimed entries (or their IDs), for the reply.
    body: Reply,
    claimed: usize,
    /// The consumer was created.
    created: bool,
    /// What recreates each change elsewhere (XCLAIM ... JUSTID LASTID).
    propagate: Vec<Vec<Bytes>>,
    /// What a claim does to the delivery count, and the delivery time it
    /// sets.
    recount: Recount,
    delivery_time: i64,
    /// JUSTID: the reply lists IDs, not entries.
    reply: ClaimReply,
}

/// What XCLAIM and XAUTOCLAIM reply with for each claimed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimReply {
    Entries,
    Ids,
}

impl<'a> Claims<'a> {
    fn new(ctx: &Ctx, args: &'a [Bytes]) -> Claims<'a> {
        Claims {
            key: &args[1],
            group: &args[2],
            consumer: &args[3],
            now: ctx.now_ms as i64,
            body: Reply::scratch(ctx.out.proto),
            claimed: 0,
            created: false,
            propagate: Vec::new(),
            recount: Recount::Increment,
            delivery_time: ctx.now_ms as i64,
            reply: ClaimReply::Entries,
        }
    }

    /// Claims pending entry `id` (whose entry is `entry`) and writes it.
    fn take(&mut self, g: &mut Group, id: StreamId, id_arg: &Bytes, entry: &Entry) {
        self.created |= claim(
            g,
            id,
            self.consumer,
            self.now,
            self.delivery_time,
            self.recount,
        );
        match self.reply {
            ClaimReply::Ids => reply_id(&mut self.body, id),
            ClaimReply::Entries => reply_entry(&mut self.body, id, entry),
        }
        self.claimed += 1;
        self.propagate
            .push(xclaim_argv(self.key, self.group, id_arg, g, id));
    }

    /// Drops pending entry `id`, whose entry is gone from the stream.
    fn drop_gone(&mut self, g: &mut Group, id: StreamId, id_arg: &Bytes) {
        self.propagate
            .push(xclaim_argv(self.key, self.group, id_arg, g, id));
        g.ack(id);
    }

    /// Writes the claimed entries as an array, and reports the rest.
    fn finish(self, ctx: &mut Ctx) {
        ctx.out.array(self.claimed);
        ctx.out.raw(&self.body.buf);
        if self.created {
            ctx.notify(class::STREAM, "xgroup-createconsumer", self.key);
        }
        let writes = self.propagate.len() as u64 + u64::from(self.created);
        for argv in self.propagate {
            ctx.also_propagate(argv);
        }
        ctx.dirty(writes);
    }
}

/// The stream and group a claim works on, the group taken out of the
/// stream while it is changed (the caller puts it back).
fn claim_target<'s>(ctx: &'s mut Ctx, key: &[u8], group: &[u8]) -> Option<(&'s mut Stream, Group)> {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let s = write_as::<Stream>(&mut ctx.store.dbs[db], key, now).ok()??;
    let g = s.groups.remove(group)?;
    Some((s, g))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, name) = (&args[1], &args[2]);
    let exists = read_as::<Stream>(ctx.store, ctx.db_index, key, ctx.now_ms)?
        .is_some_and(|s| s.groups.contains_key(name));
    if !exists {
        return Err(no_group(key, name, ""));
    }
    let min_idle = parse_i64(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    // The IDs run up to the first argument that is not one; options follow.
    let ids: Vec<(StreamId, &Bytes)> = args[5..]
        .iter()
        .map_while(|a| parse_strict_id(a).ok().map(|id| (id, a)))
        .collect();
    let mut claims = Claims::new(ctx, args);
    let now = claims.now;
    let o = parse_claim_options(args, 5 + ids.len(), now)?;
    claims.delivery_time = o
        .delivery_time
        .filter(|t| (0..=now).contains(t))
        .unwrap_or(now);
    claims.reply = if o.just_id {
        ClaimReply::Ids
    } else {
        ClaimReply::Entries
    };
    claims.recount = match o.retry_count {
        Some(n) => Recount::Set(n),
        None if o.just_id => Recount::Keep,
        None => Recount::Increment,
    };
    ctx.prevent_propagation();
    let Some((s, mut g)) = claim_target(ctx, key, name) else {
        return Ok(());
    };
    let moved_last_id = o.last_id > g.last_id;
    g.last_id = g.last_id.max(o.last_id);
    for (id, id_arg) in ids {
        let Some(entry) = s.log.get(id) else {
            if g.pel.contains_key(&id) {
                claims.drop_gone(&mut g, id, id_arg);
            }
            continue;
        };
        match g.pel.get(&id) {
            None if !o.force => continue,
            None => {
                let nack = Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: Bytes::new(),
                };
                g.pel.insert(id, nack);
            }
            Some(n) if min_idle > 0 && now - n.delivery_time < min_idle => continue,
            Some(_) => {}
        }
        claims.take(&mut g, id, id_arg, &entry);
    }
    // A LASTID that moved the group goes with the XCLAIMs, or alone.
    if moved_last_id && claims.propagate.is_empty() {
        claims.propagate.push(setid_argv(key, name, &g));
    }
    s.groups.insert(name.clone(), g);
    claims.finish(ctx);
    Ok(())
}

/// XAUTOCLAIM's COUNT and JUSTID.
fn parse_autoclaim_options(args: &[Bytes]) -> Result<(u64, bool), CmdError> {
    let (mut count, mut just_id) = (100u64, false);
    let mut j = 6;
    while j < args.len() {
        if eq_ic(&args[j], "count") && j + 1 < args.len() {
            // Redis caps COUNT so that its scratch arrays cannot overflow.
            let max = (i64::MAX / 16) as u64;
            count = parse_i64(&args[j + 1])
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| CmdError::err("COUNT must be > 0"))?;
            j += 1;
        } else if eq_ic(&args[j], "justid") {
            just_id = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok((count, just_id))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up before parsing (the keyspace hit or miss
    // counts even when an argument is refused) and checks it after.
    let found =
        crate::cmd::keys::lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms).map(|e| {
            match &e.value {
                Value::Stream(s) => Some(s.groups.contains_key(&args[2])),
                _ => None,
            }
        });
    let min_idle = parse_i64(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_bound(&args[5], false)?;
    let (count, just_id) = parse_autoclaim_options(args)?;
    let (key, name) = (&args[1], &args[2]);
    match found {
        Some(None) => return Err(CmdError::WrongType),
        Some(Some(true)) => {}
        _ => return Err(no_group(key, name, "")),
    }
    ctx.prevent_propagation();
    let mut claims = Claims::new(ctx, args);
    if just_id {
        claims.recount = Recount::Keep;
        claims.reply = ClaimReply::Ids;
    }
    let Some((s, mut g)) = claim_target(ctx, key, name) else {
        return Ok(());
    };
    let (next, deleted) = autoclaim_pass(&s.log, &mut g, &mut claims, start, count, min_idle);
    s.groups.insert(name.clone(), g);
    ctx.out.array(3);
    reply_id(ctx.out, next);
    claims.finish(ctx);
    ctx.out.array(deleted.len());
    for id in deleted {
        reply_id(ctx.out, id);
    }
    Ok(())
}

/// XAUTOCLAIM's walk of the PEL from `start`: claims idle entries, drops
/// those whose entries are gone, and returns where the next call should
/// start (0-0 at the end) and the dropped IDs. At most `count` entries are
/// claimed or dropped, and at most ten times as many looked at.
fn autoclaim_pass(
    log: &Log,
    g: &mut Group,
    claims: &mut Claims,
    start: StreamId,
    mut count: u64,
    min_idle: i64,
) -> (StreamId, Vec<StreamId>) {
    const ATTEMPTS_FACTOR: u64 = 10;
    let mut attempts = count.saturating_mul(ATTEMPTS_FACTOR);
    let mut deleted = Vec::new();
    let mut from = Some(start);
    while let Some(at) = from {
        let Some((&id, nack)) = g.pel.range(at..).next() else {
            break;
        };
        if attempts == 0 || count == 0 {
            return (id, deleted);
        }
        attempts -= 1;
        from = id.next();
        let idle = claims.now - nack.delivery_time;
        let id_arg = id_text(id);
        match log.get(id) {
            None => {
                claims.drop_gone(g, id, &id_arg);
                deleted.push(id);
                count -= 1;
            }
            Some(_) if min_idle > 0 && idle < min_idle => {}
            Some(entry) => {
                claims.take(g, id, &id_arg, &entry);
                count -= 1;
            }
        }
    }
    (StreamId::MIN, deleted)
}

// ---------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------

/// XINFO HELP
pub fn xinfo_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() != 2 {
        return Err(subcommand_syntax_error(args));
    }
    reply_help(ctx, crate::cmd::help::XINFO);
    Ok(())
}

/// XINFO CONSUMERS key group
pub fn xinfo_consumers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    let s = read_as::<Stream>(ctx.store, ctx.db_index, &args[2], ctx.now_ms)?
        .ok_or(CmdError::NoSuchKey)?;
    let Some(g) = s.groups.get(&args[3]) else {
        return Err(no_such_group(&args[3], &args[2]));
    };
    let out = &mut *ctx.out;
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
    Ok(())
}

/// XINFO GROUPS key
pub fn xinfo_groups(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let s = read_as::<Stream>(ctx.store, ctx.db_index, &args[2], ctx.now_ms)?
        .ok_or(CmdError::NoSuchKey)?;
    let out = &mut *ctx.out;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        reply_entries_read_and_lag(out, s, g);
    }
    Ok(())
}

fn reply_entries_read_and_lag(out: &mut Reply, s: &Stream, g: &Group) {
    out.bulk(b"entries-read");
    if g.entries_read == INVALID_ENTRIES_READ {
        out.null();
    } else {
        out.int(g.entries_read);
    }
    out.bulk(b"lag");
    match s.lag(g) {
        Some(lag) => out.int(lag),
        None => out.null(),
    }
}

/// XINFO STREAM key [FULL [COUNT count]]
pub fn xinfo_stream(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let s = read_as::<Stream>(ctx.store, ctx.db_index, &args[2], ctx.now_ms)?
        .ok_or(CmdError::NoSuchKey)?;
    let opts = &args[3..];
    let full = match opts.len() {
        0 => None,
        1 | 3 if eq_ic(&opts[0], "full") => {
            if opts.len() == 3 {
                if !eq_ic(&opts[1], "count") {
                    return Err(subcommand_syntax_error(args));
                }
                let n = arg_i64(&opts[2])?;
                Some(if n < 0 { 10 } else { n as usize })
            } else {
                Some(10)
            }
        }
        _ => return Err(subcommand_syntax_error(args)),
    };
    let out = &mut *ctx.out;
    out.map(if full.is_some() { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.log.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rax_nodes(s.log.node_count()) as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    match full {
        None => {
            out.bulk(b"groups");
            out.int(s.groups.len() as i64);
            out.bulk(b"first-entry");
            reply_edge(out, s, false);
            out.bulk(b"last-entry");
            reply_edge(out, s, true);
        }
        Some(count) => {
            out.bulk(b"entries");
            reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
            out.bulk(b"groups");
            out.array(s.groups.len());
            for (name, g) in &s.groups {
                reply_group_full(out, s, name, g, count);
            }
        }
    }
    Ok(())
}

/// A rax of `keys` 16-byte keys has about this many nodes (XINFO's
/// `radix-tree-nodes` is an internal of Redis's tree).
fn rax_nodes(keys: usize) -> usize {
    if keys == 0 { 1 } else { keys * 2 }
}

/// The first or last entry, or a null.
fn reply_edge(out: &mut Reply, s: &Stream, last: bool) {
    match s.log.range(StreamId::MIN, StreamId::MAX, last).next() {
        Some((id, e)) => reply_entry(out, id, &e),
        None => out.null(),
    }
}

/// One group in XINFO STREAM FULL.
fn reply_group_full(out: &mut Reply, s: &Stream, name: &Bytes, g: &Group, count: usize) {
    let limit = if count == 0 { usize::MAX } else { count };
    out.map(7);
    out.bulk(b"name");
    out.bulk(name);
    out.bulk(b"last-delivered-id");
    reply_id(out, g.last_id);
    reply_entries_read_and_lag(out, s, g);
    out.bulk(b"pel-count");
    out.int(g.pel.len() as i64);
    out.bulk(b"pending");
    out.array(g.pel.len().min(limit));
    for (id, n) in g.pel.iter().take(limit) {
        out.array(4);
        reply_id(out, *id);
        out.bulk(&n.consumer);
        out.int(n.delivery_time);
        out.int(n.delivery_count as i64);
    }
    out.bulk(b"consumers");
    out.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        out.map(4);
        out.bulk(b"name");
        out.bulk(cname);
        out.bulk(b"seen-time");
        out.int(c.seen_time);
        out.bulk(b"pel-count");
        out.int(c.pel.len() as i64);
        out.bulk(b"pending");
        out.array(c.pel.len().min(limit));
        for id in c.pel.iter().take(limit) {
            let n = g.pel.get(id);
            out.array(3);
            reply_id(out, *id);
            out.int(n.map_or(0, |n| n.delivery_time));
            out.int(n.map_or(0, |n| n.delivery_count as i64));
        }
    }
}
