//! Reading every key of a server back, and comparing two servers' data.
//!
//! - [`Key::read_many`] reads keys of the selected database, pipelined:
//!   `TYPE`, the value, optionally `OBJECT ENCODING`, and `PEXPIRETIME`.
//!   Hashes and sets are kept sorted, because their order is not part of
//!   the data.
//! - [`Dataset::read`] reads every database, listing keys with `KEYS`
//!   and reading encodings too (the RDB tests); [`Dataset::read_scanned`]
//!   lists them with `SCAN`, which deletes the expired keys it meets on
//!   either server, so that `DBSIZE` afterwards is comparable, and leaves
//!   encodings out (the AOF tests: a replay makes them anew).
//! - [`assert_same`] panics, listing the differences, unless two datasets
//!   are equal.

use std::collections::{BTreeMap, BTreeSet};

use super::Client;
use super::Frame;
use super::escape;
use super::replies::{
    DATABASES, abbreviated, as_bulk, as_bulks, as_int, bulks, call, command, int, pipeline, select,
};

/// Everything observable about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `TYPE`.
    pub kind: String,
    /// `OBJECT ENCODING`; empty when it was not read (or was left out by
    /// [`Dataset::without_encodings`]).
    pub encoding: String,
    /// `PEXPIRETIME`: -1 for a key without a deadline.
    pub expire_ms: i64,
    /// A string's bytes; a list's elements in order; a hash's fields and
    /// values, field after value, sorted by field; a set's members sorted.
    pub value: Vec<Vec<u8>>,
}

impl Key {
    /// Reads `key` in the selected database, encoding included, or `None`
    /// when there is none.
    pub fn read(c: &mut Client, key: &[u8]) -> Option<Key> {
        Key::read_many(c, &[key.to_vec()], true).pop().flatten()
    }

    /// Reads `keys` in the selected database, pipelined: every key's `TYPE`
    /// first, then the value, encoding (when `encodings`) and deadline of
    /// each key that exists. `None` stands for a key that does not.
    pub fn read_many(c: &mut Client, keys: &[Vec<u8>], encodings: bool) -> Vec<Option<Key>> {
        let types: Vec<Vec<Vec<u8>>> = keys.iter().map(|k| command(&[b"TYPE", &k[..]])).collect();
        let kinds: Vec<String> = pipeline(c, &types)
            .into_iter()
            .zip(keys)
            .map(|(reply, key)| match reply {
                Frame::Simple(kind) => String::from_utf8_lossy(&kind).into_owned(),
                other => panic!("TYPE {} answered {other:?}", escape(key)),
            })
            .collect();
        let mut reads = Vec::new();
        for (key, kind) in keys.iter().zip(&kinds) {
            let key = &key[..];
            let value: Vec<Vec<u8>> = match kind.as_str() {
                "none" => continue,
                "string" => command(&[b"GET", key]),
                "list" => command(&[b"LRANGE", key, b"0", b"-1"]),
                "hash" => command(&[b"HGETALL", key]),
                "set" => command(&[b"SMEMBERS", key]),
                "zset" => command(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
                other => panic!(
                    "key {} has type {other}, which these tests never write",
                    escape(key)
                ),
            };
            reads.push(value);
            if encodings {
                reads.push(command(&[b"OBJECT".as_slice(), b"ENCODING", key]));
            }
            reads.push(command(&[b"PEXPIRETIME", key]));
        }
        let mut replies = pipeline(c, &reads).into_iter().zip(reads);
        let mut next = || replies.next().expect("a reply to each command sent");
        kinds
            .into_iter()
            .map(|kind| {
                if kind == "none" {
                    return None;
                }
                let (reply, args) = next();
                let value = match kind.as_str() {
                    "string" => vec![as_bulk(reply, &args)],
                    // In order, scores beside their members.
                    "list" | "zset" => as_bulks(reply, &args),
                    "hash" => {
                        let flat = as_bulks(reply, &args);
                        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                            .chunks(2)
                            .map(|pair| (pair[0].clone(), pair[1].clone()))
                            .collect();
                        pairs.sort();
                        pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
                    }
                    _ => {
                        let mut members = as_bulks(reply, &args);
                        members.sort();
                        members
                    }
                };
                let encoding = if encodings {
                    let (reply, args) = next();
                    String::from_utf8_lossy(&as_bulk(reply, &args)).into_owned()
                } else {
                    String::new()
                };
                let (reply, args) = next();
                let expire_ms = as_int(reply, &args);
                Some(Key {
                    kind,
                    encoding,
                    expire_ms,
                    value,
                })
            })
            .collect()
    }

    /// Reads `names`, which `lister` listed, in the selected database; each
    /// must exist.
    fn read_listed(
        c: &mut Client,
        names: Vec<Vec<u8>>,
        encodings: bool,
        lister: &str,
    ) -> BTreeMap<Vec<u8>, Key> {
        let read = Key::read_many(c, &names, encodings);
        names
            .into_iter()
            .zip(read)
            .map(|(name, key)| {
                let key = key.unwrap_or_else(|| {
                    panic!("{lister} listed {} but TYPE says none", escape(&name))
                });
                (name, key)
            })
            .collect()
    }

    /// The key for messages: type, encoding, deadline and (abbreviated)
    /// value.
    pub fn shown(&self) -> String {
        const ITEMS_SHOWN: usize = 16;
        let mut items: Vec<String> = self
            .value
            .iter()
            .take(ITEMS_SHOWN)
            .map(|v| abbreviated(v))
            .collect();
        if self.value.len() > ITEMS_SHOWN {
            items.push(format!("... {} items in all", self.value.len()));
        }
        let encoding = if self.encoding.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.encoding)
        };
        format!(
            "{}{encoding} PEXPIRETIME {} [{}]",
            self.kind,
            self.expire_ms,
            items.join(", ")
        )
    }
}

/// How two versions of a key differ, briefly.
pub fn key_diff(expected: &Key, actual: &Key) -> String {
    let mut parts = Vec::new();
    if expected.kind != actual.kind {
        parts.push(format!("TYPE {} vs {}", expected.kind, actual.kind));
    }
    if expected.encoding != actual.encoding {
        parts.push(format!(
            "encoding {} vs {}",
            expected.encoding, actual.encoding
        ));
    }
    if expected.expire_ms != actual.expire_ms {
        parts.push(format!(
            "PEXPIRETIME {} vs {}",
            expected.expire_ms, actual.expire_ms
        ));
    }
    if expected.value != actual.value {
        // Items past the shorter value count as differing.
        let first = expected
            .value
            .iter()
            .zip(&actual.value)
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.value.len().min(actual.value.len()));
        parts.push(format!(
            "value of {} vs {} items, first difference at item {first}",
            expected.value.len(),
            actual.value.len()
        ));
    }
    parts.join("; ")
}

/// Every key of every database of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Non-empty databases by index, each with its `DBSIZE` and its keys.
    pub dbs: BTreeMap<usize, (i64, BTreeMap<Vec<u8>, Key>)>,
}

impl Dataset {
    /// Reads every database of `c`'s server, encodings included, leaving
    /// database 0 selected. Keys are listed with `KEYS`, after `DBSIZE`.
    pub fn read(c: &mut Client) -> Dataset {
        Dataset::read_each(c, |c, size| {
            let names = bulks(c, &["KEYS", "*"]);
            Some((size, Key::read_listed(c, names, true, "KEYS")))
        })
    }

    /// Reads every database of `c`'s server without encodings, leaving
    /// database 0 selected. Keys are listed with SCAN, which deletes each
    /// expired key it meets (KEYS only hides them), so `DBSIZE`, asked
    /// after, counts live keys.
    pub fn read_scanned(c: &mut Client) -> Dataset {
        Dataset::read_each(c, |c, _| {
            let names = scan_all(c);
            let read = Key::read_listed(c, names, false, "SCAN");
            let size = int(c, &["DBSIZE"]);
            (size != 0 || !read.is_empty()).then_some((size, read))
        })
    }

    /// Selects each database whose `DBSIZE` is not 0 and keeps what
    /// `read_db` reads there (given that size), if anything.
    fn read_each(
        c: &mut Client,
        mut read_db: impl FnMut(&mut Client, i64) -> Option<(i64, BTreeMap<Vec<u8>, Key>)>,
    ) -> Dataset {
        let mut dbs = BTreeMap::new();
        for db in 0..DATABASES {
            select(c, db);
            let size = int(c, &["DBSIZE"]);
            if size == 0 {
                continue;
            }
            if let Some(read) = read_db(c, size) {
                dbs.insert(db, read);
            }
        }
        select(c, 0);
        Dataset { dbs }
    }

    /// The same keys and values with every encoding left out, for data
    /// whose encodings a reload may change.
    pub fn without_encodings(mut self) -> Dataset {
        for (_, keys) in self.dbs.values_mut() {
            for key in keys.values_mut() {
                key.encoding.clear();
            }
        }
        self
    }

    /// How many keys all databases hold.
    pub fn key_count(&self) -> usize {
        self.dbs.values().map(|(_, keys)| keys.len()).sum()
    }
}

/// Every key of the selected database, by a full SCAN.
pub fn scan_all(c: &mut Client) -> Vec<Vec<u8>> {
    let mut names = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let args: [&[u8]; 4] = [b"SCAN", &cursor, b"COUNT", b"1000"];
        let reply = call(c, &args);
        let Frame::Array(mut parts) = reply else {
            panic!("SCAN answered {reply:?}");
        };
        assert_eq!(parts.len(), 2, "SCAN's reply has a cursor and keys");
        let keys = as_bulks(parts.pop().expect("keys"), &args);
        cursor = as_bulk(parts.pop().expect("cursor"), &args);
        names.extend(keys);
        if cursor == b"0" {
            return names.into_iter().collect();
        }
    }
}

/// Panics, listing the differences, unless the two datasets are equal.
/// Values are abbreviated (see [`Key::shown`]) and only the first few
/// differences are shown: they say what went wrong, thousands would bury
/// it.
pub fn assert_same(expected_name: &str, expected: &Dataset, actual_name: &str, actual: &Dataset) {
    if expected == actual {
        return;
    }
    let mut diffs = Vec::new();
    for db in 0..DATABASES {
        let empty = (0, BTreeMap::new());
        let (e_size, e_keys) = expected.dbs.get(&db).unwrap_or(&empty);
        let (a_size, a_keys) = actual.dbs.get(&db).unwrap_or(&empty);
        if e_size != a_size {
            diffs.push(format!(
                "db {db}: DBSIZE {e_size} on {expected_name}, {a_size} on {actual_name}"
            ));
        }
        for (name, e) in e_keys {
            match a_keys.get(name) {
                None => diffs.push(format!(
                    "db {db}: {} missing on {actual_name} (it is {})",
                    escape(name),
                    e.shown()
                )),
                Some(a) if a != e => diffs.push(format!(
                    "db {db}: {}: {}; {expected_name} has {}, {actual_name} has {}",
                    escape(name),
                    key_diff(e, a),
                    e.shown(),
                    a.shown()
                )),
                Some(_) => {}
            }
        }
        for (name, a) in a_keys
            .iter()
            .filter(|(name, _)| !e_keys.contains_key(*name))
        {
            diffs.push(format!(
                "db {db}: {} only on {actual_name} (it is {})",
                escape(name),
                a.shown()
            ));
        }
    }
    let shown_diffs = diffs.len().min(20);
    panic!(
        "{actual_name} differs from {expected_name} ({} differences, {shown_diffs} shown):\n{}",
        diffs.len(),
        diffs[..shown_diffs].join("\n")
    );
}
