//! Blocked clients: wait lists per (db, key) and the ready queue.
//!
//! A command that cannot be served yet (BLPOP on empty lists) sets
//! [`Block`] in its context instead of replying. The loop parks the client:
//! its token goes at the back of the wait list of every key it waits on,
//! and its deadline onto the timer wheel. After every write command, the
//! loop signals each key the command touched that has waiters; a signalled
//! key enters the ready queue once, however often it is touched. Then the
//! loop serves ready keys: their waiters, in the order they blocked, re-run
//! their command through normal dispatch, until the key can serve no more.
//! A served command that writes (BLMOVE pushing onto another key) signals
//! in turn, so chains resolve in the same iteration.
//!
//! Timeouts and disconnects remove the client from every wait list; a timer
//! entry carries a generation so a stale one is ignored when it fires.

use std::collections::VecDeque;

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

/// What a handler asks for when it cannot be served now.
#[derive(Debug, Clone)]
pub struct Block {
    pub keys: Vec<Bytes>,
    /// Absolute deadline in Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
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
}

#[derive(Debug, Default)]
pub struct Blocking {
    waiters: AHashMap<(usize, Vec<u8>), VecDeque<usize>>,
    ready: VecDeque<(usize, Vec<u8>)>,
    ready_set: AHashSet<(usize, Vec<u8>)>,
    /// Clients blocked now (INFO's `blocked_clients`).
    pub blocked_clients: usize,
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
            let queue = self.waiters.entry((db, key.to_vec())).or_default();
            if !queue.contains(&token) {
                queue.push_back(token);
            }
        }
        self.blocked_clients += 1;
    }

    /// Takes `token` off each key's wait list.
    pub fn unpark(&mut self, token: usize, db: usize, keys: &[Bytes]) {
        for key in keys {
            let k = (db, key.to_vec());
            if let Some(queue) = self.waiters.get_mut(&k) {
                queue.retain(|&t| t != token);
                if queue.is_empty() {
                    self.waiters.remove(&k);
                }
            }
        }
        self.blocked_clients = self.blocked_clients.saturating_sub(1);
    }

    /// Marks `key` ready in every database where someone waits on it (MOVE
    /// and COPY can write a key in another database).
    pub fn signal(&mut self, databases: usize, key: &[u8]) {
        for db in 0..databases {
            let k = (db, key.to_vec());
            if self.waiters.contains_key(&k) && !self.ready_set.contains(&k) {
                self.ready_set.insert(k.clone());
                self.ready.push_back(k);
            }
        }
    }

    /// The next ready key, oldest first.
    pub fn pop_ready(&mut self) -> Option<(usize, Vec<u8>)> {
        let k = self.ready.pop_front()?;
        self.ready_set.remove(&k);
        Some(k)
    }

    /// The clients waiting on a key, in the order they blocked.
    pub fn waiters_of(&self, db: usize, key: &[u8]) -> Vec<usize> {
        self.waiters
            .get(&(db, key.to_vec()))
            .map(|q| q.iter().copied().collect())
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
        b.signal(16, b"k");
        b.signal(16, b"k");
        assert_eq!(b.pop_ready(), Some((0, b"k".to_vec())));
        assert_eq!(b.pop_ready(), None);
        b.unpark(3, 0, std::slice::from_ref(&k));
        b.unpark(1, 0, std::slice::from_ref(&k));
        assert!(!b.has_waiters());
        assert_eq!(b.blocked_clients, 0);
    }
}
