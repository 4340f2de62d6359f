//! How two replies to the same command are compared.
//!
//! Byte for byte, except where the reply is random or timing-dependent by
//! nature, or unordered: which members SPOP and SRANDMEMBER pick, SCAN
//! cursors, clocks and client IDs, TTLs that count down while the two
//! servers are asked one after the other, the order of a hash table's
//! elements, a stream's delivery and idle times. An error reply is always compared exactly, whatever the rule.

use crate::common::{Frame, mask_digits};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Norm {
    Exact,
    /// The elements in any order.
    Unordered,
    /// COMMAND, COMMAND LIST, INFO and DOCS: ferrokv's table has only the
    /// commands it implements, so Redis's entries for the others (and for
    /// the subcommands of containers) are left out; then the elements of
    /// every aggregate in any order, at every depth, since containers list
    /// their subcommands in hash order.
    CommandTable,
    /// Field-value pairs in any order (a flat RESP2 array, a RESP3 map, or
    /// an array of pairs).
    UnorderedPairs,
    /// The same structure: the type of every node and the length of every
    /// aggregate (TIME, CLIENT ID, RANDOMKEY).
    Shape,
    /// The same text with every run of digits taken as equal (CLIENT LIST,
    /// HELLO, SLOWLOG GET).
    Masked,
    /// Integers may differ by this much (TTL, PTTL).
    Approx(i64),
    /// A cursor reply: when the scan started at cursor 0 and both servers
    /// finished it in one call, the elements (or pairs) in any order;
    /// otherwise only that it is a cursor and a list, since what one call
    /// returns depends on where each hash table put each element.
    Scan {
        pairs: bool,
        from_start: bool,
    },
    /// Random picks (SRANDMEMBER, HRANDFIELD): the structure only.
    Random,
    /// SPOP: the structure only; the runner then makes both servers drop
    /// the same members, so the data stays comparable.
    Pop,
    /// INFO: the same section headers and field names, in order.
    InfoFields,
    /// DUMP: exact, except for a hash or set held in a hash table, which
    /// each server writes in its own table order: then the same type and
    /// the same bytes in any order (the elements, each with its length).
    Dump,
    /// MEMORY USAGE: exact, except for a key Redis holds in a hash table
    /// or a quicklist, whose figure Redis computes from a sample taken in
    /// its hash order, or from its list nodes' layout, or a stream, whose
    /// figure Redis estimates from its radix tree's internal nodes (the
    /// runner checks the encoding).
    MemoryUsage,
    /// XPENDING, XINFO STREAM, XINFO CONSUMERS (and GROUPS, for its
    /// `pending` field's sake): exact, except for the values of the fields
    /// that are clocks or durations by each server's clock (a pending
    /// entry's delivery time or idle time, a consumer's seen-time or idle
    /// time) and `radix-tree-nodes`, the number of internal nodes of
    /// Redis's radix tree, which ferrokv estimates (see
    /// [`untimed_stream_reply`]).
    StreamTimes,
    /// FUNCTION LIST: libraries, and each library's functions, come in
    /// Redis's hash order, so every aggregate is compared in any order.
    Libraries,
    /// FUNCTION DUMP: the libraries' records come in Redis's hash order,
    /// each compressed on its own, so two payloads of the same libraries
    /// have the same length (one library's is compared whole by
    /// tests/diff/function.redis, and RESTORE of any is generated).
    FunctionDump,
}

impl Norm {
    /// The rule for a command, from its name (and subcommand).
    pub fn for_command(args: &[Vec<u8>], name: &[u8]) -> Norm {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let sub = args
            .get(1)
            .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
            .unwrap_or_default();
        match (name.as_str(), sub.as_str()) {
            ("keys" | "smembers" | "sinter" | "sunion" | "sdiff" | "hkeys" | "hvals", _) => {
                Norm::Unordered
            }
            ("hgetall", _) | ("config", "get") => Norm::UnorderedPairs,
            // BY a constant keeps a set's own order, Redis's hash order.
            ("sort" | "sort_ro", _) if sorts_by_constant(args) => Norm::Unordered,
            // Channels in Redis's hash order.
            ("pubsub", "channels" | "shardchannels") => Norm::Unordered,
            ("command", "" | "list" | "docs" | "info") => Norm::CommandTable,
            // Redis counts the commands ferrokv does not implement yet.
            ("command", "count") => Norm::Shape,
            ("ttl" | "expiretime", _) => Norm::Approx(30),
            ("pttl" | "pexpiretime", _) => Norm::Approx(30_000),
            ("time" | "lastsave" | "randomkey", _) | ("client", "id") => Norm::Shape,
            ("client", "list" | "info") | ("hello", _) | ("slowlog", "get") => Norm::Masked,
            // The redirect target's client ID.
            ("client", "getredir" | "trackinginfo") => Norm::Masked,
            // Redis shares one object among all keys holding the same
            // small integer, idle time included (see the README).
            ("object", "idletime") => Norm::Shape,
            ("scan", _) => Norm::Scan {
                pairs: false,
                from_start: args.get(1).is_some_and(|c| c == b"0"),
            },
            ("sscan" | "hscan" | "zscan", _) => Norm::Scan {
                pairs: name != "sscan",
                from_start: args.get(2).is_some_and(|c| c == b"0"),
            },
            ("srandmember" | "hrandfield" | "zrandmember", _) => Norm::Random,
            ("spop", _) => Norm::Pop,
            ("info", _) => Norm::InfoFields,
            ("memory", "usage") => Norm::MemoryUsage,
            // Each server's own figures and allocator.
            ("memory", "stats" | "doctor" | "malloc-stats") => Norm::Shape,
            // VERSION 6 draws at random.
            ("lolwut", "version") if args.get(2).is_some_and(|v| v == b"6") => Norm::Shape,
            ("dump", _) => Norm::Dump,
            ("function", "list") => Norm::Libraries,
            ("function", "dump") => Norm::FunctionDump,
            ("xpending", _) | ("xinfo", "stream" | "consumers" | "groups") => Norm::StreamTimes,
            _ => Norm::Exact,
        }
    }

    /// Whether two replies agree under this rule.
    pub fn agree(&self, expected: &Frame, actual: &Frame) -> bool {
        if is_error(expected) || is_error(actual) {
            return expected == actual;
        }
        match self {
            Norm::Exact | Norm::MemoryUsage => expected == actual,
            Norm::Unordered => sorted(expected) == sorted(actual),
            Norm::CommandTable => {
                deep_sorted(&implemented_only(expected)) == deep_sorted(&implemented_only(actual))
            }
            Norm::UnorderedPairs => sorted_pairs(expected) == sorted_pairs(actual),
            Norm::Libraries => deep_sorted(expected) == deep_sorted(actual),
            Norm::FunctionDump => match (expected, actual) {
                (Frame::Bulk(e), Frame::Bulk(a)) => e.len() == a.len(),
                _ => expected == actual,
            },
            Norm::Shape | Norm::Random | Norm::Pop => shape(expected) == shape(actual),
            Norm::Masked => mask_digits(&expected.to_bytes()) == mask_digits(&actual.to_bytes()),
            Norm::Approx(tolerance) => match (expected, actual) {
                (Frame::Integer(e), Frame::Integer(a)) => {
                    // -1 and -2 (no TTL, no key) are exact answers.
                    if *e < 0 || *a < 0 {
                        e == a
                    } else {
                        e.abs_diff(*a) <= tolerance.unsigned_abs()
                    }
                }
                _ => expected == actual,
            },
            Norm::Scan { pairs, from_start } => {
                match (cursor_reply(expected), cursor_reply(actual)) {
                    (Some(_), Some(_)) if !from_start => true,
                    (Some((b"0", e)), Some((b"0", a))) if *pairs => {
                        sorted_pairs(&Frame::Array(e.to_vec()))
                            == sorted_pairs(&Frame::Array(a.to_vec()))
                    }
                    (Some((b"0", e)), Some((b"0", a))) => {
                        sorted(&Frame::Array(e.to_vec())) == sorted(&Frame::Array(a.to_vec()))
                    }
                    (Some(_), Some(_)) => true,
                    _ => expected == actual,
                }
            }
            Norm::InfoFields => info_fields(expected) == info_fields(actual),
            Norm::Dump => match (expected, actual) {
                (Frame::Bulk(e), Frame::Bulk(a)) if e.len() == a.len() && e.len() > 10 => {
                    let table_order = matches!(e[0], 2 | 4) && e[0] == a[0];
                    let body = |p: &[u8]| {
                        let mut b = p[1..p.len() - 10].to_vec();
                        b.sort_unstable();
                        b
                    };
                    let untimed = untimed_stream_dump(e);
                    e == a
                        || (table_order && body(e) == body(a))
                        || (untimed.is_some() && untimed == untimed_stream_dump(a))
                }
                _ => expected == actual,
            },
            Norm::StreamTimes => {
                untimed_stream_reply(expected, StreamLoose::Live)
                    == untimed_stream_reply(actual, StreamLoose::Live)
            }
        }
    }

    /// The directive that makes the differential script harness compare
    /// the way this rule does, or as close as it can.
    pub fn directive(&self) -> Option<String> {
        match self {
            Norm::Exact | Norm::MemoryUsage => None,
            Norm::Unordered
            | Norm::CommandTable
            | Norm::UnorderedPairs
            | Norm::Scan { .. }
            | Norm::Libraries => Some("~sorted".into()),
            Norm::Shape | Norm::Random | Norm::Pop => Some("~shape".into()),
            Norm::Masked => Some("~masked".into()),
            Norm::Approx(n) => Some(format!("~approx {n}")),
            Norm::InfoFields => Some("~ignore".into()),
            Norm::Dump | Norm::FunctionDump => Some("~shape".into()),
            Norm::StreamTimes => Some("~masked".into()),
        }
    }
}

fn is_error(frame: &Frame) -> bool {
    matches!(frame, Frame::Error(_) | Frame::BlobError(_))
}

/// `[cursor, [elements]]`.
fn cursor_reply(frame: &Frame) -> Option<(&[u8], &[Frame])> {
    match frame {
        Frame::Array(items) => match items.as_slice() {
            [Frame::Bulk(cursor), Frame::Array(elements)] => Some((cursor, elements)),
            _ => None,
        },
        _ => None,
    }
}

/// The elements of the top-level aggregate, sorted by their encoding.
fn sorted(frame: &Frame) -> Frame {
    let sort = |items: &[Frame]| {
        let mut items = items.to_vec();
        items.sort_by_cached_key(Frame::to_bytes);
        items
    };
    match frame {
        Frame::Array(items) => Frame::Array(sort(items)),
        Frame::Set(items) => Frame::Set(sort(items)),
        Frame::Map(kvs) => {
            let mut kvs = kvs.clone();
            kvs.sort_by_cached_key(|(k, v)| (k.to_bytes(), v.to_bytes()));
            Frame::Map(kvs)
        }
        other => other.clone(),
    }
}

/// A command-table listing without the entries of commands ferrokv's
/// table does not have, at every level (a container lists its
/// subcommands): a list of names (COMMAND LIST), of COMMAND INFO entries
/// (each starting with its name, its subcommands tenth), or COMMAND
/// DOCS's name-to-docs pairs (the docs holding `subcommands` pairs).
fn implemented_only(frame: &Frame) -> Frame {
    match frame {
        Frame::Array(items) if is_docs_pairs(items) => Frame::Array(known_docs(items)),
        Frame::Array(items) => Frame::Array(known_entries(items)),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .filter(|(k, _)| is_known(k))
                .map(|(k, v)| (k.clone(), docs_with_known_subcommands(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Commands ferrokv has that Redis 7.0 does not: CLIENT SETINFO (Redis
/// 7.2), accepted because client libraries send it on connect.
const FERROKV_ONLY: &[&str] = &["client|setinfo"];

fn is_known(name: &Frame) -> bool {
    let Frame::Bulk(name) = name else {
        return true;
    };
    if FERROKV_ONLY.iter().any(|n| n.as_bytes() == name.as_slice()) {
        return false;
    }
    ferrokv::cmd::table::COMMANDS.iter().any(|c| {
        c.name.as_bytes() == name.as_slice()
            || c.subcommands
                .iter()
                .any(|s| s.name.as_bytes() == name.as_slice())
    })
}

fn is_docs_pairs(items: &[Frame]) -> bool {
    items.len().is_multiple_of(2)
        && items.chunks(2).all(|p| {
            matches!(
                (&p[0], &p[1]),
                (Frame::Bulk(_), Frame::Array(_) | Frame::Map(_))
            )
        })
}

fn known_entries(items: &[Frame]) -> Vec<Frame> {
    items
        .iter()
        .filter(|item| match item {
            Frame::Array(fields) => fields.first().is_none_or(is_known),
            name => is_known(name),
        })
        .map(|item| match item {
            Frame::Array(fields) if fields.len() >= 10 => {
                let mut fields = fields.clone();
                if let Frame::Array(subs) = &fields[9] {
                    fields[9] = Frame::Array(known_entries(subs));
                }
                Frame::Array(fields)
            }
            other => other.clone(),
        })
        .collect()
}

fn known_docs(items: &[Frame]) -> Vec<Frame> {
    items
        .chunks(2)
        .filter(|p| is_known(&p[0]))
        .flat_map(|p| [p[0].clone(), docs_with_known_subcommands(&p[1])])
        .collect()
}

/// One command's docs (flat pairs or a map) with its `subcommands` entry
/// filtered.
fn docs_with_known_subcommands(docs: &Frame) -> Frame {
    let is_subcommands = |k: &Frame| *k == Frame::Bulk(b"subcommands".to_vec());
    match docs {
        Frame::Array(items) if items.len().is_multiple_of(2) => Frame::Array(
            items
                .chunks(2)
                .flat_map(|p| {
                    let value = if is_subcommands(&p[0]) {
                        implemented_only(&p[1])
                    } else {
                        p[1].clone()
                    };
                    [p[0].clone(), value]
                })
                .collect(),
        ),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .map(|(k, v)| {
                    let v = if is_subcommands(k) {
                        implemented_only(v)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The reply with the elements of every aggregate sorted, at every depth.
fn deep_sorted(frame: &Frame) -> Frame {
    let inner = match frame {
        Frame::Array(items) => Frame::Array(items.iter().map(deep_sorted).collect()),
        Frame::Set(items) => Frame::Set(items.iter().map(deep_sorted).collect()),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .map(|(k, v)| (deep_sorted(k), deep_sorted(v)))
                .collect(),
        ),
        other => other.clone(),
    };
    sorted(&inner)
}

/// Pairs in any order, whichever way the reply lays them out.
fn sorted_pairs(frame: &Frame) -> Frame {
    match frame {
        Frame::Array(items)
            if items.len().is_multiple_of(2)
                && items.iter().all(|f| !matches!(f, Frame::Array(_))) =>
        {
            let mut pairs: Vec<(Frame, Frame)> = items
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            pairs.sort_by_cached_key(|(k, v)| (k.to_bytes(), v.to_bytes()));
            Frame::Map(pairs)
        }
        other => sorted(other),
    }
}

/// The structure of a reply, with every scalar's content blanked.
fn shape(frame: &Frame) -> Frame {
    let all = |items: &[Frame]| items.iter().map(shape).collect::<Vec<_>>();
    match frame {
        Frame::Simple(_) => Frame::Simple(Vec::new()),
        Frame::Integer(_) => Frame::Integer(0),
        Frame::Bulk(_) => Frame::Bulk(Vec::new()),
        Frame::Double(_) => Frame::Double(Vec::new()),
        Frame::BigNumber(_) => Frame::BigNumber(Vec::new()),
        Frame::Verbatim(_) => Frame::Verbatim(Vec::new()),
        Frame::Bool(_) => Frame::Bool(false),
        Frame::Array(items) => Frame::Array(all(items)),
        Frame::Set(items) => Frame::Set(all(items)),
        Frame::Push(items) => Frame::Push(all(items)),
        Frame::Map(kvs) => Frame::Map(kvs.iter().map(|(k, v)| (shape(k), shape(v))).collect()),
        Frame::Attribute(kvs, reply) => Frame::Attribute(
            kvs.iter().map(|(k, v)| (shape(k), shape(v))).collect(),
            Box::new(shape(reply)),
        ),
        other => other.clone(),
    }
}

/// Fields of XINFO replies whose values are clocks or durations (Redis
/// 7.0 has `seen-time` and `idle`; 7.2's `active-time` and `inactive`
/// would be too) or Redis's radix tree internals.
const UNTIMED_FIELDS: &[&[u8]] = &[
    b"seen-time",
    b"active-time",
    b"idle",
    b"inactive",
    b"radix-tree-nodes",
];

/// How loosely [`untimed_stream_reply`] compares a stream reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamLoose {
    /// Replies, and the live dataset: only the clocks and
    /// `radix-tree-nodes` are blanked.
    Live,
    /// The dataset after an AOF replay, which Redis 7.0's own AOF does
    /// not bring back whole (see `exec.rs`, `Dataset::stream_loose`):
    /// also each group's `entries-read` and `lag`, consumers without
    /// pending entries (left out), pending entries' delivery counts, and
    /// with `layout_may_differ` the number of nodes, `radix-tree-keys`.
    Replayed { layout_may_differ: bool },
}

/// A stream reply with its timing values blanked (see
/// [`Norm::StreamTimes`]), and more after a replay (see [`StreamLoose`]).
/// Only values are touched, by their field's name, and only where XINFO
/// puts them: the top level of an XINFO reply (a flat RESP2 array of
/// pairs or a RESP3 map), each group and consumer in `groups` and
/// `consumers`, and the delivery time of each entry in `pending` (`[id,
/// consumer, delivery-time, count]` for a group, `[id, delivery-time,
/// count]` for a consumer); XINFO CONSUMERS's consumers; XPENDING's
/// entries `[id, consumer, idle, count]`. Entries' fields and values are
/// never touched.
pub fn untimed_stream_reply(frame: &Frame, loose: StreamLoose) -> Frame {
    let replayed = matches!(loose, StreamLoose::Replayed { .. });
    let blank_at = |entry: &Frame, at: usize| match entry {
        Frame::Array(parts) if parts.len() > at && matches!(parts[at], Frame::Integer(_)) => {
            let mut parts = parts.clone();
            parts[at] = Frame::Integer(0);
            Frame::Array(parts)
        }
        other => other.clone(),
    };
    let field = |key: &Frame, value: &Frame| -> Frame {
        let name: &[u8] = match key {
            Frame::Bulk(k) | Frame::Simple(k) => k,
            _ => return value.clone(),
        };
        if UNTIMED_FIELDS.contains(&name) {
            return shape(value);
        }
        let blank = match loose {
            StreamLoose::Live => false,
            StreamLoose::Replayed { layout_may_differ } => {
                matches!(name, b"entries-read" | b"lag")
                    || (layout_may_differ && name == b"radix-tree-keys")
            }
        };
        if blank {
            // Whatever it is: entries-read may be nil.
            return Frame::Null;
        }
        match (name, value) {
            (b"groups" | b"consumers", Frame::Array(items)) => Frame::Array(
                items
                    .iter()
                    .filter(|c| {
                        !(replayed && name == b"consumers")
                            || field_of(c, b"pel-count") != Some(&Frame::Integer(0))
                    })
                    .map(|c| untimed_stream_reply(c, loose))
                    .collect(),
            ),
            (b"pending", Frame::Array(entries)) => Frame::Array(
                entries
                    .iter()
                    .map(|e| {
                        let (time, count) = match e {
                            Frame::Array(p) if p.len() == 4 => (2, 3),
                            _ => (1, 2),
                        };
                        let e = blank_at(e, time);
                        if replayed { blank_at(&e, count) } else { e }
                    })
                    .collect(),
            ),
            _ => value.clone(),
        }
    };
    match frame {
        Frame::Map(kvs) => Frame::Map(kvs.iter().map(|(k, v)| (k.clone(), field(k, v))).collect()),
        Frame::Array(items) if is_flat_pairs(items) => Frame::Array(
            items
                .chunks(2)
                .flat_map(|p| [p[0].clone(), field(&p[0], &p[1])])
                .collect(),
        ),
        // XPENDING's extended form.
        Frame::Array(items) if items.iter().all(is_pending_entry) => {
            Frame::Array(items.iter().map(|e| blank_at(e, 2)).collect())
        }
        // XINFO CONSUMERS and GROUPS: a list of pair lists.
        Frame::Array(items) => Frame::Array(
            items
                .iter()
                .map(|c| match c {
                    Frame::Map(_) | Frame::Array(_) => untimed_stream_reply(c, loose),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The value of `name` in a list of pairs (RESP2) or a map (RESP3).
pub fn field_of<'a>(pairs: &'a Frame, name: &[u8]) -> Option<&'a Frame> {
    let is = |k: &Frame| matches!(k, Frame::Bulk(k) | Frame::Simple(k) if k == name);
    match pairs {
        Frame::Map(kvs) => kvs.iter().find(|(k, _)| is(k)).map(|(_, v)| v),
        Frame::Array(items) if items.len().is_multiple_of(2) => {
            items.chunks(2).find(|p| is(&p[0])).map(|p| &p[1])
        }
        _ => None,
    }
}

/// A RESP2 list of field-value pairs: an even number of elements, the
/// fields all strings of XINFO's field names (letters and dashes), the
/// first one `length` or `name` (a stream's or a group's or consumer's).
fn is_flat_pairs(items: &[Frame]) -> bool {
    let name_like = |f: &Frame| {
        matches!(f, Frame::Bulk(k) if !k.is_empty()
            && k.iter().all(|&b| b.is_ascii_lowercase() || b == b'-'))
    };
    items.len().is_multiple_of(2)
        && matches!(items.first(), Some(Frame::Bulk(k)) if k == b"length" || k == b"name")
        && items.iter().step_by(2).all(name_like)
}

/// `[id, consumer, idle, count]`.
fn is_pending_entry(entry: &Frame) -> bool {
    matches!(entry, Frame::Array(p) if matches!(
        p.as_slice(),
        [Frame::Bulk(_), Frame::Bulk(_), Frame::Integer(_), Frame::Integer(_)]
    ))
}

/// A stream's DUMP payload (RDB type 19, `STREAM_LISTPACKS_2`, what Redis
/// 7.0 writes) with its clocks zeroed and its checksum left out: each
/// pending entry's delivery time and each consumer's seen-time, 8 bytes
/// each, which differ between the servers as XINFO's do. Everything else
/// (the listpack nodes, byte for byte, the IDs, counters, groups, PELs
/// and consumers) stays. `None` when it is not such a payload or does not
/// parse.
pub fn untimed_stream_dump(payload: &[u8]) -> Option<Vec<u8>> {
    struct Reader<'a> {
        p: &'a [u8],
        at: usize,
        out: Vec<u8>,
    }
    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Option<&[u8]> {
            let bytes = self.p.get(self.at..self.at.checked_add(n)?)?;
            self.at += n;
            self.out.extend_from_slice(bytes);
            Some(bytes)
        }
        fn byte(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }
        /// An RDB length, or the encoding of a special string (`Err`).
        fn len(&mut self) -> Option<Result<u64, u8>> {
            let first = self.byte()?;
            Some(match first >> 6 {
                0 => Ok(u64::from(first & 0x3f)),
                1 => Ok((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
                2 if first == 0x80 => Ok(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().ok()?,
                ))),
                2 if first == 0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                2 => return None,
                _ => Err(first & 0x3f),
            })
        }
        fn number(&mut self) -> Option<u64> {
            self.len()?.ok()
        }
        fn count(&mut self) -> Option<usize> {
            usize::try_from(self.number()?).ok()
        }
        /// A string: raw, an integer (1, 2 or 4 bytes) or LZF-compressed.
        fn string(&mut self) -> Option<()> {
            match self.len()? {
                Ok(n) => self.take(usize::try_from(n).ok()?).map(|_| ()),
                Err(0) => self.take(1).map(|_| ()),
                Err(1) => self.take(2).map(|_| ()),
                Err(2) => self.take(4).map(|_| ()),
                Err(3) => {
                    let compressed = self.count()?;
                    self.number()?;
                    self.take(compressed).map(|_| ())
                }
                Err(_) => None,
            }
        }
        /// A millisecond clock, written as 8 raw bytes: zeroed.
        fn clock(&mut self) -> Option<()> {
            self.take(8)?;
            let n = self.out.len();
            self.out[n - 8..].fill(0);
            Some(())
        }
    }
    if payload.first() != Some(&19) || payload.len() < 11 {
        return None;
    }
    let body = &payload[..payload.len() - 8];
    let mut r = Reader {
        p: body,
        at: 1,
        out: vec![19],
    };
    for _ in 0..r.count()? {
        r.string()?;
        r.string()?;
    }
    // Length, last ID, first ID, maximal deleted ID, entries added.
    for _ in 0..8 {
        r.number()?;
    }
    for _ in 0..r.count()? {
        r.string()?;
        // Last delivered ID, entries read.
        for _ in 0..3 {
            r.number()?;
        }
        for _ in 0..r.count()? {
            r.take(16)?;
            r.clock()?;
            r.number()?;
        }
        for _ in 0..r.count()? {
            r.string()?;
            r.clock()?;
            for _ in 0..r.count()? {
                r.take(16)?;
            }
        }
    }
    // What is left is the RDB version (2 bytes).
    (r.at + 2 == body.len()).then(|| {
        r.out.extend_from_slice(&body[r.at..]);
        r.out
    })
}

/// What INFO must agree on: the section headers, in order, and the
/// fields of the sections whose contents follow from the commands sent
/// (which databases hold keys, how many, how many volatile; which
/// commands ran, how often, how often they failed or were rejected; which
/// errors were returned, how often), not from memory, clocks or the
/// build. ferrokv's other sections differ on purpose (allocator
/// figures, its own version).
fn info_fields(frame: &Frame) -> Option<Vec<Vec<u8>>> {
    let text = match frame {
        Frame::Bulk(text) => text.as_slice(),
        Frame::Verbatim(text) => text.get(4..)?,
        _ => return None,
    };
    let mut kept = Vec::new();
    let mut commands = Vec::new();
    let mut section: &[u8] = b"";
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(name) = line.strip_prefix(b"# ") {
            section = name;
            kept.push(line.to_vec());
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => continue,
        };
        match section {
            // keys=N,expires=N,avg_ttl=N: the average TTL is sampled.
            b"Keyspace" => {
                let counts = value
                    .split(|&b| b == b',')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(&b',');
                kept.push([field, b":", &counts].concat());
            }
            // Redis lists commands in hash-table order. Their counts are
            // compared, their times not.
            b"Commandstats" => {
                let counts = value
                    .split(|&b| b == b',')
                    .filter(|kv| !kv.starts_with(b"usec"))
                    .collect::<Vec<_>>()
                    .join(&b',');
                commands.push([field, b":", &counts].concat());
            }
            b"Latencystats" => commands.push(field.to_vec()),
            b"Errorstats" => kept.push(line.to_vec()),
            _ => {}
        }
    }
    commands.sort();
    kept.extend(commands);
    Some(kept)
}

/// Whether a SORT keeps the value's own order: BY a pattern without `*`,
/// replied (a stored set is sorted).
fn sorts_by_constant(args: &[Vec<u8>]) -> bool {
    let eq = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    let stores = args.iter().any(|a| eq(a, "store"));
    let constant_by = args.windows(2).any(|w| {
        eq(&w[0], "by")
            && !w[1]
                .split(|&b| b == 0)
                .next()
                .unwrap_or_default()
                .contains(&b'*')
    });
    constant_by && !stores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn unordered_pairs_keep_pairs_together() {
        let a = Frame::Array(vec![bulk("f1"), bulk("v1"), bulk("f2"), bulk("v2")]);
        let b = Frame::Array(vec![bulk("f2"), bulk("v2"), bulk("f1"), bulk("v1")]);
        let swapped = Frame::Array(vec![bulk("f1"), bulk("v2"), bulk("f2"), bulk("v1")]);
        assert!(Norm::UnorderedPairs.agree(&a, &b));
        assert!(!Norm::UnorderedPairs.agree(&a, &swapped));
    }

    #[test]
    fn errors_are_always_exact() {
        let e1 = Frame::Error(b"ERR a".to_vec());
        let e2 = Frame::Error(b"ERR b".to_vec());
        assert!(!Norm::Shape.agree(&e1, &e2));
        assert!(!Norm::Random.agree(&e1, &bulk("x")));
    }

    #[test]
    fn scans_compare_elements_only_when_both_are_complete() {
        let reply = |cursor: &str, elems: &[&str]| {
            Frame::Array(vec![
                bulk(cursor),
                Frame::Array(elems.iter().map(|e| bulk(e)).collect()),
            ])
        };
        let scan = Norm::Scan {
            pairs: false,
            from_start: true,
        };
        assert!(scan.agree(&reply("0", &["a", "b"]), &reply("0", &["b", "a"])));
        assert!(!scan.agree(&reply("0", &["a", "b"]), &reply("0", &["a"])));
        assert!(scan.agree(&reply("0", &["a", "b"]), &reply("12", &["a"])));
    }

    /// A stream with groups, as redis-server 7.0.15 dumps it (the second
    /// stream of `generate::PAYLOADS`), and the offsets of its clocks.
    fn stream_payload() -> (Vec<u8>, Vec<usize>) {
        let payload = crate::fuzz::generate::stream_payload_with_groups().to_vec();
        let clock = 1_000_000_000_000u64.to_le_bytes();
        let clocks: Vec<usize> = (0..payload.len() - 8)
            .filter(|&i| payload[i..i + 8] == clock)
            .collect();
        (payload, clocks)
    }

    #[test]
    fn stream_dumps_agree_but_for_their_clocks() {
        let (payload, clocks) = stream_payload();
        // The group's two delivery times are 2001, found by their bytes
        // (a consumer's PEL holds IDs only); the seen-times are two more
        // clocks.
        assert_eq!(clocks.len(), 2);
        assert!(untimed_stream_dump(&payload).is_some());
        let mut later = payload.clone();
        later[clocks[0]] ^= 0x55;
        let n = later.len();
        later[n - 1] ^= 0x55; // the checksum
        assert_ne!(payload, later);
        assert!(Norm::Dump.agree(&Frame::Bulk(payload.clone()), &Frame::Bulk(later)));
        // A delivery count (the byte after the first clock) is not a clock.
        let mut count = payload.clone();
        count[clocks[0] + 8] = 3;
        assert!(!Norm::Dump.agree(&Frame::Bulk(payload.clone()), &Frame::Bulk(count)));
        // Nor is an entry ID.
        let mut id = payload.clone();
        id[clocks[0] - 1] ^= 1;
        assert!(!Norm::Dump.agree(&Frame::Bulk(payload.clone()), &Frame::Bulk(id)));
        // A cut payload does not parse.
        assert!(untimed_stream_dump(&payload[..payload.len() - 12]).is_none());
    }

    #[test]
    fn stream_replies_agree_but_for_their_clocks() {
        let int = Frame::Integer;
        let consumer = |seen: i64, pel: i64| {
            Frame::Array(vec![
                bulk("name"),
                bulk("c1"),
                bulk("seen-time"),
                int(seen),
                bulk("pel-count"),
                int(pel),
                bulk("pending"),
                Frame::Array(vec![Frame::Array(vec![bulk("1-1"), int(seen), int(1)])]),
            ])
        };
        let info = |seen: i64, nodes: i64, read: i64, pel: i64| {
            Frame::Array(vec![
                bulk("length"),
                int(1),
                bulk("radix-tree-nodes"),
                int(nodes),
                bulk("entries"),
                Frame::Array(vec![Frame::Array(vec![
                    bulk("1-1"),
                    Frame::Array(vec![bulk("idle"), bulk("5")]),
                ])]),
                bulk("groups"),
                Frame::Array(vec![Frame::Array(vec![
                    bulk("name"),
                    bulk("g1"),
                    bulk("entries-read"),
                    int(read),
                    bulk("pending"),
                    Frame::Array(vec![Frame::Array(vec![
                        bulk("1-1"),
                        bulk("c1"),
                        int(seen),
                        int(1),
                    ])]),
                    bulk("consumers"),
                    Frame::Array(vec![consumer(seen, pel)]),
                ])]),
            ])
        };
        let live = StreamLoose::Live;
        let replayed = StreamLoose::Replayed {
            layout_may_differ: false,
        };
        let same = |a: &Frame, b: &Frame, loose| {
            untimed_stream_reply(a, loose) == untimed_stream_reply(b, loose)
        };
        assert!(same(&info(100, 2, 1, 1), &info(107, 5, 1, 1), live));
        assert!(!same(&info(100, 2, 1, 1), &info(100, 2, 2, 1), live));
        assert!(same(&info(100, 2, 1, 1), &info(100, 2, 2, 1), replayed));
        assert!(!same(&info(100, 2, 1, 1), &info(100, 2, 1, 2), live));
        assert!(Norm::StreamTimes.agree(&info(100, 2, 1, 1), &info(107, 2, 1, 1)));
        // An entry's own field called `idle` is data.
        let mut other = info(100, 2, 1, 1);
        if let Frame::Array(items) = &mut other {
            items[5] = Frame::Array(vec![Frame::Array(vec![
                bulk("1-1"),
                Frame::Array(vec![bulk("idle"), bulk("6")]),
            ])]);
        }
        assert!(!Norm::StreamTimes.agree(&info(100, 2, 1, 1), &other));
        // XPENDING's entries: the idle time only.
        let pending = |idle: i64, count: i64| {
            Frame::Array(vec![Frame::Array(vec![
                bulk("1-1"),
                bulk("c1"),
                int(idle),
                int(count),
            ])])
        };
        assert!(Norm::StreamTimes.agree(&pending(3, 1), &pending(9, 1)));
        assert!(!Norm::StreamTimes.agree(&pending(3, 1), &pending(3, 2)));
        // XPENDING's summary is exact.
        let summary = |n: i64| {
            Frame::Array(vec![
                int(n),
                bulk("1-1"),
                bulk("2-1"),
                Frame::Array(vec![Frame::Array(vec![bulk("c1"), bulk("2")])]),
            ])
        };
        assert!(!Norm::StreamTimes.agree(&summary(2), &summary(3)));
    }

    #[test]
    fn ttls_are_approximate_but_missing_keys_are_not() {
        let t = Norm::Approx(30);
        assert!(t.agree(&Frame::Integer(100), &Frame::Integer(99)));
        assert!(!t.agree(&Frame::Integer(100), &Frame::Integer(-2)));
        assert!(!t.agree(&Frame::Integer(100), &Frame::Integer(1000)));
    }
}
