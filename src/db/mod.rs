//! The keyspace: numbered databases of binary-safe keys, with expiry.
//!
//! Every read and write goes through [`Db::lookup`] or the mutators here, so
//! lazy expiry (a key past its deadline is deleted when touched) holds for
//! every command. Active expiry walks the `expires` table with a scan
//! cursor under a time budget, so keys that nobody reads are reclaimed too
//! without ever holding the loop for more than about a millisecond.

pub mod bytes;
pub mod dict;
pub mod value;

use std::time::{Duration, Instant};

pub use dict::Dict;
pub use value::{Str, Value};

use crate::persist::snapshot::DbSnap;
use crate::util::Rng;

/// A key's value as its table holds it. What else a key has lives
/// elsewhere so that a small key's table node stays at 56 bytes: its
/// deadline, if any, in the database's `expires` table (most keys have
/// none), and its 24-bit access stamp beside the key in the node (see
/// `dict::NodeKey`). The stamp: under an LRU policy (the default) the last
/// access in seconds of the 24-bit LRU clock (OBJECT IDLETIME); under an
/// LFU policy Redis's layout, minutes of the last decrement in the high 16
/// bits and a logarithmic access counter in the low 8 (OBJECT FREQ).
#[derive(Debug)]
pub struct Entry {
    pub value: Value,
}

/// A key taken out of a database with what goes with it, to put in
/// another (RENAME, MOVE, COPY).
#[derive(Debug)]
pub struct Detached {
    pub entry: Entry,
    pub access: u32,
    /// The deadline, 0 for none.
    pub expire_ms: u64,
}

/// Whether a key met by a scan is still live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Live,
    Expired,
}

/// What one active-expiry pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireReport {
    pub sampled: usize,
    pub expired: usize,
    /// True if the budget ran out before a full sweep of the volatile keys.
    pub out_of_time: bool,
}

/// What a database reports to the effects record (see `crate::effects`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbEventKind {
    /// A key was created (Redis's dbAdd): the `new` event.
    New,
    /// A key was deleted by lazy or active expiry.
    Expired,
    /// A key now holds a value that a blocked client may be waiting for.
    Ready,
    /// A key was deleted to free memory (maxmemory).
    Evicted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEvent {
    pub kind: DbEventKind,
    pub key: ::bytes::Bytes,
}

/// Which events besides expiry a database logs; each is off unless someone
/// consumes it, so creating a key costs one test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// `notify-keyspace-events` includes `n`.
    pub new_keys: bool,
    /// Some client is blocked on a key of this database.
    pub ready_keys: bool,
    /// Some client, in any database, is blocked in XREAD or XREADGROUP:
    /// a stream deleted or replaced then signals its key (Redis's
    /// signalKeyAsReady for OBJ_STREAM, which does nothing while no
    /// client waits on a stream).
    pub stream_readers: bool,
}

/// Whether overwriting a key wakes clients blocked on it (see
/// [`Db::set_result`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// When the new value's type is one a waiter may want and the old
    /// value's was not.
    OnTypeChange,
    /// Only when the key is new.
    OnlyIfNew,
}

/// What a write does to the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The new value has no deadline (SET without KEEPTTL).
    Clear,
    /// The key keeps its deadline (KEEPTTL, INCR, APPEND).
    Keep,
}

pub struct Db {
    pub policy: AccessPolicy,
    pub observed: Observed,
    /// Events for the effects record, drained after every command; expired
    /// keys are always logged (they are rare, and INFO counts them).
    pub log: Vec<DbEvent>,
    /// For the LFU counter's probabilistic increment.
    rng: Rng,
    /// Each node's owner bits hold the key's access stamp.
    keys: Dict<Entry>,
    /// Keys with a TTL, mapped to the same deadline as their entry. Kept so
    /// active expiry and INFO's `expires=` look only at volatile keys.
    expires: Dict<u64>,
    expire_cursor: u64,
    /// Average TTL of keys sampled by active expiry, smoothed, for INFO.
    pub avg_ttl_ms: u64,
    /// The walk of a BGSAVE in progress over this database (see
    /// `persist::snapshot`): every change to a key it has not written yet
    /// writes the key first.
    pub snap: Option<Box<DbSnap>>,
    /// What a deadline does now: see [`Expiry`].
    pub expiry: Expiry,
}

/// What happens to a key past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// It reads as missing and is deleted, by the lookup that finds it or
    /// by active expiry.
    #[default]
    Delete,
    /// While clients are paused (CLIENT PAUSE): it reads as missing but is
    /// not deleted, and active expiry deletes nothing, so the dataset
    /// stays as it is (Redis's expireIfNeeded and activeExpireCycle while
    /// paused).
    Hide,
    /// While an AOF replays, nothing expires (Redis's `keyIsExpired` while
    /// loading): a later command of the file may still act on a key past
    /// its deadline, as it did when it ran.
    Off,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

/// `key`'s deadline in `expires`, 0 for none; most databases have no
/// deadlines at all, and then no lookup is made.
fn deadline_in(expires: &Dict<u64>, key: &[u8]) -> u64 {
    match expires.is_empty() {
        true => 0,
        false => expires.get(key).copied().unwrap_or(0),
    }
}

/// Whether a key whose deadline is `when_ms` has expired at `now_ms`.
///
/// Redis's `keyIsExpired` and active expiry both test `now > when`: a key
/// lives through the whole millisecond of its deadline. Every expiry check
/// (lazy, active, WATCH's rule at EXEC) goes through here so they agree.
pub fn past_deadline(when_ms: u64, now_ms: u64) -> bool {
    now_ms > when_ms
}

/// Redis's `LRU_CLOCK_MAX`: the clock and the stamps are 24 bits.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The LRU clock: seconds since the epoch, in 24 bits as Redis keeps it.
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32 & LRU_CLOCK_MAX
}

/// Seconds since an access stamped `stamp`, across the clock's wrap
/// (Redis's `estimateObjectIdleTime`).
pub fn idle_seconds(stamp: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    if clock >= stamp {
        (clock - stamp) as u64
    } else {
        (clock + (LRU_CLOCK_MAX - stamp)) as u64
    }
}

/// How key accesses are recorded, following `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPolicy {
    Lru,
    /// `lfu-log-factor` and `lfu-decay-time` (minutes).
    Lfu {
        log_factor: u32,
        decay_minutes: u32,
    },
}

/// Redis's `LFU_INIT_VAL`: new keys start warm so they are not evicted
/// before they have a chance to be read.
const LFU_INIT_VAL: u32 = 5;

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// The stamp's counter after decay, as Redis's `LFUDecrAndReturn`.
pub fn lfu_counter(stamp: u32, decay_minutes: u32, now_ms: u64) -> u32 {
    let last = stamp >> 8;
    let counter = stamp & 0xFF;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        65535 - last + now
    };
    let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods)
}

impl Db {
    pub fn new() -> Db {
        Db {
            policy: AccessPolicy::Lru,
            rng: Rng::from_time(),
            keys: Dict::new(),
            expires: Dict::new(),
            expire_cursor: 0,
            avg_ttl_ms: 0,
            observed: Observed::default(),
            log: Vec::new(),
            snap: None,
            expiry: Expiry::Delete,
        }
    }

    /// Before `key` changes or goes: a snapshot in progress that has not
    /// written it yet writes it now, as it still is.
    #[inline]
    fn before_write(&mut self, key: &[u8]) {
        if let Some(snap) = self.snap.as_deref_mut()
            && snap.detached.is_none()
            && let Some((k, entry, access)) = self.keys.visit(key)
        {
            snap.write(k, &entry.value, access, deadline_in(&self.expires, k));
        }
    }

    /// After a removal moved the last node into arena index `moved`: if
    /// the snapshot's walk has passed that index, it would never meet the
    /// node, so an unwritten one is written now.
    fn after_move(&mut self, moved: Option<usize>) {
        if let (Some(snap), Some(i)) = (self.snap.as_deref_mut(), moved)
            && snap.detached.is_none()
            && i < snap.cursor
            && let Some((k, entry, access)) = self.keys.visit_at(i)
        {
            snap.write(k, &entry.value, access, deadline_in(&self.expires, k));
        }
    }

    /// Starts a snapshot's walk of this database, to be written as
    /// database `index` (see `persist::snapshot`).
    pub fn begin_snapshot(&mut self, snap: DbSnap) {
        self.keys.begin_snapshot();
        self.snap = Some(Box::new(snap));
    }

    /// Walks the snapshot on by up to `n` nodes, writing the unwritten
    /// ones. Returns true when the walk is complete (the snapshot is then
    /// taken off the database, its last output in `out`).
    pub fn snapshot_step(&mut self, n: usize, out: &mut Vec<u8>) -> bool {
        let Some(snap) = self.snap.as_deref_mut() else {
            return true;
        };
        // The walk is over the live tables, or over those FLUSHDB handed it.
        let mut detached = snap.detached.take();
        let (keys, expires) = match detached.as_mut() {
            Some((k, e)) => (k, &*e),
            None => (&mut self.keys, &self.expires),
        };
        let end = (snap.cursor + n).min(keys.len());
        while snap.cursor < end {
            if let Some((k, entry, access)) = keys.visit_at(snap.cursor) {
                snap.write(k, &entry.value, access, deadline_in(expires, k));
            }
            snap.cursor += 1;
        }
        out.append(&mut snap.out);
        let done = snap.cursor >= keys.len();
        if !done {
            snap.detached = detached;
            return false;
        }
        if let Some(tables) = detached {
            crate::lazyfree::drop_later(tables);
        }
        self.snap = None;
        true
    }

    fn log_event(&mut self, kind: DbEventKind, key: &[u8]) {
        self.log.push(DbEvent {
            kind,
            key: ::bytes::Bytes::copy_from_slice(key),
        });
    }

    /// Logs what adding `value` under a new `key` means to observers.
    fn note_added(&mut self, key: &[u8], value: &Value) {
        if self.observed.new_keys {
            self.log_event(DbEventKind::New, key);
        }
        if self.observed.ready_keys && value.may_unblock() {
            self.log_event(DbEventKind::Ready, key);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// DEBUG HTSTATS's text for the key table and the expires table.
    pub fn table_stats(&self) -> (String, String) {
        (self.keys.stats(), self.expires.stats())
    }

    /// The memory of the keyspace's two tables themselves, (keys,
    /// deadlines), as MEMORY STATS reports each database's overhead: their
    /// buckets and nodes (a node holds a short key and a small value
    /// inline; what a key or value holds beyond it is the dataset).
    pub fn table_bytes(&self) -> (usize, usize) {
        (self.keys.table_bytes(), self.expires.table_bytes())
    }

    /// Looks a key up, deleting it first if it has expired, and records
    /// the access.
    pub fn lookup(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        if self.snap.is_some() {
            self.before_write(key);
        }
        let policy = self.policy;
        let rng = &mut self.rng;
        let (entry, mut stamp) = self.keys.get_mut_with_aux(key)?;
        stamp.set(match policy {
            AccessPolicy::Lru => lru_clock(now_ms),
            AccessPolicy::Lfu {
                log_factor,
                decay_minutes,
            } => {
                // Redis's updateLFU: decay, then a logarithmic increment.
                let mut counter = lfu_counter(stamp.get(), decay_minutes, now_ms);
                if counter < 255 {
                    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
                    let p = 1.0 / (base * log_factor as f64 + 1.0);
                    let r = rng.next_u64() as f64 / u64::MAX as f64;
                    if r < p {
                        counter += 1;
                    }
                }
                (lfu_minutes(now_ms) << 8) | counter
            }
        });
        Some(entry)
    }

    /// The access stamp of a key loaded or restored now with what its
    /// file or payload said, as Redis's `objectSetLRUOrLFU`: an idle time
    /// counts under an LRU policy, a frequency under LFU; the other is
    /// ignored, and without either the key is as if created now.
    pub fn restored_access(&self, idle_seconds: Option<u64>, freq: Option<u8>, now_ms: u64) -> u32 {
        match (self.policy, idle_seconds, freq) {
            (AccessPolicy::Lru, Some(idle), _) => {
                // Redis's arithmetic exactly, wrap and 24-bit truncation
                // included, so OBJECT IDLETIME then reads the same.
                let mut stamp = lru_clock(now_ms) as i128 - idle as i128;
                if stamp < 0 {
                    stamp += LRU_CLOCK_MAX as i128;
                }
                (stamp as u32) & LRU_CLOCK_MAX
            }
            (AccessPolicy::Lfu { .. }, _, Some(freq)) => (lfu_minutes(now_ms) << 8) | freq as u32,
            _ => self.new_access(now_ms),
        }
    }

    /// The access stamp of a key created now.
    fn new_access(&self, now_ms: u64) -> u32 {
        match self.policy {
            AccessPolicy::Lru => lru_clock(now_ms),
            AccessPolicy::Lfu { .. } => (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL,
        }
    }

    /// A live key's entry, read-only: an expired key is reported missing but
    /// not deleted (a lookup through [`lookup`](Self::lookup) or
    /// [`peek`](Self::peek) does that). Lets a command hold several entries
    /// at once.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        if !self.is_live(key, now_ms) {
            return None;
        }
        self.get_including_expired(key)
    }

    /// A key's entry even past its deadline, neither deleted nor touched.
    /// Redis's MEMORY USAGE finds keys this way (`dictFind`), so a key that
    /// has expired but is not yet reclaimed still has a size.
    pub fn get_including_expired(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// Looks a key up without touching its access time (OBJECT, TTL).
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.keys.get(key)
    }

    pub fn exists(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Deletes `key` if it is past its deadline. Returns true if it is
    /// (deleted, or only hidden while clients are paused).
    fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        if self.expires.is_empty() || self.expiry == Expiry::Off {
            return false;
        }
        match self.expires.get(key) {
            Some(&when) if past_deadline(when, now_ms) => {
                if self.expiry == Expiry::Delete {
                    self.remove(key);
                    self.log_event(DbEventKind::Expired, key);
                }
                true
            }
            _ => false,
        }
    }

    /// Prefetches the table slots of `keys`, then their chain heads, so a
    /// batch of lookups that follows finds them in cache.
    pub fn prefetch<'a>(&self, keys: impl Iterator<Item = &'a [u8]> + Clone) {
        // A lookup reads the deadline first, so keys with TTLs miss the
        // cache twice unless the expires table is fetched too.
        let deadlines = !self.expires.is_empty() && self.expiry != Expiry::Off;
        for key in keys.clone() {
            self.keys.prefetch_slot(key);
            if deadlines {
                self.expires.prefetch_slot(key);
            }
        }
        for key in keys {
            self.keys.prefetch_head(key);
            if deadlines {
                self.expires.prefetch_head(key);
            }
        }
    }

    /// A key's deadline in Unix milliseconds, or 0 if it has none.
    pub fn expire_of(&self, key: &[u8]) -> u64 {
        if self.expires.is_empty() {
            return 0;
        }
        self.expires.get(key).copied().unwrap_or(0)
    }

    fn is_live(&self, key: &[u8], now_ms: u64) -> bool {
        let when = self.expire_of(key);
        when == 0 || self.expiry == Expiry::Off || !past_deadline(when, now_ms)
    }

    /// Sets `key` to `value`, replacing any old value (Redis's setKey, as
    /// RENAME, COPY and RESTORE reach it through a delete and an add: an
    /// overwrite is no new key to observers, unless the type changes to
    /// one a blocked client may want).
    pub fn set(&mut self, key: &[u8], value: Value, ttl: Ttl, now_ms: u64) {
        self.set_waking(key, value, ttl, now_ms, Wake::OnTypeChange);
    }

    /// Stores a command's result at `key` as Redis's setKey does for
    /// ZUNIONSTORE and the like: a new key wakes its waiters, an
    /// overwritten one none, whatever its type was (Redis 7.0's
    /// dbOverwrite signals no waiter).
    pub fn set_result(&mut self, key: &[u8], value: Value, now_ms: u64) {
        self.set_waking(key, value, Ttl::Clear, now_ms, Wake::OnlyIfNew);
    }

    fn set_waking(&mut self, key: &[u8], value: Value, ttl: Ttl, now_ms: u64, wake: Wake) {
        let access = self.new_access(now_ms);
        let lfu = matches!(self.policy, AccessPolicy::Lfu { .. });
        self.before_write(key);
        match self.keys.get_mut_with_aux(key) {
            Some((entry, mut stamp)) => {
                let unblocks = (wake == Wake::OnTypeChange
                    && value.may_unblock()
                    && !entry.value.same_type(&value))
                    // A stream's group readers learn it was replaced.
                    || (self.observed.stream_readers && matches!(entry.value, Value::Stream(_)));
                let old = std::mem::replace(&mut entry.value, value);
                // Like Redis's dbSetValue, an overwrite keeps the key's
                // access frequency under LFU.
                if !lfu {
                    stamp.set(access);
                }
                if ttl == Ttl::Clear && !self.expires.is_empty() {
                    self.expires.remove(key);
                }
                dispose(old);
                if unblocks && self.observed.ready_keys {
                    self.log_event(DbEventKind::Ready, key);
                }
            }
            None => {
                self.note_added(key, &value);
                self.keys.insert_new_with_aux(key, Entry { value }, access);
            }
        }
    }

    /// Adds a key taken from a database (replacing whatever was there).
    pub fn insert_detached(&mut self, key: &[u8], d: Detached) {
        self.remove(key);
        self.note_added(key, &d.entry.value);
        self.keys.insert_new_with_aux(key, d.entry, d.access);
        if d.expire_ms != 0 {
            self.expires.insert(key, d.expire_ms);
        }
    }

    /// Removes a key and returns it with its access stamp and deadline.
    pub fn take(&mut self, key: &[u8]) -> Option<Detached> {
        self.before_write(key);
        let (entry, access, moved) = self.keys.remove_moving(key)?;
        self.after_move(moved);
        if self.observed.stream_readers && matches!(entry.value, Value::Stream(_)) {
            // Clients blocked in XREADGROUP learn that the stream is gone.
            self.log_event(DbEventKind::Ready, key);
        }
        let expire_ms = if self.expires.is_empty() {
            0
        } else {
            self.expires.remove(key).unwrap_or(0)
        };
        Some(Detached {
            entry,
            access,
            expire_ms,
        })
    }

    /// A key's access stamp, without touching it or checking its deadline.
    pub fn access_of(&self, key: &[u8]) -> Option<u32> {
        self.keys.aux_of(key)
    }

    /// Deletes a key, freeing a large value off the loop. Returns true if
    /// the key existed (expired or not).
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.take(key) {
            Some(d) => {
                dispose(d.entry.value);
                true
            }
            None => false,
        }
    }

    /// Deletes a key to free memory (maxmemory), logged as evicted; the
    /// caller frees the value.
    pub fn evict(&mut self, key: &[u8]) -> Option<Value> {
        let d = self.take(key)?;
        self.log_event(DbEventKind::Evicted, key);
        Some(d.entry.value)
    }

    /// Calls `f` with `n` keys drawn at random, each with its access
    /// stamp and deadline (0 for none): from every key, or from the keys
    /// with a TTL when `volatile`.
    pub fn sample_for_eviction(
        &mut self,
        n: usize,
        volatile: bool,
        mut f: impl FnMut(&[u8], u32, u64),
    ) {
        for _ in 0..n {
            if volatile {
                let Some((key, &when)) = self.expires.random_entry(&mut self.rng) else {
                    return;
                };
                f(key, self.keys.aux_of(key).unwrap_or(0), when);
            } else {
                let Some((key, _, stamp)) = self.keys.random_entry_with_aux(&mut self.rng) else {
                    return;
                };
                f(key, stamp, 0);
            }
        }
    }

    /// A random key to evict (the random policies), from the keys with a
    /// TTL when `volatile`.
    pub fn random_key_for_eviction(&mut self, volatile: bool) -> Option<Vec<u8>> {
        let key = if volatile {
            self.expires.random_entry(&mut self.rng)?.0
        } else {
            self.keys.random_entry(&mut self.rng)?.0
        };
        Some(key.to_vec())
    }

    /// Whether a key sampled for eviction is still there to evict.
    pub fn holds_for_eviction(&self, key: &[u8], volatile: bool) -> bool {
        if volatile {
            self.expires.contains_key(key)
        } else {
            self.keys.contains_key(key)
        }
    }

    /// Sets the deadline of an existing key. The caller has checked that the
    /// key exists and the deadline is in the future.
    pub fn set_expire(&mut self, key: &[u8], when_ms: u64) {
        self.before_write(key);
        if self.keys.contains_key(key) {
            self.expires.insert(key, when_ms);
        }
    }

    /// Removes a key's TTL. Returns true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        self.before_write(key);
        self.expires.remove(key).is_some()
    }

    /// Empties the database; the old tables are freed off the loop.
    pub fn flush(&mut self) -> usize {
        let n = self.keys.len();
        match self.snap.as_deref_mut() {
            // A snapshot still walking takes the tables and finishes its
            // walk over them: the file holds the keys as they were.
            Some(snap) if snap.detached.is_none() => {
                snap.detached = Some((self.keys.take(), self.expires.take()));
            }
            _ => {
                crate::lazyfree::drop_later(self.keys.take());
                crate::lazyfree::drop_later(self.expires.take());
            }
        }
        self.expire_cursor = 0;
        self.avg_ttl_ms = 0;
        n
    }

    /// One SCAN step over the keys: `f` sees each key with its entry and
    /// whether it is past its deadline (SCAN deletes those it would show).
    pub fn scan(
        &self,
        cursor: u64,
        now_ms: u64,
        mut f: impl FnMut(&[u8], &Entry, Liveness),
    ) -> u64 {
        self.keys.scan(cursor, |k, e| {
            let liveness = if self.is_live(k, now_ms) {
                Liveness::Live
            } else {
                Liveness::Expired
            };
            f(k, e, liveness)
        })
    }

    /// Every live key (KEYS is O(N) in Redis too).
    /// Every key, expired or not, with its access stamp and deadline (0
    /// for none): what a snapshot writes.
    pub fn for_each_with_meta(&self, mut f: impl FnMut(&[u8], &Value, u32, u64)) {
        for (key, entry, access) in self.keys.iter_with_aux() {
            f(key, &entry.value, access, deadline_in(&self.expires, key));
        }
    }

    pub fn iter(&self, now_ms: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.keys
            .iter()
            .filter(move |(k, _)| self.is_live(k, now_ms))
    }

    /// A random live key. Expired keys met on the way are deleted, as
    /// Redis does on a primary: every miss removes a key, so the search
    /// ends. While clients are paused nothing is deleted, so when every
    /// key has a deadline the search gives up after `RANDOM_KEY_TRIES`
    /// and answers a key that may have expired (Redis 7.2's dbRandomKey;
    /// 7.0 loops for ever there).
    pub fn random_key(&mut self, now_ms: u64, rng: &mut Rng) -> Option<Vec<u8>> {
        const RANDOM_KEY_TRIES: u32 = 100;
        let all_volatile = self.keys.len() == self.expires.len();
        let mut tries = RANDOM_KEY_TRIES;
        loop {
            let (key, _) = self.keys.random_entry(rng)?;
            let key = key.to_vec();
            if self.is_live(&key, now_ms) {
                return Some(key);
            }
            if self.expiry == Expiry::Hide {
                if all_volatile {
                    tries -= 1;
                    if tries == 0 {
                        return Some(key);
                    }
                }
                continue;
            }
            self.remove(&key);
            self.log_event(DbEventKind::Expired, &key);
        }
    }

    /// Rehashes the main tables for at most `budget`.
    pub fn rehash_for(&mut self, budget: Duration) -> bool {
        let a = self.keys.rehash_for(budget);
        let b = self.expires.rehash_for(budget / 4);
        a || b
    }

    /// Starts shrinking tables that have become sparse.
    pub fn shrink_tables(&mut self) {
        self.keys.shrink_if_needed();
        self.expires.shrink_if_needed();
    }

    /// Walks the volatile keys from where the last pass stopped, deleting
    /// expired ones. Like Redis, it works in batches of about
    /// `EXPIRE_BATCH_KEYS` sampled keys and stops once a batch finds fewer
    /// than 10% of them expired (the rest can wait for the next cycle or a
    /// lazy check), at the end of a full sweep, or at `deadline`.
    pub fn active_expire(&mut self, now_ms: u64, deadline: Instant) -> ExpireReport {
        const EXPIRE_BATCH_KEYS: usize = 20;
        const ACCEPTABLE_STALE_PERCENT: usize = 10;
        let mut report = ExpireReport::default();
        if self.expires.is_empty() || self.expiry != Expiry::Delete {
            return report;
        }
        let mut expired: Vec<Vec<u8>> = Vec::new();
        let mut ttl_sum: u64 = 0;
        let mut ttl_samples: u64 = 0;
        let (mut batch_sampled, mut batch_expired) = (0usize, 0usize);
        let mut buckets: u32 = 0;
        loop {
            buckets += 1;
            self.expire_cursor = self.expires.scan(self.expire_cursor, |k, &when| {
                batch_sampled += 1;
                if past_deadline(when, now_ms) {
                    expired.push(k.to_vec());
                } else {
                    ttl_sum += when - now_ms;
                    ttl_samples += 1;
                }
            });
            for key in expired.drain(..) {
                self.remove(&key);
                self.log_event(DbEventKind::Expired, &key);
                batch_expired += 1;
            }
            if self.expire_cursor == 0 {
                break;
            }
            if batch_sampled >= EXPIRE_BATCH_KEYS {
                report.sampled += batch_sampled;
                report.expired += batch_expired;
                let stale_enough = batch_expired * 100 > batch_sampled * ACCEPTABLE_STALE_PERCENT;
                batch_sampled = 0;
                batch_expired = 0;
                if !stale_enough {
                    break;
                }
            }
            // Checking the clock is not free: do it every few buckets.
            if buckets.is_multiple_of(16) && Instant::now() >= deadline {
                report.out_of_time = true;
                break;
            }
        }
        report.sampled += batch_sampled;
        report.expired += batch_expired;
        if let Some(avg) = ttl_sum.checked_div(ttl_samples) {
            self.avg_ttl_ms = if self.avg_ttl_ms == 0 {
                avg
            } else {
                (self.avg_ttl_ms / 50) * 49 + avg / 50
            };
        }
        report
    }
}

/// Frees a value, large ones off the loop.
pub fn dispose(value: Value) {
    if value.is_large() {
        crate::lazyfree::drop_later(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Str::encoded(v.as_bytes()))
    }

    #[test]
    fn lazy_expiry_on_lookup() {
        let mut db = Db::new();
        db.set(b"k", s("v"), Ttl::Clear, 1000);
        db.set_expire(b"k", 1500);
        assert!(db.lookup(b"k", 1499).is_some());
        // Redis keeps a key through the millisecond of its deadline.
        assert!(db.lookup(b"k", 1500).is_some());
        assert!(db.lookup(b"k", 1501).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
    }

    /// The read-only view, the exists check and active expiry draw the line
    /// at the same millisecond as lazy expiry.
    #[test]
    fn every_expiry_check_keeps_the_deadline_millisecond() {
        let mut db = Db::new();
        db.set(b"k", s("v"), Ttl::Clear, 0);
        db.set_expire(b"k", 1500);
        assert!(db.get(b"k", 1500).is_some());
        assert!(db.get(b"k", 1501).is_none());
        assert!(db.exists(b"k", 1500));
        let far = Instant::now() + Duration::from_secs(10);
        assert_eq!(db.active_expire(1500, far).expired, 0);
        assert_eq!(db.len(), 1);
        assert_eq!(db.active_expire(1501, far).expired, 1);
        assert_eq!(db.len(), 0);
    }

    #[test]
    fn set_clears_or_keeps_ttl() {
        let mut db = Db::new();
        db.set(b"k", s("v"), Ttl::Clear, 0);
        db.set_expire(b"k", 100);
        db.set(b"k", s("w"), Ttl::Keep, 0);
        assert_eq!(db.expire_of(b"k"), 100);
        db.set(b"k", s("x"), Ttl::Clear, 0);
        assert_eq!(db.expire_of(b"k"), 0);
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn active_expiry_reclaims_unread_keys() {
        let mut db = Db::new();
        for i in 0..5000 {
            let k = format!("v{i}");
            db.set(k.as_bytes(), s("x"), Ttl::Clear, 0);
            db.set_expire(k.as_bytes(), 10);
            db.set(format!("p{i}").as_bytes(), s("x"), Ttl::Clear, 0);
        }
        let far = Instant::now() + Duration::from_secs(10);
        let mut rounds = 0;
        while db.expires_len() > 0 && rounds < 10_000 {
            db.active_expire(20, far);
            rounds += 1;
        }
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.len(), 5000);
    }

    #[test]
    fn active_expiry_stops_early_when_little_is_stale() {
        let mut db = Db::new();
        for i in 0..5000 {
            let k = format!("v{i}");
            db.set(k.as_bytes(), s("x"), Ttl::Clear, 0);
            db.set_expire(k.as_bytes(), 1_000_000);
        }
        let report = db.active_expire(20, Instant::now() + Duration::from_secs(10));
        assert!(report.sampled < 200, "sampled {}", report.sampled);
        assert_eq!(report.expired, 0);
    }
}
