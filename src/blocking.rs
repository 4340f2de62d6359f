//! Blocked clients: wait lists per (db, key) and the ready queue.
//!
//! A command that cannot be served yet (BLPOP on empty lists) sets
//! [`Block`] in its context instead of replying: its keys, its deadline and
//! what it waits for ([`WaitFor`]). The loop parks the client: its token
//! goes at the back of the wait list of every key it waits on, and its
//! deadline onto the timer wheel. The data layer signals a key ready when
//! it is created with a type someone may wait for (`Db` logs it while a
//! client of that database is blocked), SWAPDB signals what it swaps in,
//! and a type whose existing key can gain what a waiter wants (a stream)
//! signals through `Ctx::ready`. After each command the loop serves ready
//! keys: each waiter, in the order they blocked, is asked whether the key
//! can serve it, and if so re-runs its command through `call()`, until the
//! key can serve no more. A served command that writes (BLMOVE pushing onto
//! another key) signals in turn; the ready queue takes it, so chains
//! resolve in the same iteration without recursion.
//!
//! Timeouts and disconnects remove the client from every wait list; a timer
//! entry carries a generation so a stale one is ignored when it fires.

use std::collections::{BTreeMap, VecDeque};

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

use crate::db::Value;

/// What a blocked command waits for: the loop asks it whether a ready key
/// can serve it now, so a new kind of wait (a sorted set's BZPOPMIN, a
/// stream's XREAD with the IDs it resolved when it blocked) plugs in here,
/// not in the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// An element of a non-empty list (BLPOP, BRPOP, BLMOVE, BLMPOP,
    /// BRPOPLPUSH). As in Redis 7.0, a key holding another type leaves the
    /// client blocked.
    ListElement,
    /// A member of a non-empty sorted set (BZPOPMIN, BZPOPMAX, BZMPOP).
    ZSetElement,
    /// New entries in a stream (XREAD, XREADGROUP), after the IDs the
    /// client resolved when it blocked.
    Stream(crate::types::stream::StreamWait),
    /// Acknowledgements from replicas (WAIT). ferrokv has no replicas, so
    /// no key serves it: it ends at its timeout, by CLIENT UNBLOCK or
    /// when the client goes.
    Replicas,
}

impl WaitFor {
    /// Whether `value` is of the type this waiter wants: Redis serves a
    /// ready key's waiters of its type and passes over the others (a list
    /// waiter on a key that became a sorted set stays blocked).
    pub fn wants_type_of(&self, value: &Value) -> bool {
        match self {
            WaitFor::ListElement => matches!(value, Value::List(_)),
            WaitFor::ZSetElement => matches!(value, Value::ZSet(_)),
            WaitFor::Stream(w) => w.wants_type_of(value),
            WaitFor::Replicas => false,
        }
    }

    /// Whether `value`, the ready `key`'s value now, can serve the waiter.
    pub fn can_serve(&self, key: &[u8], value: Option<&Value>) -> bool {
        match self {
            WaitFor::ListElement => matches!(value, Some(Value::List(l)) if !l.is_empty()),
            WaitFor::ZSetElement => matches!(value, Some(Value::ZSet(z)) if !z.is_empty()),
            WaitFor::Stream(w) => w.can_serve(key, value),
            WaitFor::Replicas => false,
        }
    }

    /// The reply that ends the wait at its timeout (or CLIENT UNBLOCK
    /// TIMEOUT), Redis's replyToBlockedClientTimedOut: a null array for
    /// the pops and stream reads, the replicas that acknowledged (none)
    /// for WAIT.
    pub fn timeout_reply(&self, out: &mut crate::resp::Reply) {
        match self {
            WaitFor::Replicas => out.int(0),
            _ => out.null_array(),
        }
    }

    /// Whether a key that cannot serve this waiter can serve none after
    /// it: true for pops, which all want the same thing; a stream reader
    /// waits for entries after its own ID, so the next may be served.
    pub fn blocks_later_waiters(&self) -> bool {
        !matches!(self, WaitFor::Stream(_))
    }
}

/// What a handler asks for when it cannot be served now.
#[derive(Debug, Clone)]
pub struct Block {
    pub keys: Vec<Bytes>,
    /// Absolute deadline in Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
    pub wait: WaitFor,
}

/// Given to a blocked command run again because `key` became ready.
#[derive(Debug, Clone)]
pub struct Serving {
    /// Redis 7.0 serves a woken client from the ready key alone, whatever
    /// its other keys hold.
    pub key: Bytes,
    /// The deadline it blocked with: if it must block again, it keeps it.
    pub deadline_ms: Option<u64>,
    /// What it waited for (a stream reader's resolved IDs).
    pub wait: WaitFor,
    /// How long the call that blocked took: Redis counts it again in the
    /// served command's duration (updateStatsOnUnblock).
    pub call_us: u64,
}

/// A parked client's state, kept in the client.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// The whole command, re-run when a key is ready.
    pub args: Vec<Bytes>,
    /// Matches the timer entry that may time this block out.
    pub generation: u64,
    /// How long the call that blocked took, which Redis counts again when
    /// CLIENT UNBLOCK ends the block.
    pub call_us: u64,
    pub deadline_ms: Option<u64>,
    pub wait: WaitFor,
}

/// The clients waiting on one key, in the order they blocked: by a
/// sequence number, with each client's number beside it, so parking and
/// unparking one of W waiters is O(log W), not a scan of the queue (Redis
/// keeps a list node in the client for O(1)).
#[derive(Debug, Default)]
struct WaitList {
    by_seq: BTreeMap<u64, usize>,
    seq_of: AHashMap<usize, u64>,
}

#[derive(Debug, Default)]
pub struct Blocking {
    waiters: AHashMap<(usize, Vec<u8>), WaitList>,
    /// Orders waiters across every key.
    next_seq: u64,
    ready: VecDeque<(usize, Vec<u8>)>,
    ready_set: AHashSet<(usize, Vec<u8>)>,
    /// Clients blocked now (INFO's `blocked_clients`).
    pub blocked_clients: usize,
    /// Of those, the ones blocked in XREAD or XREADGROUP (see
    /// `db::Observed::stream_readers`).
    pub stream_readers: usize,
    /// Clients blocked per database, so a database logs ready keys only
    /// while someone there waits (see `Db::observed`).
    per_db: AHashMap<usize, usize>,
    next_generation: u64,
    /// CLIENT UNBLOCK requests: (token, as an error), for the loop.
    pub unblock_requests: Vec<(usize, bool)>,
}

impl Blocking {
    /// True if any client waits on anything.
    pub fn has_waiters(&self) -> bool {
        !self.waiters.is_empty()
    }

    pub fn next_generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Puts `token` at the back of each key's wait list.
    pub fn park(&mut self, token: usize, db: usize, keys: &[Bytes]) {
        for key in keys {
            let list = self.waiters.entry((db, key.to_vec())).or_default();
            if !list.seq_of.contains_key(&token) {
                self.next_seq += 1;
                list.by_seq.insert(self.next_seq, token);
                list.seq_of.insert(token, self.next_seq);
            }
        }
        self.blocked_clients += 1;
        *self.per_db.entry(db).or_default() += 1;
    }

    /// Whether any client waits on a key of database `db`.
    pub fn waits_in(&self, db: usize) -> bool {
        self.per_db.get(&db).is_some_and(|&n| n > 0)
    }

    /// The keys of database `db` someone waits on (SWAPDB checks each).
    pub fn keys_in(&self, db: usize) -> Vec<Bytes> {
        self.waiters
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| Bytes::copy_from_slice(k))
            .collect()
    }

    /// Takes `token` off each key's wait list.
    pub fn unpark(&mut self, token: usize, db: usize, keys: &[Bytes]) {
        for key in keys {
            self.forget(token, db, key);
        }
        self.blocked_clients = self.blocked_clients.saturating_sub(1);
        if let Some(n) = self.per_db.get_mut(&db) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_db.remove(&db);
            }
        }
    }

    /// Marks `key` of `db` ready if someone waits on it; a key enters the
    /// ready queue once however often it is signalled.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        let k = (db, key.to_vec());
        if self.waiters.contains_key(&k) && !self.ready_set.contains(&k) {
            self.ready_set.insert(k.clone());
            self.ready.push_back(k);
        }
    }

    /// The next ready key, oldest first.
    pub fn pop_ready(&mut self) -> Option<(usize, Vec<u8>)> {
        let k = self.ready.pop_front()?;
        self.ready_set.remove(&k);
        Some(k)
    }

    /// Drops `token` from one key's wait list only (an entry left behind
    /// by a client that is no longer blocked).
    pub fn forget(&mut self, token: usize, db: usize, key: &Bytes) {
        let k = (db, key.to_vec());
        if let Some(list) = self.waiters.get_mut(&k) {
            if let Some(seq) = list.seq_of.remove(&token) {
                list.by_seq.remove(&seq);
            }
            if list.by_seq.is_empty() {
                self.waiters.remove(&k);
            }
        }
    }

    /// The longest waiter on a key that blocked after position `after`
    /// (`None`: the first), with its position in the list.
    pub fn waiter_after(&self, db: usize, key: &[u8], after: Option<u64>) -> Option<(u64, usize)> {
        let list = self.waiters.get(&(db, key.to_vec()))?;
        let from = after.map_or(0, |seq| seq + 1);
        list.by_seq
            .range(from..)
            .next()
            .map(|(&seq, &token)| (seq, token))
    }

    /// The clients waiting on a key, in the order they blocked.
    #[cfg(test)]
    pub fn waiters_of(&self, db: usize, key: &[u8]) -> Vec<usize> {
        self.waiters
            .get(&(db, key.to_vec()))
            .map(|list| list.by_seq.values().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_dedup() {
        let mut b = Blocking::default();
        let k = Bytes::from_static(b"k");
        b.park(3, 0, std::slice::from_ref(&k));
        b.park(1, 0, std::slice::from_ref(&k));
        assert_eq!(b.waiters_of(0, b"k"), vec![3, 1]);
        assert!(b.waits_in(0) && !b.waits_in(1));
        b.signal(0, b"k");
        b.signal(0, b"k");
        assert_eq!(b.pop_ready(), Some((0, b"k".to_vec())));
        assert_eq!(b.pop_ready(), None);
        b.unpark(3, 0, std::slice::from_ref(&k));
        b.unpark(1, 0, std::slice::from_ref(&k));
        assert!(!b.has_waiters());
        assert!(!b.waits_in(0));
        assert_eq!(b.blocked_clients, 0);
    }
}
