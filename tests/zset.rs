//! Sorted sets: what a differential script cannot reach.
//!
//! # Layout
//!
//! 1. **The model test** ([`model_test`]): seeded random sequences of
//!    thousands of writes (ZADD with NX, XX, GT, LT, CH and INCR; ZINCRBY;
//!    ZREM; ZREMRANGEBYRANK, BYSCORE and BYLEX; ZPOPMIN and ZPOPMAX with and
//!    without a count; ZRANGESTORE by rank, score and lex), each reply
//!    checked byte for byte against [`Model`], a reference kept by the test
//!    (a sorted `Vec` of (score, member) per key). After every batch of
//!    writes, every key is read back: TYPE, ZCARD, ZSCORE, ZMSCORE, ZRANK,
//!    ZREVRANK, ZCOUNT, ZLEXCOUNT and every form of range read (ZRANGE by
//!    rank, BYSCORE and BYLEX, with REV, LIMIT and WITHSCORES, and the older
//!    ZRANGEBYSCORE, ZREVRANGE, ZRANGEBYLEX...), random bounds included
//!    (exclusive, infinite, reversed, past either end).
//!
//!    The keys differ in size: a small one (always a listpack), one of
//!    about a thousand members, one that grows past and shrinks below
//!    `zset-max-listpack-entries` again and again (and is sometimes removed
//!    whole, so that it starts small again), one whose members all share a
//!    score (for the lex commands), and the destinations of ZRANGESTORE.
//!    Scores are small integers (many ties), fractions, ±inf in its
//!    spellings, large and tiny magnitudes, -0, and random bit patterns;
//!    members are short strings, integer-like strings, binary bytes, the
//!    empty string, and, rarely, members longer than 64 bytes.
//!
//!    OBJECT ENCODING is modelled as Redis 7.0 does it: a key is created a
//!    listpack unless its first member is longer than
//!    `zset-max-listpack-value`; it becomes a skiplist when a member is
//!    added that would make it longer than `zset-max-listpack-entries` or
//!    that is longer than `zset-max-listpack-value`, and stays one however
//!    small it gets, until it is deleted. ZRANGESTORE by rank creates its
//!    destination a skiplist when the result has more members than the
//!    limit (BYSCORE and BYLEX cannot know, and start a listpack). A
//!    listpack keeps its scores as text in which -0 is 0, so a -0 score
//!    survives only in a skiplist. Replies format scores as `%.17g` does
//!    ([`fmt_score`]: 0.1 is `0.10000000000000001`, 1e300 is
//!    `1.0000000000000001e+300`, -0 is `-0`, infinities are `inf` and
//!    `-inf`).
//!
//!    One run uses the default limits (128 entries, 64 bytes), another
//!    small ones set with CONFIG SET, so the thresholds are seen as
//!    settings, not constants. Each run checks at the end that the events
//!    it is meant to cover happened (conversions by length and by member
//!    size, a skiplist below the limit, a key re-created small, NaN errors,
//!    ...), so a change of seed or weights cannot quietly hollow it out.
//!
//! 2. **Blocking pops** (BZPOPMIN, BZPOPMAX, BZMPOP): waiters served in the
//!    order they blocked, a waiter on two keys served from the one made
//!    ready, timeouts, transactions (a key made ready inside MULTI serves
//!    after EXEC; one emptied again before EXEC serves nobody; a blocking
//!    pop inside MULTI answers at once), CLIENT KILL, the key replaced by a
//!    string or deleted (in Redis 7.0 the waiter just stays blocked), other
//!    commands that create the key, and waiters of another type left alone.
//!    Waits poll INFO's `blocked_clients`; nothing sleeps.
//!
//! 3. **Persistence**: a dataset of sorted sets in every encoding and with
//!    every awkward score ([`fill_zsets`]) carried through RDB files both
//!    ways between the server under test and redis-server, through DUMP and
//!    RESTORE both ways (with the payloads byte-equal: the same listpack,
//!    and for a skiplist the same ZSET_2 records, written from the highest
//!    score down), and through the AOF: a restart with `appendonly yes`
//!    after a mixed workload (served blocking pops included, which must be
//!    in the file as ZPOPMIN/ZPOPMAX), and with `aof-use-rdb-preamble no`
//!    after a BGREWRITEAOF, whose base file is then commands. What a load
//!    must give is what redis-server gives loading the same bytes.
//!    (Redis 7.0 cannot write the old ziplist encoding, so no test has a
//!    file holding one.)
//!
//! # The server under test
//!
//! By default the tests run against ferrokv. With
//! `FERROKV_ZSET_TEST_SERVER=redis` they run against redis-server instead
//! (the reference side of the persistence tests is redis-server either
//! way), which is how the model and every expectation here were checked:
//!
//! ```text
//! FERROKV_ZSET_TEST_SERVER=redis cargo test --release --test zset
//! ```
//!
//! Tests that need redis-server print a skip line and pass when it is not
//! on `PATH`, as the other differential tests do.

mod common;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::time::Duration;

use common::replies::{
    abbreviated, bulk, bulks, check_rdb, expect_reply, info_field, int, ok, persistence_idle,
    select, shown,
};
use common::{Client, Frame, Server, escape, parse_frame, random_bytes};
use ferrokv::util::Rng;

/// How long a polled condition may take. It only turns a hang into a
/// failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

/// The environment variable that selects the server under test.
const SERVER_ENV: &str = "FERROKV_ZSET_TEST_SERVER";

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
// Scores as Redis 7.0 writes them
// ---------------------------------------------------------------------------

/// A score as Redis 7.0 replies with it: C's `%.17g`, with `inf` and
/// `-inf` for the infinities (written here without C: the shortest `%e`
/// form Rust gives with 16 decimals has the same digits, ties to even).
fn fmt_score(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // %.17g: with P = 17 and X the exponent of the %e form, %f with
    // P - 1 - X decimals when -4 <= X < P, else %e with P - 1; trailing
    // zeros (and a trailing point) removed either way.
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("a numeric exponent");
    if (-4..17).contains(&exp) {
        let fixed = format!("{d:.*}", (16 - exp) as usize);
        trim_fraction(&fixed).to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exp.unsigned_abs()
        )
    }
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// [`fmt_score`] against what redis-server 7.0 answered for these scores.
#[test]
fn scores_are_formatted_as_redis_formats_them() {
    let cases: [(f64, &str); 17] = [
        (3.0, "3"),
        (-3.0, "-3"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (0.1, "0.10000000000000001"),
        (1.0 / 3.0, "0.33333333333333331"),
        (1e300, "1.0000000000000001e+300"),
        (1e308, "1e+308"),
        (1.5e-300, "1.5000000000000001e-300"),
        (5e-324, "4.9406564584124654e-324"),
        ((1u64 << 60) as f64, "1.152921504606847e+18"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (1e-4, "0.0001"),
        (1e-5, "1.0000000000000001e-05"),
        (1234567890123456.0 + 0.75, "1234567890123456.8"),
    ];
    for (score, text) in cases {
        assert_eq!(fmt_score(score), text, "{score:e}");
    }
    assert_eq!(fmt_score(f64::INFINITY), "inf");
    assert_eq!(fmt_score(f64::NEG_INFINITY), "-inf");
    // A tie at the 17th digit rounds to even, as glibc's printf does.
    assert_eq!(fmt_score(1234567890123456.0 + 0.25), "1234567890123456.2");
}

/// The same scores written by the server under test, byte for byte (not
/// through [`fmt_score`]): a listpack keeps -0 as 0, a skiplist keeps it.
#[test]
fn scores_are_replied_as_redis_replies_them() {
    let Some(server) = start_under_test("score formatting") else {
        return;
    };
    let mut c = server.connect();
    let scores: [(&str, &str); 11] = [
        ("3", "3"),
        ("0.1", "0.10000000000000001"),
        ("1e300", "1.0000000000000001e+300"),
        ("-0", "0"),
        ("+inf", "inf"),
        ("-Infinity", "-inf"),
        ("1e308", "1e+308"),
        ("5e-324", "4.9406564584124654e-324"),
        ("1e16", "10000000000000000"),
        ("1e17", "1e+17"),
        ("-1e-5", "-1.0000000000000001e-05"),
    ];
    for (encoding, first) in [("listpack", "m"), ("skiplist", &*"long".repeat(20))] {
        let key = format!("z:{encoding}");
        assert_eq!(int(&mut c, &["ZADD", &key, "7", first]), 1);
        for (i, (arg, reply)) in scores.iter().enumerate() {
            let member = format!("m{i}");
            assert_eq!(int(&mut c, &["ZADD", &key, arg, &member]), 1);
            let expected = match (*arg, encoding) {
                ("-0", "skiplist") => "-0",
                _ => reply,
            };
            assert_eq!(
                bulk(&mut c, &["ZSCORE", &key, &member]),
                expected.as_bytes(),
                "ZSCORE of a member added with score {arg} to a {encoding}"
            );
        }
        expect_reply(
            &mut c,
            &["OBJECT", "ENCODING", &key],
            &format!("${}\r\n{encoding}\r\n", encoding.len()),
        );
    }
    // INCR replies the score it computed, before a listpack turns -0
    // into 0.
    expect_reply(
        &mut c,
        &["ZADD", "z:incr", "INCR", "-0", "m"],
        "$2\r\n-0\r\n",
    );
    expect_reply(&mut c, &["ZSCORE", "z:incr", "m"], "$1\r\n0\r\n");
    expect_reply(
        &mut c,
        &[
            "ZRANGE",
            "z:listpack",
            "(1e200",
            "+inf",
            "BYSCORE",
            "WITHSCORES",
        ],
        "*6\r\n$2\r\nm2\r\n$23\r\n1.0000000000000001e+300\r\n$2\r\nm6\r\n$6\r\n1e+308\r\n$2\r\nm4\r\n$3\r\ninf\r\n",
    );
    // Out of range for a double: strtod's ERANGE, refused by ZADD but
    // taken (as an infinity) by a range bound.
    for arg in ["1e400", "-1e400", "1e-400", "nan", "1e", "abc", " 1", "1 "] {
        expect_reply(
            &mut c,
            &["ZADD", "z:bad", arg, "m"],
            "-ERR value is not a valid float\r\n",
        );
    }
    assert_eq!(int(&mut c, &["ZCOUNT", "z:listpack", "(1e308", "1e400"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "z:bad"]), 0);
}

// ---------------------------------------------------------------------------
// Sending scripts of commands with known replies
// ---------------------------------------------------------------------------

/// A command as owned arguments.
type Args = Vec<Vec<u8>>;

/// A command and the reply it must get.
struct Step {
    args: Args,
    reply: Frame,
}

fn args_of<A: AsRef<[u8]>>(parts: &[A]) -> Args {
    parts.iter().map(|p| p.as_ref().to_vec()).collect()
}

fn bulk_frame(bytes: &[u8]) -> Frame {
    Frame::Bulk(bytes.to_vec())
}

fn score_frame(score: f64) -> Frame {
    Frame::Bulk(fmt_score(score).into_bytes())
}

fn error_frame(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec())
}

/// Runs `steps` pipelined and checks every reply; `context` says where in
/// the test this is.
fn run_steps(c: &mut Client, steps: &[Step], context: &dyn Fn() -> String) {
    let commands: Vec<Args> = steps.iter().map(|s| s.args.clone()).collect();
    let replies = common::replies::pipeline_raw(c, &commands);
    for (i, (step, actual)) in steps.iter().zip(&replies).enumerate() {
        let expected = step.reply.to_bytes();
        if expected != *actual {
            let earlier: Vec<String> = steps[i.saturating_sub(8)..i]
                .iter()
                .map(|s| format!("  [{}]", shown(&s.args)))
                .collect();
            panic!(
                "{}, step {i}: [{}]\nexpected: {}\n     got: {}\n{}\nthe commands before it:\n{}",
                context(),
                shown(&step.args),
                common::replies::shown_reply(&expected),
                common::replies::shown_reply(actual),
                common::replies::first_difference(&expected, actual),
                earlier.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// `zset-max-listpack-entries` and `zset-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
struct Limits {
    entries: usize,
    value: usize,
}

/// Redis's defaults.
const DEFAULT_LIMITS: Limits = Limits {
    entries: 128,
    value: 64,
};

/// Score order, then member bytes (memcmp, a prefix first). -0 and 0 are
/// the same score here, as in Redis's comparisons.
fn item_order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .expect("scores are never NaN")
        .then_with(|| a.1.cmp(b.1))
}

/// One sorted set as the model keeps it.
#[derive(Clone, Debug)]
struct Zset {
    /// Sorted by [`item_order`].
    items: Vec<(f64, Vec<u8>)>,
    scores: HashMap<Vec<u8>, f64>,
    skiplist: bool,
}

/// What adding one score-member pair did (Redis's `zsetAdd`).
enum Added {
    /// Nothing: NX on an existing member, XX on a missing one, or GT/LT
    /// refused the new score.
    Nop,
    /// A new member, with this score.
    New(f64),
    /// An existing member whose score changed to this.
    Updated(f64),
    /// An existing member whose score is this, as before.
    Same(f64),
    /// INCR made NaN (inf + -inf).
    Nan,
}

/// What the model counts so that a run can show it covered each case.
#[derive(Debug, Default)]
struct Coverage {
    /// Listpacks that became skiplists because of their length.
    converted_by_length: usize,
    /// ... because of a member longer than the limit.
    converted_by_member: usize,
    /// Keys created a skiplist: a long first member, or a large
    /// ZRANGESTORE by rank.
    created_skiplist: usize,
    /// Checks that met a skiplist no longer than the entries limit and
    /// without a long member (a listpack had it been made now).
    shrunk_skiplist_seen: usize,
    /// Listpacks created under a name that was a skiplist before it was
    /// deleted.
    recreated_small: usize,
    /// -0 scores a listpack stored as 0.
    negative_zero_flattened: usize,
    /// -0 scores a skiplist kept.
    negative_zero_kept: usize,
    nan_errors: usize,
    /// ZADD INCR that did nothing (null reply).
    incr_nops: usize,
    /// ZRANGESTORE results that were empty (destination deleted).
    empty_stores: usize,
    /// Keys deleted because they became empty.
    emptied: usize,
}

impl Zset {
    fn new(skiplist: bool) -> Zset {
        Zset {
            items: Vec::new(),
            scores: HashMap::new(),
            skiplist,
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    fn position(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let at = self
            .items
            .binary_search_by(|(s, m)| item_order((*s, m), (score, member)))
            .expect("an indexed member is in the sorted items");
        Some(at)
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.position(member) {
            Some(at) => {
                self.items.remove(at);
                self.scores.remove(member);
                true
            }
            None => false,
        }
    }

    /// Stores `member`, which must be absent, with `score` as this
    /// encoding keeps it: a listpack writes its scores as text in which
    /// -0 is 0.
    fn insert(&mut self, score: f64, member: &[u8], cov: &mut Coverage) {
        let score = if score == 0.0 && score.is_sign_negative() {
            if self.skiplist {
                cov.negative_zero_kept += 1;
                score
            } else {
                cov.negative_zero_flattened += 1;
                0.0
            }
        } else {
            score
        };
        let at = self
            .items
            .binary_search_by(|(s, m)| item_order((*s, m), (score, member)))
            .expect_err("the member is new");
        self.items.insert(at, (score, member.to_vec()));
        self.scores.insert(member.to_vec(), score);
    }

    /// Adds a new member as `zsetAdd` does: a listpack that would grow
    /// past the entries limit, or that is given a member longer than the
    /// value limit, becomes a skiplist first.
    fn add_new(&mut self, score: f64, member: &[u8], limits: Limits, cov: &mut Coverage) {
        if !self.skiplist {
            if self.len() + 1 > limits.entries {
                self.skiplist = true;
                cov.converted_by_length += 1;
            } else if member.len() > limits.value {
                self.skiplist = true;
                cov.converted_by_member += 1;
            }
        }
        self.insert(score, member, cov);
    }

    /// One score-member pair of ZADD.
    fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: ZaddFlags,
        limits: Limits,
        cov: &mut Coverage,
    ) -> Added {
        match self.score(member) {
            Some(current) => {
                if flags.nx {
                    return Added::Nop;
                }
                let new = if flags.incr { current + score } else { score };
                if new.is_nan() {
                    return Added::Nan;
                }
                if (flags.lt && new >= current) || (flags.gt && new <= current) {
                    return Added::Nop;
                }
                if new != current {
                    self.remove(member);
                    self.insert(new, member, cov);
                    Added::Updated(new)
                } else {
                    Added::Same(new)
                }
            }
            None if flags.xx => Added::Nop,
            None => {
                self.add_new(score, member, limits, cov);
                Added::New(score)
            }
        }
    }

    /// Whether every member has the same score, which makes the lex
    /// commands well defined.
    fn uniform(&self) -> bool {
        self.items.windows(2).all(|w| w[0].0 == w[1].0)
    }

    /// The items `range` selects, in reply order.
    fn select(&self, range: &Range) -> Vec<&(f64, Vec<u8>)> {
        let ordered: Vec<&(f64, Vec<u8>)> = if range.rev {
            self.items.iter().rev().collect()
        } else {
            self.items.iter().collect()
        };
        match &range.by {
            By::Rank(start, stop) => match rank_window(self.len(), *start, *stop) {
                Some((from, to)) => ordered[from..=to].to_vec(),
                None => Vec::new(),
            },
            By::Score(min, max) => {
                let inside = ordered
                    .into_iter()
                    .filter(|(s, _)| min.admits_as_min(*s) && max.admits_as_max(*s));
                apply_limit(inside, range.limit)
            }
            By::Lex(min, max) => {
                let inside = ordered
                    .into_iter()
                    .filter(|(_, m)| min.admits_as_min(m) && max.admits_as_max(m));
                apply_limit(inside, range.limit)
            }
        }
    }
}

/// The ranks `start..=stop` select in a sorted set of `len`, normalized
/// as ZRANGE and ZREMRANGEBYRANK do; `None` when they select nothing.
fn rank_window(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut stop = if stop < 0 { stop + len } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// LIMIT as Redis applies it: a negative offset selects nothing, a
/// negative count everything after the offset.
fn apply_limit<'a>(
    items: impl Iterator<Item = &'a (f64, Vec<u8>)>,
    limit: Option<(i64, i64)>,
) -> Vec<&'a (f64, Vec<u8>)> {
    match limit {
        None => items.collect(),
        Some((offset, _)) if offset < 0 => Vec::new(),
        Some((offset, count)) if count < 0 => items.skip(offset as usize).collect(),
        Some((offset, count)) => items.skip(offset as usize).take(count as usize).collect(),
    }
}

/// ZADD's flags.
#[derive(Clone, Copy, Debug, Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

impl ZaddFlags {
    fn words(&self) -> Vec<&'static str> {
        let all = [
            (self.nx, "NX"),
            (self.xx, "XX"),
            (self.gt, "GT"),
            (self.lt, "LT"),
            (self.ch, "CH"),
            (self.incr, "INCR"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, w)| *w).collect()
    }
}

/// A score bound of a range: its value, whether it is exclusive, and the
/// text sent (with the `(` of an exclusive bound).
#[derive(Clone, Debug)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
    text: String,
}

impl ScoreBound {
    fn admits_as_min(&self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    fn admits_as_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// A lex bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn arg(&self) -> Vec<u8> {
        match self {
            LexBound::Min => b"-".to_vec(),
            LexBound::Max => b"+".to_vec(),
            LexBound::Incl(m) => [b"[".as_slice(), m].concat(),
            LexBound::Excl(m) => [b"(".as_slice(), m].concat(),
        }
    }

    fn admits_as_min(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(b) => member >= b.as_slice(),
            LexBound::Excl(b) => member > b.as_slice(),
        }
    }

    fn admits_as_max(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => member <= b.as_slice(),
            LexBound::Excl(b) => member < b.as_slice(),
        }
    }
}

/// What a range selects by.
#[derive(Clone, Debug)]
enum By {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// A range of ZRANGE, ZRANGESTORE and the older range commands. For REV
/// the bounds are still kept as (min, max); [`Range::bound_args`] swaps
/// them as the commands want.
#[derive(Clone, Debug)]
struct Range {
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
}

impl Range {
    /// The two bound arguments in command order.
    fn bound_args(&self) -> [Vec<u8>; 2] {
        let (low, high) = match &self.by {
            By::Rank(start, stop) => {
                return [
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ];
            }
            By::Score(min, max) => (min.text.clone().into_bytes(), max.text.clone().into_bytes()),
            By::Lex(min, max) => (min.arg(), max.arg()),
        };
        if self.rev { [high, low] } else { [low, high] }
    }

    fn limit_args(&self, args: &mut Args) {
        if let Some((offset, count)) = self.limit {
            args.push(b"LIMIT".to_vec());
            args.push(offset.to_string().into_bytes());
            args.push(count.to_string().into_bytes());
        }
    }

    /// `ZRANGE key ...` (or `ZRANGESTORE dst key ...` when `store` names
    /// the destination).
    fn zrange_args(&self, key: &[u8], store: Option<&[u8]>, withscores: bool) -> Args {
        let mut args = match store {
            Some(dst) => args_of(&[b"ZRANGESTORE".as_slice(), dst, key]),
            None => args_of(&[b"ZRANGE".as_slice(), key]),
        };
        args.extend(self.bound_args());
        match self.by {
            By::Rank(..) => {}
            By::Score(..) => args.push(b"BYSCORE".to_vec()),
            By::Lex(..) => args.push(b"BYLEX".to_vec()),
        }
        if self.rev {
            args.push(b"REV".to_vec());
        }
        self.limit_args(&mut args);
        if withscores {
            args.push(b"WITHSCORES".to_vec());
        }
        args
    }

    /// The same read in the older commands' syntax (ZREVRANGE,
    /// ZRANGEBYSCORE, ZREVRANGEBYLEX...).
    fn legacy_args(&self, key: &[u8], withscores: bool) -> Args {
        let name: &[u8] = match (&self.by, self.rev) {
            (By::Rank(..), false) => b"ZRANGE",
            (By::Rank(..), true) => b"ZREVRANGE",
            (By::Score(..), false) => b"ZRANGEBYSCORE",
            (By::Score(..), true) => b"ZREVRANGEBYSCORE",
            (By::Lex(..), false) => b"ZRANGEBYLEX",
            (By::Lex(..), true) => b"ZREVRANGEBYLEX",
        };
        let mut args = args_of(&[name, key]);
        args.extend(self.bound_args());
        if withscores {
            args.push(b"WITHSCORES".to_vec());
        }
        self.limit_args(&mut args);
        args
    }
}

/// The keyspace as the model knows it.
struct Model {
    keys: BTreeMap<Vec<u8>, Zset>,
    limits: Limits,
    /// Names whose last deleted value was a skiplist.
    deleted_skiplists: Vec<Vec<u8>>,
    cov: Coverage,
}

impl Model {
    fn new(limits: Limits) -> Model {
        Model {
            keys: BTreeMap::new(),
            limits,
            deleted_skiplists: Vec::new(),
            cov: Coverage::default(),
        }
    }

    fn get(&self, key: &[u8]) -> Option<&Zset> {
        self.keys.get(key)
    }

    fn len(&self, key: &[u8]) -> usize {
        self.get(key).map_or(0, Zset::len)
    }

    /// Creates `key` with this encoding, noting a name re-created small.
    fn create(&mut self, key: &[u8], skiplist: bool) {
        if skiplist {
            self.cov.created_skiplist += 1;
        } else if let Some(at) = self.deleted_skiplists.iter().position(|k| k == key) {
            self.deleted_skiplists.swap_remove(at);
            self.cov.recreated_small += 1;
        }
        self.keys.insert(key.to_vec(), Zset::new(skiplist));
    }

    fn delete(&mut self, key: &[u8]) {
        if let Some(z) = self.keys.remove(key)
            && z.skiplist
            && !self.deleted_skiplists.iter().any(|k| k == key)
        {
            self.deleted_skiplists.push(key.to_vec());
        }
    }

    fn delete_if_empty(&mut self, key: &[u8]) {
        if self.len(key) == 0 && self.keys.contains_key(key) {
            self.cov.emptied += 1;
            self.delete(key);
        }
    }

    /// ZADD with valid flags and pairs.
    fn zadd(&mut self, key: &[u8], flags: ZaddFlags, pairs: &[(f64, Vec<u8>)]) -> Frame {
        if !self.keys.contains_key(key) {
            if flags.xx {
                return if flags.incr {
                    Frame::NullBulk
                } else {
                    Frame::Integer(0)
                };
            }
            // Redis 7.0 looks at the first member only when it creates
            // the key.
            let skiplist = self.limits.entries == 0 || pairs[0].1.len() > self.limits.value;
            self.create(key, skiplist);
        }
        let limits = self.limits;
        let z = self.keys.get_mut(key).expect("created above");
        let (mut added, mut updated, mut processed) = (0, 0, 0);
        let mut last = 0.0;
        for (score, member) in pairs {
            match z.add(*score, member, flags, limits, &mut self.cov) {
                Added::Nop => {}
                Added::New(s) => (added, processed, last) = (added + 1, processed + 1, s),
                Added::Updated(s) => (updated, processed, last) = (updated + 1, processed + 1, s),
                Added::Same(s) => (processed, last) = (processed + 1, s),
                Added::Nan => {
                    self.cov.nan_errors += 1;
                    return error_frame("ERR resulting score is not a number (NaN)");
                }
            }
        }
        if flags.incr {
            if processed > 0 {
                score_frame(last)
            } else {
                self.cov.incr_nops += 1;
                Frame::NullBulk
            }
        } else {
            Frame::Integer(if flags.ch { added + updated } else { added })
        }
    }

    fn zrem(&mut self, key: &[u8], members: &[Vec<u8>]) -> Frame {
        let Some(z) = self.keys.get_mut(key) else {
            return Frame::Integer(0);
        };
        let removed = members.iter().filter(|m| z.remove(m)).count();
        self.delete_if_empty(key);
        Frame::Integer(removed as i64)
    }

    /// ZREMRANGEBYRANK, BYSCORE or BYLEX, by the kind of `by`.
    fn zremrange(&mut self, key: &[u8], by: &By) -> Frame {
        let Some(z) = self.keys.get_mut(key) else {
            return Frame::Integer(0);
        };
        let range = Range {
            by: by.clone(),
            rev: false,
            limit: None,
        };
        let doomed: Vec<Vec<u8>> = z.select(&range).iter().map(|(_, m)| m.clone()).collect();
        for member in &doomed {
            z.remove(member);
        }
        self.delete_if_empty(key);
        Frame::Integer(doomed.len() as i64)
    }

    /// ZPOPMIN or ZPOPMAX with a valid count (or none).
    fn zpop(&mut self, key: &[u8], max: bool, count: Option<i64>) -> Frame {
        let count = count.unwrap_or(1) as usize;
        let Some(z) = self.keys.get_mut(key) else {
            return Frame::Array(Vec::new());
        };
        let mut reply = Vec::new();
        for _ in 0..count.min(z.len()) {
            let (score, member) = if max {
                z.items.last().cloned()
            } else {
                z.items.first().cloned()
            }
            .expect("counted");
            z.remove(&member);
            reply.push(bulk_frame(&member));
            reply.push(score_frame(score));
        }
        self.delete_if_empty(key);
        Frame::Array(reply)
    }

    fn zrangestore(&mut self, dst: &[u8], src: &[u8], range: &Range) -> Frame {
        let result: Vec<(f64, Vec<u8>)> = match self.get(src) {
            Some(z) => z.select(range).into_iter().cloned().collect(),
            None => Vec::new(),
        };
        if result.is_empty() {
            self.cov.empty_stores += 1;
            self.delete(dst);
            return Frame::Integer(0);
        }
        // By rank the result's length is known before it is stored; by
        // score or lex the destination starts a listpack.
        let skiplist = matches!(range.by, By::Rank(..)) && result.len() > self.limits.entries;
        self.delete(dst);
        self.create(dst, skiplist);
        let limits = self.limits;
        let z = self.keys.get_mut(dst).expect("created above");
        for (score, member) in &result {
            z.add_new(*score, member, limits, &mut self.cov);
        }
        Frame::Integer(result.len() as i64)
    }

    fn zrange(&self, key: &[u8], range: &Range, withscores: bool) -> Frame {
        let Some(z) = self.get(key) else {
            return Frame::Array(Vec::new());
        };
        let mut reply = Vec::new();
        for (score, member) in z.select(range) {
            reply.push(bulk_frame(member));
            if withscores {
                reply.push(score_frame(*score));
            }
        }
        Frame::Array(reply)
    }

    /// ZCOUNT or ZLEXCOUNT, by the kind of `by`.
    fn count(&self, key: &[u8], by: &By) -> Frame {
        let range = Range {
            by: by.clone(),
            rev: false,
            limit: None,
        };
        Frame::Integer(self.get(key).map_or(0, |z| z.select(&range).len()) as i64)
    }

    fn zscore(&self, key: &[u8], member: &[u8]) -> Frame {
        match self.get(key).and_then(|z| z.score(member)) {
            Some(score) => score_frame(score),
            None => Frame::NullBulk,
        }
    }

    fn zmscore(&self, key: &[u8], members: &[Vec<u8>]) -> Frame {
        Frame::Array(members.iter().map(|m| self.zscore(key, m)).collect())
    }

    fn zrank(&self, key: &[u8], member: &[u8], rev: bool) -> Frame {
        match self
            .get(key)
            .and_then(|z| z.position(member).map(|at| (z, at)))
        {
            Some((z, at)) if rev => Frame::Integer((z.len() - 1 - at) as i64),
            Some((_, at)) => Frame::Integer(at as i64),
            None => Frame::NullBulk,
        }
    }

    fn encoding(&self, key: &[u8]) -> Frame {
        match self.get(key) {
            Some(z) if z.skiplist => bulk_frame(b"skiplist"),
            Some(_) => bulk_frame(b"listpack"),
            None => Frame::NullBulk,
        }
    }

    fn kind(&self, key: &[u8]) -> Frame {
        let kind: &[u8] = if self.keys.contains_key(key) {
            b"zset"
        } else {
            b"none"
        };
        Frame::Simple(kind.to_vec())
    }
}

// ---------------------------------------------------------------------------
// Random commands
// ---------------------------------------------------------------------------

const SMALL: &[u8] = b"zset:small";
const MEDIUM: &[u8] = b"zset:medium";
const CROSS: &[u8] = b"zset:cross";
const LEX: &[u8] = b"zset:lex";
const DST: &[u8] = b"zset:dst";
const LEXDST: &[u8] = b"zset:lexdst";
/// A string, for WRONGTYPE.
const STRING: &[u8] = b"string";
/// Sorted-set commands that must refuse [`STRING`].
const WRONGTYPE_COMMANDS: [&[&[u8]]; 7] = [
    &[b"ZRANGE", STRING, b"0", b"-1"],
    &[b"ZSCORE", STRING, b"m"],
    &[b"ZCARD", STRING],
    &[b"ZPOPMAX", STRING],
    &[b"ZRANGESTORE", DST, STRING, b"0", b"-1"],
    &[b"ZINCRBY", STRING, b"1", b"m"],
    &[b"ZREMRANGEBYRANK", STRING, b"0", b"-1"],
];

/// How one key of the model test is used.
struct Profile {
    key: &'static [u8],
    /// The members it draws from.
    pool: Vec<Vec<u8>>,
    /// Members drawn once in `rare_one_in` draws: the long ones.
    rare: Vec<Vec<u8>>,
    rare_one_in: u64,
    /// Writes add while the key has `low` members or fewer, until it has
    /// `high`, then remove until it is back at `low`.
    low: usize,
    high: usize,
    /// Every member has score 0 (or -0): the lex commands apply.
    uniform: bool,
    max_pairs: u64,
    /// Small integer scores are in `-int_span..=int_span`.
    int_span: i64,
    /// Where ZRANGESTORE from this key stores.
    store_into: &'static [u8],
    /// Whether the key may be removed whole when it reaches `low`, once
    /// in this many times (0: never).
    wipe_one_in: u64,
}

/// Integer-like, binary and otherwise awkward members.
fn awkward_members() -> Vec<Vec<u8>> {
    let fixed: [&[u8]; 20] = [
        b"",
        b"0",
        b"1",
        b"-1",
        b"12",
        b"-3",
        b"007",
        b"1.5",
        b"1e3",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"\x00",
        b"\x00\x01",
        b"\xff",
        b"\xff\xfe\x00",
        b"\r\n",
        b" ",
        b"\xc3\xa9t\xc3\xa9",
        b"a\x00b",
    ];
    fixed.iter().map(|m| m.to_vec()).collect()
}

/// Members of `len` bytes, one of them binary.
fn long_members(lens: &[usize], rng: &mut Rng) -> Vec<Vec<u8>> {
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            if i % 2 == 0 {
                let mut m = format!("long{i}:").into_bytes();
                m.resize(len, b'x');
                m
            } else {
                random_bytes(rng, len)
            }
        })
        .collect()
}

/// Short strings over a small alphabet with bytes at both ends, so that
/// many members are prefixes of others: good lex bounds.
fn lex_members() -> Vec<Vec<u8>> {
    let alphabet: [u8; 5] = [b'a', b'b', b'1', 0x00, 0xff];
    let mut out: Vec<Vec<u8>> = vec![Vec::new()];
    let mut layer: Vec<Vec<u8>> = vec![Vec::new()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for prefix in &layer {
            for &b in &alphabet {
                let mut m = prefix.clone();
                m.push(b);
                next.push(m);
            }
        }
        out.extend(next.iter().cloned());
        layer = next;
    }
    for bits in 0..16u8 {
        out.push(
            (0..4)
                .map(|i| if bits >> i & 1 == 1 { b'b' } else { b'a' })
                .collect(),
        );
    }
    out
}

fn profiles(limits: Limits, rng: &mut Rng) -> Vec<Profile> {
    let entries = limits.entries.max(4);
    let mut small_pool = awkward_members();
    small_pool.extend((0..20).map(|i| format!("s{i}").into_bytes()));
    let medium_pool: Vec<Vec<u8>> = (0..1_400)
        .map(|i| match i % 4 {
            0 => i.to_string().into_bytes(),
            1 => format!("member:{i}").into_bytes(),
            2 => format!("-{i}").into_bytes(),
            _ => [format!("b{i}").as_bytes(), b"\x00\xff"].concat(),
        })
        .collect();
    let mut cross_pool: Vec<Vec<u8>> = (0..entries * 2)
        .map(|i| format!("c{i}").into_bytes())
        .collect();
    cross_pool.extend(awkward_members());
    // Exactly at the value limit: still a listpack.
    cross_pool.push(vec![b'v'; limits.value]);
    let cross_long = long_members(&[limits.value + 1, 100, 300], rng);
    let lex_long = long_members(&[limits.value + 1, limits.value + 40], rng);
    let mut dst_pool = small_pool.clone();
    dst_pool.extend(cross_pool.iter().cloned());
    vec![
        Profile {
            key: SMALL,
            pool: small_pool,
            rare: Vec::new(),
            rare_one_in: 0,
            low: 3,
            high: (entries * 3 / 10).max(4),
            uniform: false,
            max_pairs: 4,
            int_span: 5,
            store_into: DST,
            wipe_one_in: 4,
        },
        Profile {
            key: MEDIUM,
            pool: medium_pool,
            rare: Vec::new(),
            rare_one_in: 0,
            low: 900,
            high: 1_100,
            uniform: false,
            max_pairs: 16,
            int_span: 60,
            store_into: DST,
            wipe_one_in: 0,
        },
        Profile {
            key: CROSS,
            pool: cross_pool,
            rare: cross_long,
            rare_one_in: 250,
            low: entries * 45 / 100,
            high: entries * 3 / 2,
            uniform: false,
            max_pairs: 8,
            int_span: 20,
            store_into: CROSS,
            wipe_one_in: 2,
        },
        Profile {
            key: LEX,
            pool: lex_members(),
            rare: lex_long,
            rare_one_in: 400,
            low: entries * 3 / 10,
            high: entries * 7 / 5,
            uniform: true,
            max_pairs: 8,
            int_span: 0,
            store_into: LEXDST,
            wipe_one_in: 3,
        },
        Profile {
            key: DST,
            pool: dst_pool,
            rare: Vec::new(),
            rare_one_in: 0,
            low: 5,
            high: entries + entries / 2,
            uniform: false,
            max_pairs: 4,
            int_span: 10,
            store_into: DST,
            wipe_one_in: 0,
        },
        Profile {
            key: LEXDST,
            pool: lex_members(),
            rare: Vec::new(),
            rare_one_in: 0,
            low: 5,
            high: entries,
            uniform: true,
            max_pairs: 4,
            int_span: 0,
            store_into: LEXDST,
            wipe_one_in: 0,
        },
    ]
}

/// How often each profile's key gets a write, by profile index.
const PROFILE_WEIGHTS: [u64; 6] = [18, 22, 26, 18, 10, 6];

/// A random element of `items`, which must not be empty.
fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

/// A score and a text for it that strtod reads back as exactly that
/// score.
fn random_score(rng: &mut Rng, int_span: i64) -> (f64, String) {
    let roll = rng.below(100);
    match roll {
        0..=39 => {
            let v = rng.below(2 * int_span as u64 + 1) as i64 - int_span;
            (v as f64, v.to_string())
        }
        40..=52 => {
            let v = (rng.below(81) as f64 - 40.0) / 4.0;
            (v, format!("{v}"))
        }
        53..=62 => {
            let v = (rng.below(201) as f64 - 100.0) / 10.0;
            (v, format!("{v}"))
        }
        63..=66 => {
            let v = (rng.below(31) as f64 - 15.0) / 3.0;
            (v, format!("{v:e}"))
        }
        67..=72 => {
            let texts: [(f64, &str); 8] = [
                (f64::INFINITY, "inf"),
                (f64::INFINITY, "+inf"),
                (f64::INFINITY, "Inf"),
                (f64::INFINITY, "infinity"),
                (f64::NEG_INFINITY, "-inf"),
                (f64::NEG_INFINITY, "-INF"),
                (f64::NEG_INFINITY, "-Infinity"),
                (f64::NEG_INFINITY, "-inf"),
            ];
            let (v, t) = pick(rng, &texts);
            (*v, t.to_string())
        }
        73..=84 => {
            let values: [f64; 18] = [
                1e300,
                -1e300,
                f64::MAX,
                f64::MIN,
                9007199254740992.0,
                9007199254740994.0,
                4611686018427387904.0,
                9223372036854775808.0,
                -9223372036854775808.0,
                1e-300,
                -2.5e-310,
                123456789.12345679,
                0.1 + 0.2,
                1e16,
                1e17,
                1e-4,
                1e-5,
                -1234567.0625,
            ];
            let v = *pick(rng, &values);
            let text = if rng.below(2) == 0 || !(1e-6..1e20).contains(&v.abs()) {
                format!("{v:e}")
            } else {
                format!("{v}")
            };
            (v, text)
        }
        85..=88 => zero_score(rng),
        _ => loop {
            let v = f64::from_bits(rng.next_u64());
            if v.is_finite() {
                break (v, format!("{v:e}"));
            }
        },
    }
}

/// 0 or -0 in one of their spellings.
fn zero_score(rng: &mut Rng) -> (f64, String) {
    let texts: [(f64, &str); 6] = [
        (0.0, "0"),
        (-0.0, "-0"),
        (0.0, "0.0"),
        (0.0, "+0"),
        (-0.0, "-0.0"),
        (0.0, "0e3"),
    ];
    let (v, t) = pick(rng, &texts);
    (*v, t.to_string())
}

/// A text for `value` as a range bound: `-inf`, `+inf` and other
/// spellings of the infinities (`1e400` overflows to one, which a range
/// bound takes), `-0`, or a round-tripping decimal.
fn bound_text(rng: &mut Rng, value: f64) -> String {
    if value == f64::INFINITY {
        (*pick(rng, &["+inf", "inf", "+inf", "1e400"])).to_string()
    } else if value == f64::NEG_INFINITY {
        (*pick(rng, &["-inf", "-inf", "-1e400", "-Infinity"])).to_string()
    } else if value == 0.0 && value.is_sign_negative() {
        "-0".to_string()
    } else if rng.below(2) == 0 {
        format!("{value:e}")
    } else {
        fmt_score(value)
    }
}

/// The generator and the model of one run.
struct ModelTest {
    rng: Rng,
    model: Model,
    profiles: Vec<Profile>,
    growing: Vec<bool>,
}

impl ModelTest {
    fn new(seed: u64, limits: Limits) -> ModelTest {
        let mut rng = Rng::new(seed);
        let profiles = profiles(limits, &mut rng);
        let growing = vec![true; profiles.len()];
        ModelTest {
            rng,
            model: Model::new(limits),
            profiles,
            growing,
        }
    }

    /// A member for profile `p`: one the key has, with probability
    /// `present` (when it has any), else one from its pool, or rarely a
    /// long one.
    fn member(&mut self, p: usize, present: u64) -> Vec<u8> {
        let prof = &self.profiles[p];
        if let Some(z) = self.model.get(prof.key)
            && z.len() > 0
            && self.rng.below(100) < present
        {
            let at = self.rng.below(z.len() as u64) as usize;
            return z.items[at].1.clone();
        }
        if !prof.rare.is_empty() && self.rng.below(prof.rare_one_in) == 0 {
            return pick(&mut self.rng, &prof.rare).clone();
        }
        pick(&mut self.rng, &prof.pool).clone()
    }

    fn score(&mut self, p: usize) -> (f64, String) {
        if self.profiles[p].uniform {
            zero_score(&mut self.rng)
        } else {
            random_score(&mut self.rng, self.profiles[p].int_span)
        }
    }

    /// A score bound: an infinity, a score the key has, or a random one;
    /// exclusive one time in three.
    fn score_bound(&mut self, key: &[u8], int_span: i64) -> ScoreBound {
        let value = match self.rng.below(10) {
            0 => f64::NEG_INFINITY,
            1 => f64::INFINITY,
            2..=6 if self.model.len(key) > 0 => {
                let z = self.model.get(key).expect("not empty");
                z.items[self.rng.below(z.len() as u64) as usize].0
            }
            _ => random_score(&mut self.rng, int_span).0,
        };
        let exclusive = self.rng.below(3) == 0;
        let text = bound_text(&mut self.rng, value);
        ScoreBound {
            value,
            exclusive,
            text: if exclusive { format!("({text}") } else { text },
        }
    }

    /// Two score bounds, in order three times in four.
    fn score_bounds(&mut self, key: &[u8], int_span: i64) -> (ScoreBound, ScoreBound) {
        let a = self.score_bound(key, int_span);
        let b = self.score_bound(key, int_span);
        if self.rng.below(4) != 0 && a.value > b.value {
            (b, a)
        } else {
            (a, b)
        }
    }

    /// A narrow score range around a few members, for removals from the
    /// large key.
    fn narrow_score_bounds(&mut self, key: &[u8]) -> (ScoreBound, ScoreBound) {
        let z = self
            .model
            .get(key)
            .expect("removals are made on keys that exist");
        let at = self.rng.below(z.len() as u64) as usize;
        let to = (at + self.rng.below(3) as usize).min(z.len() - 1);
        let (low, high) = (z.items[at].0, z.items[to].0);
        let (min_ex, max_ex) = (self.rng.below(4) == 0, self.rng.below(4) == 0);
        let min_text = bound_text(&mut self.rng, low);
        let max_text = bound_text(&mut self.rng, high);
        let bound = |value, exclusive, text: String| ScoreBound {
            value,
            exclusive,
            text: if exclusive { format!("({text}") } else { text },
        };
        (bound(low, min_ex, min_text), bound(high, max_ex, max_text))
    }

    fn lex_bound(&mut self, p: usize) -> LexBound {
        match self.rng.below(10) {
            0 => LexBound::Min,
            1 => LexBound::Max,
            roll => {
                let member = self.member(p, 60);
                if roll % 2 == 0 {
                    LexBound::Incl(member)
                } else {
                    LexBound::Excl(member)
                }
            }
        }
    }

    fn lex_bounds(&mut self, p: usize) -> (LexBound, LexBound) {
        let a = self.lex_bound(p);
        let b = self.lex_bound(p);
        let key = |b: &LexBound| match b {
            LexBound::Min => (0, Vec::new()),
            LexBound::Incl(m) | LexBound::Excl(m) => (1, m.clone()),
            LexBound::Max => (2, Vec::new()),
        };
        if self.rng.below(4) != 0 && key(&a) > key(&b) {
            (b, a)
        } else {
            (a, b)
        }
    }

    /// A rank in `-len-3..=len+3`.
    fn rank(&mut self, len: usize) -> i64 {
        let span = len as i64 + 3;
        self.rng.below(2 * span as u64 + 1) as i64 - span
    }

    fn limit(&mut self, len: usize) -> Option<(i64, i64)> {
        if self.rng.below(2) == 0 {
            return None;
        }
        let offset = match self.rng.below(10) {
            0 => -1,
            1..=5 => self.rng.below(4) as i64,
            _ => self.rng.below(len as u64 + 2) as i64,
        };
        let count = match self.rng.below(8) {
            0 => -1,
            1 => -5,
            2 => 0,
            _ => 1 + self.rng.below(12) as i64,
        };
        Some((offset, count))
    }

    /// A random range over profile `p`'s key: by rank, by score, or (when
    /// every member shares a score) by lex; REV half the time, LIMIT where
    /// it is allowed.
    fn range(&mut self, p: usize) -> Range {
        let key = self.profiles[p].key;
        let len = self.model.len(key);
        let uniform = self.model.get(key).is_none_or(Zset::uniform);
        let rev = self.rng.below(2) == 0;
        let kind = self.rng.below(if uniform { 3 } else { 2 });
        match kind {
            0 => {
                let (start, stop) = if self.rng.below(8) == 0 {
                    (0, -1)
                } else {
                    (self.rank(len), self.rank(len))
                };
                Range {
                    by: By::Rank(start, stop),
                    rev,
                    limit: None,
                }
            }
            1 => {
                let (min, max) = self.score_bounds(key, self.profiles[p].int_span);
                let limit = self.limit(len);
                Range {
                    by: By::Score(min, max),
                    rev,
                    limit,
                }
            }
            _ => {
                let (min, max) = self.lex_bounds(p);
                let limit = self.limit(len);
                Range {
                    by: By::Lex(min, max),
                    rev,
                    limit,
                }
            }
        }
    }

    /// One random write to profile `p`'s key, applied to the model, with
    /// the reply it must get.
    fn random_write(&mut self, p: usize) -> Step {
        let key = self.profiles[p].key;
        let len = self.model.len(key);
        let (low, high) = (self.profiles[p].low, self.profiles[p].high);
        if len >= high {
            self.growing[p] = false;
        } else if len <= low && !self.growing[p] {
            self.growing[p] = true;
            let wipe_one_in = self.profiles[p].wipe_one_in;
            if len > 0 && wipe_one_in > 0 && self.rng.below(wipe_one_in) == 0 {
                return self.wipe(p);
            }
        }
        let adding = if self.growing[p] { 60 } else { 15 };
        let roll = self.rng.below(100);
        if roll < 3 {
            self.error_step(p)
        } else if roll < 3 + adding {
            self.zadd_step(p, true)
        } else if roll < 3 + adding + 22 {
            match self.rng.below(10) {
                0..=3 => self.zadd_step(p, false),
                4..=6 => self.zincrby_step(p),
                _ => self.zrangestore_step(p),
            }
        } else {
            self.remove_step(p)
        }
    }

    /// Removes the whole key with one command, so that it starts again.
    fn wipe(&mut self, p: usize) -> Step {
        let key = self.profiles[p].key;
        let len = self.model.len(key);
        match self.rng.below(3) {
            0 => {
                let by = By::Rank(0, -1);
                let reply = self.model.zremrange(key, &by);
                Step {
                    args: args_of(&[b"ZREMRANGEBYRANK".as_slice(), key, b"0", b"-1"]),
                    reply,
                }
            }
            1 => {
                let count = len + self.rng.below(3) as usize;
                let reply = self.model.zpop(key, false, Some(count as i64));
                Step {
                    args: args_of(&[b"ZPOPMIN".as_slice(), key, count.to_string().as_bytes()]),
                    reply,
                }
            }
            _ => {
                let lo = ScoreBound {
                    value: f64::NEG_INFINITY,
                    exclusive: false,
                    text: "-inf".to_string(),
                };
                let hi = ScoreBound {
                    value: f64::INFINITY,
                    exclusive: false,
                    text: "+inf".to_string(),
                };
                let by = By::Score(lo, hi);
                let reply = self.model.zremrange(key, &by);
                Step {
                    args: args_of(&[b"ZREMRANGEBYSCORE".as_slice(), key, b"-inf", b"+inf"]),
                    reply,
                }
            }
        }
    }

    /// ZADD: `adding` mostly plain (new members go in); otherwise with
    /// the flags that act on existing members (XX, GT, LT, INCR, CH).
    fn zadd_step(&mut self, p: usize, adding: bool) -> Step {
        let key = self.profiles[p].key;
        let mut flags = ZaddFlags::default();
        let roll = self.rng.below(100);
        if adding {
            match roll {
                0..=64 => {}
                65..=79 => flags.nx = true,
                80..=89 => flags.gt = true,
                _ => flags.lt = true,
            }
        } else {
            match roll {
                0..=29 => flags.xx = true,
                30..=44 => flags.gt = true,
                45..=59 => flags.lt = true,
                60..=69 => (flags.xx, flags.gt) = (true, true),
                70..=79 => (flags.xx, flags.lt) = (true, true),
                80..=89 => flags.nx = true,
                _ => {}
            }
            flags.incr = self.rng.below(3) == 0;
        }
        flags.ch = self.rng.below(3) == 0;
        let pairs = if flags.incr {
            1
        } else {
            1 + self.rng.below(self.profiles[p].max_pairs)
        };
        let present = if adding { 20 } else { 75 };
        let mut args = args_of(&[b"ZADD".as_slice(), key]);
        args.extend(flags.words().iter().map(|w| w.as_bytes().to_vec()));
        let mut model_pairs = Vec::new();
        for _ in 0..pairs {
            let (score, text) = self.score(p);
            let member = self.member(p, present);
            args.push(text.into_bytes());
            args.push(member.clone());
            model_pairs.push((score, member));
        }
        let reply = self.model.zadd(key, flags, &model_pairs);
        Step { args, reply }
    }

    fn zincrby_step(&mut self, p: usize) -> Step {
        let key = self.profiles[p].key;
        let member = self.member(p, 80);
        let (mut incr, mut text) = self.score(p);
        // An infinite score met by the other infinity makes NaN, an
        // error; often enough to be seen.
        if let Some(current) = self.model.get(key).and_then(|z| z.score(&member))
            && current.is_infinite()
            && self.rng.below(3) == 0
        {
            incr = -current;
            text = if incr > 0.0 { "+inf" } else { "-inf" }.to_string();
        }
        let flags = ZaddFlags {
            incr: true,
            ..ZaddFlags::default()
        };
        let reply = self.model.zadd(key, flags, &[(incr, member.clone())]);
        Step {
            args: args_of(&[b"ZINCRBY".as_slice(), key, text.as_bytes(), &member]),
            reply,
        }
    }

    fn zrangestore_step(&mut self, p: usize) -> Step {
        let src = self.profiles[p].key;
        let dst = self.profiles[p].store_into;
        let mut range = self.range(p);
        // A narrow store from the large key into itself would end it.
        if src == MEDIUM && dst == src {
            range = Range {
                by: By::Rank(0, -1),
                rev: false,
                limit: None,
            };
        }
        let args = range.zrange_args(src, Some(dst), false);
        let reply = self.model.zrangestore(dst, src, &range);
        Step { args, reply }
    }

    fn remove_step(&mut self, p: usize) -> Step {
        let key = self.profiles[p].key;
        let len = self.model.len(key);
        let uniform = self.model.get(key).is_none_or(Zset::uniform);
        let large = len > 300;
        match self.rng.below(if uniform { 6 } else { 5 }) {
            0 => {
                let n = 1 + self.rng.below(4);
                let members: Vec<Vec<u8>> = (0..n).map(|_| self.member(p, 80)).collect();
                let mut args = args_of(&[b"ZREM".as_slice(), key]);
                args.extend(members.iter().cloned());
                let reply = self.model.zrem(key, &members);
                Step { args, reply }
            }
            1 | 2 => {
                let max = self.rng.below(2) == 0;
                let count = match self.rng.below(5) {
                    0 => None,
                    1 => Some(0),
                    _ => Some(1 + self.rng.below(if large { 5 } else { 10 }) as i64),
                };
                let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
                let mut args = args_of(&[name, key]);
                if let Some(n) = count {
                    args.push(n.to_string().into_bytes());
                }
                let reply = self.model.zpop(key, max, count);
                Step { args, reply }
            }
            3 => {
                let start = self.rank(len);
                let width = self.rng.below(if large { 4 } else { 8 }) as i64;
                let stop = if start < 0 && start + width >= 0 {
                    -1
                } else {
                    start + width
                };
                let by = By::Rank(start, stop);
                let reply = self.model.zremrange(key, &by);
                Step {
                    args: args_of(&[
                        b"ZREMRANGEBYRANK".as_slice(),
                        key,
                        start.to_string().as_bytes(),
                        stop.to_string().as_bytes(),
                    ]),
                    reply,
                }
            }
            4 => {
                let (min, max) = if len > 0 && (large || self.rng.below(2) == 0) {
                    self.narrow_score_bounds(key)
                } else {
                    self.score_bounds(key, self.profiles[p].int_span)
                };
                let args = args_of(&[
                    b"ZREMRANGEBYSCORE".as_slice(),
                    key,
                    min.text.as_bytes(),
                    max.text.as_bytes(),
                ]);
                let reply = self.model.zremrange(key, &By::Score(min, max));
                Step { args, reply }
            }
            _ => {
                let (min, max) = self.lex_bounds(p);
                let args = args_of(&[b"ZREMRANGEBYLEX".as_slice(), key, &min.arg(), &max.arg()]);
                let reply = self.model.zremrange(key, &By::Lex(min, max));
                Step { args, reply }
            }
        }
    }

    /// A command that must fail, leaving everything as it was.
    fn error_step(&mut self, p: usize) -> Step {
        let key = self.profiles[p].key;
        let member = self.member(p, 50);
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let not_float = "ERR value is not a valid float";
        let (parts, text): (Vec<&[u8]>, &str) = match self.rng.below(14) {
            0 => (
                vec![b"ZADD", key, b"NX", b"XX", b"1", &member],
                "ERR XX and NX options at the same time are not compatible",
            ),
            1 => (
                vec![b"ZADD", key, b"GT", b"LT", b"1", &member],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            2 => (
                vec![b"ZADD", key, b"NX", b"LT", b"CH", b"1", &member],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            3 => (
                vec![b"ZADD", key, b"INCR", b"1", &member, b"2", b"other"],
                "ERR INCR option supports a single increment-element pair",
            ),
            4 => (vec![b"ZADD", key, b"1", &member, b"2"], "ERR syntax error"),
            5 => {
                let bad: &[u8] = pick::<&[u8]>(
                    &mut self.rng,
                    &[
                        b"nan".as_slice(),
                        b"abc",
                        b"1e400",
                        b"-1e400",
                        b"1e-400",
                        b"1e",
                        b"1 ",
                    ],
                );
                (vec![b"ZADD", key, b"1", b"fine", bad, &member], not_float)
            }
            6 => (vec![b"ZINCRBY", key, b"one", &member], not_float),
            7 => (
                vec![b"ZPOPMIN", key, b"-1"],
                "ERR value is out of range, must be positive",
            ),
            8 => (
                vec![b"ZRANGE", key, b"(x", b"1", b"BYSCORE"],
                "ERR min or max is not a float",
            ),
            9 => (
                vec![b"ZRANGE", key, b"a", b"+", b"BYLEX"],
                "ERR min or max not valid string range item",
            ),
            10 => (
                vec![b"ZRANGE", key, b"0", b"1", b"LIMIT", b"0", b"1"],
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ),
            11 => (
                vec![b"ZRANGE", key, b"-", b"+", b"BYLEX", b"WITHSCORES"],
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ),
            12 => (vec![b"ZADD", STRING, b"1", &member], wrongtype),
            _ => {
                let command: &[&[u8]] = pick::<&[&[u8]]>(&mut self.rng, &WRONGTYPE_COMMANDS);
                (command.to_vec(), wrongtype)
            }
        };
        Step {
            args: args_of(&parts),
            reply: error_frame(text),
        }
    }

    /// Reads of every key, with the replies the model gives; `full` adds
    /// the whole of each key.
    fn checks(&mut self, full: bool) -> Vec<Step> {
        let mut steps = Vec::new();
        for p in 0..self.profiles.len() {
            let key = self.profiles[p].key;
            let read = |args: Args, reply: Frame| Step { args, reply };
            steps.push(read(
                args_of(&[b"TYPE".as_slice(), key]),
                self.model.kind(key),
            ));
            steps.push(read(
                args_of(&[b"ZCARD".as_slice(), key]),
                Frame::Integer(self.model.len(key) as i64),
            ));
            steps.push(read(
                args_of(&[b"OBJECT".as_slice(), b"ENCODING", key]),
                self.model.encoding(key),
            ));
            if let Some(z) = self.model.get(key)
                && z.skiplist
                && z.len() <= self.model.limits.entries
                && z.items
                    .iter()
                    .all(|(_, m)| m.len() <= self.model.limits.value)
            {
                self.model.cov.shrunk_skiplist_seen += 1;
            }
            for _ in 0..3 {
                let member = self.member(p, 70);
                let reply = self.model.zscore(key, &member);
                steps.push(read(args_of(&[b"ZSCORE".as_slice(), key, &member]), reply));
            }
            let members: Vec<Vec<u8>> = (0..1 + self.rng.below(5))
                .map(|_| self.member(p, 60))
                .collect();
            let mut args = args_of(&[b"ZMSCORE".as_slice(), key]);
            args.extend(members.iter().cloned());
            steps.push(read(args, self.model.zmscore(key, &members)));
            for rev in [false, true] {
                let member = self.member(p, 80);
                let name: &[u8] = if rev { b"ZREVRANK" } else { b"ZRANK" };
                let reply = self.model.zrank(key, &member, rev);
                steps.push(read(args_of(&[name, key, &member]), reply));
            }
            for _ in 0..4 {
                let range = self.range(p);
                let withscores = !matches!(range.by, By::Lex(..)) && self.rng.below(2) == 0;
                let args = if self.rng.below(3) == 0 {
                    range.legacy_args(key, withscores)
                } else {
                    range.zrange_args(key, None, withscores)
                };
                steps.push(read(args, self.model.zrange(key, &range, withscores)));
            }
            let (min, max) = self.score_bounds(key, self.profiles[p].int_span);
            let args = args_of(&[
                b"ZCOUNT".as_slice(),
                key,
                min.text.as_bytes(),
                max.text.as_bytes(),
            ]);
            steps.push(read(args, self.model.count(key, &By::Score(min, max))));
            if self.model.get(key).is_none_or(Zset::uniform) {
                let (min, max) = self.lex_bounds(p);
                let args = args_of(&[b"ZLEXCOUNT".as_slice(), key, &min.arg(), &max.arg()]);
                steps.push(read(args, self.model.count(key, &By::Lex(min, max))));
            }
            if full {
                let range = Range {
                    by: By::Rank(0, -1),
                    rev: false,
                    limit: None,
                };
                let args = range.zrange_args(key, None, true);
                steps.push(read(args, self.model.zrange(key, &range, true)));
            }
        }
        steps
    }

    /// Fills the large key to its lower mark with ZADDs of 100 pairs.
    fn fill_medium(&mut self) -> Vec<Step> {
        let p = self
            .profiles
            .iter()
            .position(|prof| prof.key == MEDIUM)
            .expect("a medium profile");
        let mut steps = Vec::new();
        let mut next = 0;
        while self.model.len(MEDIUM) < self.profiles[p].low {
            let mut args = args_of(&[b"ZADD", MEDIUM]);
            let mut pairs = Vec::new();
            for _ in 0..100 {
                let member = self.profiles[p].pool[next].clone();
                next += 1;
                let (score, text) = random_score(&mut self.rng, self.profiles[p].int_span);
                args.push(text.into_bytes());
                args.push(member.clone());
                pairs.push((score, member));
            }
            let reply = self.model.zadd(MEDIUM, ZaddFlags::default(), &pairs);
            steps.push(Step { args, reply });
        }
        steps
    }

    fn pick_profile(&mut self) -> usize {
        let total: u64 = PROFILE_WEIGHTS.iter().sum();
        let mut roll = self.rng.below(total);
        for (p, &w) in PROFILE_WEIGHTS.iter().enumerate() {
            if roll < w {
                return p;
            }
            roll -= w;
        }
        unreachable!("the roll is below the total")
    }
}

/// Writes per batch, and batches per run.
const WRITES_PER_BATCH: usize = 50;
const BATCHES: usize = 120;
/// Every this many batches, the checks read every key whole.
const FULL_READ_EVERY: usize = 8;

/// Runs the model test with `seed` against a fresh server under test,
/// with `limits` set by CONFIG SET when they are not the defaults.
fn model_test(seed: u64, limits: Limits) {
    let Some(server) = start_under_test("the sorted-set model test") else {
        return;
    };
    let mut c = server.connect();
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "zset-max-listpack-entries",
            &limits.entries.to_string(),
        ],
    );
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "zset-max-listpack-value",
            &limits.value.to_string(),
        ],
    );
    ok(&mut c, &["SET", "string", "not a sorted set"]);
    let mut t = ModelTest::new(seed, limits);
    let name = server.name.clone();
    let fill = t.fill_medium();
    run_steps(&mut c, &fill, &|| {
        format!("{name}, seed {seed:#x}, filling")
    });
    for batch in 0..BATCHES {
        let mut steps = Vec::new();
        for _ in 0..WRITES_PER_BATCH {
            let p = t.pick_profile();
            steps.push(t.random_write(p));
        }
        steps.extend(t.checks(batch % FULL_READ_EVERY == 0));
        run_steps(&mut c, &steps, &|| {
            format!("{name}, seed {seed:#x}, limits {limits:?}, batch {batch}")
        });
    }
    let steps = t.checks(true);
    run_steps(&mut c, &steps, &|| {
        format!("{name}, seed {seed:#x}, final checks")
    });
    expect_reply(&mut c, &["GET", "string"], "$16\r\nnot a sorted set\r\n");

    let cov = &t.model.cov;
    let covered = [
        ("a conversion by length", cov.converted_by_length),
        ("a conversion by a long member", cov.converted_by_member),
        ("a key created a skiplist", cov.created_skiplist),
        (
            "a skiplist that shrank below the limit",
            cov.shrunk_skiplist_seen,
        ),
        (
            "a name re-created small after a skiplist",
            cov.recreated_small,
        ),
        ("a -0 a listpack stored as 0", cov.negative_zero_flattened),
        ("a -0 a skiplist kept", cov.negative_zero_kept),
        ("a NaN error", cov.nan_errors),
        ("a ZADD INCR that did nothing", cov.incr_nops),
        ("an empty ZRANGESTORE", cov.empty_stores),
        ("a key emptied", cov.emptied),
    ];
    let missing: Vec<&str> = covered
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(what, _)| *what)
        .collect();
    assert!(
        missing.is_empty(),
        "seed {seed:#x} never covered: {}; coverage {cov:?}",
        missing.join(", ")
    );
}

#[test]
fn model_default_limits() {
    model_test(0x25e7_0001, DEFAULT_LIMITS);
}

#[test]
fn model_default_limits_second_seed() {
    model_test(0x25e7_0002, DEFAULT_LIMITS);
}

/// The thresholds are settings: a small entries limit and value limit
/// set with CONFIG SET move every conversion.
#[test]
fn model_small_limits() {
    model_test(
        0x25e7_0003,
        Limits {
            entries: 16,
            value: 12,
        },
    );
}

// ---------------------------------------------------------------------------
// 2. Blocking pops
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

/// BZPOPMIN's or BZPOPMAX's reply: the key, the member and its score.
fn popped(key: &str, member: &str, score: &str) -> String {
    let frame = Frame::Array(vec![
        bulk_frame(key.as_bytes()),
        bulk_frame(member.as_bytes()),
        bulk_frame(score.as_bytes()),
    ]);
    escape(&frame.to_bytes())
}

/// BZMPOP's reply: the key and its (member, score) pairs.
fn mpopped(key: &str, pairs: &[(&str, &str)]) -> String {
    let pairs = pairs
        .iter()
        .map(|(m, s)| Frame::Array(vec![bulk_frame(m.as_bytes()), bulk_frame(s.as_bytes())]))
        .collect();
    let frame = Frame::Array(vec![bulk_frame(key.as_bytes()), Frame::Array(pairs)]);
    escape(&frame.to_bytes())
}

const NULL_ARRAY: &str = "*-1\\r\\n";

#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    let Some(server) = start_under_test("blocking pops: FIFO") else {
        return;
    };
    let mut ctl = server.connect();
    let mut waiters: Vec<Client> = (0..5).map(|_| server.connect()).collect();
    let commands: [&[&str]; 5] = [
        &["BZPOPMIN", "q", "0"],
        &["BZPOPMAX", "q", "0"],
        &["BZMPOP", "0", "1", "q", "MIN", "COUNT", "2"],
        &["BZPOPMIN", "q", "0"],
        &["BZPOPMAX", "q", "0"],
    ];
    for (i, (w, args)) in waiters.iter_mut().zip(commands).enumerate() {
        block(w, &mut ctl, args, i + 1);
    }
    // One ZADD of five members serves the first four waiters, in the order
    // they blocked, each as its own command would pop.
    assert_eq!(
        int(
            &mut ctl,
            &[
                "ZADD", "q", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"
            ]
        ),
        5
    );
    assert_eq!(reply_of(&mut waiters[0]), popped("q", "a", "1"));
    assert_eq!(reply_of(&mut waiters[1]), popped("q", "e", "5"));
    assert_eq!(
        reply_of(&mut waiters[2]),
        mpopped("q", &[("b", "2"), ("c", "3")])
    );
    assert_eq!(reply_of(&mut waiters[3]), popped("q", "d", "4"));
    // The fifth found the key empty (and deleted) and waits on.
    wait_blocked(&mut ctl, 1);
    assert_eq!(int(&mut ctl, &["EXISTS", "q"]), 0);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "7", "x", "8", "y"]), 2);
    assert_eq!(reply_of(&mut waiters[4]), popped("q", "y", "8"));
    wait_blocked(&mut ctl, 0);
    assert_eq!(
        sent(&mut ctl, &["ZRANGE", "q", "0", "-1"]),
        "*1\\r\\n$1\\r\\nx\\r\\n"
    );

    // A BZMPOP whose COUNT is more than the key holds takes it all, and
    // the waiter behind it waits on.
    let (first, rest) = waiters.split_at_mut(1);
    assert_eq!(int(&mut ctl, &["DEL", "q"]), 1);
    block(
        &mut first[0],
        &mut ctl,
        &["BZMPOP", "0", "1", "q", "MAX", "COUNT", "10"],
        1,
    );
    block(&mut rest[0], &mut ctl, &["BZPOPMIN", "q", "0"], 2);
    assert_eq!(
        int(&mut ctl, &["ZADD", "q", "1", "a", "2", "b", "3", "c"]),
        3
    );
    assert_eq!(
        reply_of(&mut first[0]),
        mpopped("q", &[("c", "3"), ("b", "2"), ("a", "1")])
    );
    wait_blocked(&mut ctl, 1);
    assert_eq!(int(&mut ctl, &["EXISTS", "q"]), 0);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "-inf", "low"]), 1);
    assert_eq!(reply_of(&mut rest[0]), popped("q", "low", "-inf"));
}

#[test]
fn a_waiter_on_two_keys_is_served_from_the_one_made_ready() {
    let Some(server) = start_under_test("blocking pops: two keys") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    block(&mut a, &mut ctl, &["BZPOPMIN", "k1", "k2", "0"], 1);
    assert_eq!(int(&mut ctl, &["ZADD", "k2", "7", "m", "8", "n"]), 2);
    assert_eq!(reply_of(&mut a), popped("k2", "m", "7"));
    assert_eq!(int(&mut ctl, &["DEL", "k2"]), 1);
    block(
        &mut a,
        &mut ctl,
        &["BZMPOP", "0", "2", "k2", "k1", "MAX", "COUNT", "5"],
        1,
    );
    assert_eq!(int(&mut ctl, &["ZADD", "k1", "1", "x", "2.5", "y"]), 2);
    assert_eq!(reply_of(&mut a), mpopped("k1", &[("y", "2.5"), ("x", "1")]));
    wait_blocked(&mut ctl, 0);
    // When both keys have members, the first of them in argument order
    // answers at once.
    assert_eq!(int(&mut ctl, &["ZADD", "k1", "1", "p"]), 1);
    assert_eq!(int(&mut ctl, &["ZADD", "k2", "2", "q"]), 1);
    assert_eq!(
        sent(&mut a, &["BZPOPMAX", "k2", "k1", "0"]),
        popped("k2", "q", "2")
    );
    assert_eq!(
        sent(&mut a, &["BZPOPMAX", "k2", "k1", "0"]),
        popped("k1", "p", "1")
    );
    assert_eq!(blocked_clients(&mut ctl), 0);
}

fn ok_reply(c: &mut Client, args: &[&str]) {
    expect_reply(c, args, "+OK\r\n");
}

#[test]
fn a_timeout_replies_null_and_the_client_stays_usable() {
    let Some(server) = start_under_test("blocking pops: timeouts") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    for args in [
        &["BZPOPMIN", "none", "0.1"][..],
        &["BZPOPMAX", "none", "other", "0.1"],
        &["BZMPOP", "0.1", "2", "none", "other", "MIN", "COUNT", "3"],
    ] {
        assert_eq!(sent(&mut a, args), NULL_ARRAY, "[{}]", shown(args));
        assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
    }
    wait_blocked(&mut ctl, 0);
    // Nobody waits on the key any more: a member added stays.
    assert_eq!(int(&mut ctl, &["ZADD", "none", "1", "m"]), 1);
    assert_eq!(int(&mut ctl, &["ZCARD", "none"]), 1);
    // RESP3's null.
    a.cmd(&["HELLO", "3"]);
    assert_eq!(sent(&mut a, &["BZPOPMIN", "empty", "0.05"]), "_\\r\\n");
    assert_eq!(
        sent(&mut a, &["BZMPOP", "0.05", "1", "empty", "MAX"]),
        "_\\r\\n"
    );
    assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
    let errors: [(&[&str], &str); 5] = [
        (
            &["BZPOPMIN", "none", "-1"],
            "-ERR timeout is negative\\r\\n",
        ),
        (
            &["BZPOPMAX", "none", "x"],
            "-ERR timeout is not a float or out of range\\r\\n",
        ),
        (
            &["BZMPOP", "0", "0", "none", "MIN"],
            "-ERR numkeys should be greater than 0\\r\\n",
        ),
        (
            &["BZMPOP", "0", "1", "none", "MIN", "COUNT", "0"],
            "-ERR count should be greater than 0\\r\\n",
        ),
        (
            &["BZMPOP", "0", "1", "none", "SIDEWAYS"],
            "-ERR syntax error\\r\\n",
        ),
    ];
    for (args, reply) in errors {
        assert_eq!(sent(&mut a, args), reply, "[{}]", shown(args));
    }
    ok_reply(&mut ctl, &["SET", "str", "x"]);
    assert_eq!(
        sent(&mut a, &["BZPOPMIN", "str", "0"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\\r\\n"
    );
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn a_key_made_ready_inside_multi_serves_waiters_after_exec() {
    let Some(server) = start_under_test("blocking pops: MULTI") else {
        return;
    };
    let mut ctl = server.connect();
    let mut w = server.connect();
    block(&mut w, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
    // The waiter is served once EXEC is done, from the key as the whole
    // transaction left it: b was the minimum for a moment only.
    ok_reply(&mut ctl, &["MULTI"]);
    for args in [
        &["ZADD", "q", "5", "a"][..],
        &["ZADD", "q", "1", "b"],
        &["ZINCRBY", "q", "10", "b"],
    ] {
        assert_eq!(sent(&mut ctl, args), "+QUEUED\\r\\n");
    }
    assert_eq!(
        sent(&mut ctl, &["EXEC"]),
        "*3\\r\\n:1\\r\\n:1\\r\\n$2\\r\\n11\\r\\n"
    );
    assert_eq!(reply_of(&mut w), popped("q", "a", "5"));
    assert_eq!(
        sent(&mut ctl, &["ZRANGE", "q", "0", "-1", "WITHSCORES"]),
        "*2\\r\\n$1\\r\\nb\\r\\n$2\\r\\n11\\r\\n"
    );
    wait_blocked(&mut ctl, 0);
}

#[test]
fn a_transaction_that_adds_and_removes_wakes_nobody() {
    let Some(server) = start_under_test("blocking pops: MULTI add and remove") else {
        return;
    };
    let mut ctl = server.connect();
    let mut w = server.connect();
    block(&mut w, &mut ctl, &["BZPOPMAX", "q", "0"], 1);
    ok_reply(&mut ctl, &["MULTI"]);
    ctl.cmd(&["ZADD", "q", "1", "a"]);
    ctl.cmd(&["ZREM", "q", "a"]);
    assert_eq!(sent(&mut ctl, &["EXEC"]), "*2\\r\\n:1\\r\\n:1\\r\\n");
    ok_reply(&mut ctl, &["MULTI"]);
    ctl.cmd(&["ZADD", "q", "1", "b"]);
    ctl.cmd(&["ZPOPMIN", "q"]);
    assert_eq!(
        sent(&mut ctl, &["EXEC"]),
        "*2\\r\\n:1\\r\\n*2\\r\\n$1\\r\\nb\\r\\n$1\\r\\n1\\r\\n"
    );
    // The key was ready for a moment but is gone after EXEC: still blocked.
    assert_eq!(blocked_clients(&mut ctl), 1);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "2", "c"]), 1);
    assert_eq!(reply_of(&mut w), popped("q", "c", "2"));
}

#[test]
fn blocking_pops_inside_multi_answer_at_once() {
    let Some(server) = start_under_test("blocking pops inside MULTI") else {
        return;
    };
    let mut a = server.connect();
    ok_reply(&mut a, &["MULTI"]);
    for args in [
        &["BZPOPMIN", "empty", "0"][..],
        &["BZPOPMAX", "empty", "other", "0"],
        &["BZMPOP", "0", "1", "empty", "MIN"],
        &["ZADD", "full", "1", "x", "2", "y"],
        &["BZPOPMIN", "full", "0"],
        &["BZMPOP", "0", "2", "empty", "full", "MAX", "COUNT", "5"],
    ] {
        assert_eq!(sent(&mut a, args), "+QUEUED\\r\\n", "[{}]", shown(args));
    }
    let expected = format!(
        "*6\\r\\n{NULL_ARRAY}{NULL_ARRAY}{NULL_ARRAY}:2\\r\\n{}{}",
        popped("full", "x", "1"),
        mpopped("full", &[("y", "2")])
    );
    assert_eq!(sent(&mut a, &["EXEC"]), expected);
    // The client was never parked: it answers at once.
    assert_eq!(sent(&mut a, &["PING"]), "+PONG\\r\\n");
    assert_eq!(blocked_clients(&mut a), 0);
    assert_eq!(int(&mut a, &["EXISTS", "full"]), 0);
}

#[test]
fn a_killed_waiter_leaves_the_queue() {
    let Some(server) = start_under_test("blocking pops: CLIENT KILL") else {
        return;
    };
    let mut ctl = server.connect();
    let mut a = server.connect();
    let mut b = server.connect();
    let a_id = int(&mut a, &["CLIENT", "ID"]).to_string();
    let b_id = int(&mut b, &["CLIENT", "ID"]).to_string();
    block(&mut a, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
    block(&mut b, &mut ctl, &["BZPOPMIN", "q", "0"], 2);
    assert_eq!(int(&mut ctl, &["CLIENT", "KILL", "ID", &a_id]), 1);
    wait_blocked(&mut ctl, 1);
    // The first in line is gone: the second gets the member.
    assert_eq!(int(&mut ctl, &["ZADD", "q", "1", "x"]), 1);
    assert_eq!(reply_of(&mut b), popped("q", "x", "1"));
    let closed = a.read_reply().map_err(|e| e.kind());
    assert_eq!(
        closed,
        Err(std::io::ErrorKind::UnexpectedEof),
        "the killed client's connection is closed"
    );
    // Nobody left: a member added stays.
    block(&mut b, &mut ctl, &["BZPOPMAX", "q", "0"], 1);
    assert_eq!(int(&mut ctl, &["CLIENT", "KILL", "ID", &b_id]), 1);
    wait_blocked(&mut ctl, 0);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "2", "y"]), 1);
    assert_eq!(int(&mut ctl, &["ZCARD", "q"]), 1);
}

/// As in Redis 7.0 (and as for lists, see tests/blocking.rs): a key
/// replaced by a string, or by a list, while clients wait leaves them
/// blocked, with no error; a sorted set made there later serves them.
#[test]
fn waiters_stay_blocked_when_the_key_becomes_another_type() {
    let Some(server) = start_under_test("blocking pops: key of another type") else {
        return;
    };
    let mut ctl = server.connect();
    let mut w = server.connect();
    block(&mut w, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
    ok_reply(&mut ctl, &["SET", "q", "a string"]);
    assert_eq!(blocked_clients(&mut ctl), 1);
    assert_eq!(int(&mut ctl, &["DEL", "q"]), 1);
    assert_eq!(int(&mut ctl, &["RPUSH", "q", "a list"]), 1);
    assert_eq!(blocked_clients(&mut ctl), 1);
    assert_eq!(int(&mut ctl, &["DEL", "q"]), 1);
    assert_eq!(blocked_clients(&mut ctl), 1);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "3", "z"]), 1);
    assert_eq!(reply_of(&mut w), popped("q", "z", "3"));
    assert_eq!(sent(&mut w, &["PING"]), "+PONG\\r\\n");
}

/// A list waiter and a sorted-set waiter on the same name: each type
/// serves only its own.
#[test]
fn waiters_for_another_type_are_left_alone() {
    let Some(server) = start_under_test("blocking pops: mixed waiters") else {
        return;
    };
    let mut ctl = server.connect();
    let mut list = server.connect();
    let mut zset = server.connect();
    block(&mut list, &mut ctl, &["BLPOP", "q", "0"], 1);
    block(&mut zset, &mut ctl, &["BZPOPMIN", "q", "0"], 2);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "1", "a"]), 1);
    assert_eq!(reply_of(&mut zset), popped("q", "a", "1"));
    wait_blocked(&mut ctl, 1);
    block(&mut zset, &mut ctl, &["BZPOPMAX", "q", "0"], 2);
    assert_eq!(int(&mut ctl, &["RPUSH", "q", "v"]), 1);
    assert_eq!(
        reply_of(&mut list),
        "*2\\r\\n$1\\r\\nq\\r\\n$1\\r\\nv\\r\\n"
    );
    wait_blocked(&mut ctl, 1);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "2", "b"]), 1);
    assert_eq!(reply_of(&mut zset), popped("q", "b", "2"));
}

/// Every way a sorted set can appear under a waited-on name wakes the
/// waiter, not only ZADD.
#[test]
fn every_command_that_creates_the_key_serves_waiters() {
    let Some(server) = start_under_test("blocking pops: creating commands") else {
        return;
    };
    let mut ctl = server.connect();
    let mut w = server.connect();
    // src holds a=1, b=2; src2 holds b=5.
    let setup = |ctl: &mut Client| {
        ok_reply(ctl, &["FLUSHALL"]);
        assert_eq!(int(ctl, &["ZADD", "src", "1", "a", "2", "b"]), 2);
        assert_eq!(int(ctl, &["ZADD", "src2", "5", "b"]), 1);
    };
    let creators: [(&[&str], String); 9] = [
        (&["ZINCRBY", "q", "4", "m"], popped("q", "m", "4")),
        (
            &["ZRANGESTORE", "q", "src", "1", "1"],
            popped("q", "b", "2"),
        ),
        (
            &["ZUNIONSTORE", "q", "2", "src", "src2"],
            popped("q", "a", "1"),
        ),
        (
            &["ZINTERSTORE", "q", "2", "src", "src2"],
            popped("q", "b", "7"),
        ),
        (
            &["ZDIFFSTORE", "q", "2", "src", "src2"],
            popped("q", "a", "1"),
        ),
        (&["RENAME", "src", "q"], popped("q", "a", "1")),
        (&["COPY", "src2", "q"], popped("q", "b", "5")),
        (&["ZADD", "q", "GT", "CH", "9", "g"], popped("q", "g", "9")),
        (
            &["ZADD", "q", "NX", "INCR", "-0.5", "h"],
            popped("q", "h", "-0.5"),
        ),
    ];
    for (args, expected) in creators {
        setup(&mut ctl);
        block(&mut w, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
        ctl.cmd(args);
        assert_eq!(reply_of(&mut w), expected, "served after [{}]", shown(args));
        wait_blocked(&mut ctl, 0);
    }
    // RESTORE, and MOVE from another database.
    setup(&mut ctl);
    let payload = bulk(&mut ctl, &["DUMP", "src"]);
    block(&mut w, &mut ctl, &["BZPOPMAX", "q", "0"], 1);
    let restore: [&[u8]; 4] = [b"RESTORE", b"q", b"0", &payload];
    expect_reply(&mut ctl, &restore, "+OK\r\n");
    assert_eq!(reply_of(&mut w), popped("q", "b", "2"));
    setup(&mut ctl);
    block(&mut w, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
    ok_reply(&mut ctl, &["SELECT", "1"]);
    assert_eq!(int(&mut ctl, &["ZADD", "q", "3", "moved"]), 1);
    assert_eq!(int(&mut ctl, &["MOVE", "q", "0"]), 1);
    assert_eq!(reply_of(&mut w), popped("q", "moved", "3"));
    // SWAPDB brings database 1's q to the waiter in database 0.
    assert_eq!(
        int(&mut ctl, &["ZADD", "q", "4", "swapped", "5", "other"]),
        2
    );
    block(&mut w, &mut ctl, &["BZPOPMIN", "q", "0"], 1);
    ok_reply(&mut ctl, &["SWAPDB", "0", "1"]);
    assert_eq!(reply_of(&mut w), popped("q", "swapped", "4"));
    wait_blocked(&mut ctl, 0);
}

// ---------------------------------------------------------------------------
// 3. Persistence
// ---------------------------------------------------------------------------

/// A deadline far in the future (2100-01-01 00:00:00.123 UTC).
const FAR_DEADLINE_MS: i64 = 4_102_444_800_123;
/// The seed of the random members [`fill_zsets`] writes; both servers are
/// filled from it, so they hold the same data.
const FILL_SEED: u64 = 0x25e7_f111;

/// One key as read back: TYPE, OBJECT ENCODING, PEXPIRETIME, and the raw
/// reply of `ZRANGE key 0 -1 WITHSCORES` (of GET for a string), so that
/// scores compare as the text the server writes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    kind: String,
    encoding: String,
    expire_ms: i64,
    value: Vec<u8>,
}

/// Every key of a server, by (database, name).
type Data = BTreeMap<(usize, Vec<u8>), Stored>;

fn text_of(raw: &[u8], args: &Args) -> String {
    match parse_frame(raw) {
        Ok(Some((Frame::Simple(t) | Frame::Bulk(t), _))) => {
            String::from_utf8_lossy(&t).into_owned()
        }
        _ => panic!("[{}] answered {}", shown(args), escape(raw)),
    }
}

/// Reads every key of every database of `c`'s server, leaving database 0
/// selected.
fn read_data(c: &mut Client) -> Data {
    let mut data = Data::new();
    for db in 0..common::replies::DATABASES {
        select(c, db);
        let mut names = bulks(c, &["KEYS", "*"]);
        names.sort();
        let types: Vec<Args> = names
            .iter()
            .map(|n| args_of(&[b"TYPE".as_slice(), n]))
            .collect();
        let kinds: Vec<String> = common::replies::pipeline_raw(c, &types)
            .iter()
            .zip(&types)
            .map(|(raw, args)| text_of(raw, args))
            .collect();
        let mut reads = Vec::new();
        for (name, kind) in names.iter().zip(&kinds) {
            let name = name.as_slice();
            reads.push(match kind.as_str() {
                "zset" => args_of(&[b"ZRANGE".as_slice(), name, b"0", b"-1", b"WITHSCORES"]),
                "string" => args_of(&[b"GET".as_slice(), name]),
                other => panic!(
                    "{} is a {other}, which these tests never write",
                    escape(name)
                ),
            });
            reads.push(args_of(&[b"OBJECT".as_slice(), b"ENCODING", name]));
            reads.push(args_of(&[b"PEXPIRETIME".as_slice(), name]));
        }
        let replies = common::replies::pipeline_raw(c, &reads);
        for (i, (name, kind)) in names.into_iter().zip(kinds).enumerate() {
            let expire = &replies[3 * i + 2];
            let expire_ms = match parse_frame(expire) {
                Ok(Some((Frame::Integer(n), _))) => n,
                _ => panic!("PEXPIRETIME {} answered {}", escape(&name), escape(expire)),
            };
            let stored = Stored {
                kind,
                encoding: text_of(&replies[3 * i + 1], &reads[3 * i + 1]),
                expire_ms,
                value: replies[3 * i].clone(),
            };
            data.insert((db, name), stored);
        }
    }
    select(c, 0);
    data
}

fn without_encodings(data: &Data) -> Data {
    data.iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v.encoding.clear();
            (k.clone(), v)
        })
        .collect()
}

/// Panics, listing the first differences, unless the two are equal.
fn assert_same_data(expected_name: &str, expected: &Data, actual_name: &str, actual: &Data) {
    if expected == actual {
        return;
    }
    let mut diffs = Vec::new();
    for ((db, name), e) in expected {
        let at = format!("db {db}: {}", abbreviated(name));
        match actual.get(&(*db, name.clone())) {
            None => diffs.push(format!("{at}: missing on {actual_name}")),
            Some(a) if a != e => {
                let mut parts = Vec::new();
                if e.kind != a.kind {
                    parts.push(format!("TYPE {} vs {}", e.kind, a.kind));
                }
                if e.encoding != a.encoding {
                    parts.push(format!("encoding {} vs {}", e.encoding, a.encoding));
                }
                if e.expire_ms != a.expire_ms {
                    parts.push(format!("PEXPIRETIME {} vs {}", e.expire_ms, a.expire_ms));
                }
                if e.value != a.value {
                    parts.push(format!(
                        "value: {}",
                        common::replies::first_difference(&e.value, &a.value)
                    ));
                }
                diffs.push(format!("{at}: {}", parts.join("; ")));
            }
            Some(_) => {}
        }
    }
    for (db, name) in actual.keys().filter(|k| !expected.contains_key(*k)) {
        diffs.push(format!(
            "db {db}: {} only on {actual_name}",
            abbreviated(name)
        ));
    }
    let shown_diffs = diffs.len().min(20);
    panic!(
        "{actual_name} differs from {expected_name} ({} differences, {shown_diffs} shown):\n{}",
        diffs.len(),
        diffs[..shown_diffs].join("\n")
    );
}

/// ZADDs `pairs` (score text, member) to `key` in commands of 200 pairs.
fn zadd_pairs(c: &mut Client, key: &[u8], pairs: &[(String, Vec<u8>)]) {
    for chunk in pairs.chunks(200) {
        let mut args = args_of(&[b"ZADD".as_slice(), key]);
        for (score, member) in chunk {
            args.push(score.clone().into_bytes());
            args.push(member.clone());
        }
        int(c, &args);
    }
}

fn pairs_of(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(s, m)| (s.to_string(), m.to_vec()))
        .collect()
}

fn expect_encoding(c: &mut Client, key: &[u8], encoding: &str) {
    let actual = bulk(c, &[b"OBJECT".as_slice(), b"ENCODING", key]);
    assert_eq!(
        String::from_utf8_lossy(&actual),
        encoding,
        "OBJECT ENCODING {} right after it was written",
        escape(key)
    );
}

/// Writes the sorted sets of the persistence tests into `c`'s server,
/// which must be empty, checking each key's encoding as it is made.
/// Leaves database 0 selected.
///
/// Database 0: a listpack with fractional, infinite, tiny and huge
/// scores (and a -0 it stores as 0); 1,000 members (skiplist); a
/// skiplist (one member of 100 bytes) with every awkward score, -0 kept;
/// binary members, short (listpack) and long (skiplist); members and
/// scores of each integer width a listpack encodes; 128 members and 129;
/// members of 64 bytes and of 65; a skiplist shrunk to 50 members (a
/// listpack again once loaded); deadlines on a listpack and a skiplist;
/// and a string. Databases 3 and 15 hold more.
fn fill_zsets(c: &mut Client) {
    let mut rng = Rng::new(FILL_SEED);
    select(c, 0);
    let mut made: Vec<(&[u8], &str)> = Vec::new();

    let small = pairs_of(&[
        ("1", b"a"),
        ("2", b"b"),
        ("2", b"c"),
        ("2.5", b"12"),
        ("-3", b"-3"),
        ("0.1", b"bin\x00\xff"),
        ("1e300", b"007"),
        ("-0", b"negzero"),
        ("inf", b"top"),
        ("-inf", b"bottom"),
        ("1.5e-300", b"tiny"),
    ]);
    zadd_pairs(c, b"zs:small", &small);
    made.push((b"zs:small", "listpack"));

    let large: Vec<(String, Vec<u8>)> = (0..1_000u64)
        .map(|i| {
            let score = ((i * 7_919) % 1_000) as f64 / 8.0 - 50.0;
            let member = if i % 3 == 0 {
                i.to_string().into_bytes()
            } else {
                format!("member:{i}").into_bytes()
            };
            (format!("{score}"), member)
        })
        .collect();
    zadd_pairs(c, b"zs:large", &large);
    made.push((b"zs:large", "skiplist"));

    let mut special = pairs_of(&[
        ("inf", b"inf"),
        ("-inf", b"-inf"),
        ("-0", b"negzero"),
        ("0", b"zero"),
        ("0.1", b"tenth"),
        ("1e300", b"huge"),
        ("-1.5e-300", b"tiny"),
        ("5e-324", b"subnormal"),
        ("1.7976931348623157e308", b"max"),
        ("-1.7976931348623157e308", b"min"),
        ("1152921504606846976", b"2^60"),
        ("0.3333333333333333", b"third"),
        ("-1e-5", b"small"),
        ("1e16", b"1e16"),
        ("1e17", b"1e17"),
    ]);
    special.push(("7".to_string(), vec![b'L'; 100]));
    // The long member first, so that the key is a skiplist before -0
    // goes in (a listpack would store it as 0).
    special.rotate_right(1);
    zadd_pairs(c, b"zs:special", &special);
    made.push((b"zs:special", "skiplist"));

    let binary = pairs_of(&[
        ("1", b""),
        ("2", b"\x00"),
        ("3", b"\xff\xfe"),
        ("4", b"\r\n"),
        ("5", b"a\x00b"),
        ("6", b"\xc3\xa9"),
        ("6", b" "),
    ]);
    zadd_pairs(c, b"zs:binary", &binary);
    made.push((b"zs:binary", "listpack"));
    let binary_long: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            let len = 65 + rng.below(136) as usize;
            (format!("{}", i as f64 / 2.0), random_bytes(&mut rng, len))
        })
        .collect();
    zadd_pairs(c, b"zs:binary-long", &binary_long);
    made.push((b"zs:binary-long", "skiplist"));

    // Members a listpack stores as integers of each width (and strings
    // that only look like integers), and scores likewise.
    let int_members: [&str; 21] = [
        "1",
        "-1",
        "0",
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
        " 1",
        "-0",
    ];
    let intlike: Vec<(String, Vec<u8>)> = int_members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let score = match i % 4 {
                0 => m
                    .trim()
                    .parse::<i64>()
                    .map_or(i as i64, |v| v / 2)
                    .to_string(),
                1 => format!("{}", i as f64 * 1.5),
                2 => ((1i64 << 52) - i as i64).to_string(),
                _ => (-(i as i64) * 4096).to_string(),
            };
            (score, m.as_bytes().to_vec())
        })
        .collect();
    zadd_pairs(c, b"zs:intlike", &intlike);
    made.push((b"zs:intlike", "listpack"));

    for (key, n, encoding) in [
        (&b"zs:128"[..], 128, "listpack"),
        (b"zs:129", 129, "skiplist"),
    ] {
        let pairs: Vec<(String, Vec<u8>)> = (0..n)
            .map(|i| ((i % 10).to_string(), format!("e{i}").into_bytes()))
            .collect();
        zadd_pairs(c, key, &pairs);
        made.push((key, encoding));
    }
    let at_limit: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (i.to_string(), vec![b'a' + i as u8; 64]))
        .collect();
    zadd_pairs(c, b"zs:64", &at_limit);
    made.push((b"zs:64", "listpack"));
    let over_limit = pairs_of(&[("1", b"x"), ("2", &[b'y'; 65]), ("3", b"z")]);
    zadd_pairs(c, b"zs:65", &over_limit);
    made.push((b"zs:65", "skiplist"));

    let shrunk: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| (format!("{}", i as f64 / 4.0), format!("s{i}").into_bytes()))
        .collect();
    zadd_pairs(c, b"zs:shrunk", &shrunk);
    assert_eq!(int(c, &["ZREMRANGEBYRANK", "zs:shrunk", "0", "149"]), 150);
    made.push((b"zs:shrunk", "skiplist"));

    zadd_pairs(c, b"zs:ttl", &pairs_of(&[("1", b"a"), ("2.5", b"b")]));
    made.push((b"zs:ttl", "listpack"));
    let ttl_large: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| ((i * 3 % 17).to_string(), format!("t{i}").into_bytes()))
        .collect();
    zadd_pairs(c, b"zs:ttl-large", &ttl_large);
    made.push((b"zs:ttl-large", "skiplist"));
    for key in ["zs:ttl", "zs:ttl-large"] {
        assert_eq!(int(c, &["PEXPIREAT", key, &FAR_DEADLINE_MS.to_string()]), 1);
    }
    ok(c, &["SET", "str", "a string among the sorted sets"]);

    for (key, encoding) in made {
        expect_encoding(c, key, encoding);
    }

    select(c, 3);
    zadd_pairs(
        c,
        b"zs:small",
        &pairs_of(&[("3", b"three"), ("-0.5", b"neg")]),
    );
    expect_encoding(c, b"zs:small", "listpack");
    let other: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| {
            (
                format!("{}", (i % 7) as f64 * 0.25),
                format!("o{i}").into_bytes(),
            )
        })
        .collect();
    zadd_pairs(c, b"zs:other", &other);
    expect_encoding(c, b"zs:other", "skiplist");
    select(c, 15);
    zadd_pairs(c, b"zs:only", &pairs_of(&[("42", b"answer")]));
    select(c, 0);
}

/// The number of keys [`fill_zsets`] writes.
const FILLED_KEYS: usize = 17;

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
    fill_zsets(&mut c);
    let before = read_data(&mut c);
    assert_eq!(before.len(), FILLED_KEYS, "keys filled on redis-server");
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&redis);
    let reloaded = start_reference_with(what, &[], &[("dump.rdb", &file)])?;
    let loaded = read_data(&mut reloaded.connect());
    // The file keeps every value as it was (encodings: the shrunk
    // skiplist comes back a listpack).
    assert_same_data(
        "redis-server before SAVE (encodings aside)",
        &without_encodings(&before),
        "redis-server loading its file",
        &without_encodings(&loaded),
    );
    let shrunk = &loaded[&(0, b"zs:shrunk".to_vec())];
    assert_eq!(
        shrunk.encoding, "listpack",
        "a small skiplist is loaded as a listpack"
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
    let loaded = read_data(&mut server.connect());
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
    let Some((redis_before, _, expected)) = redis_saved(what) else {
        return;
    };
    let Some(server) = start_under_test(what) else {
        return;
    };
    let mut c = server.connect();
    fill_zsets(&mut c);
    // The same commands make the same keys, encodings included.
    let before = read_data(&mut c);
    assert_same_data("redis-server", &redis_before, &server.name, &before);
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&server);
    let redis = start_reference_with(what, &[], &[("dump.rdb", &file)])
        .expect("redis-server was found above");
    assert_same_data(
        "redis-server loading its own file",
        &expected,
        &format!("redis-server loading {}'s file", server.name),
        &read_data(&mut redis.connect()),
    );
    let restarted =
        start_under_test_with(what, &[], &[("dump.rdb", &file)]).expect("started above");
    assert_same_data(
        "redis-server loading its own file",
        &expected,
        &format!("{} restarted on its file", server.name),
        &read_data(&mut restarted.connect()),
    );
    check_rdb(&file, redis.dir());
}

/// RESTOREs `payload` as `key` into database 9 of `c`'s server (with the
/// deadline `expire_ms`, -1 for none), reads it back, and removes it.
fn restored(c: &mut Client, key: &[u8], payload: &[u8], expire_ms: i64) -> Stored {
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
    let data = read_data(c);
    select(c, 9);
    assert_eq!(int(c, &[b"DEL".as_slice(), key]), 1);
    select(c, 0);
    let mut keys = data.into_iter().filter(|((db, _), _)| *db == 9);
    let (_, stored) = keys.next().expect("the key just restored");
    assert!(
        keys.next().is_none(),
        "database 9 holds only the restored key"
    );
    stored
}

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
    fill_zsets(&mut r);
    fill_zsets(&mut u);
    let name = server.name.clone();
    let keys = read_data(&mut r);
    let mut differing = Vec::new();
    for ((db, key), original) in keys.iter().filter(|((db, _), _)| *db == 0) {
        assert_eq!(*db, 0);
        let theirs = bulk(&mut r, &[b"DUMP".as_slice(), key]);
        let ours = bulk(&mut u, &[b"DUMP".as_slice(), key]);
        // What a payload must load as is what redis-server makes of it.
        let expected = restored(&mut r, key, &theirs, original.expire_ms);
        for (payload, from) in [(&theirs, "redis-server"), (&ours, name.as_str())] {
            let on_redis = restored(&mut r, key, payload, original.expire_ms);
            let on_server = restored(&mut u, key, payload, original.expire_ms);
            for (loaded, to) in [(&on_redis, "redis-server"), (&on_server, name.as_str())] {
                assert_eq!(
                    loaded,
                    &expected,
                    "{} from {from}'s DUMP restored on {to}",
                    escape(key)
                );
            }
        }
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
    // Listpacks are the same bytes; a skiplist is the same ZSET_2
    // records, highest score first; with the same RDB version and CRC.
    assert!(
        differing.is_empty(),
        "DUMP payloads differ:\n{}",
        differing.join("\n")
    );
}

/// Payloads made under other limits: a listpack of 200 entries (made with
/// a raised entries limit) and one with a 100-byte member (a raised value
/// limit), restored where the limits are the defaults.
#[test]
fn payloads_made_under_other_limits_restore_as_redis_restores_them() {
    let what = "RESTORE of listpacks past the limits";
    let Some(redis) = start_reference_with(what, &[], &[]) else {
        return;
    };
    let Some(server) = start_under_test(what) else {
        return;
    };
    let (mut r, mut u) = (redis.connect(), server.connect());
    let many: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| (i.to_string(), format!("m{i}").into_bytes()))
        .collect();
    let long = pairs_of(&[("1", b"a"), ("2", &[b'w'; 100])]);
    for (setting, pairs) in [
        ("zset-max-listpack-entries", &many),
        ("zset-max-listpack-value", &long),
    ] {
        ok(&mut r, &["CONFIG", "SET", setting, "1000"]);
        zadd_pairs(&mut r, b"made", pairs);
        expect_encoding(&mut r, b"made", "listpack");
        let payload = bulk(&mut r, &["DUMP", "made"]);
        assert_eq!(int(&mut r, &["DEL", "made"]), 1);
        let default = if setting.ends_with("entries") {
            "128"
        } else {
            "64"
        };
        ok(&mut r, &["CONFIG", "SET", setting, default]);
        let expected = restored(&mut r, b"made", &payload, -1);
        let loaded = restored(&mut u, b"made", &payload, -1);
        assert_eq!(
            loaded, expected,
            "a listpack made with {setting} 1000, restored"
        );
    }
}

// The AOF.

/// The AOF directory under Redis's default name.
const AOF_DIR: &str = "appendonlydir";

/// Waits until `server` has written its AOF buffer (under `appendfsync
/// everysec` a write may wait for a running fsync, after the reply).
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
        // A history file removed in the background may go between the
        // listing and the read; the manifest no longer names it.
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
        persistence_idle(c)
    });
    assert_eq!(
        info_field(c, "persistence", "aof_last_bgrewrite_status"),
        "ok",
        "the rewrite's status"
    );
}

/// The sorted sets the AOF workload writes; `aof:q` is the key blocking
/// pops wait on, left empty after each.
const AOF_KEYS: [&str; 6] = ["aof:0", "aof:1", "aof:2", "aof:3", "aof:u", "aof:r"];

/// A score for the AOF workload: no -0, which a rewrite may turn into 0
/// (a listpack stores it so).
fn aof_score(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "+inf".to_string(),
        1 => "-inf".to_string(),
        2..=6 => format!("{}", (rng.below(81) as f64 - 40.0) / 4.0),
        7 => format!("{:e}", (rng.below(1000) as f64 + 0.5) * 1e290),
        8 => format!("{}", (rng.below(21) as f64 - 10.0) / 3.0),
        _ => (rng.below(41) as i64 - 20).to_string(),
    }
}

fn aof_member(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "L".repeat(70),
        _ => format!("m{}", rng.below(250)),
    }
}

/// A seeded mix of sorted-set writes: ZADD with flags (sometimes 40 pairs
/// at once, so keys pass 128 members), ZINCRBY, ZPOPMIN and ZPOPMAX,
/// ZREMRANGEBYSCORE and BYRANK, ZREM, ZUNIONSTORE, ZINTERSTORE and
/// ZDIFFSTORE with weights and aggregates, ZRANGESTORE, blocking pops
/// served by a ZADD from `c` while `blocker` waits, transactions, DEL and
/// deadlines; with a BGREWRITEAOF after `rewrite_at` commands.
fn run_aof_workload(
    c: &mut Client,
    blocker: &mut Client,
    seed: u64,
    ops: usize,
    rewrite_at: Option<usize>,
) -> usize {
    let mut rng = Rng::new(seed);
    let mut served = 0;
    for i in 0..ops {
        if rewrite_at == Some(i) {
            rewrite_aof(c);
        }
        let key = (*pick(&mut rng, &AOF_KEYS[..4])).to_string();
        let other = (*pick(&mut rng, &AOF_KEYS[..4])).to_string();
        let mut args: Vec<String> = match rng.below(100) {
            0..=29 => {
                let flags: &[&str] = pick::<&[&str]>(
                    &mut rng,
                    &[
                        &[][..],
                        &[],
                        &[],
                        &["NX"],
                        &["XX"],
                        &["GT", "CH"],
                        &["XX", "LT"],
                        &["CH"],
                    ],
                );
                let mut args = vec!["ZADD".to_string(), key];
                args.extend(flags.iter().map(|f| f.to_string()));
                let pairs = if rng.below(10) == 0 {
                    40
                } else {
                    1 + rng.below(6)
                };
                for _ in 0..pairs {
                    args.push(aof_score(&mut rng));
                    args.push(aof_member(&mut rng));
                }
                args
            }
            30..=39 => vec![
                "ZINCRBY".into(),
                key,
                aof_score(&mut rng),
                aof_member(&mut rng),
            ],
            40..=47 => {
                let name = if rng.below(2) == 0 {
                    "ZPOPMIN"
                } else {
                    "ZPOPMAX"
                };
                vec![name.into(), key, (1 + rng.below(4)).to_string()]
            }
            48..=55 => {
                let low = rng.below(41) as i64 - 20;
                let high = low + rng.below(4) as i64;
                vec![
                    "ZREMRANGEBYSCORE".into(),
                    key,
                    format!("({low}"),
                    high.to_string(),
                ]
            }
            56..=60 => vec![
                "ZREM".into(),
                key,
                aof_member(&mut rng),
                aof_member(&mut rng),
            ],
            61..=67 => {
                let name = *pick(&mut rng, &["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
                let mut args = vec![name.into(), "aof:u".into(), "2".into(), key, other];
                if name != "ZDIFFSTORE" {
                    if rng.below(2) == 0 {
                        args.extend(["WEIGHTS".into(), "2".into(), "0.5".into()]);
                    }
                    args.extend([
                        "AGGREGATE".into(),
                        (*pick(&mut rng, &["SUM", "MIN", "MAX"])).into(),
                    ]);
                }
                args
            }
            68..=72 => {
                let stop = rng.below(150).to_string();
                let mut args = vec!["ZRANGESTORE".into(), "aof:r".into(), key, "0".into(), stop];
                if rng.below(2) == 0 {
                    args.push("REV".into());
                }
                args
            }
            73..=78 => {
                served_pop(c, blocker, &mut rng);
                served += 1;
                continue;
            }
            79..=81 => {
                ok(c, &["MULTI"]);
                c.cmd(&["ZADD", &key, &aof_score(&mut rng), &aof_member(&mut rng)]);
                c.cmd(&["ZPOPMIN", &key]);
                c.cmd(&["ZINCRBY", &key, "1", &aof_member(&mut rng)]);
                let exec = c.cmd(&["EXEC"]);
                assert!(
                    exec.starts_with(b"*3\r\n"),
                    "EXEC answered {}",
                    escape(&exec)
                );
                continue;
            }
            82..=83 => vec!["DEL".into(), key],
            84..=85 => vec!["PEXPIREAT".into(), key, FAR_DEADLINE_MS.to_string()],
            86..=88 => {
                let start = rng.below(10) as i64 - 5;
                vec![
                    "ZREMRANGEBYRANK".into(),
                    key,
                    start.to_string(),
                    (start + 2).to_string(),
                ]
            }
            _ => {
                let mut args = vec!["ZADD".into(), key, "NX".into()];
                args.extend([aof_score(&mut rng), aof_member(&mut rng)]);
                args
            }
        };
        if args[0] == "ZINCRBY" && rng.below(4) == 0 {
            // Now and then through ZADD INCR instead.
            args = vec![
                "ZADD".into(),
                args[1].clone(),
                "INCR".into(),
                args[2].clone(),
                args[3].clone(),
            ];
        }
        let reply = c.cmd(&args);
        // The only error the workload makes is inf + -inf.
        assert!(
            !reply.starts_with(b"-") || reply.starts_with(b"-ERR resulting score is not a number"),
            "[{}] answered {}",
            shown(&args),
            escape(&reply)
        );
    }
    served
}

/// A blocking pop on `aof:q` made by `blocker`, then served by a ZADD of
/// as many members as it takes, which leaves the key empty.
fn served_pop(c: &mut Client, blocker: &mut Client, rng: &mut Rng) {
    let take = 1 + rng.below(3);
    let args: Vec<String> = match rng.below(3) {
        0 => vec!["BZPOPMIN".into(), "aof:q".into(), "0".into()],
        1 => vec!["BZPOPMAX".into(), "aof:q".into(), "0".into()],
        _ => vec![
            "BZMPOP".into(),
            "0".into(),
            "1".into(),
            "aof:q".into(),
            (*pick(rng, &["MIN", "MAX"])).into(),
            "COUNT".into(),
            take.to_string(),
        ],
    };
    let members = if args[0] == "BZMPOP" { take } else { 1 };
    blocker
        .send(&args)
        .unwrap_or_else(|e| panic!("send [{}]: {e}", shown(&args)));
    wait_blocked(c, 1);
    let mut zadd = vec!["ZADD".to_string(), "aof:q".to_string()];
    for _ in 0..members {
        zadd.push(aof_score(rng));
        zadd.push(aof_member(rng));
    }
    c.cmd(&zadd);
    let reply = blocker.read_reply().expect("the served pop's reply");
    assert!(
        reply.starts_with(b"*2\r\n") || reply.starts_with(b"*3\r\n"),
        "[{}] was served {}",
        shown(&args),
        escape(&reply)
    );
    assert_eq!(
        int(c, &["EXISTS", "aof:q"]),
        0,
        "the served pops emptied aof:q"
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
    let before = read_data(&mut c);
    assert!(before.len() >= 4, "the workload left {} keys", before.len());
    assert!(
        before.values().any(|k| k.encoding == "skiplist")
            && before.values().any(|k| k.encoding == "listpack"),
        "the workload left keys of both encodings"
    );
    let files = aof_files(&server);

    // Served blocking pops are in the file as the pops they were.
    let name_has = |part: &str| {
        let mut all = Vec::new();
        for (name, bytes) in &files {
            if name.contains(part) {
                all.extend(bytes.to_ascii_lowercase());
            }
        }
        all
    };
    let incr = name_has(".incr.aof");
    assert!(served > 10, "only {served} blocking pops were served");
    assert!(
        common::find(&incr, b"zpopmin").is_some() || common::find(&incr, b"zpopmax").is_some(),
        "the incremental AOF holds no ZPOPMIN or ZPOPMAX"
    );
    for blocking in [&b"bzpopmin"[..], b"bzpopmax", b"bzmpop"] {
        assert!(
            common::find(&incr, blocking).is_none(),
            "the incremental AOF holds {}, not the pop it served",
            escape(blocking)
        );
    }
    if rewrite && preamble == "no" {
        let base = name_has(".base.aof");
        assert!(
            base.starts_with(b"*") && common::find(&base, b"zadd").is_some(),
            "the base file after a rewrite without preamble is commands, ZADD among them"
        );
    }

    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let restarted = start_under_test_with(&what, &args, &refs).expect("started above");
    let after = read_data(&mut restarted.connect());
    let restarted_name = format!("{} restarted on its AOF", server.name);
    if rewrite {
        // A rewrite writes each set anew: a skiplist that shrank comes
        // back a listpack, so only the values must be the same.
        assert_same_data(
            "before the restart (encodings aside)",
            &without_encodings(&before),
            &restarted_name,
            &without_encodings(&after),
        );
    } else {
        assert_same_data("before the restart", &before, &restarted_name, &after);
    }
}

#[test]
fn aof_restart_gives_back_the_zsets() {
    aof_restart_check(0x25e7_a0f1, "yes", false);
}

#[test]
fn aof_restart_gives_back_the_zsets_after_a_rewrite_without_rdb_preamble() {
    aof_restart_check(0x25e7_a0f2, "no", true);
}
