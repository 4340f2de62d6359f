//! Exact-size byte buffers behind one pointer, for the small encodings.
//!
//! A small hash, set or list is held inside its key's `Value` (24 bytes),
//! not behind a box of its own: that saves an allocation of 32 to 64 bytes
//! per key, about as much as the elements of a ten-element hash take. For
//! that the encodings must be at most 16 bytes, and the enums around them
//! (`Hash`, `Set`, `List`) too. A `Box<[u8]>` is already 16 bytes and
//! leaves no room for the enum's tag, so [`ThinBytes`] keeps the pointer,
//! a `u32` length and a byte that is always zero: the enums put their tag
//! in that byte's 255 other values (Rust's niche layout), and stay 16 bytes.
//!
//! The bytes are allocated as a `Box<[u8]>` of exactly their length, so
//! they move to and from a `Vec` without a copy ([`ThinBytes::edit`]), and
//! growth goes by the allocator's size classes (a `realloc` within the
//! class is in place), never by doubling.

use std::ptr::NonNull;

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a packed encoding grows past 1 GB
/// only as a table, so its length always fits the `u32`.
pub const PACKED_MAX_SAFETY_BYTES: usize = 1 << 30;

/// A byte that is always zero. Its other 255 values are free for the tag
/// of an enum holding a struct with one of these.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Niche {
    Zero = 0,
}

/// Turns an exact-size boxed slice into its pointer.
pub fn into_raw(bytes: Box<[u8]>) -> NonNull<u8> {
    let raw = Box::into_raw(bytes) as *mut u8;
    // SAFETY: `Box::into_raw` never returns null (an empty box's pointer is
    // dangling, not null).
    unsafe { NonNull::new_unchecked(raw) }
}

/// Takes back the box `into_raw` gave `ptr` for.
///
/// # Safety
/// `ptr` came from [`into_raw`] of a box of exactly `len` bytes, and
/// nothing else owns it any more.
pub unsafe fn from_raw(ptr: NonNull<u8>, len: usize) -> Box<[u8]> {
    // SAFETY: the caller's contract: this is the box's own pointer and
    // length, handed back once.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len)) }
}

/// Owned bytes of exactly their length: one pointer and a `u32` length
/// (see the module comment for why not `Box<[u8]>`).
pub struct ThinBytes {
    ptr: NonNull<u8>,
    len: u32,
    /// 16 bits for the owner (a small list's element count), which fit
    /// beside the length at no cost.
    aux: u16,
    _niche: Niche,
}

// SAFETY: a `ThinBytes` owns its allocation alone, like the `Box<[u8]>`
// it is made from, which is Send and Sync.
unsafe impl Send for ThinBytes {}
// SAFETY: as above; `&ThinBytes` only reads.
unsafe impl Sync for ThinBytes {}

impl ThinBytes {
    pub fn new() -> ThinBytes {
        ThinBytes::from_vec(Vec::new())
    }

    /// Takes `v`'s bytes, giving up its spare capacity. Panics past 4 GB,
    /// which the callers' 1 GB limit ([`PACKED_MAX_SAFETY_BYTES`]) rules
    /// out.
    pub fn from_vec(v: Vec<u8>) -> ThinBytes {
        ThinBytes::with_aux(v, 0)
    }

    /// As [`ThinBytes::from_vec`], with the owner's 16 bits.
    pub fn with_aux(v: Vec<u8>, aux: u16) -> ThinBytes {
        let len = u32::try_from(v.len()).expect("packed encodings stay under 1 GB");
        ThinBytes {
            ptr: into_raw(v.into_boxed_slice()),
            len,
            aux,
            _niche: Niche::Zero,
        }
    }

    pub fn aux(&self) -> u16 {
        self.aux
    }

    pub fn set_aux(&mut self, aux: u16) {
        self.aux = aux;
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` initialised bytes this owns.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives up the bytes as a `Vec` (capacity = length), leaving this
    /// empty (and its owner's bits 0).
    pub fn take_vec(&mut self) -> Vec<u8> {
        let empty = ThinBytes::from_vec(Vec::new());
        let this = std::mem::ManuallyDrop::new(std::mem::replace(self, empty));
        // SAFETY: `this` is forgotten, so the box is taken back once.
        unsafe { from_raw(this.ptr, this.len as usize) }.into_vec()
    }

    /// Changes the bytes through a `Vec`, then fits the allocation to the
    /// new length: no copy in or out, one `realloc` when the size changes.
    /// The owner's bits stay.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let aux = self.aux;
        let mut v = self.take_vec();
        let r = f(&mut v);
        *self = ThinBytes::with_aux(v, aux);
        r
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        // SAFETY: this owns the box; it is dropped here once.
        drop(unsafe { from_raw(self.ptr, self.len as usize) });
    }
}

impl Default for ThinBytes {
    fn default() -> ThinBytes {
        ThinBytes::new()
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        ThinBytes::with_aux(self.as_slice().to_vec(), self.aux)
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &ThinBytes) -> bool {
        self.as_slice() == other.as_slice() && self.aux == other.aux
    }
}

impl Eq for ThinBytes {}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThinBytes({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enum_of_it_and_a_box_stays_16_bytes() {
        #[allow(dead_code)]
        enum Two {
            Packed(ThinBytes),
            Other(Box<u64>),
            Third(Option<NonNull<u8>>),
        }
        assert_eq!(std::mem::size_of::<ThinBytes>(), 16);
        assert_eq!(std::mem::size_of::<Two>(), 16);
    }

    #[test]
    fn edits_keep_exact_sizes() {
        let mut t = ThinBytes::new();
        assert!(t.is_empty());
        t.edit(|v| v.extend_from_slice(b"hello"));
        assert_eq!(t.as_slice(), b"hello");
        let copy = t.clone();
        t.edit(|v| v.truncate(2));
        assert_eq!((t.as_slice(), copy.as_slice()), (&b"he"[..], &b"hello"[..]));
        assert_eq!(t.take_vec(), b"he");
        assert!(t.is_empty());
    }
}
