//! The data types, one file each: the structure and its internal API
//! first, then its commands. This module holds what they share: the one
//! typed lookup ("this key as a hash, or WRONGTYPE, or absent").

pub mod bitmap;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
pub mod packed;
pub mod set;
pub mod stream;
pub mod stream_log;
pub mod string;
pub mod thin;
pub mod zset;
pub mod zset_tree;

use crate::cmd::CmdError;
use crate::cmd::keys::lookup_read;
use crate::db::{Db, Value};
use crate::store::Store;

/// A type a key can hold, as the typed lookups see it.
pub trait Typed {
    /// The value as this type, or `None` if it holds another.
    fn of(value: &mut Value) -> Option<&mut Self>;
}

impl Typed for hash::Hash {
    fn of(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
}

impl Typed for set::Set {
    fn of(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for zset::ZSet {
    fn of(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
}

impl Typed for list::List {
    fn of(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// `key` as a `T` for reading (counting a keyspace hit or miss, with lazy
/// expiry), `None` if absent, or WRONGTYPE.
pub fn read_as<'a, T: Typed>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a mut T>, CmdError> {
    match lookup_read(store, db, key, now_ms) {
        None => Ok(None),
        Some(e) => T::of(&mut e.value).map(Some).ok_or(CmdError::WrongType),
    }
}

/// `key` as a `T` for reading (as [`read_as`]), lent beside the store's
/// random generator (HRANDFIELD, ZRANDMEMBER).
pub fn read_with_rng<'a, T: Typed>(
    store: &'a mut Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
) -> Result<(Option<&'a T>, &'a mut crate::util::Rng), CmdError> {
    // The read counts the hit or miss once; the second lookup only lends
    // the value beside the generator.
    if read_as::<T>(store, db, key, now_ms)?.is_none() {
        return Ok((None, &mut store.rng));
    }
    let Store { dbs, rng, .. } = store;
    let value = write_as::<T>(&mut dbs[db], key, now_ms)?;
    Ok((value.map(|v| &*v), rng))
}

/// `key` as a `T` for writing (lazy expiry, no hit or miss), `None` if
/// absent, or WRONGTYPE. Takes one database so callers can borrow the
/// store's other parts alongside.
pub fn write_as<'a, T: Typed>(
    db: &'a mut Db,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a mut T>, CmdError> {
    match db.lookup(key, now_ms) {
        None => Ok(None),
        Some(e) => T::of(&mut e.value).map(Some).ok_or(CmdError::WrongType),
    }
}

/// HRANDFIELD's and ZRANDMEMBER's `key count [WITHVALUES|WITHSCORES]`
/// (`with` names the word): the count, and whether the word was given,
/// with Redis's errors (a count of i64::MIN, and with the word one whose
/// reply length would overflow).
pub fn parse_random_count(args: &[bytes::Bytes], with: &str) -> Result<(i64, bool), CmdError> {
    let n = crate::cmd::arg_i64(&args[2])?;
    if n == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if args.len() > 4 || (args.len() == 4 && !crate::util::eq_ic(&args[3], with)) {
        return Err(CmdError::Syntax);
    }
    let with_pairs = args.len() == 4;
    if with_pairs && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(CmdError::err("value is out of range"));
    }
    Ok((n, with_pairs))
}
