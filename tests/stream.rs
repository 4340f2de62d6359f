//! Streams: what a differential script cannot reach.
//!
//! # Layout
//!
//! 1. **The model test** ([`model_test`]): seeded random sequences of
//!    thousands of writes on three keys, each reply checked byte for byte
//!    against [`Stream`], a reference kept by the test (the entries in a
//!    `BTreeMap` by ID, the last generated ID, the largest deleted ID and
//!    the count of entries ever added). The writes: XADD with explicit IDs
//!    (`ms-seq`, `ms` alone, `ms-*`, IDs at or below the top item, 0-0),
//!    with `*` (the generated ID is read from the reply and must be above
//!    the previous last ID), with NOMKSTREAM, and with MAXLEN or MINID
//!    trimming, exact (modelled exactly) or approximate (`~`, LIMIT or
//!    not: only the invariants are checked, since which entries go depends
//!    on how the server cut the stream into nodes: it removes a prefix of
//!    the entries, no more than exact trimming would and no more than the
//!    LIMIT, and XTRIM's reply and a following XLEN agree with that; the
//!    model then drops that prefix); XDEL; XTRIM; XSETID with ENTRIESADDED
//!    and MAXDELETEDID (forward, backward down to the top item, on an
//!    empty stream, and every error); a stream exhausted at the largest ID;
//!    a sequence number at its largest; DEL. After every batch, every key
//!    is read back: XLEN, EXISTS, XINFO STREAM (every field but the two
//!    radix-tree counts, which describe the server's nodes), XRANGE and
//!    XREVRANGE with random bounds (`-`, `+`, complete IDs, `ms` alone,
//!    exclusive `(` forms, the two that overflow) and COUNT (0 included),
//!    and XREAD on several keys at once from random IDs and `$`.
//!
//!    One run uses the default node limits, another sets
//!    `stream-node-max-entries` and `stream-node-max-bytes` small with
//!    CONFIG SET, so that the streams span many nodes and approximate
//!    trimming has nodes to remove. Each run checks at the end that the
//!    events it is meant to cover happened.
//!
//! 2. **Blocking reads**: XREAD BLOCK on several streams served from the
//!    one written (and only that one named in the reply), `$` resolved when
//!    the command blocks, timeouts, twenty readers served by one XADD,
//!    XREADGROUP BLOCK served by an XADD (the entry then pending for that
//!    consumer, or not with NOACK), two group readers of which one XADD
//!    serves only the first, the group destroyed or the key deleted under
//!    a waiter (Redis 7.0 answers a group reader with an error and leaves
//!    an XREAD waiter blocked), CLIENT UNBLOCK, and an XADD inside MULTI
//!    serving after EXEC. Waits poll INFO's `blocked_clients`; nothing
//!    sleeps.
//!
//! 3. **Persistence**: a dataset of streams ([`fill_streams`]: many nodes,
//!    deleted entries, entries with the master entry's fields and with
//!    others, integer-like and binary values, several consumer groups,
//!    consumers with and without pending entries, delivery counts above 1,
//!    pending entries whose entry was deleted, an emptied stream with
//!    XSETID metadata, a deadline) carried through RDB files both ways
//!    between the server under test and redis-server, through DUMP and
//!    RESTORE both ways (byte-equal payloads where the data does not hold
//!    clock readings, see [`dump_payloads_match_redis_and_restore_on_either_server`]),
//!    and through the AOF: a restart with `appendonly yes` after a workload
//!    of XADD *, XREADGROUP (blocking ones served included), XACK, XCLAIM,
//!    XAUTOCLAIM, XTRIM ~, XDEL and XGROUP subcommands, and with
//!    `aof-use-rdb-preamble no` after a BGREWRITEAOF. Every key is read
//!    back whole ([`read_data`]: XRANGE, XINFO STREAM FULL, XINFO GROUPS,
//!    XPENDING in both forms, XINFO CONSUMERS), with only what a clock
//!    decides masked ([`Masks`]).
//!
//! # The server under test
//!
//! By default the tests run against ferrokv. With
//! `FERROKV_STREAM_TEST_SERVER=redis` they run against redis-server
//! instead (the reference side of the persistence tests is redis-server
//! either way), which is how the model and every expectation here were
//! checked (against redis-server 7.0.15):
//!
//! ```text
//! FERROKV_STREAM_TEST_SERVER=redis cargo test --release --test stream
//! ```
//!
//! Tests that need redis-server print a skip line and pass when it is not
//! on `PATH`, as the other differential tests do.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use common::replies::{bulk, call, check_rdb, expect_reply, info_field, int, ok, select, shown};
use common::{Client, Frame, Server, escape, parse_frame};
use ferrokv::util::Rng;

/// How long a polled condition may take. It only turns a hang into a
/// failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

/// The environment variable that selects the server under test.
const SERVER_ENV: &str = "FERROKV_STREAM_TEST_SERVER";

/// Starts the server under test with `args` after the test arguments and
/// `files` in its directory (see `common::start_under_test_with`).
fn start_under_test_with(what: &str, args: &[&str], files: &[(&str, &[u8])]) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, args, files)
}

fn start_under_test(what: &str) -> Option<Server> {
    start_under_test_with(what, &[], &[])
}

/// Starts redis-server as the reference; `None`, after a skip line naming
/// `what`, when it is not on `PATH`.
fn start_reference_with(what: &str, args: &[&str], files: &[(&str, &[u8])]) -> Option<Server> {
    let server = common::start_redis_with(args, files);
    if server.is_none() {
        println!("SKIPPED: redis-server not found on PATH; {what} not run");
    }
    server
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// A command as owned arguments.
type Args = Vec<Vec<u8>>;

fn args_of<A: AsRef<[u8]>>(parts: &[A]) -> Args {
    parts.iter().map(|p| p.as_ref().to_vec()).collect()
}

fn bulk_frame(bytes: &[u8]) -> Frame {
    Frame::Bulk(bytes.to_vec())
}

fn error_frame(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec())
}

fn decoded(raw: &[u8]) -> Frame {
    match parse_frame(raw) {
        Ok(Some((frame, _))) => frame,
        _ => unreachable!("Client returns exactly one complete reply"),
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// A stream entry ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Id {
    ms: u64,
    seq: u64,
}

impl Id {
    const ZERO: Id = Id { ms: 0, seq: 0 };
    const MAX: Id = Id {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    fn new(ms: u64, seq: u64) -> Id {
        Id { ms, seq }
    }

    fn text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }

    fn incr(self) -> Option<Id> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(Id::new(ms + 1, 0)),
            (ms, seq) => Some(Id::new(ms, seq + 1)),
        }
    }

    fn decr(self) -> Option<Id> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(Id::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(Id::new(ms, seq - 1)),
        }
    }

    /// An ID as a reply writes it.
    fn parse(text: &[u8]) -> Option<Id> {
        let text = std::str::from_utf8(text).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(Id::new(ms.parse().ok()?, seq.parse().ok()?))
    }

    fn frame(self) -> Frame {
        Frame::Bulk(self.text().into_bytes())
    }
}

/// An entry's field-value pairs, in order.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// One stream as Redis 7.0 keeps it, nodes aside.
#[derive(Clone, Debug, Default)]
struct Stream {
    entries: BTreeMap<Id, Fields>,
    last_id: Id,
    max_deleted: Id,
    entries_added: u64,
}

impl Stream {
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The ID of the first entry, 0-0 when there is none (XINFO's
    /// `recorded-first-entry-id`).
    fn first_id(&self) -> Id {
        self.entries.keys().next().copied().unwrap_or(Id::ZERO)
    }

    /// The ID of the last entry (the "top item" of the error messages).
    fn top_id(&self) -> Option<Id> {
        self.entries.keys().next_back().copied()
    }

    fn nth_id(&self, n: usize) -> Id {
        *self.entries.keys().nth(n).expect("an entry at that rank")
    }

    /// Drops the first `n` entries, as trimming does.
    fn drop_front(&mut self, n: usize) {
        for _ in 0..n {
            let first = self.first_id();
            self.entries.remove(&first);
        }
    }
}

fn entry_frame(id: Id, fields: &Fields) -> Frame {
    let mut flat = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        flat.push(bulk_frame(f));
        flat.push(bulk_frame(v));
    }
    Frame::Array(vec![id.frame(), Frame::Array(flat)])
}

fn entries_frame<'a>(entries: impl Iterator<Item = (&'a Id, &'a Fields)>) -> Frame {
    Frame::Array(entries.map(|(id, f)| entry_frame(*id, f)).collect())
}

/// The fields of XINFO STREAM in Redis 7.0.15, in order.
const INFO_FIELDS: [&str; 10] = [
    "length",
    "radix-tree-keys",
    "radix-tree-nodes",
    "last-generated-id",
    "max-deleted-entry-id",
    "entries-added",
    "recorded-first-entry-id",
    "groups",
    "first-entry",
    "last-entry",
];

/// XINFO STREAM's fields as the model has them: all but the radix-tree
/// counts, which describe how the server cut the stream into nodes.
fn info_expected(s: &Stream) -> Vec<(&'static str, Frame)> {
    let edge = |e: Option<(&Id, &Fields)>| e.map_or(Frame::NullBulk, |(id, f)| entry_frame(*id, f));
    vec![
        ("length", Frame::Integer(s.len() as i64)),
        ("last-generated-id", s.last_id.frame()),
        ("max-deleted-entry-id", s.max_deleted.frame()),
        ("entries-added", Frame::Integer(s.entries_added as i64)),
        ("recorded-first-entry-id", s.first_id().frame()),
        ("groups", Frame::Integer(0)),
        ("first-entry", edge(s.entries.iter().next())),
        ("last-entry", edge(s.entries.iter().next_back())),
    ]
}

/// The field-value pairs of a reply that is a flat array of them.
fn reply_pairs(frame: &Frame) -> Option<Vec<(String, &Frame)>> {
    let Frame::Array(items) = frame else {
        return None;
    };
    if items.len() % 2 != 0 {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| match pair {
            [Frame::Bulk(name), value] => Some((String::from_utf8_lossy(name).into_owned(), value)),
            _ => None,
        })
        .collect()
}

/// How a read's reply is checked.
enum Expect {
    /// Byte for byte.
    Reply(Frame),
    /// An XINFO STREAM reply: its field names must be [`INFO_FIELDS`], and
    /// these fields must have these values.
    Info(Vec<(&'static str, Frame)>),
}

/// A range bound as written in XRANGE, XREVRANGE or XREAD.
#[derive(Clone, Copy, Debug)]
enum Bound {
    Min,
    Max,
    Id {
        id: Id,
        /// Written as `ms` alone: the sequence is 0 for a start, the
        /// largest for an end.
        ms_only: bool,
        exclusive: bool,
    },
}

impl Bound {
    fn text(self) -> String {
        match self {
            Bound::Min => "-".into(),
            Bound::Max => "+".into(),
            Bound::Id {
                id,
                ms_only,
                exclusive,
            } => {
                let body = if ms_only {
                    id.ms.to_string()
                } else {
                    id.text()
                };
                if exclusive { format!("({body}") } else { body }
            }
        }
    }

    /// The lowest ID the bound admits as a range's start.
    fn start(self) -> Result<Id, &'static str> {
        match self {
            Bound::Min => Ok(Id::ZERO),
            Bound::Max => Ok(Id::MAX),
            Bound::Id {
                id,
                ms_only,
                exclusive,
            } => {
                let id = if ms_only { Id::new(id.ms, 0) } else { id };
                if exclusive {
                    id.incr().ok_or("ERR invalid start ID for the interval")
                } else {
                    Ok(id)
                }
            }
        }
    }

    /// The highest ID the bound admits as a range's end.
    fn end(self) -> Result<Id, &'static str> {
        match self {
            Bound::Min => Ok(Id::ZERO),
            Bound::Max => Ok(Id::MAX),
            Bound::Id {
                id,
                ms_only,
                exclusive,
            } => {
                let id = if ms_only {
                    Id::new(id.ms, u64::MAX)
                } else {
                    id
                };
                if exclusive {
                    id.decr().ok_or("ERR invalid end ID for the interval")
                } else {
                    Ok(id)
                }
            }
        }
    }
}

/// A trimming clause of XADD or XTRIM.
#[derive(Clone, Debug)]
struct Trim {
    /// MINID's threshold (and how it is written), or None for MAXLEN.
    minid: Option<(Id, String)>,
    maxlen: usize,
    approx: bool,
    /// `=` written (exact trimming either way).
    eq: bool,
    limit: Option<u64>,
}

impl Trim {
    fn args(&self) -> Args {
        let mut args: Args = Vec::new();
        match &self.minid {
            Some(_) => args.push(b"MINID".to_vec()),
            None => args.push(b"MAXLEN".to_vec()),
        }
        if self.approx {
            args.push(b"~".to_vec());
        } else if self.eq {
            args.push(b"=".to_vec());
        }
        match &self.minid {
            Some((_, text)) => args.push(text.clone().into_bytes()),
            None => args.push(self.maxlen.to_string().into_bytes()),
        }
        if let Some(limit) = self.limit {
            args.push(b"LIMIT".to_vec());
            args.push(limit.to_string().into_bytes());
        }
        args
    }

    /// How many entries exact trimming removes from `s`.
    fn exact_removal(&self, s: &Stream) -> usize {
        match &self.minid {
            Some((id, _)) => s.entries.range(..*id).count(),
            None => s.len().saturating_sub(self.maxlen),
        }
    }
}

const LIMIT_WITHOUT_TILDE: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";
const ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
const EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
/// What Redis 7.0.15 answers to `ms-*` when the last ID is `ms` with the
/// largest sequence (not the "equal or smaller" error).
const TOO_LARGE: &str = "ERR Elements are too large to be stored";
const SETID_TOP: &str = "ERR The ID specified in XSETID is smaller than the target stream top item";
const SETID_ADDED: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";
const SETID_MAXDEL: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
const NO_SUCH_KEY: &str = "ERR no such key";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// The events a run must have seen, counted.
#[derive(Debug, Default)]
struct Coverage {
    explicit_adds: usize,
    auto_adds: usize,
    partial_adds: usize,
    add_errors: usize,
    zero_id_errors: usize,
    exhausted: usize,
    too_large: usize,
    nomkstream_nulls: usize,
    exact_trims: usize,
    approx_trims: usize,
    approx_short_of_exact: usize,
    approx_limited: usize,
    deleted: usize,
    setid_backward: usize,
    setid_on_empty: usize,
    setid_errors: usize,
    emptied: usize,
    recreated: usize,
    range_errors: usize,
    null_counts: usize,
    xread_nulls: usize,
    max_nodes_seen: usize,
    max_len_seen: usize,
}

/// The stream keys of the model test, and one never written.
const KEYS: [&str; 3] = ["st:a", "st:b", "st:c"];
const ABSENT: &str = "st:none";
const STRING: &str = "string";

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

/// Field names: a few recurring sets (so that entries often have their
/// node's master fields), integer-like, binary and empty names, and a
/// repeated name.
const FIELD_SETS: [&[&[u8]]; 7] = [
    &[b"a"],
    &[b"a", b"b"],
    &[b"name", b"value", b"n"],
    &[b"1", b"\x00\xff"],
    &[b""],
    &[b"a", b"a"],
    &[b"-5", b"x", b"y", b"z"],
];

/// Values a listpack encodes as integers of each width, and strings that
/// only look like integers.
const INTLIKE: [&str; 19] = [
    "0",
    "-1",
    "127",
    "-128",
    "4095",
    "-4096",
    "32767",
    "-32768",
    "8388607",
    "-8388608",
    "2147483647",
    "-2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "007",
    "1e3",
    "+1",
    "-0",
];

fn random_value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(40) {
        0..=11 => pick(rng, &INTLIKE).as_bytes().to_vec(),
        12..=19 => (rng.below(100_000) as i64 - 500).to_string().into_bytes(),
        20..=23 => {
            let len = rng.below(9) as usize;
            common::random_bytes(rng, len)
        }
        24 => Vec::new(),
        25 => {
            let len = 65 + rng.below(240) as usize;
            common::random_bytes(rng, len)
        }
        _ => format!("v{}", rng.below(1000)).into_bytes(),
    }
}

struct ModelTest {
    rng: Rng,
    streams: BTreeMap<Vec<u8>, Stream>,
    /// The wall clock when the run began: `*` IDs are at least this.
    start_ms: u64,
    cov: Coverage,
    /// The last commands sent, for failure messages.
    recent: Vec<String>,
    context: String,
    /// The keys ever created.
    created: BTreeSet<Vec<u8>>,
}

impl ModelTest {
    fn new(seed: u64, context: String) -> ModelTest {
        ModelTest {
            rng: Rng::new(seed),
            streams: BTreeMap::new(),
            start_ms: common::unix_ms() as u64,
            cov: Coverage::default(),
            recent: Vec::new(),
            context,
            created: BTreeSet::new(),
        }
    }

    fn send(&mut self, c: &mut Client, args: &Args) -> Vec<u8> {
        if self.recent.len() == 12 {
            self.recent.remove(0);
        }
        self.recent.push(shown(args));
        c.cmd(args)
    }

    fn fail(&self, what: &str, args: &Args, expected: &[u8], actual: &[u8]) -> ! {
        panic!(
            "{}: {what}\ncommand: [{}]\nexpected: {}\n     got: {}\n{}\nthe commands before it:\n  {}",
            self.context,
            shown(args),
            common::replies::shown_reply(expected),
            common::replies::shown_reply(actual),
            common::replies::first_difference(expected, actual),
            self.recent.join("\n  ")
        )
    }

    /// Sends `args`, whose reply must be `expected`.
    fn expect(&mut self, c: &mut Client, args: &Args, expected: Frame) {
        let actual = self.send(c, args);
        let expected = expected.to_bytes();
        if actual != expected {
            self.fail("unexpected reply", args, &expected, &actual);
        }
    }

    /// Sends `args`, whose reply must be an integer, and returns it.
    fn integer(&mut self, c: &mut Client, args: &Args) -> usize {
        let actual = self.send(c, args);
        match decoded(&actual) {
            Frame::Integer(n) if n >= 0 => n as usize,
            _ => self.fail("expected an integer", args, b"", &actual),
        }
    }

    fn random_fields(&mut self, key: &[u8]) -> Fields {
        let first = self
            .streams
            .get(key)
            .and_then(|s| s.entries.values().next())
            .map(|f| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
        let names: Vec<Vec<u8>> = match first {
            Some(names) if self.rng.below(2) == 0 => names,
            _ => pick(&mut self.rng, &FIELD_SETS)
                .iter()
                .map(|n| n.to_vec())
                .collect(),
        };
        names
            .into_iter()
            .map(|n| (n, random_value(&mut self.rng)))
            .collect()
    }

    fn stream(&self, key: &[u8]) -> Option<&Stream> {
        self.streams.get(key)
    }

    fn last_id(&self, key: &[u8]) -> Id {
        self.stream(key).map_or(Id::ZERO, |s| s.last_id)
    }

    /// An explicit ID for XADD: mostly one above the last ID, sometimes
    /// `ms-*`, sometimes one at or below the last ID, rarely 0-0.
    fn explicit_id(&mut self, key: &[u8]) -> String {
        let last = self.last_id(key);
        let roll = self.rng.below(40);
        let bump = |ms: u64, by: u64| ms.checked_add(by).unwrap_or(ms);
        match roll {
            0..=21 => {
                let ms = bump(last.ms, self.rng.below(3));
                let seq = if ms == last.ms {
                    last.seq.saturating_add(1 + self.rng.below(3))
                } else {
                    self.rng.below(4)
                };
                if seq == 0 && self.rng.below(2) == 0 {
                    ms.to_string()
                } else {
                    Id::new(ms, seq).text()
                }
            }
            22..=29 => format!("{}-*", bump(last.ms, self.rng.below(2))),
            30..=33 => {
                // At or below the last ID.
                let id = match self.rng.below(3) {
                    0 => last,
                    1 => last.decr().unwrap_or(last),
                    _ => Id::new(last.ms.saturating_sub(1), self.rng.below(5)),
                };
                if self.rng.below(3) == 0 {
                    format!("{}-*", id.ms)
                } else {
                    id.text()
                }
            }
            34 => pick(&mut self.rng, &["0-0", "0"]).to_string(),
            _ => Id::new(bump(last.ms, 1 + self.rng.below(1000)), self.rng.below(3)).text(),
        }
    }

    /// A trimming clause for a stream that will hold `len` entries.
    fn random_trim(&mut self, key: &[u8], len: usize, approx: bool) -> Trim {
        let long = key == KEYS[0].as_bytes();
        let minid = if self.rng.below(3) == 0 {
            let s = self.streams.get(key);
            let id = match s {
                Some(s) if s.len() > 0 && (long || self.rng.below(12) != 0) => {
                    let n = self.rng.below(s.len().min(if long { 3 } else { 6 }) as u64) as usize;
                    s.nth_id(n)
                }
                Some(s) => Id::new(s.last_id.ms, s.last_id.seq.saturating_add(1)),
                None => Id::new(self.rng.below(5), 0),
            };
            let ms_only = self.rng.below(3) == 0;
            let id = if ms_only { Id::new(id.ms, 0) } else { id };
            let text = if ms_only {
                id.ms.to_string()
            } else {
                id.text()
            };
            Some((id, text))
        } else {
            None
        };
        // Mostly a little below the length or at it, so that the streams
        // grow to a few hundred entries; rarely almost nothing.
        let maxlen = match self.rng.below(24) {
            _ if len > 400 => 200 + self.rng.below(50) as usize,
            _ if long && len > 250 => 180 + self.rng.below(50) as usize,
            _ if long && self.rng.below(4) != 0 => len + self.rng.below(2) as usize,
            0 if !long => self.rng.below(3) as usize,
            1..=10 => len + self.rng.below(2) as usize,
            _ => len.saturating_sub(1 + self.rng.below(4) as usize),
        };
        let limit = if approx && self.rng.below(3) == 0 {
            Some(match self.rng.below(4) {
                0 => 0,
                _ => 1 + self.rng.below(25),
            })
        } else {
            None
        };
        Trim {
            minid,
            maxlen,
            approx,
            eq: self.rng.below(2) == 0,
            limit,
        }
    }

    /// Applies an exact trim to the model.
    fn trim_exact(&mut self, key: &[u8], trim: &Trim) -> usize {
        let s = self.streams.get_mut(key).expect("a stream to trim");
        let n = trim.exact_removal(s);
        s.drop_front(n);
        if n > 0 {
            self.cov.exact_trims += 1;
        }
        n
    }

    /// Checks that an approximate trim removed `removed` entries (a prefix,
    /// no more than exact trimming would, no more than its LIMIT) and
    /// applies that to the model.
    fn trim_approx(&mut self, key: &[u8], trim: &Trim, removed: usize, args: &Args) {
        let s = self.streams.get_mut(key).expect("a stream to trim");
        let exact = trim.exact_removal(s);
        let limit = trim
            .limit
            .filter(|l| *l > 0)
            .map_or(usize::MAX, |l| l as usize);
        if removed > exact || removed > limit {
            let message = format!(
                "approximate trimming removed {removed} entries; exact trimming removes {exact}, the LIMIT is {limit}"
            );
            self.fail(&message, args, b"", b"");
        }
        s.drop_front(removed);
        if removed > 0 {
            self.cov.approx_trims += 1;
        }
        if removed < exact {
            self.cov.approx_short_of_exact += 1;
            if limit < exact {
                self.cov.approx_limited += 1;
            }
        }
    }

    /// XADD in any form; `id` is the explicit ID's text, None for `*`.
    fn xadd(
        &mut self,
        c: &mut Client,
        key: &[u8],
        id: Option<String>,
        trim: Option<Trim>,
        nomk: bool,
    ) {
        let fields = self.random_fields(key);
        let mut args = args_of(&[b"XADD".as_slice(), key]);
        if nomk {
            args.push(b"NOMKSTREAM".to_vec());
        }
        if let Some(t) = &trim {
            args.extend(t.args());
        }
        args.push(id.clone().unwrap_or_else(|| "*".into()).into_bytes());
        for (f, v) in &fields {
            args.push(f.clone());
            args.push(v.clone());
        }
        // What the ID argument asks for: (ms, Some(seq)) or (ms, None) for
        // `ms-*`.
        let wanted: Option<(u64, Option<u64>)> = id.as_ref().map(|text| {
            if let Some(ms) = text.strip_suffix("-*") {
                (ms.parse().expect("ms"), None)
            } else if let Some((ms, seq)) = text.split_once('-') {
                (ms.parse().expect("ms"), Some(seq.parse().expect("seq")))
            } else {
                (text.parse().expect("ms"), Some(0))
            }
        });
        if let Some((0, Some(0))) = wanted {
            self.cov.zero_id_errors += 1;
            return self.expect(c, &args, error_frame(ID_ZERO));
        }
        let existed = self.streams.contains_key(key);
        if !existed && nomk {
            self.cov.nomkstream_nulls += 1;
            return self.expect(c, &args, Frame::NullBulk);
        }
        let last = self.last_id(key);
        if last == Id::MAX {
            self.cov.exhausted += 1;
            return self.expect(c, &args, error_frame(EXHAUSTED));
        }
        let new_id = match wanted {
            None => None,
            Some((ms, Some(seq))) => Some(Id::new(ms, seq)),
            Some((ms, None)) if ms == last.ms && last.seq == u64::MAX => {
                self.cov.too_large += 1;
                return self.expect(c, &args, error_frame(TOO_LARGE));
            }
            Some((ms, None)) if ms == last.ms => Some(Id::new(ms, last.seq + 1)),
            Some((ms, None)) => {
                self.cov.partial_adds += 1;
                Some(Id::new(ms, 0))
            }
        };
        if let Some(new_id) = new_id
            && new_id <= last
        {
            self.cov.add_errors += 1;
            return self.expect(c, &args, error_frame(ID_TOO_SMALL));
        }
        if !existed && !self.created.insert(key.to_vec()) {
            self.cov.recreated += 1;
        }
        let new_id = match new_id {
            Some(new_id) => {
                self.expect(c, &args, new_id.frame());
                self.cov.explicit_adds += 1;
                new_id
            }
            None => {
                let reply = self.send(c, &args);
                let generated = match decoded(&reply) {
                    Frame::Bulk(text) => Id::parse(&text),
                    _ => None,
                };
                let Some(generated) = generated.filter(|g| *g > last && g.ms >= self.start_ms)
                else {
                    let message = format!(
                        "a generated ID above the last ID {} and not before the run began ({} ms)",
                        last.text(),
                        self.start_ms
                    );
                    self.fail(&message, &args, b"", &reply);
                };
                self.cov.auto_adds += 1;
                generated
            }
        };
        let s = self.streams.entry(key.to_vec()).or_default();
        let len_before = s.len() + 1;
        s.entries.insert(new_id, fields);
        s.last_id = new_id;
        s.entries_added += 1;
        match trim {
            Some(t) if t.approx => {
                let xlen = args_of(&[b"XLEN".as_slice(), key]);
                let len = self.integer(c, &xlen);
                if len > len_before {
                    self.fail("XLEN after XADD ~ grew", &xlen, b"", b"");
                }
                self.trim_approx(key, &t, len_before - len, &args);
            }
            Some(t) => {
                self.trim_exact(key, &t);
            }
            None => {}
        }
    }

    fn xdel(&mut self, c: &mut Client, key: &[u8]) {
        let n = 1 + self.rng.below(4);
        let mut ids = Vec::new();
        let mut texts = Vec::new();
        for _ in 0..n {
            let s = self.streams.get(key);
            let id = match (s, self.rng.below(10)) {
                (Some(s), 0..=6) if s.len() > 0 => {
                    s.nth_id(self.rng.below(s.len() as u64) as usize)
                }
                (_, 7) if !ids.is_empty() => *pick(&mut self.rng, &ids),
                (Some(s), _) => Id::new(s.last_id.ms, s.last_id.seq.saturating_add(1)),
                (None, _) => Id::new(self.rng.below(10), 0),
            };
            let text = if id.seq == 0 && self.rng.below(2) == 0 {
                id.ms.to_string()
            } else {
                id.text()
            };
            ids.push(id);
            texts.push(text);
        }
        let mut args = args_of(&[b"XDEL".as_slice(), key]);
        args.extend(texts.into_iter().map(String::into_bytes));
        let mut deleted = 0;
        if let Some(s) = self.streams.get_mut(key) {
            for id in &ids {
                if s.entries.remove(id).is_some() {
                    deleted += 1;
                    s.max_deleted = s.max_deleted.max(*id);
                }
            }
            if deleted > 0 && s.len() == 0 {
                self.cov.emptied += 1;
            }
        }
        self.cov.deleted += deleted;
        self.expect(c, &args, Frame::Integer(deleted as i64));
    }

    fn xtrim(&mut self, c: &mut Client, key: &[u8], approx: bool) {
        let len = self.stream(key).map_or(0, Stream::len);
        let mut trim = self.random_trim(key, len, approx);
        if !approx && self.rng.below(15) == 0 {
            // LIMIT without `~` is refused, whatever the key.
            trim.limit = Some(self.rng.below(10));
            let mut args = args_of(&[b"XTRIM".as_slice(), key]);
            args.extend(trim.args());
            return self.expect(c, &args, error_frame(LIMIT_WITHOUT_TILDE));
        }
        let mut args = args_of(&[b"XTRIM".as_slice(), key]);
        args.extend(trim.args());
        if self.stream(key).is_none() {
            return self.expect(c, &args, Frame::Integer(0));
        }
        if approx {
            let removed = self.integer(c, &args);
            self.trim_approx(key, &trim, removed, &args);
        } else {
            let removed = self.trim_exact(key, &trim);
            self.expect(c, &args, Frame::Integer(removed as i64));
        }
        if self.stream(key).is_some_and(|s| s.len() == 0) {
            self.cov.emptied += 1;
        }
    }

    fn xsetid(&mut self, c: &mut Client, key: &[u8]) {
        let s = self.stream(key).cloned();
        let last = s.as_ref().map_or(Id::ZERO, |s| s.last_id);
        let top = s.as_ref().and_then(Stream::top_id);
        let len = s.as_ref().map_or(0, Stream::len);
        let id = match self.rng.below(10) {
            0..=4 => Id::new(
                last.ms.saturating_add(self.rng.below(4)),
                self.rng.below(1 << 20),
            )
            .max(last),
            5..=7 => match top {
                // Backward, down to the top item.
                Some(top) if self.rng.below(2) == 0 => top,
                Some(top) => Id::new(top.ms, top.seq.saturating_add(self.rng.below(3))),
                None => Id::new(self.rng.below(4), self.rng.below(3)),
            },
            _ => match top {
                Some(top) if top > Id::ZERO => top.decr().expect("above 0-0"),
                _ => Id::new(last.ms.saturating_add(1), 0),
            },
        };
        let mut args = args_of(&[b"XSETID".as_slice(), key, id.text().as_bytes()]);
        let mut added = None;
        let mut maxdel = None;
        if self.rng.below(3) == 0 {
            let n = if len > 0 && self.rng.below(4) == 0 {
                len as u64 - 1
            } else {
                len as u64 + self.rng.below(5)
            };
            added = Some(n);
            args.push(b"ENTRIESADDED".to_vec());
            args.push(n.to_string().into_bytes());
        }
        if self.rng.below(3) == 0 {
            let m = match self.rng.below(6) {
                0 => id.incr().unwrap_or(id),
                1 => Id::ZERO,
                2 => id,
                _ => Id::new(self.rng.below(id.ms.saturating_add(1)), self.rng.below(5)).min(id),
            };
            maxdel = Some(m);
            args.push(b"MAXDELETEDID".to_vec());
            args.push(m.text().into_bytes());
        }
        let error = if maxdel.is_some_and(|m| m > id) {
            Some(SETID_MAXDEL)
        } else if s.is_none() {
            Some(NO_SUCH_KEY)
        } else if top.is_some_and(|top| id < top) {
            Some(SETID_TOP)
        } else if len > 0 && added.is_some_and(|n| n < len as u64) {
            Some(SETID_ADDED)
        } else {
            None
        };
        if let Some(error) = error {
            self.cov.setid_errors += 1;
            return self.expect(c, &args, error_frame(error));
        }
        let s = self.streams.get_mut(key).expect("checked above");
        if id < s.last_id {
            self.cov.setid_backward += 1;
        }
        if s.len() == 0 {
            self.cov.setid_on_empty += 1;
        }
        s.last_id = id;
        if let Some(n) = added {
            s.entries_added = n;
        }
        if let Some(m) = maxdel.filter(|m| *m != Id::ZERO) {
            s.max_deleted = m;
        }
        self.expect(c, &args, Frame::Simple(b"OK".to_vec()));
    }

    /// XSETID backward on an emptied stream, once for sure: whether the
    /// random writes get there depends on the clock (the `*` IDs).
    fn cover_setid(&mut self, c: &mut Client) {
        const KEY: &str = "st:setid-cover";
        self.expect(
            c,
            &args_of(&["XADD", KEY, "5-1", "f", "v"]),
            Id::new(5, 1).frame(),
        );
        self.expect(c, &args_of(&["XDEL", KEY, "5-1"]), Frame::Integer(1));
        self.expect(
            c,
            &args_of(&["XSETID", KEY, "3-0"]),
            Frame::Simple(b"OK".to_vec()),
        );
        self.expect(c, &args_of(&["XLEN", KEY]), Frame::Integer(0));
        self.expect(c, &args_of(&["DEL", KEY]), Frame::Integer(1));
        self.cov.setid_on_empty += 1;
        self.cov.setid_backward += 1;
    }

    /// The last ID set to the largest: every XADD form then fails; the
    /// key is deleted afterwards.
    fn exhaust(&mut self, c: &mut Client, key: &[u8]) {
        if self.stream(key).is_none() {
            return;
        }
        let args = args_of(&[b"XSETID".as_slice(), key, Id::MAX.text().as_bytes()]);
        self.expect(c, &args, Frame::Simple(b"OK".to_vec()));
        self.streams.get_mut(key).expect("exists").last_id = Id::MAX;
        self.xadd(c, key, None, None, false);
        let explicit = self.explicit_id(key);
        self.xadd(c, key, Some(explicit), None, false);
        let del = args_of(&[b"DEL".as_slice(), key]);
        self.expect(c, &del, Frame::Integer(1));
        self.streams.remove(key);
    }

    /// The last ID's sequence set to the largest: `ms-*` then fails
    /// (with Redis 7.0.15's odd message), `*` moves on.
    fn max_sequence(&mut self, c: &mut Client, key: &[u8]) {
        let Some(s) = self.stream(key) else {
            return;
        };
        let Some(ms) = s.last_id.ms.checked_add(1 + self.rng.below(2)) else {
            return;
        };
        let id = Id::new(ms, u64::MAX);
        let args = args_of(&[b"XSETID".as_slice(), key, id.text().as_bytes()]);
        self.expect(c, &args, Frame::Simple(b"OK".to_vec()));
        self.streams.get_mut(key).expect("exists").last_id = id;
        self.xadd(c, key, Some(format!("{ms}-*")), None, false);
        self.xadd(c, key, None, None, false);
    }

    fn random_write(&mut self, c: &mut Client) {
        // The first key half the time, and never emptied on purpose, so
        // that it grows to a few hundred entries.
        let key = if self.rng.below(2) == 0 {
            KEYS[0]
        } else {
            *pick(&mut self.rng, &KEYS)
        };
        let key = key.as_bytes().to_vec();
        let long = key == KEYS[0].as_bytes();
        match self.rng.below(100) {
            90 | 92 if long => self.xadd(c, &key, None, None, false),
            0..=31 => {
                let id = self.explicit_id(&key);
                self.xadd(c, &key, Some(id), None, false);
            }
            32..=41 => self.xadd(c, &key, None, None, false),
            roll @ 42..=59 => {
                let approx = roll >= 52;
                let len = self.stream(&key).map_or(0, Stream::len) + 1;
                let trim = self.random_trim(&key, len, approx);
                let id = if self.rng.below(2) == 0 {
                    Some(self.explicit_id(&key))
                } else {
                    None
                };
                self.xadd(c, &key, id, Some(trim), false);
            }
            60..=69 => self.xdel(c, &key),
            70..=76 => self.xtrim(c, &key, false),
            77..=83 => self.xtrim(c, &key, true),
            84..=89 => self.xsetid(c, &key),
            90 => self.exhaust(c, &key),
            91 => self.max_sequence(c, &key),
            92 => {
                let existed = self.streams.remove(&key).is_some();
                let args = args_of(&[b"DEL".as_slice(), &key]);
                self.expect(c, &args, Frame::Integer(existed as i64));
            }
            93..=94 => {
                let key = if self.rng.below(2) == 0 {
                    ABSENT.as_bytes().to_vec()
                } else {
                    key
                };
                let id = (self.rng.below(2) == 0).then(|| self.explicit_id(&key));
                self.xadd(c, &key, id, None, true);
            }
            95 => {
                let len = self.stream(&key).map_or(0, Stream::len) + 1;
                let mut trim = self.random_trim(&key, len, false);
                trim.limit = Some(self.rng.below(10));
                let mut args = args_of(&[b"XADD".as_slice(), &key]);
                args.extend(trim.args());
                args.extend(args_of(&["*", "f", "v"]));
                self.expect(c, &args, error_frame(LIMIT_WITHOUT_TILDE));
            }
            96 => {
                let args = args_of(&["XADD", STRING, "*", "f", "v"]);
                self.expect(c, &args, error_frame(WRONGTYPE));
            }
            _ => self.xsetid(c, ABSENT.as_bytes()),
        }
    }

    /// A bound for a range read of `key`: `-`, `+`, or an ID near the
    /// stream's entries, complete or `ms` alone, exclusive or not.
    fn random_bound(&mut self, key: &[u8]) -> Bound {
        let s = self.streams.get(key);
        let id = match (s, self.rng.below(24)) {
            (_, 0..=2) => return Bound::Min,
            (_, 3..=5) => return Bound::Max,
            (_, 6) => Id::ZERO,
            (_, 7) => Id::MAX,
            (Some(s), 8..=19) if s.len() > 0 => {
                let id = s.nth_id(self.rng.below(s.len() as u64) as usize);
                match self.rng.below(4) {
                    0 => id.incr().unwrap_or(id),
                    1 => id.decr().unwrap_or(id),
                    _ => id,
                }
            }
            (Some(s), 20..=21) => s.last_id,
            (Some(s), _) => s.max_deleted,
            (None, _) => Id::new(self.rng.below(5), self.rng.below(3)),
        };
        Bound::Id {
            id,
            ms_only: self.rng.below(4) == 0,
            exclusive: self.rng.below(4) == 0,
        }
    }

    /// XRANGE or XREVRANGE with random bounds, and COUNT half the time.
    fn range_read(&mut self, key: &[u8], whole: bool) -> (Args, Expect) {
        let rev = self.rng.below(3) == 0;
        let (start, end) = if whole {
            (Bound::Min, Bound::Max)
        } else {
            (self.random_bound(key), self.random_bound(key))
        };
        let count: Option<i64> = match self.rng.below(10) {
            _ if whole => None,
            0..=4 => None,
            5 => Some(self.rng.below(2) as i64 - 1),
            _ => Some(1 + self.rng.below(8) as i64),
        };
        let name: &[u8] = if rev { b"XREVRANGE" } else { b"XRANGE" };
        let mut args = args_of(&[name, key]);
        if rev {
            args.push(end.text().into_bytes());
            args.push(start.text().into_bytes());
        } else {
            args.push(start.text().into_bytes());
            args.push(end.text().into_bytes());
        }
        if let Some(n) = count {
            args.push(b"COUNT".to_vec());
            args.push(n.to_string().into_bytes());
        }
        let bounds = start.start().and_then(|lo| end.end().map(|hi| (lo, hi)));
        let expected = match bounds {
            Err(message) => {
                self.cov.range_errors += 1;
                error_frame(message)
            }
            Ok((lo, hi)) => match self.stream(key) {
                None => Frame::Array(Vec::new()),
                Some(_) if count.is_some_and(|n| n <= 0) => {
                    self.cov.null_counts += 1;
                    Frame::NullArray
                }
                Some(_) if lo > hi => Frame::Array(Vec::new()),
                Some(s) => {
                    let n = count.map_or(usize::MAX, |n| n as usize);
                    let range = s.entries.range(lo..=hi);
                    if rev {
                        entries_frame(range.rev().take(n))
                    } else {
                        entries_frame(range.take(n))
                    }
                }
            },
        };
        (args, Expect::Reply(expected))
    }

    /// XREAD of several keys (absent ones and repeats included) from
    /// random IDs, `$` among them.
    fn xread(&mut self) -> (Args, Expect) {
        let mut args = args_of(&["XREAD"]);
        let count = match self.rng.below(4) {
            0 => None,
            1 => Some(0),
            _ => Some(1 + self.rng.below(6) as usize),
        };
        if let Some(n) = count {
            args.extend(args_of(&["COUNT".to_string(), n.to_string()]));
        }
        args.push(b"STREAMS".to_vec());
        let n = 1 + self.rng.below(4) as usize;
        let keys: Vec<&str> = (0..n)
            .map(|_| {
                if self.rng.below(8) == 0 {
                    ABSENT
                } else {
                    *pick(&mut self.rng, &KEYS)
                }
            })
            .collect();
        let mut after = Vec::new();
        let mut texts = Vec::new();
        for key in &keys {
            let (id, text) = match self.rng.below(8) {
                0 => (self.last_id(key.as_bytes()), "$".to_string()),
                1 => (Id::ZERO, "0".to_string()),
                _ => match self.random_bound(key.as_bytes()) {
                    Bound::Id {
                        id, ms_only: true, ..
                    } => (Id::new(id.ms, 0), id.ms.to_string()),
                    Bound::Id { id, .. } => (id, id.text()),
                    _ => (Id::ZERO, "0-0".to_string()),
                },
            };
            after.push(id);
            texts.push(text);
        }
        args.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
        args.extend(texts.into_iter().map(String::into_bytes));
        let mut served = Vec::new();
        for (key, id) in keys.iter().zip(after) {
            let Some(s) = self.stream(key.as_bytes()) else {
                continue;
            };
            let Some(from) = id.incr() else {
                continue;
            };
            let n = count.filter(|n| *n > 0).unwrap_or(usize::MAX);
            let entries: Vec<Frame> = s
                .entries
                .range(from..)
                .take(n)
                .map(|(id, f)| entry_frame(*id, f))
                .collect();
            if !entries.is_empty() {
                served.push(Frame::Array(vec![
                    bulk_frame(key.as_bytes()),
                    Frame::Array(entries),
                ]));
            }
        }
        let expected = if served.is_empty() {
            self.cov.xread_nulls += 1;
            Frame::NullArray
        } else {
            Frame::Array(served)
        };
        (args, Expect::Reply(expected))
    }

    /// The reads after a batch of writes; `whole` reads every key whole.
    fn checks(&mut self, whole: bool) -> Vec<(Args, Expect)> {
        let mut reads = Vec::new();
        for key in KEYS.iter().chain([&ABSENT]) {
            let key = key.as_bytes();
            let s = self.streams.get(key);
            let len = s.map_or(0, Stream::len);
            self.cov.max_len_seen = self.cov.max_len_seen.max(len);
            reads.push((
                args_of(&[b"XLEN".as_slice(), key]),
                Expect::Reply(Frame::Integer(s.map_or(0, Stream::len) as i64)),
            ));
            reads.push((
                args_of(&[b"EXISTS".as_slice(), key]),
                Expect::Reply(Frame::Integer(s.is_some() as i64)),
            ));
            if let Some(s) = s {
                reads.push((
                    args_of(&[b"XINFO".as_slice(), b"STREAM", key]),
                    Expect::Info(info_expected(s)),
                ));
            } else {
                reads.push((
                    args_of(&[b"XINFO".as_slice(), b"STREAM", key]),
                    Expect::Reply(error_frame(NO_SUCH_KEY)),
                ));
            }
            if whole {
                reads.push(self.range_read(key, true));
            }
            for _ in 0..5 {
                reads.push(self.range_read(key, false));
            }
        }
        for _ in 0..4 {
            reads.push(self.xread());
        }
        reads.push((
            args_of(&["XLEN", STRING]),
            Expect::Reply(error_frame(WRONGTYPE)),
        ));
        reads
    }

    /// Runs `reads` pipelined and checks every reply.
    fn run_reads(&mut self, c: &mut Client, reads: &[(Args, Expect)]) {
        let commands: Vec<Args> = reads.iter().map(|(a, _)| a.clone()).collect();
        let replies = common::replies::pipeline_raw(c, &commands);
        for ((args, expect), actual) in reads.iter().zip(&replies) {
            match expect {
                Expect::Reply(frame) => {
                    let expected = frame.to_bytes();
                    if expected != *actual {
                        self.fail("unexpected reply to a read", args, &expected, actual);
                    }
                }
                Expect::Info(fields) => {
                    let frame = decoded(actual);
                    let Some(pairs) = reply_pairs(&frame) else {
                        self.fail("XINFO STREAM is not field-value pairs", args, b"", actual);
                    };
                    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
                    if names != INFO_FIELDS {
                        let message = format!("XINFO STREAM's fields are {names:?}");
                        self.fail(&message, args, b"", actual);
                    }
                    for (name, value) in fields {
                        let got = pairs
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| *v)
                            .expect("checked above");
                        if got != value {
                            let message = format!("XINFO STREAM's {name}");
                            self.fail(&message, args, &value.to_bytes(), &got.to_bytes());
                        }
                    }
                    if let Some((_, Frame::Integer(keys))) =
                        pairs.iter().find(|(n, _)| n == "radix-tree-keys")
                    {
                        self.cov.max_nodes_seen = self.cov.max_nodes_seen.max(*keys as usize);
                    }
                }
            }
        }
    }
}

const WRITES_PER_BATCH: usize = 60;
const BATCHES: usize = 60;
/// Every this many batches, the checks read every key whole.
const WHOLE_READ_EVERY: usize = 4;

/// Runs the model test with `seed` against a fresh server under test,
/// with `node_limits` (stream-node-max-entries, stream-node-max-bytes)
/// set by CONFIG SET when given.
fn model_test(seed: u64, node_limits: Option<(u32, u32)>) {
    let Some(server) = start_under_test("the stream model test") else {
        return;
    };
    let mut c = server.connect();
    if let Some((entries, bytes)) = node_limits {
        ok(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "stream-node-max-entries",
                &entries.to_string(),
            ],
        );
        ok(
            &mut c,
            &["CONFIG", "SET", "stream-node-max-bytes", &bytes.to_string()],
        );
    }
    ok(&mut c, &["SET", STRING, "not a stream"]);
    let name = server.name.clone();
    let mut t = ModelTest::new(seed, String::new());
    for batch in 0..BATCHES {
        t.context = format!("{name}, seed {seed:#x}, nodes {node_limits:?}, batch {batch}");
        for _ in 0..WRITES_PER_BATCH {
            t.random_write(&mut c);
        }
        let reads = t.checks(batch % WHOLE_READ_EVERY == 0);
        t.run_reads(&mut c, &reads);
    }
    t.context = format!("{name}, seed {seed:#x}, XSETID on an emptied stream");
    t.cover_setid(&mut c);
    t.context = format!("{name}, seed {seed:#x}, final checks");
    let reads = t.checks(true);
    t.run_reads(&mut c, &reads);

    let cov = &t.cov;
    println!("{name}, seed {seed:#x}, nodes {node_limits:?}: {cov:?}");
    let covered = [
        ("explicit IDs", cov.explicit_adds > 500),
        ("`*` IDs", cov.auto_adds > 200),
        ("`ms-*` IDs of a new ms", cov.partial_adds > 20),
        ("IDs at or below the top", cov.add_errors > 20),
        ("0-0 refused", cov.zero_id_errors > 0),
        ("an exhausted stream", cov.exhausted > 0),
        ("a sequence at its largest", cov.too_large > 0),
        ("NOMKSTREAM on an absent key", cov.nomkstream_nulls > 0),
        ("exact trims", cov.exact_trims > 50),
        (
            "approximate trims that removed entries",
            cov.approx_trims > 5,
        ),
        (
            "approximate trims short of exact",
            cov.approx_short_of_exact > 20,
        ),
        ("approximate trims held by LIMIT", cov.approx_limited > 0),
        ("deleted entries", cov.deleted > 100),
        ("XSETID backward", cov.setid_backward > 0),
        ("XSETID on an empty stream", cov.setid_on_empty > 0),
        ("XSETID errors", cov.setid_errors > 10),
        ("a stream emptied", cov.emptied > 0),
        ("a key re-created", cov.recreated > 0),
        ("range bound errors", cov.range_errors > 0),
        ("COUNT 0 or below", cov.null_counts > 0),
        ("XREAD with nothing to read", cov.xread_nulls > 0),
        ("a stream of a hundred entries", cov.max_len_seen >= 100),
    ];
    let missing: Vec<&str> = covered
        .iter()
        .filter(|(_, seen)| !seen)
        .map(|(what, _)| *what)
        .collect();
    assert!(
        missing.is_empty(),
        "seed {seed:#x} never covered: {}; coverage {cov:?}",
        missing.join(", ")
    );
    if node_limits.is_some() {
        assert!(
            cov.max_nodes_seen >= 25,
            "with small nodes a stream should span many of them; at most {} seen ({cov:?})",
            cov.max_nodes_seen
        );
    }
}

#[test]
fn model_default_nodes() {
    model_test(0x5713_0001, None);
}

/// Small nodes: many of them per stream, and approximate trimming has
/// whole nodes to remove.
#[test]
fn model_small_nodes() {
    model_test(0x5713_0002, Some((4, 256)));
}

// ---------------------------------------------------------------------------
// 2. Blocking reads
// ---------------------------------------------------------------------------

fn blocked_clients(c: &mut Client) -> usize {
    let value = info_field(c, "clients", "blocked_clients");
    value
        .parse()
        .unwrap_or_else(|_| panic!("blocked_clients:{value} is not a number"))
}

/// Polls INFO until `n` clients are blocked. The server updates the count
/// before it answers the next command, so once a write has been answered,
/// a count that still includes a waiter means the write did not serve it.
fn wait_blocked(c: &mut Client, n: usize) {
    common::wait_until_within(CONDITION_TIMEOUT, &format!("{n} clients blocked"), || {
        blocked_clients(c) == n
    });
}

/// Sends the blocking command `args` on `c` and waits until `ctl` sees
/// `blocked` clients blocked.
fn block(c: &mut Client, ctl: &mut Client, args: &[&str], blocked: usize) {
    c.send(args)
        .unwrap_or_else(|e| panic!("send [{}]: {e}", shown(args)));
    wait_blocked(ctl, blocked);
}

fn reply_of(c: &mut Client) -> String {
    escape(&c.read_reply().expect("a reply"))
}

fn sent(c: &mut Client, args: &[&str]) -> String {
    escape(&c.cmd(args))
}

/// Asserts that nothing has arrived on `c` (call it after a command on
/// another connection has been answered, and INFO has shown `c` blocked).
fn no_reply_yet(c: &mut Client) {
    let pending = c.poll_reply().expect("the connection is open");
    assert!(
        pending.is_none(),
        "a waiter was answered: {}",
        escape(&pending.unwrap_or_default())
    );
}

/// One entry: its ID and its field-value pairs.
type Entry<'a> = (&'a str, &'a [&'a str]);

/// An XREAD or XREADGROUP reply: per key, its entries.
fn read_reply(streams: &[(&str, &[Entry])]) -> String {
    let frame = Frame::Array(
        streams
            .iter()
            .map(|(key, entries)| {
                let entries = entries
                    .iter()
                    .map(|(id, fields)| {
                        Frame::Array(vec![
                            bulk_frame(id.as_bytes()),
                            Frame::Array(fields.iter().map(|f| bulk_frame(f.as_bytes())).collect()),
                        ])
                    })
                    .collect();
                Frame::Array(vec![bulk_frame(key.as_bytes()), Frame::Array(entries)])
            })
            .collect(),
    );
    escape(&frame.to_bytes())
}

const NULL_ARRAY: &str = "*-1\\r\\n";

fn added(c: &mut Client, key: &str, id: &str, fields: &[&str]) {
    let mut args = vec!["XADD", key, id];
    args.extend_from_slice(fields);
    let reply = bulk(c, &args);
    if id != "*" {
        assert_eq!(reply, id.as_bytes(), "XADD's reply");
    }
}

#[test]
fn xread_on_several_streams_is_served_from_the_one_written() {
    let Some(server) = start_under_test("blocking reads: several streams") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    added(&mut ctl, "s1", "1-0", &["a", "1"]);
    added(&mut ctl, "s2", "1-0", &["b", "2"]);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "s3", "$", "$", "$",
        ],
        1,
    );
    // A write to a key it does not wait on leaves it waiting.
    added(&mut ctl, "other", "1-0", &["x", "y"]);
    assert_eq!(blocked_clients(&mut ctl), 1);
    no_reply_yet(&mut a);
    added(&mut ctl, "s2", "2-0", &["x", "y"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s2", &[("2-0", &["x", "y"])])])
    );
    wait_blocked(&mut ctl, 0);

    // Explicit IDs: s1 has nothing after 1-0 and s3 is absent, so it
    // waits, and the XADD that creates s3 serves it.
    block(
        &mut a,
        &mut ctl,
        &[
            "XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "s1", "s3", "1-0", "0-0",
        ],
        1,
    );
    added(&mut ctl, "s3", "5-1", &["k", "v"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s3", &[("5-1", &["k", "v"])])])
    );
    // IDs with entries after them answer at once, from every such stream.
    assert_eq!(
        sent(
            &mut a,
            &[
                "XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "s3", "0", "1", "5"
            ]
        ),
        read_reply(&[
            ("s1", &[("1-0", &["a", "1"])]),
            ("s2", &[("2-0", &["x", "y"])]),
            ("s3", &[("5-1", &["k", "v"])]),
        ])
    );
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn dollar_is_the_last_id_when_the_command_blocks() {
    let Some(server) = start_under_test("blocking reads: $") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    added(&mut ctl, "s", "1-0", &["a", "1"]);
    block(
        &mut a,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        1,
    );
    added(&mut ctl, "s", "2-0", &["b", "2"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("2-0", &["b", "2"])])])
    );
    // An entry added between two waits is delivered to neither.
    added(&mut ctl, "s", "3-0", &["c", "3"]);
    block(
        &mut a,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        1,
    );
    added(&mut ctl, "s", "4-0", &["d", "4"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("4-0", &["d", "4"])])])
    );
    // `$` is the last ID, not the last entry: after XSETID, an entry
    // between the two is not new.
    ok(&mut ctl, &["XSETID", "s", "10-0"]);
    block(
        &mut a,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        1,
    );
    ok(&mut ctl, &["XSETID", "s", "4-0"]);
    added(&mut ctl, "s", "5-0", &["e", "5"]);
    assert_eq!(blocked_clients(&mut ctl), 1);
    no_reply_yet(&mut a);
    added(&mut ctl, "s", "10-1", &["f", "6"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("10-1", &["f", "6"])])])
    );
    // On an absent key `$` is 0-0.
    block(
        &mut a,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "new", "$"],
        1,
    );
    added(&mut ctl, "new", "0-1", &["z", ""]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("new", &[("0-1", &["z", ""])])])
    );
}

#[test]
fn a_timeout_replies_null_and_the_client_stays_usable() {
    let Some(server) = start_under_test("blocking reads: timeouts") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    assert_eq!(
        sent(&mut a, &["XREAD", "BLOCK", "30", "STREAMS", "s", "$"]),
        NULL_ARRAY
    );
    ok(&mut ctl, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    assert_eq!(
        sent(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "30",
                "STREAMS",
                "s",
                ">"
            ]
        ),
        NULL_ARRAY
    );
    assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
    assert_eq!(blocked_clients(&mut ctl), 0);
    // The consumer exists, with nothing pending.
    expect_reply(
        &mut ctl,
        &["XPENDING", "s", "g"],
        "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
    // XREADGROUP with an ID other than `>` reads the consumer's history
    // and never blocks.
    assert_eq!(
        sent(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                "0"
            ]
        ),
        read_reply(&[("s", &[])])
    );
    // A blocking read inside MULTI answers at once.
    ok(&mut a, &["MULTI"]);
    assert_eq!(
        sent(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        "+QUEUED\\r\\n"
    );
    assert_eq!(sent(&mut a, &["EXEC"]), "*1\\r\\n*-1\\r\\n");
}

#[test]
fn twenty_readers_are_served_by_one_xadd() {
    let Some(server) = start_under_test("blocking reads: many readers") else {
        return;
    };
    let mut ctl = server.connect();
    let mut readers: Vec<Client> = (0..20).map(|_| server.connect()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        let id = if i % 2 == 0 { "$" } else { "0-0" };
        block(
            r,
            &mut ctl,
            &["XREAD", "BLOCK", "0", "STREAMS", "s", id],
            i + 1,
        );
    }
    added(&mut ctl, "s", "7-7", &["f", "v", "g", "w"]);
    let expected = read_reply(&[("s", &[("7-7", &["f", "v", "g", "w"])])]);
    for r in &mut readers {
        assert_eq!(reply_of(r), expected);
    }
    wait_blocked(&mut ctl, 0);
}

#[test]
fn a_group_reader_is_served_by_xadd_and_the_entry_is_pending() {
    let Some(server) = start_under_test("blocking reads: XREADGROUP") else {
        return;
    };
    let mut ctl = server.connect();
    let (mut a, mut b) = (server.connect(), server.connect());
    ok(&mut ctl, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    added(&mut ctl, "s", "1-0", &["f", "v"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("1-0", &["f", "v"])])])
    );
    expect_reply(
        &mut ctl,
        &["XPENDING", "s", "g"],
        "*4\r\n:1\r\n$3\r\n1-0\r\n$3\r\n1-0\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n",
    );
    let detail = call(&mut ctl, &["XPENDING", "s", "g", "-", "+", "10", "alice"]);
    match &detail {
        Frame::Array(items) => match items.as_slice() {
            [Frame::Array(e)] => match e.as_slice() {
                [id, consumer, Frame::Integer(_), Frame::Integer(1)] => {
                    assert_eq!(id, &bulk_frame(b"1-0"));
                    assert_eq!(consumer, &bulk_frame(b"alice"));
                }
                _ => panic!("XPENDING's entry: {detail:?}"),
            },
            _ => panic!("XPENDING: {detail:?}"),
        },
        _ => panic!("XPENDING: {detail:?}"),
    }
    expect_reply(
        &mut ctl,
        &["XINFO", "GROUPS", "s"],
        "*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:1\r\n\
         $17\r\nlast-delivered-id\r\n$3\r\n1-0\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n:0\r\n",
    );
    // With NOACK the entry is delivered but not pending.
    block(
        &mut b,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    added(&mut ctl, "s", "2-0", &["f", "w"]);
    assert_eq!(
        reply_of(&mut b),
        read_reply(&[("s", &[("2-0", &["f", "w"])])])
    );
    expect_reply(
        &mut ctl,
        &["XPENDING", "s", "g"],
        "*4\r\n:1\r\n$3\r\n1-0\r\n$3\r\n1-0\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n",
    );
    expect_reply(
        &mut ctl,
        &["XPENDING", "s", "g", "-", "+", "10", "bob"],
        "*0\r\n",
    );
}

#[test]
fn one_xadd_serves_only_the_first_of_two_group_readers() {
    let Some(server) = start_under_test("blocking reads: two group readers") else {
        return;
    };
    let mut ctl = server.connect();
    let (mut a, mut b) = (server.connect(), server.connect());
    ok(&mut ctl, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "10",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    block(
        &mut b,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "COUNT",
            "10",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        2,
    );
    added(&mut ctl, "s", "1-0", &["f", "1"]);
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("1-0", &["f", "1"])])])
    );
    // The group's last ID moved past the entry: the second waits on.
    wait_blocked(&mut ctl, 1);
    no_reply_yet(&mut b);
    added(&mut ctl, "s", "2-0", &["f", "2"]);
    assert_eq!(
        reply_of(&mut b),
        read_reply(&[("s", &[("2-0", &["f", "2"])])])
    );
    wait_blocked(&mut ctl, 0);
    for (consumer, id) in [("c1", "1-0"), ("c2", "2-0")] {
        let detail = call(&mut ctl, &["XPENDING", "s", "g", "-", "+", "10", consumer]);
        let Frame::Array(items) = &detail else {
            panic!("XPENDING: {detail:?}");
        };
        assert_eq!(items.len(), 1, "{consumer}'s pending entries: {detail:?}");
        let Frame::Array(e) = &items[0] else {
            panic!("XPENDING: {detail:?}");
        };
        assert_eq!(
            e[0],
            bulk_frame(id.as_bytes()),
            "{consumer}'s pending entry"
        );
    }
}

#[test]
fn destroying_the_group_answers_its_waiter_with_nogroup() {
    let Some(server) = start_under_test("blocking reads: XGROUP DESTROY") else {
        return;
    };
    let mut ctl = server.connect();
    let (mut a, mut b) = (server.connect(), server.connect());
    ok(&mut ctl, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    block(
        &mut b,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        2,
    );
    assert_eq!(int(&mut ctl, &["XGROUP", "DESTROY", "s", "g"]), 1);
    assert_eq!(
        reply_of(&mut a),
        "-NOGROUP the consumer group this client was blocked on no longer exists\\r\\n"
    );
    // The plain reader waits on.
    wait_blocked(&mut ctl, 1);
    no_reply_yet(&mut b);
    added(&mut ctl, "s", "1-0", &["f", "v"]);
    assert_eq!(
        reply_of(&mut b),
        read_reply(&[("s", &[("1-0", &["f", "v"])])])
    );
    assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
}

#[test]
fn deleting_the_key_answers_group_readers_and_leaves_plain_readers_waiting() {
    let Some(server) = start_under_test("blocking reads: DEL") else {
        return;
    };
    let mut ctl = server.connect();
    let (mut a, mut b) = (server.connect(), server.connect());
    added(&mut ctl, "s", "5-0", &["a", "1"]);
    ok(&mut ctl, &["XGROUP", "CREATE", "s", "g", "$"]);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    block(
        &mut b,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        2,
    );
    assert_eq!(int(&mut ctl, &["DEL", "s"]), 1);
    assert_eq!(
        reply_of(&mut a),
        "-UNBLOCKED the stream key no longer exists\\r\\n"
    );
    wait_blocked(&mut ctl, 1);
    // The plain reader still waits for entries after 5-0: a new stream's
    // 3-0 is not one.
    added(&mut ctl, "s", "3-0", &["x", "y"]);
    assert_eq!(blocked_clients(&mut ctl), 1);
    no_reply_yet(&mut b);
    added(&mut ctl, "s", "6-0", &["z", "z"]);
    assert_eq!(
        reply_of(&mut b),
        read_reply(&[("s", &[("6-0", &["z", "z"])])])
    );
    wait_blocked(&mut ctl, 0);
}

#[test]
fn client_unblock_ends_an_xread_wait() {
    let Some(server) = start_under_test("blocking reads: CLIENT UNBLOCK") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    let id = int(&mut a, &["CLIENT", "ID"]).to_string();
    block(
        &mut a,
        &mut ctl,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        1,
    );
    assert_eq!(int(&mut ctl, &["CLIENT", "UNBLOCK", &id]), 1);
    assert_eq!(reply_of(&mut a), NULL_ARRAY);
    block(
        &mut a,
        &mut ctl,
        &[
            "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "t", "$", "$",
        ],
        1,
    );
    assert_eq!(int(&mut ctl, &["CLIENT", "UNBLOCK", &id, "ERROR"]), 1);
    assert_eq!(
        reply_of(&mut a),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\\r\\n"
    );
    assert_eq!(int(&mut ctl, &["CLIENT", "UNBLOCK", &id]), 0);
    assert_eq!(blocked_clients(&mut ctl), 0);
    // Nothing is left registered for the client: an XADD answers nobody.
    added(&mut ctl, "s", "1-0", &["f", "v"]);
    assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
}

#[test]
fn an_xadd_inside_multi_serves_after_exec() {
    let Some(server) = start_under_test("blocking reads: MULTI") else {
        return;
    };
    let (mut ctl, mut info) = (server.connect(), server.connect());
    let mut a = server.connect();
    block(
        &mut a,
        &mut info,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        1,
    );
    ok(&mut ctl, &["MULTI"]);
    for (id, value) in [("1-0", "1"), ("2-0", "2")] {
        expect_reply(&mut ctl, &["XADD", "s", id, "f", value], "+QUEUED\r\n");
    }
    assert_eq!(blocked_clients(&mut info), 1);
    no_reply_yet(&mut a);
    expect_reply(&mut ctl, &["EXEC"], "*2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n");
    // Served once the transaction is done, with both entries.
    assert_eq!(
        reply_of(&mut a),
        read_reply(&[("s", &[("1-0", &["f", "1"]), ("2-0", &["f", "2"])])])
    );
    wait_blocked(&mut info, 0);
}

// ---------------------------------------------------------------------------
// 3. Persistence
// ---------------------------------------------------------------------------

/// A deadline far in the future (2100-01-01 00:00:00.123 UTC).
const FAR_DEADLINE_MS: i64 = 4_102_444_800_123;
/// The seed of the values [`fill_streams`] writes; both servers are filled
/// from it, so they hold the same data.
const FILL_SEED: u64 = 0x5713_f111;

/// What a comparison of two reads leaves out. `radix-tree-nodes` (the
/// count of rax nodes, an artifact of Redis's radix tree) and every
/// `idle` (the time since something, which moves while the test reads)
/// are always left out.
#[derive(Clone, Copy, Debug)]
struct Masks {
    /// `radix-tree-keys`: how the entries are cut into nodes, which only
    /// a file that keeps the nodes (RDB, DUMP, an AOF replayed command by
    /// command) carries over.
    layout: bool,
    /// Consumers' `seen-time`.
    seen: bool,
    /// Pending entries' delivery times.
    delivery: bool,
    /// Groups' `entries-read` and `lag`, and pending entries' delivery
    /// counts.
    counters: bool,
}

/// Reads that must be the same to the millisecond: a server and another
/// loading its RDB file or DUMP payload (both keep every time).
const EXACT: Masks = Masks {
    layout: false,
    seen: false,
    delivery: false,
    counters: false,
};
/// Two servers given the same commands: only clock readings differ.
const CLOCKS: Masks = Masks {
    layout: false,
    seen: true,
    delivery: true,
    counters: false,
};
/// A server restarted on its AOF and redis-server started on the same
/// files: consumers are seen anew by each replay, and nothing else may
/// differ.
const REPLAYED: Masks = Masks {
    layout: false,
    seen: true,
    delivery: false,
    counters: false,
};
/// A server and itself restarted on its AOF: what Redis 7.0's AOF
/// carries. It does not carry everything: a read of a consumer's history
/// (`XREADGROUP ... 0`) delivers its entries again, counting and timing
/// the delivery, but is not written to the AOF; a blocking XREADGROUP
/// served by an XADD is written as XCLAIM ... LASTID without the
/// `XGROUP SETID ... ENTRIESREAD` a non-blocking one gets, so the
/// group's entries-read (and lag) is not carried either; and a rewrite
/// writes each stream's entries anew, without the holes XDEL and exact
/// trimming leave in nodes (`layout`, set by the caller).
const CARRIED: Masks = Masks {
    layout: false,
    seen: true,
    delivery: true,
    counters: true,
};

/// One key as read back: TYPE, PEXPIRETIME, and its reads (labelled).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    kind: String,
    expire_ms: i64,
    reads: Vec<(String, Frame)>,
}

/// Every key of a server, by (database, name).
type Data = BTreeMap<(usize, Vec<u8>), Stored>;

fn items_mut(frame: &mut Frame) -> &mut [Frame] {
    match frame {
        Frame::Array(items) => items,
        _ => &mut [],
    }
}

/// The value of field `name` in a reply of field-value pairs.
fn field_mut<'a>(frame: &'a mut Frame, name: &str) -> Option<&'a mut Frame> {
    items_mut(frame).chunks_mut(2).find_map(|pair| match pair {
        [Frame::Bulk(n), value] if n.as_slice() == name.as_bytes() => Some(value),
        _ => None,
    })
}

fn zero_field(frame: &mut Frame, name: &str) {
    if let Some(value) = field_mut(frame, name) {
        *value = Frame::Integer(0);
    }
}

/// Zeroes element `at` of every array in the array `frame`.
fn zero_column(frame: &mut Frame, at: usize) {
    for row in items_mut(frame) {
        if let Some(cell) = items_mut(row).get_mut(at) {
            *cell = Frame::Integer(0);
        }
    }
}

/// Applies `m` to an XINFO STREAM FULL reply.
fn mask_full(full: &mut Frame, m: Masks) {
    zero_field(full, "radix-tree-nodes");
    if m.layout {
        zero_field(full, "radix-tree-keys");
    }
    let Some(groups) = field_mut(full, "groups") else {
        return;
    };
    for group in items_mut(groups) {
        if m.counters {
            zero_field(group, "entries-read");
            zero_field(group, "lag");
        }
        if let Some(pending) = field_mut(group, "pending") {
            // [id, consumer, delivery time, delivery count]
            if m.delivery {
                zero_column(pending, 2);
            }
            if m.counters {
                zero_column(pending, 3);
            }
        }
        let Some(consumers) = field_mut(group, "consumers") else {
            continue;
        };
        for consumer in items_mut(consumers) {
            if m.seen {
                zero_field(consumer, "seen-time");
            }
            if let Some(pending) = field_mut(consumer, "pending") {
                // [id, delivery time, delivery count]
                if m.delivery {
                    zero_column(pending, 1);
                }
                if m.counters {
                    zero_column(pending, 2);
                }
            }
        }
    }
}

fn simple_text(frame: Frame, what: &str) -> String {
    match frame {
        Frame::Simple(t) | Frame::Bulk(t) => String::from_utf8_lossy(&t).into_owned(),
        other => panic!("{what} answered {other:?}"),
    }
}

/// Reads `key` of the selected database whole.
fn read_key(c: &mut Client, key: &[u8], m: Masks) -> Stored {
    let kind = simple_text(call(c, &[b"TYPE".as_slice(), key]), "TYPE");
    let expire_ms = int(c, &[b"PEXPIRETIME".as_slice(), key]);
    let mut reads = Vec::new();
    match kind.as_str() {
        "string" => reads.push(("GET".into(), call(c, &[b"GET".as_slice(), key]))),
        "stream" => {
            reads.push((
                "XRANGE".into(),
                call(c, &[b"XRANGE".as_slice(), key, b"-", b"+"]),
            ));
            let mut full = call(
                c,
                &[b"XINFO".as_slice(), b"STREAM", key, b"FULL", b"COUNT", b"0"],
            );
            mask_full(&mut full, m);
            reads.push(("XINFO STREAM FULL".into(), full));
            let mut groups = call(c, &[b"XINFO".as_slice(), b"GROUPS", key]);
            let names: Vec<Vec<u8>> = items_mut(&mut groups)
                .iter_mut()
                .map(|g| match field_mut(g, "name") {
                    Some(Frame::Bulk(name)) => name.clone(),
                    _ => panic!("a group without a name: {g:?}"),
                })
                .collect();
            if m.counters {
                for g in items_mut(&mut groups) {
                    zero_field(g, "entries-read");
                    zero_field(g, "lag");
                }
            }
            reads.push(("XINFO GROUPS".into(), groups));
            for name in names {
                let shown_name = escape(&name);
                let group = name.as_slice();
                reads.push((
                    format!("XPENDING {shown_name}"),
                    call(c, &[b"XPENDING".as_slice(), key, group]),
                ));
                let mut detail = call(
                    c,
                    &[b"XPENDING".as_slice(), key, group, b"-", b"+", b"1000000"],
                );
                // [id, consumer, idle, delivery count]
                zero_column(&mut detail, 2);
                if m.counters {
                    zero_column(&mut detail, 3);
                }
                reads.push((format!("XPENDING {shown_name} - +"), detail));
                let mut consumers = call(c, &[b"XINFO".as_slice(), b"CONSUMERS", key, group]);
                for consumer in items_mut(&mut consumers) {
                    zero_field(consumer, "idle");
                }
                reads.push((format!("XINFO CONSUMERS {shown_name}"), consumers));
            }
        }
        other => panic!(
            "{} is a {other}, which these tests never write",
            escape(key)
        ),
    }
    Stored {
        kind,
        expire_ms,
        reads,
    }
}

/// Reads every key of every database of `c`'s server, leaving database 0
/// selected.
fn read_data(c: &mut Client, m: Masks) -> Data {
    let mut data = Data::new();
    for db in 0..common::replies::DATABASES {
        select(c, db);
        let mut names = common::replies::bulks(c, &["KEYS", "*"]);
        names.sort();
        for name in names {
            let stored = read_key(c, &name, m);
            data.insert((db, name), stored);
        }
    }
    select(c, 0);
    data
}

/// Panics, listing the first differences, unless the two are equal.
fn assert_same_data(expected_name: &str, expected: &Data, actual_name: &str, actual: &Data) {
    if expected == actual {
        return;
    }
    let mut diffs = Vec::new();
    for ((db, name), e) in expected {
        let at = format!("db {db}: {}", escape(name));
        match actual.get(&(*db, name.clone())) {
            None => diffs.push(format!("{at}: missing on {actual_name}")),
            Some(a) if a != e => {
                if e.kind != a.kind {
                    diffs.push(format!("{at}: TYPE {} vs {}", e.kind, a.kind));
                }
                if e.expire_ms != a.expire_ms {
                    diffs.push(format!(
                        "{at}: PEXPIRETIME {} vs {}",
                        e.expire_ms, a.expire_ms
                    ));
                }
                if e.reads.len() != a.reads.len() {
                    diffs.push(format!(
                        "{at}: {} reads vs {}",
                        e.reads.len(),
                        a.reads.len()
                    ));
                }
                for ((label, ef), (_, af)) in e.reads.iter().zip(&a.reads) {
                    if ef != af {
                        let (eb, ab) = (ef.to_bytes(), af.to_bytes());
                        diffs.push(format!(
                            "{at}: {label}: {}",
                            common::replies::first_difference(&eb, &ab)
                        ));
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (db, name) in actual.keys().filter(|k| !expected.contains_key(*k)) {
        diffs.push(format!("db {db}: {} only on {actual_name}", escape(name)));
    }
    let shown_diffs = diffs.len().min(20);
    panic!(
        "{actual_name} differs from {expected_name} ({} differences, {shown_diffs} shown):\n{}",
        diffs.len(),
        diffs[..shown_diffs].join("\n")
    );
}

fn xadd_pairs(c: &mut Client, key: &str, id: &str, pairs: &[(Vec<u8>, Vec<u8>)]) {
    let mut args = args_of(&[b"XADD".as_slice(), key.as_bytes(), id.as_bytes()]);
    for (f, v) in pairs {
        args.push(f.clone());
        args.push(v.clone());
    }
    let reply = bulk(c, &args);
    assert_eq!(reply, id.as_bytes(), "XADD {key} {id}");
}

/// `n` entries for `key` with IDs `base`-0, `base`-1, `base`-2,
/// (`base`+1)-0, ...: mostly with the master entry's fields (which a
/// node stores as a flag), sometimes fewer, others or more.
fn add_entries(c: &mut Client, rng: &mut Rng, key: &str, base: u64, n: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Id::new(base + i / 3, i % 3).text();
        let names: &[&[u8]] = match i % 10 {
            0..=6 => &[b"name", b"value", b"n"],
            7 => &[b"name", b"value"],
            8 => &[b"other", b"\x00bin\xff"],
            _ => &[b"name", b"value", b"n", b"extra"],
        };
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let value = match j {
                    0 => format!("item{i}").into_bytes(),
                    2 => i.to_string().into_bytes(),
                    _ => random_value(rng),
                };
                (name.to_vec(), value)
            })
            .collect();
        xadd_pairs(c, key, &id, &pairs);
        ids.push(id);
    }
    ids
}

/// Sends a command that must not answer an error, and returns the reply.
fn done(c: &mut Client, args: &[&str]) -> Frame {
    let reply = call(c, args);
    if let Frame::Error(e) = &reply {
        panic!("[{}] answered -{}", shown(args), escape(e));
    }
    reply
}

/// Keys [`fill_streams`] gives consumers, whose DUMP payloads hold the
/// time each was last seen.
const KEYS_WITH_CONSUMERS: [&str; 2] = ["st:groups", "st:other"];

/// Writes the streams of the persistence tests into `c`'s server, which
/// must be empty. Leaves database 0 selected.
///
/// Database 0: 250 entries in three nodes (`st:plain`); 150 entries in
/// nodes of 7 (`st:blocks`, made under small node limits); deleted
/// entries, the first and the last among them, and an exact trim that
/// leaves a node half deleted (`st:deleted`); consumer groups with
/// consumers, pending entries delivered several times, claimed, acked,
/// auto-claimed, and one whose entry was deleted (`st:groups`); groups
/// without consumers, one moved by XGROUP SETID (`st:nocons`); an
/// emptied stream with a group and XSETID metadata (`st:empty`); values
/// of a kilobyte (`st:big`); a deadline (`st:ttl`); and a string.
/// Databases 3 and 15 hold more.
fn fill_streams(c: &mut Client) {
    let mut rng = Rng::new(FILL_SEED);
    select(c, 0);
    add_entries(c, &mut rng, "st:plain", 1_000, 250);

    ok(c, &["CONFIG", "SET", "stream-node-max-entries", "7"]);
    ok(c, &["CONFIG", "SET", "stream-node-max-bytes", "300"]);
    add_entries(c, &mut rng, "st:blocks", 5, 150);
    ok(c, &["CONFIG", "SET", "stream-node-max-entries", "100"]);
    ok(c, &["CONFIG", "SET", "stream-node-max-bytes", "4096"]);

    let ids = add_entries(c, &mut rng, "st:deleted", 1, 180);
    for id in ids.iter().step_by(7).chain([&ids[1], &ids[179]]) {
        done(c, &["XDEL", "st:deleted", id]);
    }
    assert_eq!(int(c, &["XTRIM", "st:deleted", "MAXLEN", "=", "130"]), 22);
    done(c, &["XTRIM", "st:deleted", "MINID", &ids[60]]);

    let ids = add_entries(c, &mut rng, "st:groups", 5, 60);
    ok(c, &["XGROUP", "CREATE", "st:groups", "g1", "0"]);
    ok(c, &["XGROUP", "CREATE", "st:groups", "g2", "$"]);
    ok(
        c,
        &[
            "XGROUP",
            "CREATE",
            "st:groups",
            "g3",
            &ids[9],
            "ENTRIESREAD",
            "10",
        ],
    );
    let g = "st:groups";
    done(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "10",
            "STREAMS",
            g,
            ">",
        ],
    );
    done(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "8",
            "STREAMS",
            g,
            ">",
        ],
    );
    // Alice reads her history again: her entries are delivered twice.
    done(
        c,
        &["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", g, "0"],
    );
    done(
        c,
        &["XCLAIM", g, "g1", "bob", "0", &ids[0], &ids[1], &ids[2]],
    );
    done(
        c,
        &[
            "XCLAIM",
            g,
            "g1",
            "carol",
            "0",
            &ids[12],
            "RETRYCOUNT",
            "7",
            "TIME",
            "1700000000000",
        ],
    );
    assert_eq!(int(c, &["XACK", g, "g1", &ids[10], &ids[11]]), 2);
    assert_eq!(int(c, &["XGROUP", "CREATECONSUMER", g, "g1", "dave"]), 1);
    assert_eq!(int(c, &["XDEL", g, &ids[5]]), 1);
    done(
        c,
        &["XAUTOCLAIM", g, "g1", "erin", "0", "0-0", "COUNT", "2"],
    );
    add_entries(c, &mut rng, g, 100, 3);
    done(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g2",
            "frank",
            "NOACK",
            "COUNT",
            "5",
            "STREAMS",
            g,
            ">",
        ],
    );
    done(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g3",
            "gina",
            "COUNT",
            "3",
            "STREAMS",
            g,
            ">",
        ],
    );

    let ids = add_entries(c, &mut rng, "st:nocons", 7, 30);
    ok(c, &["XGROUP", "CREATE", "st:nocons", "n1", "0"]);
    ok(c, &["XGROUP", "CREATE", "st:nocons", "n2", "$"]);
    ok(
        c,
        &[
            "XGROUP",
            "CREATE",
            "st:nocons",
            "n3",
            &ids[4],
            "ENTRIESREAD",
            "3",
        ],
    );
    ok(
        c,
        &[
            "XGROUP",
            "SETID",
            "st:nocons",
            "n1",
            &ids[11],
            "ENTRIESREAD",
            "9",
        ],
    );
    assert_eq!(int(c, &["XDEL", "st:nocons", &ids[20], &ids[21]]), 2);

    add_entries(c, &mut rng, "st:empty", 3, 5);
    assert_eq!(int(c, &["XTRIM", "st:empty", "MAXLEN", "0"]), 5);
    ok(
        c,
        &[
            "XSETID",
            "st:empty",
            "500-5",
            "ENTRIESADDED",
            "42",
            "MAXDELETEDID",
            "400-0",
        ],
    );
    ok(c, &["XGROUP", "CREATE", "st:empty", "eg", "$"]);

    for i in 0..20 {
        let value = common::random_bytes(&mut rng, 900 + i * 13);
        xadd_pairs(
            c,
            "st:big",
            &format!("{}-0", i + 1),
            &[(b"blob".to_vec(), value)],
        );
    }
    add_entries(c, &mut rng, "st:ttl", 77, 20);
    assert_eq!(
        int(c, &["PEXPIREAT", "st:ttl", &FAR_DEADLINE_MS.to_string()]),
        1
    );
    ok(c, &["SET", "str", "a string among the streams"]);

    select(c, 3);
    let ids = add_entries(c, &mut rng, "st:other", 2, 10);
    ok(c, &["XGROUP", "CREATE", "st:other", "og", "0"]);
    done(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "og",
            "solo",
            "COUNT",
            "4",
            "STREAMS",
            "st:other",
            ">",
        ],
    );
    assert_eq!(int(c, &["XACK", "st:other", "og", &ids[0]]), 1);
    select(c, 15);
    add_entries(c, &mut rng, "st:only", 42, 1);
    select(c, 0);
}

/// The number of keys [`fill_streams`] writes.
const FILLED_KEYS: usize = 11;

/// The `dump.rdb` a server saved in its working directory.
fn saved_file(server: &Server) -> Vec<u8> {
    let path = server.dir().join("dump.rdb");
    fs::read(&path)
        .unwrap_or_else(|e| panic!("read {} saved by {}: {e}", path.display(), server.name))
}

/// Fills a fresh redis-server, saves, and starts another on the file:
/// returns what the first held, the file, and what the second loaded
/// (what any server loading the file must hold). `None` without
/// redis-server.
fn redis_saved(what: &str) -> Option<(Data, Vec<u8>, Data)> {
    let redis = start_reference_with(what, &[], &[])?;
    let mut c = redis.connect();
    fill_streams(&mut c);
    let before = read_data(&mut c, EXACT);
    assert_eq!(before.len(), FILLED_KEYS, "keys filled on redis-server");
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&redis);
    let reloaded = start_reference_with(what, &[], &[("dump.rdb", &file)])?;
    let loaded = read_data(&mut reloaded.connect(), EXACT);
    // The file keeps everything, times and nodes included.
    assert_same_data(
        "redis-server before SAVE",
        &before,
        "redis-server loading its file",
        &loaded,
    );
    Some((before, file, loaded))
}

#[test]
fn the_server_under_test_loads_what_redis_saved() {
    let what = "redis-server -> server under test (RDB)";
    let Some((_, file, expected)) = redis_saved(what) else {
        return;
    };
    let Some(server) = start_under_test_with(what, &[], &[("dump.rdb", &file)]) else {
        return;
    };
    let loaded = read_data(&mut server.connect(), EXACT);
    assert_same_data(
        "redis-server loading its file",
        &expected,
        &format!("{} loading redis-server's file", server.name),
        &loaded,
    );
}

#[test]
fn redis_loads_what_the_server_under_test_saved() {
    let what = "server under test -> redis-server (RDB)";
    let Some(redis) = start_reference_with(what, &[], &[]) else {
        return;
    };
    let Some(server) = start_under_test(what) else {
        return;
    };
    let (mut r, mut c) = (redis.connect(), server.connect());
    fill_streams(&mut r);
    fill_streams(&mut c);
    // The same commands make the same streams, clock readings aside.
    assert_same_data(
        "redis-server",
        &read_data(&mut r, CLOCKS),
        &server.name,
        &read_data(&mut c, CLOCKS),
    );
    let before = read_data(&mut c, EXACT);
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&server);
    let loader = start_reference_with(what, &[], &[("dump.rdb", &file)])
        .expect("redis-server was found above");
    assert_same_data(
        &format!("{} before SAVE", server.name),
        &before,
        &format!("redis-server loading {}'s file", server.name),
        &read_data(&mut loader.connect(), EXACT),
    );
    let restarted =
        start_under_test_with(what, &[], &[("dump.rdb", &file)]).expect("started above");
    assert_same_data(
        &format!("{} before SAVE", server.name),
        &before,
        &format!("{} restarted on its file", server.name),
        &read_data(&mut restarted.connect(), EXACT),
    );
    check_rdb(&file, loader.dir());
}

/// RESTOREs `payload` as `key` into database 9 of `c`'s server (with the
/// deadline `expire_ms`, -1 for none), reads it back, DUMPs it again, and
/// removes it.
fn restored(c: &mut Client, key: &[u8], payload: &[u8], expire_ms: i64) -> (Stored, Vec<u8>) {
    select(c, 9);
    let deadline = if expire_ms == -1 {
        "0".to_string()
    } else {
        expire_ms.to_string()
    };
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key, deadline.as_bytes(), payload];
    if expire_ms != -1 {
        args.push(b"ABSTTL");
    }
    ok(c, &args);
    let stored = read_key(c, key, EXACT);
    let again = bulk(c, &[b"DUMP".as_slice(), key]);
    assert_eq!(int(c, &[b"DEL".as_slice(), key]), 1);
    select(c, 0);
    (stored, again)
}

/// DUMP payloads between the two servers.
///
/// A payload holds the stream's nodes as they are, its metadata, and its
/// groups: each pending entry with its delivery time, and each consumer
/// with the time it was last seen. Delivery times could be set alike on
/// both servers (XCLAIM ... TIME), but a consumer's seen-time is always
/// the clock of the moment it last acted, so payloads of streams with
/// consumers cannot be equal when the two servers build them. So:
///
/// - keys without consumers (groups and all): the payloads both servers
///   make from the same commands are byte-equal;
/// - every key: redis-server's payload RESTOREd on the server under test
///   reads back as on redis-server, to the millisecond, and DUMPs back to
///   the very same bytes; the server under test's payload RESTOREd on
///   either server reads back alike on both.
#[test]
fn dump_payloads_match_redis_and_restore_on_either_server() {
    let what = "DUMP/RESTORE between the server under test and redis-server";
    let Some(redis) = start_reference_with(what, &[], &[]) else {
        return;
    };
    let Some(server) = start_under_test(what) else {
        return;
    };
    let (mut r, mut u) = (redis.connect(), server.connect());
    fill_streams(&mut r);
    fill_streams(&mut u);
    let name = server.name.clone();
    let keys = read_data(&mut r, EXACT);
    let mut differing = Vec::new();
    let mut compared = 0;
    for ((db, key), original) in keys.iter().filter(|((db, _), _)| *db == 0) {
        assert_eq!(*db, 0);
        let theirs = bulk(&mut r, &[b"DUMP".as_slice(), key]);
        let ours = bulk(&mut u, &[b"DUMP".as_slice(), key]);
        let (expected, theirs_again) = restored(&mut r, key, &theirs, original.expire_ms);
        assert_eq!(
            theirs_again, theirs,
            "redis-server DUMPs what it RESTOREd as it was"
        );
        let (on_server, theirs_via_server) = restored(&mut u, key, &theirs, original.expire_ms);
        assert_eq!(
            on_server,
            expected,
            "{} from redis-server's DUMP restored on {name}",
            escape(key)
        );
        assert!(
            theirs_via_server == theirs,
            "{}: {name} DUMPs redis-server's payload back differently: {}",
            escape(key),
            common::replies::first_difference(&theirs, &theirs_via_server)
        );
        let (ours_on_redis, _) = restored(&mut r, key, &ours, original.expire_ms);
        let (ours_on_server, _) = restored(&mut u, key, &ours, original.expire_ms);
        assert_eq!(
            ours_on_server,
            ours_on_redis,
            "{} from {name}'s DUMP restored on {name} and on redis-server",
            escape(key)
        );
        if KEYS_WITH_CONSUMERS
            .iter()
            .any(|k| k.as_bytes() == key.as_slice())
        {
            continue;
        }
        compared += 1;
        if ours != theirs {
            differing.push(format!(
                "{}: {} bytes from {name}, {} from redis-server; {}",
                escape(key),
                ours.len(),
                theirs.len(),
                common::replies::first_difference(&theirs, &ours)
            ));
        }
    }
    assert!(
        compared >= 8,
        "only {compared} payloads compared byte for byte"
    );
    // The same nodes (listpacks), metadata and groups, with the same RDB
    // version and CRC.
    assert!(
        differing.is_empty(),
        "DUMP payloads differ:\n{}",
        differing.join("\n")
    );
}

// The AOF.

/// The AOF directory under Redis's default name.
const AOF_DIR: &str = "appendonlydir";

/// Waits until `server` has written its AOF buffer.
fn wait_aof_written(server: &Server) {
    let mut c = server.connect();
    common::wait_until_within(CONDITION_TIMEOUT, "the AOF buffer is written", || {
        let text = String::from_utf8_lossy(&bulk(&mut c, &["INFO", "persistence"])).into_owned();
        text.lines()
            .find_map(|line| line.strip_prefix("aof_buffer_length:"))
            .is_none_or(|n| n.trim() == "0")
    });
}

/// Every file of `server`'s AOF directory, named as a restart places them
/// (`appendonlydir/<name>`).
fn aof_files(server: &Server) -> Vec<(String, Vec<u8>)> {
    wait_aof_written(server);
    let dir = server.dir().join(AOF_DIR);
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        match fs::read(entry.path()) {
            Ok(bytes) => files.push((format!("{AOF_DIR}/{name}"), bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("read {}: {e}", entry.path().display()),
        }
    }
    files.sort();
    files
}

fn rewrite_aof(c: &mut Client) {
    expect_reply(
        c,
        &["BGREWRITEAOF"],
        "+Background append only file rewriting started\r\n",
    );
    common::wait_until_within(CONDITION_TIMEOUT, "the AOF rewrite ends", || {
        common::replies::persistence_idle(c)
    });
    assert_eq!(
        info_field(c, "persistence", "aof_last_bgrewrite_status"),
        "ok",
        "the rewrite's status"
    );
}

const AOF_KEYS: [&str; 3] = ["aof:0", "aof:1", "aof:2"];
const AOF_GROUPS: [&str; 2] = ["g0", "g1"];
const AOF_CONSUMERS: [&str; 3] = ["c0", "c1", "c2"];
/// The key blocking group reads wait on, and its group.
const AOF_QUEUE: &str = "aof:q";

/// Up to five IDs pending in `group` of `key` (none when there is no
/// such group).
fn pending_ids(c: &mut Client, key: &str, group: &str) -> Vec<String> {
    match call(c, &["XPENDING", key, group, "-", "+", "5"]) {
        Frame::Array(rows) => rows
            .into_iter()
            .filter_map(|row| match row {
                Frame::Array(cells) => match cells.first() {
                    Some(Frame::Bulk(id)) => Some(String::from_utf8_lossy(id).into_owned()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An entry ID of `key`, or 0-1 when it has none.
fn some_entry(c: &mut Client, rng: &mut Rng, key: &str) -> String {
    let count = (1 + rng.below(30)).to_string();
    match call(c, &["XRANGE", key, "-", "+", "COUNT", &count]) {
        Frame::Array(rows) if !rows.is_empty() => match rows.last() {
            Some(Frame::Array(cells)) => match cells.first() {
                Some(Frame::Bulk(id)) => String::from_utf8_lossy(id).into_owned(),
                _ => "0-1".into(),
            },
            _ => "0-1".into(),
        },
        _ => "0-1".into(),
    }
}

/// A seeded mix of stream writes: XADD * (trimming `~` now and then),
/// XREADGROUP of new entries and of a consumer's history, XACK, XCLAIM
/// (with RETRYCOUNT, IDLE or JUSTID), XAUTOCLAIM, XTRIM ~, XDEL, the XGROUP
/// subcommands, and blocking XREADGROUPs on [`AOF_QUEUE`] served by an
/// XADD from `c` while `blocker` waits; with a BGREWRITEAOF after
/// `rewrite_at` commands. Returns how many blocking reads were served.
fn run_aof_workload(
    c: &mut Client,
    blocker: &mut Client,
    seed: u64,
    ops: usize,
    rewrite_at: Option<usize>,
) -> usize {
    let mut rng = Rng::new(seed);
    for key in AOF_KEYS.iter().chain([&AOF_QUEUE]) {
        ok(c, &["XGROUP", "CREATE", key, "g0", "$", "MKSTREAM"]);
    }
    let mut served = 0;
    for i in 0..ops {
        if rewrite_at == Some(i) {
            rewrite_aof(c);
        }
        let key = *pick(&mut rng, &AOF_KEYS);
        let group = *pick(&mut rng, &AOF_GROUPS);
        let consumer = *pick(&mut rng, &AOF_CONSUMERS);
        let value = String::from_utf8_lossy(&random_value(&mut rng)).into_owned();
        let count = (1 + rng.below(6)).to_string();
        let args: Vec<String> = match rng.below(100) {
            0..=29 => {
                let mut args = vec!["XADD".to_string(), key.into()];
                if rng.below(6) == 0 {
                    args.extend(["MAXLEN".into(), "~".into(), "40".into()]);
                }
                args.extend(["*".into(), "f".into(), value]);
                if rng.below(3) == 0 {
                    args.extend(["g".into(), rng.below(1000).to_string()]);
                }
                args
            }
            30..=44 => {
                let mut args = vec!["XREADGROUP".to_string(), "GROUP".into(), group.into()];
                args.extend([consumer.into(), "COUNT".into(), count]);
                if rng.below(8) == 0 {
                    args.push("NOACK".into());
                }
                args.extend(["STREAMS".into(), key.into(), ">".into()]);
                args
            }
            45..=49 => {
                let mut args = vec!["XREADGROUP".to_string(), "GROUP".into(), group.into()];
                args.extend([consumer.into(), "STREAMS".into(), key.into(), "0".into()]);
                args
            }
            50..=57 => {
                let mut args = vec!["XACK".to_string(), key.into(), group.into()];
                let ids = pending_ids(c, key, group);
                let take = 1 + rng.below(3) as usize;
                args.extend(ids.into_iter().take(take));
                args.push("0-1".into());
                args
            }
            58..=64 => {
                let mut args = vec!["XCLAIM".to_string(), key.into(), group.into()];
                args.extend([consumer.into(), "0".into(), "0-1".into()]);
                args.extend(pending_ids(c, key, group));
                match rng.below(4) {
                    0 => args.extend(["RETRYCOUNT".into(), rng.below(9).to_string()]),
                    1 => args.push("JUSTID".into()),
                    2 => args.extend(["IDLE".into(), rng.below(100_000).to_string()]),
                    _ => {}
                }
                args
            }
            65..=69 => {
                let mut args = vec!["XAUTOCLAIM".to_string(), key.into(), group.into()];
                args.extend([
                    consumer.into(),
                    "0".into(),
                    "0-0".into(),
                    "COUNT".into(),
                    count,
                ]);
                if rng.below(3) == 0 {
                    args.push("JUSTID".into());
                }
                args
            }
            70..=74 => {
                if rng.below(2) == 0 {
                    let n = (10 + rng.below(30)).to_string();
                    vec!["XTRIM".into(), key.into(), "MAXLEN".into(), "~".into(), n]
                } else {
                    let id = some_entry(c, &mut rng, key);
                    vec!["XTRIM".into(), key.into(), "MINID".into(), "~".into(), id]
                }
            }
            75..=77 => vec!["XDEL".into(), key.into(), some_entry(c, &mut rng, key)],
            78..=80 => {
                let start = if rng.below(2) == 0 { "$" } else { "0" };
                let mut args = vec!["XGROUP".to_string(), "CREATE".into(), key.into()];
                args.extend([group.into(), start.into()]);
                if rng.below(2) == 0 {
                    args.extend(["ENTRIESREAD".into(), rng.below(50).to_string()]);
                }
                args.push("MKSTREAM".into());
                args
            }
            81..=82 => {
                let id = some_entry(c, &mut rng, key);
                let mut args = vec!["XGROUP".to_string(), "SETID".into(), key.into()];
                args.extend([group.into(), id]);
                if rng.below(2) == 0 {
                    args.extend(["ENTRIESREAD".into(), rng.below(50).to_string()]);
                }
                args
            }
            83..=84 => {
                let mut args = vec!["XGROUP".to_string(), "CREATECONSUMER".into()];
                args.extend([key.into(), group.into(), consumer.into()]);
                args
            }
            85 => {
                let mut args = vec!["XGROUP".to_string(), "DELCONSUMER".into()];
                args.extend([key.into(), group.into(), consumer.into()]);
                args
            }
            86 => vec!["XGROUP".into(), "DESTROY".into(), key.into(), group.into()],
            _ => {
                served_read(c, blocker, &mut rng);
                served += 1;
                continue;
            }
        };
        let reply = c.cmd(&args);
        // The only errors the workload makes are groups that are missing
        // or already there.
        assert!(
            !reply.starts_with(b"-")
                || reply.starts_with(b"-NOGROUP")
                || reply.starts_with(b"-BUSYGROUP"),
            "[{}] answered {}",
            shown(&args),
            escape(&reply)
        );
    }
    served
}

/// A blocking XREADGROUP on [`AOF_QUEUE`] made by `blocker`, then served
/// by an XADD.
fn served_read(c: &mut Client, blocker: &mut Client, rng: &mut Rng) {
    let consumer = format!("b{}", rng.below(3));
    let mut args = vec!["XREADGROUP", "GROUP", "g0", &consumer, "BLOCK", "0"];
    if rng.below(4) == 0 {
        args.push("NOACK");
    }
    args.extend(["STREAMS", AOF_QUEUE, ">"]);
    blocker
        .send(&args)
        .unwrap_or_else(|e| panic!("send [{}]: {e}", shown(&args)));
    wait_blocked(c, 1);
    let value = rng.below(1000).to_string();
    bulk(c, &["XADD", AOF_QUEUE, "*", "q", &value]);
    let reply = blocker.read_reply().expect("the served read's reply");
    assert!(
        reply.starts_with(b"*1\r\n*2\r\n$5\r\naof:q\r\n*1\r\n"),
        "[{}] was served {}",
        shown(&args),
        escape(&reply)
    );
}

/// Operations of the AOF workload.
const AOF_OPS: usize = 1_500;

fn aof_restart_check(seed: u64, preamble: &str, rewrite: bool) {
    let what = format!("AOF restart (aof-use-rdb-preamble {preamble})");
    let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
    let Some(server) = start_under_test_with(&what, &args, &[]) else {
        return;
    };
    let (mut c, mut blocker) = (server.connect(), server.connect());
    let served = run_aof_workload(
        &mut c,
        &mut blocker,
        seed,
        AOF_OPS,
        rewrite.then_some(AOF_OPS / 2),
    );
    let carried = Masks {
        layout: rewrite,
        ..CARRIED
    };
    let before = read_data(&mut c, carried);
    let pending: i64 = before
        .values()
        .flat_map(|k| &k.reads)
        .filter(|(label, _)| label.starts_with("XPENDING") && !label.ends_with("- +"))
        .map(|(_, summary)| match summary {
            Frame::Array(cells) => match cells.first() {
                Some(Frame::Integer(n)) => *n,
                _ => 0,
            },
            _ => 0,
        })
        .sum();
    assert!(
        pending > 10,
        "the workload left only {pending} entries pending"
    );
    let files = aof_files(&server);

    let name_has = |part: &str| {
        let mut all = Vec::new();
        for (name, bytes) in &files {
            if name.contains(part) {
                all.extend(bytes.to_ascii_lowercase());
            }
        }
        all
    };
    // Group reads are in the file as what they did (XCLAIM ... TIME keeps
    // the delivery time), never as reads.
    let incr = name_has(".incr.aof");
    assert!(served > 30, "only {served} blocking reads were served");
    assert!(
        common::find(&incr, b"xclaim").is_some(),
        "the incremental AOF holds no XCLAIM"
    );
    assert!(
        common::find(&incr, b"xreadgroup").is_none(),
        "the incremental AOF holds XREADGROUP, not what it did"
    );
    if rewrite && preamble == "no" {
        let base = name_has(".base.aof");
        for command in [&b"xadd"[..], b"xsetid", b"xgroup", b"xclaim"] {
            assert!(
                base.starts_with(b"*") && common::find(&base, command).is_some(),
                "the base file after a rewrite without preamble is commands, {} among them",
                escape(command)
            );
        }
    }

    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let restarted = start_under_test_with(&what, &args, &refs).expect("started above");
    let mut r = restarted.connect();
    let restarted_name = format!("{} restarted on its AOF", server.name);
    assert_same_data(
        "before the restart",
        &before,
        &restarted_name,
        &read_data(&mut r, carried),
    );
    // What the AOF does not carry is what redis-server makes of the same
    // files.
    let Some(reference) = start_reference_with(&what, &args, &refs) else {
        return;
    };
    assert_same_data(
        &format!("redis-server started on {}'s AOF", server.name),
        &read_data(&mut reference.connect(), REPLAYED),
        &restarted_name,
        &read_data(&mut r, REPLAYED),
    );
}

#[test]
fn aof_restart_gives_back_the_streams() {
    aof_restart_check(0x5713_a0f1, "yes", false);
}

#[test]
fn aof_restart_gives_back_the_streams_after_a_rewrite_without_rdb_preamble() {
    aof_restart_check(0x5713_a0f2, "no", true);
}

/// Regression (fuzzer): an approximate trim with LIMIT is written to the
/// AOF as Redis writes it, `=` with the exact result and LIMIT kept, and a
/// replay must take that form (Redis obeys its AOF: LIMIT is ignored
/// there) instead of refusing LIMIT without `~` and losing the entry.
#[test]
fn an_approximate_trim_with_limit_replays_from_the_aof() {
    let what = "AOF replay of XADD and XTRIM with ~ and LIMIT";
    let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "yes"];
    let Some(server) = start_under_test_with(what, &args, &[]) else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "2"]);
    for id in ["1-1", "2-1", "3-1"] {
        added(&mut c, "k0", id, &["g", "1"]);
    }
    let id = bulk(
        &mut c,
        &[
            "XADD", "k0", "MINID", "~", "3-0", "LIMIT", "2", "4-2", "f", "x",
        ],
    );
    assert_eq!(id, b"4-2");
    let id = bulk(
        &mut c,
        &[
            "XADD", "k1", "MAXLEN", "~", "10", "LIMIT", "0", "4-0", "f", "nan",
        ],
    );
    assert_eq!(id, b"4-0");
    for id in ["5-1", "6-1", "7-1"] {
        added(&mut c, "k1", id, &["g", "1"]);
    }
    call(&mut c, &["XTRIM", "k1", "MAXLEN", "~", "1", "LIMIT", "2"]);
    let before: Vec<String> = ["k0", "k1"]
        .iter()
        .map(|k| format!("{:?}", call(&mut c, &["XRANGE", k, "-", "+"])))
        .collect();
    let files = aof_files(&server);
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let restarted = start_under_test_with(what, &args, &refs).expect("started above");
    let mut r = restarted.connect();
    let after: Vec<String> = ["k0", "k1"]
        .iter()
        .map(|k| format!("{:?}", call(&mut r, &["XRANGE", k, "-", "+"])))
        .collect();
    assert_eq!(before, after, "the streams after replaying the AOF");
}
