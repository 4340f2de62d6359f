//! LZF, the compression Redis uses for strings in RDB files and DUMP
//! payloads.
//!
//! RDB files and DUMP payloads must match Redis's byte for byte, so
//! [`compress`] is not just "an LZF compressor": it makes the same choices
//! as the `lzf_compress` that Redis 7.0 ships (`src/lzf_c.c` with `lzfP.h`'s
//! settings `HLOG 16`, `VERY_FAST 1`, `ULTRA_FAST 0`, `INIT_HTAB 0`). The
//! data format itself does not depend on those choices, so
//! [`decompress`] reads the output of any LZF compressor.
//!
//! # Format
//!
//! The stream is a sequence of instructions, each starting with a control
//! byte:
//!
//! - `000LLLLL` followed by `L + 1` bytes (1 to 32): a literal run.
//! - `LLLooooo oooooooo`, with `LLL` from 1 to 6: copy `LLL + 2` bytes (3 to
//!   8) starting `o + 1` bytes back (1 to 8192) in the output.
//! - `111ooooo LLLLLLLL oooooooo`: the same, copying `L + 9` bytes (9 to
//!   264).
//!
//! A copy may overlap its own output (offset 1 repeats one byte), which is
//! how runs compress.
//!
//! # How Redis's compressor chooses, and what must be copied exactly
//!
//! A hash table of 2^16 slots maps a hash of the three bytes at each input
//! position to the last position that had that hash. At each position, the
//! slot's previous occupant is the only match candidate; it is taken when it
//! is no more than 8192 bytes back, is not position 0, and its first three
//! bytes really are equal. The details that decide the output bytes, all
//! reproduced here:
//!
//! - The hash of the three bytes `h = a << 16 | b << 8 | c` (kept in 32 bits,
//!   with the byte before `a` in the top bits) is
//!   `((h >> 8) - h * 5) & 0xffff`.
//! - Position 0 is never used as a match: Redis tests `ref > in_data`,
//!   strictly. So in `0123456789abcdef0123456789abcdef` the second `0` is
//!   a literal, and the copy that follows starts from position 1.
//! - A match is extended to at most 264 bytes and normally stops 2 bytes
//!   short of the end of the input. But Redis's unrolled comparison loop
//!   checks bytes 3 to 18 of a match without that limit whenever the limit
//!   is above 16, so a match starting 19 or 20 bytes before the end can
//!   cover 19 bytes, as far as the input's last byte: `x` followed by
//!   twenty `a` compresses to a 2-byte literal run and one 19-byte copy,
//!   not a 17-byte copy and two more literals.
//! - After a match, only the last two positions it covered are hashed
//!   (`VERY_FAST`); the positions inside it are not.
//! - The output limit is checked Redis's way, conservatively: a copy needs
//!   room for itself and a following control byte, and the input's last two
//!   bytes need three bytes of room, so an output that would fit exactly can
//!   still be refused. Redis's callers depend on this only through "it did
//!   not fit", but the boundary is part of what must match.
//!
//! # The hash table's initial contents
//!
//! Redis's table is an uninitialised local array (`INIT_HTAB 0`), and
//! liblzf's own header says initialising it "makes compression
//! deterministic". With the checks Redis's copy makes, the output does not
//! depend on the stale entries after all:
//!
//! - A candidate is used only if it lies inside this call's input, after
//!   position 0 and before the current position `ip`, and its three bytes
//!   equal the three at `ip`. So a stale pointer outside the input is
//!   rejected without being read.
//! - A stale pointer inside the input could pass only if some earlier
//!   position holds the same three bytes. But the first position holding
//!   them was hashed, into the very slot `ip` reads: positions are skipped
//!   only inside a match, where every three bytes repeat earlier ones. So
//!   by the time `ip` reads that slot, this call has overwritten it.
//!
//! Hence Redis's output equals its output with a zeroed table whatever the
//! stack held. A one-off check agreed: Redis's `lzf_c.c`, run on 100000
//! generated inputs and output limits with a table filled with pointers
//! into and just before the input, and with a zeroed table, gave identical
//! outputs, equal to this module's.
//!
//! A zeroed table holds null pointers, which fail the `ref > in_data` test,
//! as position 0 does. So slots here store positions, 0 meaning "empty or
//! position 0", both rejected. To avoid zeroing 512 KiB for every short
//! string, the table is kept per thread and each call's positions are
//! offset by a base that grows from call to call: an entry below the
//! current base is stale, and is rejected just as a zero would be. That
//! makes "like a zeroed table" evident here, without the argument above.

use std::cell::RefCell;
use std::fmt;

/// log2 of the number of hash table slots (Redis's `HLOG`).
const HASH_LOG: u32 = 16;
/// The number of hash table slots (Redis's `HSIZE`).
const HASH_SLOTS: usize = 1 << HASH_LOG;
/// The longest literal run one control byte can describe (`MAX_LIT`).
const MAX_LITERAL_BYTES: usize = 1 << 5;
/// How far back a copy can reach, in bytes (`MAX_OFF`).
const MAX_OFFSET_BYTES: usize = 1 << 13;
/// The longest copy, in bytes (`MAX_REF`).
const MAX_MATCH_BYTES: usize = (1 << 8) + (1 << 3);

/// Why a compressed stream could not be decompressed. RESTORE payloads and
/// RDB files come from outside, so every one of these is an input error,
/// never a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// The stream ends in the middle of an instruction.
    Truncated,
    /// A copy reaches back before the start of the output.
    BadBackReference,
    /// The stream decodes to more bytes than expected.
    TooLong { expected: usize },
    /// The stream decodes to fewer bytes than expected.
    TooShort { expected: usize, actual: usize },
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LzfError::Truncated => f.write_str("LZF data ends inside an instruction"),
            LzfError::BadBackReference => {
                f.write_str("LZF back reference points before the start of the output")
            }
            LzfError::TooLong { expected } => {
                write!(f, "LZF data decodes to more than {expected} bytes")
            }
            LzfError::TooShort { expected, actual } => {
                write!(
                    f,
                    "LZF data decodes to {actual} bytes instead of {expected}"
                )
            }
        }
    }
}

impl std::error::Error for LzfError {}

/// The compressor's hash table, reused from call to call on one thread.
struct HashTable {
    /// Input positions, each offset by the base of the call that stored it.
    slots: Box<[u64; HASH_SLOTS]>,
    /// The base the next call will use. Every stored value is below it.
    next_base: u64,
}

impl HashTable {
    fn new() -> HashTable {
        HashTable {
            // Built on the heap: 512 KiB is too much to pass through the
            // stack, as `Box::new([0; HASH_SLOTS])` would in a debug build.
            slots: vec![0; HASH_SLOTS]
                .into_boxed_slice()
                .try_into()
                .expect("a boxed slice of HASH_SLOTS entries"),
            next_base: 0,
        }
    }

    /// Reserves the bases for a call on `input_len` bytes and returns the
    /// first. The call stores `base + position` for positions below
    /// `input_len`, all below the next call's base, so whatever this call
    /// leaves behind reads as stale to every later call.
    fn begin(&mut self, input_len: usize) -> u64 {
        let len = input_len as u64;
        let base = self.next_base;
        match base.checked_add(len) {
            Some(next) => {
                self.next_base = next;
                base
            }
            None => {
                // After 2^64 bytes: start again from a zeroed table.
                self.slots.fill(0);
                self.next_base = len;
                0
            }
        }
    }
}

thread_local! {
    static TABLE: RefCell<HashTable> = RefCell::new(HashTable::new());
}

/// Compresses `input` as Redis's `lzf_compress(input, len, out, out_cap)`
/// does, returning the same bytes, or `None` where Redis returns 0: when
/// the output would not fit in `out_cap` bytes (by Redis's conservative
/// test, see the module documentation), and for empty input.
///
/// Redis stores a string compressed only when this succeeds with
/// `out_cap = input.len() - 4`, and verbatim otherwise.
pub fn compress(input: &[u8], out_cap: usize) -> Option<Vec<u8>> {
    if input.is_empty() || out_cap == 0 {
        return None;
    }
    // The table is borrowed for the whole call and nothing in the call
    // compresses again, so the borrow cannot clash; still, a fresh table is
    // a correct (slower) fallback, also while the thread is being torn down.
    TABLE
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut table) => compress_with(&mut table, input, out_cap),
            Err(_) => compress_with(&mut HashTable::new(), input, out_cap),
        })
        .unwrap_or_else(|_| compress_with(&mut HashTable::new(), input, out_cap))
}

/// Redis's hash of three bytes (`IDX` with `VERY_FAST`), from the rolling
/// value `h` that holds them in its low 24 bits.
#[inline]
fn slot_of(h: u32) -> usize {
    ((h >> (3 * 8 - HASH_LOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HASH_SLOTS - 1)
}

/// Shifts the byte at `p + 2` into the rolling hash value (`NEXT`).
#[inline]
fn roll(h: u32, input: &[u8], p: usize) -> u32 {
    (h << 8) | u32::from(input[p + 2])
}

/// The rolling hash value of the two bytes at `p` (`FRST`).
#[inline]
fn first_two(input: &[u8], p: usize) -> u32 {
    (u32::from(input[p]) << 8) | u32::from(input[p + 1])
}

/// The literal-run bookkeeping of Redis's compressor: the output always
/// ends with the run being built, whose control byte is written when the
/// run closes. An empty run is a reserved byte that is dropped on closing.
///
/// The buffer is allocated once, at its final size: with one control byte
/// per 32 literals, and copies never longer than the input they replace,
/// the output never exceeds `input_len + input_len / 32 + 1` bytes, and
/// Redis's checks keep it within the caller's limit. Writing by index keeps
/// the literal loop free of growth checks.
struct Output {
    bytes: Vec<u8>,
    /// Bytes written, including the open run's reserved control byte
    /// (Redis's `op`).
    len: usize,
    /// Literal bytes in the open run (Redis's `lit`).
    literals: usize,
}

impl Output {
    fn new(input_len: usize, out_cap: usize) -> Output {
        let size = out_cap.min(input_len + input_len / MAX_LITERAL_BYTES + 1);
        Output {
            bytes: vec![0; size],
            len: 1,
            literals: 0,
        }
    }

    /// Appends a literal byte, closing the run and opening another when it
    /// is full.
    #[inline]
    fn literal(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
        self.literals += 1;
        if self.literals == MAX_LITERAL_BYTES {
            self.close_run();
            self.len += 1;
        }
    }

    /// Writes the open run's control byte, or drops its reserved byte when
    /// it is empty.
    #[inline]
    fn close_run(&mut self) {
        if self.literals == 0 {
            self.len -= 1;
        } else {
            self.bytes[self.len - self.literals - 1] = (self.literals - 1) as u8;
            self.literals = 0;
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Closes the open run, writes a copy of `len` bytes from `offset + 1`
    /// bytes back, and opens a new run.
    fn copy(&mut self, len: usize, offset: usize) {
        self.close_run();
        let len = len - 2;
        let offset_high = (offset >> 8) as u8;
        if len < 7 {
            self.push(offset_high + ((len as u8) << 5));
        } else {
            self.push(offset_high + (7 << 5));
            self.push((len - 7) as u8);
        }
        self.push(offset as u8);
        self.len += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        self.close_run();
        self.bytes.truncate(self.len);
        self.bytes
    }
}

fn compress_with(table: &mut HashTable, input: &[u8], out_cap: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    let base = table.begin(in_len);
    let slots = &mut *table.slots;
    let mut out = Output::new(in_len, out_cap);

    let mut ip = 0;
    let mut h = if in_len >= 3 { first_two(input, 0) } else { 0 };
    // Every position with three bytes from it is a match candidate.
    while ip + 2 < in_len {
        h = roll(h, input, ip);
        let slot = slot_of(h);
        // Stale entries (below `base`) wrap to huge values and fail the
        // window test, as Redis's pointer tests reject a null pointer.
        let candidate = slots[slot].wrapping_sub(base);
        slots[slot] = base + ip as u64;

        let in_window = candidate > 0
            && candidate < ip as u64
            && ip as u64 - candidate - 1 < MAX_OFFSET_BYTES as u64;
        let found = in_window && {
            let r = candidate as usize;
            input[r] == input[ip] && input[r + 1] == input[ip + 1] && input[r + 2] == input[ip + 2]
        };
        if !found {
            if out.len >= out_cap {
                return None;
            }
            out.literal(input[ip]);
            ip += 1;
            continue;
        }

        let r = candidate as usize;
        let max_len = (in_len - ip - 2).min(MAX_MATCH_BYTES);
        // Redis's unrolled loop compares bytes 3 to 18 without the length
        // limit when the limit is above 16; see the module documentation.
        let limit = max_len.max(if max_len > 16 { 19 } else { 3 });
        let len = input[r + 3..r + limit]
            .iter()
            .zip(&input[ip + 3..ip + limit])
            .position(|(a, b)| a != b)
            .map_or(limit, |mismatch| mismatch + 3);

        // Room for the copy (up to 3 bytes) and the next control byte; the
        // open run's reserved byte is given back if the run is empty.
        if out.len - usize::from(out.literals == 0) + 4 >= out_cap {
            return None;
        }
        let offset = ip - r - 1;
        out.copy(len, offset);
        ip += len;
        if ip + 2 >= in_len {
            break;
        }
        // Hash the match's last two positions so the next match can start
        // from them.
        ip -= 2;
        h = first_two(input, ip);
        for _ in 0..2 {
            h = roll(h, input, ip);
            slots[slot_of(h)] = base + ip as u64;
            ip += 1;
        }
    }

    // At most two input bytes are left, needing at most three output bytes.
    if out.len + 3 > out_cap {
        return None;
    }
    for &byte in &input[ip..] {
        out.literal(byte);
    }
    Some(out.finish())
}

/// Decompresses an LZF stream that must decode to exactly `out_len` bytes.
///
/// Hostile input is expected (RESTORE payloads, corrupt RDB files): this
/// never reads or writes out of bounds and never allocates more than
/// `out_len` bytes, so callers must cap `out_len` before trusting it.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let too_long = LzfError::TooLong { expected: out_len };
    let mut ip = 0;
    while let Some(&ctrl) = input.get(ip) {
        ip += 1;
        let ctrl = usize::from(ctrl);
        if ctrl < MAX_LITERAL_BYTES {
            let run = ctrl + 1;
            if run > out_len - out.len() {
                return Err(too_long);
            }
            let bytes = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            out.extend_from_slice(bytes);
            ip += run;
            continue;
        }

        let mut len = ctrl >> 5;
        if len == 7 {
            len += usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
            ip += 1;
        }
        let len = len + 2;
        let offset_low = usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
        ip += 1;
        let back = ((ctrl & 0x1f) << 8) + offset_low + 1;
        if len > out_len - out.len() {
            return Err(too_long);
        }
        let start = out
            .len()
            .checked_sub(back)
            .ok_or(LzfError::BadBackReference)?;
        // The source may overlap the bytes being written (a short offset
        // repeats a pattern), so copy what already exists, and repeat: each
        // pass makes more of the source available.
        let mut remaining = len;
        while remaining > 0 {
            let n = remaining.min(out.len() - start);
            out.extend_from_within(start..start + n);
            remaining -= n;
        }
    }
    if out.len() != out_len {
        return Err(LzfError::TooShort {
            expected: out_len,
            actual: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    /// An output limit no compressible or incompressible input exceeds.
    fn roomy(len: usize) -> usize {
        len + len / MAX_LITERAL_BYTES + 8
    }

    fn round_trip(data: &[u8]) {
        let packed = compress(data, roomy(data.len()))
            .unwrap_or_else(|| panic!("{} bytes did not compress", data.len()));
        assert_eq!(
            decompress(&packed, data.len()).as_deref(),
            Ok(data),
            "round trip of {} bytes",
            data.len()
        );
    }

    fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.next_u64() as u8).collect()
    }

    /// Random data built from a small alphabet and copies of earlier
    /// stretches, near and far, so matches of every length and offset
    /// appear.
    fn repetitive_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            if data.len() > 4 && rng.below(3) > 0 {
                let back = 1 + rng.below(data.len().min(10_000) as u64) as usize;
                let start = data.len() - back;
                let n = (1 + rng.below(300) as usize).min(len - data.len());
                for i in 0..n {
                    data.push(data[start + i]);
                }
            } else {
                data.push(b'a' + rng.below(4) as u8);
            }
        }
        data
    }

    /// Sizes around every boundary that matters: tiny inputs, literal runs
    /// of 32, the 8 KiB window, and the 64 Ki hash table.
    fn sizes() -> Vec<usize> {
        let mut sizes: Vec<usize> = (0..=70).collect();
        for edge in [255, 256, 8192, 8193, 65_536, 70_000, 300_000] {
            sizes.extend([edge - 1, edge, edge + 1]);
        }
        sizes
    }

    #[test]
    fn round_trips_random_and_repetitive_data() {
        let mut rng = Rng::new(0x005e_ed1f);
        for len in sizes() {
            if len == 0 {
                continue;
            }
            round_trip(&random_bytes(&mut rng, len));
            round_trip(&repetitive_bytes(&mut rng, len));
            round_trip(&vec![b'x'; len]);
            let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog. "
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect();
            round_trip(&text);
        }
    }

    #[test]
    fn repeated_calls_do_not_see_each_others_entries() {
        // The table is reused across calls: compressing the same input
        // after others must give the same bytes as the first time.
        let mut rng = Rng::new(7);
        let inputs: Vec<Vec<u8>> = (0..20)
            .map(|i| repetitive_bytes(&mut rng, 100 + i * 997))
            .collect();
        let first: Vec<_> = inputs.iter().map(|d| compress(d, roomy(d.len()))).collect();
        for _ in 0..3 {
            for (data, want) in inputs.iter().zip(&first) {
                assert_eq!(&compress(data, roomy(data.len())), want);
            }
        }
        // And a fresh table agrees.
        for (data, want) in inputs.iter().zip(&first) {
            let fresh = compress_with(&mut HashTable::new(), data, roomy(data.len()));
            assert_eq!(&fresh, want);
        }
    }

    #[test]
    fn base_overflow_starts_a_clean_table() {
        let data = repetitive_bytes(&mut Rng::new(3), 5000);
        let want = compress_with(&mut HashTable::new(), &data, roomy(data.len()));
        let mut table = HashTable::new();
        table.next_base = u64::MAX - 10;
        assert_eq!(compress_with(&mut table, &data, roomy(data.len())), want);
        assert_eq!(table.next_base, data.len() as u64);
        assert_eq!(compress_with(&mut table, &data, roomy(data.len())), want);
    }

    #[test]
    fn empty_input() {
        // Redis's lzf_compress returns 0 ("did not fit") for empty input.
        assert_eq!(compress(b"", 100), None);
        assert_eq!(decompress(b"", 0), Ok(Vec::new()));
        assert_eq!(
            decompress(b"", 1),
            Err(LzfError::TooShort {
                expected: 1,
                actual: 0
            })
        );
    }

    /// Bytes redis-server 7.0.15 produced (from DUMP), for inputs that
    /// exercise the quirks the module documentation lists.
    #[test]
    fn matches_redis_on_known_inputs() {
        let cases: &[(&[u8], &[u8])] = &[
            // Position 0 is never a match: the copy starts from position 1.
            (
                b"0123456789abcdef0123456789abcdef",
                b"\x100123456789abcdef0\xe0\x04\x0f\x01ef",
            ),
            // The unrolled comparison runs the match to the last byte.
            (b"xaaaaaaaaaaaaaaaaaaaa", b"\x01xa\xe0\x0a\x00"),
        ];
        for &(input, want) in cases {
            assert_eq!(
                compress(input, input.len() - 4).as_deref(),
                Some(want),
                "input {:?}",
                input.escape_ascii().to_string()
            );
            assert_eq!(decompress(want, input.len()).as_deref(), Ok(input));
        }
    }

    #[test]
    fn out_cap_too_small_returns_none() {
        let mut rng = Rng::new(11);
        // Random bytes do not shrink, so Redis's cap of len - 4 fails.
        for len in [1, 5, 21, 100, 4096] {
            let data = random_bytes(&mut rng, len);
            assert_eq!(compress(&data, len.saturating_sub(4)), None, "len {len}");
        }
        // The limit only decides success: below some cap compression
        // fails, from it on the output is always the same.
        for len in [1, 2, 3, 21, 33, 64, 1000] {
            for data in [random_bytes(&mut rng, len), repetitive_bytes(&mut rng, len)] {
                let full = compress(&data, roomy(len)).expect("roomy cap");
                let mut fitted = false;
                for cap in 0..full.len() + 8 {
                    match compress(&data, cap) {
                        Some(out) => {
                            assert_eq!(out, full, "len {len} cap {cap}");
                            fitted = true;
                        }
                        None => assert!(!fitted, "len {len}: cap {cap} fails after a smaller fit"),
                    }
                }
                assert!(fitted, "len {len}");
                assert_eq!(compress(&data, full.len() - 1), None);
            }
        }
    }

    #[test]
    fn decompress_rejects_malformed_input() {
        // A literal run promising more bytes than there are.
        assert_eq!(decompress(b"\x05abc", 6), Err(LzfError::Truncated));
        // A copy whose offset byte is missing.
        assert_eq!(decompress(b"\x00a\x20", 4), Err(LzfError::Truncated));
        // A long copy whose length byte is missing.
        assert_eq!(decompress(b"\x00a\xe0", 20), Err(LzfError::Truncated));
        // A copy reaching before the start.
        assert_eq!(
            decompress(b"\x00a\x20\x01", 4),
            Err(LzfError::BadBackReference)
        );
        assert_eq!(decompress(b"\x20\x00", 3), Err(LzfError::BadBackReference));
        // More output than announced, and less.
        assert_eq!(
            decompress(b"\x02abc", 2),
            Err(LzfError::TooLong { expected: 2 })
        );
        assert_eq!(
            decompress(b"\x00a\x20\x00", 3),
            Err(LzfError::TooLong { expected: 3 })
        );
        assert_eq!(
            decompress(b"\x02abc", 4),
            Err(LzfError::TooShort {
                expected: 4,
                actual: 3
            })
        );
        // A valid overlapping copy: one byte repeated.
        assert_eq!(decompress(b"\x00a\x20\x00", 4).as_deref(), Ok(&b"aaaa"[..]));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let data = repetitive_bytes(&mut Rng::new(5), 3000);
        let packed = compress(&data, roomy(data.len())).expect("roomy cap");
        for cut in 0..packed.len() {
            assert!(
                decompress(&packed[..cut], data.len()).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn fuzzed_input_never_panics() {
        let mut rng = Rng::new(0xf022);
        let mut seeds = Vec::new();
        for len in [1, 40, 500, 5000] {
            seeds.push(repetitive_bytes(&mut rng, len));
            seeds.push(random_bytes(&mut rng, len));
        }
        let packed: Vec<(Vec<u8>, usize)> = seeds
            .iter()
            .map(|d| (compress(d, roomy(d.len())).expect("roomy cap"), d.len()))
            .collect();
        for round in 0..5000 {
            let (stream, len) = &packed[round % packed.len()];
            let mut bytes = stream.clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(bytes.len() as u64) as usize;
                        bytes[at] = rng.next_u64() as u8;
                    }
                }
                1 => bytes.truncate(rng.below(bytes.len() as u64) as usize),
                2 => {
                    let at = rng.below(bytes.len() as u64 + 1) as usize;
                    bytes.insert(at, rng.next_u64() as u8);
                }
                _ => {
                    let len = rng.below(200) as usize;
                    bytes = random_bytes(&mut rng, len);
                }
            }
            let want = match rng.below(3) {
                0 => *len,
                1 => rng.below(10_000) as usize,
                _ => len + rng.below(3) as usize,
            };
            if let Ok(out) = decompress(&bytes, want) {
                assert_eq!(out.len(), want);
            }
        }
    }
}
