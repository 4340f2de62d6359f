//! `SmallBytes`: a byte string that keeps up to 22 bytes inline.
//!
//! Most keys, fields and members are short. Holding them inside the table
//! node instead of in a separate allocation saves the allocation's header and
//! rounding (16 to 32 bytes each) and a pointer chase on every lookup. The
//! type is 24 bytes, the size of a `Vec`.

use std::fmt;

/// The most bytes stored inline.
pub const INLINE_CAP: usize = 22;

#[derive(Clone, PartialEq, Eq)]
pub enum SmallBytes {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> SmallBytes {
        if bytes.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..bytes.len()].copy_from_slice(bytes);
            SmallBytes::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            SmallBytes::Heap(bytes.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, buf } => &buf[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }

    /// Heap bytes beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(bytes: &[u8]) -> SmallBytes {
        SmallBytes::new(bytes)
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_round_trip() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        for len in [0, 1, 21, 22, 23, 100] {
            let v: Vec<u8> = (0..len as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(s.as_slice(), &v[..]);
            assert_eq!(matches!(s, SmallBytes::Inline { .. }), len <= INLINE_CAP);
        }
    }
}
