//! The values stored under keys.

use std::borrow::Cow;

use super::bytes::SmallBytes;
use crate::resp::writer::format_i64;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: strings up to this length are
/// reported as `embstr`.
pub const EMBSTR_MAX_LEN: usize = 44;
/// Redis shares the integer objects 0..10000, and OBJECT REFCOUNT reports
/// them as `OBJ_SHARED_REFCOUNT`.
pub const SHARED_INTEGERS: i64 = 10_000;
pub const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// Redis's `SDS_MAX_PREALLOC`: below this a growing string doubles its
/// room, above it grows by this much.
const SDS_MAX_PREALLOC: usize = 1024 * 1024;

/// The size class jemalloc (Redis's allocator) rounds an allocation up to:
/// 8, then multiples of 16 up to 128, then four classes per doubling.
pub fn jemalloc_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    let group = usize::BITS - 1 - (size - 1).leading_zeros();
    let step = 1usize << (group - 2);
    (size + step - 1) & !(step - 1)
}

/// The header size of an sds string able to hold `len` bytes; `type5` is
/// false where Redis never uses the 1-byte header (grown strings, keys).
fn sds_header(len: usize, type5: bool) -> usize {
    match len {
        0..32 if type5 => 1,
        0..256 => 3,
        256..65536 => 5,
        _ if (len as u64) < (1u64 << 32) => 9,
        _ => 17,
    }
}

/// The room `sdsnewlen` gives a new string of `len` bytes: the whole
/// allocation's size class, less the header and terminator (what jemalloc
/// rounds up is usable), within what the header type can record. A string
/// under 32 bytes has the 1-byte header, which records no spare room.
pub fn sds_new_capacity(len: usize) -> usize {
    let header = sds_header(len, true);
    let type_max = match header {
        1 => return len,
        3 => u8::MAX as usize,
        5 => u16::MAX as usize,
        9 => u32::MAX as usize,
        _ => usize::MAX,
    };
    (jemalloc_class(header + len + 1) - header - 1).min(type_max)
}

/// A buffer holding `bytes` with the room `sdsnewlen` would give it.
fn sds_new(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(sds_new_capacity(bytes.len()));
    v.extend_from_slice(bytes);
    v
}

/// An sds string holding `bytes`, as Redis allocates it.
fn sds_bytes(bytes: &[u8]) -> usize {
    redis_key_bytes(bytes.len())
}

/// Redis's estimate for a hash table of `len` entries: the dict, its
/// bucket array (a power of two, at least 4, that grew as entries came),
/// and the average entry (a 24-byte dictEntry plus its strings, sized by
/// `sampled`) times the number of entries.
fn redis_dict_bytes(len: usize, sampled: impl Iterator<Item = usize>) -> usize {
    const DICT: usize = 56;
    const DICT_ENTRY: usize = 24;
    let buckets = len.next_power_of_two().max(4);
    let (mut total, mut n) = (0usize, 0usize);
    for size in sampled {
        total += DICT_ENTRY + size;
        n += 1;
    }
    let entries = if n == 0 {
        0
    } else {
        (total as f64 / n as f64 * len as f64) as usize
    };
    DICT + 8 * buckets + entries
}

/// What a key of `len` bytes costs redis-server (its sds copy).
pub fn redis_key_bytes(len: usize) -> usize {
    jemalloc_class(sds_header(len, len > 0) + len + 1)
}

/// Grows a raw string's buffer the way Redis's `sdsMakeRoomFor` grows an
/// sds, so appends are amortised O(1) and MEMORY USAGE matches Redis.
pub fn grow_like_sds(buf: &mut Vec<u8>, needed: usize) {
    if buf.capacity() >= needed {
        return;
    }
    let target = if needed < SDS_MAX_PREALLOC {
        needed * 2
    } else {
        needed + SDS_MAX_PREALLOC
    };
    buf.reserve_exact(target - buf.len());
}

/// Makes room for `add` more bytes as Redis's `sdsMakeRoomFor` does: none
/// while there is room, else twice what is needed, rounded up to the size
/// class of the allocation (what jemalloc gives is usable). A string grown
/// a few bytes at a time (a sparse HyperLogLog) then reallocates exactly
/// when Redis's does, and MEMORY USAGE follows it.
pub fn make_room_like_sds(buf: &mut Vec<u8>, add: usize) {
    if buf.capacity() - buf.len() >= add {
        return;
    }
    let needed = buf.len() + add;
    let target = if needed < SDS_MAX_PREALLOC {
        needed * 2
    } else {
        needed + SDS_MAX_PREALLOC
    };
    let header = sds_header(target, false);
    let type_max = match header {
        3 => u8::MAX as usize,
        5 => u16::MAX as usize,
        9 => u32::MAX as usize,
        _ => usize::MAX,
    };
    let room = (jemalloc_class(header + target + 1) - header - 1).min(type_max);
    buf.reserve_exact(room - buf.len());
}

/// Whether a string value is also referenced elsewhere (a command a
/// running transaction still holds stored it from its argument), so that
/// changing it in place means copying it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    No,
    Yes,
}

/// Aggregates with more elements than this are freed off the loop (Redis's
/// `LAZYFREE_THRESHOLD` is 64).
const LAZYFREE_ELEMENTS: usize = 64;

/// A value of any type: 24 bytes, so a small key's table node is 56. The
/// aggregates' small encodings sit here inline (16 bytes each, see
/// `types::thin`); their large forms are boxed.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Str),
    Hash(Hash),
    Set(Set),
    List(List),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

impl Value {
    /// Whether a client may be blocked waiting for a key of this type.
    pub fn may_unblock(&self) -> bool {
        matches!(self, Value::List(_) | Value::ZSet(_) | Value::Stream(_))
    }

    pub fn same_type(&self, other: &Value) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// OBJECT REFCOUNT: shared small integers report Redis's shared count.
    pub fn refcount(&self) -> i64 {
        match self {
            Value::Str(s) => s.refcount(),
            _ => 1,
        }
    }

    /// What redis-server's MEMORY USAGE counts for this value (without the
    /// key), sampling at most `samples` elements of a hash table as Redis
    /// does (0 means all).
    pub fn redis_usage(&self, samples: usize) -> usize {
        const ROBJ: usize = 16;
        let samples = if samples == 0 { usize::MAX } else { samples };
        match self {
            Value::Str(s) => s.redis_usage(),
            // The compact encodings are one allocation in Redis, whose size
            // follows from the elements: the same figure as redis-server.
            Value::Hash(h) => match h {
                Hash::Listpack(p) => ROBJ + jemalloc_class(p.listpack_bytes()),
                // Redis averages the first few entries in its own hash
                // order, so its figure for a table of unequal elements is
                // not reproducible; the same formula over ours.
                Hash::Table(_) => {
                    let sampled = h
                        .iter()
                        .take(samples)
                        .map(|(f, v)| f.with_bytes(sds_bytes) + v.with_bytes(sds_bytes));
                    ROBJ + redis_dict_bytes(h.len(), sampled)
                }
            },
            Value::Set(s) => match s {
                Set::Intset(values) => ROBJ + jemalloc_class(values.redis_bytes()),
                // Redis 7.0 holds every other set in a hash table.
                _ => {
                    let mut sizes = Vec::new();
                    s.for_each(|m| {
                        if sizes.len() < samples {
                            sizes.push(m.with_bytes(sds_bytes));
                        }
                    });
                    ROBJ + redis_dict_bytes(s.len(), sizes.into_iter())
                }
            },
            // Redis 7.0 holds every list as a quicklist: its header and,
            // from the first `samples` nodes, the average node (its
            // 40-byte struct and its listpack's allocation) times the
            // node count. The chunks are those nodes' listpacks.
            Value::List(l) => {
                const QUICKLIST: usize = 40;
                const QUICKLIST_NODE: usize = 40;
                /// A listpack's header and end byte.
                const LISTPACK_FRAME: usize = 7;
                let chunks = l.chunks();
                let sampled: Vec<usize> = chunks
                    .iter()
                    .take(samples)
                    .map(|(entries, _)| {
                        QUICKLIST_NODE + jemalloc_class(entries.len() + LISTPACK_FRAME)
                    })
                    .collect();
                let nodes = if sampled.is_empty() {
                    0
                } else {
                    (sampled.iter().sum::<usize>() as f64 / sampled.len() as f64
                        * chunks.len() as f64) as usize
                };
                ROBJ + QUICKLIST + nodes
            }
            Value::ZSet(z) => z.redis_usage(samples),
            Value::Stream(s) => s.redis_usage(),
        }
    }

    /// The value as Redis's COPY duplicates it: a new object, so a small
    /// integer is no longer the shared one.
    pub fn duplicate(&self) -> Value {
        match self {
            Value::Str(Str::Int(n)) => Value::Str(Str::UnsharedInt(*n)),
            other => other.clone(),
        }
    }

    /// Values this large are freed off the loop.
    pub fn is_large(&self) -> bool {
        match self {
            Value::Str(s) => s.len() > 64 * 1024 * 1024,
            Value::Hash(h) => h.len() > LAZYFREE_ELEMENTS,
            Value::Set(s) => s.len() > LAZYFREE_ELEMENTS,
            Value::List(l) => l.len() > LAZYFREE_ELEMENTS,
            Value::ZSet(z) => z.len() > LAZYFREE_ELEMENTS,
            Value::Stream(s) => s.log.node_count() > LAZYFREE_ELEMENTS,
        }
    }
}

/// A string value, in the encodings Redis reports: a compact integer, a
/// short string (held inline up to 22 bytes), or a raw string that was
/// modified in place. 24 bytes, so a small key's whole entry fits in one
/// 56-byte table node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    Int(i64),
    /// An integer in an object of its own even below 10,000, where Redis
    /// otherwise points at its shared integer (a COPY's duplicate): OBJECT
    /// REFCOUNT says 1 for it.
    UnsharedInt(i64),
    Emb(SmallBytes),
    Raw(Box<Vec<u8>>),
    /// A big argument (32 KB or more) stored in the buffer it was read
    /// into, as Redis keeps the query buffer as the value: no copy, and a
    /// reply sends it from here (see `Reply::bulk_shared`). Changed in
    /// place only after becoming `Raw`.
    Big(Box<bytes::Bytes>),
}

impl Str {
    /// Like Redis's `tryObjectEncoding`: integers that round-trip become
    /// `Int`, short strings `Emb`, the rest `Raw`.
    /// A raw string keeps the room its argument was read into unless that
    /// is more than a tenth of its length (`trimStringObjectIfNeeded`).
    pub fn encoded(bytes: &[u8]) -> Str {
        if bytes.len() <= 20
            && let Some(n) = crate::util::parse_i64(bytes)
        {
            return Str::Int(n);
        }
        if bytes.len() <= EMBSTR_MAX_LEN {
            return Str::Emb(SmallBytes::new(bytes));
        }
        let room = sds_new_capacity(bytes.len()) - bytes.len();
        if room > bytes.len() / 10 {
            Str::Raw(Box::new(bytes.to_vec()))
        } else {
            Str::Raw(Box::new(sds_new(bytes)))
        }
    }

    /// A value taken from a command's argument: a big one as it is (see
    /// [`Str::Big`]), others as [`Str::encoded`].
    pub fn from_argument(arg: &bytes::Bytes) -> Str {
        if arg.len() >= crate::resp::parser::BIG_ARG_BYTES {
            Str::Big(Box::new(arg.clone()))
        } else {
            Str::encoded(arg)
        }
    }

    /// Like Redis's `createStringObject`: no integer detection, and a raw
    /// string has the room `sdsnewlen` gives it.
    pub fn plain(bytes: &[u8]) -> Str {
        if bytes.len() <= EMBSTR_MAX_LEN {
            Str::Emb(SmallBytes::new(bytes))
        } else {
            Str::Raw(Box::new(sds_new(bytes)))
        }
    }

    /// A raw string owning `bytes`.
    pub fn raw(bytes: Vec<u8>) -> Str {
        Str::Raw(Box::new(bytes))
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) | Str::UnsharedInt(n) => {
                let mut tmp = [0u8; 24];
                format_i64(*n, &mut tmp).len()
            }
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.len(),
            Str::Big(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Str::Int(n) | Str::UnsharedInt(n) => {
                let mut tmp = [0u8; 24];
                Cow::Owned(format_i64(*n, &mut tmp).to_vec())
            }
            Str::Emb(b) => Cow::Borrowed(b.as_slice()),
            Str::Raw(v) => Cow::Borrowed(v.as_slice()),
            Str::Big(b) => Cow::Borrowed(&b[..]),
        }
    }

    /// Calls `f` with the bytes, formatting an integer on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(n) | Str::UnsharedInt(n) => {
                let mut tmp = [0u8; 24];
                f(format_i64(*n, &mut tmp))
            }
            Str::Emb(b) => f(b),
            Str::Raw(v) => f(v),
            Str::Big(b) => f(b),
        }
    }

    /// The value as an integer, if it is one (Redis's
    /// `getLongLongFromObject`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(n) | Str::UnsharedInt(n) => Some(*n),
            other => other.with_bytes(crate::util::parse_i64),
        }
    }

    /// Converts to the `Raw` encoding for in-place modification (Redis's
    /// `dbUnshareStringValue`) and returns the buffer. A value that was
    /// not raw, or is `shared` (Redis's refcount above 1), becomes a new
    /// string with the room `sdsnewlen` gives it.
    pub fn make_raw(&mut self, shared: Shared) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) || shared == Shared::Yes {
            *self = Str::raw(self.with_bytes(sds_new));
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("converted to Raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) | Str::UnsharedInt(_) => "int",
            Str::Emb(_) => "embstr",
            Str::Raw(_) | Str::Big(_) => "raw",
        }
    }

    pub fn refcount(&self) -> i64 {
        match self {
            Str::Int(n) if (0..SHARED_INTEGERS).contains(n) => SHARED_REFCOUNT,
            _ => 1,
        }
    }

    /// What redis-server's MEMORY USAGE counts for this value: the 16-byte
    /// object header, plus the string in its allocation's size class
    /// (`embstr` shares one allocation with the header).
    pub fn redis_usage(&self) -> usize {
        const ROBJ: usize = 16;
        match self {
            Str::Int(_) | Str::UnsharedInt(_) => ROBJ,
            Str::Emb(b) => jemalloc_class(ROBJ + 3 + b.len() + 1),
            // Redis made the query buffer exactly the argument and its
            // CRLF, and keeps it as the value.
            Str::Big(b) => ROBJ + jemalloc_class(sds_header(b.len() + 2, false) + b.len() + 3),
            Str::Raw(v) => {
                let exact = v.capacity() == v.len();
                ROBJ + jemalloc_class(sds_header(v.capacity(), exact) + v.capacity() + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_sizes_follow_redis_encodings() {
        let size = |entries: &[&[u8]]| {
            let mut p = crate::types::packed::Packed::new();
            p.push_all(entries);
            p.listpack_bytes()
        };
        assert_eq!(size(&[]), 7);
        // "2" is a 1-byte integer, "3.5" a 4-byte string; each has a
        // 1-byte back length.
        assert_eq!(size(&[b"2", b"3.5"]), 7 + 2 + 5);
        assert_eq!(size(&[b"-1"]), 7 + 3);
        assert_eq!(size(&[b"-0"]), 7 + 4);
        assert_eq!(size(&[b"01"]), 7 + 4);
        assert_eq!(size(&[b"9223372036854775807"]), 7 + 10);
        assert_eq!(size(&[b"9223372036854775808"]), 7 + 21);
        assert_eq!(size(&[&[b'x'; 64]]), 7 + 66 + 1);
        assert_eq!(size(&[&[b'x'; 200]]), 7 + 202 + 2);
    }

    #[test]
    fn small_values_stay_small() {
        // A small key's node is next pointer + inline key + entry: keep the
        // value at 24 bytes so the node stays at 64.
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<crate::db::Entry>(), 24);
    }

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::encoded(b"123").encoding(), "int");
        assert_eq!(Str::encoded(b"0123").encoding(), "embstr");
        assert_eq!(Str::encoded(&[b'x'; 44]).encoding(), "embstr");
        assert_eq!(Str::encoded(&[b'x'; 45]).encoding(), "raw");
        let mut s = Str::encoded(b"abc");
        s.make_raw(Shared::No).extend_from_slice(b"d");
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.as_bytes().as_ref(), b"abcd");
    }

    #[test]
    fn new_strings_get_their_size_class_as_room() {
        // Under 32 bytes the 1-byte header records no room; then the size
        // class less header and terminator, capped by the header type.
        let room: Vec<usize> = [3, 31, 40, 45, 60, 254]
            .iter()
            .map(|&n| sds_new_capacity(n))
            .collect();
        assert_eq!(room, vec![3, 31, 44, 60, 60, 255]);
    }

    #[test]
    fn jemalloc_classes() {
        let classes: Vec<usize> = [1, 8, 9, 17, 100, 129, 160, 161, 257, 4097]
            .iter()
            .map(|&n| jemalloc_class(n))
            .collect();
        assert_eq!(classes, vec![8, 8, 16, 32, 112, 160, 160, 192, 320, 5120]);
    }
}
