//! HyperLogLog, stored as an ordinary string in Redis's own format, so
//! GET, SET, DUMP, RDB and the AOF carry it unchanged between ferrokv and
//! redis-server, and the same elements give the same bytes.
//!
//! The string is a 16-byte header (`HYLL`, the encoding, three reserved
//! bytes, the cached cardinality in 8 little-endian bytes whose top bit
//! marks it stale) and 16384 registers, each the longest run of zero bits
//! (plus one) seen in the hashes of the elements that fall on it:
//!
//! - dense: 6 bits a register, packed little-endian, 12288 bytes;
//! - sparse: run-length opcodes, `00xxxxxx` ZERO (1-64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1-16384 zero registers) and `1vvvvvxx` VAL
//!   (1-4 registers of value 1-32). A key starts sparse and becomes dense
//!   when a register needs more than 32 or the string would grow past
//!   `hll-sparse-max-bytes`.
//!
//! Everything that turns bytes into bytes or numbers follows Redis 7.0's
//! `hyperloglog.c` step by step: where opcodes are split and merged, how a
//! corrupt or truncated sparse string is read (a byte past the end reads as
//! the zero terminator an sds string has), and the estimator's floating
//! point in the same order, so counts are bit-identical.
//!
//! The file holds the structure first, then the commands.

use bytes::Bytes;

use crate::cmd::keys::{lookup_read, lookup_write};
use crate::cmd::{CmdError, CmdResult, Ctx};
use crate::db::value::{Shared, make_room_like_sds, sds_new_capacity};
use crate::db::{Entry, Str, Ttl, Value};
use crate::effects::class;
use crate::store::Store;
use crate::util::{Rng, eq_ic};

/// The header: magic, encoding, three reserved bytes, cached cardinality.
pub const HEADER_BYTES: usize = 16;
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
/// The top bit of the cardinality's last byte marks the cache stale.
const STALE_AT: usize = 15;
const STALE_BIT: u8 = 0x80;

const DENSE: u8 = 0;
const SPARSE: u8 = 1;

/// Bits of the hash that choose the register (Redis's HLL_P).
const P: u32 = 14;
/// Bits left for the run of zeroes (Redis's HLL_Q).
const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
pub const DENSE_BYTES: usize = HEADER_BYTES + (REGISTERS * 6).div_ceil(8);

const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;

/// 0.5/ln(2), the estimator's constant for m going to infinity.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const HASH_SEED: u64 = 0xadc8_3b19;

/// A sparse string whose opcodes do not cover exactly the 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A as Redis has it: little-endian words on any machine.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls on and the length of the run of zeroes
/// (counting the final one) in the rest of its hash (Redis's hllPatLen).
fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The bit set at Q ends the run at Q + 1 at most.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Whether a string is a HyperLogLog Redis would accept
/// (isHLLObjectOrReply): long enough for the header, the magic, a known
/// encoding, and a dense one of the exact size. A sparse one's opcodes
/// are checked only as they are read.
pub fn is_hll(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_BYTES
        && bytes.starts_with(b"HYLL")
        && bytes[ENCODING_AT] <= SPARSE
        && (bytes[ENCODING_AT] == SPARSE || bytes.len() == DENSE_BYTES)
}

fn is_sparse(hll: &[u8]) -> bool {
    hll[ENCODING_AT] == SPARSE
}

/// A new, empty HyperLogLog: sparse, one XZERO covering every register, a
/// valid cached cardinality of 0 (Redis's createHLLObject).
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(sds_new_capacity(HEADER_BYTES + 2));
    hll.extend_from_slice(b"HYLL");
    hll.resize(HEADER_BYTES, 0);
    hll[ENCODING_AT] = SPARSE;
    push_xzero(&mut hll, REGISTERS);
    hll
}

/// The cached cardinality, if it is not stale.
fn cached_count(hll: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(hll[CARD_AT..CARD_AT + 8].try_into().ok()?);
    (hll[STALE_AT] & STALE_BIT == 0).then_some(card)
}

fn set_cached_count(hll: &mut [u8], card: u64) {
    hll[CARD_AT..CARD_AT + 8].copy_from_slice(&card.to_le_bytes());
}

fn invalidate_cache(hll: &mut [u8]) {
    hll[STALE_AT] |= STALE_BIT;
}

// ---------------------------------------------------------------------------
// Dense registers

/// Register `i` of a dense register array (12288 bytes). The last register
/// reads one byte past the array, which Redis's sds terminator makes 0.
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> shift) | (b1 << (8 - shift))) & REGISTER_MAX as u32) as u8
}

fn dense_put(regs: &mut [u8], i: usize, value: u8) {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let v = value as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << shift) as u8;
    regs[byte] |= (v << shift) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !((REGISTER_MAX as u32) >> (8 - shift)) as u8;
        *next |= (v >> (8 - shift)) as u8;
    }
}

/// Raises register `i` to `count`; whether it was lower.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// The four registers packed in three bytes of a dense array (6 bits
/// each, little-endian).
fn unpack4(b: &[u8]) -> [u8; 4] {
    [
        b[0] & 63,
        (b[0] >> 6 | b[1] << 2) & 63,
        (b[1] >> 4 | b[2] << 4) & 63,
        b[2] >> 2,
    ]
}

fn pack4(b: &mut [u8], r: [u8; 4]) {
    b[0] = r[0] | r[1] << 6;
    b[1] = r[1] >> 2 | r[2] << 4;
    b[2] = r[2] >> 4 | r[3] << 2;
}

/// Adds every register's value to `histogram` (Redis's hllDenseRegHisto),
/// four registers from each three bytes.
fn dense_histogram(regs: &[u8], histogram: &mut [i64; 64]) {
    for b in regs.chunks_exact(3) {
        for r in unpack4(b) {
            histogram[r as usize] += 1;
        }
    }
}

/// Raises each dense register to the one-byte register of `max` at the
/// same index: what raising them one by one gives, four at a time.
fn dense_raise_all(regs: &mut [u8], max: &[u8]) {
    for (b, m) in regs.chunks_exact_mut(3).zip(max.chunks_exact(4)) {
        let r = unpack4(b);
        pack4(b, std::array::from_fn(|i| r[i].max(m[i] & REGISTER_MAX)));
    }
}

// ---------------------------------------------------------------------------
// Sparse opcodes

/// One sparse opcode as read at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, len: usize },
}

impl Op {
    /// The opcode at `p`; an XZERO's second byte past the end reads as 0.
    fn at(hll: &[u8], p: usize) -> Op {
        let b = hll[p];
        if b & 0x80 != 0 {
            Op::Val {
                value: ((b >> 2) & 0x1f) + 1,
                len: (b & 3) as usize + 1,
            }
        } else if b & 0x40 != 0 {
            let low = hll.get(p + 1).copied().unwrap_or(0) as usize;
            Op::XZero((((b & 0x3f) as usize) << 8 | low) + 1)
        } else {
            Op::Zero((b & 0x3f) as usize + 1)
        }
    }

    /// How many registers it covers.
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val { len: n, .. } => n,
        }
    }

    /// How many bytes it takes.
    fn bytes(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len as u8 - 1)) | 0x80
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

/// A run of `len` zero registers in the opcode Redis picks for it.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Walks the opcodes of a sparse string, calling `run(first, span, value)`
/// for each run of non-zero registers that fits; `Err` unless the opcodes
/// cover exactly the 16384 registers. A run that would overflow stops the
/// walk, as in Redis's hllMerge and hllSparseToDense.
fn sparse_runs(hll: &[u8], mut run: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HEADER_BYTES;
    while p < hll.len() {
        let op = Op::at(hll, p);
        if let Op::Val { value, len } = op {
            if idx + len > REGISTERS {
                break;
            }
            run(idx, len, value);
        }
        idx += op.span();
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Adds every register's value to `histogram` (Redis's
/// hllSparseRegHisto, which, unlike the walks above, does not stop at an
/// overflowing run).
fn sparse_histogram(hll: &[u8], histogram: &mut [i64; 64]) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HEADER_BYTES;
    while p < hll.len() {
        let op = Op::at(hll, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => histogram[0] += n as i64,
            Op::Val { value, len } => histogram[value as usize] += len as i64,
        }
        idx += op.span();
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Converts a sparse HyperLogLog to dense in place, keeping the header
/// (reserved bytes and cached cardinality too); a dense one is left as it
/// is (Redis's hllSparseToDense).
pub fn to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if !is_sparse(hll) {
        return Ok(());
    }
    let mut dense = Vec::with_capacity(sds_new_capacity(DENSE_BYTES));
    dense.extend_from_slice(&hll[..HEADER_BYTES]);
    dense.resize(DENSE_BYTES, 0);
    dense[ENCODING_AT] = DENSE;
    let regs = &mut dense[HEADER_BYTES..];
    sparse_runs(hll, |first, len, value| {
        for i in first..first + len {
            dense_put(regs, i, value);
        }
    })?;
    *hll = dense;
    Ok(())
}

/// Where the opcode covering a register was found.
struct Found {
    /// Its position and the previous opcode's, if any.
    p: usize,
    prev: Option<usize>,
    /// The first register it covers.
    first: usize,
    op: Op,
}

/// Finds the opcode covering register `index`, or `Corrupt` if the
/// opcodes end first.
fn find_op(hll: &[u8], index: usize) -> Result<Found, Corrupt> {
    let (mut p, mut prev, mut first) = (HEADER_BYTES, None, 0);
    while p < hll.len() {
        let op = Op::at(hll, p);
        if index < first + op.span() {
            return Ok(Found { p, prev, first, op });
        }
        prev = Some(p);
        p += op.bytes();
        first += op.span();
    }
    Err(Corrupt)
}

/// Raises register `index` of a sparse HyperLogLog to `count` (Redis's
/// hllSparseSet): whether it changed, promoting to dense when the value
/// does not fit an opcode or the string would grow past `max_bytes`.
fn sparse_raise(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // The worst split (XZERO into XZERO-VAL-XZERO) adds three bytes; Redis
    // makes that room first, which is what its string's capacity shows.
    make_room_like_sds(hll, 3);
    let Found { p, prev, first, op } = find_op(hll, index)?;
    match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zero(1) => hll[p] = val_byte(count, 1),
        _ => {
            let seq = split(op, first, index, count);
            let new_len = hll.len() + seq.len() - op.bytes();
            if seq.len() > op.bytes() && new_len > max_bytes {
                return promote(hll, index, count);
            }
            let next = p + op.bytes();
            if next < hll.len() {
                hll.splice(p..next, seq);
            } else {
                // The last opcode; a truncated XZERO's missing byte was the
                // terminator, so the new run loses as many bytes.
                hll.truncate(p);
                hll.extend_from_slice(&seq);
                hll.truncate(new_len);
            }
        }
    }
    merge_vals(hll, prev.unwrap_or(HEADER_BYTES));
    invalidate_cache(hll);
    Ok(true)
}

/// The opcodes replacing `op` (covering registers from `first`) when
/// register `index` in it becomes `count`: at most five bytes.
fn split(op: Op, first: usize, index: usize, count: u8) -> Vec<u8> {
    let last = first + op.span() - 1;
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        Op::Val { value, .. } => {
            if index != first {
                seq.push(val_byte(value, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(value, last - index));
            }
        }
    }
    seq
}

/// Joins adjacent VAL opcodes of the same value that fit one opcode,
/// looking at up to five opcodes from `p`, as Redis does after a change.
fn merge_vals(hll: &mut Vec<u8>, mut p: usize) {
    let mut budget = 5;
    while p < hll.len() && budget > 0 {
        budget -= 1;
        let op = Op::at(hll, p);
        let Op::Val { value, len } = op else {
            p += op.bytes();
            continue;
        };
        if let Some(&b) = hll.get(p + 1)
            && b & 0x80 != 0
            && let Op::Val {
                value: v2,
                len: len2,
            } = Op::at(hll, p + 1)
            && v2 == value
            && len + len2 <= VAL_MAX_LEN
        {
            hll[p + 1] = val_byte(value, len + len2);
            hll.remove(p);
            // The merged opcode may join the next one too.
            continue;
        }
        p += 1;
    }
}

/// Converts to dense and raises the register there.
fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    dense_raise(&mut hll[HEADER_BYTES..], index, count);
    Ok(true)
}

/// Raises register `index` to `count` in either encoding.
fn raise(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if is_sparse(hll) {
        sparse_raise(hll, index, count, max_bytes)
    } else {
        Ok(dense_raise(&mut hll[HEADER_BYTES..], index, count))
    }
}

/// Adds an element (Redis's hllAdd): whether a register changed.
pub fn add(hll: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = register_of(element);
    raise(hll, index, count, max_bytes)
}

/// Raises each register of `max` to the HyperLogLog's (Redis's hllMerge).
pub fn merge_into(max: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    if is_sparse(hll) {
        return sparse_runs(hll, |first, len, value| {
            for m in &mut max[first..first + len] {
                *m = (*m).max(value);
            }
        });
    }
    for (b, m) in hll[HEADER_BYTES..]
        .chunks_exact(3)
        .zip(max.chunks_exact_mut(4))
    {
        for (m, r) in m.iter_mut().zip(unpack4(b)) {
            *m = (*m).max(r);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The estimator (Otmar Ertl, "New cardinality estimation algorithms for
// HyperLogLog sketches", arXiv:1702.01284), in Redis's order of operations.

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prime == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a histogram of register values. Values
/// above Q + 1 (only a hand-made dense string holds them) are ignored, as
/// in Redis.
fn estimate(histogram: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q + 1] as f64) / m);
    for &h in histogram[1..=Q].iter().rev() {
        z += h as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    // Redis's llroundl gives LLONG_MIN for what no long long holds (a
    // division by zero when every register is past Q), and the count is
    // that cast to unsigned.
    if e.is_finite() && e.abs() < 9_223_372_036_854_775_808.0 {
        e as i64 as u64
    } else {
        i64::MIN as u64
    }
}

/// The estimated cardinality of a HyperLogLog (Redis's hllCount); `Err`
/// for a corrupt sparse one.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram = [0i64; 64];
    if is_sparse(hll) {
        sparse_histogram(hll, &mut histogram)?;
    } else {
        dense_histogram(&hll[HEADER_BYTES..], &mut histogram);
    }
    Ok(estimate(&histogram))
}

/// The estimated cardinality of registers one byte each (the union
/// PFCOUNT builds for several keys).
fn count_bytes(max: &[u8]) -> u64 {
    let mut histogram = [0i64; 64];
    for &r in max {
        histogram[(r & 63) as usize] += 1;
    }
    estimate(&histogram)
}

/// PFDEBUG DECODE's text: each opcode as `z:len`, `Z:len` or
/// `v:value,len`, space-separated.
fn decode(hll: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HEADER_BYTES;
    while p < hll.len() {
        let op = Op::at(hll, p);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        });
        p += op.bytes();
    }
    out
}

// ---------------------------------------------------------------------------
// Commands

fn not_hll() -> CmdError {
    CmdError::Msg("WRONGTYPE Key is not a valid HyperLogLog string value.".into())
}

fn corrupt() -> CmdError {
    CmdError::Msg("INVALIDOBJ Corrupted HLL object detected".into())
}

/// The HyperLogLog in `entry`, checked, as a raw buffer to change in
/// place (Redis's isHLLObjectOrReply, then dbUnshareStringValue).
fn checked_mut(entry: &mut Entry, shared: Shared) -> Result<&mut Vec<u8>, CmdError> {
    match &mut entry.value {
        Value::Str(s) if s.with_bytes(is_hll) => Ok(s.make_raw(shared)),
        Value::Str(_) => Err(not_hll()),
        _ => Err(CmdError::WrongType),
    }
}

/// How a command looks its key up: PFCOUNT as a read (hits and misses),
/// the others as a write.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// Whether `key`'s value is still a running transaction's argument, to be
/// copied before it changes (see `string::shared`). Only a valid
/// HyperLogLog is changed, so only then is the mark taken.
fn shared_mark(ctx: &mut Ctx, key: &[u8]) -> Shared {
    if ctx.store.exec_shared.is_empty() {
        return Shared::No;
    }
    let now = ctx.now_ms;
    let valid = matches!(
        ctx.db().peek(key, now),
        Some(Entry { value: Value::Str(s) }) if s.with_bytes(is_hll)
    );
    if valid {
        crate::types::string::shared(ctx, key)
    } else {
        Shared::No
    }
}

/// The HyperLogLog at `key` to change in place, `None` if absent, or
/// WRONGTYPE (not a string, or not a HyperLogLog).
fn hll_mut<'a>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
    (access, shared): (Access, Shared),
) -> Result<Option<&'a mut Vec<u8>>, CmdError> {
    let entry = match access {
        Access::Read => lookup_read(store, db, key, now_ms),
        Access::Write => lookup_write(store, db, key, now_ms),
    };
    entry.map(|e| checked_mut(e, shared)).transpose()
}

/// Raises `max` to the registers of each existing key (read lookups),
/// checking each; whether any was dense.
fn union_of(ctx: &mut Ctx, keys: &[Bytes], max: &mut [u8]) -> Result<bool, CmdError> {
    let mut any_dense = false;
    for key in keys {
        let Some(entry) = lookup_read(ctx.store, ctx.db_index, key, ctx.now_ms) else {
            continue;
        };
        let Value::Str(s) = &entry.value else {
            return Err(CmdError::WrongType);
        };
        s.with_bytes(|hll| {
            if !is_hll(hll) {
                return Err(not_hll());
            }
            any_dense |= !is_sparse(hll);
            merge_into(max, hll).map_err(|_| corrupt())
        })?;
    }
    Ok(any_dense)
}

/// Adds elements, counting the registers changed into `updated`; what
/// was added before a corrupt opcode stays, as in Redis.
fn add_all(hll: &mut Vec<u8>, elements: &[Bytes], max_bytes: usize) -> Result<u64, CmdError> {
    let mut updated = 0;
    for element in elements {
        if add(hll, element, max_bytes).map_err(|_| corrupt())? {
            updated += 1;
        }
    }
    Ok(updated)
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let max_bytes = ctx.store.config.hll_sparse_max_bytes;
    let shared = shared_mark(ctx, key);
    let found = hll_mut(
        ctx.store,
        ctx.db_index,
        key,
        ctx.now_ms,
        (Access::Write, shared),
    )?;
    let updated = match found {
        Some(hll) => {
            let updated = add_all(hll, &args[2..], max_bytes)?;
            if updated > 0 {
                invalidate_cache(hll);
            }
            updated
        }
        None => {
            let mut hll = new_sparse();
            let updated = 1 + add_all(&mut hll, &args[2..], max_bytes)?;
            invalidate_cache(&mut hll);
            let now = ctx.now_ms;
            ctx.db()
                .set(key, Value::Str(Str::raw(hll)), Ttl::Clear, now);
            updated
        }
    };
    if updated > 0 {
        ctx.changed(class::STRING, "pfadd", key);
        ctx.dirty(updated);
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]
///
/// One key answers its cached cardinality, or computes it and caches it
/// in the string: a change, so the key counts as modified, `dirty` moves
/// and the command propagates, though Redis flags it read-only and
/// publishes no event. Several keys are counted as their union, built
/// aside; nothing changes.
pub fn pfcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        union_of(ctx, &args[1..], &mut max)?;
        ctx.out.int(count_bytes(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    let shared = shared_mark(ctx, key);
    let found = hll_mut(
        ctx.store,
        ctx.db_index,
        key,
        ctx.now_ms,
        (Access::Read, shared),
    )?;
    let Some(hll) = found else {
        ctx.out.int(0);
        return Ok(());
    };
    if let Some(card) = cached_count(hll) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = count(hll).map_err(|_| corrupt())?;
    set_cached_count(hll, card);
    ctx.modified(key);
    ctx.dirty(1);
    // Redis propagates whatever moved `dirty`, read-only commands too.
    ctx.also_propagate(args.to_vec());
    ctx.out.int(card as i64);
    Ok(())
}

/// Raises `hll`'s registers to `max`, dense first if `dense`.
fn store_union(hll: &mut Vec<u8>, max: &[u8], dense: bool, max_bytes: usize) -> CmdResult {
    if dense {
        to_dense(hll).map_err(|_| corrupt())?;
        dense_raise_all(&mut hll[HEADER_BYTES..], max);
        invalidate_cache(hll);
        return Ok(());
    }
    for (i, &count) in max.iter().enumerate() {
        if count != 0 {
            // A corrupt destination was refused while reading the sources.
            let _ = raise(hll, i, count, max_bytes);
        }
    }
    invalidate_cache(hll);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]
///
/// The union of the destination and the sources; dense if any of them
/// is, else sparse as far as it fits. Published as `pfadd`, as Redis does.
pub fn pfmerge(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let dest = &args[1];
    let mut max = vec![0u8; REGISTERS];
    let dense = union_of(ctx, &args[1..], &mut max)?;
    let max_bytes = ctx.store.config.hll_sparse_max_bytes;
    let shared = shared_mark(ctx, dest);
    let found = hll_mut(
        ctx.store,
        ctx.db_index,
        dest,
        ctx.now_ms,
        (Access::Write, shared),
    )?;
    match found {
        Some(hll) => store_union(hll, &max, dense, max_bytes)?,
        None => {
            let mut hll = new_sparse();
            store_union(&mut hll, &max, dense, max_bytes)?;
            let now = ctx.now_ms;
            ctx.db()
                .set(dest, Value::Str(Str::raw(hll)), Ttl::Clear, now);
        }
    }
    ctx.changed(class::STRING, "pfadd", dest);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
///
/// GETREG and TODENSE convert a sparse key to dense: `dirty` moves so the
/// conversion propagates, but Redis signals no change and no event.
pub fn pfdebug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (sub, key) = (&args[1], &args[2]);
    let shared = shared_mark(ctx, key);
    let found = hll_mut(
        ctx.store,
        ctx.db_index,
        key,
        ctx.now_ms,
        (Access::Write, shared),
    )?;
    let Some(hll) = found else {
        return Err(CmdError::err("The specified key does not exist"));
    };
    if eq_ic(sub, "getreg") || eq_ic(sub, "todense") {
        let converted = is_sparse(hll);
        to_dense(hll).map_err(|_| corrupt())?;
        if eq_ic(sub, "getreg") {
            let regs = &hll[HEADER_BYTES..];
            ctx.out.array(REGISTERS);
            for i in 0..REGISTERS {
                ctx.out.int(dense_get(regs, i) as i64);
            }
        } else {
            ctx.out.int(i64::from(converted));
        }
        if converted {
            ctx.dirty(1);
        }
    } else if eq_ic(sub, "decode") {
        if !is_sparse(hll) {
            return Err(CmdError::err("HLL encoding is not sparse"));
        }
        ctx.out.bulk(decode(hll).as_bytes());
    } else if eq_ic(sub, "encoding") {
        ctx.out
            .simple(if is_sparse(hll) { "sparse" } else { "dense" });
    } else {
        return Err(CmdError::err_quoting(
            "Unknown PFDEBUG subcommand '",
            sub,
            "'",
        ));
    }
    Ok(())
}

/// PFSELFTEST
pub fn pfselftest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let max_bytes = ctx.store.config.hll_sparse_max_bytes;
    self_test(&mut ctx.store.rng, max_bytes)
        .map_err(|e| CmdError::err(format!("TESTFAILED {e}")))?;
    ctx.out.ok();
    Ok(())
}

/// Redis's PFSELFTEST: registers keep what is written to them without
/// disturbing their neighbours, and dense and sparse HyperLogLogs fed the
/// same ten million elements agree and stay within six standard errors.
fn self_test(rng: &mut Rng, max_bytes: usize) -> Result<(), String> {
    const CYCLES: usize = 1000;
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..4].copy_from_slice(b"HYLL");
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..CYCLES {
        let regs = &mut dense[HEADER_BYTES..];
        for (i, e) in expected.iter_mut().enumerate() {
            *e = (rng.next_u64() & REGISTER_MAX as u64) as u8;
            dense_put(regs, i, *e);
        }
        for (i, &e) in expected.iter().enumerate() {
            let got = dense_get(regs, i);
            if got != e {
                return Err(format!("Register {i} should be {e} but is {got}"));
            }
        }
    }

    dense[HEADER_BYTES..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = rng.next_u64();
    let mut checkpoint = 1u64;
    for j in 1..=10_000_000u64 {
        let element = (j ^ seed).to_le_bytes();
        let (index, run) = register_of(&element);
        dense_raise(&mut dense[HEADER_BYTES..], index, run);
        add(&mut sparse, &element, max_bytes).map_err(|_| "sparse corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if j < max_bytes as u64 / 2 && !is_sparse(&sparse) {
            return Err("sparse encoding not used".into());
        }
        let card = count(&dense).unwrap_or(0);
        if count(&sparse) != Ok(card) {
            return Err("dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(card);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!("Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hll_of(elements: impl IntoIterator<Item = Vec<u8>>, max_bytes: usize) -> Vec<u8> {
        let mut hll = new_sparse();
        for e in elements {
            add(&mut hll, &e, max_bytes).unwrap();
        }
        hll
    }

    fn registers(hll: &[u8]) -> Vec<u8> {
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, hll).unwrap();
        max
    }

    #[test]
    fn a_new_hll_is_one_xzero_per_16384_registers() {
        let hll = new_sparse();
        assert_eq!(&hll[..], b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(count(&hll), Ok(0));
        assert_eq!(decode(&hll), "Z:16384");
    }

    #[test]
    fn murmur_matches_redis_for_each_tail_length() {
        // The register and run Redis 7.0.15 sets for "", "a", .. "abcdefghi"
        // (PFDEBUG GETREG): every tail length, and a whole word.
        let redis = [
            (5938, 2),
            (12711, 2),
            (719, 1),
            (9474, 1),
            (11070, 8),
            (3726, 4),
            (13647, 2),
            (5634, 2),
            (1383, 1),
            (6903, 1),
        ];
        for (n, expected) in redis.into_iter().enumerate() {
            assert_eq!(register_of(&b"abcdefghi"[..n]), expected, "length {n}");
        }
    }

    #[test]
    fn sparse_and_dense_agree_on_registers_and_count() {
        let mut rng = Rng::new(7);
        for n in [0usize, 1, 5, 100, 1000, 3000, 20000] {
            let elements: Vec<Vec<u8>> = (0..n)
                .map(|_| rng.next_u64().to_string().into_bytes())
                .collect();
            let sparse = hll_of(elements.clone(), usize::MAX);
            let mut dense = new_sparse();
            to_dense(&mut dense).unwrap();
            for e in &elements {
                add(&mut dense, e, usize::MAX).unwrap();
            }
            assert_eq!(registers(&sparse), registers(&dense), "n = {n}");
            assert_eq!(count(&sparse), count(&dense), "n = {n}");
            let mut converted = sparse.clone();
            to_dense(&mut converted).unwrap();
            assert_eq!(converted[HEADER_BYTES..], dense[HEADER_BYTES..]);
        }
    }

    #[test]
    fn sparse_opcodes_stay_canonical() {
        // Adjacent VALs of one value merge up to four registers, and the
        // opcodes always cover exactly 16384 registers.
        let mut hll = new_sparse();
        for i in 0..8 {
            raise(&mut hll, 100 + i, 3, usize::MAX).unwrap();
        }
        assert_eq!(decode(&hll), "Z:100 v:3,4 v:3,4 Z:16276");
        raise(&mut hll, 0, 1, usize::MAX).unwrap();
        raise(&mut hll, 16383, 2, usize::MAX).unwrap();
        assert_eq!(decode(&hll), "v:1,1 Z:99 v:3,4 v:3,4 Z:16275 v:2,1");
        assert!(!raise(&mut hll, 101, 2, usize::MAX).unwrap());
    }

    #[test]
    fn promotion_at_the_size_limit_and_past_value_32() {
        let mut hll = new_sparse();
        raise(&mut hll, 5, 33, 3000).unwrap();
        assert!(!is_sparse(&hll));
        assert_eq!(hll.len(), DENSE_BYTES);
        assert_eq!(registers(&hll)[5], 33);

        let mut hll = new_sparse();
        let mut i = 0;
        while is_sparse(&hll) {
            raise(&mut hll, i * 3, 1, 40).unwrap();
            assert!(!is_sparse(&hll) || hll.len() <= 40);
            i += 1;
        }
        let regs = registers(&hll);
        assert!((0..i).all(|k| regs[k * 3] == 1));
    }

    #[test]
    fn corrupt_sparse_strings_are_refused_not_trusted() {
        let mut short = new_sparse();
        short.pop();
        // A truncated XZERO reads its missing byte as zero: one register.
        assert_eq!(count(&short), Err(Corrupt));
        assert_eq!(decode(&short), "Z:16129");
        let mut long = new_sparse();
        long.push(0x00);
        assert_eq!(count(&long), Err(Corrupt));
        assert_eq!(to_dense(&mut long.clone()), Err(Corrupt));
        let mut max = vec![0; REGISTERS];
        assert_eq!(merge_into(&mut max, &long), Err(Corrupt));
        let mut header_only = new_sparse();
        header_only.truncate(HEADER_BYTES);
        assert_eq!(add(&mut header_only, b"x", 3000), Err(Corrupt));
        // A VAL running past the last register stops the walk.
        let mut over = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        push_xzero(&mut over, 16383);
        over.push(val_byte(5, 2));
        assert_eq!(to_dense(&mut over), Err(Corrupt));
    }

    #[test]
    fn estimator_edges() {
        let mut hist = [0i64; 64];
        hist[0] = REGISTERS as i64;
        assert_eq!(estimate(&hist), 0);
        let mut hist = [0i64; 64];
        hist[63] = REGISTERS as i64;
        assert_eq!(estimate(&hist), i64::MIN as u64);
    }

    #[test]
    fn raising_all_registers_at_once_is_raising_each() {
        let mut rng = Rng::new(11);
        let mut one_by_one = vec![0u8; DENSE_BYTES - HEADER_BYTES];
        for i in 0..REGISTERS {
            dense_put(&mut one_by_one, i, (rng.next_u64() % 64) as u8);
        }
        let mut all = one_by_one.clone();
        let max: Vec<u8> = (0..REGISTERS)
            .map(|_| (rng.next_u64() % 64) as u8)
            .collect();
        for (i, &m) in max.iter().enumerate() {
            dense_raise(&mut one_by_one, i, m);
        }
        dense_raise_all(&mut all, &max);
        assert_eq!(all, one_by_one);
        let mut merged = vec![0u8; REGISTERS];
        let mut hll = b"HYLL\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        hll.extend_from_slice(&all);
        merge_into(&mut merged, &hll).unwrap();
        assert!((0..REGISTERS).all(|i| merged[i] == dense_get(&all, i)));
    }

    #[test]
    fn dense_registers_keep_their_neighbours() {
        let mut rng = Rng::new(3);
        let mut regs = vec![0u8; DENSE_BYTES - HEADER_BYTES];
        let expected: Vec<u8> = (0..REGISTERS)
            .map(|_| (rng.next_u64() & 63) as u8)
            .collect();
        for (i, &e) in expected.iter().enumerate() {
            dense_put(&mut regs, i, e);
        }
        assert!(
            expected
                .iter()
                .enumerate()
                .all(|(i, &e)| dense_get(&regs, i) == e)
        );
        let mut hist = [0i64; 64];
        dense_histogram(&regs, &mut hist);
        for (v, &h) in hist.iter().enumerate() {
            assert_eq!(
                h,
                expected.iter().filter(|&&e| e as usize == v).count() as i64
            );
        }
    }
}
