//! Redis's RDB format, version 10 (Redis 7.0): ferrokv's values written
//! with Redis's own encodings, so redis-server reads what ferrokv saves and
//! DUMP payloads match Redis's byte for byte; and read back from files and
//! payloads of Redis 2.x to 7.4, for the types ferrokv has.
//!
//! The facts (opcodes, length and string encodings, the listpack, ziplist,
//! zipmap and intset layouts) come from Redis's `rdb.h` and `rdb.c`.
//!
//! Everything read comes from a file or a client (RESTORE), so the reader
//! checks every length against the bytes that remain before it allocates,
//! walks every packed blob entry by entry, and reports the first fault with
//! the offset it was found at. A value that fails is never half-built into
//! a database: loading fills fresh databases that the caller installs only
//! once the whole file has been read.

use std::borrow::Cow;

use crate::db::value::{Str, Value};
use crate::db::{Db, Detached, Entry, past_deadline};
use crate::persist::{crc64::crc64, lzf};
use crate::types::hash::{self, Hash};
use crate::types::list::{End, Fill, List};
use crate::types::packed::{self, Elem};
use crate::types::set::Set;
use crate::types::stream::{Group, Nack, Stream, StreamId};
use crate::types::zset::{ListpackLimits, ZSet};

/// The version ferrokv writes, as Redis 7.0 does.
pub const RDB_VERSION: u16 = 10;
/// The newest version read: Redis 7.2 writes 11 and 7.4 writes 12; both
/// differ from 10 only by types, and a type ferrokv lacks is refused.
const READ_VERSION_MAX: u16 = 12;

/// Value types (`RDB_TYPE_*`).
mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes between key/value pairs (`RDB_OPCODE_*`).
mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Special string encodings (`RDB_ENC_*`), after the `11` length prefix.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Quicklist node containers (`QUICKLIST_NODE_CONTAINER_*`).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Strings only up to this long are tried as integers, as Redis does.
const INT_TRY_MAX_LEN: usize = 11;
/// Strings longer than this are tried with LZF when compression is on.
const LZF_MIN_LEN: usize = 20;
/// LZF turns 3 bytes into at most 264; a payload claiming more than this
/// many times its compressed size is corrupt, and is refused before the
/// claimed size is allocated.
const LZF_MAX_RATIO: u64 = 100;

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Whether strings longer than 20 bytes are tried with LZF
/// (`rdbcompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Lzf,
    Off,
}

/// Appends `n` in RDB's length encoding: 6, 14, 32 or 64 bits, the last
/// two big-endian.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The integer encoding of `n`, if it fits 32 bits (`rdbEncodeInteger`).
fn put_int(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(n) = i8::try_from(n) {
        out.extend_from_slice(&[0xC0 | ENC_INT8, n as u8]);
    } else if let Ok(n) = i16::try_from(n) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `s` as an integer if it is one written canonically (what
/// `rdbTryIntegerEncoding` accepts: it must print back the same).
fn canonical_int(s: &[u8]) -> Option<i64> {
    let n = crate::util::parse_i64(s)?;
    (n.to_string().as_bytes() == s).then_some(n)
}

/// Appends a string as Redis's `rdbSaveRawString` does: a short canonical
/// integer as an integer, a string over 20 bytes LZF-compressed when that
/// saves at least 4 bytes and compression is on, else length and bytes.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], comp: Compression) {
    if s.len() <= INT_TRY_MAX_LEN
        && let Some(n) = canonical_int(s)
        && put_int(out, n)
    {
        return;
    }
    if comp == Compression::Lzf
        && s.len() > LZF_MIN_LEN
        && let Some(packed) = lzf::compress(s, s.len() - 4)
    {
        out.push(0xC0 | ENC_LZF);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn put_elem(out: &mut Vec<u8>, e: Elem, comp: Compression) {
    e.with_bytes(|b| put_string(out, b, comp));
}

/// The type byte Redis 7.0 writes for `value`.
fn value_kind(value: &Value) -> u8 {
    match value {
        Value::Str(_) => kind::STRING,
        Value::List(_) => kind::LIST_QUICKLIST_2,
        Value::Hash(Hash::Listpack(_)) => kind::HASH_LISTPACK,
        Value::Hash(_) => kind::HASH,
        Value::Set(Set::Intset(_)) => kind::SET_INTSET,
        // Redis 7.0 has no packed string set: both forms are written as
        // its hash-table set.
        Value::Set(_) => kind::SET,
        Value::ZSet(ZSet::Listpack(_)) => kind::ZSET_LISTPACK,
        Value::ZSet(_) => kind::ZSET_2,
        Value::Stream(_) => kind::STREAM_LISTPACKS_2,
    }
}

/// Appends `value`'s type byte and body, in the encoding Redis 7.0 would
/// write for the same value (`rdbSaveObjectType` + `rdbSaveObject`).
pub fn put_value(out: &mut Vec<u8>, value: &Value, comp: Compression) {
    out.push(value_kind(value));
    put_value_body(out, value, comp);
}

/// The bytes RDB writes for `value`'s body, type byte excluded (Redis's
/// `rdbSavedObjectLen`, DEBUG OBJECT's `serializedlength`).
pub fn value_body_len(value: &Value, comp: Compression) -> usize {
    let mut out = Vec::new();
    put_value_body(&mut out, value, comp);
    out.len()
}

fn put_value_body(out: &mut Vec<u8>, value: &Value, comp: Compression) {
    match value {
        Value::Str(s) => s.with_bytes(|b| put_string(out, b, comp)),
        Value::List(list) => {
            let chunks = list.chunks();
            put_len(out, chunks.len() as u64);
            let mut lp = Vec::new();
            for (entries, count) in chunks {
                put_len(out, CONTAINER_PACKED);
                lp.clear();
                let total = packed::LISTPACK_HEADER_BYTES + entries.len() + 1;
                packed::put_listpack_header(&mut lp, total, count);
                lp.extend_from_slice(entries);
                lp.push(packed::LISTPACK_END);
                put_string(out, &lp, comp);
            }
        }
        Value::Hash(Hash::Listpack(p)) => {
            let mut lp = Vec::with_capacity(p.listpack_bytes());
            p.put_listpack(&mut lp);
            put_string(out, &lp, comp);
        }
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            for (field, val) in h.iter() {
                put_elem(out, field, comp);
                put_elem(out, val, comp);
            }
        }
        Value::Set(Set::Intset(s)) => {
            let mut blob = Vec::with_capacity(s.redis_bytes());
            s.put_redis_intset(&mut blob);
            put_string(out, &blob, comp);
        }
        Value::Set(s) => {
            put_len(out, s.len() as u64);
            s.for_each(|m| put_elem(out, m, comp));
        }
        Value::ZSet(ZSet::Listpack(p)) => {
            let mut lp = Vec::with_capacity(p.listpack_bytes());
            p.put_listpack(&mut lp);
            put_string(out, &lp, comp);
        }
        Value::ZSet(z) => {
            // Highest score first, as Redis writes it (so its loader's
            // skiplist inserts each at the head).
            put_len(out, z.len() as u64);
            for (m, s) in z.iter_from(0, crate::types::zset::Dir::Reverse) {
                put_elem(out, m, comp);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        Value::Stream(s) => put_stream(out, s, comp),
    }
}

/// A stream as Redis 7.0's RDB_TYPE_STREAM_LISTPACKS_2: its blocks as
/// they are, its IDs and counters, then each group with its PEL and
/// consumers (`rdbSaveObject`).
fn put_stream(out: &mut Vec<u8>, s: &Stream, comp: Compression) {
    put_len(out, s.log.node_count() as u64);
    for (master, lp) in s.log.nodes() {
        put_string(out, &master.to_be_bytes(), comp);
        put_string(out, lp, comp);
    }
    put_len(out, s.len());
    for id in [s.last_id, s.first_id, s.max_deleted] {
        put_len(out, id.ms);
        put_len(out, id.seq);
    }
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, comp);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        // -1 (unknown) is written as Redis writes it, a 64-bit length.
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, comp);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// A DUMP payload: the value as RDB writes it, the RDB version (2 bytes)
/// and a CRC-64 of all that (8 bytes), both little-endian.
pub fn dump_payload(value: &Value, comp: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    put_value(&mut out, value, comp);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Appends a library record per code (Redis's rdbSaveFunctions): the
/// FUNCTION2 opcode and the library's whole code, metadata line included.
pub fn put_functions(out: &mut Vec<u8>, codes: &[bytes::Bytes], comp: Compression) {
    for code in codes {
        out.push(op::FUNCTION2);
        put_string(out, code, comp);
    }
}

/// FUNCTION DUMP's payload: the library records, then the RDB version and
/// a CRC-64, as a key's DUMP payload ends.
pub fn functions_payload(codes: &[bytes::Bytes], comp: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    put_functions(&mut out, codes, comp);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads the library record after a FUNCTION or FUNCTION2 opcode (Redis's
/// rdbFunctionLoad) into the code FUNCTION LOAD takes: a 7.0 release
/// candidate's record (name, engine, description, body) gets its
/// metadata line written in front. The error is Redis's.
pub fn function_record(r: &mut Reader, opcode: u8) -> std::result::Result<Vec<u8>, String> {
    if opcode == op::FUNCTION2 {
        return r
            .string()
            .map(|s| s.into_owned())
            .map_err(|_| "Failed loading library payload".into());
    }
    let name = r.string().map_err(|_| "Failed loading library name")?;
    let engine = r.string().map_err(|_| "Failed loading engine name")?;
    let has_desc = r
        .length()
        .map_err(|_| "Failed loading library description indicator")?;
    if has_desc != 0 {
        r.string()
            .map_err(|_| "Failed loading library description")?;
    }
    let body = r.string().map_err(|_| "Failed loading library blob")?;
    let mut code = b"#!".to_vec();
    code.extend_from_slice(crate::util::until_nul(&engine));
    code.extend_from_slice(b" name=");
    code.extend_from_slice(crate::util::until_nul(&name));
    code.push(b'\n');
    code.extend_from_slice(&body);
    Ok(code)
}

/// The library codes in a FUNCTION RESTORE payload, checked as Redis's
/// functionRestoreCommand checks it: the footer first, then records up
/// to the footer, each handed to `each` as it is read (so a library that
/// fails to load is reported before a later record's damage).
pub fn restore_functions(
    payload: &[u8],
    mut each: impl FnMut(Vec<u8>) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err("DUMP payload version or checksum are wrong".into());
    };
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if version > RDB_VERSION || crc64(0, &payload[..body_len + 2]) != u64::from_le_bytes(crc) {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    let mut r = Reader::new(payload);
    while payload.len() - r.offset() > 10 {
        let opcode = r.byte().map_err(|_| "can not read data type")?;
        if opcode != op::FUNCTION && opcode != op::FUNCTION2 {
            return Err("given type is not a function".into());
        }
        each(function_record(&mut r, opcode)?)?;
    }
    Ok(())
}

/// What a file's header records, as Redis's `rdbSaveInfoAuxFields`.
pub struct Aux {
    pub redis_ver: &'static str,
    pub ctime_s: u64,
    pub used_mem: u64,
}

/// Appends the magic, version and aux fields that open a file.
pub fn put_header(out: &mut Vec<u8>, aux: &Aux) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let fields: [(&str, String); 5] = [
        ("redis-ver", aux.redis_ver.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", aux.ctime_s.to_string()),
        ("used-mem", aux.used_mem.to_string()),
        ("aof-base", "0".to_string()),
    ];
    for (name, val) in fields {
        out.push(op::AUX);
        put_string(out, name.as_bytes(), Compression::Off);
        put_string(out, val.as_bytes(), Compression::Off);
    }
}

/// Appends the opcodes that start database `db`'s keys: SELECTDB and the
/// RESIZEDB hint (keys, keys with a deadline).
pub fn put_db_start(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(op::SELECTDB);
    put_len(out, db as u64);
    out.push(op::RESIZEDB);
    put_len(out, keys as u64);
    put_len(out, expires as u64);
}

/// What goes with a key besides its value.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyMeta {
    /// The deadline in ms, 0 for none.
    pub expire_ms: u64,
    /// Seconds idle, written under an LRU `maxmemory-policy`.
    pub idle_s: Option<u64>,
    /// The LFU counter, written under an LFU policy.
    pub freq: Option<u8>,
}

/// Appends one key: its deadline, access information, type, key and value.
pub fn put_key_value(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    meta: KeyMeta,
    comp: Compression,
) {
    if meta.expire_ms != 0 {
        out.push(op::EXPIRETIME_MS);
        out.extend_from_slice(&meta.expire_ms.to_le_bytes());
    }
    if let Some(idle) = meta.idle_s {
        out.push(op::IDLE);
        put_len(out, idle);
    }
    if let Some(freq) = meta.freq {
        out.extend_from_slice(&[op::FREQ, freq]);
    }
    out.push(value_kind(value));
    put_string(out, key, comp);
    put_value_body(out, value, comp);
}

/// Appends the end of file and, when `checksum` is on, the CRC-64 of
/// everything before it (else 8 zero bytes, which readers skip checking).
pub fn put_footer(out: &mut Vec<u8>, crc_so_far: u64, checksum: bool) {
    out.push(op::EOF);
    let crc = if checksum {
        crc64(crc_so_far, &[op::EOF])
    } else {
        0
    };
    out.extend_from_slice(&crc.to_le_bytes());
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// A fault in a file or payload, at the offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: usize,
    pub what: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte offset {})", self.what, self.offset)
    }
}

impl std::error::Error for RdbError {}

type Result<T> = std::result::Result<T, RdbError>;

/// A cursor over a file's or payload's bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A length prefix: a length, or a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn offset(&self) -> usize {
        self.pos
    }

    fn fail<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(RdbError {
            offset: self.pos,
            what: what.into(),
        })
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return self.fail(format!(
                "unexpected end of data: {n} bytes needed, {left} left"
            ));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64)?);
        Ok(a)
    }

    fn len_prefix(&mut self) -> Result<Len> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.byte()? as u64),
            2 if b == 0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
            2 if b == 0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
            2 => return self.fail(format!("unknown length encoding 0x{b:02x}")),
            _ => Len::Encoded(b & 0x3F),
        })
    }

    /// A length (never a special encoding).
    pub fn length(&mut self) -> Result<u64> {
        match self.len_prefix()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => self.fail("a string encoding where a length belongs"),
        }
    }

    /// A string in any of its encodings: raw, integer or LZF.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.len_prefix()? {
            Len::Plain(n) => Ok(Cow::Borrowed(self.take(n)?)),
            Len::Encoded(ENC_INT8) => Ok(Cow::Owned((self.byte()? as i8).to_string().into_bytes())),
            Len::Encoded(ENC_INT16) => Ok(Cow::Owned(
                i16::from_le_bytes(self.array()?).to_string().into_bytes(),
            )),
            Len::Encoded(ENC_INT32) => Ok(Cow::Owned(
                i32::from_le_bytes(self.array()?).to_string().into_bytes(),
            )),
            Len::Encoded(ENC_LZF) => {
                let clen = self.length()?;
                let ulen = self.length()?;
                if ulen > clen.saturating_mul(LZF_MAX_RATIO) {
                    return self.fail(format!("LZF string claims {ulen} bytes from {clen}"));
                }
                let at = self.pos;
                let packed = self.take(clen)?;
                match lzf::decompress(packed, ulen as usize) {
                    Ok(v) => Ok(Cow::Owned(v)),
                    Err(_) => Err(RdbError {
                        offset: at,
                        what: "invalid LZF compressed string".into(),
                    }),
                }
            }
            Len::Encoded(e) => self.fail(format!("unknown string encoding {e}")),
        }
    }
}

/// The settings that shape loaded values, as for values built by commands.
#[derive(Debug, Clone, Copy)]
pub struct Shapes {
    pub hash: hash::Limits,
    pub max_intset_entries: usize,
    pub zset: ListpackLimits,
    pub list_fill: Fill,
}

/// Reads a value of type `kind`. `Ok(None)` is an empty aggregate, which
/// Redis skips rather than loads.
pub fn read_value(r: &mut Reader, kind: u8, shapes: &Shapes) -> Result<Option<Value>> {
    let value = match kind {
        kind::STRING => Value::Str(Str::encoded(&r.string()?)),
        kind::LIST => {
            let mut list = List::new();
            for _ in 0..r.length()? {
                list.push(End::Right, &r.string()?, shapes.list_fill);
            }
            Value::List(list)
        }
        kind::LIST_ZIPLIST => {
            let mut list = List::new();
            let at = r.offset();
            let blob = r.string()?;
            blob_walk(
                at,
                ziplist_each(&blob, |e| {
                    e.with_bytes(|b| list.push(End::Right, b, shapes.list_fill));
                    Ok(())
                }),
            )?;
            Value::List(list)
        }
        kind::LIST_QUICKLIST | kind::LIST_QUICKLIST_2 => {
            let mut list = List::new();
            for _ in 0..r.length()? {
                let container = match kind {
                    kind::LIST_QUICKLIST => CONTAINER_PACKED,
                    _ => r.length()?,
                };
                let at = r.offset();
                let blob = r.string()?;
                // Each node stays a chunk of its own, as quicklist keeps it.
                let mut node: Vec<Vec<u8>> = Vec::new();
                let mut push = |e: Elem| {
                    node.push(e.to_vec());
                    Ok(())
                };
                match (kind, container) {
                    (_, CONTAINER_PLAIN) => node.push(blob.into_owned()),
                    (kind::LIST_QUICKLIST, _) => blob_walk(at, ziplist_each(&blob, push))?,
                    (_, CONTAINER_PACKED) => blob_walk(at, listpack_each(&blob, &mut push))?,
                    _ => return r.fail(format!("unknown quicklist container {container}")),
                }
                list.append_chunk(&node, shapes.list_fill);
            }
            Value::List(list)
        }
        kind::SET => {
            let mut set = Set::default();
            for _ in 0..r.length()? {
                let at = r.offset();
                let member = r.string()?;
                if !set.add(&member, shapes.max_intset_entries) {
                    return Err(duplicate(at, "set member"));
                }
            }
            Value::Set(set)
        }
        kind::SET_INTSET | kind::SET_LISTPACK => {
            let mut set = Set::default();
            let at = r.offset();
            let blob = r.string()?;
            let mut add = |e: Elem| match e.with_bytes(|b| set.add(b, shapes.max_intset_entries)) {
                true => Ok(()),
                false => Err("duplicate set member".to_string()),
            };
            match kind {
                kind::SET_INTSET => blob_walk(at, intset_each(&blob, |n| add(Elem::Int(n))))?,
                _ => blob_walk(at, listpack_each(&blob, &mut add))?,
            }
            Value::Set(set)
        }
        kind::HASH => {
            let mut h = Hash::default();
            for _ in 0..r.length()? {
                let at = r.offset();
                let field = r.string()?;
                let val = r.string()?;
                if !h.set(&field, &val, shapes.hash) {
                    return Err(duplicate(at, "hash field"));
                }
            }
            Value::Hash(h)
        }
        kind::HASH_ZIPMAP => {
            // Redis converts a zipmap as it would build the hash anew,
            // checking value lengths too.
            let mut h = Hash::default();
            let at = r.offset();
            let blob = r.string()?;
            let mut field: Option<Vec<u8>> = None;
            blob_walk(
                at,
                zipmap_each(&blob, |e| match field.take() {
                    None => {
                        field = Some(e.to_vec());
                        Ok(())
                    }
                    Some(f) => match e.with_bytes(|v| h.set(&f, v, shapes.hash)) {
                        true => Ok(()),
                        false => Err("duplicate hash field".to_string()),
                    },
                }),
            )?;
            Value::Hash(h)
        }
        kind::HASH_ZIPLIST | kind::HASH_LISTPACK => {
            let at = r.offset();
            let elems = packed_pairs(r, kind, "a hash field without a value")?;
            let mut it = elems.into_iter();
            let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect();
            match Hash::from_packed_pairs(&pairs, shapes.hash) {
                Some(h) => Value::Hash(h),
                None => return Err(duplicate(at, "hash field")),
            }
        }
        kind::ZSET | kind::ZSET_2 => {
            let mut entries = Vec::new();
            for _ in 0..r.length()? {
                let member = r.string()?.into_owned();
                let at = r.offset();
                let score = match kind {
                    kind::ZSET_2 => f64::from_le_bytes(r.array::<8>()?),
                    _ => old_double(r)?,
                };
                if score.is_nan() {
                    return Err(at_offset(at, "a sorted set score that is NaN"));
                }
                entries.push((member, score));
            }
            let at = r.offset();
            match ZSet::from_loaded(entries, shapes.zset) {
                Some(z) => Value::ZSet(z),
                None => return Err(duplicate(at, "sorted set member")),
            }
        }
        kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK => {
            let at = r.offset();
            let elems = packed_pairs(r, kind, "a sorted set member without a score")?;
            match ZSet::from_loaded_packed(&elems, shapes.zset) {
                Some(z) => Value::ZSet(z),
                None => return Err(duplicate(at, "sorted set member")),
            }
        }
        kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 => {
            Value::Stream(Box::new(read_stream(r, kind)?))
        }
        kind::STREAM_LISTPACKS_3 => return r.fail("streams of RDB version 11 are not supported"),
        kind::MODULE | kind::MODULE_2 => return r.fail("module values are not supported"),
        other => return r.fail(format!("unknown value type {other}")),
    };
    let empty = match &value {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        // An empty stream is a stream (XTRIM, XGROUP CREATE MKSTREAM).
        Value::Stream(_) => false,
    };
    Ok((!empty).then_some(value))
}

/// A stream value (RDB_TYPE_STREAM_LISTPACKS or _2), every block checked
/// whole before it is used, and the IDs and PELs checked against each
/// other, so nothing a command later assumes can be false.
fn read_stream(r: &mut Reader, kind: u8) -> Result<Stream> {
    let mut s = Stream::default();
    for _ in 0..r.length()? {
        let at = r.offset();
        let key = r.string()?;
        let Ok(raw) = <[u8; 16]>::try_from(key.as_ref()) else {
            return Err(at_offset(
                at,
                "a stream node key that is not the size of a stream ID",
            ));
        };
        let at = r.offset();
        let lp = r.string()?.into_owned();
        s.log
            .push_loaded_node(StreamId::from_be_bytes(raw), lp)
            .map_err(|why| at_offset(at, &format!("a corrupt stream listpack: {why}")))?;
    }
    let at = r.offset();
    let length = r.length()?;
    if length != s.log.len() {
        return Err(at_offset(
            at,
            "a stream length that does not match its entries",
        ));
    }
    let at = r.offset();
    s.last_id = read_id(r)?;
    if s.log.last_id().is_some_and(|top| top > s.last_id) {
        return Err(at_offset(at, "a stream last ID below its last entry"));
    }
    if kind == kind::STREAM_LISTPACKS_2 {
        s.first_id = read_id(r)?;
        s.max_deleted = read_id(r)?;
        s.entries_added = r.length()?;
    } else {
        s.entries_added = s.log.len();
        s.first_id = s.log.first_id().unwrap_or(StreamId::MIN);
    }
    for _ in 0..r.length()? {
        let at = r.offset();
        let name = bytes::Bytes::from(r.string()?.into_owned());
        let last_id = read_id(r)?;
        let entries_read = match kind {
            kind::STREAM_LISTPACKS_2 => r.length()? as i64,
            _ => -1,
        };
        let group = read_group(r, Group::new(last_id, entries_read))?;
        if s.groups.insert(name, group).is_some() {
            return Err(duplicate(at, "stream consumer group"));
        }
    }
    Ok(s)
}

fn read_id(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId {
        ms: r.length()?,
        seq: r.length()?,
    })
}

fn read_raw_id(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId::from_be_bytes(r.array::<16>()?))
}

/// A group's PEL and consumers; every pending entry must belong to
/// exactly one consumer.
fn read_group(r: &mut Reader, mut g: Group) -> Result<Group> {
    for _ in 0..r.length()? {
        let at = r.offset();
        let id = read_raw_id(r)?;
        let delivery_time = i64::from_le_bytes(r.array::<8>()?);
        let delivery_count = r.length()?;
        let nack = Nack {
            delivery_time,
            delivery_count,
            consumer: bytes::Bytes::new(),
        };
        if g.pel.insert(id, nack).is_some() {
            return Err(duplicate(at, "stream PEL entry"));
        }
    }
    let mut owned = std::collections::BTreeSet::new();
    for _ in 0..r.length()? {
        let at = r.offset();
        let name = bytes::Bytes::from(r.string()?.into_owned());
        let seen_time = i64::from_le_bytes(r.array::<8>()?);
        let mut consumer = crate::types::stream::Consumer {
            seen_time,
            pel: Default::default(),
        };
        for _ in 0..r.length()? {
            let at = r.offset();
            let id = read_raw_id(r)?;
            match g.pel.get_mut(&id) {
                Some(nack) if owned.insert(id) => {
                    nack.consumer = name.clone();
                    consumer.pel.insert(id);
                }
                Some(_) => return Err(duplicate(at, "stream consumer PEL entry")),
                None => {
                    return Err(at_offset(at, "a consumer PEL entry not in its group's PEL"));
                }
            }
        }
        if g.consumers.insert(name, consumer).is_some() {
            return Err(duplicate(at, "stream consumer"));
        }
    }
    if owned.len() != g.pel.len() {
        return Err(at_offset(
            r.offset(),
            "a stream PEL entry without a consumer",
        ));
    }
    Ok(g)
}

/// The elements of a ziplist or listpack blob (by the value's `kind`) that
/// holds pairs (a hash's fields and values, a sorted set's members and
/// scores), each checked; `odd` names what an odd count is missing.
fn packed_pairs(r: &mut Reader, kind: u8, odd: &str) -> Result<Vec<Vec<u8>>> {
    let at = r.offset();
    let blob = r.string()?;
    let mut elems: Vec<Vec<u8>> = Vec::new();
    let push = |e: Elem| {
        elems.push(e.to_vec());
        Ok(())
    };
    let walked = match kind {
        kind::HASH_ZIPLIST | kind::ZSET_ZIPLIST => ziplist_each(&blob, push),
        _ => listpack_each(&blob, push),
    };
    blob_walk(at, walked)?;
    if !elems.len().is_multiple_of(2) {
        return Err(at_offset(at, odd));
    }
    Ok(elems)
}

/// A score in RDB's old text form (`RDB_TYPE_ZSET`): a length byte, with
/// 253, 254 and 255 standing for NaN, +inf and -inf, then the digits.
fn old_double(r: &mut Reader) -> Result<f64> {
    let at = r.offset();
    match r.byte()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        len => {
            let text = r.take(len as u64)?;
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .ok_or_else(|| at_offset(at, "a sorted set score that is not a number"))
        }
    }
}

fn duplicate(offset: usize, what: &str) -> RdbError {
    RdbError {
        offset,
        what: format!("duplicate {what}"),
    }
}

/// A blob walk's fault, placed at the blob's offset.
fn blob_walk(at: usize, walked: std::result::Result<(), String>) -> Result<()> {
    walked.map_err(|what| RdbError { offset: at, what })
}

type Walk = std::result::Result<(), String>;

/// Calls `f` with each element of a listpack, checking its header, every
/// entry's encoding and back length, and its end.
fn listpack_each(lp: &[u8], mut f: impl FnMut(Elem) -> Walk) -> Walk {
    let hdr = packed::LISTPACK_HEADER_BYTES;
    if lp.len() < hdr + 1 {
        return Err("listpack too short".into());
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(format!("listpack says {total} bytes, holds {}", lp.len()));
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    let body = &lp[hdr..lp.len() - 1];
    if lp[lp.len() - 1] != packed::LISTPACK_END {
        return Err("listpack without its end byte".into());
    }
    let mut pos = 0;
    let mut n: usize = 0;
    let mut back = Vec::with_capacity(5);
    while pos < body.len() {
        let (elem, size) = listpack_entry(&body[pos..])?;
        back.clear();
        packed::put_backlen(&mut back, size);
        if body.get(pos + size..pos + size + back.len()) != Some(&back[..]) {
            return Err(format!("listpack entry {n} has a wrong back length"));
        }
        f(elem)?;
        pos += size + back.len();
        n += 1;
    }
    if count != u16::MAX && count as usize != n {
        return Err(format!("listpack says {count} elements, holds {n}"));
    }
    Ok(())
}

/// The element at the start of `b` (a listpack entry) and the size of its
/// encoding, back length excluded.
fn listpack_entry(b: &[u8]) -> std::result::Result<(Elem<'_>, usize), String> {
    let short = || "listpack entry runs past the end".to_string();
    let at = |i: usize| b.get(i).copied().ok_or_else(short);
    let bytes = |start: usize, len: usize| b.get(start..start + len).ok_or_else(short);
    let first = at(0)?;
    Ok(match first {
        0x00..=0x7F => (Elem::Int(first as i64), 1),
        0x80..=0xBF => {
            let len = (first & 0x3F) as usize;
            (Elem::Bytes(bytes(1, len)?), 1 + len)
        }
        0xC0..=0xDF => {
            let raw = (((first & 0x1F) as i64) << 8) | at(1)? as i64;
            (
                Elem::Int(if raw >= 1 << 12 { raw - (1 << 13) } else { raw }),
                2,
            )
        }
        0xE0..=0xEF => {
            let len = (((first & 0x0F) as usize) << 8) | at(1)? as usize;
            (Elem::Bytes(bytes(2, len)?), 2 + len)
        }
        0xF0 => {
            let l = bytes(1, 4)?;
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            (Elem::Bytes(bytes(5, len)?), 5 + len)
        }
        0xF1 => {
            let v = bytes(1, 2)?;
            (Elem::Int(i16::from_le_bytes([v[0], v[1]]) as i64), 3)
        }
        0xF2 => {
            let v = bytes(1, 3)?;
            (
                Elem::Int((i32::from_le_bytes([0, v[0], v[1], v[2]]) >> 8) as i64),
                4,
            )
        }
        0xF3 => {
            let v = bytes(1, 4)?;
            (
                Elem::Int(i32::from_le_bytes([v[0], v[1], v[2], v[3]]) as i64),
                5,
            )
        }
        0xF4 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(bytes(1, 8)?);
            (Elem::Int(i64::from_le_bytes(a)), 9)
        }
        _ => {
            return Err(format!(
                "listpack entry with unknown encoding 0x{first:02x}"
            ));
        }
    })
}

/// Calls `f` with each element of a ziplist (lists, hashes and sorted sets
/// before Redis 7.0), checking its header, each entry's encoding and
/// previous-entry length, and its end.
fn ziplist_each(zl: &[u8], mut f: impl FnMut(Elem) -> Walk) -> Walk {
    const HEADER: usize = 10;
    if zl.len() < HEADER + 1 {
        return Err("ziplist too short".into());
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(format!("ziplist says {total} bytes, holds {}", zl.len()));
    }
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    if zl[zl.len() - 1] != 0xFF {
        return Err("ziplist without its end byte".into());
    }
    let body = &zl[..zl.len() - 1];
    let short = || "ziplist entry runs past the end".to_string();
    let mut pos = HEADER;
    let mut prev = 0usize;
    let mut n: usize = 0;
    while pos < body.len() {
        let e = &body[pos..];
        let at = |i: usize| e.get(i).copied().ok_or_else(short);
        let bytes = |start: usize, len: usize| e.get(start..start + len).ok_or_else(short);
        let (prevlen, mut i) = match at(0)? {
            b @ 0..=253 => (b as usize, 1),
            254 => {
                let v = bytes(1, 4)?;
                (u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize, 5)
            }
            _ => return Err(format!("ziplist entry {n} has a bad previous length")),
        };
        if prevlen != prev {
            return Err(format!("ziplist entry {n} gives a wrong previous length"));
        }
        let enc = at(i)?;
        i += 1;
        let elem = match enc >> 6 {
            0 => {
                let len = (enc & 0x3F) as usize;
                i += len;
                Elem::Bytes(bytes(i - len, len)?)
            }
            1 => {
                let len = (((enc & 0x3F) as usize) << 8) | at(i)? as usize;
                i += 1 + len;
                Elem::Bytes(bytes(i - len, len)?)
            }
            2 if enc == 0x80 => {
                let l = bytes(i, 4)?;
                let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                i += 4 + len;
                Elem::Bytes(bytes(i - len, len)?)
            }
            _ => {
                let width = match enc {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => {
                        return Err(format!(
                            "ziplist entry {n} has unknown encoding 0x{enc:02x}"
                        ));
                    }
                };
                let v = bytes(i, width)?;
                i += width;
                let mut le = [0u8; 8];
                le[8 - width..].copy_from_slice(v);
                // Sign-extend from the top: the value sits in the high
                // bytes of `le` read as little-endian.
                Elem::Int(match width {
                    0 => (enc & 0x0F) as i64 - 1,
                    w => i64::from_le_bytes(le) >> (8 * (8 - w)),
                })
            }
        };
        f(elem)?;
        prev = i;
        pos += i;
        n += 1;
    }
    if count != u16::MAX && count as usize != n {
        return Err(format!("ziplist says {count} entries, holds {n}"));
    }
    Ok(())
}

/// Calls `f` with each field and value of a zipmap (hashes before Redis
/// 2.6), in turn.
fn zipmap_each(zm: &[u8], mut f: impl FnMut(Elem) -> Walk) -> Walk {
    let short = || "zipmap entry runs past the end".to_string();
    let mut pos = 1; // the first byte is a count hint
    let read_len = |pos: &mut usize| -> std::result::Result<Option<usize>, String> {
        match zm.get(*pos).copied().ok_or_else(short)? {
            255 => Ok(None),
            254 => {
                let v = zm.get(*pos + 1..*pos + 5).ok_or_else(short)?;
                *pos += 5;
                Ok(Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize))
            }
            b => {
                *pos += 1;
                Ok(Some(b as usize))
            }
        }
    };
    loop {
        let Some(klen) = read_len(&mut pos)? else {
            if pos + 1 != zm.len() {
                return Err("data after the zipmap's end".into());
            }
            return Ok(());
        };
        let key = zm.get(pos..pos + klen).ok_or_else(short)?;
        pos += klen;
        let Some(vlen) = read_len(&mut pos)? else {
            return Err("a zipmap key without a value".into());
        };
        let free = *zm.get(pos).ok_or_else(short)? as usize;
        pos += 1;
        let val = zm.get(pos..pos + vlen).ok_or_else(short)?;
        pos += vlen + free;
        f(Elem::Bytes(key))?;
        f(Elem::Bytes(val))?;
    }
}

/// Calls `f` with each member of an intset, checking its encoding, size
/// and strictly rising order.
fn intset_each(blob: &[u8], mut f: impl FnMut(i64) -> Walk) -> Walk {
    if blob.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset with encoding {width}"));
    }
    if (blob.len() - 8) != count.saturating_mul(width) {
        return Err(format!(
            "intset of {count} members holds {} bytes",
            blob.len() - 8
        ));
    }
    let mut last: Option<i64> = None;
    for m in blob[8..].chunks_exact(width) {
        let mut le = [0u8; 8];
        le[8 - width..].copy_from_slice(m);
        let n = i64::from_le_bytes(le) >> (8 * (8 - width));
        if last.is_some_and(|l| l >= n) {
            return Err("intset members out of order".into());
        }
        last = Some(n);
        f(n)?;
    }
    if count == 0 {
        return Err("empty intset".into());
    }
    Ok(())
}

/// Why a RESTORE payload was refused, with Redis's two messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// `DUMP payload version or checksum are wrong`
    VersionOrChecksum,
    /// `Bad data format`
    BadFormat,
}

/// The value in a DUMP payload, checked as Redis 7.0's
/// `verifyDumpPayload` does (a version up to 10, the CRC-64) and then
/// read in full.
pub fn restore_payload(
    payload: &[u8],
    shapes: &Shapes,
) -> std::result::Result<Value, PayloadError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(PayloadError::VersionOrChecksum);
    };
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if version > RDB_VERSION || crc64(0, &payload[..body_len + 2]) != u64::from_le_bytes(crc) {
        return Err(PayloadError::VersionOrChecksum);
    }
    // Redis reads the value from the whole payload, so a value that runs
    // past its body reads into the footer instead of failing; so does
    // this, and both then hold the same value.
    let mut r = Reader::new(payload);
    let kind = r.byte().map_err(|_| PayloadError::BadFormat)?;
    match read_value(&mut r, kind, shapes) {
        Ok(Some(v)) => Ok(v),
        _ => Err(PayloadError::BadFormat),
    }
}

/// What a load found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub keys: u64,
    /// Keys whose deadline had passed, skipped as Redis skips them.
    pub expired_skipped: u64,
    pub empty_skipped: u64,
    pub version: u16,
    /// The aux fields, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The function libraries' codes, in file order: the caller creates
    /// them (they need the scripting engine) once the file has loaded.
    pub functions: Vec<Vec<u8>>,
}

/// Whether a file's CRC-64 is checked (`rdbchecksum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Verify,
    Skip,
}

/// Loads a whole RDB file into `dbs` (fresh, empty databases, as many as
/// the server has). On an error the databases hold part of the file: the
/// caller drops them.
pub fn load(
    data: &[u8],
    dbs: &mut [Db],
    shapes: &Shapes,
    now_ms: u64,
    checksum: Checksum,
) -> Result<Loaded> {
    let mut loader = Loader::new(data, checksum)?;
    while !loader.step(dbs, shapes, now_ms, usize::MAX)? {}
    Ok(loader.state.loaded)
}

/// A file being loaded a few keys at a time, so the loop can answer
/// clients (with `-LOADING`) in between.
pub struct Loader<D: AsRef<[u8]>> {
    data: D,
    state: LoadState,
}

/// Where a load is: what it has read, and what comes with the next key.
struct LoadState {
    pos: usize,
    db: usize,
    meta: KeyMeta,
    checksum: Checksum,
    loaded: Loaded,
    /// Load keys already past their deadline too (an AOF's base, as
    /// Redis loads an RDB preamble: the commands that follow may still
    /// act on them, and they expire once loading is done).
    keep_expired: bool,
}

impl<D: AsRef<[u8]>> Loader<D> {
    /// Checks the signature and version.
    pub fn new(data: D, checksum: Checksum) -> Result<Loader<D>> {
        let mut r = Reader::new(data.as_ref());
        let magic = r
            .take(9)
            .or_else(|_| r.fail("not an RDB file: too short"))?;
        if &magic[..5] != b"REDIS" {
            return Err(at_offset(0, "not an RDB file: wrong signature"));
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|v| (1..=READ_VERSION_MAX).contains(v));
        let Some(version) = version else {
            return Err(RdbError {
                offset: 5,
                what: format!(
                    "can't handle RDB format version {}",
                    String::from_utf8_lossy(&magic[5..])
                ),
            });
        };
        Ok(Loader {
            data,
            state: LoadState {
                pos: 9,
                db: 0,
                meta: KeyMeta::default(),
                checksum,
                loaded: Loaded {
                    version,
                    ..Loaded::default()
                },
                keep_expired: false,
            },
        })
    }

    /// The bytes read so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.state.pos, self.data.as_ref().len())
    }

    /// Loads keys past their deadline too (see `LoadState::keep_expired`).
    pub fn keep_expired_keys(&mut self) {
        self.state.keep_expired = true;
    }

    /// What has been loaded so far.
    pub fn loaded(&self) -> &Loaded {
        &self.state.loaded
    }

    /// Loads up to `max_keys` more keys. Returns true once the whole file,
    /// checksum included, has been read.
    pub fn step(
        &mut self,
        dbs: &mut [Db],
        shapes: &Shapes,
        now_ms: u64,
        max_keys: usize,
    ) -> Result<bool> {
        self.state
            .step(self.data.as_ref(), dbs, shapes, now_ms, max_keys)
    }
}

impl LoadState {
    fn step(
        &mut self,
        data: &[u8],
        dbs: &mut [Db],
        shapes: &Shapes,
        now_ms: u64,
        max_keys: usize,
    ) -> Result<bool> {
        let mut r = Reader {
            buf: data,
            pos: self.pos,
        };
        let mut keys = 0;
        let result = loop {
            if keys >= max_keys {
                break Ok(false);
            }
            match self.next(&mut r, dbs, shapes, now_ms) {
                Ok(Some(true)) => keys += 1,
                Ok(Some(false)) => {}
                Ok(None) => break self.finish(&mut r, data).map(|()| true),
                Err(e) => break Err(e),
            }
        };
        self.pos = r.pos;
        result
    }

    /// Reads one opcode or key. `Some(true)` for a key, `Some(false)` for
    /// anything else, `None` at the end of file.
    fn next(
        &mut self,
        r: &mut Reader,
        dbs: &mut [Db],
        shapes: &Shapes,
        now_ms: u64,
    ) -> Result<Option<bool>> {
        let at = r.offset();
        match r.byte()? {
            op::EXPIRETIME => self.meta.expire_ms = u32::from_le_bytes(r.array()?) as u64 * 1000,
            op::EXPIRETIME_MS => self.meta.expire_ms = u64::from_le_bytes(r.array()?),
            op::IDLE => self.meta.idle_s = Some(r.length()?),
            op::FREQ => self.meta.freq = Some(r.byte()?),
            op::SELECTDB => {
                let n = r.length()?;
                if n >= dbs.len() as u64 {
                    return Err(RdbError {
                        offset: at,
                        what: format!(
                            "database {n} is out of range: the server has {} (databases)",
                            dbs.len()
                        ),
                    });
                }
                self.db = n as usize;
            }
            op::RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            op::AUX => {
                let name = r.string()?.into_owned();
                let val = r.string()?.into_owned();
                self.loaded.aux.push((name, val));
            }
            op::MODULE_AUX => return Err(at_offset(at, "module data is not supported")),
            opcode @ (op::FUNCTION | op::FUNCTION2) => {
                let code = function_record(r, opcode).map_err(|e| at_offset(at, &e))?;
                self.loaded.functions.push(code);
            }
            op::EOF => return Ok(None),
            kind => {
                self.key_value(r, at, kind, dbs, shapes, now_ms)?;
                return Ok(Some(true));
            }
        }
        Ok(Some(false))
    }

    fn key_value(
        &mut self,
        r: &mut Reader,
        at: usize,
        kind: u8,
        dbs: &mut [Db],
        shapes: &Shapes,
        now_ms: u64,
    ) -> Result<()> {
        let key = r.string()?;
        let value = match read_value(r, kind, shapes) {
            Ok(v) => v,
            Err(e) => {
                return Err(RdbError {
                    offset: e.offset,
                    what: format!("{} (key {})", e.what, crate::util::repr(&key)),
                });
            }
        };
        let meta = std::mem::take(&mut self.meta);
        let Some(value) = value else {
            self.loaded.empty_skipped += 1;
            return Ok(());
        };
        if !self.keep_expired && meta.expire_ms != 0 && past_deadline(meta.expire_ms, now_ms) {
            self.loaded.expired_skipped += 1;
            return Ok(());
        }
        let db = self.db;
        let target = &mut dbs[db];
        if target.get_including_expired(&key).is_some() {
            return Err(RdbError {
                offset: at,
                what: format!("duplicate key {} in database {db}", crate::util::repr(&key)),
            });
        }
        let access = target.restored_access(meta.idle_s, meta.freq, now_ms);
        target.insert_detached(
            &key,
            Detached {
                entry: Entry { value },
                access,
                expire_ms: meta.expire_ms,
            },
        );
        self.loaded.keys += 1;
        Ok(())
    }

    /// After the EOF opcode: the checksum, from version 5 on.
    fn finish(&self, r: &mut Reader, data: &[u8]) -> Result<()> {
        if self.loaded.version < 5 {
            return Ok(());
        }
        let end = r.offset();
        let stored = u64::from_le_bytes(r.array()?);
        if self.checksum == Checksum::Verify && stored != 0 {
            let computed = crc64(0, &data[..end]);
            if computed != stored {
                return Err(RdbError {
                    offset: end,
                    what: format!(
                        "wrong RDB checksum: the file says {stored:016x}, its data gives {computed:016x}"
                    ),
                });
            }
        }
        Ok(())
    }
}

fn at_offset(offset: usize, what: &str) -> RdbError {
    RdbError {
        offset,
        what: what.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    fn shapes() -> Shapes {
        Shapes {
            hash: hash::Limits {
                max_entries: 128,
                max_value: 64,
            },
            max_intset_entries: 512,
            zset: ListpackLimits {
                max_entries: 128,
                max_value: 64,
            },
            list_fill: Fill::default(),
        }
    }

    /// The members of a value, in a canonical order, to compare two
    /// values whatever their encodings.
    fn contents(v: &Value) -> (String, Vec<Vec<u8>>) {
        let mut out = Vec::new();
        match v {
            Value::Str(s) => out.push(s.as_bytes().into_owned()),
            Value::List(l) => return ("list".into(), l.to_vec()),
            Value::Hash(h) => {
                for (f, val) in h.iter() {
                    let mut pair = f.to_vec();
                    pair.push(0xFF);
                    pair.extend(val.to_vec());
                    out.push(pair);
                }
                out.sort();
            }
            Value::Stream(s) => {
                for (id, e) in s.log.range(StreamId::MIN, StreamId::MAX, false) {
                    let mut entry = id.to_be_bytes().to_vec();
                    for (f, val) in e.fields() {
                        entry.extend(f.to_vec());
                        entry.push(0xFF);
                        entry.extend(val.to_vec());
                    }
                    out.push(entry);
                }
            }
            Value::Set(s) => {
                out = s.members();
                out.sort();
            }
            Value::ZSet(z) => {
                for (m, s) in z.iter() {
                    let mut pair = m.to_vec();
                    pair.push(0xFF);
                    pair.extend(s.to_le_bytes());
                    out.push(pair);
                }
            }
        }
        (format!("{} {}", v.type_name(), v.encoding()), out)
    }

    /// A sorted set of `n` members with integral, fractional, negative
    /// and infinite scores: packed up to 128 members.
    fn sample_zset(n: usize) -> ZSet {
        let limits = shapes().zset;
        let mut z = ZSet::for_first_member(limits, 2);
        for i in 0..n {
            let score = match i % 5 {
                0 => i as f64,
                1 => i as f64 / 3.0,
                2 => -(i as f64),
                3 if i == 3 => f64::INFINITY,
                _ => 1e300,
            };
            let opts = crate::types::zset::AddOpts::default();
            let _ = z.add(score, format!("m{i}").as_bytes(), opts, limits);
        }
        z
    }

    fn round_trip(v: &Value, comp: Compression) -> Value {
        let mut buf = Vec::new();
        put_value(&mut buf, v, comp);
        let mut r = Reader::new(&buf);
        let kind = r.byte().unwrap();
        let back = read_value(&mut r, kind, &shapes()).unwrap().unwrap();
        assert_eq!(r.offset(), buf.len(), "the whole value is read");
        back
    }

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        for n in [
            0,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_len(&mut buf, n);
            let expected_size = match n {
                0..=63 => 1,
                64..=16383 => 2,
                16384..=0xFFFF_FFFF => 5,
                _ => 9,
            };
            assert_eq!(buf.len(), expected_size, "{n}");
            assert_eq!(Reader::new(&buf).length().unwrap(), n);
        }
    }

    #[test]
    fn strings_take_redis_encodings() {
        let enc = |s: &[u8], comp| {
            let mut buf = Vec::new();
            put_string(&mut buf, s, comp);
            buf
        };
        assert_eq!(enc(b"12", Compression::Lzf), [0xC0, 12]);
        assert_eq!(enc(b"-129", Compression::Lzf), [0xC1, 0x7F, 0xFF]);
        assert_eq!(enc(b"32768", Compression::Lzf), [0xC2, 0, 0x80, 0, 0]);
        // Not canonical, or too wide for 32 bits: as bytes.
        for s in [&b"012"[..], b"+1", b"1 ", b"2147483648", b"-0"] {
            assert_eq!(enc(s, Compression::Lzf)[0] as usize, s.len(), "{s:?}");
        }
        let long = vec![b'a'; 100];
        assert_eq!(enc(&long, Compression::Lzf)[0], 0xC3);
        assert_eq!(
            Reader::new(&enc(&long, Compression::Off)).length().unwrap(),
            100
        );
        for s in [&b""[..], b"0", b"-2147483648", &long, &[0xFF; 30]] {
            for comp in [Compression::Lzf, Compression::Off] {
                let buf = enc(s, comp);
                assert_eq!(&*Reader::new(&buf).string().unwrap(), s);
            }
        }
    }

    #[test]
    fn every_type_and_encoding_round_trips() {
        let mut rng = Rng::new(99);
        let fill = Fill::default();
        let mut values = vec![
            Value::Str(Str::encoded(b"123")),
            Value::Str(Str::encoded(b"short")),
            Value::Str(Str::encoded(&vec![b'z'; 5000])),
        ];
        let mut small = List::new();
        small.push_all(End::Right, &[&b"a"[..], b"-1", b"70000", b""], fill);
        let mut long = List::new();
        for i in 0..5000 {
            long.push(End::Right, format!("element-{i}").as_bytes(), fill);
        }
        values.extend([Value::List(small), Value::List(long)]);
        let limits = shapes().hash;
        let mut packed = Hash::default();
        let mut table = Hash::default();
        for i in 0..200 {
            let (f, v) = (format!("f{i}"), format!("{}", rng.below(1 << 40)));
            if i < 20 {
                packed.set(f.as_bytes(), v.as_bytes(), limits);
            }
            table.set(f.as_bytes(), v.as_bytes(), limits);
        }
        values.extend([Value::Hash(packed), Value::Hash(table)]);
        for members in [
            vec![1i64, -5, 300],
            vec![1, 70_000],
            vec![1, -5_000_000_000],
        ] {
            let mut s = Set::default();
            for m in members {
                s.add(m.to_string().as_bytes(), 512);
            }
            values.push(Value::Set(s));
        }
        let mut strings = Set::default();
        let mut big = Set::default();
        for i in 0..300 {
            if i < 5 {
                strings.add(format!("m{i}").as_bytes(), 512);
            }
            big.add(format!("m{i}").as_bytes(), 512);
        }
        values.extend([Value::Set(strings), Value::Set(big)]);
        values.extend([Value::ZSet(sample_zset(10)), Value::ZSet(sample_zset(500))]);
        for v in &values {
            for comp in [Compression::Lzf, Compression::Off] {
                assert_eq!(contents(&round_trip(v, comp)), contents(v));
            }
        }
    }

    #[test]
    fn dump_payloads_restore_and_check_their_footer() {
        let v = Value::Str(Str::encoded(b"hello"));
        let payload = dump_payload(&v, Compression::Lzf);
        // What redis-server 7.0 dumps for "hello".
        assert_eq!(
            payload,
            b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a".to_vec()
        );
        let back = restore_payload(&payload, &shapes()).unwrap();
        assert_eq!(contents(&back), contents(&v));
        let mut bad = payload.clone();
        bad[2] ^= 1;
        assert_eq!(
            restore_payload(&bad, &shapes()).err(),
            Some(PayloadError::VersionOrChecksum)
        );
        assert_eq!(
            restore_payload(b"short", &shapes()).err(),
            Some(PayloadError::VersionOrChecksum)
        );
    }

    /// A payload of `body` with version 10 and a good CRC.
    fn payload_of(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn corrupt_values_are_refused() {
        let bad: &[&[u8]] = &[
            // A set and a hash with a repeated member.
            b"\x02\x02\x01a\x01a",
            b"\x04\x02\x01a\x01b\x01a\x01c",
            // Intsets out of order, of a bad width, of a wrong size, empty.
            b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x03\x00",
            b"\x0b\x0c\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x05\x00",
            b"\x0b\x0a\x02\x00\x00\x00\x02\x00\x00\x00\x03\x00",
            b"\x0b\x08\x02\x00\x00\x00\x00\x00\x00\x00",
            // A listpack hash whose back length lies, whose count lies,
            // and one without its end byte.
            b"\x10\x0c\x0c\x00\x00\x00\x02\x00\x81a\x03\x01\x01\xff",
            b"\x10\x0c\x0c\x00\x00\x00\x03\x00\x81a\x02\x01\x01\xff",
            b"\x10\x0c\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\x00",
            // A hash field without a value.
            b"\x10\x0a\x0a\x00\x00\x00\x01\x00\x81a\x02\xff",
            // Sorted sets: a repeated member, a NaN score, a listpack
            // member without its score.
            b"\x05\x02\x01a\x00\x00\x00\x00\x00\x00\xf0\x3f\x01a\x00\x00\x00\x00\x00\x00\x00\x40",
            b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f",
            b"\x11\x0a\x0a\x00\x00\x00\x01\x00\x81a\x02\xff",
            // A stream: not supported yet.
            b"\x0f\x00",
            // Unknown type, empty set, unknown quicklist container.
            b"\x63\x00",
            b"\x02\x00",
            b"\x12\x01\x07\x01a",
        ];
        for body in bad {
            assert_eq!(
                restore_payload(&payload_of(body), &shapes()).err(),
                Some(PayloadError::BadFormat),
                "{body:?}"
            );
        }
    }

    /// A ziplist of `entries` (already encoded), with a correct header.
    fn ziplist(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for e in entries {
            tail = 10 + body.len();
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = e.len() + 1;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    #[test]
    fn old_encodings_load() {
        // A ziplist list of every entry encoding: strings, 4-bit, 8, 16,
        // 24, 32 and 64-bit integers.
        let zl = ziplist(&[
            b"\x03abc",
            b"\xf5",
            b"\xfe\x80",
            b"\xc0\x00\x80",
            b"\xf0\xff\xff\x7f",
            b"\xd0\x00\x00\x00\x80",
            b"\xe0\x01\x00\x00\x00\x00\x00\x00\x00",
        ]);
        let mut body = vec![kind::LIST_ZIPLIST];
        put_string(&mut body, &zl, Compression::Off);
        let v = restore_payload(&payload_of(&body), &shapes()).unwrap();
        let Value::List(l) = v else { panic!("a list") };
        let got: Vec<String> = l
            .to_vec()
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        assert_eq!(
            got,
            ["abc", "4", "-128", "-32768", "8388607", "-2147483648", "1"]
        );

        // A ziplist hash and a zipmap hash.
        let zl = ziplist(&[b"\x01f", b"\x01v", b"\x01g", b"\xf3"]);
        let mut body = vec![kind::HASH_ZIPLIST];
        put_string(&mut body, &zl, Compression::Off);
        let v = restore_payload(&payload_of(&body), &shapes()).unwrap();
        assert_eq!(contents(&v).1, [b"f\xffv".to_vec(), b"g\xff2".to_vec()]);
        let zm = b"\x02\x01f\x01\x00v\x01g\x02\x01xy\x00\xff";
        let mut body = vec![kind::HASH_ZIPMAP];
        put_string(&mut body, zm, Compression::Off);
        let v = restore_payload(&payload_of(&body), &shapes()).unwrap();
        assert_eq!(contents(&v).1, [b"f\xffv".to_vec(), b"g\xffxy".to_vec()]);

        // A ziplist whose previous-entry length lies is refused.
        let mut zl = ziplist(&[b"\x01a", b"\x01b"]);
        zl[13] = 5;
        let mut body = vec![kind::LIST_ZIPLIST];
        put_string(&mut body, &zl, Compression::Off);
        assert!(restore_payload(&payload_of(&body), &shapes()).is_err());
    }

    /// Random damage to valid payloads and files must give an error or a
    /// value, never a panic, an out-of-bounds read or a huge allocation.
    #[test]
    fn damaged_input_never_panics() {
        let mut rng = Rng::new(2024);
        let mut samples = Vec::new();
        let mut list = List::new();
        for i in 0..300 {
            list.push(End::Right, format!("{i}").as_bytes(), Fill::default());
        }
        let mut h = Hash::default();
        h.set(b"field", b"value", shapes().hash);
        let mut s = Set::default();
        s.add(b"7", 512);
        s.add(b"70000", 512);
        for v in [
            Value::List(list),
            Value::Hash(h),
            Value::Set(s),
            Value::ZSet(sample_zset(5)),
            Value::ZSet(sample_zset(200)),
            Value::Str(Str::encoded(&[b'q'; 200])),
        ] {
            let mut body = Vec::new();
            put_value(&mut body, &v, Compression::Lzf);
            samples.push(body);
        }
        for round in 0..20_000 {
            let mut body = samples[round % samples.len()].clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(body.len() as u64) as usize;
                match rng.below(3) {
                    0 => body[at] = rng.below(256) as u8,
                    1 => body.truncate(at.max(1)),
                    _ => body.insert(at, rng.below(256) as u8),
                }
            }
            let _ = restore_payload(&payload_of(&body), &shapes());
        }
    }

    fn file_of(keys: &[(&[u8], Value, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        put_header(
            &mut out,
            &Aux {
                redis_ver: "7.0.15",
                ctime_s: 0,
                used_mem: 0,
            },
        );
        put_db_start(&mut out, 3, keys.len(), 0);
        for (k, v, expire_ms) in keys {
            let meta = KeyMeta {
                expire_ms: *expire_ms,
                ..KeyMeta::default()
            };
            put_key_value(&mut out, k, v, meta, Compression::Lzf);
        }
        let crc = crc64(0, &out);
        put_footer(&mut out, crc, true);
        out
    }

    fn fresh_dbs() -> Vec<Db> {
        (0..16).map(|_| Db::new()).collect()
    }

    #[test]
    fn files_load_whole_or_fail_with_an_offset() {
        let now = 1_000_000;
        let file = file_of(&[
            (b"a", Value::Str(Str::encoded(b"1")), 0),
            (b"gone", Value::Str(Str::encoded(b"2")), now - 1),
            (b"later", Value::Str(Str::encoded(b"3")), now + 1000),
        ]);
        let mut dbs = fresh_dbs();
        let loaded = load(&file, &mut dbs, &shapes(), now, Checksum::Verify).unwrap();
        assert_eq!((loaded.keys, loaded.expired_skipped), (2, 1));
        assert_eq!(dbs[3].len(), 2);
        assert_eq!(dbs[3].expire_of(b"later"), now + 1000);
        assert_eq!(loaded.aux[0], (b"redis-ver".to_vec(), b"7.0.15".to_vec()));

        // Every truncation fails, naming an offset within the file.
        for cut in 0..file.len() {
            let err = load(
                &file[..cut],
                &mut fresh_dbs(),
                &shapes(),
                now,
                Checksum::Verify,
            )
            .unwrap_err();
            assert!(err.offset <= cut, "{err} for a cut at {cut}");
        }
        // A flipped bit is caught by the checksum, if nothing else.
        for at in 9..file.len() - 8 {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert!(
                load(&bad, &mut fresh_dbs(), &shapes(), now, Checksum::Verify).is_err(),
                "flip at {at}"
            );
        }
        // A duplicate key and a database the server lacks.
        let dup = file_of(&[
            (b"a", Value::Str(Str::encoded(b"1")), 0),
            (b"a", Value::Str(Str::encoded(b"1")), 0),
        ]);
        let err = load(&dup, &mut fresh_dbs(), &shapes(), now, Checksum::Verify).unwrap_err();
        assert!(err.what.contains("duplicate key"), "{err}");
        let err = load(
            &file,
            &mut fresh_dbs()[..2],
            &shapes(),
            now,
            Checksum::Verify,
        )
        .unwrap_err();
        assert!(err.what.contains("out of range"), "{err}");
        let err = load(
            b"REDIS0013\xff",
            &mut fresh_dbs(),
            &shapes(),
            now,
            Checksum::Verify,
        )
        .unwrap_err();
        assert!(err.what.contains("version"), "{err}");
    }
}
