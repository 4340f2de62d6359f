//! The values stored under keys.

use std::borrow::Cow;

use crate::resp::writer::format_i64;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: strings up to this length are
/// reported as `embstr`.
pub const EMBSTR_MAX_LEN: usize = 44;
/// Redis shares the integer objects 0..10000, and OBJECT REFCOUNT reports
/// them as `OBJ_SHARED_REFCOUNT`.
pub const SHARED_INTEGERS: i64 = 10_000;
pub const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// A value of any type. Later types (lists, hashes, sets, sorted sets,
/// streams) are further variants.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Str),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    /// OBJECT REFCOUNT: shared small integers report Redis's shared count.
    pub fn refcount(&self) -> i64 {
        match self {
            Value::Str(s) => s.refcount(),
        }
    }

    /// Heap bytes held by the value (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
        }
    }

    /// Values this large are freed off the loop.
    pub fn is_large(&self) -> bool {
        match self {
            Value::Str(s) => s.len() > 64 * 1024 * 1024,
        }
    }
}

/// A string value, in the encodings Redis reports: a compact integer, a
/// short string, or a raw string that was modified in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    Int(i64),
    Emb(Box<[u8]>),
    Raw(Vec<u8>),
}

impl Str {
    /// Like Redis's `tryObjectEncoding`: integers that round-trip become
    /// `Int`, short strings `Emb`, the rest `Raw`.
    pub fn encoded(bytes: &[u8]) -> Str {
        if bytes.len() <= 20
            && let Some(n) = crate::util::parse_i64(bytes)
        {
            return Str::Int(n);
        }
        Str::plain(bytes)
    }

    /// Like Redis's `createStringObject`: no integer detection.
    pub fn plain(bytes: &[u8]) -> Str {
        if bytes.len() <= EMBSTR_MAX_LEN {
            Str::Emb(bytes.into())
        } else {
            Str::Raw(bytes.to_vec())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => {
                let mut tmp = [0u8; 24];
                format_i64(*n, &mut tmp).len()
            }
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Str::Int(n) => {
                let mut tmp = [0u8; 24];
                Cow::Owned(format_i64(*n, &mut tmp).to_vec())
            }
            Str::Emb(b) => Cow::Borrowed(b),
            Str::Raw(v) => Cow::Borrowed(v),
        }
    }

    /// Calls `f` with the bytes, formatting an integer on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(n) => {
                let mut tmp = [0u8; 24];
                f(format_i64(*n, &mut tmp))
            }
            Str::Emb(b) => f(b),
            Str::Raw(v) => f(v),
        }
    }

    /// The value as an integer, if it is one (Redis's
    /// `getLongLongFromObject`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            other => other.with_bytes(crate::util::parse_i64),
        }
    }

    /// Converts to the `Raw` encoding for in-place modification (Redis's
    /// `dbUnshareStringValue`) and returns the buffer.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(self.as_bytes().into_owned());
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("converted to Raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Emb(_) => "embstr",
            Str::Raw(_) => "raw",
        }
    }

    pub fn refcount(&self) -> i64 {
        match self {
            Str::Int(n) if (0..SHARED_INTEGERS).contains(n) => SHARED_REFCOUNT,
            _ => 1,
        }
    }

    /// Bytes of heap this value holds, for MEMORY USAGE and INFO.
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.capacity(),
        }
    }
}
