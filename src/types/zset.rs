//! The sorted set type.
//!
//! A small sorted set is packed (Redis's `listpack` encoding, and reported
//! so): member and score elements back to back in (score, member) order,
//! the score as the text Redis's `d2string` gives it, so a packed set's
//! bytes are Redis's listpack entries and RDB and DUMP write them as they
//! are. Past `zset-max-listpack-entries` members, or with a member longer
//! than `zset-max-listpack-value`, it becomes a member-to-score hash table
//! beside an order-statistics B+tree of (score, member) (`zset_tree`),
//! reported as `skiplist`: O(1) ZSCORE, O(log N) insert, delete, rank and
//! the start of any range, as Redis's skiplist gives, in less memory than
//! a skiplist's nodes take.
//!
//! Every command works through four operations that both encodings
//! answer: the score of a member, how many leading entries satisfy a
//! monotone condition (the rank where a score or lex range starts or
//! ends), iteration from a rank in either direction, and removal of a run
//! of ranks.
//!
//! The file holds the structure's API first, then the commands.

use bytes::Bytes;

use crate::blocking::WaitFor;
use crate::cmd::keys::{lookup_read, parse_cursor, parse_scan_opts, reply_scan, scan_pairs};
use crate::cmd::{CmdError, CmdResult, Ctx, Unblocked, arg_i64};
use crate::db::dict::Dict;
use crate::db::{Db, Ttl, Value};
use crate::effects::class;
use crate::resp::Reply;
use crate::store::Store;
use crate::types::list::parse_mpop;
use crate::types::packed::{Elem, Needle, Packed, Span};
use crate::types::set::Set;
use crate::types::zset_tree::Tree;
use crate::types::{read_as, read_with_rng, write_as};
use crate::util::{Rng, eq_ic, eq_ic_c, parse_range_double, parse_score};

/// When a sorted set leaves its packed encoding.
#[derive(Debug, Clone, Copy)]
pub struct ListpackLimits {
    /// `zset-max-listpack-entries`: more members need the large form.
    pub max_entries: usize,
    /// `zset-max-listpack-value`: a longer member needs the large form.
    pub max_value: usize,
}

impl ListpackLimits {
    pub fn of(store: &Store) -> ListpackLimits {
        ListpackLimits {
            max_entries: store.config.zset_max_listpack_entries,
            max_value: store.config.zset_max_listpack_value,
        }
    }

    /// Whether a set of `len` members, the longest `max_len` bytes, is
    /// packed (Redis's `zsetConvertToListpackIfNeeded`).
    fn fit_packed(self, len: usize, max_len: usize) -> bool {
        len <= self.max_entries && max_len <= self.max_value
    }
}

#[derive(Debug, Clone)]
pub enum ZSet {
    /// Member, score, member, score... in (score, member) order.
    Listpack(Packed),
    /// Boxed, so a small set does not carry the large form's size.
    Skiplist(Box<Big>),
}

/// The large form: the score of each member, and the order.
#[derive(Debug, Clone, Default)]
pub struct Big {
    dict: Dict<f64>,
    tree: Tree,
}

impl Big {
    /// Adds a member it does not hold.
    fn insert(&mut self, score: f64, member: &[u8]) {
        self.dict.insert(member, score);
        self.tree.insert(score, member);
    }
}

/// Which way a range runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Forward,
    Reverse,
}

/// ZADD's conditions (NX, XX, GT, LT) and INCR.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddOpts {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one ZADD element did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Added {
    /// A new member with this score.
    New(f64),
    /// An existing member now has this score.
    Updated(f64),
    /// An existing member kept its score (the same score, or an increment
    /// of zero); the score is what INCR replies.
    Same(f64),
    /// A condition (NX, XX, GT, LT) kept the element from being written.
    Skipped,
}

/// An increment produced NaN (`+inf` plus `-inf`): nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanScore;

/// The element a packed set keeps for a score, as Redis's `zzlInsertAt`
/// writes it: an integral value a long long holds exactly as that integer
/// (so `-0` as 0), anything else as `d2string` formats it (`%.17g`,
/// `inf`, `-inf`).
fn score_text(score: f64) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&score) && (score as i64) as f64 == score {
        return (score as i64).to_string();
    }
    crate::util::format_double(score)
}

/// Whether (s1, m1) sorts before (s2, m2): by score, then member bytes.
fn before(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

/// The score a packed score element holds: an integer, or the text
/// `d2string` wrote (or an RDB file held, validated when loaded).
fn elem_score(e: Elem) -> f64 {
    match e {
        Elem::Int(n) => n as f64,
        Elem::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0),
    }
}

/// One packed entry: the member, its score, and where the pair lies.
struct PackedEntry<'a> {
    member: Elem<'a>,
    score: f64,
    start: usize,
    end: usize,
}

/// A packed set's entries in order.
fn entries(p: &Packed) -> impl Iterator<Item = PackedEntry<'_>> + '_ {
    let mut spans = p.spans();
    std::iter::from_fn(move || {
        let m: Span = spans.next()?;
        let s: Span = spans.next()?;
        Some(PackedEntry {
            member: p.at(m),
            score: elem_score(p.at(s)),
            start: m.start,
            end: s.end,
        })
    })
}

/// The packed entry of `member`.
fn find_packed<'a>(p: &'a Packed, member: &[u8]) -> Option<PackedEntry<'a>> {
    let needle = Needle::new(member);
    let mut spans = p.spans();
    while let (Some(m), Some(s)) = (spans.next(), spans.next()) {
        if p.is_at(m, &needle) {
            return Some(PackedEntry {
                member: p.at(m),
                score: elem_score(p.at(s)),
                start: m.start,
                end: s.end,
            });
        }
    }
    None
}

/// Inserts a member the packed set lacks at its place in the order.
fn insert_packed(p: &mut Packed, score: f64, member: &[u8]) {
    let text = score_text(score);
    let at = entries(p)
        .find(|e| e.member.with_bytes(|m| before(score, member, e.score, m)))
        .map(|e| e.start);
    match at {
        Some(at) => p.replace(at, at, &[member, text.as_bytes()]),
        None => p.push_all(&[member, text.as_bytes()]),
    }
}

impl ZSet {
    /// An empty set for a ZADD whose first member is `first_len` bytes
    /// long: packed unless the limits rule it out from the start.
    pub fn for_first_member(limits: ListpackLimits, first_len: usize) -> ZSet {
        if limits.max_entries == 0 || first_len > limits.max_value {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::Listpack(Packed::new())
        }
    }

    /// An empty set about to receive `len` members (ZRANGESTORE).
    pub fn for_len(limits: ListpackLimits, len: usize) -> ZSet {
        if len > limits.max_entries {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::Listpack(Packed::new())
        }
    }

    /// A set of `entries`, sorted and distinct, in the encoding their
    /// number and sizes call for.
    pub fn from_sorted(entries: &[(Vec<u8>, f64)], limits: ListpackLimits) -> ZSet {
        let max_len = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut z = if limits.fit_packed(entries.len(), max_len) {
            ZSet::Listpack(Packed::new())
        } else {
            ZSet::Skiplist(Box::default())
        };
        for (m, s) in entries {
            z.push_last(*s, m);
        }
        z
    }

    /// A set loaded from RDB's unordered (member, score) entries, packed
    /// if it fits (Redis converts after loading); `None` for a repeated
    /// member.
    pub fn from_loaded(entries: Vec<(Vec<u8>, f64)>, limits: ListpackLimits) -> Option<ZSet> {
        let mut big = Big::default();
        for (m, s) in entries {
            if big.dict.insert(&m, s).is_some() {
                return None;
            }
            big.tree.insert(s, &m);
        }
        let mut z = ZSet::Skiplist(Box::new(big));
        z.fit_encoding(limits);
        Some(z)
    }

    /// A set loaded from a listpack's member and score elements, kept in
    /// the order the file has them as Redis keeps them, in the large form
    /// past `max_entries`; `None` for a repeated member.
    pub fn from_loaded_packed(elems: &[Vec<u8>], limits: ListpackLimits) -> Option<ZSet> {
        let mut seen = ahash::AHashSet::with_capacity(elems.len() / 2);
        let mut p = Packed::new();
        for pair in elems.chunks(2) {
            if !seen.insert(&pair[0][..]) {
                return None;
            }
            p.push_all(&[&pair[0], &pair[1]]);
        }
        let mut z = ZSet::Listpack(p);
        if z.len() > limits.max_entries {
            z.convert_to_skiplist();
        }
        Some(z)
    }

    /// Appends an entry that sorts after every entry held and is not a
    /// member yet (builders, loaders).
    pub fn push_last(&mut self, score: f64, member: &[u8]) {
        match self {
            ZSet::Listpack(p) => p.push_all(&[member, score_text(score).as_bytes()]),
            ZSet::Skiplist(b) => b.insert(score, member),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(p) => p.len() / 2,
            ZSet::Skiplist(b) => b.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// The member-to-score table of the large form (DEBUG HTSTATS-KEY).
    pub fn table(&self) -> Option<&Dict<f64>> {
        match self {
            ZSet::Listpack(_) => None,
            ZSet::Skiplist(b) => Some(&b.dict),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(p) => find_packed(p, member).map(|e| e.score),
            ZSet::Skiplist(b) => b.dict.get(member).copied(),
        }
    }

    /// Adds or updates one element as Redis's `zsetAdd` does, converting
    /// to the large form before a packed set would pass its limits.
    pub fn add(
        &mut self,
        score: f64,
        member: &[u8],
        opts: AddOpts,
        limits: ListpackLimits,
    ) -> Result<Added, NanScore> {
        let Some(current) = self.score(member) else {
            if opts.xx {
                return Ok(Added::Skipped);
            }
            let len = self.len();
            if let ZSet::Listpack(p) = self
                && (len + 1 > limits.max_entries
                    || member.len() > limits.max_value
                    || !p.safe_to_add(member.len()))
            {
                self.convert_to_skiplist();
            }
            self.insert_new(score, member);
            return Ok(Added::New(score));
        };
        if opts.nx {
            return Ok(Added::Skipped);
        }
        let score = if opts.incr { score + current } else { score };
        if score.is_nan() {
            return Err(NanScore);
        }
        if (opts.lt && score >= current) || (opts.gt && score <= current) {
            return Ok(Added::Skipped);
        }
        if score == current {
            return Ok(Added::Same(score));
        }
        match self {
            ZSet::Listpack(p) => {
                if let Some(e) = find_packed(p, member) {
                    p.replace(e.start, e.end, &[]);
                }
                insert_packed(p, score, member);
            }
            ZSet::Skiplist(b) => {
                if let Some(s) = b.dict.get_mut(member) {
                    *s = score;
                }
                b.tree.update_score(member, current, score);
            }
        }
        Ok(Added::Updated(score))
    }

    /// Inserts a member the set lacks, with no conversion.
    fn insert_new(&mut self, score: f64, member: &[u8]) {
        match self {
            ZSet::Listpack(p) => insert_packed(p, score, member),
            ZSet::Skiplist(b) => b.insert(score, member),
        }
    }

    /// Removes `member`; false if it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(p) => match find_packed(p, member) {
                Some(e) => {
                    let (start, end) = (e.start, e.end);
                    p.replace(start, end, &[]);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(b) => match b.dict.remove(member) {
                Some(score) => {
                    b.tree.remove(score, member);
                    true
                }
                None => false,
            },
        }
    }

    /// The 0-based ascending rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Listpack(p) => {
                let needle = Needle::new(member);
                let mut spans = p.spans();
                let mut rank = 0;
                while let (Some(m), Some(s)) = (spans.next(), spans.next()) {
                    if p.is_at(m, &needle) {
                        return Some((rank, elem_score(p.at(s))));
                    }
                    rank += 1;
                }
                None
            }
            ZSet::Skiplist(b) => {
                let score = *b.dict.get(member)?;
                Some((b.tree.rank(score, member)?, score))
            }
        }
    }

    /// How many entries, from the lowest, satisfy `pred`, which holds for
    /// a prefix of the order (a score bound does).
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Listpack(p) => entries(p)
                .take_while(|e| e.member.with_bytes(|m| pred(e.score, m)))
                .count(),
            ZSet::Skiplist(b) => b.tree.count_while(pred),
        }
    }

    /// Entries from rank `from` on, in `dir` (for `Reverse`, `from` counts
    /// from the highest).
    pub fn iter_from(
        &self,
        from: usize,
        dir: Dir,
    ) -> Box<dyn Iterator<Item = (Elem<'_>, f64)> + '_> {
        match (self, dir) {
            (ZSet::Listpack(p), Dir::Forward) => {
                Box::new(entries(p).skip(from).map(|e| (e.member, e.score)))
            }
            (ZSet::Listpack(p), Dir::Reverse) => {
                // No back lengths to walk backwards by: a small set's
                // entries are gathered first.
                let all: Vec<(Elem, f64)> = entries(p).map(|e| (e.member, e.score)).collect();
                Box::new(all.into_iter().rev().skip(from))
            }
            (ZSet::Skiplist(b), Dir::Forward) => {
                Box::new(b.tree.iter_from(from).map(|(s, m)| (Elem::Bytes(m), s)))
            }
            (ZSet::Skiplist(b), Dir::Reverse) => {
                let len = b.tree.len();
                let iter = (from < len).then(|| {
                    b.tree
                        .iter_rev_from(len - 1 - from)
                        .map(|(s, m)| (Elem::Bytes(m), s))
                });
                Box::new(iter.into_iter().flatten())
            }
        }
    }

    /// Every entry, ascending.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Elem<'_>, f64)> + '_> {
        self.iter_from(0, Dir::Forward)
    }

    /// Removes the entries of ascending ranks `start..end`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        match self {
            ZSet::Listpack(p) => {
                let mut bounds = entries(p)
                    .skip(start)
                    .take(end - start)
                    .map(|e| (e.start, e.end));
                let Some((from, mut to)) = bounds.next() else {
                    return;
                };
                if let Some((_, last)) = bounds.last() {
                    to = last;
                }
                p.replace(from, to, &[]);
            }
            ZSet::Skiplist(b) => {
                let Big { dict, tree } = &mut **b;
                tree.remove_range(start, end, |_, m| {
                    dict.remove(m);
                });
            }
        }
    }

    /// Converts a packed set to the large form.
    pub fn convert_to_skiplist(&mut self) {
        let ZSet::Listpack(p) = self else {
            return;
        };
        let mut big = Big::default();
        for e in entries(p) {
            e.member.with_bytes(|m| big.insert(e.score, m));
        }
        *self = ZSet::Skiplist(Box::new(big));
    }

    /// Converts a large set that fits the limits back to the packed form,
    /// as Redis does for a set it loaded or computed.
    pub fn fit_encoding(&mut self, limits: ListpackLimits) {
        let ZSet::Skiplist(b) = self else {
            return;
        };
        let max_len = b.dict.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if !limits.fit_packed(b.dict.len(), max_len) {
            return;
        }
        let mut p = Packed::new();
        for (s, m) in b.tree.iter_from(0) {
            p.push_all(&[m, score_text(s).as_bytes()]);
        }
        *self = ZSet::Listpack(p);
    }

    /// A uniformly random entry (the set is not empty).
    pub fn random_entry(&self, rng: &mut Rng) -> Option<(Elem<'_>, f64)> {
        match self {
            ZSet::Listpack(_) => {
                let i = rng.below(self.len() as u64) as usize;
                self.iter_from(i, Dir::Forward).next()
            }
            ZSet::Skiplist(b) => b.dict.random_entry(rng).map(|(m, s)| (Elem::Bytes(m), *s)),
        }
    }

    /// `count` distinct random entries (`count` below the length), in no
    /// particular order.
    fn random_distinct(&self, count: usize, rng: &mut Rng) -> Vec<(Elem<'_>, f64)> {
        match self {
            ZSet::Skiplist(b) if count * 3 <= b.dict.len() => {
                // A small part: draw until enough distinct members are seen.
                let mut seen: ahash::AHashSet<&[u8]> = ahash::AHashSet::with_capacity(count);
                let mut picked = Vec::with_capacity(count);
                while picked.len() < count {
                    let Some((m, s)) = b.dict.random_entry(rng) else {
                        break;
                    };
                    if seen.insert(m) {
                        picked.push((Elem::Bytes(m), *s));
                    }
                }
                picked
            }
            _ => {
                // Selection sampling: each entry is taken with probability
                // (still needed) / (still left).
                let mut picked = Vec::with_capacity(count);
                let mut left = self.len();
                for (m, s) in self.iter() {
                    let needed = count - picked.len();
                    if needed == 0 {
                        break;
                    }
                    if (rng.below(left as u64) as usize) < needed {
                        picked.push((m, s));
                    }
                    left -= 1;
                }
                picked
            }
        }
    }

    /// What redis-server's MEMORY USAGE reports for this set: exact for
    /// the packed form (one listpack), Redis's formula for the large one
    /// with a one-level skiplist node per member.
    pub fn redis_usage(&self, samples: usize) -> usize {
        use crate::db::value::{jemalloc_class, redis_key_bytes};
        const ROBJ: usize = 16;
        match self {
            ZSet::Listpack(p) => ROBJ + jemalloc_class(p.listpack_bytes()),
            ZSet::Skiplist(b) => {
                // zset, zskiplist and dict structs, the bucket array and the
                // 32-level header node.
                let len = b.dict.len();
                let fixed = ROBJ + 16 + 32 + 56 + 8 * len.next_power_of_two().max(4) + 640;
                let (mut total, mut n) = (0usize, 0usize);
                for (m, _) in b.dict.iter().take(samples.max(1)) {
                    total += redis_key_bytes(m.len()) + 24 + jemalloc_class(24 + 16);
                    n += 1;
                }
                fixed + total.checked_div(n).map_or(0, |avg| avg * len)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

/// A score range (`min max`, each inclusive or `(` exclusive).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    min: f64,
    min_ex: bool,
    max: f64,
    max_ex: bool,
}

impl ScoreRange {
    /// Parses `min max` as Redis's `zslParseRange` does.
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bound = |arg: &[u8]| -> Option<(f64, bool)> {
            match arg.first() {
                Some(b'(') => parse_range_double(&arg[1..]).map(|v| (v, true)),
                _ => parse_range_double(arg).map(|v| (v, false)),
            }
        };
        let err = || CmdError::err("min or max is not a float");
        let (min, min_ex) = bound(min).ok_or_else(err)?;
        let (max, max_ex) = bound(max).ok_or_else(err)?;
        Ok(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }

    fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ascending ranks `start..end` of the entries in range.
    fn window(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_while(|s, _| !self.above_min(s));
        let end = z.count_while(|s, _| self.below_max(s));
        (start, end.max(start))
    }
}

/// One end of a lex range: `-` and `+` are below and above every string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LexBound {
    Min,
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

impl LexBound {
    fn parse(arg: &Bytes) -> Option<LexBound> {
        match arg.first()? {
            b'+' if arg.len() == 1 => Some(LexBound::Max),
            b'-' if arg.len() == 1 => Some(LexBound::Min),
            b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
            b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// Redis's `sdscmplex` of a member against this bound.
    fn cmp_member(&self, m: &[u8]) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match self {
            LexBound::Min => Greater,
            LexBound::Max => Less,
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => m.cmp(b),
        }
    }
}

/// A lex range (`[a`, `(a`, `-`, `+`).
#[derive(Debug, Clone)]
pub struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    pub fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
        let err = || CmdError::err("min or max not valid string range item");
        Ok(LexRange {
            min: LexBound::parse(min).ok_or_else(err)?,
            max: LexBound::parse(max).ok_or_else(err)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        let c = self.min.cmp_member(m);
        c.is_gt() || (c.is_eq() && !self.min.exclusive())
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        let c = self.max.cmp_member(m);
        c.is_lt() || (c.is_eq() && !self.max.exclusive())
    }

    /// Whether no string can be in range (min above max, or equal with
    /// either end exclusive).
    fn is_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        let c = match (&self.min, &self.max) {
            (a, b) if a == b => Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Greater,
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
        };
        c.is_gt() || (c.is_eq() && (self.min.exclusive() || self.max.exclusive()))
    }

    /// The ascending ranks `start..end` of the entries in range, walking
    /// in `dir` as Redis does. A lex range assumes equal scores; with
    /// mixed scores Redis's answer depends on its walk, which a packed set
    /// follows exactly (first entry from that end meeting the near bound,
    /// then on while the far bound holds).
    fn window(&self, z: &ZSet, dir: Dir) -> (usize, usize) {
        let len = z.len();
        if len == 0 || self.is_empty() {
            return (0, 0);
        }
        let member_at = |rank: usize| -> Vec<u8> {
            z.iter_from(rank, Dir::Forward)
                .next()
                .map(|(m, _)| m.to_vec())
                .unwrap_or_default()
        };
        // Redis's zslIsInLexRange: the last member must reach min and the
        // first must not pass max.
        if !self.gte_min(&member_at(len - 1)) || !self.lte_max(&member_at(0)) {
            return (0, 0);
        }
        match (z, dir) {
            (ZSet::Listpack(_), _) => {
                let members: Vec<Vec<u8>> = z.iter().map(|(m, _)| m.to_vec()).collect();
                match dir {
                    Dir::Forward => {
                        let Some(start) = members.iter().position(|m| self.gte_min(m)) else {
                            return (0, 0);
                        };
                        let n = members[start..]
                            .iter()
                            .take_while(|m| self.lte_max(m))
                            .count();
                        (start, start + n)
                    }
                    Dir::Reverse => {
                        let Some(last) = members.iter().rposition(|m| self.lte_max(m)) else {
                            return (0, 0);
                        };
                        let n = members[..=last]
                            .iter()
                            .rev()
                            .take_while(|m| self.gte_min(m))
                            .count();
                        (last + 1 - n, last + 1)
                    }
                }
            }
            (ZSet::Skiplist(_), _) => {
                let start = z.count_while(|_, m| !self.gte_min(m));
                let end = z.count_while(|_, m| self.lte_max(m));
                (start, end.max(start))
            }
        }
    }
}

/// Resolves Redis's `start stop` rank arguments (negative from the end)
/// against `len`: the ascending-or-reverse ranks `start..end`.
fn rank_window(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    start = start.max(0);
    if start > stop || start >= len {
        return (0, 0);
    }
    stop = stop.min(len - 1);
    (start as usize, stop as usize + 1)
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Writes one entry of a range reply: the member, and with scores its
/// score (a flat pair in RESP2, a two-element array in RESP3).
fn reply_entry(out: &mut Reply, member: Elem, score: f64, with_scores: bool) {
    if with_scores && out.is_resp3() {
        out.array(2);
    }
    member.reply(out);
    if with_scores {
        out.double(score);
    }
}

/// The array header of a range reply of `n` entries.
fn reply_range_header(out: &mut Reply, n: usize, with_scores: bool) {
    out.array(if with_scores && !out.is_resp3() {
        n * 2
    } else {
        n
    });
}

/// The sorted set under `key` for writing, created for a ZADD whose first
/// member is `first_len` bytes long if missing, or WRONGTYPE.
fn write_or_create<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: u64,
    limits: ListpackLimits,
    first_len: usize,
) -> Result<&'a mut ZSet, CmdError> {
    if write_as::<ZSet>(db, key, now)?.is_none() {
        let z = ZSet::for_first_member(limits, first_len);
        db.set(key, Value::ZSet(z), Ttl::Clear, now);
    }
    Ok(write_as::<ZSet>(db, key, now)?.expect("just created"))
}

/// Deletes `key` if its sorted set emptied; true if it did.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let now = ctx.now_ms;
    if let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db_index].get(key, now).map(|e| &e.value)
        && z.is_empty()
    {
        ctx.store.dbs[ctx.db_index].remove(key);
        return true;
    }
    false
}

/// After members were removed from `key`: its event, the key deleted
/// (and `del`) if emptied, the key modified.
fn members_removed(ctx: &mut Ctx, key: &[u8], event: &'static str, removed: usize) {
    if removed == 0 {
        return;
    }
    ctx.notify(class::ZSET, event, key);
    if delete_if_empty(ctx, key) {
        ctx.notify(class::GENERIC, "del", key);
    }
    ctx.modified(key);
    ctx.dirty(removed as u64);
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut opts = AddOpts::default();
    let mut ch = false;
    let mut at = 2;
    while at < args.len() {
        // Compared as Redis's strcasecmp compares: up to a NUL.
        let a = &args[at];
        if eq_ic_c(a, "nx") {
            opts.nx = true;
        } else if eq_ic_c(a, "xx") {
            opts.xx = true;
        } else if eq_ic_c(a, "ch") {
            ch = true;
        } else if eq_ic_c(a, "incr") {
            opts.incr = true;
        } else if eq_ic_c(a, "gt") {
            opts.gt = true;
        } else if eq_ic_c(a, "lt") {
            opts.lt = true;
        } else {
            break;
        }
        at += 1;
    }
    add_generic(ctx, &args[1], &args[at..], opts, ch)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let opts = AddOpts {
        incr: true,
        ..AddOpts::default()
    };
    add_generic(ctx, &args[1], &args[2..], opts, false)
}

/// Redis's `zaddGenericCommand` from the first score on.
fn add_generic(ctx: &mut Ctx, key: &Bytes, pairs: &[Bytes], opts: AddOpts, ch: bool) -> CmdResult {
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if opts.nx && opts.xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (opts.nx && (opts.gt || opts.lt)) || (opts.gt && opts.lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if opts.incr && pairs.len() > 2 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    // Every score is parsed first: the command applies fully or not at all.
    let scores = pairs
        .chunks(2)
        .map(|p| parse_score(&p[0]).ok_or(CmdError::NotFloat))
        .collect::<Result<Vec<f64>, CmdError>>()?;
    let limits = ListpackLimits::of(ctx.store);
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let exists = write_as::<ZSet>(&mut ctx.store.dbs[db], key, now)?.is_some();
    let (mut added, mut updated, mut last) = (0u64, 0u64, None);
    let mut nan = false;
    if exists || !opts.xx {
        let z = write_or_create(&mut ctx.store.dbs[db], key, now, limits, pairs[1].len())?;
        for (pair, &score) in pairs.chunks(2).zip(&scores) {
            match z.add(score, &pair[1], opts, limits) {
                Ok(Added::New(s)) => {
                    added += 1;
                    last = Some(s);
                }
                Ok(Added::Updated(s)) => {
                    updated += 1;
                    last = Some(s);
                }
                Ok(Added::Same(s)) => last = Some(s),
                Ok(Added::Skipped) => {}
                Err(NanScore) => {
                    nan = true;
                    break;
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.changed(class::ZSET, if opts.incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(CmdError::err("resulting score is not a number (NaN)"));
    }
    ctx.dirty(added + updated);
    if opts.incr {
        match last {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out
            .int((if ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(z) = write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for member in &args[2..] {
        if z.remove(member) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    members_removed(ctx, key, "zrem", deleted);
    ctx.out.int(deleted as i64);
    Ok(())
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    match z.and_then(|z| z.score(&args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match z.as_ref().and_then(|z| z.score(member)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZRANK key member
pub fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, Dir::Forward)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, Dir::Reverse)
}

fn rank_generic(ctx: &mut Ctx, args: &[Bytes], dir: Dir) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let Some(z) = z else {
        ctx.out.null();
        return Ok(());
    };
    let len = z.len();
    match z.rank(&args[2]) {
        Some((r, _)) if dir == Dir::Forward => ctx.out.int(r as i64),
        Some((r, _)) => ctx.out.int((len - 1 - r) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// How a range is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Rank,
    Score,
    Lex,
}

/// Where a range's result goes.
enum RangeTo<'a> {
    Reply { with_scores: bool },
    Store(&'a Bytes),
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, None, false)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 2, None, None, true)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, Some(RangeBy::Rank), Some(Dir::Reverse), false)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(
        ctx,
        args,
        1,
        Some(RangeBy::Score),
        Some(Dir::Forward),
        false,
    )
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(
        ctx,
        args,
        1,
        Some(RangeBy::Score),
        Some(Dir::Reverse),
        false,
    )
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, Some(RangeBy::Lex), Some(Dir::Forward), false)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, Some(RangeBy::Lex), Some(Dir::Reverse), false)
}

/// A parsed range: its bounds in the form `by` takes.
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Redis's `zrangeGenericCommand`: the options after `key min max` (the
/// key at `key_at`), where `by` and `dir` are fixed by the older commands
/// and chosen by options for ZRANGE and ZRANGESTORE.
fn range_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    key_at: usize,
    by: Option<RangeBy>,
    dir: Option<Dir>,
    store: bool,
) -> CmdResult {
    let (mut by, mut dir) = (by, dir);
    let (mut with_scores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && eq_ic(a, "withscores") {
            with_scores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if dir.is_none() && eq_ic(a, "rev") {
            dir = Some(Dir::Reverse);
        } else if by.is_none() && eq_ic(a, "bylex") {
            by = Some(RangeBy::Lex);
        } else if by.is_none() && eq_ic(a, "byscore") {
            by = Some(RangeBy::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let by = by.unwrap_or(RangeBy::Rank);
    let dir = dir.unwrap_or(Dir::Forward);
    if limit != -1 && by == RangeBy::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == RangeBy::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Score and lex ranges are given high end first when reversed.
    let (mut lo, mut hi) = (&args[key_at + 1], &args[key_at + 2]);
    if dir == Dir::Reverse && by != RangeBy::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let bounds = match by {
        RangeBy::Rank => Bounds::Rank(arg_i64(lo)?, arg_i64(hi)?),
        RangeBy::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        RangeBy::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
    };
    let to = if store {
        RangeTo::Store(&args[1])
    } else {
        RangeTo::Reply { with_scores }
    };
    emit_range(ctx, &args[key_at], &bounds, dir, offset, limit, to)
}

/// Looks up the source of a range and sends the range where it goes.
fn emit_range(
    ctx: &mut Ctx,
    key: &Bytes,
    bounds: &Bounds,
    dir: Dir,
    offset: i64,
    limit: i64,
    to: RangeTo,
) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, key, ctx.now_ms)?;
    let Some(z) = z else {
        match to {
            RangeTo::Reply { .. } => ctx.out.array(0),
            RangeTo::Store(dst) => {
                store_result(ctx, dst, ZSet::Listpack(Packed::new()), "zrangestore")
            }
        }
        return Ok(());
    };
    let len = z.len();
    // The ascending ranks of the range, then LIMIT's part of it from the
    // end it is walked from.
    let (start, end) = match bounds {
        // Reverse ranks count from the highest.
        Bounds::Rank(a, b) => match (rank_window(*a, *b, len), dir) {
            ((s, e), Dir::Forward) => (s, e),
            ((s, e), Dir::Reverse) => (len - e, len - s),
        },
        Bounds::Score(r) => r.window(z),
        Bounds::Lex(r) => r.window(z, dir),
    };
    let (skip, take) = match bounds {
        Bounds::Rank(..) => (0, end - start),
        // Redis walks a negative offset past the end, and an offset at
        // or past the set's length answers nothing.
        _ if offset < 0 || (offset > 0 && offset as usize >= len) => (0, 0),
        _ => {
            let n = (end - start).saturating_sub(offset as usize);
            let n = if limit < 0 { n } else { n.min(limit as usize) };
            (offset as usize, n)
        }
    };
    let from = match dir {
        Dir::Forward => start + skip,
        Dir::Reverse => len - end + skip,
    };
    let entries = z.iter_from(from, dir).take(take);
    match to {
        RangeTo::Reply { with_scores } => {
            reply_range_header(ctx.out, take, with_scores);
            for (m, s) in entries {
                reply_entry(ctx.out, m, s, with_scores);
            }
        }
        RangeTo::Store(dst) => {
            let walked: Vec<(Vec<u8>, f64)> = entries.map(|(m, s)| (m.to_vec(), s)).collect();
            let hint = matches!(bounds, Bounds::Rank(..)).then_some(take);
            let limits = ListpackLimits::of(ctx.store);
            store_result(ctx, dst, build_walked(&walked, limits, hint), "zrangestore");
        }
    }
    Ok(())
}

/// Stores `z` at `dst` (or deletes `dst` when it is empty), replies with
/// its length, and records `event`.
fn store_result(ctx: &mut Ctx, dst: &Bytes, z: ZSet, event: &'static str) {
    let (db, now, n) = (ctx.db_index, ctx.now_ms, z.len());
    // An expired destination goes first, so storing makes a new key.
    ctx.store.dbs[db].lookup(dst, now);
    if n == 0 {
        if ctx.store.dbs[db].remove(dst) {
            ctx.dirty(1);
            ctx.changed(class::GENERIC, "del", dst);
        }
        ctx.out.int(0);
        return;
    }
    ctx.store.dbs[db].set_result(dst, Value::ZSet(z), now);
    ctx.dirty(1);
    ctx.changed(class::ZSET, event, dst);
    ctx.out.int(n as i64);
}

/// ZRANGESTORE's result as Redis builds it: member by member in the order
/// the range was walked, into a set that starts packed (or large, when a
/// rank range's known length rules that out) and converts as it fills, so
/// a score read back from the packed form (-0 as 0) is what the large
/// form gets.
fn build_walked(
    entries: &[(Vec<u8>, f64)],
    limits: ListpackLimits,
    len_hint: Option<usize>,
) -> ZSet {
    let mut z = match len_hint {
        Some(n) => ZSet::for_len(limits, n),
        None => ZSet::Listpack(Packed::new()),
    };
    for (m, s) in entries {
        if let ZSet::Listpack(_) = z
            && (z.len() + 1 > limits.max_entries || m.len() > limits.max_value)
        {
            z.convert_to_skiplist();
        }
        z.insert_new(*s, m);
    }
    z
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = ScoreRange::parse(&args[2], &args[3])?;
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let n = z.map_or(0, |z| {
        let (start, end) = range.window(z);
        end - start
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = LexRange::parse(&args[2], &args[3])?;
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let n = z.map_or(0, |z| {
        let (start, end) = range.window(z, Dir::Forward);
        end - start
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bounds = Bounds::Rank(arg_i64(&args[2])?, arg_i64(&args[3])?);
    remrange_generic(ctx, &args[1], bounds, "zremrangebyrank")
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bounds = Bounds::Score(ScoreRange::parse(&args[2], &args[3])?);
    remrange_generic(ctx, &args[1], bounds, "zremrangebyscore")
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bounds = Bounds::Lex(LexRange::parse(&args[2], &args[3])?);
    remrange_generic(ctx, &args[1], bounds, "zremrangebylex")
}

fn remrange_generic(ctx: &mut Ctx, key: &Bytes, bounds: Bounds, event: &'static str) -> CmdResult {
    let Some(z) = write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (start, end) = match &bounds {
        Bounds::Rank(a, b) => rank_window(*a, *b, z.len()),
        Bounds::Score(r) => r.window(z),
        Bounds::Lex(r) => r.window(z, Dir::Forward),
    };
    z.remove_ranks(start, end);
    members_removed(ctx, key, event, end - start);
    ctx.out.int((end - start) as i64);
    Ok(())
}

/// Which end a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

impl End {
    /// ZMPOP's and BZMPOP's `MIN|MAX`.
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if eq_ic(arg, "min") {
            Ok(End::Min)
        } else if eq_ic(arg, "max") {
            Ok(End::Max)
        } else {
            Err(CmdError::Syntax)
        }
    }

    fn event(self) -> &'static str {
        match self {
            End::Min => "zpopmin",
            End::Max => "zpopmax",
        }
    }

    fn command(self) -> Bytes {
        Bytes::from_static(match self {
            End::Min => b"ZPOPMIN",
            End::Max => b"ZPOPMAX",
        })
    }
}

/// How a pop's reply is shaped (Redis's `genericZpopCommand` flags).
#[derive(Debug, Clone, Copy)]
struct PopReply {
    /// The key first (the blocking pops, ZMPOP).
    with_key: bool,
    /// Each entry a [member, score] pair, under the key (ZMPOP, BZMPOP,
    /// RESP3 ZPOPMIN with a count).
    nested: bool,
}

/// Pops up to `count` entries from `end` of the sorted set under `key`
/// (which exists), replies as `shape` says, and records the pop.
fn pop_from(ctx: &mut Ctx, key: &Bytes, end: End, count: usize, shape: PopReply) {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let Ok(Some(z)) = write_as::<ZSet>(&mut ctx.store.dbs[db], key, now) else {
        return;
    };
    let len = z.len();
    let n = count.min(len);
    let dir = match end {
        End::Min => Dir::Forward,
        End::Max => Dir::Reverse,
    };
    let out = &mut *ctx.out;
    match (shape.with_key, shape.nested) {
        (false, false) => out.array(n * 2),
        (false, true) => out.array(n),
        (true, false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for (m, s) in z.iter_from(0, dir).take(n) {
        if shape.nested {
            out.array(2);
        }
        m.reply(out);
        out.double(s);
    }
    match end {
        End::Min => z.remove_ranks(0, n),
        End::Max => z.remove_ranks(len - n, len),
    }
    if n > 0 {
        ctx.notify(class::ZSET, end.event(), key);
        ctx.modified(key);
        if delete_if_empty(ctx, key) {
            ctx.notify(class::GENERIC, "del", key);
        }
        ctx.dirty(n as u64);
    }
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, End::Min)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, End::Max)
}

fn zpop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::util::parse_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
    };
    let key = &args[1];
    if write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)?.is_none()
        || count == Some(0)
    {
        ctx.out.array(0);
        return Ok(());
    }
    let shape = PopReply {
        with_key: false,
        nested: ctx.out.is_resp3() && count.is_some(),
    };
    pop_from(ctx, key, end, count.unwrap_or(1), shape);
    Ok(())
}

/// Pops from the first non-empty sorted set among `keys`, replying
/// `[key, [[member, score]...]]` and propagating the plain pop of as many
/// as it took; false (nothing written) when every key is missing.
fn mpop_from(ctx: &mut Ctx, keys: &[Bytes], end: End, count: usize) -> Result<bool, CmdError> {
    for key in keys {
        let Some(z) = write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)? else {
            continue;
        };
        let n = count.min(z.len());
        pop_from(
            ctx,
            key,
            end,
            count,
            PopReply {
                with_key: true,
                nested: true,
            },
        );
        ctx.propagate_as(vec![end.command(), key.clone(), Bytes::from(n.to_string())]);
        return Ok(true);
    }
    Ok(false)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let parsed = parse_mpop(args, 1, End::parse)?;
    if !mpop_from(ctx, &args[parsed.keys], parsed.end, parsed.count)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, End::Min)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, End::Max)
}

/// BZPOPMIN and BZPOPMAX: the first non-empty set in argument order, or
/// for a woken client the key that became ready.
fn bzpop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let deadline = crate::types::list::parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    let serving = ctx.serving.clone();
    let candidates = serving
        .as_ref()
        .map_or(keys, |s| std::slice::from_ref(&s.key));
    for key in candidates {
        if write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], key, ctx.now_ms)?.is_none() {
            continue;
        }
        pop_from(
            ctx,
            key,
            end,
            1,
            PopReply {
                with_key: true,
                nested: false,
            },
        );
        ctx.propagate_as(vec![end.command(), key.clone()]);
        return Ok(());
    }
    ctx.block_on(keys, deadline, WaitFor::ZSetElement, Unblocked::NullArray);
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let parsed = parse_mpop(args, 2, End::parse)?;
    let deadline = crate::types::list::parse_timeout(&args[1], ctx.now_ms)?;
    let keys = &args[parsed.keys];
    let serving = ctx.serving.clone();
    let from = serving
        .as_ref()
        .map_or(keys, |s| std::slice::from_ref(&s.key));
    if !mpop_from(ctx, from, parsed.end, parsed.count)? {
        ctx.block_on(keys, deadline, WaitFor::ZSetElement, Unblocked::NullArray);
    }
    Ok(())
}

/// The set operation of ZUNION, ZINTER, ZDIFF and their STORE forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How ZUNION and ZINTER combine one member's weighted scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// AGGREGATE's `SUM|MIN|MAX`.
    fn parse(arg: &[u8]) -> Result<Aggregate, CmdError> {
        if eq_ic(arg, "sum") {
            Ok(Aggregate::Sum)
        } else if eq_ic(arg, "min") {
            Ok(Aggregate::Min)
        } else if eq_ic(arg, "max") {
            Ok(Aggregate::Max)
        } else {
            Err(CmdError::Syntax)
        }
    }

    /// Redis's `zunionInterAggregate`: a sum of `+inf` and `-inf` is 0.
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = if val < *target { val } else { *target },
            Aggregate::Max => *target = if val > *target { val } else { *target },
        }
    }
}

/// Where a set operation's result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpOutput {
    Reply,
    Store,
    Cardinality,
}

/// Whether a walk over a set operation's input goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    On,
    Stop,
}

/// One input of a set operation: a sorted set, or a plain set whose
/// members all score 1.
enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    Set(&'a Set),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(member),
            Source::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Every member with its score, in the order Redis's `zuiNext` gives
    /// them (a sorted set highest first), which fixes the order in which
    /// a member's scores are summed; until `f` says to stop (ZINTERCARD's
    /// LIMIT), which a sorted set heeds at once and a plain set at its end.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64) -> Walk) {
        match self {
            Source::Missing => {}
            Source::ZSet(z) => {
                for (m, s) in z.iter_from(0, Dir::Reverse) {
                    if m.with_bytes(|b| f(b, s)) == Walk::Stop {
                        return;
                    }
                }
            }
            Source::Set(s) => {
                let mut stopped = false;
                s.for_each(|m| {
                    if !stopped {
                        stopped = m.with_bytes(|b| f(b, 1.0)) == Walk::Stop;
                    }
                });
            }
        }
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 1, SetOp::Union, OpOutput::Reply)
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 1, SetOp::Inter, OpOutput::Reply)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 1, SetOp::Diff, OpOutput::Reply)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 2, SetOp::Union, OpOutput::Store)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 2, SetOp::Inter, OpOutput::Store)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 2, SetOp::Diff, OpOutput::Store)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_generic(ctx, args, 1, SetOp::Inter, OpOutput::Cardinality)
}

/// A set operation's parsed arguments.
struct SetOpArgs {
    /// Argument positions of the input keys.
    keys: std::ops::Range<usize>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// Redis's `zunionInterDiffGenericCommand`.
fn setop_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    numkeys_at: usize,
    op: SetOp,
    output: OpOutput,
) -> CmdResult {
    let parsed = parse_setop(ctx, args, numkeys_at, op, output)?;
    let db = &ctx.store.dbs[ctx.db_index];
    let mut sources: Vec<(Source, f64)> = args[parsed.keys.clone()]
        .iter()
        .zip(&parsed.weights)
        .map(|(key, &w)| {
            let src = match db.get(key, ctx.now_ms).map(|e| &e.value) {
                Some(Value::ZSet(z)) => Source::ZSet(z),
                Some(Value::Set(s)) => Source::Set(s),
                _ => Source::Missing,
            };
            (src, w)
        })
        .collect();
    if op != SetOp::Diff {
        // Smallest first, as Redis orders them (a stable sort, as glibc's
        // qsort is for arrays this small), which also fixes the order in
        // which a member's scores are summed.
        sources.sort_by_key(|(s, _)| s.len());
    }
    if output == OpOutput::Cardinality {
        let n = inter_cardinality(&sources, parsed.limit);
        ctx.out.int(n as i64);
        return Ok(());
    }
    let mut result = match op {
        SetOp::Inter => inter(&sources, parsed.aggregate),
        SetOp::Union => union(&sources, parsed.aggregate),
        SetOp::Diff => diff(&sources),
    };
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    if output == OpOutput::Store {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        let limits = ListpackLimits::of(ctx.store);
        store_result(ctx, &args[1], ZSet::from_sorted(&result, limits), event);
        return Ok(());
    }
    reply_range_header(ctx.out, result.len(), parsed.with_scores);
    for (m, s) in &result {
        reply_entry(ctx.out, Elem::Bytes(m), *s, parsed.with_scores);
    }
    Ok(())
}

/// Parses `numkeys key [key ...]` and the options `op` and `output` allow,
/// checking the keys' types between the two, in Redis's order.
fn parse_setop(
    ctx: &mut Ctx,
    args: &[Bytes],
    numkeys_at: usize,
    op: SetOp,
    output: OpOutput,
) -> Result<SetOpArgs, CmdError> {
    let setnum = arg_i64(&args[numkeys_at])?;
    if setnum < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum > (args.len() - numkeys_at - 1) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = numkeys_at + 1..numkeys_at + 1 + setnum;
    for key in &args[keys.clone()] {
        if let Some(e) = lookup_read(ctx.store, ctx.db_index, key, ctx.now_ms)
            && !matches!(e.value, Value::ZSet(_) | Value::Set(_))
        {
            return Err(CmdError::WrongType);
        }
    }
    let mut parsed = SetOpArgs {
        keys,
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let weighted = op != SetOp::Diff && output != OpOutput::Cardinality;
    let mut j = parsed.keys.end;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if weighted && remaining > setnum && eq_ic(a, "weights") {
            for (i, w) in parsed.weights.iter_mut().enumerate() {
                *w = parse_score(&args[j + 1 + i])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if weighted && remaining >= 2 && eq_ic(a, "aggregate") {
            parsed.aggregate = Aggregate::parse(&args[j + 1])?;
            j += 2;
        } else if output == OpOutput::Reply && eq_ic(a, "withscores") {
            parsed.with_scores = true;
            j += 1;
        } else if output == OpOutput::Cardinality && remaining >= 2 && eq_ic(a, "limit") {
            parsed.limit = match crate::util::parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(parsed)
}

/// The first input's members found in every other input, with the
/// aggregate of their weighted scores (the first input is the smallest).
fn inter(sources: &[(Source, f64)], aggregate: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut result = Vec::new();
    let (first, w0) = &sources[0];
    first.for_each(|m, s| {
        let mut score = w0 * s;
        if score.is_nan() {
            score = 0.0;
        }
        for (src, w) in &sources[1..] {
            match src.score(m) {
                Some(v) => aggregate.apply(&mut score, v * w),
                None => return Walk::On,
            }
        }
        result.push((m.to_vec(), score));
        Walk::On
    });
    result
}

/// How many of the first input's members are in every other input,
/// counting no further than `limit` (0: no limit).
fn inter_cardinality(sources: &[(Source, f64)], limit: usize) -> usize {
    let mut n = 0;
    let (first, _) = &sources[0];
    first.for_each(|m, _| {
        if sources[1..].iter().all(|(src, _)| src.score(m).is_some()) {
            n += 1;
            if limit != 0 && n >= limit {
                return Walk::Stop;
            }
        }
        Walk::On
    });
    n
}

/// Every input's members, each with the aggregate of its weighted scores.
fn union(sources: &[(Source, f64)], aggregate: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut acc: ahash::AHashMap<Vec<u8>, f64> = ahash::AHashMap::new();
    for (src, w) in sources {
        src.for_each(|m, s| {
            let mut score = w * s;
            if score.is_nan() {
                score = 0.0;
            }
            match acc.get_mut(m) {
                Some(t) => aggregate.apply(t, score),
                None => {
                    acc.insert(m.to_vec(), score);
                }
            }
            Walk::On
        });
    }
    acc.into_iter().collect()
}

/// The first input's members in no other input, with their scores.
fn diff(sources: &[(Source, f64)]) -> Vec<(Vec<u8>, f64)> {
    let mut result = Vec::new();
    let (first, _) = &sources[0];
    first.for_each(|m, s| {
        if sources[1..].iter().all(|(src, _)| src.score(m).is_none()) {
            result.push((m.to_vec(), s));
        }
        Walk::On
    });
    result
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() < 3 {
        let (z, rng) = read_with_rng::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
        match z.and_then(|z| z.random_entry(rng)) {
            Some((m, _)) => m.reply(ctx.out),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let (n, with_scores) = crate::types::parse_random_count(args, "WITHSCORES")?;
    let (z, rng) = read_with_rng::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    let out = &mut *ctx.out;
    let Some(z) = z else {
        out.array(0);
        return Ok(());
    };
    let count = n.unsigned_abs() as usize;
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    // Repeats allowed (and a count of 1, which cannot repeat anyway).
    if n < 0 || count == 1 {
        reply_range_header(out, count, with_scores);
        for _ in 0..count {
            if let Some((m, s)) = z.random_entry(rng) {
                reply_entry(out, m, s, with_scores);
            }
        }
        return Ok(());
    }
    let size = z.len();
    reply_range_header(out, count.min(size), with_scores);
    if count >= size {
        // The whole set, highest first: Redis walks it with the set
        // operations' iterator, which starts at the tail.
        for (m, s) in z.iter_from(0, Dir::Reverse) {
            reply_entry(out, m, s, with_scores);
        }
        return Ok(());
    }
    for (m, s) in z.random_distinct(count, rng) {
        reply_entry(out, m, s, with_scores);
    }
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&args[2])?;
    if read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?.is_none() {
        reply_scan(ctx, 0, &[] as &[&[u8]]);
        return Ok(());
    }
    let z = &*write_as::<ZSet>(&mut ctx.store.dbs[ctx.db_index], &args[1], ctx.now_ms)?
        .expect("checked above");
    let opts = parse_scan_opts(args, 3, false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    match z {
        // A packed set is small: all of it at once, cursor 0, each score
        // as the text the listpack holds.
        ZSet::Listpack(p) => {
            let mut spans = p.spans();
            while let (Some(m), Some(s)) = (spans.next(), spans.next()) {
                let member = p.at(m).to_vec();
                if opts.matches(&member) {
                    items.push(member);
                    items.push(p.at(s).to_vec());
                }
            }
            cursor = 0;
        }
        ZSet::Skiplist(b) => {
            let score = |s: &f64| crate::util::format_double(*s).into_bytes();
            cursor = scan_pairs(&b.dict, cursor, &opts, score, &mut items);
        }
    }
    reply_scan(ctx, cursor, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ListpackLimits = ListpackLimits {
        max_entries: 4,
        max_value: 8,
    };
    const NEVER_PACKED: ListpackLimits = ListpackLimits {
        max_entries: 0,
        max_value: 0,
    };
    const ALWAYS_PACKED: ListpackLimits = ListpackLimits {
        max_entries: usize::MAX,
        max_value: usize::MAX,
    };

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    fn add(z: &mut ZSet, score: f64, member: &str, limits: ListpackLimits) -> Added {
        z.add(score, member.as_bytes(), AddOpts::default(), limits)
            .unwrap()
    }

    #[test]
    fn packed_scores_are_what_redis_writes() {
        assert_eq!(score_text(3.0), "3");
        assert_eq!(score_text(-0.0), "0");
        assert_eq!(score_text(1.5), "1.5");
        assert_eq!(score_text(0.1), "0.10000000000000001");
        assert_eq!(score_text(f64::INFINITY), "inf");
        assert_eq!(score_text(1e300), "1.0000000000000001e+300");
        assert_eq!(score_text(4611686018427387904.0), "4611686018427387904");
        assert_eq!(
            score_text(4611686018427387904.0 * 2.0),
            "9.2233720368547758e+18"
        );
    }

    #[test]
    fn converts_past_either_limit_and_keeps_the_order() {
        let mut z = ZSet::for_first_member(SMALL, 1);
        for (s, m) in [(2.0, "b"), (1.0, "a"), (2.0, "a2"), (0.5, "z")] {
            assert!(matches!(add(&mut z, s, m, SMALL), Added::New(_)));
        }
        assert_eq!(z.encoding(), "listpack");
        let order: Vec<Vec<u8>> = contents(&z).into_iter().map(|(m, _)| m).collect();
        assert_eq!(order, [&b"z"[..], b"a", b"a2", b"b"]);
        add(&mut z, 3.0, "c", SMALL);
        assert_eq!(z.encoding(), "skiplist");
        let mut long = ZSet::for_first_member(SMALL, 1);
        add(&mut long, 1.0, "short", SMALL);
        add(&mut long, 1.0, "longer-than-8", SMALL);
        assert_eq!(long.encoding(), "skiplist");
        assert_eq!(ZSet::for_first_member(SMALL, 9).encoding(), "skiplist");
    }

    #[test]
    fn conditions_and_increments_follow_zadd() {
        let mut z = ZSet::for_first_member(SMALL, 1);
        add(&mut z, 5.0, "m", SMALL);
        let gt = AddOpts {
            gt: true,
            ..AddOpts::default()
        };
        assert_eq!(z.add(4.0, b"m", gt, SMALL), Ok(Added::Skipped));
        assert_eq!(z.add(6.0, b"m", gt, SMALL), Ok(Added::Updated(6.0)));
        let incr = AddOpts {
            incr: true,
            ..AddOpts::default()
        };
        assert_eq!(z.add(0.0, b"m", incr, SMALL), Ok(Added::Same(6.0)));
        z.add(f64::INFINITY, b"m", AddOpts::default(), SMALL)
            .unwrap();
        assert_eq!(z.add(f64::NEG_INFINITY, b"m", incr, SMALL), Err(NanScore));
        assert_eq!(z.score(b"m"), Some(f64::INFINITY));
        let xx = AddOpts {
            xx: true,
            ..AddOpts::default()
        };
        assert_eq!(z.add(1.0, b"new", xx, SMALL), Ok(Added::Skipped));
        assert_eq!(z.len(), 1);
    }

    /// The same random operations on a packed set and a large one answer
    /// the same: ranks, windows, iteration both ways, removal of ranks.
    #[test]
    fn both_encodings_agree_on_random_operations() {
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let mut packed = ZSet::for_first_member(ALWAYS_PACKED, 1);
            let mut big = ZSet::for_first_member(NEVER_PACKED, 1);
            for _ in 0..400 {
                let member = format!("m{}", rng.below(60));
                let score = match rng.below(4) {
                    0 => rng.below(5) as f64,
                    1 => rng.below(1000) as f64 / 7.0,
                    2 => -(rng.below(3) as f64),
                    _ => [f64::INFINITY, f64::NEG_INFINITY, -0.0][rng.below(3) as usize],
                };
                match rng.below(10) {
                    0..=5 => {
                        let a =
                            packed.add(score, member.as_bytes(), AddOpts::default(), ALWAYS_PACKED);
                        let b = big.add(score, member.as_bytes(), AddOpts::default(), NEVER_PACKED);
                        assert_eq!(a, b);
                    }
                    6 | 7 => assert_eq!(
                        packed.remove(member.as_bytes()),
                        big.remove(member.as_bytes())
                    ),
                    8 => {
                        let (s, e) =
                            rank_window(rng.below(5) as i64, rng.below(5) as i64, packed.len());
                        packed.remove_ranks(s, e);
                        big.remove_ranks(s, e);
                    }
                    _ => {
                        let lo = format!("({}", rng.below(6));
                        let r = ScoreRange::parse(lo.as_bytes(), b"+inf").unwrap();
                        assert_eq!(r.window(&packed), r.window(&big));
                    }
                }
                assert_eq!(contents(&packed), contents(&big), "seed {seed}");
                assert_eq!(packed.rank(member.as_bytes()), big.rank(member.as_bytes()));
                let n = packed.len();
                if n > 0 {
                    let at = rng.below(n as u64) as usize;
                    let p: Vec<_> = packed
                        .iter_from(at, Dir::Reverse)
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect();
                    let b: Vec<_> = big
                        .iter_from(at, Dir::Reverse)
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect();
                    assert_eq!(p, b);
                }
            }
            let all = contents(&big);
            big.fit_encoding(ALWAYS_PACKED);
            assert_eq!(big.encoding(), "listpack");
            assert_eq!(contents(&big), all);
        }
    }

    #[test]
    fn lex_ranges_parse_and_bound() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert!(LexRange::parse(&b("a"), &b("+")).is_err());
        assert!(LexRange::parse(&b("-"), &b("++")).is_err());
        assert!(LexRange::parse(&b("(b"), &b("[b")).unwrap().is_empty());
        assert!(LexRange::parse(&b("+"), &b("-")).unwrap().is_empty());
        assert!(!LexRange::parse(&b("[b"), &b("[b")).unwrap().is_empty());
        let mut z = ZSet::for_first_member(ALWAYS_PACKED, 1);
        for m in ["a", "b", "c", "d"] {
            add(&mut z, 0.0, m, ALWAYS_PACKED);
        }
        let r = LexRange::parse(&b("(a"), &b("[c")).unwrap();
        assert_eq!(r.window(&z, Dir::Forward), (1, 3));
        assert_eq!(r.window(&z, Dir::Reverse), (1, 3));
    }
}
