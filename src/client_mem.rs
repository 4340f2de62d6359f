//! Client memory and client eviction (`maxmemory-clients`, Redis 7.0's
//! evictClients).
//!
//! Each client's memory (`Client::memory_usage`: its buffers, what it has
//! queued, its subscriptions and a fixed overhead, as Redis's
//! getClientMemoryUsage counts) is recounted only when something may have
//! changed it: the loop marks a client it read from, gave output to or
//! wrote to, and recounts the marked clients once per iteration, before
//! it sleeps. A running total and an index of the evictable clients by
//! memory follow each recount, so checking the limit costs one comparison
//! and finding the biggest client one tree lookup, however many clients
//! are connected. Nothing is kept while client eviction is off; turning it
//! on counts every client once, as Redis does.
//!
//! As in Redis, the total covers normal and Pub/Sub clients, CLIENT
//! NO-EVICT ones included, but only the others may be evicted; a monitor
//! is neither (Redis counts it as a replica).

use std::collections::BTreeSet;

use slab::Slab;

use crate::client::Client;

/// What a client counted for at its last recount.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counted {
    /// The memory added to the total for it.
    pub bytes: usize,
    /// Whether it is in the index of evictable clients (under `bytes`).
    pub indexed: bool,
    /// Whether it is marked for a recount this iteration.
    pub marked: bool,
}

#[derive(Debug, Default)]
pub struct ClientMemory {
    /// Whether client eviction is on (and so the counts are kept).
    enabled: bool,
    /// The memory of every counted client, as last recounted.
    total: usize,
    /// Evictable clients by (memory, client id, slab key).
    index: BTreeSet<(usize, u64, usize)>,
    /// Clients to recount before the loop sleeps, by slab key.
    marked: Vec<usize>,
}

impl ClientMemory {
    /// The memory of the counted clients, as last recounted.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Marks a client for a recount this iteration (its buffers may have
    /// changed); nothing while client eviction is off.
    #[inline]
    pub fn mark(&mut self, token: usize, client: &mut Client) {
        if self.enabled && !client.mem.marked {
            client.mem.marked = true;
            self.marked.push(token);
        }
    }

    /// Recounts the marked clients, first switching tracking on or off
    /// when `limit_bytes` (0: eviction off) says so.
    pub fn recount(&mut self, clients: &mut Slab<Client>, limit_bytes: usize) {
        match (self.enabled, limit_bytes > 0) {
            (false, true) => {
                self.enabled = true;
                for (token, c) in clients.iter_mut() {
                    self.update(token, c);
                }
                return;
            }
            (true, false) => {
                for (_, c) in clients.iter_mut() {
                    c.mem = Counted::default();
                }
                *self = ClientMemory::default();
                return;
            }
            (false, false) => return,
            (true, true) => {}
        }
        for token in std::mem::take(&mut self.marked) {
            if let Some(c) = clients.get_mut(token) {
                self.update(token, c);
            }
        }
    }

    /// Counts one client's memory again (Redis's
    /// updateClientMemUsageAndBucket).
    fn update(&mut self, token: usize, c: &mut Client) {
        c.mem.marked = false;
        let counted = c.stream.is_some() && !c.mode.is_monitor();
        let bytes = if counted { c.memory_usage() } else { 0 };
        let evictable = counted && !c.no_evict;
        if bytes == c.mem.bytes && evictable == c.mem.indexed {
            return;
        }
        if c.mem.indexed {
            self.index.remove(&(c.mem.bytes, c.id, token));
        }
        self.total = self.total - c.mem.bytes + bytes;
        if evictable {
            self.index.insert((bytes, c.id, token));
        }
        c.mem.bytes = bytes;
        c.mem.indexed = evictable;
    }

    /// Takes a closed client out of the counts.
    pub fn forget(&mut self, token: usize, c: &Client) {
        if c.mem.indexed {
            self.index.remove(&(c.mem.bytes, c.id, token));
        }
        self.total -= c.mem.bytes;
    }

    /// The evictable client using the most memory, as (slab key, id).
    pub fn biggest(&self) -> Option<(usize, u64)> {
        self.index.last().map(|&(_, id, token)| (token, id))
    }
}
