//! The packed encoding of small aggregates: elements back to back, each in
//! Redis's listpack element encoding, in one allocation of exactly its
//! size. Small hashes keep their fields and values here, pair after pair,
//! and small string sets their members; list chunks (`types::list`) use
//! the same element encoding, each entry followed by listpack's back
//! length.
//!
//! # The element encoding
//! The first byte says what follows, exactly as in a listpack:
//!
//! | first byte | element |
//! |---|---|
//! | `0xxxxxxx` | the integer 0..=127 itself |
//! | `10xxxxxx` | a string of up to 63 bytes follows |
//! | `110xxxxx` + 1 byte | a 13-bit signed integer |
//! | `1110xxxx` + 1 byte | a string of up to 4095 bytes follows |
//! | `0xF0` + 4 bytes | a string of the little-endian length follows |
//! | `0xF1`, `0xF2`, `0xF3`, `0xF4` | a 16, 24, 32 or 64-bit integer follows |
//!
//! A string is stored as an integer when it is one in canonical form
//! (Redis's `lpStringToInt64`: what [`parse_i64`] accepts, which reads back
//! as the same bytes), in the fewest bytes that hold it.
//!
//! Why listpack's bytes and not another layout: they are as compact as any
//! (1 byte of overhead for a short string, 1 to 3 bytes for a small
//! integer), and a packed hash's or set's bytes are a listpack's entries
//! without the back lengths, and a list chunk's bytes are a listpack's
//! entries exactly, so the RDB and DUMP writers make Redis's listpacks with
//! a header, a terminator and (for hashes and sets) the back lengths,
//! without re-encoding any element. The packed forms leave out the 6-byte
//! header (the length is in [`ThinBytes`], the count is a walk) and, for
//! hashes and sets, the back lengths, which only a backwards walk needs:
//! that is what brings a ten-field hash from 192 bytes of listpack to 160.
//!
//! Every change rewrites the allocation to its new exact size (a `realloc`
//! and a move of what follows, as Redis's listpack does), so a packed
//! collection is for the small sizes the `*-max-listpack-*` settings allow:
//! lookups are a linear walk over at most a few kilobytes.

use crate::resp::Reply;
use crate::resp::writer::format_i64;
use crate::types::thin::ThinBytes;
use crate::util::parse_i64;

const STR_6BIT: u8 = 0x80;
const INT_13BIT: u8 = 0xC0;
const STR_12BIT: u8 = 0xE0;
const STR_32BIT: u8 = 0xF0;
const INT_16BIT: u8 = 0xF1;
const INT_24BIT: u8 = 0xF2;
const INT_32BIT: u8 = 0xF3;
const INT_64BIT: u8 = 0xF4;

/// The longest element encoding of an integer (`0xF4` and 8 bytes).
const MAX_INT_ENCODING: usize = 9;

/// One element as an encoding holds it: an integer, or bytes borrowed from
/// the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// Calls `f` with the element's bytes (an integer's decimal form).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(n) => {
                let mut tmp = [0u8; 24];
                f(format_i64(n, &mut tmp))
            }
            Elem::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }

    /// The length of the element's bytes.
    pub fn len(self) -> usize {
        self.with_bytes(<[u8]>::len)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Writes the element as a bulk string.
    pub fn reply(self, out: &mut Reply) {
        match self {
            Elem::Int(n) => out.bulk_int(n),
            Elem::Bytes(b) => out.bulk(b),
        }
    }
}

/// How `e` is encoded: the integer it stands for, if any.
fn as_int(e: &[u8]) -> Option<i64> {
    parse_i64(e)
}

/// Writes an integer's encoding into `out`; returns its length.
fn encode_int(n: i64, out: &mut [u8; MAX_INT_ENCODING]) -> usize {
    match n {
        0..=127 => {
            out[0] = n as u8;
            1
        }
        -4096..=4095 => {
            let u = (n as u64) & 0x1FFF;
            out[0] = INT_13BIT | (u >> 8) as u8;
            out[1] = u as u8;
            2
        }
        _ => {
            let (tag, width) = match n {
                -32_768..=32_767 => (INT_16BIT, 2),
                -8_388_608..=8_388_607 => (INT_24BIT, 3),
                -2_147_483_648..=2_147_483_647 => (INT_32BIT, 4),
                _ => (INT_64BIT, 8),
            };
            out[0] = tag;
            out[1..1 + width].copy_from_slice(&n.to_le_bytes()[..width]);
            1 + width
        }
    }
}

/// The length of a string's header for `len` bytes.
fn str_header_len(len: usize) -> usize {
    match len {
        0..64 => 1,
        64..4096 => 2,
        _ => 5,
    }
}

/// Writes a string header for `len` bytes into `out`; returns its length.
fn str_header(len: usize, out: &mut [u8; MAX_INT_ENCODING]) -> usize {
    match str_header_len(len) {
        1 => out[0] = STR_6BIT | len as u8,
        2 => {
            out[0] = STR_12BIT | (len >> 8) as u8;
            out[1] = len as u8;
        }
        _ => {
            out[0] = STR_32BIT;
            out[1..5].copy_from_slice(&(len as u32).to_le_bytes());
        }
    }
    str_header_len(len)
}

/// The bytes `e`'s encoding takes.
pub fn encoded_len(e: &[u8]) -> usize {
    match as_int(e) {
        Some(n) => encode_int(n, &mut [0; MAX_INT_ENCODING]),
        None => str_header_len(e.len()) + e.len(),
    }
}

/// Appends `e`'s encoding.
pub fn encode(out: &mut Vec<u8>, e: &[u8]) {
    let mut head = [0u8; MAX_INT_ENCODING];
    match as_int(e) {
        Some(n) => {
            let len = encode_int(n, &mut head);
            out.extend_from_slice(&head[..len]);
        }
        None => {
            let len = str_header(e.len(), &mut head);
            out.extend_from_slice(&head[..len]);
            out.extend_from_slice(e);
        }
    }
}

/// Where the element whose encoding starts at `at` ends, and where its
/// string bytes start (its end, for an integer).
#[inline]
fn bounds(buf: &[u8], at: usize) -> (usize, usize) {
    let b = buf[at];
    match b {
        0..0x80 => (at + 1, at + 1),
        0x80..0xC0 => (at + 1, at + 1 + (b & 0x3F) as usize),
        0xC0..0xE0 => (at + 2, at + 2),
        0xE0..0xF0 => {
            let len = ((b & 0x0F) as usize) << 8 | buf[at + 1] as usize;
            (at + 2, at + 2 + len)
        }
        STR_32BIT => {
            let mut len = [0u8; 4];
            len.copy_from_slice(&buf[at + 1..at + 5]);
            (at + 5, at + 5 + u32::from_le_bytes(len) as usize)
        }
        INT_16BIT => (at + 3, at + 3),
        INT_24BIT => (at + 4, at + 4),
        INT_32BIT => (at + 5, at + 5),
        _ => (at + 9, at + 9),
    }
}

/// The end of the element whose encoding starts at `at`.
#[inline]
pub fn element_end(buf: &[u8], at: usize) -> usize {
    bounds(buf, at).1
}

/// The element whose encoding starts at `at`, and where it ends.
#[inline]
pub fn decode(buf: &[u8], at: usize) -> (Elem<'_>, usize) {
    let (data, end) = bounds(buf, at);
    let b = buf[at];
    let int = |width: usize| {
        // Sign-extends the little-endian `width` bytes after the tag.
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(&buf[at + 1..at + 1 + width]);
        let shift = 64 - 8 * width as u32;
        (i64::from_le_bytes(le) << shift) >> shift
    };
    let elem = match b {
        0..0x80 => Elem::Int(b as i64),
        0xC0..0xE0 => {
            let u = ((b & 0x1F) as i64) << 8 | buf[at + 1] as i64;
            Elem::Int((u << 51) >> 51)
        }
        INT_16BIT => Elem::Int(int(2)),
        INT_24BIT => Elem::Int(int(3)),
        INT_32BIT => Elem::Int(int(4)),
        INT_64BIT => Elem::Int(int(8)),
        _ => Elem::Bytes(&buf[data..end]),
    };
    (elem, end)
}

/// An element to look for, encoded once, so a search compares encodings
/// byte for byte (an element's encoding is unique to its bytes).
pub struct Needle<'a> {
    head: [u8; MAX_INT_ENCODING],
    head_len: usize,
    /// The string's bytes after the header (none for an integer).
    tail: &'a [u8],
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(e: &'a [u8]) -> Needle<'a> {
        let mut head = [0u8; MAX_INT_ENCODING];
        let int = as_int(e);
        let (head_len, tail) = match int {
            Some(n) => (encode_int(n, &mut head), &[][..]),
            None => (str_header(e.len(), &mut head), e),
        };
        Needle {
            head,
            head_len,
            tail,
            bytes: e,
            int,
        }
    }

    /// Whether `e` is this element (without formatting an integer).
    pub fn is(&self, e: Elem) -> bool {
        match e {
            Elem::Int(n) => self.int == Some(n),
            Elem::Bytes(b) => b == self.bytes,
        }
    }

    /// Whether `encoded` (one element's whole encoding) is this element.
    #[inline]
    pub fn matches(&self, encoded: &[u8]) -> bool {
        encoded.len() == self.head_len + self.tail.len()
            && encoded[..self.head_len] == self.head[..self.head_len]
            && encoded[self.head_len..] == *self.tail
    }
}

/// The back length listpack writes after each entry: the size `n` of the
/// entry's encoding, 7 bits per byte, most significant first, every byte
/// but the first with its top bit set (Redis's `lpEncodeBacklen`), so it
/// reads from its last byte leftwards.
pub fn put_backlen(out: &mut Vec<u8>, n: usize) {
    let len = backlen_len(n);
    for i in (0..len).rev() {
        let bits = (n >> (7 * i)) as u8 & 0x7F;
        out.push(if i + 1 == len { bits } else { bits | 0x80 });
    }
}

/// How many bytes the back length of an `n`-byte encoding takes (with
/// listpack's boundaries, one below each power of 128).
pub fn backlen_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..16383 => 2,
        16383..2_097_151 => 3,
        2_097_151..268_435_455 => 4,
        _ => 5,
    }
}

/// Reads the back length that ends just before `end`; returns it and
/// where the back length starts.
#[inline]
pub fn read_backlen(buf: &[u8], end: usize) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, end);
    loop {
        i -= 1;
        let x = buf[i];
        n |= ((x & 0x7F) as usize) << shift;
        if x < 0x80 {
            return (n, i);
        }
        shift += 7;
    }
}

/// The size of a listpack's header: its total bytes (u32) and element
/// count (u16), little-endian.
pub const LISTPACK_HEADER_BYTES: usize = 6;
/// The byte that ends a listpack.
pub const LISTPACK_END: u8 = 0xFF;

/// Appends a listpack header for `total` bytes (header and end byte
/// included) holding `count` elements; from 65,535 elements the count reads
/// "unknown", as Redis writes it.
pub fn put_listpack_header(out: &mut Vec<u8>, total: usize, count: usize) {
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(count.min(COUNT_UNKNOWN as usize) as u16).to_le_bytes());
}

/// A packed sequence of elements (see the module comment).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packed {
    bytes: ThinBytes,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

/// The count kept for a packed collection of this many elements or more:
/// "walk to count" (Redis's `LP_HDR_NUMELE_UNKNOWN`).
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Where one element's encoding lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Packed {
    pub fn new() -> Packed {
        Packed::default()
    }

    /// The number of elements: kept in the spare 16 bits, as a listpack
    /// header keeps it, up to [`COUNT_UNKNOWN`]; past that, a walk.
    pub fn len(&self) -> usize {
        match self.bytes.aux() {
            COUNT_UNKNOWN => self.spans().count(),
            n => n as usize,
        }
    }

    /// Records a change of `added` and `removed` elements in the count.
    fn count_change(&mut self, added: usize, removed: usize) {
        let count = self.bytes.aux();
        if count != COUNT_UNKNOWN {
            let n = count as usize + added - removed;
            self.bytes.set_aux(n.min(COUNT_UNKNOWN as usize) as u16);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The heap this collection holds.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `extra` more bytes keep this under listpack's safety limit
    /// (Redis's `lpSafeToAdd`); past it the owner converts to a table.
    pub fn safe_to_add(&self, extra: usize) -> bool {
        self.bytes.len() + extra <= crate::types::thin::PACKED_MAX_SAFETY_BYTES
    }

    /// The size of Redis's listpack of the same elements: its 6-byte
    /// header, each element's encoding and back length, and the end byte.
    pub fn listpack_bytes(&self) -> usize {
        6 + self
            .spans()
            .map(|s| s.end - s.start + backlen_len(s.end - s.start))
            .sum::<usize>()
            + 1
    }

    /// Appends Redis's listpack of these elements (what RDB and DUMP hold
    /// for a small hash): each element's encoding is already listpack's,
    /// so only the header, back lengths and end byte are added.
    pub fn put_listpack(&self, out: &mut Vec<u8>) {
        let buf = self.bytes.as_slice();
        put_listpack_header(out, self.listpack_bytes(), self.len());
        for span in self.spans() {
            out.extend_from_slice(&buf[span.start..span.end]);
            put_backlen(out, span.end - span.start);
        }
        out.push(LISTPACK_END);
    }

    /// Every element's place, in order.
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let buf = self.bytes.as_slice();
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= buf.len() {
                return None;
            }
            let span = Span {
                start: at,
                end: element_end(buf, at),
            };
            at = span.end;
            Some(span)
        })
    }

    /// Every element, in order.
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        let buf = self.bytes.as_slice();
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= buf.len() {
                return None;
            }
            let (e, end) = decode(buf, at);
            at = end;
            Some(e)
        })
    }

    /// The element at `span`.
    pub fn at(&self, span: Span) -> Elem<'_> {
        decode(self.bytes.as_slice(), span.start).0
    }

    /// Whether the element at `span` is `needle`.
    pub fn is_at(&self, span: Span, needle: &Needle) -> bool {
        needle.matches(&self.bytes.as_slice()[span.start..span.end])
    }

    /// The first element equal to `e`.
    pub fn find(&self, e: &[u8]) -> Option<Span> {
        let needle = Needle::new(e);
        self.spans().find(|&s| self.is_at(s, &needle))
    }

    /// Appends elements at the end.
    pub fn push_all(&mut self, elements: &[&[u8]]) {
        let added: usize = elements.iter().map(|e| encoded_len(e)).sum();
        self.bytes.edit(|v| {
            v.reserve_exact(added);
            for e in elements {
                encode(v, e);
            }
        });
        self.count_change(elements.len(), 0);
    }

    /// Replaces the bytes from `start` to `end` (whole elements) with the
    /// given elements.
    pub fn replace(&mut self, start: usize, end: usize, elements: &[&[u8]]) {
        let removed = self.spans_in(start, end);
        let mut encoded = Vec::with_capacity(elements.iter().map(|e| encoded_len(e)).sum());
        for e in elements {
            encode(&mut encoded, e);
        }
        self.bytes.edit(|v| {
            let new_len = v.len() - (end - start) + encoded.len();
            if new_len > v.len() {
                v.reserve_exact(new_len - v.len());
            }
            v.splice(start..end, encoded);
        });
        self.count_change(elements.len(), removed);
    }

    /// How many elements lie between `start` and `end` (element bounds).
    fn spans_in(&self, start: usize, end: usize) -> usize {
        let buf = self.bytes.as_slice();
        let (mut at, mut n) = (start, 0);
        while at < end {
            at = element_end(buf, at);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(e: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(&mut buf, e);
        assert_eq!(buf.len(), encoded_len(e), "{e:?}");
        let (got, end) = decode(&buf, 0);
        assert_eq!(end, buf.len());
        assert!(Needle::new(e).matches(&buf));
        assert_eq!(got.to_vec(), e);
        buf
    }

    #[test]
    fn integers_take_the_fewest_bytes_at_every_boundary() {
        let cases: [(i64, usize); 20] = [
            (0, 1),
            (127, 1),
            (128, 2),
            (-1, 2),
            (4095, 2),
            (-4096, 2),
            (4096, 3),
            (-4097, 3),
            (32_767, 3),
            (-32_768, 3),
            (32_768, 4),
            (-32_769, 4),
            (8_388_607, 4),
            (-8_388_608, 4),
            (8_388_608, 5),
            (i32::MIN as i64, 5),
            (i32::MAX as i64 + 1, 9),
            (i32::MIN as i64 - 1, 9),
            (i64::MAX, 9),
            (i64::MIN, 9),
        ];
        for (n, size) in cases {
            let text = n.to_string();
            let buf = round_trip(text.as_bytes());
            assert_eq!(buf.len(), size, "{n}");
            assert_eq!(decode(&buf, 0).0, Elem::Int(n));
        }
    }

    #[test]
    fn integer_looking_strings_stay_strings() {
        for s in [
            &b"007"[..],
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"1e3",
            b"",
            b"0x10",
        ] {
            let buf = round_trip(s);
            assert_eq!(decode(&buf, 0).0, Elem::Bytes(s), "{s:?}");
        }
    }

    #[test]
    fn string_headers_at_their_boundaries() {
        for (len, header) in [(0, 1), (63, 1), (64, 2), (4095, 2), (4096, 5), (70_000, 5)] {
            let s = vec![b'x'; len];
            assert_eq!(round_trip(&s).len(), len + header, "{len}");
        }
        let binary = b"\x00\xff\r\n\x80";
        assert_eq!(decode(&round_trip(binary), 0).0, Elem::Bytes(binary));
    }

    #[test]
    fn needles_tell_integers_from_strings() {
        let mut p = Packed::new();
        p.push_all(&[b"12", b"012", b"-12", b"x12"]);
        let spans: Vec<Span> = p.spans().collect();
        assert_eq!(p.find(b"012"), Some(spans[1]));
        assert_eq!(p.find(b"12"), Some(spans[0]));
        assert_eq!(p.find(b"-12"), Some(spans[2]));
        assert_eq!(p.find(b"+12"), None);
        assert!(Needle::new(b"12").is(p.at(spans[0])));
        assert!(!Needle::new(b"012").is(p.at(spans[0])));
    }

    #[test]
    fn back_lengths_match_listpack_and_read_backwards() {
        for (n, bytes) in [
            (0usize, &[0u8][..]),
            (127, &[127]),
            (128, &[1, 0x80]),
            (16_382, &[127, 0xFE]),
            (16_383, &[0, 0xFF, 0xFF]),
            (2_097_151, &[0, 0xFF, 0xFF, 0xFF]),
        ] {
            let mut out = vec![0xAA];
            put_backlen(&mut out, n);
            assert_eq!(&out[1..], bytes, "{n}");
            assert_eq!(backlen_len(n), bytes.len());
            assert_eq!(read_backlen(&out, out.len()), (n, 1), "{n}");
        }
    }

    #[test]
    fn the_count_is_kept_and_falls_back_to_a_walk() {
        let mut p = Packed::new();
        p.push_all(&[b"a", b"1", b"bb"]);
        let first = p.spans().next().unwrap();
        let third = p.spans().nth(2).unwrap();
        p.replace(first.start, third.start, &[b"x", b"y", b"z"]);
        assert_eq!((p.len(), p.spans().count()), (4, 4));
        let many: Vec<&[u8]> = vec![b"7"; 70_000];
        p.push_all(&many);
        assert_eq!(p.len(), 70_004);
        let last = p.spans().last().unwrap();
        p.replace(last.start, last.end, &[]);
        assert_eq!(p.len(), 70_003);
    }

    #[test]
    fn replace_grows_shrinks_and_removes() {
        let mut p = Packed::new();
        p.push_all(&[b"a", b"bb", b"ccc"]);
        let mid = p.spans().nth(1).unwrap();
        p.replace(mid.start, mid.end, &[&[b'y'; 200]]);
        let lens: Vec<usize> = p.iter().map(Elem::len).collect();
        assert_eq!(lens, [1, 200, 3]);
        let mid = p.spans().nth(1).unwrap();
        p.replace(mid.start, mid.end, &[b"1000"]);
        let got: Vec<Vec<u8>> = p.iter().map(Elem::to_vec).collect();
        assert_eq!(got, [&b"a"[..], b"1000", b"ccc"]);
        let first = p.spans().next().unwrap();
        let second = p.spans().nth(1).unwrap();
        p.replace(first.start, second.end, &[]);
        assert_eq!(p.iter().collect::<Vec<_>>(), [Elem::Bytes(b"ccc")]);
        assert_eq!(p.heap_bytes(), 4);
        assert_eq!(p.listpack_bytes(), 6 + 4 + 1 + 1);
    }
}
