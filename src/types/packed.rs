//! A packed sequence of byte strings: one allocation of exactly its size,
//! each element its length (a LEB128 varint: one byte up to 127) then its
//! bytes. Small hashes keep their fields and values here, pair after pair
//! (Redis's listpack plays this role there), at 1 byte of overhead per
//! element and none per collection: no header, no per-element allocation.
//!
//! Every change rewrites the allocation to its new exact size (a `realloc`
//! and a move of what follows, as Redis's listpack does), so a packed
//! collection is for the small sizes the `*-max-listpack-*` settings allow:
//! lookups are a linear walk over at most a few kilobytes.

/// Appends `n` as a LEB128 varint (also the length prefix of a list
/// chunk's entries, `types::list`).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a LEB128 varint at `at`; returns it and the bytes it took.
#[inline]
pub(crate) fn get_varint(buf: &[u8], at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b < 0x80 {
            return (n, i - at);
        }
        shift += 7;
    }
}

/// How many bytes `n` takes as a LEB128 varint.
pub(crate) fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// The bytes `len` bytes of element take, length included.
fn encoded_len(len: usize) -> usize {
    varint_len(len) + len
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Box<[u8]>,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Where an element sits: its start (at its length prefix), where its
/// bytes start, and where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub data: usize,
    pub end: usize,
}

impl Packed {
    pub fn new() -> Packed {
        Packed::default()
    }

    /// The number of elements (a walk: packed collections are small).
    pub fn len(&self) -> usize {
        self.spans().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The heap this collection holds.
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Every element's place, in order.
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let (len, prefix) = get_varint(&self.buf, at);
            let span = Span {
                start: at,
                data: at + prefix,
                end: at + prefix + len,
            };
            at = span.end;
            Some(span)
        })
    }

    /// Every element, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans().map(|s| &self.buf[s.data..s.end])
    }

    /// The bytes of the element at `span`.
    pub fn at(&self, span: Span) -> &[u8] {
        &self.buf[span.data..span.end]
    }

    /// Appends elements at the end.
    pub fn push_all(&mut self, elements: &[&[u8]]) {
        let added: usize = elements.iter().map(|e| encoded_len(e.len())).sum();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(added);
        for e in elements {
            put_varint(&mut v, e.len());
            v.extend_from_slice(e);
        }
        self.buf = v.into_boxed_slice();
    }

    /// Replaces the bytes from `start` to `end` (whole elements) with the
    /// given elements.
    pub fn replace(&mut self, start: usize, end: usize, elements: &[&[u8]]) {
        let mut encoded = Vec::with_capacity(elements.iter().map(|e| encoded_len(e.len())).sum());
        for e in elements {
            put_varint(&mut encoded, e.len());
            encoded.extend_from_slice(e);
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        let new_len = v.len() - (end - start) + encoded.len();
        if new_len > v.len() {
            v.reserve_exact(new_len - v.len());
        }
        v.splice(start..end, encoded);
        self.buf = v.into_boxed_slice();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_at_the_varint_boundaries() {
        let mut p = Packed::new();
        let sizes = [0usize, 1, 127, 128, 16_383, 16_384, 70_000];
        let elements: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![b'x'; n]).collect();
        for e in &elements {
            p.push_all(&[e]);
        }
        assert_eq!(p.len(), sizes.len());
        let got: Vec<usize> = p.iter().map(<[u8]>::len).collect();
        assert_eq!(got, sizes);
        let overhead: usize = sizes.iter().map(|&n| encoded_len(n) - n).sum();
        assert_eq!(overhead, 1 + 1 + 1 + 2 + 2 + 3 + 3);
        assert_eq!(p.heap_bytes(), sizes.iter().sum::<usize>() + overhead);
    }

    #[test]
    fn binary_and_empty_elements_survive() {
        let mut p = Packed::new();
        p.push_all(&[b"", b"\x00\xff\r\n", b"", b"\x80"]);
        let got: Vec<&[u8]> = p.iter().collect();
        assert_eq!(got, [&b""[..], b"\x00\xff\r\n", b"", b"\x80"]);
    }

    #[test]
    fn replace_grows_shrinks_and_removes() {
        let mut p = Packed::new();
        p.push_all(&[b"a", b"bb", b"ccc"]);
        let mid = p.spans().nth(1).unwrap();
        p.replace(mid.start, mid.end, &[&[b'y'; 200]]);
        assert_eq!(p.iter().map(<[u8]>::len).collect::<Vec<_>>(), [1, 200, 3]);
        let mid = p.spans().nth(1).unwrap();
        p.replace(mid.start, mid.end, &[b"z"]);
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b"a"[..], b"z", b"ccc"]);
        let first = p.spans().next().unwrap();
        let second = p.spans().nth(1).unwrap();
        p.replace(first.start, second.end, &[]);
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b"ccc"[..]]);
        assert_eq!(p.heap_bytes(), 4);
    }
}
