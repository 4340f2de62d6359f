//! Bitmaps and bit fields over string values: SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD and BITFIELD_RO, as Redis 7.0's `bitops.c`.
//!
//! A bitmap is a string read as bits, most significant bit of the first
//! byte first. Reads take the string in any encoding (an integer is read
//! as its decimal text); writes make it `raw` (Redis's
//! dbUnshareStringValue) and grow it with zero bytes as an sds grows, so
//! OBJECT ENCODING and MEMORY USAGE answer as Redis's do.
//!
//! The scans are word at a time: counting and searching take the string
//! in 64-byte blocks of eight words (with the CPU's population count where
//! it has one), BITOP combines the sources a cache-sized block at a time.

use std::borrow::Cow;

use bytes::Bytes;

use crate::cmd::keys::lookup_read;
use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::value::{grow_like_sds, sds_new_capacity};
use crate::db::{Str, Value};
use crate::effects::class;
use crate::types::string::{Ttl, as_str, as_str_mut, shared, store_string};
use crate::util::{eq_ic_c, parse_i64, until_nul};

// ---------------------------------------------------------------------------
// Bit-level internals.
// ---------------------------------------------------------------------------

/// The number of set bits in `bytes`.
fn popcount(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU has the instruction the function is compiled
        // with, as just checked.
        return unsafe { popcount_with_popcnt(bytes) };
    }
    popcount_words(bytes)
}

/// [`popcount_words`] compiled with the `popcnt` instruction instead of
/// the bit-twiddling fallback a generic x86-64 build gets for
/// `count_ones`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn popcount_with_popcnt(bytes: &[u8]) -> u64 {
    popcount_words(bytes)
}

#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let (blocks, rest) = bytes.as_chunks::<64>();
    let mut total = 0u64;
    for block in blocks {
        // Eight independent words per block keep the adds from chaining.
        let (words, _) = block.as_chunks::<8>();
        let mut sum = 0u32;
        for w in words {
            sum += u64::from_ne_bytes(*w).count_ones();
        }
        total += u64::from(sum);
    }
    let (words, tail) = rest.as_chunks::<8>();
    for w in words {
        total += u64::from(u64::from_ne_bytes(*w).count_ones());
    }
    total + tail.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// Which bit value BITPOS looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bit {
    Zero,
    One,
}

/// The position of the first bit equal to `bit` among bits `first..=last`
/// of `bytes` (which must hold `last`), or `None`.
fn find_bit(bytes: &[u8], bit: Bit, first: u64, last: u64) -> Option<u64> {
    // Searching for a zero is searching for a one in the complement.
    let flip = match bit {
        Bit::One => 0u8,
        Bit::Zero => 0xff,
    };
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let head_mask = 0xffu8 >> (first & 7);
    let tail_mask = 0xffu8 << (7 - (last & 7));
    let found = |byte: usize, v: u8| Some(byte as u64 * 8 + u64::from(v.leading_zeros()));
    if first_byte == last_byte {
        let v = (bytes[first_byte] ^ flip) & head_mask & tail_mask;
        return if v != 0 { found(first_byte, v) } else { None };
    }
    let v = (bytes[first_byte] ^ flip) & head_mask;
    if v != 0 {
        return found(first_byte, v);
    }
    let middle = &bytes[first_byte + 1..last_byte];
    if let Some(i) = first_differing(middle, flip) {
        return found(first_byte + 1 + i, middle[i] ^ flip);
    }
    let v = (bytes[last_byte] ^ flip) & tail_mask;
    if v != 0 { found(last_byte, v) } else { None }
}

/// The index of the first byte of `bytes` other than `skip`, a word at a
/// time (Redis's redisBitpos skips whole words the same way).
fn first_differing(bytes: &[u8], skip: u8) -> Option<usize> {
    let skip_word = u64::from_ne_bytes([skip; 8]);
    let (blocks, _) = bytes.as_chunks::<64>();
    // A block of eight words is tested with one branch (the differences
    // OR-ed together), then the byte is found within it.
    let same = blocks
        .iter()
        .take_while(|block| {
            let (words, _) = block.as_chunks::<8>();
            words
                .iter()
                .fold(0, |acc, w| acc | (u64::from_ne_bytes(*w) ^ skip_word))
                == 0
        })
        .count();
    let from = same * 64;
    bytes[from..]
        .iter()
        .position(|&b| b != skip)
        .map(|i| from + i)
}

/// A field's width mask: its low `bits` bits set.
fn width_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The nine bytes that hold any field of up to 64 bits starting at byte
/// `byte`, zero past the end of `bytes`, as one big-endian window.
fn window(bytes: &[u8], byte: usize) -> u128 {
    let mut buf = [0u8; 16];
    if let Some(src) = bytes.get(byte..) {
        let n = src.len().min(9);
        buf[..n].copy_from_slice(&src[..n]);
    }
    u128::from_be_bytes(buf)
}

/// The unsigned `bits`-wide field at bit `offset` (bits past the end of
/// the string are zeros).
fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    let shift = 128 - (offset & 7) as u32 - bits;
    (window(bytes, (offset >> 3) as usize) >> shift) as u64 & width_mask(bits)
}

/// The signed `bits`-wide field at bit `offset`, sign-extended.
fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(bytes, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | !width_mask(bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; the string must
/// already hold the field.
fn set_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = (offset >> 3) as usize;
    let shift = 128 - (offset & 7) as u32 - bits;
    let mask = u128::from(width_mask(bits)) << shift;
    let w = (window(bytes, byte) & !mask) | ((u128::from(value) << shift) & mask);
    let out = w.to_be_bytes();
    let n = bytes.len().saturating_sub(byte).min(9);
    bytes[byte..byte + n].copy_from_slice(&out[..n]);
}

/// BITFIELD's overflow behaviour, set by OVERFLOW for the ops after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// An unsigned field's `value + incr` at `bits`: `Ok` when it fits,
/// otherwise `Err` with what WRAP or SAT stores (ignored under FAIL), as
/// Redis's checkUnsignedBitfieldOverflow decides it.
fn add_unsigned(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Result<u64, u64> {
    let max = width_mask(bits);
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > max_incr) {
        Err(if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if incr < 0 && incr < min_incr {
        Err(if overflow == Overflow::Sat {
            0
        } else {
            wrapped()
        })
    } else {
        Ok(value.wrapping_add(incr as u64))
    }
}

/// A signed field's `value + incr` at `bits`, as [`add_unsigned`] (Redis's
/// checkSignedBitfieldOverflow, with its tests for 64-bit fields).
fn add_signed(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Result<i64, i64> {
    let max = (width_mask(bits) >> 1) as i64;
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits >= 64 {
            c as i64
        } else if c & (1 << (bits - 1)) != 0 {
            (c | !width_mask(bits)) as i64
        } else {
            (c & width_mask(bits)) as i64
        }
    };
    let wide = bits == 64;
    if value > max || (!wide && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        Err(if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if value < min
        || (!wide && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Err(if overflow == Overflow::Sat {
            min
        } else {
            wrapped()
        })
    } else {
        Ok(value.wrapping_add(incr))
    }
}

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Bytes BITOP combines at a time: the block of the result and of each
/// source stay in cache while every source is applied.
const BITOP_BLOCK_BYTES: usize = 32 * 1024;

/// BITOP's result over `srcs` (missing keys as empty strings), `len`
/// bytes long (the longest source), with the room `sdsnewlen` gives it.
/// Each block is written first by the copy of the first source, so the
/// result's pages are touched once, not zeroed and then overwritten.
fn bitop_result(op: BitOp, srcs: &[Cow<[u8]>], len: usize) -> Vec<u8> {
    fn part(src: &[u8], at: usize, width: usize) -> &[u8] {
        src.get(at..).map_or(&[], |s| &s[..s.len().min(width)])
    }
    let mut res = Vec::with_capacity(sds_new_capacity(len));
    let mut at = 0;
    while at < len {
        let width = BITOP_BLOCK_BYTES.min(len - at);
        res.extend_from_slice(part(&srcs[0], at, width));
        res.resize(at + width, 0);
        let block = &mut res[at..];
        at += width;
        if op == BitOp::Not {
            block.iter_mut().for_each(|b| *b = !*b);
            continue;
        }
        for src in &srcs[1..] {
            let src = part(src, at - width, width);
            let (head, tail) = block.split_at_mut(src.len());
            match op {
                BitOp::And => {
                    head.iter_mut().zip(src).for_each(|(r, s)| *r &= s);
                    // Past its end a source is zeros.
                    tail.fill(0);
                }
                BitOp::Or => head.iter_mut().zip(src).for_each(|(r, s)| *r |= s),
                BitOp::Xor => head.iter_mut().zip(src).for_each(|(r, s)| *r ^= s),
                BitOp::Not => {}
            }
        }
    }
    res
}

// ---------------------------------------------------------------------------
// Argument parsing shared by the commands.
// ---------------------------------------------------------------------------

/// A bit offset (Redis's getBitOffsetFromArgument): a non-negative integer
/// whose byte is below `proto-max-bulk-len`, except in what the AOF
/// replays. BITFIELD passes its field width, which allows `#N`, the Nth
/// field of that width.
fn parse_offset(ctx: &Ctx, arg: &[u8], width: Option<u32>) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("bit offset is not an integer or out of range");
    let (digits, scale) = match (arg.first(), width) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    // Redis multiplies in C, where a huge N wraps.
    let n = parse_i64(digits).ok_or_else(invalid)?.wrapping_mul(scale);
    let limit = ctx.store.config.proto_max_bulk_len as i64;
    if n < 0 || (!ctx.must_obey() && (n >> 3) >= limit) {
        return Err(invalid());
    }
    Ok(n as u64)
}

/// BITCOUNT's and BITPOS's unit for start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte,
    Bit,
}

fn parse_unit(arg: &[u8]) -> Result<Unit, CmdError> {
    if eq_ic_c(arg, "bit") {
        Ok(Unit::Bit)
    } else if eq_ic_c(arg, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Resolves a start and end (negative from the end) in `unit` over a
/// string of `len` bytes to an inclusive range of bits, clamped to the
/// string, or `None` if it is empty.
fn bit_range(start: i64, end: i64, unit: Unit, len: usize) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i64,
        Unit::Bit => (len as i64) << 3,
    };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }.max(0);
    let end = end.min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    match unit {
        Unit::Byte => Some((start * 8, end * 8 + 7)),
        Unit::Bit => Some((start, end)),
    }
}

// ---------------------------------------------------------------------------
// Writing bits.
// ---------------------------------------------------------------------------

/// What making the string ready for a write did to it, before any bit
/// was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prepared {
    /// Nothing: it was a raw string long enough.
    AsIs,
    /// Converted from an integer or embedded string to raw (Redis's
    /// dbUnshareStringValue), which Redis does not count as a change.
    MadeRaw,
    /// Created or lengthened, which counts as a change even when no bit
    /// flips, as in Redis.
    Grown,
}

/// Runs `write` on `key`'s string made raw and long enough to hold bit
/// `max_bit` (Redis's lookupStringForBitCommand): a missing key becomes a
/// string of zero bytes, a shorter one is padded with zeros as an sds
/// grows. WRONGTYPE for another type.
fn with_bits_for_write<R>(
    ctx: &mut Ctx,
    key: &Bytes,
    max_bit: u64,
    write: impl FnOnce(&mut [u8], Prepared) -> R,
) -> Result<R, CmdError> {
    let len = (max_bit >> 3) as usize + 1;
    let (db, now) = (ctx.db_index, ctx.now_ms);
    if !ctx.store.dbs[db].exists(key, now) {
        let mut buf = Vec::with_capacity(sds_new_capacity(len));
        buf.resize(len, 0);
        let r = write(&mut buf, Prepared::Grown);
        let dirty = ctx.store.dirty;
        store_string(ctx, key, Str::raw(buf), Ttl::Clear);
        // The caller counts the change; creating the key is part of it.
        ctx.store.dirty = dirty;
        return Ok(r);
    }
    let shared = shared(ctx, key);
    let entry = ctx.store.dbs[db]
        .lookup(key, now)
        .ok_or(CmdError::NoSuchKey)?;
    let s = as_str_mut(entry)?;
    let was_raw = matches!(s, Str::Raw(_) | Str::Big(_));
    let buf = s.make_raw(shared);
    let prepared = if buf.len() < len {
        grow_like_sds(buf, len);
        buf.resize(len, 0);
        Prepared::Grown
    } else if was_raw {
        Prepared::AsIs
    } else {
        Prepared::MadeRaw
    };
    Ok(write(buf, prepared))
}

/// Propagates a bit write that changed no bit Redis counts, but left the
/// string created, longer or raw where it was not (BITFIELD's writes all
/// refused by OVERFLOW FAIL, a SETBIT to the value a bit had). Redis
/// propagates nothing then, so its AOF loses what the write did to the
/// string; ferrokv's replays it. Replies, events and `dirty` stay as
/// Redis has them.
fn propagate_unchanged(ctx: &mut Ctx, args: &[Bytes], prepared: Prepared) {
    if prepared != Prepared::AsIs {
        ctx.also_propagate(args.to_vec());
    }
}

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let offset = parse_offset(ctx, &args[2], None)?;
    let invalid = || CmdError::err("bit is not an integer or out of range");
    let on = match parse_i64(&args[3]).ok_or_else(invalid)? {
        0 => false,
        1 => true,
        _ => return Err(invalid()),
    };
    let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
    let (was_on, changed, prepared) = with_bits_for_write(ctx, key, offset, |bytes, prepared| {
        let was_on = bytes[byte] & mask != 0;
        let changed = prepared == Prepared::Grown || was_on != on;
        if on {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
        (was_on, changed, prepared)
    })?;
    if changed {
        ctx.changed(class::STRING, "setbit", key);
        ctx.dirty(1);
    } else {
        propagate_unchanged(ctx, args, prepared);
    }
    ctx.out.int(i64::from(was_on));
    Ok(())
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = parse_offset(ctx, &args[2], None)?;
    let on = match lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) {
        None => false,
        Some(e) => as_str(e)?.with_bytes(|bytes| {
            bytes
                .get((offset >> 3) as usize)
                .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
        }),
    };
    ctx.out.int(i64::from(on));
    Ok(())
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it reads the range: a missing key
    // counts 0 whatever follows.
    let Some(entry) = lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) else {
        ctx.out.int(0);
        return Ok(());
    };
    let count = as_str(entry)?.with_bytes(|bytes| -> Result<u64, CmdError> {
        let (first, last) = match args.len() {
            2 if bytes.is_empty() => return Ok(0),
            2 => (0, bytes.len() as u64 * 8 - 1),
            4 | 5 => {
                let start = arg_i64(&args[2])?;
                let end = arg_i64(&args[3])?;
                // Checked before the unit, as Redis does.
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let unit = match args.get(4) {
                    Some(u) => parse_unit(u)?,
                    None => Unit::Byte,
                };
                match bit_range(start, end, unit, bytes.len()) {
                    Some(range) => range,
                    None => return Ok(0),
                }
            }
            _ => return Err(CmdError::Syntax),
        };
        let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
        let head = bytes[first_byte] & !(0xff >> (first & 7));
        let tail = bytes[last_byte] & !(0xff << (7 - (last & 7)));
        let outside = u64::from(head.count_ones() + tail.count_ones());
        Ok(popcount(&bytes[first_byte..=last_byte]) - outside)
    })?;
    ctx.out.int(count as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bit = match arg_i64(&args[2])? {
        0 => Bit::Zero,
        1 => Bit::One,
        _ => return Err(CmdError::err("The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zeros.
    let Some(entry) = lookup_read(ctx.store, ctx.db_index, &args[1], ctx.now_ms) else {
        ctx.out.int(if bit == Bit::One { -1 } else { 0 });
        return Ok(());
    };
    let pos = as_str(entry)?.with_bytes(|bytes| -> Result<i64, CmdError> {
        let len = bytes.len();
        let (range, end_given) = match args.len() {
            3 => (bit_range(0, -1, Unit::Byte, len), false),
            4..=6 => {
                // Redis reads start, then the unit, then end.
                let start = arg_i64(&args[3])?;
                let unit = match args.get(5) {
                    Some(u) => parse_unit(u)?,
                    None => Unit::Byte,
                };
                match args.get(4) {
                    Some(end) => (bit_range(start, arg_i64(end)?, unit, len), true),
                    None => (bit_range(start, -1, unit, len), false),
                }
            }
            _ => return Err(CmdError::Syntax),
        };
        let Some((first, last)) = range else {
            return Ok(-1);
        };
        Ok(match find_bit(bytes, bit, first, last) {
            Some(pos) => pos as i64,
            // Without an end, the string goes on as zeros after it.
            None if bit == Bit::Zero && !end_given => last as i64 + 1,
            None => -1,
        })
    })?;
    ctx.out.int(pos);
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| eq_ic_c(&args[1], name))
    .map(|(_, op)| op)
    .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let (dest, sources) = (&args[2], &args[3..]);
    let (db, now) = (ctx.db_index, ctx.now_ms);
    // Each source is looked up as a read (hits, misses, lazy expiry), in
    // order, stopping at the first that is not a string.
    let mut len = 0;
    for key in sources {
        if let Some(e) = lookup_read(ctx.store, db, key, now) {
            len = len.max(as_str(e)?.len());
        }
    }
    if len > 0 {
        let res = {
            let d = &ctx.store.dbs[db];
            let srcs: Vec<Cow<[u8]>> = sources
                .iter()
                .map(|key| match d.get(key, now).map(|e| &e.value) {
                    Some(Value::Str(s)) => s.as_bytes(),
                    _ => Cow::Borrowed(&[][..]),
                })
                .collect();
            bitop_result(op, &srcs, len)
        };
        store_string(ctx, dest, Str::raw(res), Ttl::Clear);
        ctx.changed(class::STRING, "set", dest);
    } else if ctx.store.dbs[db].remove(dest) {
        // Redis deletes without looking at the deadline, so a key past it
        // but not yet reclaimed is deleted (and announced) here too.
        ctx.changed(class::GENERIC, "del", dest);
        ctx.dirty(1);
    }
    ctx.out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// BITFIELD.
// ---------------------------------------------------------------------------

/// A field's type: signed i1..i64 or unsigned u1..u63 (a u64 could not be
/// replied as a RESP integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

fn parse_field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    let invalid = || {
        CmdError::err(
            "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(invalid()),
    };
    // Redis reads the width with strlen, so up to a NUL.
    let bits = parse_i64(until_nul(&arg[1..])).ok_or_else(invalid)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(invalid());
    }
    Ok(FieldType {
        signed,
        bits: bits as u32,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One parsed BITFIELD operation.
#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// Whether BITFIELD_RO is running, which allows GET alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// Parses every operation before any runs, as Redis does, so the first
/// malformed one is the error whatever comes after it.
fn parse_fields(ctx: &Ctx, args: &[Bytes]) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - j - 1;
        let name = &args[j];
        let op_args = if eq_ic_c(name, "get") && more >= 2 {
            2
        } else if (eq_ic_c(name, "set") || eq_ic_c(name, "incrby")) && more >= 3 {
            3
        } else if eq_ic_c(name, "overflow") && more >= 1 {
            let kind = &args[j + 1];
            overflow = if eq_ic_c(kind, "wrap") {
                Overflow::Wrap
            } else if eq_ic_c(kind, "sat") {
                Overflow::Sat
            } else if eq_ic_c(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let ty = parse_field_type(&args[j + 1])?;
        let offset = parse_offset(ctx, &args[j + 2], Some(ty.bits))?;
        let op = if op_args == 2 {
            FieldOp::Get
        } else if eq_ic_c(name, "set") {
            FieldOp::Set(arg_i64(&args[j + 3])?)
        } else {
            FieldOp::IncrBy(arg_i64(&args[j + 3])?)
        };
        fields.push(Field {
            op,
            ty,
            offset,
            overflow,
        });
        j += 1 + op_args;
    }
    Ok(fields)
}

/// Runs a SET or INCRBY on `bytes`: the reply (`None` when FAIL refused
/// it) and whether the field changed.
fn write_field(bytes: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    let FieldType { signed, bits } = f.ty;
    let (old, new, reply) = if signed {
        let old = get_signed(bytes, f.offset, bits);
        let (result, reply_new) = match f.op {
            FieldOp::IncrBy(incr) => (add_signed(old, incr, bits, f.overflow), true),
            _ => (add_signed(f.value(), 0, bits, f.overflow), false),
        };
        let new = match result {
            Ok(v) => v,
            Err(_) if f.overflow == Overflow::Fail => return (None, false),
            Err(limit) => limit,
        };
        (old as u64, new as u64, if reply_new { new } else { old })
    } else {
        let old = get_unsigned(bytes, f.offset, bits);
        let (result, reply_new) = match f.op {
            FieldOp::IncrBy(incr) => (add_unsigned(old, incr, bits, f.overflow), true),
            _ => (add_unsigned(f.value() as u64, 0, bits, f.overflow), false),
        };
        let new = match result {
            Ok(v) => v,
            Err(_) if f.overflow == Overflow::Fail => return (None, false),
            Err(limit) => limit,
        };
        (old, new, if reply_new { new as i64 } else { old as i64 })
    };
    set_field(bytes, f.offset, bits, new);
    (Some(reply), old != new)
}

impl Field {
    /// SET's value (0 for the other ops).
    fn value(&self) -> i64 {
        match self.op {
            FieldOp::Set(v) => v,
            _ => 0,
        }
    }

    /// The last bit a write reaches.
    fn last_bit(&self) -> u64 {
        self.offset + u64::from(self.ty.bits) - 1
    }

    fn read(&self, bytes: &[u8]) -> i64 {
        if self.ty.signed {
            get_signed(bytes, self.offset, self.ty.bits)
        } else {
            get_unsigned(bytes, self.offset, self.ty.bits) as i64
        }
    }
}

/// BITFIELD and BITFIELD_RO: `key [GET type offset] [SET type offset
/// value] [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ...`.
fn bitfield_generic(ctx: &mut Ctx, args: &[Bytes], access: Access) -> CmdResult {
    let key = &args[1];
    let fields = parse_fields(ctx, args)?;
    let max_write = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(Field::last_bit)
        .max();
    let Some(max_bit) = max_write else {
        // Only GETs: a read, of a missing key as zeros.
        let replies: Vec<i64> = match lookup_read(ctx.store, ctx.db_index, key, ctx.now_ms) {
            None => fields.iter().map(|f| f.read(&[])).collect(),
            Some(e) => as_str(e)?.with_bytes(|b| fields.iter().map(|f| f.read(b)).collect()),
        };
        reply_fields(ctx, &replies.into_iter().map(Some).collect::<Vec<_>>());
        return Ok(());
    };
    if access == Access::ReadOnly {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (replies, changes, prepared) =
        with_bits_for_write(ctx, key, max_bit, |bytes, prepared| {
            let mut changes = 0;
            let replies: Vec<Option<i64>> = fields
                .iter()
                .map(|f| {
                    if f.op == FieldOp::Get {
                        return Some(f.read(bytes));
                    }
                    let (reply, changed) = write_field(bytes, f);
                    if reply.is_some() && (changed || prepared == Prepared::Grown) {
                        changes += 1;
                    }
                    reply
                })
                .collect();
            (replies, changes, prepared)
        })?;
    if changes > 0 {
        ctx.changed(class::STRING, "setbit", key);
        ctx.dirty(changes);
    } else {
        propagate_unchanged(ctx, args, prepared);
    }
    reply_fields(ctx, &replies);
    Ok(())
}

fn reply_fields(ctx: &mut Ctx, replies: &[Option<i64>]) {
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(*n),
            None => ctx.out.null(),
        }
    }
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type
/// offset increment | OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, Access::ReadWrite)
}

/// BITFIELD_RO key [GET type offset ...]
pub fn bitfield_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, Access::ReadOnly)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis's byte-at-a-time definitions, for comparison.
    fn naive_get(bytes: &[u8], offset: u64, bits: u32) -> u64 {
        (0..u64::from(bits)).fold(0, |v, j| {
            let o = offset + j;
            let bit = bytes
                .get((o >> 3) as usize)
                .map_or(0, |b| (b >> (7 - (o & 7))) & 1);
            (v << 1) | u64::from(bit)
        })
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn popcount_matches_bytewise_count_at_every_length_and_alignment() {
        let data = pseudo_random(300, 7);
        for start in 0..9 {
            for end in start..data.len() {
                let s = &data[start..end];
                let expected: u64 = s.iter().map(|b| u64::from(b.count_ones())).sum();
                assert_eq!(popcount(s), expected);
                assert_eq!(popcount_words(s), expected);
            }
        }
    }

    #[test]
    fn find_bit_agrees_with_a_bit_by_bit_scan() {
        let mut data = pseudo_random(40, 3);
        // Long runs of zeros and ones, so the word skipping is exercised.
        data.extend(std::iter::repeat_n(0u8, 70));
        data.extend(std::iter::repeat_n(0xffu8, 70));
        data.push(0x10);
        let bit_at = |i: u64| (data[(i >> 3) as usize] >> (7 - (i & 7))) & 1;
        let n = data.len() as u64 * 8;
        for first in (0..n).step_by(5) {
            for last in (first..n).step_by(11) {
                for (bit, want) in [(Bit::Zero, 0), (Bit::One, 1)] {
                    let expected = (first..=last).find(|&i| bit_at(i) == want);
                    assert_eq!(find_bit(&data, bit, first, last), expected);
                }
            }
        }
    }

    #[test]
    fn fields_read_and_write_like_redis_bit_loops() {
        let mut data = pseudo_random(20, 11);
        for bits in 1..=64 {
            for offset in 0..(20 * 8 - u64::from(bits)) {
                assert_eq!(
                    get_unsigned(&data, offset, bits),
                    naive_get(&data, offset, bits)
                );
                let value = 0xdead_beef_cafe_f00d_u64.rotate_left(offset as u32);
                let before = data.clone();
                set_field(&mut data, offset, bits, value);
                assert_eq!(get_unsigned(&data, offset, bits), value & width_mask(bits));
                // Bits outside the field are untouched.
                for o in (0..20 * 8).filter(|&o| o < offset || o >= offset + u64::from(bits)) {
                    assert_eq!(naive_get(&data, o, 1), naive_get(&before, o, 1));
                }
            }
        }
        // Past the end reads as zeros.
        assert_eq!(get_unsigned(&[0xff], 4, 8), 0xf0);
        assert_eq!(get_signed(&[0x80], 0, 1), -1);
        assert_eq!(get_signed(&[0x7f], 0, 8), 127);
    }

    #[test]
    fn overflow_rules_match_redis() {
        use Overflow::*;
        assert_eq!(add_unsigned(255, 1, 8, Wrap), Err(0));
        assert_eq!(add_unsigned(255, 1, 8, Sat), Err(255));
        assert_eq!(add_unsigned(0, -1, 8, Wrap), Err(255));
        assert_eq!(add_unsigned(0, -1, 8, Sat), Err(0));
        assert_eq!(add_unsigned(10, -10, 8, Wrap), Ok(0));
        assert_eq!(add_unsigned(300, 0, 8, Wrap), Err(44));
        assert_eq!(add_signed(127, 1, 8, Wrap), Err(-128));
        assert_eq!(add_signed(127, 1, 8, Sat), Err(127));
        assert_eq!(add_signed(-128, -1, 8, Sat), Err(-128));
        assert_eq!(add_signed(-128, -1, 8, Wrap), Err(127));
        assert_eq!(add_signed(i64::MAX, 1, 64, Wrap), Err(i64::MIN));
        assert_eq!(add_signed(i64::MIN, -1, 64, Sat), Err(i64::MIN));
        assert_eq!(add_signed(-1, i64::MAX, 64, Wrap), Ok(i64::MAX - 1));
        assert_eq!(add_signed(200, 0, 8, Wrap), Err(-56));
    }

    #[test]
    fn bitop_blocks_match_bytewise_definitions() {
        let a = pseudo_random(BITOP_BLOCK_BYTES * 2 + 77, 5);
        let b = pseudo_random(BITOP_BLOCK_BYTES + 3, 9);
        let srcs = [Cow::Borrowed(&a[..]), Cow::Borrowed(&b[..])];
        let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
        let and = bitop_result(BitOp::And, &srcs, a.len());
        let or = bitop_result(BitOp::Or, &srcs, a.len());
        let xor = bitop_result(BitOp::Xor, &srcs, a.len());
        let not = bitop_result(BitOp::Not, &srcs[1..], b.len());
        for i in 0..a.len() {
            assert_eq!(and[i], a[i] & at(&b, i));
            assert_eq!(or[i], a[i] | at(&b, i));
            assert_eq!(xor[i], a[i] ^ at(&b, i));
        }
        assert!(not.iter().zip(&b).all(|(n, b)| *n == !b));
    }
}
